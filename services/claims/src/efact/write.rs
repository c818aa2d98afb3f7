//! The eFact writer: what a sending says (the practice, then each patient invoice with its
//! services) as message 920000, streamed to any `io::Write` with the memory of one record.
//! It numbers the records, computes each record's check digits (zone 99) and the totals and
//! nomenclature mod-97 figures of records 80, 90, 95 and 96 from what it wrote.

use std::io::Write;

use chrono::NaiveDate;

use crate::efact::layout::{EFACT, SEGMENTS};
use crate::records::{EncodeError, RecordBuf};

/// Why a message could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A value does not fit its zone.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A service before any invoice.
    #[error("a service must follow its invoice")]
    NoInvoice,
    /// The output failed.
    #[error("writing the file: {0}")]
    Io(#[from] std::io::Error),
}

/// The sending: who invoices which mutuality for which month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sending {
    /// Test (`92`, `9991999`) rather than production.
    pub test: bool,
    /// The third-party payer: the practice's RIZIV/INAMI number (11 digits).
    pub provider: String,
    /// KBO/BCE enterprise number (10 digits).
    pub enterprise_number: String,
    /// Where the mutuality pays.
    pub bic: String,
    /// IBAN, without spaces.
    pub iban: String,
    /// Contact name (the practice).
    pub contact: String,
    /// Sending number of the month (1–999).
    pub sending_number: u32,
    /// The file number.
    pub reference: String,
    /// Invoicing year and month.
    pub year: i32,
    /// Month 1–12.
    pub month: u32,
    /// The day it was made.
    pub created: NaiveDate,
    /// The mutuality (3 digits).
    pub mutuality: String,
}

/// One patient invoice (records 20 and 80).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// INSZ/NISS, 11 digits.
    pub insz: String,
    /// 1 male, 2 female.
    pub sex: u8,
    /// The patient's mutuality.
    pub affiliation: String,
    /// Its number within the sending (1, 2, …).
    pub number: u64,
    /// The practice's invoice number.
    pub reference: String,
    /// Its date.
    pub invoice_date: NaiveDate,
}

/// One service (record 50); amounts in cents, negative for a credit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Nomenclature code (6 digits).
    pub code: u32,
    /// The day.
    pub date: NaiveDate,
    /// The provider's RIZIV/INAMI number.
    pub provider: String,
    /// What the mutuality pays.
    pub reimbursement: i64,
    /// Units (negative on a credit).
    pub units: i32,
    /// The patient's personal share.
    pub personal_share: i64,
    /// The claim line's reference.
    pub reference: String,
    /// The prescription it rests on (zones 20, 24 and 26 zeros when none).
    pub prescription: Option<Prescription>,
}

/// A prescription as record 50 carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prescription {
    /// The day the doctor prescribed (zone 20).
    pub date: NaiveDate,
    /// The prescriber's RIZIV/INAMI number, 11 digits (zone 24).
    pub prescriber: String,
}

/// Zone 26 "norme prescripteur": 0 no prescriber, 1 one prescriber (the only ones written).
const ONE_PRESCRIBER: u64 = 1;

/// A whole message (tests and small files; the writer streams).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The sending.
    pub sending: Sending,
    /// Each invoice with its services.
    pub invoices: Vec<(Invoice, Vec<Service>)>,
}

/// Zone 99: each character of positions 1–348 counts (digit: its value, space: 10, letter:
/// 11–36, anything else: 37); the sum mod 97, 0 written as 97.
pub fn control(record: &[u8]) -> u32 {
    let sum: u32 = record[..348]
        .iter()
        .map(|&b| match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b' ' => 10,
            b'A'..=b'Z' => u32::from(b - b'A') + 11,
            b'a'..=b'z' => u32::from(b - b'a') + 11,
            _ => 37,
        })
        .sum();
    match sum % 97 {
        0 => 97,
        r => r,
    }
}

/// Σ nomenclature codes mod 97, 0 written as 97 (zones 98, 410, 510).
pub fn codes_mod97(sum: u64) -> u64 {
    match sum % 97 {
        0 => 97,
        r => r,
    }
}

#[derive(Default, Clone, Copy)]
struct Sums {
    a: i64,
    personal: i64,
    codes: u64,
    records: u64,
}

