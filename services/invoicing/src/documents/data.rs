//! What a document shows, gathered once and handed to the writers (PDF, UBL).

use chrono::NaiveDate;
use domain::invoice::{InvoiceKind, VatCategory};
use domain::people::PostalAddress;
use domain::practice::{Country, Language};
use rust_decimal::Decimal;

/// The practice as the document shows it.
#[derive(Debug, Clone)]
pub struct Seller {
    /// Legal name.
    pub name: String,
    /// Address.
    pub address: PostalAddress,
    /// KBO/BCE or KvK number.
    pub enterprise_number: String,
    /// VAT number, if registered.
    pub vat_number: Option<String>,
    /// RIZIV/INAMI or AGB number.
    pub provider_number: Option<String>,
    /// IBAN.
    pub iban: String,
    /// BIC.
    pub bic: Option<String>,
}

/// Who it is addressed to: the patient, or a payer (a parent, a company).
#[derive(Debug, Clone)]
pub struct Buyer {
    /// Name.
    pub name: String,
    /// Address, when known.
    pub address: Option<PostalAddress>,
    /// A business or organisation: its Peppol participant id (`scheme:id`, e.g.
    /// `0208:0403019261`), where e-invoices are delivered.
    pub peppol_id: Option<String>,
}

/// Address lines as printed.
pub fn address_lines(a: &PostalAddress) -> Vec<String> {
    let street = match &a.box_number {
        Some(b) => format!("{} {} {b}", a.street, a.number),
        None => format!("{} {}", a.street, a.number),
    };
    vec![
        street,
        format!("{} {}", a.postcode, a.city),
        a.country.clone(),
    ]
}

/// One line as printed.
#[derive(Debug, Clone)]
pub struct DocumentLine {
    /// Date of care.
    pub service_date: NaiveDate,
    /// Nomenclature code or prestatiecode.
    pub code: String,
    /// Text.
    pub label: String,
    /// Units.
    pub quantity: Decimal,
    /// Price per unit.
    pub unit_price: Decimal,
    /// Net amount.
    pub net: Decimal,
    /// VAT category.
    pub vat_category: VatCategory,
    /// VAT rate, percent.
    pub vat_rate: Decimal,
    /// VAT amount.
    pub vat: Decimal,
    /// Exemption reason code (category E).
    pub exemption_reason: Option<String>,
}

/// The totals as printed.
#[derive(Debug, Clone)]
pub struct DocumentTotals {
    /// Net.
    pub net: Decimal,
    /// VAT.
    pub vat: Decimal,
    /// Net plus VAT.
    pub total: Decimal,
    /// The insurer's share.
    pub insurer: Decimal,
    /// The patient's share.
    pub patient: Decimal,
}

/// Everything a document shows.
#[derive(Debug, Clone)]
pub struct DocumentData {
    /// Invoice or credit note.
    pub kind: InvoiceKind,
    /// The patient's language.
    pub language: Language,
    /// The practice's country (decides identifiers and the exemption mention).
    pub country: Country,
    /// Number.
    pub number: String,
    /// Issue date.
    pub issue_date: NaiveDate,
    /// Due date.
    pub due_date: NaiveDate,
    /// A credit note's invoice number.
    pub corrects: Option<String>,
    /// The practice.
    pub seller: Seller,
    /// The patient.
    pub buyer: Buyer,
    /// Lines.
    pub lines: Vec<DocumentLine>,
    /// Totals.
    pub totals: DocumentTotals,
    /// The payment reference as printed (`+++…+++` or the number).
    pub payment_reference: Option<String>,
}
