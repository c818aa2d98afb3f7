//! The PM304 writer, parser and validator against a hand-checked file
//! (`services/claims/fixtures/pm304-v32-golden.asc`, its positions checked field by field
//! against claim-files.md §1.3 by `tools/check_pm304_fixture.py`), mutations of it that each
//! break one rule, and random declarations.

use chrono::NaiveDate;
use proptest::prelude::*;

use crate::vektis::model::{Declaration, Header, Insured, Referral, Service};
use crate::vektis::parse::declaration;
use crate::vektis::pm304_v32::PM304;
use crate::vektis::validate::{Finding, Validator};
use crate::vektis::write::to_bytes;

const GOLDEN: &[u8] = include_bytes!("../../fixtures/pm304-v32-golden.asc");

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn line(date: NaiveDate, reference: &str, credit: bool, previous: Option<&str>) -> Service {
    Service {
        service_date: date,
        code: "1000".into(),
        quantity: 1,
        practitioner_agb: "04123456".into(),
        tariff: 3750,
        calculated: 3750,
        amount: 3750,
        credit,
        reference: reference.into(),
        previous_reference: previous.map(str::to_owned),
        referral: None,
    }
}

/// The structured input of the golden file.
fn golden_input() -> Declaration {
    Declaration {
        header: Header {
            test: false,
            uzovi: "3311".into(),
            practice_agb: "04012345".into(),
            period_start: day(2026, 11, 1),
            period_end: day(2026, 11, 30),
            invoice_number: "202600000001".into(),
            invoice_date: day(2026, 12, 1),
        },
        insured: vec![
            (
                Insured {
                    bsn: "123456782".into(),
                    uzovi: "3311".into(),
                    insured_number: Some("100234567".into()),
                    patient_number: None,
                    birth_date: day(1984, 3, 15),
                    sex: 2,
                    family_name: "Janssen-Olcer".into(),
                    initials: "ME".into(),
                    postcode: Some("3511AB".into()),
                    postcode_abroad: None,
                    house_number: 12,
                    house_number_suffix: Some("bis".into()),
                    country: Some("NL".into()),
                },
                vec![
                    line(day(2026, 11, 3), "2026-000101/1", false, None),
                    Service {
                        referral: Some(Referral {
                            date: day(2026, 10, 28),
                            referrer_agb: "01012345".into(),
                            specialism: Some("0100".into()),
                        }),
                        ..line(day(2026, 11, 10), "2026-000102/1", false, None)
                    },
                ],
            ),
            (
                Insured {
                    bsn: "957136171".into(),
                    uzovi: "3311".into(),
                    insured_number: None,
                    patient_number: None,
                    birth_date: day(1950, 7, 1),
                    sex: 1,
                    family_name: "de Vries".into(),
                    initials: "J".into(),
                    postcode: Some("1011AA".into()),
                    postcode_abroad: None,
                    house_number: 7,
                    house_number_suffix: None,
                    country: Some("NL".into()),
                },
                vec![
                    line(day(2026, 11, 4), "2026-000103/1", false, None),
                    line(
                        day(2026, 11, 4),
                        "C2026-000004/1",
                        true,
                        Some("2026-000077/1"),
                    ),
                ],
            ),
        ],
    }
}

#[test]
fn the_writer_makes_the_hand_checked_file_byte_for_byte() {
    let bytes = to_bytes(&PM304, &golden_input()).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        String::from_utf8_lossy(GOLDEN)
    );
    assert_eq!(bytes, GOLDEN);
}

#[test]
fn parse_then_write_round_trips_byte_for_byte() {
    let d = declaration(&PM304, GOLDEN).unwrap();
    assert_eq!(d, golden_input());
    assert_eq!(to_bytes(&PM304, &d).unwrap(), GOLDEN);
}

#[test]
fn names_are_folded_to_ascii_and_cut_to_their_field() {
    let mut d = golden_input();
    d.insured[0].0.family_name = "Janssen-Ölçer van den Heuvel-Bakker".into();
    let bytes = to_bytes(&PM304, &d).unwrap();
    let second = &bytes[312..622];
    assert_eq!(&second[63..88], b"Janssen-Olcer van den Heu");
    assert!(Validator::check(&PM304, &bytes).is_empty());
}

#[test]
fn an_identifier_that_does_not_fit_is_refused_not_cut() {
    let mut d = golden_input();
    d.insured[0].1[0].reference = "2026-000000000000101/1".into();
    let err = to_bytes(&PM304, &d).unwrap_err();
    assert_eq!(
        err.to_string(),
        "record 04 field 0434: too long for the field"
    );
}

// ---- mutations: each breaks one rule ----

/// The golden file's records (without CR LF).
fn records() -> Vec<Vec<u8>> {
    GOLDEN
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| l.strip_suffix(b"\r").unwrap().to_vec())
        .collect()
}

