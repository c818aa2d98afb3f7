//! The words of an invoice in the patient's language (nl, fr, en, de), and how amounts and
//! dates are written in it.

use chrono::NaiveDate;
use domain::practice::{Country, Language};
use rust_decimal::Decimal;

/// Every fixed text of a document.
pub(crate) struct Labels {
    pub(crate) invoice: &'static str,
    pub(crate) credit_note: &'static str,
    pub(crate) number: &'static str,
    pub(crate) date: &'static str,
    pub(crate) due_date: &'static str,
    pub(crate) corrects: &'static str,
    pub(crate) to: &'static str,
    pub(crate) service_date: &'static str,
    pub(crate) code: &'static str,
    pub(crate) description: &'static str,
    pub(crate) quantity: &'static str,
    pub(crate) unit_price: &'static str,
    pub(crate) amount: &'static str,
    pub(crate) net_total: &'static str,
    pub(crate) vat: &'static str,
    pub(crate) total: &'static str,
    pub(crate) insurer_share: &'static str,
    pub(crate) to_pay: &'static str,
    pub(crate) to_refund: &'static str,
    pub(crate) pay_to: &'static str,
    pub(crate) reference: &'static str,
    pub(crate) vat_number: &'static str,
    pub(crate) page: &'static str,
}

/// The labels of `language`.
pub(crate) fn labels(language: Language) -> &'static Labels {
    match language {
        Language::Nl => &NL,
        Language::Fr => &FR,
        Language::En => &EN,
        Language::De => &DE,
    }
}

static NL: Labels = Labels {
    invoice: "Factuur",
    credit_note: "Creditnota",
    number: "Nummer",
    date: "Datum",
    due_date: "Vervaldatum",
    corrects: "Corrigeert factuur",
    to: "Aan",
    service_date: "Datum zorg",
    code: "Code",
    description: "Omschrijving",
    quantity: "Aantal",
    unit_price: "Prijs",
    amount: "Bedrag",
    net_total: "Totaal excl. btw",
    vat: "Btw",
    total: "Totaal",
    insurer_share: "Ten laste van de verzekeraar",
    to_pay: "Te betalen",
    to_refund: "Terug te betalen",
    pay_to: "Te betalen op rekening",
    reference: "Betalingsreferentie",
    vat_number: "Btw-nummer",
    page: "Pagina",
};

static FR: Labels = Labels {
    invoice: "Facture",
    credit_note: "Note de crédit",
    number: "Numéro",
    date: "Date",
    due_date: "Échéance",
    corrects: "Corrige la facture",
    to: "À",
    service_date: "Date soins",
    code: "Code",
    description: "Description",
    quantity: "Qté",
    unit_price: "Prix",
    amount: "Montant",
    net_total: "Total hors TVA",
    vat: "TVA",
    total: "Total",
    insurer_share: "À charge de l'organisme assureur",
    to_pay: "À payer",
    to_refund: "À rembourser",
    pay_to: "À payer sur le compte",
    reference: "Communication structurée",
    vat_number: "Numéro de TVA",
    page: "Page",
};

static EN: Labels = Labels {
    invoice: "Invoice",
    credit_note: "Credit note",
    number: "Number",
    date: "Date",
    due_date: "Due date",
    corrects: "Corrects invoice",
    to: "To",
    service_date: "Date of care",
    code: "Code",
    description: "Description",
    quantity: "Qty",
    unit_price: "Price",
    amount: "Amount",
    net_total: "Total excl. VAT",
    vat: "VAT",
    total: "Total",
    insurer_share: "Paid by the insurer",
    to_pay: "To pay",
    to_refund: "To refund",
    pay_to: "Pay to account",
    reference: "Payment reference",
    vat_number: "VAT number",
    page: "Page",
};

static DE: Labels = Labels {
    invoice: "Rechnung",
    credit_note: "Gutschrift",
    number: "Nummer",
    date: "Datum",
    due_date: "Fällig am",
    corrects: "Berichtigt Rechnung",
    to: "An",
    service_date: "Behandelt am",
    code: "Code",
    description: "Beschreibung",
    quantity: "Menge",
    unit_price: "Preis",
    amount: "Betrag",
    net_total: "Summe ohne MwSt.",
    vat: "MwSt.",
    total: "Summe",
    insurer_share: "Zu Lasten der Krankenkasse",
    to_pay: "Zu zahlen",
    to_refund: "Zu erstatten",
    pay_to: "Zahlbar auf Konto",
    reference: "Zahlungsreferenz",
    vat_number: "USt-IdNr.",
    page: "Seite",
};

