//! Fixed-width record layouts kept as data, for every claim file format (Vektis, eFact): a
//! field is a key, the standard's label, a position, a length and a type. Writers, parsers and
//! validators read these tables; a newer version of a standard is a new table
//! (`vektis/pm304_v32.rs`, `efact/layout.rs`), not new code.
//!
//! Types (claim-files.md §1.2, §2.3): `N` digits, right-aligned, zero-padded (unused: zeros);
//! `AN` printable ASCII, left-aligned, space-padded (unused: spaces); reserve: spaces only.

use std::fmt;

/// The type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Digits only, right-aligned, zero-padded.
    N,
    /// Printable ASCII, left-aligned, space-padded.
    An,
    /// Reserve: spaces.
    Reserve,
}

/// Whether a value is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Mandatory: an `N` field is not all zeros unless zero is a value, an `AN` not blank.
    Mandatory,
    /// Conditional or optional: the rules of the standard decide.
    Optional,
}

/// A field of a record.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The key the writer and the parser use (`detail_id`, `bsn`): the same key in every
    /// version of the standard that has the field.
    pub key: &'static str,
    /// The standard's own label (`0402`, `Z19`), named in validation findings.
    pub label: &'static str,
    /// The first position, counted from 1 as the standard does.
    pub start: usize,
    /// The length.
    pub len: usize,
    /// The type.
    pub kind: Kind,
    /// Required or not.
    pub need: Need,
    /// A date `CCYYMMDD` (an N field that must be a real date when it is not zeros).
    pub date: bool,
    /// A value zero may take even though the field is mandatory (an amount, a count).
    pub zero_allowed: bool,
}

impl Field {
    /// The byte range within the record.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start - 1..self.start - 1 + self.len
    }
}

/// Shorthands for the tables.
pub(crate) const fn n(key: &'static str, label: &'static str, start: usize, len: usize) -> Field {
    Field {
        key,
        label,
        start,
        len,
        kind: Kind::N,
        need: Need::Mandatory,
        date: false,
        zero_allowed: true,
    }
}

/// An optional N field.
pub(crate) const fn n_opt(
    key: &'static str,
    label: &'static str,
    start: usize,
    len: usize,
) -> Field {
    Field {
        need: Need::Optional,
        ..n(key, label, start, len)
    }
}

/// A mandatory N field that may not be zero (an identifier).
pub(crate) const fn n_id(
    key: &'static str,
    label: &'static str,
    start: usize,
    len: usize,
) -> Field {
    Field {
        zero_allowed: false,
        ..n(key, label, start, len)
    }
}

/// A mandatory date.
pub(crate) const fn date(key: &'static str, label: &'static str, start: usize) -> Field {
    Field {
        date: true,
        zero_allowed: false,
        ..n(key, label, start, 8)
    }
}

/// An optional date (zeros when absent).
pub(crate) const fn date_opt(key: &'static str, label: &'static str, start: usize) -> Field {
    Field {
        date: true,
        need: Need::Optional,
        ..n(key, label, start, 8)
    }
}

/// A mandatory AN field.
pub(crate) const fn an(key: &'static str, label: &'static str, start: usize, len: usize) -> Field {
    Field {
        kind: Kind::An,
        zero_allowed: false,
        ..n(key, label, start, len)
    }
}

/// An optional AN field.
pub(crate) const fn an_opt(
    key: &'static str,
    label: &'static str,
    start: usize,
    len: usize,
) -> Field {
    Field {
        need: Need::Optional,
        ..an(key, label, start, len)
    }
}

/// A reserve.
pub(crate) const fn reserve(label: &'static str, start: usize, len: usize) -> Field {
    Field {
        kind: Kind::Reserve,
        need: Need::Optional,
        ..n("reserve", label, start, len)
    }
}

/// The layout of one record kind.
#[derive(Debug)]
pub struct RecordLayout {
    /// The kind (`01`, `02`, …), the first two positions.
    pub kind: &'static str,
    /// What it is.
    pub name: &'static str,
    /// Its fields in order, covering every position once.
    pub fields: Vec<Field>,
}

impl RecordLayout {
    /// The field with `key`.
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key == key)
    }
}

/// A standard: its records and their length.
#[derive(Debug)]
pub struct Layout {
    /// `PM304`, `PM305`.
    pub standard: &'static str,
    /// The value of the header's message code (`107`).
    pub message_code: u32,
    /// Version and subversion (`3`, `2`).
    pub version: (u32, u32),
    /// Every record's length, without its CR LF.
    pub record_len: usize,
    /// The record kinds.
    pub records: Vec<RecordLayout>,
}

