//! Concurrent edits: every editable resource has a `version` raised by each change; a read
//! answers it as a strong `ETag` (`"7"`), and a change may send `If-Match: "7"`. When the
//! version moved on, the change is refused with 412 and nothing is written — instead of one
//! person's edit silently overwriting another's. Without `If-Match` the change applies
//! (last writer wins), as clients that predate it expect.
//!
//! The check runs on the row as locked for the change (`select … for update`), so two edits
//! with the same `If-Match` cannot both pass.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, header};

use crate::error::ApiError;

/// The `If-Match` of a request: the versions it accepts, or any (`*` or absent).
#[derive(Debug, Clone, Default)]
pub struct IfMatch(Option<Vec<i32>>);

/// The documented shape of an `If-Match` value.
pub const IF_MATCH_PATTERN: &str = r#"^(\*|(W/)?"[0-9]{1,9}"(\s*,\s*(W/)?"[0-9]{1,9}")*)$"#;

impl IfMatch {
    /// Refuses with 412 when the request named versions and `current` is not one of them.
    pub fn check(&self, current: i32) -> Result<(), ApiError> {
        match &self.0 {
            Some(versions) if !versions.contains(&current) => Err(ApiError::precondition_failed()),
            _ => Ok(()),
        }
    }

    fn parse(value: &str) -> Option<Option<Vec<i32>>> {
        let value = value.trim();
        // `*`, or an empty field (an empty list of tags: no condition).
        if value == "*" || value.is_empty() {
            return Some(None);
        }
        value
            .split(',')
            .map(|tag| {
                let tag = tag.trim();
                let tag = tag.strip_prefix("W/").unwrap_or(tag);
                tag.strip_prefix('"')?
                    .strip_suffix('"')
                    .filter(|v| {
                        !v.is_empty() && v.len() <= 9 && v.bytes().all(|b| b.is_ascii_digit())
                    })?
                    .parse()
                    .ok()
            })
            .collect::<Option<Vec<i32>>>()
            .map(Some)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(v) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        v.to_str()
            .ok()
            .and_then(IfMatch::parse)
            .map(IfMatch)
            .ok_or_else(|| {
                ApiError::invalid_parameter("If-Match", "an entity tag such as \"7\", or *")
            })
    }
}

/// The `ETag` header of a resource at `version`.
pub fn etag(version: i32) -> [(HeaderName, HeaderValue); 1] {
    let value =
        HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a header value");
    [(header::ETAG, value)]
}

#[cfg(test)]
mod tests {
    use super::IfMatch;

    #[test]
    fn entity_tags_are_read_strictly() {
        assert_eq!(IfMatch::parse("\"7\""), Some(Some(vec![7])));
        assert_eq!(IfMatch::parse("W/\"7\", \"8\""), Some(Some(vec![7, 8])));
        assert_eq!(IfMatch::parse("*"), Some(None));
        assert_eq!(IfMatch::parse(" "), Some(None));
        for bad in ["7", "\"x\"", "\"\"", "\"1234567890\"", "\"7\","] {
            assert_eq!(IfMatch::parse(bad), None, "{bad}");
        }
        assert!(IfMatch(Some(vec![3])).check(3).is_ok());
        assert_eq!(IfMatch(Some(vec![3])).check(4).unwrap_err().status(), 412);
        assert!(IfMatch(None).check(4).is_ok());
    }
}
