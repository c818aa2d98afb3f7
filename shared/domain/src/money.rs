//! Amounts of money: a decimal in one currency, with one rounding rule.
//!
//! **Rounding rule:** an amount is rounded once, per invoice line, to whole cents, half away
//! from zero (`2.345 → 2.35`, `-2.345 → -2.35`; "half-up" on magnitudes, as Belgian and Dutch
//! invoices expect). Totals are sums of rounded lines and are never rounded again, so a credit
//! note that negates every line negates the total exactly.

use std::fmt;
use std::ops::{Add, Neg, Sub};

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::vocabulary;

vocabulary! {
    /// An ISO 4217 currency the practices invoice in.
    pub enum Currency {
        /// Euro (Belgium and the Netherlands).
        Eur = "EUR",
    }
}

impl Currency {
    /// Digits after the decimal point.
    pub const fn minor_digits(self) -> u32 {
        match self {
            Currency::Eur => 2,
        }
    }
}

/// Why an amount cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Two currencies in one sum.
    #[error("amounts in {0} and {1} cannot be added")]
    CurrencyMismatch(Currency, Currency),
    /// More precision than the currency has (an unrounded amount where cents are needed).
    #[error("the amount has more than {0} decimals")]
    TooPrecise(u32),
    /// Outside what the minor-unit integer holds.
    #[error("the amount is too large")]
    Overflow,
}

/// An amount in a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// Zero.
    pub const fn zero(currency: Currency) -> Money {
        Money {
            amount: Decimal::ZERO,
            currency,
        }
    }

    /// An exact amount; use [`Money::rounded`] where the rounding rule applies.
    pub fn new(amount: Decimal, currency: Currency) -> Money {
        Money { amount, currency }
    }

    /// `amount` rounded to whole minor units by the rounding rule.
    pub fn rounded(amount: Decimal, currency: Currency) -> Money {
        Money {
            amount: amount.round_dp_with_strategy(
                currency.minor_digits(),
                RoundingStrategy::MidpointAwayFromZero,
            ),
            currency,
        }
    }

    /// From minor units (cents).
    pub fn from_minor(minor: i64, currency: Currency) -> Money {
        Money {
            amount: Decimal::new(minor, currency.minor_digits()),
            currency,
        }
    }

    /// In minor units (cents), as payment providers take it; refuses an unrounded amount.
    pub fn to_minor(self) -> Result<i64, MoneyError> {
        let digits = self.currency.minor_digits();
        let scaled = self.amount * Decimal::from(10_i64.pow(digits));
        if scaled.fract() != Decimal::ZERO {
            return Err(MoneyError::TooPrecise(digits));
        }
        i64::try_from(scaled).map_err(|_| MoneyError::Overflow)
    }

    /// `unit × quantity`, rounded by the rule: the amount of one invoice line.
    pub fn line(unit: Decimal, quantity: Decimal, currency: Currency) -> Money {
        Money::rounded(unit * quantity, currency)
    }

    /// The amount.
    pub const fn amount(self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub const fn currency(self) -> Currency {
        self.currency
    }

    /// Whether it is below zero.
    pub fn is_negative(self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }

    /// The sum, refusing to mix currencies.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        self.amount
            .checked_add(other.amount)
            .map(|amount| Money {
                amount,
                currency: self.currency,
            })
            .ok_or(MoneyError::Overflow)
    }

    /// The sum of `amounts` (zero when empty).
    pub fn sum(
        currency: Currency,
        amounts: impl IntoIterator<Item = Money>,
    ) -> Result<Money, MoneyError> {
        amounts
            .into_iter()
            .try_fold(Money::zero(currency), Money::checked_add)
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money {
            amount: -self.amount,
            currency: self.currency,
        }
    }
}

/// Same-currency arithmetic; mixing currencies is a programming error here (use
/// [`Money::checked_add`] on values that come from outside).
impl Add for Money {
    type Output = Money;
    fn add(self, other: Money) -> Money {
        self.checked_add(other).expect("amounts in one currency")
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, other: Money) -> Money {
        self + (-other)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.*} {}",
            self.currency.minor_digits() as usize,
            self.amount,
            self.currency
        )
    }
}

/// Whole cents of an amount in euros, rounded half away from zero (Stripe and claim files
/// count in cents); amounts beyond `i64` cents saturate.
pub fn to_cents(amount: Decimal) -> i64 {
    use rust_decimal::prelude::ToPrimitive;
    (amount * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .to_i64()
        .unwrap_or(if amount.is_sign_negative() {
            i64::MIN
        } else {
            i64::MAX
        })
}

/// Writes an amount with exactly two decimals (`"0.00"`, `"42.50"`), for
/// `#[serde(serialize_with = "domain::money::serialize_cents")]` on API fields: a decimal read
/// back from the database may have lost its scale (zero does).
pub fn serialize_cents<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{:.2}", d))
}

