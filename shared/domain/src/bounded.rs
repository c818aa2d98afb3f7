//! Whole numbers with a range, checked when they are read and stated in the schema: the range
//! is written once, in the type.

use crate::text::FIELD_ERROR;

/// A whole number from `MIN` to `MAX` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Int<const MIN: i64, const MAX: i64>(i64);

impl<const MIN: i64, const MAX: i64> Int<MIN, MAX> {
    /// Checks the range.
    pub fn new(v: i64) -> Result<Self, OutOfRange> {
        if (MIN..=MAX).contains(&v) {
            Ok(Self(v))
        } else {
            Err(OutOfRange { min: MIN, max: MAX })
        }
    }

    /// The number.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The number as an `i32` (every range used fits).
    pub fn get_i32(self) -> i32 {
        i32::try_from(self.0).expect("ranges used with get_i32 fit an i32")
    }
}

impl<const MIN: i64, const MAX: i64> Default for Int<MIN, MAX> {
    /// Zero, or the nearest number in range.
    fn default() -> Self {
        Self(0.clamp(MIN, MAX))
    }
}

/// A number outside its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be between {min} and {max}")]
pub struct OutOfRange {
    /// Lowest allowed.
    pub min: i64,
    /// Highest allowed.
    pub max: i64,
}

impl<'de, const MIN: i64, const MAX: i64> serde::Deserialize<'de> for Int<MIN, MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = <i64 as serde::Deserialize>::deserialize(d)?;
        Self::new(v)
            .map_err(|e| <D::Error as serde::de::Error>::custom(format!("{FIELD_ERROR}{e}")))
    }
}

impl<const MIN: i64, const MAX: i64> serde::Serialize for Int<MIN, MAX> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl<const MIN: i64, const MAX: i64> utoipa::PartialSchema for Int<MIN, MAX> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Integer))
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
            .minimum(Some(MIN as f64))
            .maximum(Some(MAX as f64))
            .into()
    }
}

impl<const MIN: i64, const MAX: i64> utoipa::ToSchema for Int<MIN, MAX> {
    // One component per range: `Int5To480`.
    fn name() -> std::borrow::Cow<'static, str> {
        format!("Int{MIN}To{MAX}").replace('-', "Minus").into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_checked_on_reading() {
        assert_eq!(serde_json::from_str::<Int<5, 120>>("5").unwrap().get(), 5);
        assert_eq!(
            serde_json::from_str::<Int<5, 120>>("120")
                .unwrap()
                .get_i32(),
            120
        );
        let e = serde_json::from_str::<Int<5, 120>>("4")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(FIELD_ERROR) && e.contains("between 5 and 120"),
            "{e}"
        );
        assert!(serde_json::from_str::<Int<5, 120>>("121").is_err());
        assert!(serde_json::from_str::<Int<5, 120>>("\"7\"").is_err());
    }
}
