//! Claims: what a claim line must carry before it may go into a batch (shared/reference/
//! claim-files.md §3 and §5). The rules are pure: they take the facts of one line — the patient's
//! insurance identifiers, the practice's provider number, the code, dates and amounts — and
//! answer every problem at once, each with its rule, the field to correct and, where Vektis has
//! one, the retourcode an insurer would answer with.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::identifiers::{
    parse_agb, parse_bsn, parse_insz, parse_mutuality_code, parse_riziv, parse_uzovi,
};
use crate::practice::Country;
use crate::referral::{Referral, parse_prescriber};
use crate::vocabulary;

vocabulary! {
    /// Where a claim line stands.
    pub enum ClaimLineState {
        /// It fails a rule: billing staff correct the patient or practice data, then it is
        /// checked again.
        Invalid = "invalid",
        /// It passes every rule: the next batch of its insurer takes it.
        Ready = "ready",
        /// In a batch (generated or sent).
        Batched = "batched",
        /// The insurer accepted it.
        Accepted = "accepted",
        /// The insurer rejected it: correct and resubmit, or re-bill to the patient.
        Rejected = "rejected",
    }
}

vocabulary! {
    /// A line claims money (debit) or takes a claimed amount back (credit).
    pub enum ClaimLineKind {
        /// From an invoice.
        Debit = "debit",
        /// From a credit note, mirroring the line it corrects.
        Credit = "credit",
    }
}

vocabulary! {
    /// Where a batch stands.
    pub enum BatchState {
        /// Lines chosen; no file yet (may be thrown away: its lines are ready again).
        Draft = "draft",
        /// Its file is written, validated and stored under a file number of its own.
        Generated = "generated",
        /// The file went to the insurer; it is never generated again.
        Sent = "sent",
        /// The insurer's return file was read.
        Answered = "answered",
    }
}

vocabulary! {
    /// What the insurer answered to a batch.
    pub enum BatchOutcome {
        /// Every line granted.
        Accepted = "accepted",
        /// Some lines rejected.
        Partly = "partly",
        /// Every line rejected.
        Rejected = "rejected",
    }
}

vocabulary! {
    /// The file format of a batch: the practice's country decides.
    pub enum ClaimFormat {
        /// Vektis PM304 (NL).
        Pm304 = "pm304",
        /// MyCareNet eFact 920000 (BE).
        Efact = "efact",
    }
}

impl BatchState {
    /// Whether `to` may follow this state.
    pub fn may_become(self, to: BatchState) -> bool {
        matches!(
            (self, to),
            (BatchState::Draft, BatchState::Generated)
                | (BatchState::Generated, BatchState::Sent)
                | (BatchState::Sent, BatchState::Answered)
        )
    }
}

/// One problem of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// The rule (`bsn_eleven_proof`, `service_after_invoice`, …).
    pub rule: &'static str,
    /// What to correct (`patient.national_number`, `practice.provider_number`, …).
    pub field: &'static str,
    /// The Vektis retourcode an insurer answers with, where one is known.
    pub retourcode: Option<&'static str>,
}

const fn problem(rule: &'static str, field: &'static str) -> Problem {
    Problem {
        rule,
        field,
        retourcode: None,
    }
}

/// The facts of one claim line that the rules look at.
#[derive(Debug, Clone)]
pub struct ClaimFacts<'a> {
    /// The practice's country: the rules and file format follow it.
    pub country: Country,
    /// The patient's insurance country.
    pub insurance_country: Option<Country>,
    /// BSN (NL) or INSZ/NISS (BE), decrypted for the check only.
    pub national_number: Option<&'a str>,
    /// UZOVI (NL) or mutuality code (BE).
    pub insurer: Option<&'a str>,
    /// AGB (NL) or RIZIV/INAMI (BE) of the practice.
    pub provider_number: Option<&'a str>,
    /// Prestatiecode (NL) or nomenclature code (BE).
    pub code: &'a str,
    /// The service date.
    pub service_date: NaiveDate,
    /// The invoice date.
    pub invoice_date: NaiveDate,
    /// The patient's birth date.
    pub birth_date: NaiveDate,
    /// The patient's sex as recorded (`male`, `female`, `other`, `unknown`).
    pub sex: &'a str,
    /// The period the patient's insurance covers, when recorded (first and last day).
    pub insured: (Option<NaiveDate>, Option<NaiveDate>),
    /// Quantity.
    pub quantity: Decimal,
    /// The insurer's share claimed.
    pub amount: Decimal,
    /// Whether the code is only paid on a referral (its tariff says so).
    pub referral_required: bool,
    /// The patient's referral covering the service date
    /// ([`covering`](crate::referral::covering)), if any.
    pub referral: Option<&'a Referral>,
}

