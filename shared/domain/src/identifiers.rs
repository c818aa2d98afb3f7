//! National identifiers and contact numbers, parsed rather than trusted.
//!
//! Errors never echo the rejected value: they may end up in logs or problem bodies.

use std::fmt;

use thiserror::Error;

use crate::practice::Country;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentifierError {
    /// Wrong number of digits, or characters that are not digits or separators.
    #[error("must be {expected} digits")]
    Format {
        /// What the format is.
        expected: &'static str,
    },
    /// Not an e-mail address.
    #[error("must be an e-mail address like name@example.org")]
    Email,
    /// The check digits do not match.
    #[error("check digits do not match")]
    Checksum,
    /// Not a phone number that can receive SMS.
    #[error("{0}")]
    Phone(&'static str),
}

/// Keeps the digits; refuses anything but digits and the usual separators (space . - /).
fn digits(input: &str, expected: &'static str) -> Result<String, IdentifierError> {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            '0'..='9' => out.push(c),
            ' ' | '.' | '-' | '/' => {}
            _ => return Err(IdentifierError::Format { expected }),
        }
    }
    Ok(out)
}

/// A national number: Belgian INSZ/NISS or Dutch BSN, canonical digits only.
#[derive(Clone, PartialEq, Eq)]
pub enum NationalNumber {
    /// Belgian INSZ/NISS (rijksregisternummer or BIS number), 11 digits.
    Insz(String),
    /// Dutch burgerservicenummer, 9 digits.
    Bsn(String),
}

impl fmt::Debug for NationalNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the value, even in debug output.
        match self {
            NationalNumber::Insz(_) => f.write_str("Insz(<redacted>)"),
            NationalNumber::Bsn(_) => f.write_str("Bsn(<redacted>)"),
        }
    }
}

impl NationalNumber {
    /// Parses the national number of the given country.
    pub fn parse(country: Country, input: &str) -> Result<Self, IdentifierError> {
        match country {
            Country::BE => parse_insz(input).map(NationalNumber::Insz),
            Country::NL => parse_bsn(input).map(NationalNumber::Bsn),
        }
    }

    /// The canonical digits.
    pub fn digits(&self) -> &str {
        match self {
            NationalNumber::Insz(d) | NationalNumber::Bsn(d) => d,
        }
    }

    /// The country whose scheme this is.
    pub fn country(&self) -> Country {
        match self {
            NationalNumber::Insz(_) => Country::BE,
            NationalNumber::Bsn(_) => Country::NL,
        }
    }
}

/// INSZ/NISS: `YYMMDD SSS CC`, where `CC = 97 - (YYMMDDSSS mod 97)` for births before 2000
/// and `97 - (2YYMMDDSSS mod 97)` for births from 2000 on. BIS numbers (month + 20 or + 40)
/// follow the same rule, so both centuries are accepted.
pub fn parse_insz(input: &str) -> Result<String, IdentifierError> {
    let d = digits(input, "11")?;
    if d.len() != 11 {
        return Err(IdentifierError::Format { expected: "11" });
    }
    let base: u64 = d[..9]
        .parse()
        .map_err(|_| IdentifierError::Format { expected: "11" })?;
    let check: u64 = d[9..]
        .parse()
        .map_err(|_| IdentifierError::Format { expected: "11" })?;
    let before_2000 = 97 - base % 97;
    let from_2000 = 97 - (2_000_000_000 + base) % 97;
    if check == before_2000 || check == from_2000 {
        Ok(d)
    } else {
        Err(IdentifierError::Checksum)
    }
}

/// BSN: 9 digits (8-digit numbers get a leading zero) passing the 11-proof
/// `9a + 8b + 7c + 6d + 5e + 4f + 3g + 2h - i ≡ 0 (mod 11)`; all zeros is refused.
pub fn parse_bsn(input: &str) -> Result<String, IdentifierError> {
    let mut d = digits(input, "9")?;
    if d.len() == 8 {
        d.insert(0, '0');
    }
    if d.len() != 9 {
        return Err(IdentifierError::Format { expected: "9" });
    }
    let sum: i64 = d
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let v = i64::from(b - b'0');
            if i == 8 { -v } else { v * (9 - i as i64) }
        })
        .sum();
    if sum % 11 == 0 && d != "000000000" {
        Ok(d)
    } else {
        Err(IdentifierError::Checksum)
    }
}

