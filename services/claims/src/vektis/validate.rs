//! The strict validator of PM304 (and, with its layout, PM305) files: what an insurer's
//! intake checks, run before a file is stored and on every return file read. It is an
//! `io::Write`: bytes go in as they are written (a file of any size is checked with the memory
//! of one record and one 8-byte fingerprint per line reference), findings come out at
//! [`Validator::finish`].
//!
//! Each finding names its rule, the record (1-based line), the field's label and, where Vektis
//! has one, the retourcode an insurer would answer with (claim-files.md §1.4). The codes of
//! the closing-record checks (0150–0156, one per figure in field order) are our reading of the
//! range the reference gives for "sluitrecord totals/counts".

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;

use chrono::NaiveDate;

pub use crate::records::Finding;
use crate::records::{Field, Layout, RecordView};

/// At most this many findings are kept; the count goes on.
const KEEP: usize = 200;

#[derive(Default)]
struct Parent {
    bsn: String,
    uzovi: String,
    number: String,
}

/// Checks a file as it is written.
pub struct Validator<'l> {
    layout: &'l Layout,
    line: Vec<u8>,
    len: usize,
    prev_cr: bool,
    stray_cr: bool,
    record_no: u64,
    findings: Vec<Finding>,
    found: u64,
    closed: bool,
    invoice_date: Option<NaiveDate>,
    period: Option<(NaiveDate, NaiveDate)>,
    parent: Option<Parent>,
    last_id: u64,
    comment_line: u64,
    insured: u64,
    debtors: u64,
    services: u64,
    comments: u64,
    total: i128,
    granted: i128,
    references: HashSet<u64>,
    hasher: std::collections::hash_map::RandomState,
}

impl<'l> Validator<'l> {
    /// A validator for files of `layout`.
    pub fn new(layout: &'l Layout) -> Self {
        Validator {
            layout,
            line: Vec::with_capacity(layout.record_len + 2),
            len: 0,
            prev_cr: false,
            stray_cr: false,
            record_no: 0,
            findings: Vec::new(),
            found: 0,
            closed: false,
            invoice_date: None,
            period: None,
            parent: None,
            last_id: 0,
            comment_line: 0,
            insured: 0,
            debtors: 0,
            services: 0,
            comments: 0,
            total: 0,
            granted: 0,
            references: HashSet::new(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// Checks a whole file.
    pub fn check(layout: &'l Layout, bytes: &[u8]) -> Vec<Finding> {
        let mut v = Validator::new(layout);
        v.feed(bytes);
        v.finish()
    }

    /// Findings so far (more may have been counted than kept).
    pub fn found(&self) -> u64 {
        self.found
    }

    fn flag(
        &mut self,
        rule: &'static str,
        field: Option<&'static str>,
        retourcode: Option<&'static str>,
    ) {
        self.found += 1;
        if self.findings.len() < KEEP {
            self.findings.push(Finding {
                rule,
                record: self.record_no,
                field,
                retourcode,
            });
        }
    }

    /// Feeds bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.end_line(true);
                continue;
            }
            if self.prev_cr {
                // A CR not followed by LF.
                self.stray_cr = true;
            }
            self.prev_cr = b == b'\r';
            if self.prev_cr {
                continue;
            }
            self.len += 1;
            if self.line.len() < self.layout.record_len {
                self.line.push(b);
            }
        }
    }

    fn end_line(&mut self, newline: bool) {
        self.record_no += 1;
        let mut line = std::mem::take(&mut self.line);
        let (len, cr) = (self.len, self.prev_cr);
        if !newline || !cr || self.stray_cr || len == 0 {
            // A record without CR LF, or a CR LF without a record.
            self.flag("line_end", None, Some("8095"));
        }
        if len > 0 {
            if len != self.layout.record_len {
                self.flag("record_length", None, Some("0804"));
                // Read on as if cut or padded to length, so one short record is one finding
                // and the counts after it still mean something.
                line.resize(self.layout.record_len, b' ');
            }
            if line.len() >= 2 {
                self.record(&line);
            }
        }
        (self.len, self.prev_cr, self.stray_cr) = (0, false, false);
        line.clear();
        self.line = line;
    }

