//! The one rule for free text the API takes, used by every service.
//!
//! A *line* (names, labels, reasons) is trimmed, 1 to `max` characters, and holds no control
//! character at all. A *text* (notes, templates, clinical summaries) may also hold line breaks
//! (`\n`) and tabs. No text holds NUL, ESC, DEL or any other C0/C1 control character: they break
//! terminals, logs and PostgreSQL (`text` refuses NUL), and no person types them.

/// The prefix of a deserialisation error that is a field error of our own: its message says what
/// is expected and never quotes the input, so the HTTP layer may show it (as a 422).
pub const FIELD_ERROR: &str = "invalid field: ";

/// What no text holds, as a regular-expression class body (ECMA-262 and Python alike).
const NO_CONTROL: &str = r"\x00-\x1F\x7F-\x9F";
/// What no multi-line text holds: every control character but tab and line feed.
const NO_CONTROL_BUT_BREAKS: &str = r"\x00-\x08\x0B-\x1F\x7F-\x9F";

/// The JSON-schema pattern of a required line: no control character, not blank.
pub fn line_pattern() -> String {
    format!("^[^{NO_CONTROL}]*[^\\s{NO_CONTROL}][^{NO_CONTROL}]*$")
}

/// The JSON-schema pattern of a required multi-line text.
pub fn text_pattern() -> String {
    let c = NO_CONTROL_BUT_BREAKS;
    format!("^[^{c}]*[^\\s{c}][^{c}]*$")
}

/// Why a text was refused. The messages say what is expected, never what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// A control character other than a line break or tab (or one of those in a line).
    #[error("must not contain control characters")]
    ControlCharacter,
    /// A line break or tab in a single-line field.
    #[error("must be a single line (no line breaks or tabs)")]
    LineBreak,
    /// Empty after trimming.
    #[error("must not be empty")]
    Empty,
    /// Longer than allowed.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The limit in characters.
        max: usize,
    },
}

/// Whether `s` holds a control character that no text of this API accepts (everything
/// `char::is_control` says except `\n` and `\t`).
pub fn has_forbidden_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// A required single-line text, trimmed. The limit counts the characters as sent (as the
/// schema's `maxLength` does), before trimming.
pub fn line(s: &str, max: usize) -> Result<String, TextError> {
    if s.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    let t = s.trim();
    if has_forbidden_control(t) {
        return Err(TextError::ControlCharacter);
    }
    if t.contains(['\n', '\t']) {
        return Err(TextError::LineBreak);
    }
    bounded(t, max)
}

/// A required multi-line text, trimmed at both ends (the limit counts as in [`line`]).
pub fn text(s: &str, max: usize) -> Result<String, TextError> {
    if s.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    let t = s.trim();
    if has_forbidden_control(t) {
        return Err(TextError::ControlCharacter);
    }
    bounded(t, max)
}

/// An optional text: absent or blank is `None`, anything else must pass `check`.
pub fn optional(
    s: Option<&str>,
    max: usize,
    check: fn(&str, usize) -> Result<String, TextError>,
) -> Result<Option<String>, TextError> {
    match s {
        Some(raw) if raw.chars().count() > max => Err(TextError::TooLong { max }),
        None => Ok(None),
        Some(raw) if raw.trim().is_empty() => {
            if has_forbidden_control(raw) {
                Err(TextError::ControlCharacter)
            } else {
                Ok(None)
            }
        }
        Some(raw) => check(raw, max).map(Some),
    }
}

fn bounded(t: &str, max: usize) -> Result<String, TextError> {
    if t.is_empty() {
        return Err(TextError::Empty);
    }
    if t.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    Ok(t.to_owned())
}

/// A required single-line text of at most `MAX` characters, checked (and trimmed) when it is
/// read: a request with a bad one never reaches a handler. Its schema states the same rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Line<const MAX: usize>(String);

/// A required multi-line text (line breaks and tabs allowed) of at most `MAX` characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Text<const MAX: usize>(String);