fn join(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(r);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The golden file with `text` written at `pos` (1-based) of record `n` (1-based).
fn put(n: usize, pos: usize, text: &str) -> Vec<u8> {
    let mut rs = records();
    rs[n - 1][pos - 1..pos - 1 + text.len()].copy_from_slice(text.as_bytes());
    join(&rs)
}

fn rules(findings: &[Finding]) -> Vec<(&'static str, Option<&'static str>)> {
    findings.iter().map(|f| (f.rule, f.retourcode)).collect()
}

/// Exactly these findings (rule, retourcode).
#[track_caller]
fn only(bytes: &[u8], expected: &[(&'static str, Option<&'static str>)]) {
    let found = Validator::check(&PM304, bytes);
    assert_eq!(rules(&found), expected, "{found:?}");
}

#[test]
fn the_golden_file_passes() {
    only(GOLDEN, &[]);
}

#[test]
fn a_record_one_byte_short_is_0804() {
    let mut rs = records();
    rs[2].pop();
    only(&join(&rs), &[("record_length", Some("0804"))]);
    let mut rs = records();
    rs[2].push(b' ');
    only(&join(&rs), &[("record_length", Some("0804"))]);
}

#[test]
fn a_record_without_cr_lf_is_8095() {
    // LF alone after the second record.
    let mut bytes = GOLDEN.to_vec();
    bytes.remove(310 + 2 + 310);
    only(&bytes, &[("line_end", Some("8095"))]);
    // The last record without its CR LF.
    let bytes = &GOLDEN[..GOLDEN.len() - 2];
    only(bytes, &[("line_end", Some("8095"))]);
    // An empty line.
    let mut bytes = GOLDEN.to_vec();
    bytes.extend_from_slice(b"\r\n");
    only(&bytes, &[("line_end", Some("8095"))]);
}

#[test]
fn records_out_of_order_are_8026() {
    // The closing record before the last service.
    let mut rs = records();
    rs.swap(6, 7);
    let found = rules(&Validator::check(&PM304, &join(&rs)));
    assert!(found.contains(&("record_order", Some("8026"))), "{found:?}");
    // A service before any insured person.
    let mut rs = records();
    let service = rs.remove(2);
    rs.insert(1, service);
    let found = rules(&Validator::check(&PM304, &join(&rs)));
    assert!(found.contains(&("record_order", Some("8026"))), "{found:?}");
    // No closing record.
    let mut rs = records();
    rs.pop();
    only(&join(&rs), &[("record_order", Some("8026"))]);
}

#[test]
fn closing_counts_and_totals_must_match() {
    only(&put(8, 3, "000003"), &[("closing_insured", Some("0150"))]);
    only(&put(8, 15, "000005"), &[("closing_services", Some("0152"))]);
    only(&put(8, 21, "000001"), &[("closing_comments", Some("0153"))]);
    only(&put(8, 27, "0000007"), &[("closing_details", Some("0154"))]);
    only(
        &put(8, 34, "00000007501"),
        &[("closing_total", Some("0155"))],
    );
    only(&put(8, 45, "C"), &[("closing_debit_credit", Some("0156"))]);
}

#[test]
fn debit_credit_flags_are_d_or_c_and_agree() {
    only(&put(3, 178, "C"), &[("debit_credit_differ", Some("8064"))]);
    only(
        &put(3, 178, "X"),
        &[
            ("debit_credit", Some("0631")),
            ("debit_credit_differ", Some("8064")),
        ],
    );
}

#[test]
fn a_bsn_failing_the_eleven_proof_is_0435() {
    let mut rs = records();
    for r in [1, 2, 3] {
        rs[r][14..23].copy_from_slice(b"123456789");
    }
    only(&join(&rs), &[("bsn", Some("0435"))]);
    // A service of another person than its insured record.
    only(&put(3, 15, "957136171"), &[("insured_mismatch", None)]);
}

#[test]
fn dates_must_be_real_and_services_not_after_the_invoice() {
    only(&put(3, 59, "20261131"), &[("date", None)]);
    let found = rules(&Validator::check(&PM304, &put(3, 59, "20261202")));
    assert!(
        found.contains(&("service_after_invoice", Some("8176"))),
        "{found:?}"
    );
    let found = rules(&Validator::check(&PM304, &put(1, 73, "20261031")));
    assert!(found.contains(&("period", Some("0020"))), "{found:?}");
    only(
        &put(1, 93, "20261129"),
        &[("period_after_invoice", Some("0021"))],
    );
}

#[test]
fn detail_ids_rise_by_one() {
    only(
        &put(4, 3, "000000000009"),
        &[("detail_id", Some("0801")), ("detail_id", Some("0801"))],
    );
}

#[test]
fn fields_keep_their_types() {
    only(&put(2, 157, "0001A"), &[("numeric", None)]);
    only(&put(2, 64, "\u{7f}"), &[("ascii", None)]);
    only(&put(3, 300, "X"), &[("reserve", None)]);
    only(&put(3, 70, "      "), &[("mandatory", None)]);
    only(&put(1, 3, "108"), &[("message_code", Some("0010"))]);
    only(&put(1, 6, "04"), &[("version", Some("0011"))]);
    only(&put(1, 10, "X"), &[("message_kind", None)]);
    only(&put(3, 67, "013"), &[("code_list", None)]);
    only(&put(2, 62, "3"), &[("sex", None)]);
    only(&put(3, 170, "00003751"), &[("calculated", None)]);
}

#[test]
fn a_credit_names_its_debit_and_references_are_unique() {
    only(
        &put(7, 212, "                    "),
        &[("credit_reference", None)],
    );
    only(
        &put(4, 192, "2026-000101/1"),
        &[("reference_unique", Some("8021"))],
    );
}

#[test]
fn a_referral_is_a_date_and_a_referrer_before_the_service() {
    // The golden file's second service rests on a referral of 2026-10-28 by 01012345.
    only(&put(4, 148, "00000000"), &[("referral_incomplete", None)]);
    only(&put(4, 140, "00000000"), &[("referral_incomplete", None)]);
    only(&put(3, 140, "20261001"), &[("referral_incomplete", None)]);
    only(
        &put(4, 140, "20261111"),
        &[("referral_after_service", None)],
    );
    only(&put(4, 140, "20261032"), &[("date", None)]);
    let labels: Vec<_> = Validator::check(&PM304, &put(4, 148, "00000000"))
        .iter()
        .map(|f| f.field)
        .collect();
    assert_eq!(labels, [Some("0425")]);
}

#[test]
fn a_debtor_record_or_an_unknown_kind_is_refused() {
    let mut rs = records();
    let mut debtor = rs[1].clone();
    debtor[0..2].copy_from_slice(b"03");
    rs.insert(2, debtor);
    let found = rules(&Validator::check(&PM304, &join(&rs)));
    assert!(
        found.contains(&("debtor_record", Some("8075"))),
        "{found:?}"
    );
    let found = rules(&Validator::check(&PM304, &put(2, 1, "05")));
    assert!(found.contains(&("record_kind", Some("0002"))), "{found:?}");
}

// ---- property tests ----

fn any_declaration() -> impl Strategy<Value = Declaration> {
    let service = (1u32..=30, 1u32..=3, 1u64..=20_000, any::<bool>());
    let person = (
        prop::sample::select(vec!["123456782", "957136171", "111222333"]),
        prop::collection::vec(service, 1..6),
    );
    prop::collection::vec(person, 1..6).prop_map(|people| {
        let mut d = golden_input();
        d.insured.clear();
        let mut n = 0;
        for (bsn, services) in people {
            let mut p = golden_input().insured[0].0.clone();
            p.bsn = bsn.to_owned();
            let lines = services
                .into_iter()
                .map(|(dd, q, tariff, credit)| {
                    n += 1;
                    Service {
                        service_date: day(2026, 11, dd),
                        code: "1000".into(),
                        quantity: q,
                        practitioner_agb: "04123456".into(),
                        tariff,
                        calculated: tariff * u64::from(q),
                        amount: tariff * u64::from(q) / 2 + 1,
                        credit,
                        reference: format!("2026-{n:06}/1"),
                        previous_reference: credit.then(|| format!("2025-{n:06}/1")),
                        // Every other service on a referral of the month before.
                        referral: (dd % 2 == 0).then(|| Referral {
                            date: day(2026, 10, dd.min(28)),
                            referrer_agb: "01012345".into(),
                            specialism: (q > 1).then(|| "0100".into()),
                        }),
                    }
                })
                .collect();
            d.insured.push((p, lines));
        }
        d
    })
}

proptest! {
    #[test]
    fn a_written_file_always_passes_and_its_closing_record_adds_up(d in any_declaration()) {
        let bytes = to_bytes(&PM304, &d).unwrap();
        prop_assert_eq!(Validator::check(&PM304, &bytes), Vec::new());
        let services: Vec<&Service> = d.insured.iter().flat_map(|(_, s)| s).collect();
        let total: i64 = services.iter().map(|s| if s.credit { -(s.amount as i64) } else { s.amount as i64 }).sum();
        let closing = &bytes[bytes.len() - 312..bytes.len() - 2];
        let num = |a: usize, l: usize| std::str::from_utf8(&closing[a - 1..a - 1 + l]).unwrap().parse::<i64>().unwrap();
        prop_assert_eq!(num(3, 6), d.insured.len() as i64);
        prop_assert_eq!(num(15, 6), services.len() as i64);
        prop_assert_eq!(num(27, 7), (d.insured.len() + services.len()) as i64);
        prop_assert_eq!(num(34, 11), total.abs());
        prop_assert_eq!(closing[44], if total < 0 { b'C' } else { b'D' });
        prop_assert_eq!(declaration(&PM304, &bytes).unwrap(), d);
    }
}
