//! MyCareNet eFact message 920000 (third-party payer invoicing to a mutuality), as data:
//! segments 200 (67 positions) and 300 (160), then records 10, 20, 50, 80, 90, 95 and 96 of 350
//! positions each, with no separators (claim-files.md §2.2–2.4). Zones are labelled as INAMI
//! numbers them (`Z19`; `200`…`511` in the segments); zones the reference leaves unnamed are
//! `filler`, numeric, zeros. Signed amounts are AN zones of a sign and digits.

use std::sync::LazyLock;

use crate::records::{Field, Layout, RecordLayout, an, an_opt, date, date_opt, n, n_id, n_opt};

/// A numeric zone the writer leaves at zeros.
const fn filler(label: &'static str, start: usize, len: usize) -> Field {
    n_opt("filler", label, start, len)
}

const SEGMENT_200: [Field; 13] = [
    n_id("message", "200", 1, 6),
    n_opt("error_200", "2001", 7, 2),
    n_id("format_version", "201", 9, 2),
    n_opt("error_201", "2011", 11, 2),
    n_id("environment", "202", 13, 2),
    n_opt("error_202", "2021", 15, 2),
    n_opt("status", "203", 17, 2),
    n_opt("error_203", "2031", 19, 2),
    n_id("provider_reference", "204", 21, 14),
    n_opt("error_204", "2041", 35, 2),
    n_opt("oa_reference", "205", 37, 14),
    n_opt("error_205", "2051", 51, 2),
    filler("206", 53, 15),
];

const SEGMENT_300: [Field; 21] = [
    n_id("period", "300", 1, 6),
    n_opt("error_300", "3001", 7, 2),
    n_id("sending_number", "301", 9, 3),
    n_opt("error_301", "3011", 12, 2),
    date("created", "302", 14),
    n_opt("error_302", "3021", 22, 2),
    an("invoice_reference", "303", 24, 13),
    n_opt("error_303", "3031", 37, 2),
    n_id("instructions_version", "304", 39, 7),
    n_opt("error_304", "3041", 46, 2),
    an("contact_name", "305", 48, 45),
    n_opt("error_305", "3051", 93, 2),
    an_opt("contact_first_name", "306", 95, 24),
    n_opt("error_306", "3061", 119, 2),
    n_opt("contact_phone", "307", 121, 10),
    n_opt("error_307", "3071", 131, 2),
    n_id("invoice_type", "308", 133, 2),
    n_opt("error_308", "3081", 135, 2),
    n_id("invoicing_type", "309", 137, 2),
    n_opt("error_309", "3091", 139, 2),
    filler("310", 141, 20),
];

/// Zones 1–14 of records 20 and 80: the patient invoice's identity (80 repeats its 20's).
const INVOICE_IDENTITY: [Field; 13] = [
    n_id("kind", "Z1", 1, 2),
    n_id("seq", "Z2", 3, 6),
    n_opt("authorisation", "Z3", 9, 1),
    n_opt("admission_time", "Z4", 10, 7),
    date_opt("admission_date", "Z5", 17),
    date_opt("discharge_date", "Z6", 25),
    n_id("affiliation", "Z7", 33, 3),
    n_id("insz", "Z8", 36, 13),
    n_id("sex", "Z9", 49, 1),
    n_id("invoice_type", "Z10", 50, 1),
    n("invoicing_type", "Z11", 51, 1),
    filler("Z12", 52, 4),
    n_id("provider", "Z14", 56, 12),
];

const RECORD_10: [Field; 28] = [
    n_id("kind", "Z1", 1, 2),
    n_id("seq", "Z2", 3, 6),
    n_id("accounts", "Z3", 9, 1),
    n_id("instructions_version", "Z4", 10, 7),
    filler("Z5", 17, 12),
    filler("Z6", 29, 4),
    n_id("sending_number", "Z7", 33, 3),
    filler("Z8", 36, 12),
    filler("Z8b", 48, 1),
    n_opt("no_paper", "Z9", 49, 1),
    n_opt("settlement_file", "Z10", 50, 1),
    filler("Z11", 51, 2),
    n_id("content", "Z13", 53, 3),
    n_id("provider", "Z14", 56, 12),
    n_opt("accreditation", "Z15", 68, 12),
    filler("Z16", 80, 28),
    n_id("year", "Z22", 108, 5),
    n_id("month", "Z23", 113, 2),
    filler("Z24", 115, 5),
    date("created", "Z25", 120),
    n_id("enterprise_number", "Z27", 128, 10),
    an("reference", "Z28", 138, 25),
    filler("Z29", 163, 4),
    an("bic", "Z31", 167, 11),
    filler("Z35", 178, 1),
    an("iban", "Z36", 179, 34),
    filler("Z42", 213, 136),
    n_id("control", "Z99", 349, 2),
];

