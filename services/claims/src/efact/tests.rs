//! The eFact writer, parser and validator against a hand-checked message
//! (`services/claims/fixtures/efact-920000-golden.efact`, written zone by zone by
//! `tools/check_efact_fixture.py`), published check-digit vectors, mutations that each break
//! one rule, and random sendings.

use chrono::NaiveDate;
use proptest::prelude::*;

use crate::efact::parse::message;
use crate::efact::validate::EfactValidator;
use crate::efact::write::{Invoice, Message, Prescription, Sending, Service, control, to_bytes};

const GOLDEN: &[u8] = include_bytes!("../../fixtures/efact-920000-golden.efact");
/// Segments 200 and 300 before the first record.
const HEAD: usize = 67 + 160;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn service(code: u32, date: NaiveDate, sign: i64, reference: &str) -> Service {
    Service {
        code,
        date,
        provider: "54263481527".into(),
        reimbursement: sign * 2437,
        units: sign as i32,
        personal_share: sign * 813,
        reference: reference.into(),
        prescription: None,
    }
}

fn golden_input() -> Message {
    Message {
        sending: Sending {
            test: false,
            provider: "54263481527".into(),
            enterprise_number: "0403019261".into(),
            bic: "GEBABEBB".into(),
            iban: "BE68539007547034".into(),
            contact: "Kine Gent".into(),
            sending_number: 1,
            reference: "202600000001".into(),
            year: 2026,
            month: 3,
            created: day(2026, 4, 2),
            mutuality: "500".into(),
        },
        invoices: vec![
            (
                Invoice {
                    insz: "86103130262".into(),
                    sex: 2,
                    affiliation: "500".into(),
                    number: 1,
                    reference: "2026-000101".into(),
                    invoice_date: day(2026, 3, 31),
                },
                vec![
                    service(560011, day(2026, 3, 2), 1, "2026-000101/1"),
                    Service {
                        prescription: Some(Prescription {
                            date: day(2026, 2, 20),
                            prescriber: "10000106003".into(),
                        }),
                        ..service(560011, day(2026, 3, 9), 1, "2026-000101/2")
                    },
                ],
            ),
            (
                Invoice {
                    insz: "90020100328".into(),
                    sex: 1,
                    affiliation: "500".into(),
                    number: 2,
                    reference: "CN-2026-000004".into(),
                    invoice_date: day(2026, 3, 31),
                },
                vec![service(560011, day(2026, 3, 3), -1, "CN-2026-000004/1")],
            ),
        ],
    }
}

#[test]
fn zone_99_matches_published_vectors() {
    // Records 20, 30 and 50 from taktik/freehealth-connector's writer tests (claim-files.md
    // §2.3: verified there against the expected strings).
    let vectors = [
        "200000010000111020190401201904303000000000000097230000001000000000000000000000010000300000000000000201804010121300000000000000000001001003456f                    00000000000010000000                      000000000000000000000000000000000000000000000000000000000000000000                      0000000000000000000000000000000000000000000000000000000092",
        "300000010076303320220101202201313000000000000097200099000000000000000000000000000000000+0000000000000000000+0020000           00                                  00+00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000065",
        "500008010010961620190401201904300000000000000097100099000000000000000000000000010000000+0000000159700000000+0001000000000000000+0000000003698A                    00+00000000000000000000000000000000000000000000000000000000000000000                              000000000000000000000000000000000000000000000000000000000000000000000000000000000000000041",
    ];
    for v in vectors {
        assert_eq!(v.len(), 350);
        let expected: u32 = v[348..].parse().unwrap();
        assert_eq!(control(v.as_bytes()), expected, "{}", &v[..2]);
    }
}

#[test]
fn the_writer_makes_the_hand_checked_message_byte_for_byte() {
    let bytes = to_bytes(&golden_input()).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        String::from_utf8_lossy(GOLDEN)
    );
}

#[test]
fn parse_then_write_round_trips_byte_for_byte() {
    let m = message(GOLDEN).unwrap();
    assert_eq!(m, golden_input());
    assert_eq!(to_bytes(&m).unwrap(), GOLDEN);
}

