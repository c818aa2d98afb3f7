//! The mutualities' answers to an eFact sending, read into the same correction flow as Vektis
//! return files. Layouts after taktik's open-source readers (claim-files.md §2.1 names them;
//! iCure `BelgianInsuranceInvoicingReader`, freehealth-connector `Segment300ErrorDescription`):
//!
//! - `931000` — acknowledgement: segment 200, then the message it acknowledges (6), an error
//!   zone (2) and a reserve (152). Every line is accepted.
//! - `920999` — the sending refused as a whole: segment 200, segment 300, records 95 with their
//!   error zones. Every line is rejected.
//! - `920098`, `920099`, `920900` — errors in detail: segment 200, the error-count segment
//!   (segment 300 plus error percentage and refusal type, 610 positions), then one 800-position
//!   detail per faulted record: the record as sent (350) and the mutuality's verdict (up to
//!   three rejection letters and codes, a comment, an index). A faulted record 50 rejects its
//!   line, a 20 or 80 the lines of its invoice, a 10 or 90 the whole sending; lines named by no
//!   detail are accepted. [INF: the reference gives no semantics beyond "errors"; treating the
//!   three alike is our reading.]
//!
//! Findings name rules and positions only, never a value.

use std::sync::LazyLock;

use crate::efact::layout::EFACT;
use crate::records::{
    Finding, Layout, RecordLayout, RecordView, an, an_opt, date_opt, field_rule, n, n_opt,
};

/// What a mutuality said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `931000`: all accepted.
    Accepted,
    /// `920999`: all rejected, with the codes found in its records 95.
    Rejected(Vec<String>),
    /// `920098`/`920099`/`920900`: the faulted records.
    Errors(Vec<Faulted>),
}

/// One faulted record of an error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Faulted {
    /// The record kind (`10`, `20`, `50`, `80`, `90`).
    pub kind: String,
    /// Zone 28: our line reference (50) or invoice number (20, 80).
    pub reference: String,
    /// The rejection codes, each its letter and six digits (`B123456`).
    pub codes: Vec<String>,
}

/// An answer to one sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfactAnswer {
    /// The message code (`931000`, `920999`, …).
    pub message: String,
    /// The sending's file number (segment 200, zone 204).
    pub file_number: String,
    /// What it says.
    pub verdict: Verdict,
}

const SEGMENT_200_LEN: usize = 67;
const SEGMENT_300_LEN: usize = 160;
const ERROR_COUNT_LEN: usize = 610;
const DETAIL_LEN: usize = 800;

/// The verdict half of an 800-position error detail (after the 350 of the record).
static DETAIL: LazyLock<RecordLayout> = LazyLock::new(|| RecordLayout {
    kind: "detail",
    name: "error detail",
    fields: vec![
        an("record", "record", 1, 350),
        n_opt("sending", "D1", 351, 3),
        date_opt("created", "D2", 354),
        n_opt("period", "D3", 362, 6),
        n_opt("mutuality", "D4", 368, 3),
        an_opt("filler", "D5", 371, 86),
        an_opt("letter_1", "D6", 457, 1),
        an_opt("code_1", "D7", 458, 6),
        an_opt("letter_2", "D8", 464, 1),
        an_opt("code_2", "D9", 465, 6),
        an_opt("letter_3", "D10", 471, 1),
        an_opt("code_3", "D11", 472, 6),
        an_opt("filler", "D12", 478, 44),
        an_opt("result", "D13", 522, 12),
        an_opt("comment", "D14", 534, 200),
        an_opt("reserve", "D15", 734, 61),
        n("index", "D16", 795, 6),
    ],
});

/// The detail layout as a whole (for its own table test).
pub static DETAIL_LAYOUT: LazyLock<Layout> = LazyLock::new(|| Layout {
    standard: "eFact error detail",
    message_code: 920_900,
    version: (2, 0),
    record_len: DETAIL_LEN,
    records: vec![RecordLayout {
        kind: "detail",
        name: "error detail",
        fields: DETAIL.fields.clone(),
    }],
});

