//! Closed vocabularies stored as text: a state, a reason, a channel. Each is an enum whose
//! every value has one spelling, used in JSON, in the database and in logs alike; the
//! database's CHECK constraint lists the same spellings (a test keeps the two in step).
//!
//! [`vocabulary!`](crate::vocabulary) writes the enum and its conversions; the enum's own file
//! holds its rules.

/// A stored value that is not in the vocabulary (a corrupted row or a newer writer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a known {vocabulary}")]
pub struct UnknownValue {
    /// The vocabulary's name.
    pub vocabulary: &'static str,
    /// What was read (a short code, never personal data).
    pub value: String,
}

/// Declares a vocabulary: `vocabulary! { /// doc  pub enum Name { /// doc  Variant = "text", … } }`.
///
/// The enum gets `ALL`, `as_str`, `Display`, `FromStr`, `TryFrom<String>` (for
/// `#[sqlx(try_from = "String")]` on row types), serde and an OpenAPI schema listing the
/// spellings.
#[macro_export]
macro_rules! vocabulary {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::vocabulary::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::vocabulary::UnknownValue {
                        vocabulary: stringify!($name),
                        value: s.chars().take(40).collect(),
                    }),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::vocabulary::UnknownValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        // Written out rather than derived: the derive does not see a `rename` whose value comes
        // from a macro argument, and would document the Rust names instead of the spellings.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl From<$name> for &'static str {
            fn from(v: $name) -> &'static str {
                v.as_str()
            }
        }

        $crate::vocabulary_sqlx!($name);
    };
}

/// With the `sqlx` feature: a vocabulary is a text value in PostgreSQL, bound and decoded as
/// its spelling (an unknown spelling fails the decode, naming the vocabulary).
#[cfg(feature = "sqlx")]
#[doc(hidden)]
#[macro_export]
macro_rules! vocabulary_sqlx {
    ($name:ident) => {
        impl ::sqlx::Type<::sqlx::Postgres> for $name {
            fn type_info() -> ::sqlx::postgres::PgTypeInfo {
                <&str as ::sqlx::Type<::sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &::sqlx::postgres::PgTypeInfo) -> bool {
                <&str as ::sqlx::Type<::sqlx::Postgres>>::compatible(ty)
            }
        }

        impl<'q> ::sqlx::Encode<'q, ::sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut ::sqlx::postgres::PgArgumentBuffer,
            ) -> Result<::sqlx::encode::IsNull, ::sqlx::error::BoxDynError> {
                <&str as ::sqlx::Encode<'q, ::sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> ::sqlx::Decode<'r, ::sqlx::Postgres> for $name {
            fn decode(
                value: ::sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, ::sqlx::error::BoxDynError> {
                let text = <&str as ::sqlx::Decode<'r, ::sqlx::Postgres>>::decode(value)?;
                Ok(text.parse::<$name>()?)
            }
        }

        impl ::sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> ::sqlx::postgres::PgTypeInfo {
                <&str as ::sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }
    };
}

#[cfg(not(feature = "sqlx"))]
#[doc(hidden)]
#[macro_export]
macro_rules! vocabulary_sqlx {
    ($name:ident) => {};
}

#[cfg(test)]
mod tests {
    crate::vocabulary! {
        /// A test vocabulary.
        pub enum Colour {
            /// Red.
            Red = "red",
            /// Dark blue.
            DarkBlue = "dark_blue",
        }
    }

    #[test]
    fn spellings_round_trip_through_text_and_json() {
        for c in Colour::ALL {
            assert_eq!(c.as_str().parse::<Colour>(), Ok(*c));
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{c}\""));
            assert_eq!(serde_json::from_str::<Colour>(&json).unwrap(), *c);
        }
        let e = "green".parse::<Colour>().unwrap_err();
        assert_eq!(e.vocabulary, "Colour");
        assert!(serde_json::from_str::<Colour>("\"Red\"").is_err());
    }

    #[test]
    fn the_schema_lists_the_spellings() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(Colour::schema()).unwrap();
        assert_eq!(schema["enum"], serde_json::json!(["red", "dark_blue"]));
        assert_eq!(<Colour as utoipa::ToSchema>::name(), "Colour");
    }
}
