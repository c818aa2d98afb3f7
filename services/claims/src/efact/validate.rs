//! The strict validator of eFact messages (920000), as the mutuality's intake checks them:
//! an `io::Write` fed as the message is written, with the memory of one record and one
//! invoice's sums. Rules (claim-files.md §2.3–2.4, §5):
//!
//! - segment 200 then 300, then records of exactly 350 positions, ASCII, no separators;
//! - every zone of its type; signed amounts a sign and digits;
//! - record order 10, (20, 50…, 80)…, 90, 95…, 96; zone 2 numbers 10–90 from 1 by one;
//! - zone 99 (record check digits) recomputed on every record 10–90;
//! - an invoice's 80 repeats its 20's identity and sums its 50s (amount A, personal shares,
//!   nomenclature codes mod 97); 90 sums the 80s; each 95 its mutuality's; 96 everything, with
//!   the record counts; INSZ mod 97 on every 20 and 50.

use std::io::Write;

use crate::efact::layout::{EFACT, SEGMENTS};
use crate::efact::write::{codes_mod97, control};
use crate::records::{Finding, Layout, RecordView, field_rule};

const KEEP: usize = 200;

#[derive(Default, Clone)]
struct Open {
    insz: String,
    affiliation: String,
    number: String,
    a: i64,
    personal: i64,
    codes: u64,
    records: u64,
}

/// Checks a message as it is written.
pub struct EfactValidator {
    buf: Vec<u8>,
    stage: u8,
    record_no: u64,
    findings: Vec<Finding>,
    sending_number: Option<u64>,
    last: Option<String>,
    invoice: Option<Open>,
    total: i64,
    codes: u64,
    records: u64,
    oa: (i64, u64, u64),
    oa_sum: i64,
    closed: bool,
}

impl Default for EfactValidator {
    fn default() -> Self {
        Self::new()
    }
}

impl EfactValidator {
    /// A validator for one message.
    pub fn new() -> Self {
        EfactValidator {
            buf: Vec::with_capacity(350),
            stage: 0,
            record_no: 0,
            findings: Vec::new(),
            sending_number: None,
            last: None,
            invoice: None,
            total: 0,
            codes: 0,
            records: 0,
            oa: (0, 0, 0),
            oa_sum: 0,
            closed: false,
        }
    }

    /// Checks a whole message.
    pub fn check(bytes: &[u8]) -> Vec<Finding> {
        let mut v = EfactValidator::new();
        v.feed(bytes);
        v.finish()
    }

    fn flag(&mut self, rule: &'static str, field: Option<&'static str>) {
        if self.findings.len() < KEEP {
            self.findings.push(Finding {
                rule,
                record: self.record_no,
                field,
                retourcode: None,
            });
        }
    }

    fn want(&self) -> usize {
        match self.stage {
            0 => SEGMENTS[0].record_len,
            1 => SEGMENTS[1].record_len,
            _ => EFACT.record_len,
        }
    }