/// The golden message with `text` at `pos` (1-based) of record `n` (1 = record 10).
fn put(n: usize, pos: usize, text: &str) -> Vec<u8> {
    let mut b = GOLDEN.to_vec();
    let at = HEAD + (n - 1) * 350 + pos - 1;
    b[at..at + text.len()].copy_from_slice(text.as_bytes());
    b
}

/// Rewrites zone 99 of record `n` so only the rule under test fails.
fn recontrol(mut b: Vec<u8>, n: usize) -> Vec<u8> {
    let at = HEAD + (n - 1) * 350;
    let c = control(&b[at..at + 350]);
    b[at + 348..at + 350].copy_from_slice(format!("{c:02}").as_bytes());
    b
}

fn rules(bytes: &[u8]) -> Vec<(&'static str, u64)> {
    EfactValidator::check(bytes)
        .iter()
        .map(|f| (f.rule, f.record))
        .collect()
}

#[test]
fn the_golden_message_passes() {
    assert_eq!(rules(GOLDEN), vec![]);
}

#[test]
fn every_record_s_check_digits_are_recomputed() {
    // One byte of each record 10–90 changed (a digit of a filler), its zone 99 left: caught.
    for n in 1..=9 {
        let b = put(n, 300, "1");
        assert_eq!(rules(&b), vec![("control", n as u64 + 2)], "record {n}");
    }
}

#[test]
fn lengths_order_and_sequence() {
    assert_eq!(
        rules(&GOLDEN[..GOLDEN.len() - 1]).first().map(|r| r.0),
        Some("record_length")
    );
    let mut longer = GOLDEN.to_vec();
    longer.push(b'0');
    assert!(rules(&longer).iter().any(|r| r.0 == "record_length"));
    // A record 50 numbered wrong.
    assert_eq!(
        rules(&recontrol(put(3, 3, "000009"), 3)),
        vec![("sequence", 5)]
    );
    // The second invoice's 20 swapped with its 50: out of order.
    let mut b = GOLDEN.to_vec();
    let (r5, r6) = (HEAD + 5 * 350, HEAD + 6 * 350);
    let five = b[r5..r5 + 350].to_vec();
    let six = b[r6..r6 + 350].to_vec();
    b[r5..r5 + 350].copy_from_slice(&six);
    b[r6..r6 + 350].copy_from_slice(&five);
    assert!(rules(&b).iter().any(|r| r.0 == "record_order"));
}

#[test]
fn totals_agree_across_80_90_95_and_96() {
    // A service's amount changed (and its check digits made right): its 80, the 90, the 95
    // and the 96 no longer add up.
    let b = recontrol(put(3, 88, "+00000002438"), 3);
    let found: Vec<&str> = rules(&b).iter().map(|r| r.0).collect();
    assert_eq!(
        found,
        vec![
            "invoice_total",
            "sending_total",
            "mutuality_total",
            "grand_total"
        ]
    );
    // The personal shares of an 80.
    assert_eq!(
        rules(&recontrol(put(5, 128, "+000001627"), 5)),
        vec![("invoice_personal", 7)]
    );
    // Nomenclature mod 97 of an 80, of the 90, of the 95 and the 96.
    assert_eq!(
        rules(&recontrol(put(5, 347, "01"), 5)),
        vec![("invoice_codes", 7)]
    );
    assert_eq!(
        rules(&recontrol(put(9, 347, "01"), 9)),
        vec![("sending_codes", 11)]
    );
    assert_eq!(rules(&put(10, 76, "01")), vec![("mutuality_codes", 12)]);
    assert_eq!(rules(&put(11, 76, "01")), vec![("grand_codes", 13)]);
    // Record counts of the 95 and the 96.
    assert_eq!(
        rules(&put(10, 66, "00000006")),
        vec![("mutuality_records", 12)]
    );
    assert_eq!(rules(&put(11, 66, "00000008")), vec![("grand_records", 13)]);
    // A + B ≠ total.
    assert_eq!(rules(&put(10, 53, "00000004875")), vec![("totals_sum", 12)]);
}