impl Layout {
    /// The layout of a record kind.
    pub fn record(&self, kind: &str) -> Option<&RecordLayout> {
        self.records.iter().find(|r| r.kind == kind)
    }

    /// Every record covers positions 1..=record_len exactly once, in order (checked by a test
    /// for every table, so a typo in a table is found before a file is).
    pub fn check(&self) -> Result<(), String> {
        for r in &self.records {
            let mut next = 1;
            for f in &r.fields {
                if f.start != next {
                    return Err(format!(
                        "{} record {} field {} starts at {}, expected {next}",
                        self.standard, r.kind, f.label, f.start
                    ));
                }
                next = f.start + f.len;
            }
            if next != self.record_len + 1 {
                return Err(format!(
                    "{} record {} ends at {}, expected {}",
                    self.standard,
                    r.kind,
                    next - 1,
                    self.record_len
                ));
            }
        }
        Ok(())
    }
}

/// A value that does not fit its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    /// The record kind.
    pub record: &'static str,
    /// The field's label.
    pub label: &'static str,
    /// What is wrong (never the value).
    pub reason: &'static str,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record {} field {}: {}",
            self.record, self.label, self.reason
        )
    }
}

impl std::error::Error for EncodeError {}

/// One record being written: starts as the unused value of every field (zeros, spaces).
pub struct RecordBuf<'l> {
    layout: &'l RecordLayout,
    bytes: Vec<u8>,
}

impl<'l> RecordBuf<'l> {
    /// An empty record of `layout`, its kind set.
    pub fn new(layout: &'l RecordLayout, len: usize) -> Self {
        let mut bytes = vec![b' '; len];
        for f in &layout.fields {
            if f.kind == Kind::N {
                bytes[f.range()].fill(b'0');
            }
        }
        // A record that starts with its kind (Vektis 01–99, eFact 10–96); eFact's segments
        // 200 and 300 start with data the writer sets.
        if layout.fields.first().is_some_and(|f| f.key == "kind") {
            bytes[0..layout.kind.len()].copy_from_slice(layout.kind.as_bytes());
        }
        RecordBuf { layout, bytes }
    }

    fn field(&self, key: &str) -> &'l Field {
        let layout: &'l RecordLayout = self.layout;
        layout
            .field(key)
            .unwrap_or_else(|| panic!("record {} has no field {key}", layout.kind))
    }

    fn error(&self, f: &Field, reason: &'static str) -> EncodeError {
        EncodeError {
            record: self.layout.kind,
            label: f.label,
            reason,
        }
    }

    /// Sets an N field to a number.
    pub fn num(&mut self, key: &str, value: u64) -> Result<&mut Self, EncodeError> {
        let f = self.field(key);
        let text = value.to_string();
        if text.len() > f.len {
            return Err(self.error(f, "number too long for the field"));
        }
        let r = f.range();
        self.bytes[r.clone()].fill(b'0');
        self.bytes[r.end - text.len()..r.end].copy_from_slice(text.as_bytes());
        Ok(self)
    }

    /// Sets an N field to a string of digits (leading zeros kept: a BSN, an AGB code).
    pub fn digits(&mut self, key: &str, value: &str) -> Result<&mut Self, EncodeError> {
        let f = self.field(key);
        if !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.error(f, "not digits"));
        }
        if value.len() > f.len {
            return Err(self.error(f, "too long for the field"));
        }
        let r = f.range();
        self.bytes[r.clone()].fill(b'0');
        self.bytes[r.end - value.len()..r.end].copy_from_slice(value.as_bytes());
        Ok(self)
    }

    /// Sets a date field (`CCYYMMDD`).
    pub fn date(&mut self, key: &str, value: chrono::NaiveDate) -> Result<&mut Self, EncodeError> {
        let text = value.format("%Y%m%d").to_string();
        self.digits(key, &text)
    }

    /// Sets an AN field to printable ASCII that fits (an identifier, a code: never cut).
    pub fn text(&mut self, key: &str, value: &str) -> Result<&mut Self, EncodeError> {
        let f = self.field(key);
        if !value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return Err(self.error(f, "not printable ASCII"));
        }
        if value.len() > f.len {
            return Err(self.error(f, "too long for the field"));
        }
        let r = f.range();
        self.bytes[r.clone()].fill(b' ');
        self.bytes[r.start..r.start + value.len()].copy_from_slice(value.as_bytes());
        Ok(self)
    }

    /// Sets a signed amount zone (eFact): `+` or `-`, then the absolute value zero-padded.
    pub fn signed(&mut self, key: &str, value: i64) -> Result<&mut Self, EncodeError> {
        let f = self.field(key);
        let digits = value.unsigned_abs().to_string();
        if digits.len() + 1 > f.len {
            return Err(self.error(f, "number too long for the field"));
        }
        let text = format!(
            "{}{digits:0>width$}",
            if value < 0 { '-' } else { '+' },
            width = f.len - 1
        );
        self.text(key, &text)
    }

    /// Overwrites positions `start..start + text.len()` (1-based), for zones computed from
    /// the record itself (check digits).
    pub fn put(&mut self, start: usize, text: &str) {
        self.bytes[start - 1..start - 1 + text.len()].copy_from_slice(text.as_bytes());
    }

    /// Sets an AN field to a name: folded to ASCII (`é` → `e`), cut to the field's length.
    pub fn name(&mut self, key: &str, value: &str) -> Result<&mut Self, EncodeError> {
        let f = self.field(key);
        let folded = fold(value, f.len);
        self.text(key, &folded)
    }

    /// The finished record, without its line end.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// `value` as printable ASCII (diacritics dropped, anything else a space), at most `len`