const RECORD_20: [Field; 25] = [
    filler("Z15", 68, 12),
    n_opt("prescription_waiver", "Z16", 80, 1),
    n("treatment_cause", "Z17", 81, 4),
    n_id("destination", "Z18", 85, 3),
    filler("Z19", 88, 12),
    date_opt("agreement_date", "Z20", 100),
    filler("Z22", 108, 7),
    n_id("invoice_number", "Z24", 115, 12),
    filler("Z26", 127, 1),
    n_opt("insurability", "Z27", 128, 10),
    an("reference", "Z28", 138, 25),
    n_opt("previous_invoice", "Z29", 163, 12),
    n_opt("id_flag", "Z32", 175, 1),
    filler("Z33", 176, 1),
    n_opt("previous_sending", "Z34", 177, 3),
    n_opt("previous_mutuality", "Z37", 180, 3),
    filler("Z38", 183, 24),
    n_opt("previous_period", "Z41", 207, 6),
    an_opt("network_reference", "Z42", 213, 48),
    filler("Z46", 261, 1),
    date("invoice_date", "Z47", 262),
    filler("Z48", 270, 35),
    n_opt("insurability_dates", "Z53", 305, 24),
    n_opt("maf_counters", "Z56", 329, 20),
    n_id("control", "Z99", 349, 2),
];

const RECORD_50: [Field; 34] = [
    n_id("kind", "Z1", 1, 2),
    n_id("seq", "Z2", 3, 6),
    n("norm", "Z3", 9, 1),
    n_id("code", "Z4", 10, 7),
    date("first_date", "Z5", 17),
    date("last_date", "Z6", 25),
    n_id("affiliation", "Z7", 33, 3),
    n_id("insz", "Z8", 36, 13),
    n_id("sex", "Z9", 49, 1),
    filler("Z10", 50, 2),
    n("night", "Z12", 52, 1),
    n_id("service_code", "Z13", 53, 3),
    n_opt("place", "Z14", 56, 12),
    n_id("provider", "Z15", 68, 12),
    n("provider_norm", "Z16", 80, 1),
    n_opt("related", "Z17", 81, 7),
    an("reimbursement", "Z19", 88, 12),
    date_opt("prescription_date", "Z20", 100),
    an("units", "Z22", 108, 5),
    filler("Z23", 113, 2),
    n_opt("prescriber", "Z24", 115, 12),
    n_opt("prescriber_norm", "Z26", 127, 1),
    an("personal_share", "Z27", 128, 10),
    an("reference", "Z28", 138, 25),
    filler("Z29", 163, 2),
    an("supplement", "Z30", 165, 10),
    n_opt("exceptions", "Z32", 175, 4),
    n_opt("time", "Z36", 179, 4),
    filler("Z38", 183, 79),
    an("agreement", "Z47", 262, 8),
    filler("Z48", 270, 1),
    n_opt("assistant", "Z49", 271, 12),
    filler("Z50", 283, 66),
    n_id("control", "Z99", 349, 2),
];

const RECORD_80: [Field; 16] = [
    an("account_b", "Z15", 68, 12),
    filler("Z16", 80, 8),
    an("account_a", "Z19", 88, 12),
    date("invoice_date", "Z20", 100),
    filler("Z22", 108, 7),
    n_id("invoice_number", "Z24", 115, 12),
    filler("Z26", 127, 1),
    an("personal_shares", "Z27", 128, 10),
    an("reference", "Z28", 138, 25),
    filler("Z29", 163, 2),
    an("supplements", "Z30", 165, 10),
    filler("Z32", 175, 8),
    an("advance", "Z38", 183, 12),
    filler("Z40", 195, 152),
    n_id("codes_mod97", "Z98", 347, 2),
    n_id("control", "Z99", 349, 2),
];