/// Every problem of a line (empty: it may be batched).
pub fn check(f: &ClaimFacts<'_>) -> Vec<Problem> {
    let mut out = Vec::new();
    if f.insurance_country != Some(f.country) {
        out.push(problem("insurance_country", "patient.insurance_country"));
    }
    match f.country {
        Country::NL => {
            // Vektis retourcode 0435: BSN.
            let bsn = |rule| Problem {
                rule,
                field: "patient.national_number",
                retourcode: Some("0435"),
            };
            match f.national_number {
                None => out.push(bsn("bsn_missing")),
                Some(n) if parse_bsn(n).is_err() => out.push(bsn("bsn_eleven_proof")),
                Some(_) => {}
            }
            if f.insurer.is_none_or(|u| parse_uzovi(u).is_err()) {
                out.push(problem("uzovi", "patient.uzovi"));
            }
            if f.provider_number.is_none_or(|a| parse_agb(a).is_err()) {
                out.push(problem("agb", "practice.provider_number"));
            }
            let code_ok = (4..=6).contains(&f.code.len())
                && f.code.bytes().all(|b| b.is_ascii_alphanumeric());
            if !code_ok {
                out.push(problem("prestatiecode", "line.code"));
            }
        }
        Country::BE => {
            match f.national_number {
                None => out.push(problem("insz_missing", "patient.national_number")),
                Some(n) if parse_insz(n).is_err() => {
                    out.push(problem("insz_mod97", "patient.national_number"))
                }
                Some(_) => {}
            }
            if f.insurer.is_none_or(|m| parse_mutuality_code(m).is_err()) {
                out.push(problem("mutuality", "patient.mutuality_code"));
            }
            if f.provider_number.is_none_or(|r| parse_riziv(r).is_err()) {
                out.push(problem("riziv_mod97", "practice.provider_number"));
            }
            let code_ok = f.code.len() == 6 && f.code.bytes().all(|b| b.is_ascii_digit());
            if !code_ok {
                out.push(problem("nomenclature_code", "line.code"));
            }
        }
    }
    // Vektis COD046 (PM304 v3.2) and eFact zone 9 know only 1 (male) and 2 (female).
    if !matches!(f.sex, "male" | "female") {
        out.push(problem("sex_code", "patient.sex"));
    }
    if f.service_date > f.invoice_date {
        out.push(Problem {
            rule: "service_after_invoice",
            field: "line.service_date",
            retourcode: Some("8176"),
        });
    }
    // A service outside the insurance period is not the insurer's to pay.
    if f.insured.0.is_some_and(|from| f.service_date < from) {
        out.push(problem("insurance_period", "patient.insurance_valid_from"));
    }
    if f.insured.1.is_some_and(|until| f.service_date > until) {
        out.push(problem("insurance_period", "patient.insurance_valid_until"));
    }
    if f.service_date < f.birth_date {
        out.push(problem("service_before_birth", "line.service_date"));
    }
    if f.quantity <= Decimal::ZERO || !f.quantity.fract().is_zero() {
        out.push(problem("quantity", "line.quantity"));
    }
    if f.amount <= Decimal::ZERO {
        out.push(problem("amount", "line.insurer_share"));
    }
    match f.referral {
        None if f.referral_required => out.push(problem("referral_missing", "line.referral")),
        // Its number goes into the file: the country's form, with its check digits.
        Some(r) if parse_prescriber(f.country, &r.prescriber_number).is_err() => {
            out.push(problem("referral_prescriber", "referral.prescriber_number"))
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nl<'a>() -> ClaimFacts<'a> {
        ClaimFacts {
            country: Country::NL,
            insurance_country: Some(Country::NL),
            national_number: Some("123456782"),
            insurer: Some("3311"),
            provider_number: Some("04012345"),
            code: "1000",
            service_date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            invoice_date: NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
            birth_date: NaiveDate::from_ymd_opt(1980, 5, 17).unwrap(),
            sex: "female",
            insured: (None, None),
            quantity: Decimal::ONE,
            amount: Decimal::new(2437, 2),
            referral_required: false,
            referral: None,
        }
    }

    fn referral(prescriber: &str) -> Referral {
        Referral {
            referral_id: crate::ReferralId::new(),
            referral_date: NaiveDate::from_ymd_opt(2026, 2, 20).unwrap(),
            valid_until: None,
            prescriber_number: prescriber.into(),
            prescriber_specialism: None,
        }
    }

    fn be<'a>() -> ClaimFacts<'a> {
        ClaimFacts {
            country: Country::BE,
            national_number: Some("86103130262"),
            insurer: Some("500"),
            provider_number: Some("54263481527"),
            code: "560011",
            insurance_country: Some(Country::BE),
            ..nl()
        }
    }

    fn rules(f: &ClaimFacts<'_>) -> Vec<&'static str> {
        check(f).iter().map(|p| p.rule).collect()
    }

    #[test]
    fn good_lines_pass() {
        assert_eq!(rules(&nl()), Vec::<&str>::new());
        assert_eq!(rules(&be()), Vec::<&str>::new());
        let (gp, doctor) = (referral("01012345"), referral("10000106003"));
        let nl_referred = ClaimFacts {
            referral_required: true,
            referral: Some(&gp),
            ..nl()
        };
        assert_eq!(rules(&nl_referred), Vec::<&str>::new());
        let be_prescribed = ClaimFacts {
            referral_required: true,
            referral: Some(&doctor),
            ..be()
        };
        assert_eq!(rules(&be_prescribed), Vec::<&str>::new());
    }

    #[test]
    fn a_code_that_needs_a_referral_needs_one_in_the_countrys_form() {
        let (agb, riziv) = (referral("01012345"), referral("10000106003"));
        let cases: Vec<(ClaimFacts<'_>, &str)> = vec![
            (
                ClaimFacts {
                    referral_required: true,
                    ..nl()
                },
                "referral_missing",
            ),
            (
                ClaimFacts {
                    referral_required: true,
                    ..be()
                },
                "referral_missing",
            ),
            // An RIZIV number in an NL file, an AGB code in a BE one.
            (
                ClaimFacts {
                    referral: Some(&riziv),
                    ..nl()
                },
                "referral_prescriber",
            ),
            (
                ClaimFacts {
                    referral_required: true,
                    referral: Some(&agb),
                    ..be()
                },
                "referral_prescriber",
            ),
        ];
        for (facts, rule) in cases {
            let found = check(&facts);
            assert_eq!(found.iter().map(|p| p.rule).collect::<Vec<_>>(), [rule]);
            assert!(
                found[0].field.starts_with("line.referral")
                    || found[0].field.starts_with("referral.")
            );
        }
        // Not needed and absent: nothing to say.
        assert!(check(&nl()).is_empty());
    }

    #[test]
    fn each_rule_fails_on_exactly_its_own_mistake() {
        let cases: Vec<(ClaimFacts<'_>, &str)> = vec![
            (
                ClaimFacts {
                    sex: "unknown",
                    ..nl()
                },
                "sex_code",
            ),
            (
                ClaimFacts {
                    insured: (None, NaiveDate::from_ymd_opt(2026, 3, 1)),
                    ..nl()
                },
                "insurance_period",
            ),
            (
                ClaimFacts {
                    insured: (NaiveDate::from_ymd_opt(2026, 3, 3), None),
                    ..nl()
                },
                "insurance_period",
            ),
            (
                ClaimFacts {
                    national_number: Some("123456781"),
                    ..nl()
                },
                "bsn_eleven_proof",
            ),
            (
                ClaimFacts {
                    national_number: None,
                    ..nl()
                },
                "bsn_missing",
            ),
            (
                ClaimFacts {
                    insurer: Some("331"),
                    ..nl()
                },
                "uzovi",
            ),
            (
                ClaimFacts {
                    provider_number: Some("0401234"),
                    ..nl()
                },
                "agb",
            ),
            (
                ClaimFacts {
                    code: "10 0",
                    ..nl()
                },
                "prestatiecode",
            ),
            (
                ClaimFacts {
                    national_number: Some("86103130263"),
                    ..be()
                },
                "insz_mod97",
            ),
            (
                ClaimFacts {
                    insurer: None,
                    ..be()
                },
                "mutuality",
            ),
            (
                ClaimFacts {
                    provider_number: Some("54263471527"),
                    ..be()
                },
                "riziv_mod97",
            ),
            (
                ClaimFacts {
                    code: "56001",
                    ..be()
                },
                "nomenclature_code",
            ),
            (
                ClaimFacts {
                    insurance_country: Some(Country::NL),
                    ..be()
                },
                "insurance_country",
            ),
            (
                ClaimFacts {
                    service_date: NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
                    ..nl()
                },
                "service_after_invoice",
            ),
            (
                ClaimFacts {
                    birth_date: NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
                    ..be()
                },
                "service_before_birth",
            ),
            (
                ClaimFacts {
                    quantity: Decimal::new(15, 1),
                    ..nl()
                },
                "quantity",
            ),
            (
                ClaimFacts {
                    amount: Decimal::ZERO,
                    ..be()
                },
                "amount",
            ),
        ];
        for (facts, rule) in cases {
            assert_eq!(rules(&facts), [rule], "{rule}");
        }
        let late = check(&ClaimFacts {
            service_date: NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
            ..nl()
        });
        assert_eq!(late[0].retourcode, Some("8176"));
    }
}