/// characters, trailing spaces removed.
pub fn fold(value: &str, len: usize) -> String {
    let ascii = deunicode::deunicode(value);
    let mut out: String = ascii
        .chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { ' ' })
        .take(len)
        .collect();
    out.truncate(out.trim_end().len());
    out
}

/// A record being read: its fields by key, as text.
#[derive(Clone, Copy)]
pub struct RecordView<'a> {
    /// The layout it was read with.
    pub layout: &'a RecordLayout,
    /// Its bytes, without the line end.
    pub bytes: &'a [u8],
}

impl<'a> RecordView<'a> {
    /// The raw text of a field (ASCII checked by the validator; anything else reads as empty).
    pub fn raw(&self, key: &str) -> &'a str {
        let Some(f) = self.layout.field(key) else {
            return "";
        };
        self.bytes
            .get(f.range())
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    /// An AN field without its padding.
    pub fn text(&self, key: &str) -> &'a str {
        self.raw(key).trim_end()
    }

    /// An N field as a number (`None` if not digits).
    pub fn num(&self, key: &str) -> Option<u64> {
        let raw = self.raw(key);
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        raw.parse().ok()
    }

    /// The last `len` characters of an N field: a number written into a wider zone (an AGB
    /// code in 8 of 12, an INSZ in 11 of 13).
    pub fn last_digits(&self, key: &str, len: usize) -> String {
        let raw = self.raw(key);
        raw[raw.len().saturating_sub(len)..].to_owned()
    }

    /// A signed amount zone (eFact: `+` or `-`, then digits); 0 when it does not read.
    pub fn signed(&self, key: &str) -> i64 {
        let raw = self.raw(key);
        let n: i64 = raw.get(1..).and_then(|d| d.parse().ok()).unwrap_or(0);
        if raw.starts_with('-') { -n } else { n }
    }

    /// An N field holding a date (`None` for zeros or no date).
    pub fn date(&self, key: &str) -> Option<chrono::NaiveDate> {
        chrono::NaiveDate::parse_from_str(self.raw(key), "%Y%m%d").ok()
    }
}

/// One thing wrong with a file. Never carries a value from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Finding {
    /// The rule (`record_length`, `line_end`, `bsn`, `closing_total`, …).
    pub rule: &'static str,
    /// The record, counted from 1 (0: the file as a whole).
    pub record: u64,
    /// The field's label (`0203`), when one field is wrong.
    pub field: Option<&'static str>,
    /// The Vektis retourcode, where one is known.
    pub retourcode: Option<&'static str>,
}

/// The rule a field's raw bytes break, if any: `numeric`, `date`, `mandatory`, `ascii` or
/// `reserve`.
pub fn field_rule(f: &Field, raw: &[u8]) -> Option<&'static str> {
    let zeros = raw.iter().all(|&b| b == b'0');
    match f.kind {
        Kind::N => {
            if !raw.iter().all(u8::is_ascii_digit) {
                Some("numeric")
            } else if f.date && !zeros {
                let text = std::str::from_utf8(raw).unwrap_or("");
                chrono::NaiveDate::parse_from_str(text, "%Y%m%d")
                    .is_err()
                    .then_some("date")
            } else {
                (zeros && f.need == Need::Mandatory && !f.zero_allowed).then_some("mandatory")
            }
        }
        Kind::An => {
            if !raw.iter().all(|b| (b' '..=b'~').contains(b)) {
                Some("ascii")
            } else {
                (f.need == Need::Mandatory && raw.iter().all(|&b| b == b' ')).then_some("mandatory")
            }
        }
        Kind::Reserve => (!raw.iter().all(|&b| b == b' ')).then_some("reserve"),
    }
}