fn finding(rule: &'static str, record: u64, field: Option<&'static str>) -> Finding {
    Finding {
        rule,
        record,
        field,
        retourcode: None,
    }
}

/// Reads an answer, or says what is wrong with it.
pub fn read(bytes: &[u8]) -> Result<EfactAnswer, Vec<Finding>> {
    if !bytes.iter().all(|b| (b' '..=b'~').contains(b)) {
        return Err(vec![finding("ascii", 0, None)]);
    }
    if bytes.len() < SEGMENT_200_LEN + SEGMENT_300_LEN {
        return Err(vec![finding("record_length", 0, None)]);
    }
    let message = String::from_utf8_lossy(&bytes[..6]).into_owned();
    let reference = String::from_utf8_lossy(&bytes[20..34]).into_owned();
    if !reference.bytes().all(|b| b.is_ascii_digit()) {
        return Err(vec![finding("numeric", 1, Some("204"))]);
    }
    let file_number = reference[reference.len() - 12..].to_owned();
    let rest = &bytes[SEGMENT_200_LEN..];
    let verdict = match message.as_str() {
        "931000" => {
            if rest.len() != SEGMENT_300_LEN || &rest[..6] != b"920000" {
                return Err(vec![finding("record_length", 2, None)]);
            }
            Verdict::Accepted
        }
        "920999" => {
            let records = &rest[SEGMENT_300_LEN..];
            if records.is_empty() || !records.len().is_multiple_of(EFACT.record_len) {
                return Err(vec![finding("record_length", 3, None)]);
            }
            let mut codes = Vec::new();
            for (i, r) in records.chunks(EFACT.record_len).enumerate() {
                if !matches!(&r[..2], b"95" | b"96") {
                    return Err(vec![finding("record_kind", i as u64 + 3, None)]);
                }
                // Records 95/96 carry a two-digit error zone after each data zone.
                for at in [2usize, 7, 21, 35, 49, 63, 73, 77] {
                    let code = String::from_utf8_lossy(&r[at..at + 2]).into_owned();
                    if code != "00" && !codes.contains(&code) {
                        codes.push(code);
                    }
                }
            }
            Verdict::Rejected(codes)
        }
        "920098" | "920099" | "920900" => {
            let details = &rest[ERROR_COUNT_LEN.min(rest.len())..];
            if rest.len() < ERROR_COUNT_LEN || !details.len().is_multiple_of(DETAIL_LEN) {
                return Err(vec![finding("record_length", 2, None)]);
            }
            let mut faulted = Vec::new();
            let mut problems = Vec::new();
            for (i, d) in details.chunks(DETAIL_LEN).enumerate() {
                let no = i as u64 + 3;
                let kind = String::from_utf8_lossy(&d[..2]).into_owned();
                let Some(layout) = EFACT.record(&kind) else {
                    problems.push(finding("record_kind", no, None));
                    continue;
                };
                for f in &DETAIL.fields[1..] {
                    if let Some(rule) = field_rule(f, &d[f.range()]) {
                        problems.push(finding(rule, no, Some(f.label)));
                    }
                }
                let record = RecordView {
                    layout,
                    bytes: &d[..EFACT.record_len],
                };
                let verdict = RecordView {
                    layout: &DETAIL,
                    bytes: d,
                };
                let codes = [
                    ("letter_1", "code_1"),
                    ("letter_2", "code_2"),
                    ("letter_3", "code_3"),
                ]
                .iter()
                .filter_map(|(l, c)| {
                    let code = verdict.raw(c);
                    (!code.trim().is_empty() && code != "000000")
                        .then(|| format!("{}{}", verdict.raw(l).trim(), code))
                })
                .collect();
                faulted.push(Faulted {
                    reference: record.text("reference").to_owned(),
                    kind,
                    codes,
                });
            }
            if !problems.is_empty() {
                return Err(problems);
            }
            Verdict::Errors(faulted)
        }
        _ => return Err(vec![finding("message", 1, Some("200"))]),
    };
    Ok(EfactAnswer {
        message,
        file_number,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detail_covers_its_positions_once() {
        DETAIL_LAYOUT.check().unwrap();
    }
}