    /// The findings, once everything was fed.
    pub fn finish(mut self) -> Vec<Finding> {
        if self.len > 0 || self.prev_cr {
            self.end_line(false);
        }
        if self.record_no == 0 || !self.closed {
            self.record_no = 0;
            self.flag("record_order", None, Some("8026"));
        }
        self.findings
    }

    fn fields(&mut self, view: RecordView<'_>) {
        for f in &view.layout.fields {
            let raw = &view.bytes[f.range()];
            self.field(f, raw);
        }
    }

    fn field(&mut self, f: &Field, raw: &[u8]) {
        if let Some(rule) = crate::records::field_rule(f, raw) {
            self.flag(rule, Some(f.label), None);
        }
    }

    fn record(&mut self, bytes: &[u8]) {
        let kind = std::str::from_utf8(&bytes[..2]).unwrap_or("");
        let layout: &'l Layout = self.layout;
        let Some(record) = layout.record(kind) else {
            if kind == "03" {
                // A debtor record may not go to an insurer.
                self.flag("debtor_record", None, Some("8075"));
                self.debtors += 1;
                self.detail_id_of(bytes);
            } else {
                self.flag("record_kind", None, Some("0002"));
            }
            return;
        };
        let view = RecordView {
            layout: record,
            bytes,
        };
        self.fields(view);
        if self.closed || (self.record_no == 1) != (kind == "01") {
            self.flag("record_order", None, Some("8026"));
        }
        match kind {
            "01" => self.header(view),
            "02" => self.insured(view),
            "04" => self.service(view),
            "98" => self.comment(view),
            _ => self.closing(view),
        }
    }