/// Writes one sending.
pub struct EfactWriter<W: Write> {
    out: W,
    sending: Sending,
    seq: u64,
    invoice: Option<(Invoice, Sums)>,
    all: Sums,
    oa_records: u64,
}

impl<W: Write> EfactWriter<W> {
    /// Starts the message: segments 200 and 300, record 10.
    pub fn start(mut out: W, s: &Sending) -> Result<Self, WriteError> {
        let [s200, s300] = &*SEGMENTS;
        let mut r = RecordBuf::new(&s200.records[0], s200.record_len);
        r.num("message", 920_000)?
            .num("format_version", 2)?
            .num("environment", if s.test { 92 } else { 12 })?
            .digits("provider_reference", &s.reference)?;
        out.write_all(r.bytes())?;
        let mut r = RecordBuf::new(&s300.records[0], s300.record_len);
        r.num("period", (s.year as u64) * 100 + u64::from(s.month))?
            .num("sending_number", u64::from(s.sending_number))?
            .date("created", s.created)?
            .text("invoice_reference", &s.reference)?
            .num(
                "instructions_version",
                if s.test { 9_991_999 } else { 1_999 },
            )?
            .name("contact_name", &s.contact)?
            .num("invoice_type", 3)?
            .num("invoicing_type", 1)?;
        out.write_all(r.bytes())?;
        let mut w = EfactWriter {
            out,
            sending: s.clone(),
            seq: 0,
            invoice: None,
            all: Sums::default(),
            oa_records: 0,
        };
        let mut r = w.record("10");
        r.num("accounts", 1)?
            .num(
                "instructions_version",
                if s.test { 9_991_999 } else { 1_999 },
            )?
            .num("sending_number", u64::from(s.sending_number))?
            .num("content", 40)?
            .digits("provider", &s.provider)?
            .num("year", s.year as u64)?
            .num("month", u64::from(s.month))?
            .date("created", s.created)?
            .digits("enterprise_number", &s.enterprise_number)?
            .text("reference", &s.reference)?
            .text("bic", &s.bic)?
            .text("iban", &s.iban)?;
        w.emit(r)?;
        Ok(w)
    }

