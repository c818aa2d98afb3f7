//! Referrals (NL verwijzing, BE voorschrift): the doctor's referral or prescription a patient's
//! paramedical care rests on. Some codes are only paid on one; a claim line then rests on the
//! patient's referral that covers its service date, and the file names its date and the
//! prescriber (PM304 0424–0426, eFact record 50 zones 20/24/26).

use chrono::NaiveDate;

use crate::ReferralId;
use crate::identifiers::{IdentifierError, parse_agb, parse_riziv};
use crate::practice::Country;

/// A referral as the rules and the file writers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    /// Id.
    pub referral_id: ReferralId,
    /// The day the doctor referred or prescribed.
    pub referral_date: NaiveDate,
    /// The last day it covers; open-ended when absent.
    pub valid_until: Option<NaiveDate>,
    /// AGB (NL) or RIZIV/INAMI (BE) of the prescriber.
    pub prescriber_number: String,
    /// NL: the prescriber's specialism (Vektis COD016, 4 digits).
    pub prescriber_specialism: Option<String>,
}

impl Referral {
    /// Whether it covers a service on `day`: written on or before it, not ended before it.
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.referral_date <= day && self.valid_until.is_none_or(|until| day <= until)
    }
}

/// The referral a service on `day` rests on: of those covering it, the latest written (the
/// lower id of two written the same day, so the choice never depends on order).
pub fn covering(referrals: &[Referral], day: NaiveDate) -> Option<&Referral> {
    referrals.iter().filter(|r| r.covers(day)).max_by(|a, b| {
        a.referral_date
            .cmp(&b.referral_date)
            .then_with(|| b.referral_id.as_uuid().cmp(&a.referral_id.as_uuid()))
    })
}

/// The prescriber's number in the practice's country: an AGB code (NL) or a RIZIV/INAMI
/// number with its check digits (BE).
pub fn parse_prescriber(country: Country, input: &str) -> Result<String, IdentifierError> {
    match country {
        Country::NL => parse_agb(input),
        Country::BE => parse_riziv(input),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    fn referral(date: NaiveDate, until: Option<NaiveDate>) -> Referral {
        Referral {
            referral_id: ReferralId::new(),
            referral_date: date,
            valid_until: until,
            prescriber_number: "01012345".into(),
            prescriber_specialism: None,
        }
    }

    #[test]
    fn a_referral_covers_from_its_date_to_its_end() {
        let r = referral(day(3, 2), Some(day(3, 31)));
        assert!(!r.covers(day(3, 1)));
        assert!(r.covers(day(3, 2)));
        assert!(r.covers(day(3, 31)));
        assert!(!r.covers(day(4, 1)));
        assert!(referral(day(3, 2), None).covers(day(12, 31)));
    }

    #[test]
    fn the_latest_covering_referral_is_chosen() {
        let old = referral(day(1, 10), None);
        let ended = referral(day(2, 1), Some(day(2, 28)));
        let new = referral(day(3, 1), None);
        let later = referral(day(4, 1), None);
        let all = [old.clone(), ended.clone(), new.clone(), later];
        assert_eq!(covering(&all, day(3, 15)), Some(&new));
        assert_eq!(covering(&all, day(2, 15)), Some(&ended));
        assert_eq!(covering(&all, day(1, 15)), Some(&old));
        assert_eq!(covering(&all, day(1, 9)), None);
        // Two of one day: the same one whatever the order.
        let (a, b) = (referral(day(5, 1), None), referral(day(5, 1), None));
        let first = covering(&[a.clone(), b.clone()], day(5, 2)).cloned();
        assert_eq!(covering(&[b, a], day(5, 2)).cloned(), first);
    }

    #[test]
    fn prescribers_follow_the_country() {
        assert!(parse_prescriber(Country::NL, "01012345").is_ok());
        assert!(parse_prescriber(Country::NL, "54263481527").is_err());
        assert!(parse_prescriber(Country::BE, "54263481527").is_ok());
        assert!(parse_prescriber(Country::BE, "54263471527").is_err());
        assert!(parse_prescriber(Country::BE, "01012345").is_err());
    }
}