/// The enterprise register and the care provider number, by the practice's country.
pub(crate) fn identifiers(country: Country, language: Language) -> (&'static str, &'static str) {
    match (country, language) {
        (Country::BE, Language::Fr) => ("BCE", "INAMI"),
        (Country::BE, Language::De) => ("ZDU", "LIKIV"),
        (Country::BE, _) => ("KBO", "RIZIV"),
        (Country::NL, Language::Fr) => ("KvK", "AGB"),
        (Country::NL, _) => ("KvK", "AGB"),
    }
}

/// The exemption mention the law requires on an invoice without VAT for medical care: BE
/// art. 44 §1 W.btw/CTVA; NL art. 11 lid 1 onder g Wet OB.
pub(crate) fn exemption(country: Country, language: Language) -> &'static str {
    match (country, language) {
        (Country::BE, Language::Nl) => "Vrijgesteld van btw – art. 44, §1 W.btw",
        (Country::BE, Language::Fr) => "Exemption de TVA – art. 44, §1 du Code de la TVA",
        (Country::BE, Language::De) => "Von der MwSt. befreit – Art. 44 §1 MwSt.-Gesetzbuch",
        (Country::BE, Language::En) => "Exempt from VAT – art. 44, §1 Belgian VAT Code",
        (Country::NL, Language::Nl) => "Vrijgesteld van btw – art. 11 lid 1 onder g Wet OB 1968",
        (Country::NL, Language::Fr) => "Exemption de TVA – art. 11, al. 1, g, Wet OB 1968",
        (Country::NL, Language::De) => "Von der USt. befreit – Art. 11 Abs. 1 g Wet OB 1968",
        (Country::NL, Language::En) => "Exempt from VAT – art. 11(1)(g) Dutch VAT Act 1968",
    }
}

/// An amount as the language writes it: `€ 1.234,50` (nl), `1 234,50 €` (fr), `1.234,50 €`
/// (de), `€1,234.50` (en).
pub(crate) fn money(language: Language, amount: Decimal) -> String {
    let negative = amount.is_sign_negative() && !amount.is_zero();
    let cents = format!("{:.2}", amount.abs());
    let (whole, fraction) = cents.split_once('.').unwrap_or((&cents, "00"));
    let (group, decimal) = match language {
        Language::En => (',', '.'),
        Language::Fr => ('\u{202f}', ','),
        Language::Nl | Language::De => ('.', ','),
    };
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(c);
    }
    let sign = if negative { "-" } else { "" };
    match language {
        Language::Nl => format!("€ {sign}{grouped}{decimal}{fraction}"),
        Language::En => format!("{sign}€{grouped}{decimal}{fraction}"),
        Language::Fr | Language::De => format!("{sign}{grouped}{decimal}{fraction} €"),
    }
}

/// A date as the language writes it.
pub(crate) fn date(language: Language, d: NaiveDate) -> String {
    match language {
        Language::Nl => d.format("%d-%m-%Y").to_string(),
        Language::Fr => d.format("%d/%m/%Y").to_string(),
        Language::De => d.format("%d.%m.%Y").to_string(),
        Language::En => d.format("%Y-%m-%d").to_string(),
    }
}

/// A quantity without trailing zeros, with the language's decimal sign.
pub(crate) fn quantity(language: Language, q: Decimal) -> String {
    let s = q.normalize().to_string();
    if language == Language::En {
        s
    } else {
        s.replace('.', ",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn amounts_and_dates_in_each_language() {
        let a = Decimal::from_str("1234.5").unwrap();
        assert_eq!(money(Language::Nl, a), "€ 1.234,50");
        assert_eq!(money(Language::Fr, a), "1\u{202f}234,50 €");
        assert_eq!(money(Language::De, a), "1.234,50 €");
        assert_eq!(money(Language::En, a), "€1,234.50");
        assert_eq!(
            money(Language::Nl, Decimal::from_str("-8.1").unwrap()),
            "€ -8,10"
        );
        assert_eq!(money(Language::En, Decimal::ZERO), "€0.00");
        let d = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        assert_eq!(date(Language::Nl, d), "02-03-2026");
        assert_eq!(date(Language::De, d), "02.03.2026");
        assert_eq!(
            quantity(Language::Fr, Decimal::from_str("1.50").unwrap()),
            "1,5"
        );
    }
}