/// A mobile number in E.164 form (`+32470123456`).
#[derive(Clone, PartialEq, Eq)]
pub struct MobileNumber(String);

impl fmt::Debug for MobileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MobileNumber(<redacted>)")
    }
}

impl MobileNumber {
    /// Parses a number written nationally for `default_country` or internationally, and
    /// requires a valid number that can be a mobile one.
    pub fn parse(default_country: Country, input: &str) -> Result<Self, IdentifierError> {
        let region = match default_country {
            Country::BE => phonenumber::country::Id::BE,
            Country::NL => phonenumber::country::Id::NL,
        };
        let number = phonenumber::parse(Some(region), input)
            .map_err(|_| IdentifierError::Phone("not a phone number"))?;
        if !phonenumber::is_valid(&number) {
            return Err(IdentifierError::Phone("not a valid phone number"));
        }
        use phonenumber::metadata::DATABASE;
        match number.number_type(&DATABASE) {
            phonenumber::Type::Mobile | phonenumber::Type::FixedLineOrMobile => {}
            _ => return Err(IdentifierError::Phone("not a mobile number")),
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// Wraps a number already stored in E.164 form.
    pub fn from_e164(s: String) -> Self {
        Self(s)
    }

    /// The E.164 string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// UZOVI: the 4-digit code of a Dutch health insurer.
pub fn parse_uzovi(input: &str) -> Result<String, IdentifierError> {
    let d = digits(input, "4")?;
    if d.len() == 4 {
        Ok(d)
    } else {
        Err(IdentifierError::Format { expected: "4" })
    }
}

/// Belgian mutuality (ziekenfonds/mutualité) code: 3 digits, e.g. 100, 235, 509.
pub fn parse_mutuality_code(input: &str) -> Result<String, IdentifierError> {
    let d = digits(input, "3")?;
    if d.len() == 3 {
        Ok(d)
    } else {
        Err(IdentifierError::Format { expected: "3" })
    }
}

/// An IBAN (any country, spaces allowed), checked by `iban_validate`: the ISO 13616 check
/// digits and the country's BBAN format. Answers the electronic form (`BE68539007547034`).
pub fn parse_iban(input: &str) -> Result<String, IdentifierError> {
    use iban::IbanLike;
    let iban: iban::Iban = input
        .trim()
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| IdentifierError::Checksum)?;
    Ok(iban.electronic_str().to_owned())
}

/// A BIC (ISO 9362): 8 or 11 characters, bank (4 letters), country (2 letters), location and
/// optional branch.
pub fn parse_bic(input: &str) -> Result<String, IdentifierError> {
    let s = input.trim().to_ascii_uppercase();
    let ok = (s.len() == 8 || s.len() == 11)
        && s[..6].bytes().all(|b| b.is_ascii_uppercase())
        && s[6..].bytes().all(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(s)
    } else {
        Err(IdentifierError::Format {
            expected: "8 or 11",
        })
    }
}

/// A VAT number of a practice: `BE` and the enterprise number (10 digits, its check digits),
/// or `NL`, 9 digits, `B` and 2 digits.
pub fn parse_vat_number(country: Country, input: &str) -> Result<String, IdentifierError> {
    let s: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '.')
        .collect::<String>()
        .to_ascii_uppercase();
    match country {
        Country::BE => {
            let rest = s.strip_prefix("BE").ok_or(IdentifierError::Format {
                expected: "BE + 10",
            })?;
            Ok(format!(
                "BE{}",
                parse_registration_number(Country::BE, rest)?
            ))
        }
        Country::NL => {
            let rest = s.strip_prefix("NL").ok_or(IdentifierError::Format {
                expected: "NL + 12",
            })?;
            let b = rest.as_bytes();
            let ok = b.len() == 12
                && b[..9].iter().all(u8::is_ascii_digit)
                && b[9] == b'B'
                && b[10..].iter().all(u8::is_ascii_digit);
            if ok {
                Ok(s)
            } else {
                Err(IdentifierError::Format {
                    expected: "NL + 12",
                })
            }
        }
    }
}

/// Belgian enterprise number (KBO/BCE): 10 digits, `97 - (first 8 mod 97)` = last 2.
/// Dutch KvK number: 8 digits.
pub fn parse_registration_number(country: Country, input: &str) -> Result<String, IdentifierError> {
    match country {
        Country::BE => {
            let mut d = digits(input, "10")?;
            if d.len() == 9 {
                d.insert(0, '0');
            }
            if d.len() != 10 {
                return Err(IdentifierError::Format { expected: "10" });
            }
            let base: u64 = d[..8]
                .parse()
                .map_err(|_| IdentifierError::Format { expected: "10" })?;
            let check: u64 = d[8..]
                .parse()
                .map_err(|_| IdentifierError::Format { expected: "10" })?;
            if 97 - base % 97 == check {
                Ok(d)
            } else {
                Err(IdentifierError::Checksum)
            }
        }
        Country::NL => {
            let d = digits(input, "8")?;
            if d.len() == 8 {
                Ok(d)
            } else {
                Err(IdentifierError::Format { expected: "8" })
            }
        }
    }
}

#[cfg(test)]
mod payment_identifier_tests {
    use super::*;