/// [`serialize_cents`] for an amount that may be absent (`null`).
pub fn serialize_cents_opt<S: serde::Serializer>(
    d: &Option<Decimal>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => serialize_cents(d, s),
        None => s.serialize_none(),
    }
}

/// Declares a decimal read from a JSON string with at most two decimals, from zero (or above
/// it) up to a bound: the OpenAPI pattern states the shape, the type checks the rest.
macro_rules! decimal_input {
    ($(#[$meta:meta])* $name:ident, pattern = $pattern:literal, max = $max:literal, positive = $positive:literal, example = $example:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Decimal);

        impl $name {
            /// Checks scale and range.
            pub fn new(v: Decimal) -> Result<Self, DecimalInputError> {
                let max = Decimal::from_str_exact($max).expect("a decimal bound");
                if v.normalize().scale() > 2 {
                    return Err(DecimalInputError::TooPrecise);
                }
                if v.is_sign_negative() && !v.is_zero() || ($positive && v.is_zero()) || v > max {
                    return Err(DecimalInputError::OutOfRange { positive: $positive, max: $max });
                }
                Ok(Self(v.normalize()))
            }

            /// The value.
            pub const fn get(self) -> Decimal {
                self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use serde::de::Error;
                let s = <std::borrow::Cow<'de, str> as Deserialize>::deserialize(d)?;
                let shape_ok = !s.is_empty()
                    && s.len() <= 16
                    && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                    && s.bytes().filter(|b| *b == b'.').count() <= 1
                    && !s.starts_with('.')
                    && !s.ends_with('.');
                let v = shape_ok
                    .then(|| Decimal::from_str_exact(&s).ok())
                    .flatten()
                    .ok_or_else(|| D::Error::custom(format!("{}a decimal number like \"{}\"", crate::text::FIELD_ERROR, $example)))?;
                Self::new(v).map_err(|e| D::Error::custom(format!("{}{e}", crate::text::FIELD_ERROR)))
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.0)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .pattern(Some($pattern))
                    .max_length(Some(16))
                    .examples([serde_json::json!($example)])
                    .description(Some(format!(
                        "A decimal as a string, at most two decimals, up to {}{}",
                        $max,
                        if $positive { ", above zero." } else { "." }
                    )))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

/// Why a decimal input was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalInputError {
    /// More than two decimals.
    #[error("at most two decimals")]
    TooPrecise,
    /// Negative, zero where it must be positive, or too large.
    #[error("must be {} and at most {max}", if *positive { "above zero" } else { "zero or more" })]
    OutOfRange {
        /// Whether zero is refused.
        positive: bool,
        /// The largest value.
        max: &'static str,
    },
}

decimal_input!(
    /// An amount of money sent by a client (a unit price, a payment): euros with at most two
    /// decimals, zero or more.
    Amount, pattern = "^[0-9]{1,8}(\\.[0-9]{1,2})?$", max = "99999999.99", positive = false, example = "42.50"
);

decimal_input!(
    /// A quantity on an invoice line: above zero, at most two decimals (half sessions, km).
    Quantity, pattern = "^[0-9]{1,4}(\\.[0-9]{1,2})?$", max = "9999", positive = true, example = "1"
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn halves_round_away_from_zero_to_cents() {
        let cases = [
            ("2.345", "2.35"),
            ("2.344", "2.34"),
            ("-2.345", "-2.35"),
            ("0.005", "0.01"),
            ("10", "10.00"),
        ];
        for (input, want) in cases {
            assert_eq!(
                Money::rounded(d(input), Currency::Eur).amount(),
                d(want),
                "{input}"
            );
        }
    }

    #[test]
    fn cents_round_trip_and_unrounded_amounts_are_refused() {
        let m = Money::from_minor(12_345, Currency::Eur);
        assert_eq!(m.amount(), d("123.45"));
        assert_eq!(m.to_minor(), Ok(12_345));
        assert_eq!((-m).to_minor(), Ok(-12_345));
        assert_eq!(
            Money::new(d("1.005"), Currency::Eur).to_minor(),
            Err(MoneyError::TooPrecise(2))
        );
    }

    #[test]
    fn a_line_is_rounded_once_and_totals_are_plain_sums() {
        // 3 × 10.335 = 31.005 → 31.01 (per line), never 3 × 10.34.
        let line = Money::line(d("10.335"), d("3"), Currency::Eur);
        assert_eq!(line.amount(), d("31.01"));
        let total = Money::sum(Currency::Eur, [line, line, -line]).unwrap();
        assert_eq!(total, line);
        assert_eq!(line - line, Money::zero(Currency::Eur));
        assert_eq!(line.to_string(), "31.01 EUR");
    }
}