macro_rules! text_type {
    ($ty:ident, $check:ident, $pattern:ident, $what:literal) => {
        impl<const MAX: usize> $ty<MAX> {
            /// Checks and trims `s`.
            pub fn parse(s: &str) -> Result<Self, TextError> {
                $check(s, MAX).map(Self)
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The text, owned.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl<const MAX: usize> AsRef<str> for $ty<MAX> {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<const MAX: usize> std::fmt::Display for $ty<MAX> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<const MAX: usize> From<$ty<MAX>> for String {
            fn from(t: $ty<MAX>) -> String {
                t.0
            }
        }

        impl<'de, const MAX: usize> serde::Deserialize<'de> for $ty<MAX> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                Self::parse(&s).map_err(|e| {
                    <D::Error as serde::de::Error>::custom(format!("{FIELD_ERROR}{e}"))
                })
            }
        }

        impl<const MAX: usize> serde::Serialize for $ty<MAX> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<const MAX: usize> utoipa::PartialSchema for $ty<MAX> {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .min_length(Some(1))
                    .max_length(Some(MAX))
                    .pattern(Some($pattern()))
                    .description(Some(format!($what, MAX)))
                    .into()
            }
        }

        impl<const MAX: usize> utoipa::ToSchema for $ty<MAX> {
            // One component per limit: `Line200`, `Text1000`.
            fn name() -> std::borrow::Cow<'static, str> {
                format!("{}{}", stringify!($ty), MAX).into()
            }
        }
    };
}

text_type!(
    Line,
    line,
    line_pattern,
    "One line of at most {} characters, not blank, without control characters (trimmed)."
);
text_type!(
    Text,
    text,
    text_pattern,
    "Text of at most {} characters, not blank; line breaks and tabs allowed, no other control characters (trimmed)."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_refuse_every_control_character_and_line_breaks() {
        assert_eq!(line("  Jansen ", 10).as_deref(), Ok("Jansen"));
        for bad in ["a\u{0}b", "a\u{1b}[31mb", "a\u{7f}", "a\u{85}b", "a\rb"] {
            assert_eq!(line(bad, 10), Err(TextError::ControlCharacter), "{bad:?}");
        }
        assert_eq!(line("a\nb", 10), Err(TextError::LineBreak));
        assert_eq!(line("a\tb", 10), Err(TextError::LineBreak));
        assert_eq!(line("   ", 10), Err(TextError::Empty));
        assert_eq!(
            line("ééééé", 5).as_deref(),
            Ok("ééééé"),
            "characters, not bytes"
        );
        assert_eq!(line("ééééé", 4), Err(TextError::TooLong { max: 4 }));
        assert_eq!(
            line("\u{a0}abc", 3),
            Err(TextError::TooLong { max: 3 }),
            "counted as sent, like maxLength"
        );
    }

    #[test]
    fn texts_keep_line_breaks_and_tabs_only() {
        assert_eq!(text("a\n\tb\n", 10).as_deref(), Ok("a\n\tb"));
        assert_eq!(text("a\u{0}", 10), Err(TextError::ControlCharacter));
        assert_eq!(text("a\r\nb", 10), Err(TextError::ControlCharacter));
    }

    #[test]
    fn optional_texts_treat_blank_as_absent() {
        assert_eq!(optional(None, 5, line), Ok(None));
        assert_eq!(optional(Some("  "), 5, line), Ok(None));
        assert_eq!(optional(Some(" x "), 5, line), Ok(Some("x".to_owned())));
        assert_eq!(
            optional(Some("x\u{1}"), 5, text),
            Err(TextError::ControlCharacter)
        );
    }

    #[test]
    fn the_schema_patterns_say_what_the_parsers_check() {
        // Rust's `regex` is not a dependency; check the patterns' class bodies by hand: what
        // `line` refuses as a control character is exactly the class the pattern excludes.
        let excluded =
            |c: char| ('\u{0}'..='\u{1F}').contains(&c) || ('\u{7F}'..='\u{9F}').contains(&c);
        for c in (0u32..0x200).filter_map(char::from_u32) {
            assert_eq!(c.is_control(), excluded(c), "{c:?}");
        }
        assert!(line_pattern().starts_with("^[^\\x00-\\x1F\\x7F-\\x9F]*"));
        assert!(text_pattern().contains("\\x0B-\\x1F"));
    }

    #[test]
    fn typed_texts_read_like_the_functions() {
        let l: Line<5> = serde_json::from_str("\" ab \"").unwrap();
        assert_eq!(l.as_str(), "ab");
        let e = serde_json::from_str::<Line<5>>("\"a\\u0000\"")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(FIELD_ERROR), "{e}");
        assert!(serde_json::from_str::<Line<5>>("\"a\\nb\"").is_err());
        assert!(serde_json::from_str::<Text<5>>("\"a\\nb\"").is_ok());
        assert!(serde_json::from_str::<Line<2>>("\"abc\"").is_err());
    }

    #[test]
    fn errors_never_quote_the_input() {
        for e in [
            TextError::ControlCharacter,
            TextError::LineBreak,
            TextError::Empty,
            TextError::TooLong { max: 3 },
        ] {
            assert!(!e.to_string().contains('"'));
        }
    }
}