    fn record(&mut self, kind: &str) -> RecordBuf<'static> {
        let layout = EFACT.record(kind).expect("an eFact record kind");
        let mut r = RecordBuf::new(layout, EFACT.record_len);
        self.seq += 1;
        if kind != "95" && kind != "96" {
            r.num("seq", self.seq).expect("a sequence fits six digits");
        }
        r
    }

    fn emit(&mut self, mut r: RecordBuf<'_>) -> std::io::Result<()> {
        let check = control(r.bytes());
        r.put(349, &format!("{check:02}"));
        self.out.write_all(r.bytes())?;
        self.all.records += 1;
        Ok(())
    }

    fn identity(r: &mut RecordBuf<'_>, i: &Invoice, provider: &str) -> Result<(), EncodeError> {
        r.digits("affiliation", &i.affiliation)?
            .digits("insz", &i.insz)?
            .num("sex", u64::from(i.sex))?
            // Ambulatory care; a normal invoice.
            .num("invoice_type", 3)?
            .num("invoicing_type", 0)?
            .digits("provider", provider)?
            .num("invoice_number", i.number)?
            .text("reference", &i.reference)?;
        Ok(())
    }

    /// Opens a patient invoice (closing the one before).
    pub fn invoice(&mut self, i: &Invoice) -> Result<(), WriteError> {
        self.close_invoice()?;
        let provider = self.sending.provider.clone();
        let mut r = self.record("20");
        Self::identity(&mut r, i, &provider)?;
        r.digits("destination", &self.sending.mutuality)?
            .date("invoice_date", i.invoice_date)?;
        self.emit(r)?;
        self.invoice = Some((
            i.clone(),
            Sums {
                records: 1,
                ..Sums::default()
            },
        ));
        Ok(())
    }

    /// A service of the open invoice.
    pub fn service(&mut self, s: &Service) -> Result<(), WriteError> {
        let Some((inv, _)) = &self.invoice else {
            return Err(WriteError::NoInvoice);
        };
        let inv = inv.clone();
        let mut r = self.record("50");
        r.num("code", u64::from(s.code))?
            .date("first_date", s.date)?
            .date("last_date", s.date)?
            .digits("affiliation", &inv.affiliation)?
            .digits("insz", &inv.insz)?
            .num("sex", u64::from(inv.sex))?
            // Ambulatory care.
            .num("service_code", 990)?
            .digits("provider", &s.provider)?
            .signed("reimbursement", s.reimbursement)?
            .signed("units", i64::from(s.units))?
            .signed("personal_share", s.personal_share)?
            .text("reference", &s.reference)?
            .signed("supplement", 0)?
            .signed("agreement", 0)?;
        if let Some(p) = &s.prescription {
            r.date("prescription_date", p.date)?
                .digits("prescriber", &p.prescriber)?
                .num("prescriber_norm", ONE_PRESCRIBER)?;
        }
        self.emit(r)?;
        if let Some((_, sums)) = &mut self.invoice {
            sums.a += s.reimbursement;
            sums.personal += s.personal_share;
            sums.codes += u64::from(s.code);
            sums.records += 1;
        }
        Ok(())
    }

    fn close_invoice(&mut self) -> Result<(), WriteError> {
        let Some((inv, sums)) = self.invoice.take() else {
            return Ok(());
        };
        let provider = self.sending.provider.clone();
        let mut r = self.record("80");
        Self::identity(&mut r, &inv, &provider)?;
        r.signed("account_b", 0)?
            .signed("account_a", sums.a)?
            .date("invoice_date", inv.invoice_date)?
            .signed("personal_shares", sums.personal)?
            .signed("supplements", 0)?
            .signed("advance", 0)?
            .num("codes_mod97", codes_mod97(sums.codes))?;
        self.emit(r)?;
        self.all.a += sums.a;
        self.all.personal += sums.personal;
        self.all.codes += sums.codes;
        // The mutuality's records: 20, 50s, 80.
        self.oa_records += sums.records + 1;
        Ok(())
    }

    /// The output, to drain it between records (a streamed file stores its full chunks).
    pub fn output_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Closes the last invoice and the sending (records 90, 95, 96); answers the output.
    pub fn finish(mut self) -> Result<W, WriteError> {
        self.close_invoice()?;
        let s = self.sending.clone();
        let mut r = self.record("90");
        r.num("sending_number", u64::from(s.sending_number))?
            .digits("provider", &s.provider)?
            .signed("total_b", 0)?
            .signed("total_a", self.all.a)?
            .num("year", s.year as u64)?
            .num("month", u64::from(s.month))?
            .digits("enterprise_number", &s.enterprise_number)?
            .text("reference", &s.reference)?
            .text("bic", &s.bic)?
            .text("iban", &s.iban)?
            .num("codes_mod97", codes_mod97(self.all.codes))?;
        self.emit(r)?;
        let (a, codes) = (self.all.a, self.all.codes);
        let mut r = self.record("95");
        totals(
            &mut r,
            &s.mutuality,
            &s.reference,
            a,
            self.oa_records,
            codes,
        )?;
        self.out.write_all(r.bytes())?;
        let mut r = self.record("96");
        let federation = format!("{}99", &s.mutuality[..1]);
        totals(
            &mut r,
            &federation,
            &s.reference,
            a,
            self.all.records,
            codes,
        )?;
        self.out.write_all(r.bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Zones of records 95 and 96: the amounts (signed), the record count, the codes mod 97.
fn totals(
    r: &mut RecordBuf<'_>,
    mutuality: &str,
    number: &str,
    a: i64,
    records: u64,
    codes: u64,
) -> Result<(), EncodeError> {
    let sign = if a < 0 { "-" } else { "+" };
    r.digits("mutuality", mutuality)?
        .digits("summary_number", number)?
        .text("sign_a", sign)?
        .num("amount_a", a.unsigned_abs())?
        .text("sign_b", "+")?
        .text("sign_total", sign)?
        .num("amount_total", a.unsigned_abs())?
        .num("records", records)?
        .num("codes_mod97", codes_mod97(codes))?;
    Ok(())
}

/// A whole message into bytes (tests, small files).
pub fn to_bytes(m: &Message) -> Result<Vec<u8>, WriteError> {
    let mut w = EfactWriter::start(Vec::new(), &m.sending)?;
    for (i, services) in &m.invoices {
        w.invoice(i)?;
        for s in services {
            w.service(s)?;
        }
    }
    w.finish()
}