const RECORD_90: [Field; 21] = [
    n_id("kind", "Z1", 1, 2),
    n_id("seq", "Z2", 3, 6),
    filler("Z3", 9, 24),
    n_id("sending_number", "Z7", 33, 3),
    filler("Z8", 36, 20),
    n_id("provider", "Z14", 56, 12),
    an("total_b", "Z15", 68, 12),
    filler("Z16", 80, 8),
    an("total_a", "Z19", 88, 12),
    filler("Z20", 100, 8),
    n_id("year", "Z22", 108, 5),
    n_id("month", "Z23", 113, 2),
    filler("Z24", 115, 13),
    n_id("enterprise_number", "Z27", 128, 10),
    an("reference", "Z28", 138, 25),
    filler("Z29", 163, 4),
    an("bic", "Z31", 167, 11),
    filler("Z35", 178, 1),
    an("iban", "Z36", 179, 34),
    filler("Z42", 213, 134),
    n_id("codes_mod97", "Z98", 347, 2),
];

/// Record 90's control zone (after Z98).
const RECORD_90_CONTROL: Field = n_id("control", "Z99", 349, 2);

/// Records 95 (per mutuality) and 96 (all): the same zones, labelled 4xx and 5xx.
const fn totals(p: u16) -> [Field; 20] {
    // Labels are spelled out per record below; `p` only picks the set.
    let l = if p == 400 { &LABELS_95 } else { &LABELS_96 };
    [
        n_id("kind", l[0], 1, 2),
        n_opt("error_0", l[1], 3, 2),
        n_id("mutuality", l[2], 5, 3),
        n_opt("error_1", l[3], 8, 2),
        n_id("summary_number", l[4], 10, 12),
        n_opt("error_2", l[5], 22, 2),
        an("sign_a", l[6], 24, 1),
        n("amount_a", l[7], 25, 11),
        n_opt("error_4", l[8], 36, 2),
        an("sign_b", l[9], 38, 1),
        n("amount_b", l[10], 39, 11),
        n_opt("error_6", l[11], 50, 2),
        an("sign_total", l[12], 52, 1),
        n("amount_total", l[13], 53, 11),
        n_opt("error_8", l[14], 64, 2),
        n_id("records", l[15], 66, 8),
        n_opt("error_9", l[16], 74, 2),
        n_id("codes_mod97", l[17], 76, 2),
        n_opt("error_10", l[18], 78, 2),
        Field {
            kind: crate::records::Kind::Reserve,
            ..filler(l[19], 80, 271)
        },
    ]
}

const LABELS_95: [&str; 20] = [
    "400", "4001", "401", "4011", "402", "4021", "403", "404", "4041", "405", "406", "4061", "407",
    "408", "4081", "409", "4091", "410", "4101", "411",
];
const LABELS_96: [&str; 20] = [
    "500", "5001", "501", "5011", "502", "5021", "503", "504", "5041", "505", "506", "5061", "507",
    "508", "5081", "509", "5091", "510", "5101", "511",
];

fn record(kind: &'static str, name: &'static str, parts: &[&[Field]]) -> RecordLayout {
    RecordLayout {
        kind,
        name,
        fields: parts.iter().flat_map(|p| p.iter().copied()).collect(),
    }
}

/// The two segments that open a message, each of its own length.
pub static SEGMENTS: LazyLock<[Layout; 2]> = LazyLock::new(|| {
    [
        Layout {
            standard: "eFact segment 200",
            message_code: 920_000,
            version: (2, 0),
            record_len: 67,
            records: vec![record("200", "segment 200", &[&SEGMENT_200])],
        },
        Layout {
            standard: "eFact segment 300",
            message_code: 920_000,
            version: (2, 0),
            record_len: 160,
            records: vec![record("300", "segment 300", &[&SEGMENT_300])],
        },
    ]
});

/// Records 10–96 of message 920000, 350 positions each.
pub static EFACT: LazyLock<Layout> = LazyLock::new(|| Layout {
    standard: "eFact 920000",
    message_code: 920_000,
    version: (2, 0),
    record_len: 350,
    records: vec![
        record("10", "start of sending", &[&RECORD_10]),
        record("20", "start of invoice", &[&INVOICE_IDENTITY, &RECORD_20]),
        record("50", "service", &[&RECORD_50]),
        record("80", "end of invoice", &[&INVOICE_IDENTITY, &RECORD_80]),
        record("90", "end of sending", &[&RECORD_90, &[RECORD_90_CONTROL]]),
        record("95", "mutuality totals", &[&totals(400)]),
        record("96", "sending totals", &[&totals(500)]),
    ],
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_and_segment_covers_its_positions_once() {
        EFACT.check().unwrap();
        for s in SEGMENTS.iter() {
            s.check().unwrap();
        }
    }
}
