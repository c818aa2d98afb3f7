//! Peppol BIS Billing 3.0: the UBL 2.1 invoice or credit note of a document addressed to a
//! business or organisation (a payer with a Peppol participant id). Checked against the
//! official EN 16931 and PEPPOL rules in `tests/peppol` (0 fatal findings).
//!
//! Mapping: the practice is the seller, identified by its enterprise number (BE: KBO/BCE,
//! scheme 0208; NL: KvK, scheme 0106), which is also its tax registration (BT-32) when it has
//! no VAT number; medical care is category `E` with reason `VATEX-EU-132-1C`. The insurer's
//! share, settled by the insurer, is the paid amount (BT-113), so the amount due (BT-115) is
//! what the buyer pays. Amounts are positive on credit notes too (their type says credit).

use std::collections::BTreeMap;
use std::fmt::Write;

use domain::invoice::{InvoiceKind, VatCategory};
use rust_decimal::Decimal;

use super::data::DocumentData;

/// Why no UBL document can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UblError {
    /// Peppol delivers to a participant id; a patient without a payer has none.
    #[error("the buyer has no Peppol participant id")]
    NoParticipant,
    /// The participant id is not `scheme:id`.
    #[error("the buyer's Peppol participant id is not scheme:id")]
    BadParticipant,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn amount(d: Decimal) -> String {
    format!("{d:.2}")
}

/// The seller's legal-entity scheme: KBO/BCE (0208) in Belgium, KvK (0106) in the Netherlands.
fn seller_scheme(country: domain::practice::Country) -> &'static str {
    match country {
        domain::practice::Country::BE => "0208",
        domain::practice::Country::NL => "0106",
    }
}

/// One row of the VAT breakdown: category, rate, exemption reason, taxable amount, VAT.
struct VatGroup<'a> {
    category: VatCategory,
    rate: Decimal,
    reason: Option<&'a str>,
    taxable: Decimal,
    tax: Decimal,
}

fn address(out: &mut String, a: &domain::people::PostalAddress) {
    let street = match &a.box_number {
        Some(b) => format!("{} {} {b}", a.street, a.number),
        None => format!("{} {}", a.street, a.number),
    };
    let _ = write!(
        out,
        "<cac:PostalAddress><cbc:StreetName>{}</cbc:StreetName><cbc:CityName>{}</cbc:CityName><cbc:PostalZone>{}</cbc:PostalZone>\
         <cac:Country><cbc:IdentificationCode>{}</cbc:IdentificationCode></cac:Country></cac:PostalAddress>",
        esc(street.trim()),
        esc(&a.city),
        esc(&a.postcode),
        esc(&a.country)
    );
}

fn category(
    out: &mut String,
    element: &str,
    category: VatCategory,
    rate: Decimal,
    reason: Option<&str>,
) {
    let _ = write!(
        out,
        "<cac:{element}><cbc:ID>{}</cbc:ID><cbc:Percent>{}</cbc:Percent>",
        category.as_str(),
        rate.normalize()
    );
    if let (VatCategory::Exempt, Some(r)) = (category, reason) {
        let _ = write!(
            out,
            "<cbc:TaxExemptionReasonCode>{}</cbc:TaxExemptionReasonCode>",
            esc(r)
        );
    }
    let _ = write!(
        out,
        "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:{element}>"
    );
}

