//! Vektis PM304 v3.2 (declaration of paramedical care, 310 positions) and PM305 v3.2 (the
//! insurer's return file, 370 positions: the PM304 record as sent, then the assessment), as
//! data. Source: shared/reference/claim-files.md §1.3–1.4. Labels are that table's sequential
//! labels, not the official rubric numbers of later versions.

use std::sync::LazyLock;

use crate::records::{
    Field, Layout, RecordLayout, an, an_opt, date, date_opt, n, n_id, n_opt, reserve,
};

const HEADER: [Field; 20] = [
    n_id("kind", "0101", 1, 2),
    n_id("message_code", "0102", 3, 3),
    n_id("version", "0103", 6, 2),
    n("subversion", "0104", 8, 2),
    an("message_kind", "0105", 10, 1),
    n_opt("software_code", "0106", 11, 6),
    an_opt("software_version", "0107", 17, 10),
    n_opt("uzovi", "0108", 27, 4),
    n_opt("service_bureau", "0109", 31, 8),
    n_opt("provider_agb", "0110", 39, 8),
    n_opt("practice_agb", "0111", 47, 8),
    n_opt("institution_agb", "0112", 55, 8),
    n_id("payee", "0113", 63, 2),
    date("period_start", "0114", 65),
    date("period_end", "0115", 73),
    an("invoice_number", "0116", 81, 12),
    date("invoice_date", "0117", 93),
    an_opt("vat_id", "0118", 101, 14),
    an("currency", "0119", 115, 3),
    reserve("0180", 118, 193),
];

const INSURED: [Field; 23] = [
    n_id("kind", "0201", 1, 2),
    n_id("detail_id", "0202", 3, 12),
    n_id("bsn", "0203", 15, 9),
    n_id("uzovi", "0204", 24, 4),
    an_opt("insured_number", "0205", 28, 15),
    an_opt("patient_number", "0206", 43, 11),
    date("birth_date", "0207", 54),
    n_id("sex", "0208", 62, 1),
    n_id("name_code_1", "0209", 63, 1),
    an("name_1", "0210", 64, 25),
    an_opt("prefix_1", "0211", 89, 10),
    n_opt("name_code_2", "0212", 99, 1),
    an_opt("name_2", "0213", 100, 25),
    an_opt("prefix_2", "0214", 125, 10),
    an("initials", "0215", 135, 6),
    n_opt("name_code_3", "0216", 141, 1),
    an_opt("postcode", "0217", 142, 6),
    an_opt("postcode_abroad", "0218", 148, 9),
    n("house_number", "0219", 157, 5),
    an_opt("house_number_suffix", "0220", 162, 6),
    an_opt("country", "0221", 168, 2),
    an_opt("debtor_number", "0222", 170, 11),
    reserve("0280", 181, 130),
];

const SERVICE: [Field; 36] = [
    n_id("kind", "0401", 1, 2),
    n_id("detail_id", "0402", 3, 12),
    n_id("bsn", "0403", 15, 9),
    n_id("uzovi", "0404", 24, 4),
    an_opt("insured_number", "0405", 28, 15),
    an_opt("authorisation", "0406", 43, 15),
    n_id("forwarding_allowed", "0407", 58, 1),
    date("service_date", "0408", 59),
    n_id("code_list", "0409", 67, 3),
    an("code", "0410", 70, 6),
    n_id("quantity", "0411", 76, 4),
    an_opt("accident", "0412", 80, 1),
    n_opt("diagnosis_list_1", "0413", 81, 3),
    n_opt("referral_diagnosis_1", "0414", 84, 8),
    n_opt("diagnosis_list_2", "0415", 92, 3),
    n_opt("referral_diagnosis_2", "0416", 95, 8),
    n_opt("diagnosis_list_3", "0417", 103, 3),
    an_opt("diagnosis_1", "0418", 106, 8),
    n_opt("diagnosis_list_4", "0419", 114, 3),
    an_opt("diagnosis_2", "0420", 117, 8),
    n_opt("indication", "0421", 125, 3),
    n_id("practitioner_agb", "0422", 128, 8),
    n_opt("practitioner_specialism", "0423", 136, 4),
    date_opt("referral_date", "0424", 140),
    n_opt("referrer_agb", "0425", 148, 8),
    n_opt("referrer_specialism", "0426", 156, 4),
    n_opt("end_of_care", "0427", 160, 2),
    n("tariff", "0428", 162, 8),
    n("calculated", "0429", 170, 8),
    an("debit_credit_1", "0430", 178, 1),
    n_opt("vat_percentage", "0431", 179, 4),
    n("amount", "0432", 183, 8),
    an("debit_credit_2", "0433", 191, 1),
    an("reference", "0434", 192, 20),
    an_opt("previous_reference", "0435", 212, 20),
    reserve("0480", 232, 79),
];