#[test]
fn identifiers_signs_and_dates() {
    // INSZ check digits of a 20.
    let found = rules(&recontrol(put(2, 47, "63"), 2));
    assert!(found.contains(&("insz", 4)), "{found:?}");
    // A signed amount without its sign.
    assert!(rules(&recontrol(put(3, 88, "000000002437"), 3)).contains(&("signed_amount", 5)));
    // A date that is no date.
    assert!(rules(&recontrol(put(3, 17, "20260230"), 3)).contains(&("date", 5)));
    // The 96's mutuality is a federation code (x99).
    assert_eq!(rules(&put(11, 5, "500")), vec![("federation", 13)]);
}

#[test]
fn a_prescription_is_a_date_a_valid_prescriber_and_a_norm() {
    // Record 4 (the second 50) rests on a prescription of 2026-02-20 by 10000106003.
    let broken = |pos: usize, text: &str| rules(&recontrol(put(4, pos, text), 4));
    assert_eq!(
        broken(100, "00000000"),
        vec![("prescription_incomplete", 6)]
    );
    assert_eq!(
        broken(115, "000000000000"),
        vec![("prescription_incomplete", 6)]
    );
    assert_eq!(broken(115, "010000107003"), vec![("prescriber", 6)]);
    assert_eq!(
        broken(100, "20260310"),
        vec![("prescription_after_service", 6)]
    );
    assert_eq!(broken(127, "2"), vec![("prescriber_norm", 6)]);
    assert_eq!(broken(127, "0"), vec![("prescription_incomplete", 6)]);
    // Norm 1 on a service without one (record 3).
    assert_eq!(
        rules(&recontrol(put(3, 127, "1"), 3)),
        vec![
            ("prescription_incomplete", 5),
            ("prescription_incomplete", 5)
        ]
    );
    let labels: Vec<_> = EfactValidator::check(&recontrol(put(4, 115, "010000107003"), 4))
        .iter()
        .map(|f| f.field)
        .collect();
    assert_eq!(labels, [Some("Z24")]);
}

fn any_message() -> impl Strategy<Value = Message> {
    let svc = (1u32..=28, 1i64..=5_000, 0i64..=2_000, any::<bool>());
    let invoice = prop::collection::vec(svc, 1..5);
    prop::collection::vec(invoice, 1..6).prop_map(|invoices| {
        let mut m = golden_input();
        m.invoices = invoices
            .into_iter()
            .enumerate()
            .map(|(i, services)| {
                let mut head = golden_input().invoices[0].0.clone();
                head.number = i as u64 + 1;
                let lines = services
                    .into_iter()
                    .enumerate()
                    .map(|(j, (d, a, p, credit))| {
                        let sign = if credit { -1 } else { 1 };
                        Service {
                            code: 560011 + (j as u32 % 3) * 1000,
                            date: day(2026, 3, d),
                            provider: "54263481527".into(),
                            reimbursement: sign * a,
                            units: sign as i32,
                            personal_share: sign * p,
                            reference: format!("2026-{i:06}/{j}"),
                            // Every other service on a prescription of the month before.
                            prescription: (d % 2 == 0).then(|| Prescription {
                                date: day(2026, 2, d),
                                prescriber: "10000106003".into(),
                            }),
                        }
                    })
                    .collect();
                (head, lines)
            })
            .collect();
        m
    })
}

proptest! {
    #[test]
    fn a_written_message_always_passes_and_adds_up(m in any_message()) {
        let bytes = to_bytes(&m).unwrap();
        prop_assert_eq!(EfactValidator::check(&bytes), vec![]);
        let total: i64 = m.invoices.iter().flat_map(|(_, s)| s).map(|s| s.reimbursement).sum();
        let records = bytes.len() - HEAD;
        prop_assert_eq!(records % 350, 0);
        // Record 96: the grand total and the count of records 10–90.
        let last = &bytes[bytes.len() - 350..];
        let amount: i64 = std::str::from_utf8(&last[24..35]).unwrap().parse().unwrap();
        prop_assert_eq!(if last[23] == b'-' { -amount } else { amount }, total);
        let count: usize = std::str::from_utf8(&last[65..73]).unwrap().parse().unwrap();
        prop_assert_eq!(count, records / 350 - 2);
        prop_assert_eq!(message(&bytes).unwrap(), m);
    }
}
