//! Reading PM304 files back into [`Declaration`]s (the round trip of the golden test) and
//! PM305 return files into what the insurer decided per line. Both validate first: a file
//! that breaks a rule is answered with its findings, never half read.

use chrono::NaiveDate;

use crate::records::{Layout, RecordView};
use crate::vektis::model::{Declaration, Header, Insured, Referral, Service};
use crate::vektis::validate::{Finding, Validator};

/// The records of a valid file, one view each.
fn records<'a>(layout: &'a Layout, bytes: &'a [u8]) -> impl Iterator<Item = RecordView<'a>> {
    bytes.split(|&b| b == b'\n').filter_map(move |line| {
        let line = line.strip_suffix(b"\r")?;
        let kind = std::str::from_utf8(line.get(..2)?).ok()?;
        Some(RecordView {
            layout: layout.record(kind)?,
            bytes: line,
        })
    })
}

fn opt(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

fn date(v: &RecordView<'_>, key: &str) -> NaiveDate {
    v.date(key).unwrap_or_default()
}

fn header(v: &RecordView<'_>) -> Header {
    Header {
        test: v.raw("message_kind") == "T",
        uzovi: v.raw("uzovi").to_owned(),
        practice_agb: v.raw("practice_agb").to_owned(),
        period_start: date(v, "period_start"),
        period_end: date(v, "period_end"),
        invoice_number: v.text("invoice_number").to_owned(),
        invoice_date: date(v, "invoice_date"),
    }
}

fn insured(v: &RecordView<'_>) -> Insured {
    Insured {
        bsn: v.raw("bsn").to_owned(),
        uzovi: v.raw("uzovi").to_owned(),
        insured_number: opt(v.text("insured_number")),
        patient_number: opt(v.text("patient_number")),
        birth_date: date(v, "birth_date"),
        sex: u8::try_from(v.num("sex").unwrap_or(0)).unwrap_or(0),
        family_name: v.text("name_1").to_owned(),
        initials: v.text("initials").to_owned(),
        postcode: opt(v.text("postcode")),
        postcode_abroad: opt(v.text("postcode_abroad")),
        house_number: u32::try_from(v.num("house_number").unwrap_or(0)).unwrap_or(0),
        house_number_suffix: opt(v.text("house_number_suffix")),
        country: opt(v.text("country")),
    }
}

fn service(v: &RecordView<'_>) -> Service {
    Service {
        service_date: date(v, "service_date"),
        code: v.text("code").to_owned(),
        quantity: u32::try_from(v.num("quantity").unwrap_or(0)).unwrap_or(0),
        practitioner_agb: v.last_digits("practitioner_agb", 8),
        tariff: v.num("tariff").unwrap_or(0),
        calculated: v.num("calculated").unwrap_or(0),
        amount: v.num("amount").unwrap_or(0),
        credit: v.raw("debit_credit_2") == "C",
        reference: v.text("reference").to_owned(),
        previous_reference: opt(v.text("previous_reference")),
        referral: v.date("referral_date").map(|date| Referral {
            date,
            referrer_agb: v.raw("referrer_agb").to_owned(),
            specialism: v
                .num("referrer_specialism")
                .filter(|&n| n != 0)
                .map(|_| v.raw("referrer_specialism").to_owned()),
        }),
    }
}

/// A PM304 file as a declaration, or what is wrong with it.
pub fn declaration(layout: &Layout, bytes: &[u8]) -> Result<Declaration, Vec<Finding>> {
    let findings = Validator::check(layout, bytes);
    if !findings.is_empty() {
        return Err(findings);
    }
    let mut head = None;
    let mut people: Vec<(Insured, Vec<Service>)> = Vec::new();
    for v in records(layout, bytes) {
        match v.layout.kind {
            "01" => head = Some(header(&v)),
            "02" => people.push((insured(&v), Vec::new())),
            "04" => {
                if let Some((_, services)) = people.last_mut() {
                    services.push(service(&v));
                }
            }
            _ => {}
        }
    }
    Ok(Declaration {
        header: head.ok_or_else(Vec::new)?,
        insured: people,
    })
}

/// What the insurer decided on one line (a PM305 record 04).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineAnswer {
    /// The line's reference as sent (0434).
    pub reference: String,
    /// Granted, eurocents (negative: a credit granted).
    pub granted: i64,
    /// The retourcodes (without `0000`), of the line and of its insured person's record.
    pub codes: Vec<String>,
}

/// A return file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnFile {
    /// The declaration it answers (0116 as sent).
    pub invoice_number: String,
    /// The insurer (0108).
    pub uzovi: String,
    /// The insurer's reference of its answer.
    pub insurer_reference: String,
    /// The day it answered.
    pub answer_date: Option<NaiveDate>,
    /// Codes on the file as a whole (record 01).
    pub file_codes: Vec<String>,
    /// One answer per line.
    pub lines: Vec<LineAnswer>,
    /// Granted in total, eurocents.
    pub granted_total: i64,
}

fn codes(v: &RecordView<'_>) -> Vec<String> {
    ["return_code_1", "return_code_2", "return_code_3"]
        .iter()
        .map(|k| v.raw(k))
        .filter(|c| !c.is_empty() && *c != "0000")
        .map(str::to_owned)
        .collect()
}

/// Codes that only say "no remark" (COD954: 0200 on an insured record, 0000 unused).
pub fn is_remark_free(code: &str) -> bool {
    matches!(code, "0000" | "0200")
}

/// A PM305 file's answers, or what is wrong with it.
pub fn return_file(layout: &Layout, bytes: &[u8]) -> Result<ReturnFile, Vec<Finding>> {
    let findings = Validator::check(layout, bytes);
    if !findings.is_empty() {
        return Err(findings);
    }
    let mut file = ReturnFile {
        invoice_number: String::new(),
        uzovi: String::new(),
        insurer_reference: String::new(),
        answer_date: None,
        file_codes: Vec::new(),
        lines: Vec::new(),
        granted_total: 0,
    };
    let mut person: Vec<String> = Vec::new();
    let signed = |v: &RecordView<'_>, key: &str, dc: &str| {
        let n = i64::try_from(v.num(key).unwrap_or(0)).unwrap_or(i64::MAX);
        if v.raw(dc) == "C" { -n } else { n }
    };
    for v in records(layout, bytes) {
        match v.layout.kind {
            "01" => {
                file.invoice_number = v.text("invoice_number").to_owned();
                file.uzovi = v.raw("uzovi").to_owned();
                file.insurer_reference = v.text("insurer_reference").to_owned();
                file.answer_date = v.date("answer_date");
                file.file_codes = codes(&v);
            }
            "02" => person = codes(&v),
            "04" => {
                let mut all: Vec<String> = codes(&v);
                all.extend(person.iter().filter(|c| !is_remark_free(c)).cloned());
                file.lines.push(LineAnswer {
                    reference: v.text("reference").to_owned(),
                    granted: signed(&v, "granted", "debit_credit_4"),
                    codes: all,
                });
            }
            "99" => file.granted_total = signed(&v, "granted_total", "granted_debit_credit"),
            _ => {}
        }
    }
    Ok(file)
}