const COMMENT: [Field; 5] = [
    n_id("kind", "9801", 1, 2),
    n_id("detail_id", "9802", 3, 12),
    n_id("line_no", "9803", 15, 4),
    an("text", "9804", 19, 140),
    reserve("9880", 159, 152),
];

const CLOSING: [Field; 8] = [
    n_id("kind", "9901", 1, 2),
    n("insured_count", "9902", 3, 6),
    n_opt("debtor_count", "9903", 9, 6),
    n("service_count", "9904", 15, 6),
    n_opt("comment_count", "9905", 21, 6),
    n("detail_count", "9906", 27, 7),
    n_opt("total", "9907", 34, 11),
    an("debit_credit", "9908", 45, 1),
];

/// The closing record's reserve in PM304.
const CLOSING_RESERVE: Field = reserve("9980", 46, 265);

// PM305: what the insurer adds after position 310.
const HEADER_RETURN: [Field; 6] = [
    an_opt("insurer_reference", "0181", 311, 24),
    date_opt("answer_date", "0182", 335),
    n_opt("return_code_1", "0183", 343, 4),
    n_opt("return_code_2", "0184", 347, 4),
    n_opt("return_code_3", "0185", 351, 4),
    reserve("0186", 355, 16),
];

const INSURED_RETURN: [Field; 4] = [
    n_opt("return_code_1", "0281", 311, 4),
    n_opt("return_code_2", "0282", 315, 4),
    n_opt("return_code_3", "0283", 319, 4),
    reserve("0284", 323, 48),
];

const SERVICE_RETURN: [Field; 8] = [
    n_opt("insurer_calculated", "0481", 311, 8),
    an_opt("debit_credit_3", "0482", 319, 1),
    n_opt("granted", "0483", 320, 8),
    an_opt("debit_credit_4", "0484", 328, 1),
    n_opt("return_code_1", "0485", 329, 4),
    n_opt("return_code_2", "0486", 333, 4),
    n_opt("return_code_3", "0487", 337, 4),
    reserve("0488", 341, 30),
];

const COMMENT_RETURN: [Field; 4] = [
    n_opt("return_code_1", "9881", 311, 4),
    n_opt("return_code_2", "9882", 315, 4),
    n_opt("return_code_3", "9883", 319, 4),
    reserve("9884", 323, 48),
];

const CLOSING_RETURN: [Field; 3] = [
    n_opt("granted_total", "9910", 46, 11),
    an_opt("granted_debit_credit", "9911", 57, 1),
    reserve("9980", 58, 313),
];

fn record(kind: &'static str, name: &'static str, parts: &[&[Field]]) -> RecordLayout {
    RecordLayout {
        kind,
        name,
        fields: parts.iter().flat_map(|p| p.iter().copied()).collect(),
    }
}

/// PM304 v3.2: records 01, 02, 04, 98 and 99 of 310 positions.
pub static PM304: LazyLock<Layout> = LazyLock::new(|| Layout {
    standard: "PM304",
    message_code: 107,
    version: (3, 2),
    record_len: 310,
    records: vec![
        record("01", "voorlooprecord", &[&HEADER]),
        record("02", "verzekerdenrecord", &[&INSURED]),
        record("04", "prestatierecord", &[&SERVICE]),
        record("98", "commentaarrecord", &[&COMMENT]),
        record("99", "sluitrecord", &[&CLOSING, &[CLOSING_RESERVE]]),
    ],
});

/// PM305 v3.2: the PM304 records as sent, each followed by the insurer's assessment (370
/// positions); the closing record carries the granted total instead of a reserve.
pub static PM305: LazyLock<Layout> = LazyLock::new(|| Layout {
    standard: "PM305",
    message_code: 108,
    version: (3, 2),
    record_len: 370,
    records: vec![
        record("01", "voorlooprecord", &[&HEADER, &HEADER_RETURN]),
        record("02", "verzekerdenrecord", &[&INSURED, &INSURED_RETURN]),
        record("04", "prestatierecord", &[&SERVICE, &SERVICE_RETURN]),
        record("98", "commentaarrecord", &[&COMMENT, &COMMENT_RETURN]),
        record("99", "sluitrecord", &[&CLOSING, &CLOSING_RETURN]),
    ],
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_covers_its_positions_once() {
        PM304.check().unwrap();
        PM305.check().unwrap();
    }
}