    fn label(view: RecordView<'_>, key: &str) -> Option<&'static str> {
        view.layout.field(key).map(|f| f.label)
    }

    fn header(&mut self, v: RecordView<'_>) {
        if v.num("message_code") != Some(u64::from(self.layout.message_code)) {
            self.flag("message_code", Self::label(v, "message_code"), Some("0010"));
        }
        if v.num("version") != Some(u64::from(self.layout.version.0))
            || v.num("subversion") != Some(u64::from(self.layout.version.1))
        {
            self.flag("version", Self::label(v, "version"), Some("0011"));
        }
        if !matches!(v.raw("message_kind"), "P" | "T") {
            self.flag("message_kind", Self::label(v, "message_kind"), None);
        }
        if v.raw("currency") != "EUR" {
            self.flag("currency", Self::label(v, "currency"), None);
        }
        let payee = match v.num("payee") {
            Some(1) => Some("service_bureau"),
            Some(2) => Some("provider_agb"),
            Some(3) => Some("practice_agb"),
            Some(4) => Some("institution_agb"),
            _ => None,
        };
        if payee.is_none_or(|key| v.num(key).unwrap_or(0) == 0) {
            self.flag("payee", Self::label(v, "payee"), None);
        }
        let (start, end) = (v.date("period_start"), v.date("period_end"));
        self.invoice_date = v.date("invoice_date");
        if let (Some(s), Some(e)) = (start, end) {
            self.period = Some((s, e));
            if s > e {
                self.flag("period", Self::label(v, "period_end"), Some("0020"));
            }
            if self.invoice_date.is_some_and(|d| e > d) {
                self.flag(
                    "period_after_invoice",
                    Self::label(v, "period_end"),
                    Some("0021"),
                );
            }
        }
    }

    fn detail_id_of(&mut self, bytes: &[u8]) {
        let id = std::str::from_utf8(&bytes[2..14])
            .ok()
            .and_then(|t| t.parse::<u64>().ok());
        if id != Some(self.last_id + 1) {
            self.flag("detail_id", None, Some("0801"));
        }
        self.last_id = id.unwrap_or(self.last_id + 1);
        self.comment_line = 0;
    }

    fn insured(&mut self, v: RecordView<'_>) {
        self.detail_id_of(v.bytes);
        self.insured += 1;
        let bsn = v.raw("bsn");
        if domain::identifiers::parse_bsn(bsn).is_err() {
            self.flag("bsn", Self::label(v, "bsn"), Some("0435"));
        }
        if !matches!(v.raw("sex"), "1" | "2") {
            self.flag("sex", Self::label(v, "sex"), None);
        }
        self.parent = Some(Parent {
            bsn: bsn.to_owned(),
            uzovi: v.raw("uzovi").to_owned(),
            number: v.raw("insured_number").to_owned(),
        });
    }

    fn service(&mut self, v: RecordView<'_>) {
        self.detail_id_of(v.bytes);
        self.services += 1;
        match &self.parent {
            None => self.flag("record_order", None, Some("8026")),
            Some(p) => {
                let (bsn, uzovi, number) = (
                    p.bsn != v.raw("bsn"),
                    p.uzovi != v.raw("uzovi"),
                    p.number != v.raw("insured_number"),
                );
                for (differs, key) in [(bsn, "bsn"), (uzovi, "uzovi"), (number, "insured_number")] {
                    if differs {
                        self.flag("insured_mismatch", Self::label(v, key), None);
                    }
                }
            }
        }
        if v.num("code_list") != Some(12) {
            self.flag("code_list", Self::label(v, "code_list"), None);
        }
        let (dc1, dc2) = (v.raw("debit_credit_1"), v.raw("debit_credit_2"));
        for (dc, key) in [(dc1, "debit_credit_1"), (dc2, "debit_credit_2")] {
            if !matches!(dc, "D" | "C") {
                self.flag("debit_credit", Self::label(v, key), Some("0631"));
            }
        }
        if dc1 != dc2 {
            self.flag(
                "debit_credit_differ",
                Self::label(v, "debit_credit_2"),
                Some("8064"),
            );
        }
        let (tariff, quantity, calculated) =
            (v.num("tariff"), v.num("quantity"), v.num("calculated"));
        if let (Some(t), Some(q), Some(c)) = (tariff, quantity, calculated)
            && t.checked_mul(q) != Some(c)
        {
            self.flag("calculated", Self::label(v, "calculated"), None);
        }
        if dc2 == "C" && v.text("previous_reference").is_empty() {
            self.flag(
                "credit_reference",
                Self::label(v, "previous_reference"),
                None,
            );
        }
        let mut h = self.hasher.build_hasher();
        h.write(v.text("reference").as_bytes());
        if !self.references.insert(h.finish()) {
            self.flag(
                "reference_unique",
                Self::label(v, "reference"),
                Some("8021"),
            );
        }
        // A referral is its date and its referrer together (both zeros: direct access), and
        // comes before the service.
        let (referred, referrer) = (v.num("referral_date"), v.num("referrer_agb"));
        if (referred == Some(0)) != (referrer == Some(0)) {
            let empty = if referred == Some(0) {
                "referral_date"
            } else {
                "referrer_agb"
            };
            self.flag("referral_incomplete", Self::label(v, empty), None);
        }
        if let (Some(r), Some(d)) = (v.date("referral_date"), v.date("service_date"))
            && r > d
        {
            self.flag(
                "referral_after_service",
                Self::label(v, "referral_date"),
                None,
            );
        }
        if let Some(d) = v.date("service_date") {
            if self.invoice_date.is_some_and(|i| d > i) {
                self.flag(
                    "service_after_invoice",
                    Self::label(v, "service_date"),
                    Some("8176"),
                );
            }
            if self.period.is_some_and(|(s, e)| d < s || d > e) {
                self.flag(
                    "service_outside_period",
                    Self::label(v, "service_date"),
                    None,
                );
            }
        }
        let sign = |dc: &str| if dc == "C" { -1 } else { 1 };
        self.total += sign(dc2) * i128::from(v.num("amount").unwrap_or(0));
        if v.layout.field("granted").is_some() {
            self.granted +=
                sign(v.raw("debit_credit_4")) * i128::from(v.num("granted").unwrap_or(0));
        }
    }

    fn comment(&mut self, v: RecordView<'_>) {
        self.comments += 1;
        if v.num("detail_id") != Some(self.last_id) || self.last_id == 0 {
            self.flag("comment_id", Self::label(v, "detail_id"), Some("0801"));
        }
        self.comment_line += 1;
        if v.num("line_no") != Some(self.comment_line) {
            self.flag("comment_line", Self::label(v, "line_no"), None);
        }
    }

    fn closing(&mut self, v: RecordView<'_>) {
        self.closed = true;
        let detail = self.insured + self.debtors + self.services + self.comments;
        let checks: [(&str, &'static str, &'static str, u64); 5] = [
            ("insured_count", "closing_insured", "0150", self.insured),
            ("debtor_count", "closing_debtors", "0151", self.debtors),
            ("service_count", "closing_services", "0152", self.services),
            ("comment_count", "closing_comments", "0153", self.comments),
            ("detail_count", "closing_details", "0154", detail),
        ];
        for (key, rule, code, actual) in checks {
            if v.num(key) != Some(actual) {
                self.flag(rule, Self::label(v, key), Some(code));
            }
        }
        if v.num("total").map(i128::from) != Some(self.total.abs()) {
            self.flag("closing_total", Self::label(v, "total"), Some("0155"));
        }
        let dc = if self.total < 0 { "C" } else { "D" };
        if v.raw("debit_credit") != dc {
            self.flag(
                "closing_debit_credit",
                Self::label(v, "debit_credit"),
                Some("0156"),
            );
        }
        if v.layout.field("granted_total").is_some() {
            let dc = if self.granted < 0 { "C" } else { "D" };
            if v.num("granted_total").map(i128::from) != Some(self.granted.abs())
                || v.raw("granted_debit_credit") != dc
            {
                self.flag("granted_total", Self::label(v, "granted_total"), None);
            }
        }
    }
}

impl Write for Validator<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.feed(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a rule means, for people (no values).
pub fn describe(rule: &str) -> &'static str {
    match rule {
        "record_length" => "a record is not exactly the standard's length",
        "line_end" => "a record is not followed by CR LF, or a CR LF has no record",
        "record_kind" => "a record of an unknown kind",
        "debtor_record" => "a debtor record (03) may not be sent to an insurer",
        "record_order" => "records out of order: 01 first, each 04 after its 02, 99 last",
        "numeric" => "a numeric field holds something other than digits",
        "date" => "a date field holds no real date",
        "mandatory" => "a mandatory field is empty",
        "ascii" => "a text field holds a character outside printable ASCII",
        "reserve" => "a reserve field is not blank",
        "message_code" => "the header names another message",
        "version" => "the header names another version",
        "message_kind" => "the header's message kind is neither P nor T",
        "currency" => "the currency is not EUR",
        "payee" => "the payee code is unknown or names an empty code",
        "period" => "the period ends before it starts",
        "period_after_invoice" => "the period ends after the invoice date",
        "detail_id" => "detail record ids do not rise by one",
        "bsn" => "the BSN fails the eleven-proof",
        "sex" => "the sex code is neither 1 nor 2",
        "insured_mismatch" => "a service names another insured person than its 02 record",
        "code_list" => "the code list is not 012 (paramedical care)",
        "debit_credit" => "a debit/credit indicator is neither D nor C",
        "debit_credit_differ" => "the two debit/credit indicators of a record differ",
        "calculated" => "the calculated amount is not tariff times quantity",
        "credit_reference" => "a credit line does not name the line it corrects",
        "referral_incomplete" => {
            "a referral names a date without a referrer, or a referrer without a date"
        }
        "referral_after_service" => "a referral is dated after the service it covers",
        "reference_unique" => "a line reference occurs twice",
        "service_after_invoice" => "a service date is after the invoice date",
        "service_outside_period" => "a service date is outside the declared period",
        "comment_id" => "a comment does not follow the record it annotates",
        "comment_line" => "comment line numbers do not rise by one",
        "closing_insured" | "closing_debtors" | "closing_services" | "closing_comments"
        | "closing_details" => "a count of the closing record does not match the records",
        "closing_total" | "closing_debit_credit" => {
            "the closing total does not match the lines' amounts"
        }
        "granted_total" => "the granted total does not match the lines' granted amounts",
        _ => "the file breaks a rule of the standard",
    }
}