/// Writes the UBL document of `d`.
pub fn write(d: &DocumentData) -> Result<String, UblError> {
    let participant = d
        .buyer
        .peppol_id
        .as_deref()
        .ok_or(UblError::NoParticipant)?;
    let (buyer_scheme, buyer_id) = participant
        .split_once(':')
        .filter(|(s, i)| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) && !i.is_empty())
        .ok_or(UblError::BadParticipant)?;
    let credit = d.kind == InvoiceKind::CreditNote;
    let (root, type_element, type_code, line_element, quantity_element) = if credit {
        (
            "CreditNote",
            "CreditNoteTypeCode",
            "381",
            "CreditNoteLine",
            "CreditedQuantity",
        )
    } else {
        (
            "Invoice",
            "InvoiceTypeCode",
            "380",
            "InvoiceLine",
            "InvoicedQuantity",
        )
    };
    let mut out = String::with_capacity(4096);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:{root}-2\" \
         xmlns:cac=\"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2\" \
         xmlns:cbc=\"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2\">\
         <cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</cbc:CustomizationID>\
         <cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>\
         <cbc:ID>{}</cbc:ID><cbc:IssueDate>{}</cbc:IssueDate>",
        esc(&d.number),
        d.issue_date
    );
    if !credit {
        let _ = write!(out, "<cbc:DueDate>{}</cbc:DueDate>", d.due_date);
    }
    let _ = write!(
        out,
        "<cbc:{type_element}>{type_code}</cbc:{type_element}><cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>\
         <cbc:BuyerReference>{}</cbc:BuyerReference>",
        esc(&d.number)
    );
    if let Some(corrected) = &d.corrects {
        let _ = write!(
            out,
            "<cac:BillingReference><cac:InvoiceDocumentReference><cbc:ID>{}</cbc:ID></cac:InvoiceDocumentReference></cac:BillingReference>",
            esc(corrected)
        );
    }
    // The seller.
    let scheme = seller_scheme(d.country);
    let s = &d.seller;
    let _ = write!(
        out,
        "<cac:AccountingSupplierParty><cac:Party><cbc:EndpointID schemeID=\"{scheme}\">{}</cbc:EndpointID>",
        esc(&s.enterprise_number)
    );
    address(&mut out, &s.address);
    match &s.vat_number {
        Some(vat) => {
            let _ = write!(
                out,
                "<cac:PartyTaxScheme><cbc:CompanyID>{}</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>",
                esc(vat)
            );
        }
        None => {
            // Not VAT-registered: the enterprise number is its tax registration (BT-32).
            let _ = write!(
                out,
                "<cac:PartyTaxScheme><cbc:CompanyID>{}</cbc:CompanyID><cac:TaxScheme><cbc:ID>TAX</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>",
                esc(&s.enterprise_number)
            );
        }
    }
    let _ = write!(
        out,
        "<cac:PartyLegalEntity><cbc:RegistrationName>{}</cbc:RegistrationName><cbc:CompanyID schemeID=\"{scheme}\">{}</cbc:CompanyID></cac:PartyLegalEntity>\
         </cac:Party></cac:AccountingSupplierParty>",
        esc(&s.name),
        esc(&s.enterprise_number)
    );
    // The buyer.
    let _ = write!(
        out,
        "<cac:AccountingCustomerParty><cac:Party><cbc:EndpointID schemeID=\"{}\">{}</cbc:EndpointID>",
        esc(buyer_scheme),
        esc(buyer_id)
    );
    if let Some(a) = &d.buyer.address {
        address(&mut out, a);
    }
    let _ = write!(
        out,
        "<cac:PartyLegalEntity><cbc:RegistrationName>{}</cbc:RegistrationName></cac:PartyLegalEntity></cac:Party></cac:AccountingCustomerParty>",
        esc(&d.buyer.name)
    );
    // Payment: a SEPA credit transfer to the practice's account, with the reference.
    if !credit {
        let _ = write!(
            out,
            "<cac:PaymentMeans><cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>"
        );
        if let Some(r) = &d.payment_reference {
            let _ = write!(out, "<cbc:PaymentID>{}</cbc:PaymentID>", esc(r));
        }
        let _ = write!(
            out,
            "<cac:PayeeFinancialAccount><cbc:ID>{}</cbc:ID>",
            esc(&s.iban)
        );
        if let Some(bic) = &s.bic {
            let _ = write!(
                out,
                "<cac:FinancialInstitutionBranch><cbc:ID>{}</cbc:ID></cac:FinancialInstitutionBranch>",
                esc(bic)
            );
        }
        let _ = write!(out, "</cac:PayeeFinancialAccount></cac:PaymentMeans>");
    }
    // VAT breakdown per category and rate.
    let mut groups: BTreeMap<(&str, String), VatGroup<'_>> = BTreeMap::new();
    for l in &d.lines {
        let g = groups
            .entry((l.vat_category.as_str(), l.vat_rate.normalize().to_string()))
            .or_insert(VatGroup {
                category: l.vat_category,
                rate: l.vat_rate,
                reason: l.exemption_reason.as_deref(),
                taxable: Decimal::ZERO,
                tax: Decimal::ZERO,
            });
        g.taxable += l.net;
        g.tax += l.vat;
    }
    let _ = write!(
        out,
        "<cac:TaxTotal><cbc:TaxAmount currencyID=\"EUR\">{}</cbc:TaxAmount>",
        amount(d.totals.vat)
    );
    for g in groups.values() {
        let _ = write!(
            out,
            "<cac:TaxSubtotal><cbc:TaxableAmount currencyID=\"EUR\">{}</cbc:TaxableAmount><cbc:TaxAmount currencyID=\"EUR\">{}</cbc:TaxAmount>",
            amount(g.taxable),
            amount(g.tax)
        );
        category(&mut out, "TaxCategory", g.category, g.rate, g.reason);
        let _ = write!(out, "</cac:TaxSubtotal>");
    }
    let _ = write!(out, "</cac:TaxTotal>");
    let _ = write!(
        out,
        "<cac:LegalMonetaryTotal><cbc:LineExtensionAmount currencyID=\"EUR\">{net}</cbc:LineExtensionAmount>\
         <cbc:TaxExclusiveAmount currencyID=\"EUR\">{net}</cbc:TaxExclusiveAmount>\
         <cbc:TaxInclusiveAmount currencyID=\"EUR\">{total}</cbc:TaxInclusiveAmount>\
         <cbc:PrepaidAmount currencyID=\"EUR\">{insurer}</cbc:PrepaidAmount>\
         <cbc:PayableAmount currencyID=\"EUR\">{patient}</cbc:PayableAmount></cac:LegalMonetaryTotal>",
        net = amount(d.totals.net),
        total = amount(d.totals.total),
        insurer = amount(d.totals.insurer),
        patient = amount(d.totals.patient),
    );
    for (i, l) in d.lines.iter().enumerate() {
        let _ = write!(
            out,
            "<cac:{line_element}><cbc:ID>{}</cbc:ID><cbc:{quantity_element} unitCode=\"C62\">{}</cbc:{quantity_element}>\
             <cbc:LineExtensionAmount currencyID=\"EUR\">{}</cbc:LineExtensionAmount>\
             <cac:InvoicePeriod><cbc:StartDate>{date}</cbc:StartDate><cbc:EndDate>{date}</cbc:EndDate></cac:InvoicePeriod>\
             <cac:Item><cbc:Name>{}</cbc:Name><cac:SellersItemIdentification><cbc:ID>{}</cbc:ID></cac:SellersItemIdentification>",
            i + 1,
            l.quantity.normalize(),
            amount(l.net),
            esc(&l.label),
            esc(&l.code),
            date = l.service_date,
        );
        category(
            &mut out,
            "ClassifiedTaxCategory",
            l.vat_category,
            l.vat_rate,
            None,
        );
        let _ = write!(
            out,
            "</cac:Item><cac:Price><cbc:PriceAmount currencyID=\"EUR\">{}</cbc:PriceAmount></cac:Price></cac:{line_element}>",
            l.unit_price.normalize()
        );
    }
    let _ = writeln!(out, "</{root}>");
    Ok(out)
}
