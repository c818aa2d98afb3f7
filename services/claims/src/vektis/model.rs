//! What a PM304 file says, as structured values: the header, each insured person and their
//! services. The writer turns these into records and the parser reads them back; fields the
//! model does not carry are written as their unused value (zeros, spaces).

use chrono::NaiveDate;

/// The header (record 01) of one declaration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `P` production, `T` test.
    pub test: bool,
    /// The insurer (UZOVI) the file is for.
    pub uzovi: String,
    /// The practice's AGB code (it is paid: "betaling aan" 03).
    pub practice_agb: String,
    /// First and last day of the services claimed.
    pub period_start: NaiveDate,
    /// Last day.
    pub period_end: NaiveDate,
    /// The declaration's number, unique per practice (a resubmission gets a new one).
    pub invoice_number: String,
    /// The day the file was made.
    pub invoice_date: NaiveDate,
}

/// An insured person (record 02).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insured {
    /// BSN, 9 digits.
    pub bsn: String,
    /// Their insurer.
    pub uzovi: String,
    /// Their policy number, when known.
    pub insured_number: Option<String>,
    /// The practice's own short reference of the patient, echoed back by the insurer.
    pub patient_number: Option<String>,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// `1` male, `2` female (COD046 as in v3.2).
    pub sex: u8,
    /// Family name (folded to ASCII, at most 25).
    pub family_name: String,
    /// Initials (at most 6).
    pub initials: String,
    /// Dutch postcode `1234AB`, for residents.
    pub postcode: Option<String>,
    /// Postcode abroad.
    pub postcode_abroad: Option<String>,
    /// House number (0 when unknown).
    pub house_number: u32,
    /// House number suffix.
    pub house_number_suffix: Option<String>,
    /// ISO country code.
    pub country: Option<String>,
}

/// A service claimed (record 04), debit or credit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The day of the service.
    pub service_date: NaiveDate,
    /// The prestatiecode (list 012).
    pub code: String,
    /// How many.
    pub quantity: u32,
    /// The treating therapist's AGB code.
    pub practitioner_agb: String,
    /// Tariff per service incl. VAT, eurocents.
    pub tariff: u64,
    /// Tariff × quantity, eurocents.
    pub calculated: u64,
    /// What the insurer is asked for (or, credit, what is taken back), eurocents.
    pub amount: u64,
    /// A credit line.
    pub credit: bool,
    /// This line's reference, unique for ever.
    pub reference: String,
    /// A credit line: the reference of the debit line it takes back.
    pub previous_reference: Option<String>,
    /// The referral the service rests on (zeros in 0424–0426: direct access).
    pub referral: Option<Referral>,
}

/// A referral as record 04 carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    /// The day of the referral (0424).
    pub date: NaiveDate,
    /// The referrer's AGB code (0425).
    pub referrer_agb: String,
    /// The referrer's specialism, COD016 (0426), when known.
    pub specialism: Option<String>,
}

/// A whole declaration, for tests and small files (the writer streams instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// The header.
    pub header: Header,
    /// Each insured person with their services, in file order.
    pub insured: Vec<(Insured, Vec<Service>)>,
}

/// The closing record's figures, as the writer counted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Records 02.
    pub insured: u64,
    /// Records 04.
    pub services: u64,
    /// Records 98.
    pub comments: u64,
    /// Σ amount, debit positive, eurocents.
    pub total: i64,
    /// Records in the file, 01 and 99 included.
    pub records: u64,
}
