//! The PM304 writer: records one at a time to any `io::Write`, counting as it goes, so a file
//! of any size is written with the memory of one record. The closing record's counts and
//! total are the writer's own count of what it wrote.

use std::io::Write;

use crate::records::{EncodeError, Layout, RecordBuf};
use crate::vektis::model::{Header, Insured, Service, Totals};

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A value does not fit its field.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A service before any insured person.
    #[error("a service must follow its insured person")]
    NoInsured,
    /// The output failed.
    #[error("writing the file: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes one declaration.
pub struct Pm304Writer<'l, W: Write> {
    out: W,
    layout: &'l Layout,
    next_id: u64,
    parent: Option<(String, String, Option<String>)>,
    totals: Totals,
}

const CRLF: &[u8] = b"\r\n";

impl<'l, W: Write> Pm304Writer<'l, W> {
    /// Starts a file with its header.
    pub fn start(out: W, layout: &'l Layout, h: &Header) -> Result<Self, WriteError> {
        let mut w = Pm304Writer {
            out,
            layout,
            next_id: 1,
            parent: None,
            totals: Totals::default(),
        };
        let mut r = w.buf("01");
        r.num("message_code", u64::from(layout.message_code))?
            .num("version", u64::from(layout.version.0))?
            .num("subversion", u64::from(layout.version.1))?
            .text("message_kind", if h.test { "T" } else { "P" })?
            .digits("uzovi", &h.uzovi)?
            .digits("practice_agb", &h.practice_agb)?
            // Payment to the practice (COD833 03).
            .num("payee", 3)?
            .date("period_start", h.period_start)?
            .date("period_end", h.period_end)?
            .text("invoice_number", &h.invoice_number)?
            .date("invoice_date", h.invoice_date)?
            .text("currency", "EUR")?;
        w.emit(r.bytes())?;
        Ok(w)
    }

    fn buf(&self, kind: &str) -> RecordBuf<'l> {
        let layout: &'l Layout = self.layout;
        let record = layout
            .record(kind)
            .unwrap_or_else(|| panic!("{} has no record {kind}", layout.standard));
        RecordBuf::new(record, layout.record_len)
    }

    fn emit(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes)?;
        self.out.write_all(CRLF)?;
        self.totals.records += 1;
        Ok(())
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// An insured person; the services that follow are theirs.
    pub fn insured(&mut self, p: &Insured) -> Result<(), WriteError> {
        let id = self.take_id();
        let mut r = self.buf("02");
        r.num("detail_id", id)?
            .digits("bsn", &p.bsn)?
            .digits("uzovi", &p.uzovi)?
            .text("insured_number", p.insured_number.as_deref().unwrap_or(""))?
            .text("patient_number", p.patient_number.as_deref().unwrap_or(""))?
            .date("birth_date", p.birth_date)?
            .num("sex", u64::from(p.sex))?
            // Name use 1: the birth name only.
            .num("name_code_1", 1)?
            .name("name_1", &p.family_name)?
            .name("initials", &p.initials)?
            .text("postcode", p.postcode.as_deref().unwrap_or(""))?
            .name(
                "postcode_abroad",
                p.postcode_abroad.as_deref().unwrap_or(""),
            )?
            .num("house_number", u64::from(p.house_number))?
            .name(
                "house_number_suffix",
                p.house_number_suffix.as_deref().unwrap_or(""),
            )?
            .text("country", p.country.as_deref().unwrap_or(""))?;
        self.emit(r.bytes())?;
        self.parent = Some((p.bsn.clone(), p.uzovi.clone(), p.insured_number.clone()));
        self.totals.insured += 1;
        Ok(())
    }

    /// A service of the insured person written last.
    pub fn service(&mut self, s: &Service) -> Result<(), WriteError> {
        let (bsn, uzovi, number) = self.parent.clone().ok_or(WriteError::NoInsured)?;
        let id = self.take_id();
        let dc = if s.credit { "C" } else { "D" };
        let mut r = self.buf("04");
        r.num("detail_id", id)?
            .digits("bsn", &bsn)?
            .digits("uzovi", &uzovi)?
            .text("insured_number", number.as_deref().unwrap_or(""))?
            // Forwarding allowed (COD820 1).
            .num("forwarding_allowed", 1)?
            .date("service_date", s.service_date)?
            // Prestatiecodelijst paramedische hulp.
            .num("code_list", 12)?
            .text("code", &s.code)?
            .num("quantity", u64::from(s.quantity))?
            .digits("practitioner_agb", &s.practitioner_agb)?
            .num("tariff", s.tariff)?
            .num("calculated", s.calculated)?
            .text("debit_credit_1", dc)?
            .num("amount", s.amount)?
            .text("debit_credit_2", dc)?
            .text("reference", &s.reference)?
            .text(
                "previous_reference",
                s.previous_reference.as_deref().unwrap_or(""),
            )?;
        if let Some(referral) = &s.referral {
            r.date("referral_date", referral.date)?
                .digits("referrer_agb", &referral.referrer_agb)?
                .digits(
                    "referrer_specialism",
                    referral.specialism.as_deref().unwrap_or(""),
                )?;
        }
        self.emit(r.bytes())?;
        self.totals.services += 1;
        let amount = i64::try_from(s.amount).unwrap_or(i64::MAX);
        self.totals.total += if s.credit { -amount } else { amount };
        Ok(())
    }

    /// The output, to drain it between records (a streamed file stores its full chunks).
    pub fn output_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Writes the closing record and answers the output and what was written.
    pub fn finish(mut self) -> Result<(W, Totals), WriteError> {
        let t = self.totals;
        let mut r = self.buf("99");
        r.num("insured_count", t.insured)?
            .num("service_count", t.services)?
            .num("comment_count", t.comments)?
            .num("detail_count", t.insured + t.services + t.comments)?
            .num("total", t.total.unsigned_abs())?
            .text("debit_credit", if t.total < 0 { "C" } else { "D" })?;
        self.emit(r.bytes())?;
        self.out.flush()?;
        Ok((self.out, self.totals))
    }
}

/// A whole declaration into bytes (tests, small files).
pub fn to_bytes(
    layout: &Layout,
    d: &crate::vektis::model::Declaration,
) -> Result<Vec<u8>, WriteError> {
    let mut w = Pm304Writer::start(Vec::new(), layout, &d.header)?;
    for (p, services) in &d.insured {
        w.insured(p)?;
        for s in services {
            w.service(s)?;
        }
    }
    Ok(w.finish()?.0)
}
