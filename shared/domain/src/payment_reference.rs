//! Payment references on invoices.
//!
//! **Belgium:** the structured communication (*gestructureerde mededeling / communication
//! structurée*, OGM-VCS) `+++123/4567/89002+++`: ten digits and two check digits, the
//! remainder of the ten-digit number divided by 97 (97 when the remainder is 0). Banks refuse a
//! transfer whose check digits are wrong, and a bank statement carries it back, which is how a
//! transfer finds its invoice. **The Netherlands** has no such national format in use by
//! patients; the invoice number is the reference.

use std::fmt;

/// A Belgian structured communication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StructuredCommunication {
    base: u64,
}

/// Why a structured communication was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StructuredCommunicationError {
    /// Not twelve digits (with or without the `+++…/…/…+++` dressing).
    #[error("a structured communication has 12 digits")]
    Format,
    /// The check digits do not match.
    #[error("the check digits do not match")]
    CheckDigits,
}

impl StructuredCommunication {
    /// The largest base: ten digits.
    pub const MAX_BASE: u64 = 9_999_999_999;

    /// The communication of a ten-digit number.
    pub fn from_base(base: u64) -> Option<Self> {
        (base <= Self::MAX_BASE).then_some(Self { base })
    }

    /// The communication of an invoice: the year's last two digits and its sequence number
    /// (unique per practice within a century).
    pub fn for_invoice(year: i32, seq: i32) -> Option<Self> {
        let year = u64::try_from(year.rem_euclid(100)).ok()?;
        let seq = u64::try_from(seq).ok().filter(|s| *s < 100_000_000)?;
        Self::from_base(year * 100_000_000 + seq)
    }

    /// The check digits of a base.
    pub const fn check_digits(base: u64) -> u64 {
        match base % 97 {
            0 => 97,
            r => r,
        }
    }

    /// Reads one from a statement or a person: `+++123/4567/89002+++`, `***…***`, or the 12
    /// digits with any spaces, slashes or dressing.
    pub fn parse(input: &str) -> Result<Self, StructuredCommunicationError> {
        let mut digits = String::with_capacity(12);
        for c in input.trim().chars() {
            match c {
                '0'..='9' => digits.push(c),
                '+' | '*' | '/' | ' ' => {}
                _ => return Err(StructuredCommunicationError::Format),
            }
        }
        if digits.len() != 12 {
            return Err(StructuredCommunicationError::Format);
        }
        let base: u64 = digits[..10]
            .parse()
            .map_err(|_| StructuredCommunicationError::Format)?;
        let check: u64 = digits[10..]
            .parse()
            .map_err(|_| StructuredCommunicationError::Format)?;
        if Self::check_digits(base) != check {
            return Err(StructuredCommunicationError::CheckDigits);
        }
        Ok(Self { base })
    }

    /// The twelve digits.
    pub fn digits(self) -> String {
        format!("{:010}{:02}", self.base, Self::check_digits(self.base))
    }
}

impl fmt::Display for StructuredCommunication {
    /// `+++123/4567/89002+++`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.digits();
        write!(f, "+++{}/{}/{}+++", &d[..3], &d[3..7], &d[7..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_communications() {
        // 0000000001 → 01; 0000000097 → 97 (remainder 0); 1234567890 mod 97 = 2.
        assert_eq!(
            StructuredCommunication::from_base(1).unwrap().digits(),
            "000000000101"
        );
        assert_eq!(
            StructuredCommunication::from_base(97).unwrap().digits(),
            "000000009797"
        );
        let c = StructuredCommunication::from_base(1_234_567_890).unwrap();
        assert_eq!(c.to_string(), "+++123/4567/89002+++");
        assert_eq!(
            StructuredCommunication::parse("+++123/4567/89002+++"),
            Ok(c)
        );
        assert_eq!(
            StructuredCommunication::parse("***123/4567/89002***"),
            Ok(c)
        );
        assert_eq!(StructuredCommunication::parse("123456789002"), Ok(c));
        assert_eq!(
            StructuredCommunication::parse("+++123/4567/89003+++"),
            Err(StructuredCommunicationError::CheckDigits)
        );
        assert_eq!(
            StructuredCommunication::parse("+++123/4567/8900+++"),
            Err(StructuredCommunicationError::Format)
        );
        assert_eq!(
            StructuredCommunication::for_invoice(2026, 123)
                .unwrap()
                .digits()[..10],
            *"2600000123"
        );
    }

    proptest! {
        #[test]
        fn every_communication_validates(base in 0u64..=StructuredCommunication::MAX_BASE) {
            let c = StructuredCommunication::from_base(base).unwrap();
            prop_assert_eq!(StructuredCommunication::parse(&c.to_string()), Ok(c));
            prop_assert_eq!(StructuredCommunication::parse(&c.digits()), Ok(c));
        }

        #[test]
        fn a_changed_digit_or_a_swap_fails(base in 0u64..=StructuredCommunication::MAX_BASE, at in 0usize..12, by in 1u8..=9, swap in 0usize..9) {
            let digits = StructuredCommunication::from_base(base).unwrap().digits();
            let mut changed = digits.clone().into_bytes();
            changed[at] = b'0' + (changed[at] - b'0' + by) % 10;
            let changed = String::from_utf8(changed).unwrap();
            prop_assert!(StructuredCommunication::parse(&changed).is_err(), "{}", changed);
            let mut swapped = digits.clone().into_bytes();
            swapped.swap(swap, swap + 1);
            let swapped = String::from_utf8(swapped).unwrap();
            if swapped != digits {
                prop_assert!(StructuredCommunication::parse(&swapped).is_err(), "{}", swapped);
            }
        }
    }
}