    #[test]
    fn ibans_bics_and_vat_numbers() {
        assert_eq!(
            parse_iban("be68 5390 0754 7034").unwrap(),
            "BE68539007547034"
        );
        assert_eq!(
            parse_iban("NL91ABNA0417164300").unwrap(),
            "NL91ABNA0417164300"
        );
        assert!(parse_iban("BE68539007547035").is_err());
        assert!(parse_iban("NL91ABNA041716430").is_err());
        assert_eq!(parse_bic("gebabebb").unwrap(), "GEBABEBB");
        assert!(parse_bic("GEBA1EBB").is_err());
        assert_eq!(
            parse_vat_number(Country::BE, "BE 0403.019.261").unwrap(),
            "BE0403019261"
        );
        assert!(parse_vat_number(Country::BE, "BE0403019262").is_err());
        assert_eq!(
            parse_vat_number(Country::NL, "NL123456789B01").unwrap(),
            "NL123456789B01"
        );
        assert!(parse_vat_number(Country::NL, "NL123456789C01").is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a valid INSZ from its first nine digits.
    fn insz(base: &str, from_2000: bool) -> String {
        let b: u64 = base.parse().unwrap();
        let check = if from_2000 {
            97 - (2_000_000_000 + b) % 97
        } else {
            97 - b % 97
        };
        format!("{base}{check:02}")
    }

    #[test]
    fn insz_before_and_after_2000() {
        let old = insz("850730033", false);
        assert_eq!(parse_insz(&old).unwrap(), old);
        let new = insz("050730033", true);
        assert_eq!(parse_insz(&new).unwrap(), new);
        // Written with the usual separators.
        let written = format!(
            "{}.{}.{}-{}.{}",
            &old[..2],
            &old[2..4],
            &old[4..6],
            &old[6..9],
            &old[9..]
        );
        assert_eq!(parse_insz(&written).unwrap(), old);
    }

    #[test]
    fn insz_refuses_bad_check_and_format() {
        let mut bad = insz("850730033", false);
        let last = bad.pop().unwrap();
        bad.push(if last == '9' {
            '0'
        } else {
            char::from(last as u8 + 1)
        });
        assert_eq!(parse_insz(&bad), Err(IdentifierError::Checksum));
        assert!(matches!(
            parse_insz("1234"),
            Err(IdentifierError::Format { .. })
        ));
        assert!(matches!(
            parse_insz("85073003abc"),
            Err(IdentifierError::Format { .. })
        ));
    }

    #[test]
    fn bsn_eleven_proof() {
        assert_eq!(parse_bsn("111222333").unwrap(), "111222333");
        assert_eq!(parse_bsn("123456782").unwrap(), "123456782");
        assert_eq!(parse_bsn("123456789"), Err(IdentifierError::Checksum));
        assert_eq!(parse_bsn("000000000"), Err(IdentifierError::Checksum));
        assert!(matches!(
            parse_bsn("12345"),
            Err(IdentifierError::Format { .. })
        ));
    }

    #[test]
    fn every_single_digit_change_breaks_a_bsn() {
        let good = "123456782";
        for i in 0..9 {
            for d in b'0'..=b'9' {
                let mut b = good.as_bytes().to_vec();
                if b[i] == d {
                    continue;
                }
                b[i] = d;
                let s = String::from_utf8(b).unwrap();
                assert!(parse_bsn(&s).is_err(), "{s} passed");
            }
        }
    }

    #[test]
    fn mobile_numbers_to_e164() {
        assert_eq!(
            MobileNumber::parse(Country::BE, "0470 12 34 56")
                .unwrap()
                .as_str(),
            "+32470123456"
        );
        assert_eq!(
            MobileNumber::parse(Country::NL, "06 12345678")
                .unwrap()
                .as_str(),
            "+31612345678"
        );
        assert_eq!(
            MobileNumber::parse(Country::BE, "+31 6 12345678")
                .unwrap()
                .as_str(),
            "+31612345678"
        );
        assert!(
            MobileNumber::parse(Country::BE, "02 123 45 67").is_err(),
            "Brussels landline"
        );
        assert!(MobileNumber::parse(Country::NL, "hello").is_err());
        assert!(MobileNumber::parse(Country::NL, "06 123").is_err());
    }

    #[test]
    fn enterprise_numbers() {
        assert_eq!(
            parse_registration_number(Country::BE, "0403.170.701").unwrap(),
            "0403170701"
        );
        assert!(parse_registration_number(Country::BE, "0403.170.702").is_err());
        assert_eq!(
            parse_registration_number(Country::NL, "12345678").unwrap(),
            "12345678"
        );
    }

    #[test]
    fn debug_output_hides_values() {
        let n = NationalNumber::parse(Country::NL, "111222333").unwrap();
        assert!(!format!("{n:?}").contains("111"));
        let m = MobileNumber::parse(Country::BE, "0470123456").unwrap();
        assert!(!format!("{m:?}").contains("470"));
    }
}

/// A normalised e-mail address: trimmed, lower case, one `@`, a dotted domain, no spaces.
pub fn parse_email(input: &str) -> Result<String, IdentifierError> {
    let e = input.trim().to_lowercase();
    let bad = IdentifierError::Email;
    let (local, domain) = e.split_once('@').ok_or(bad.clone())?;
    if e.len() > 254
        || local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || e.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad);
    }
    Ok(e)
}

#[cfg(test)]
mod email_tests {
    use super::parse_email;

