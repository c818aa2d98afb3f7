//! What a document shows, gathered once and handed to the writers (PDF, UBL).

use chrono::NaiveDate;
use domain::invoice::InvoiceKind;
use domain::practice::{Country, Language};
use rust_decimal::Decimal;

/// The practice as the document shows it.
#[derive(Debug, Clone)]
pub struct Seller {
    /// Legal name.
    pub name: String,
    /// Address lines.
    pub address: Vec<String>,
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

/// Who it is addressed to.
#[derive(Debug, Clone)]
pub struct Buyer {
    /// Name.
    pub name: String,
    /// Address lines (none when the address is unknown).
    pub address: Vec<String>,
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