    /// Feeds bytes.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let take = (self.want() - self.buf.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.buf.len() == self.want() {
                let record = std::mem::take(&mut self.buf);
                self.unit(&record);
                self.buf = record;
                self.buf.clear();
            }
        }
    }

    /// The findings, once everything was fed.
    pub fn finish(mut self) -> Vec<Finding> {
        if !self.buf.is_empty() {
            self.record_no += 1;
            self.flag("record_length", None);
        }
        if !self.closed {
            self.record_no = 0;
            self.flag("record_order", None);
        }
        self.findings
    }

    fn fields(&mut self, layout: &Layout, kind: &str, bytes: &[u8]) -> bool {
        let Some(record) = layout.record(kind) else {
            self.flag("record_kind", None);
            return false;
        };
        for f in &record.fields {
            if let Some(rule) = field_rule(f, &bytes[f.range()]) {
                self.flag(rule, Some(f.label));
            }
            if f.kind == crate::records::Kind::An && SIGNED.contains(&f.key) {
                let raw = &bytes[f.range()];
                let ok = matches!(raw[0], b'+' | b'-') && raw[1..].iter().all(u8::is_ascii_digit);
                if !ok {
                    self.flag("signed_amount", Some(f.label));
                }
            }
        }
        true
    }

    fn unit(&mut self, bytes: &[u8]) {
        self.record_no += 1;
        match self.stage {
            0 => {
                self.stage = 1;
                self.fields(&SEGMENTS[0], "200", bytes);
                if &bytes[..6] != b"920000" {
                    self.flag("message", Some("200"));
                }
            }
            1 => {
                self.stage = 2;
                if self.fields(&SEGMENTS[1], "300", bytes) {
                    let v = RecordView {
                        layout: &SEGMENTS[1].records[0],
                        bytes,
                    };
                    self.sending_number = v.num("sending_number");
                }
            }
            _ => self.record(bytes),
        }
    }

    fn record(&mut self, bytes: &[u8]) {
        let kind = std::str::from_utf8(&bytes[..2]).unwrap_or("??").to_owned();
        if !self.fields(&EFACT, &kind, bytes) {
            return;
        }
        let v = RecordView {
            layout: EFACT.record(&kind).expect("checked above"),
            bytes,
        };
        let order_ok = matches!(
            (self.last.as_deref(), kind.as_str()),
            (None, "10")
                | (Some("10" | "80"), "20" | "90")
                | (Some("20" | "50"), "50" | "80")
                | (Some("90" | "95"), "95")
                | (Some("95"), "96")
        );
        if !order_ok || self.closed {
            self.flag("record_order", None);
        }
        if kind != "95" && kind != "96" {
            self.records += 1;
            if v.num("seq") != Some(self.records) {
                self.flag("sequence", Some("Z2"));
            }
            if v.num("control") != Some(u64::from(control(bytes))) {
                self.flag("control", Some("Z99"));
            }
        }
        match kind.as_str() {
            "10" if v.num("sending_number") != self.sending_number => {
                self.flag("sending_number", Some("Z7"));
            }
            "20" => self.open(v),
            "50" => self.service(v),
            "80" => self.close(v),
            "90" => self.sending(v),
            "95" | "96" => self.totals(v, kind == "96"),
            _ => {}
        }
        self.last = Some(kind);
    }

    fn insz(&mut self, v: RecordView<'_>) {
        let raw = v.raw("insz");
        let ok = raw.starts_with("00") && domain::identifiers::parse_insz(&raw[2..]).is_ok();
        if !ok {
            self.flag("insz", Some("Z8"));
        }
    }

    fn open(&mut self, v: RecordView<'_>) {
        self.insz(v);
        self.invoice = Some(Open {
            insz: v.raw("insz").to_owned(),
            affiliation: v.raw("affiliation").to_owned(),
            number: v.raw("invoice_number").to_owned(),
            records: 1,
            ..Open::default()
        });
    }

    /// Zones 20, 24 and 26: a prescription is its date, its prescriber (RIZIV/INAMI with its
    /// check digits) and a prescriber norm together, dated no later than the service; norm 0
    /// (none) carries neither.
    fn prescription(&mut self, v: RecordView<'_>) {
        let norm = v.num("prescriber_norm");
        let (date, prescriber) = (v.num("prescription_date"), v.num("prescriber"));
        match norm {
            Some(0) => {
                if date != Some(0) || prescriber != Some(0) {
                    self.flag("prescription_incomplete", Some("Z26"));
                }
                return;
            }
            // One prescriber, several; 3 (self-prescribed) and 4 (added code) carry no date.
            Some(1 | 9) => {
                if date == Some(0) {
                    self.flag("prescription_incomplete", Some("Z20"));
                }
            }
            Some(3 | 4) => {}
            _ => {
                self.flag("prescriber_norm", Some("Z26"));
                return;
            }
        }
        let raw = v.raw("prescriber");
        let valid = raw.starts_with('0') && domain::identifiers::parse_riziv(&raw[1..]).is_ok();
        if prescriber == Some(0) {
            self.flag("prescription_incomplete", Some("Z24"));
        } else if !valid {
            self.flag("prescriber", Some("Z24"));
        }
        if let (Some(p), Some(first)) = (v.date("prescription_date"), v.date("first_date"))
            && p > first
        {
            self.flag("prescription_after_service", Some("Z20"));
        }
    }

    fn service(&mut self, v: RecordView<'_>) {
        self.insz(v);
        self.prescription(v);
        let (a, personal, code) = (
            v.signed("reimbursement"),
            v.signed("personal_share"),
            v.num("code").unwrap_or(0),
        );
        match &mut self.invoice {
            Some(o) => {
                let same = o.insz == v.raw("insz") && o.affiliation == v.raw("affiliation");
                o.a += a;
                o.personal += personal;
                o.codes += code;
                o.records += 1;
                if !same {
                    self.flag("invoice_identity", Some("Z8"));
                }
            }
            None => self.flag("record_order", None),
        }
    }

    fn close(&mut self, v: RecordView<'_>) {
        let Some(o) = self.invoice.take() else {
            return;
        };
        if o.insz != v.raw("insz")
            || o.affiliation != v.raw("affiliation")
            || o.number != v.raw("invoice_number")
        {
            self.flag("invoice_identity", Some("Z24"));
        }
        if v.signed("account_a") != o.a {
            self.flag("invoice_total", Some("Z19"));
        }
        if v.signed("personal_shares") != o.personal {
            self.flag("invoice_personal", Some("Z27"));
        }
        if v.num("codes_mod97") != Some(codes_mod97(o.codes)) {
            self.flag("invoice_codes", Some("Z98"));
        }
        self.total += o.a;
        self.codes += o.codes;
        self.oa.0 += o.a;
        self.oa.1 += o.records + 1;
        self.oa.2 += o.codes;
    }

    fn sending(&mut self, v: RecordView<'_>) {
        if v.signed("total_a") != self.total {
            self.flag("sending_total", Some("Z19"));
        }
        if v.num("codes_mod97") != Some(codes_mod97(self.codes)) {
            self.flag("sending_codes", Some("Z98"));
        }
        if v.num("sending_number") != self.sending_number {
            self.flag("sending_number", Some("Z7"));
        }
    }

    fn totals(&mut self, v: RecordView<'_>, grand: bool) {
        let label = |key: &str| v.layout.field(key).map(|f| f.label);
        let amount = |sign: &str, key: &str| {
            let n = i64::try_from(v.num(key).unwrap_or(0)).unwrap_or(i64::MAX);
            if v.raw(sign) == "-" { -n } else { n }
        };
        let a = amount("sign_a", "amount_a");
        let total = amount("sign_total", "amount_total");
        let b = amount("sign_b", "amount_b");
        if total != a + b {
            self.flag("totals_sum", label("amount_total"));
        }
        let (want_a, want_records, want_codes) = if grand {
            (self.total, self.records, self.codes)
        } else {
            self.oa
        };
        if a != want_a || (grand && self.oa_sum != a) {
            self.flag(
                if grand {
                    "grand_total"
                } else {
                    "mutuality_total"
                },
                label("amount_a"),
            );
        }
        if v.num("records") != Some(want_records) {
            self.flag(
                if grand {
                    "grand_records"
                } else {
                    "mutuality_records"
                },
                label("records"),
            );
        }
        if v.num("codes_mod97") != Some(codes_mod97(want_codes)) {
            self.flag(
                if grand {
                    "grand_codes"
                } else {
                    "mutuality_codes"
                },
                label("codes_mod97"),
            );
        }
        if grand {
            self.closed = true;
            let mutuality = v.raw("mutuality");
            if !mutuality.ends_with("99") {
                self.flag("federation", label("mutuality"));
            }
        } else {
            self.oa_sum += a;
            self.oa = (0, 0, 0);
        }
    }
}

/// The signed amount zones.
const SIGNED: [&str; 12] = [
    "reimbursement",
    "units",
    "personal_share",
    "supplement",
    "agreement",
    "account_a",
    "account_b",
    "personal_shares",
    "supplements",
    "advance",
    "total_a",
    "total_b",
];

impl Write for EfactValidator {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.feed(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