    #[test]
    fn emails() {
        assert_eq!(parse_email("  An@Example.BE ").unwrap(), "an@example.be");
        for bad in ["", "a", "a@b", "@x.be", "a@@x.be", "a b@x.be", "a@x.be."] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }
}

/// NL AGB code of a care provider or practice: 8 digits (type of care 2 + number 6).
pub fn parse_agb(input: &str) -> Result<String, IdentifierError> {
    let d = digits(input, "8")?;
    if d.len() == 8 {
        Ok(d)
    } else {
        Err(IdentifierError::Format { expected: "8" })
    }
}

/// BE RIZIV/INAMI (NIHII) number of a provider: 11 digits, a 6-digit base, 2 check digits
/// `97 - (base mod 97)` and a 3-digit qualification code.
pub fn parse_riziv(input: &str) -> Result<String, IdentifierError> {
    let d = digits(input, "11")?;
    if d.len() != 11 {
        return Err(IdentifierError::Format { expected: "11" });
    }
    let base: u64 = d[..6]
        .parse()
        .map_err(|_| IdentifierError::Format { expected: "11" })?;
    let check: u64 = d[6..8]
        .parse()
        .map_err(|_| IdentifierError::Format { expected: "11" })?;
    if 97 - base % 97 == check {
        Ok(d)
    } else {
        Err(IdentifierError::Checksum)
    }
}

#[cfg(test)]
mod provider_tests {
    use super::*;

    #[test]
    fn riziv_and_agb() {
        assert_eq!(parse_riziv("5-42634-81-527").unwrap(), "54263481527");
        assert_eq!(parse_riziv("19234011004").unwrap(), "19234011004");
        assert_eq!(parse_riziv("54263482527"), Err(IdentifierError::Checksum));
        assert!(parse_riziv("1234").is_err());
        assert_eq!(parse_agb("04123456").unwrap(), "04123456");
        assert!(parse_agb("0412345").is_err());
    }
}
