//! Extractors that answer bad input with a problem naming the field, decided here once for the
//! whole API:
//!
//! - a body that is not JSON is a 400 without a field; a body that is JSON but not an object is a
//!   400 (`the body must be a JSON object`), whatever the route;
//! - a control character in any string of a body or query (NUL, ESC, DEL, C1; only `\n` and `\t`
//!   pass) is a 422 naming the field, before anything else looks at the value — single-line fields
//!   then refuse `\n` and `\t` through [`domain::text`];
//! - a field of the wrong type, an unknown or missing field, an unknown enum value: a 400 naming the
//!   field (JSON path) and what was expected, never the value that was sent.

use std::fmt;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};

use crate::error::ApiError;

/// A JSON body. Unknown fields are refused where the type says `deny_unknown_fields`; the
/// problem names the JSON path of the first bad field.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The bytes of a JSON body: refuses another content type (415) and a body over the limit
/// (413).
pub async fn json_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::unsupported_media_type());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(inner)
                if inner.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
            {
                ApiError::payload_too_large()
            }
            _ => ApiError::invalid_body(None, "the body could not be read"),
        })?;
        Ok(bytes)
    }
}

/// Parses a JSON object body: first a scan of its shape and strings (see the module doc), then
/// the typed read, naming the path of the first field that does not fit.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    scan(bytes)?;
    match read(bytes) {
        // JSON has one number type: `5.0` is the integer 5 (as JSON Schema says). serde does not
        // take a float for an integer, so a body that failed on one is read again with every
        // whole float written as an integer.
        Err(e) if e.wants_integer => {
            let mut value: serde_json::Value =
                serde_json::from_slice(bytes).map_err(|e| malformed(&e))?;
            whole_floats_as_integers(&mut value);
            let again = serde_json::to_vec(&value).map_err(ApiError::internal)?;
            read(&again).map_err(|e| *e.error)
        }
        other => other.map_err(|e| *e.error),
    }
}

/// A failed typed read, and whether it failed on a float where an integer was expected.
struct ReadError {
    error: Box<ApiError>,
    wants_integer: bool,
}

fn whole_floats_as_integers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                *v = serde_json::Value::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_floats_as_integers),
        serde_json::Value::Object(members) => {
            members.values_mut().for_each(whole_floats_as_integers)
        }
        _ => {}
    }
}

fn read<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ReadError> {
    let mut wants_integer = false;
    let result = read_once(bytes, &mut wants_integer);
    result.map_err(|error| ReadError {
        error: Box::new(error),
        wants_integer,
    })
}

fn read_once<T: DeserializeOwned>(bytes: &[u8], wants_integer: &mut bool) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if matches!(
            inner.classify(),
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof
        ) {
            return malformed(&inner);
        }
        let message = inner.to_string();
        let message = strip_location(&message);
        *wants_integer = message.starts_with("invalid type: floating point");
        if let Some(own) = message.strip_prefix(domain::text::FIELD_ERROR) {
            // A domain type's own verdict (it never quotes the input): the value is well-formed
            // JSON but not acceptable, like every other field rule.
            return match join_path(&path, None) {
                Some(field) => ApiError::invalid_field(field, own.to_owned()),
                None => ApiError::invalid_body(None, own.to_owned()),
            };
        }
        let (detail, member) = describe(message);
        ApiError::invalid_body(join_path(&path, member.as_deref()), detail)
    })?;
    // Nothing but white space may follow the object.
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

fn malformed(e: &serde_json::Error) -> ApiError {
    ApiError::invalid_body(
        None,
        format!("malformed JSON at line {} column {}", e.line(), e.column()),
    )
}

/// `path` as serde_path_to_error prints it (`.` for the top, `?` for a place it could not follow),
/// plus a member named by the error itself (a missing field).
///
/// Member names come from the client too: the path stops before the first one that is not a
/// plain identifier, so a name like `<script>` is never sent back.
fn join_path(path: &str, member: Option<&str>) -> Option<String> {
    let path = if path == "." { "" } else { plain_prefix(path) };
    match (path, member) {
        ("", None) => None,
        ("", Some(m)) => Some(m.to_owned()),
        (p, None) => Some(p.to_owned()),
        (p, Some(m)) => Some(format!("{p}.{m}")),
    }
}

/// serde_json's message without its " at line L column C" suffix.
fn strip_location(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    }
}

/// The longest prefix of a rendered path whose member names are plain identifiers.
fn plain_prefix(path: &str) -> &str {
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut end = 0;
    for (i, c) in path.char_indices() {
        match c {
            '.' | '[' => end = i,
            _ if plain(c) || c == ']' => {}
            _ => return &path[..end],
        }
    }
    if path.len() > 200 { "" } else { path }
}

/// serde's message rewritten so that it never carries the value sent: the kind of mistake and
/// what was expected. Returns the detail and, for a missing or duplicate field, the member name
/// (which is the type's, not the client's).
fn describe(msg: &str) -> (String, Option<String>) {
    let msg = strip_location(msg);
    let expected = msg
        .find(", expected ")
        .map(|i| &msg[i + ", expected ".len()..]);
    let with_expected = |what: &str| match expected {
        Some(x) => format!("{what}: expected {x}"),
        None => what.to_owned(),
    };
    let named = |prefix: &str| {
        msg.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('`'))
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        // "invalid type: string \"Jansen\", expected u32": keep the kind ("string"), not the value.
        let kind = rest
            .split([' ', ','])
            .next()
            .filter(|k| k.chars().all(|c| c.is_ascii_alphabetic()))
            .unwrap_or("value");
        return (with_expected(&format!("invalid type {kind}")), None);
    }
    if msg.starts_with("invalid value: ") {
        return (with_expected("invalid value"), None);
    }
    if msg.starts_with("invalid length ") {
        return (with_expected("invalid length"), None);
    }
    if msg.starts_with("unknown variant ") {
        return (with_expected("unknown value"), None);
    }
    if msg.starts_with("unknown field ") {
        return (with_expected("unknown field"), None);
    }
    if let Some(field) = named("missing field ") {
        return ("missing required field".to_owned(), Some(field));
    }
    if let Some(field) = named("duplicate field ") {
        return ("field given more than once".to_owned(), Some(field));
    }
    // A message of our own or a library's parser (UUID, date, decimal): those may quote the
    // input, so only what follows "expected" is kept.
    (with_expected("invalid value"), None)
}

/// Where the scan found a flaw.
enum Flaw {
    NotAnObject,
    Control(Option<String>),
    ControlInName(Option<String>),
}

/// Walks the body once without building it: the top is an object, and no string (member names
/// included) holds a control character. Syntax errors are left to the typed read, which reports
/// them with their position.
fn scan(bytes: &[u8]) -> Result<(), ApiError> {
    let mut flaw = None;
    let mut path = Vec::new();
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let seed = Scan {
        path: &mut path,
        flaw: &mut flaw,
        top: true,
    };
    match seed.deserialize(de) {
        Ok(()) => Ok(()),
        Err(e) => match flaw {
            Some(Flaw::NotAnObject) => Err(ApiError::invalid_body(
                None,
                "the body must be a JSON object",
            )),
            Some(Flaw::Control(field)) => Err(control_character(field)),
            Some(Flaw::ControlInName(parent)) => Err(ApiError::invalid_body(
                parent,
                "a member name contains a control character",
            )),
            None => Err(malformed(&e)),
        },
    }
}

/// The one answer to a control character in a text value.
fn control_character(field: Option<String>) -> ApiError {
    let detail = domain::text::TextError::ControlCharacter.to_string();
    match field {
        Some(field) => ApiError::invalid_field(field, detail),
        None => ApiError::invalid_body(None, detail),
    }
}

/// One step of a JSON path (a member name is borrowed from the body unless it had escapes).
enum Step<'de> {
    Member(std::borrow::Cow<'de, str>),
    Index(usize),
}

/// The path as the problem names it (see [`plain_prefix`]); `None` at the top.
fn render(path: &[Step<'_>]) -> Option<String> {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Member(m) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(m);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    Some(plain_prefix(&out).to_owned()).filter(|p| !p.is_empty())
}

struct Scan<'a, 'de> {
    path: &'a mut Vec<Step<'de>>,
    flaw: &'a mut Option<Flaw>,
    top: bool,
}

impl<'de> DeserializeSeed<'de> for Scan<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Scan<'_, '_> {
    fn refuse<E: de::Error>(self, flaw: Flaw) -> Result<(), E> {
        *self.flaw = Some(flaw);
        Err(E::custom("refused"))
    }

    fn scalar<E: de::Error>(self) -> Result<(), E> {
        if self.top {
            return self.refuse(Flaw::NotAnObject);
        }
        Ok(())
    }

    fn text<E: de::Error>(self, v: &str) -> Result<(), E> {
        if self.top {
            return self.refuse(Flaw::NotAnObject);
        }
        if domain::text::has_forbidden_control(v) {
            let field = render(self.path);
            return self.refuse(Flaw::Control(field));
        }
        Ok(())
    }
}

impl<'de> Visitor<'de> for Scan<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.text(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.top {
            return self.refuse(Flaw::NotAnObject);
        }
        let mut i = 0;
        loop {
            self.path.push(Step::Index(i));
            let more = seq.next_element_seed(Scan {
                path: self.path,
                flaw: self.flaw,
                top: false,
            })?;
            self.path.pop();
            if more.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if domain::text::has_forbidden_control(&key) {
                let parent = render(self.path);
                return self.refuse(Flaw::ControlInName(parent));
            }
            self.path.push(Step::Member(key));
            map.next_value_seed(Scan {
                path: self.path,
                flaw: self.flaw,
                top: false,
            })?;
            self.path.pop();
        }
        Ok(())
    }
}

/// Path parameters; a malformed one is a 400 naming it (without its value).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // The route's parameter names are read only when a parameter is refused.
        let route = parts
            .extensions
            .get::<axum::extract::MatchedPath>()
            .cloned();
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e: PathRejection| {
                use axum::extract::path::ErrorKind;
                let names: Vec<&str> = route
                    .as_ref()
                    .map(|p| {
                        p.as_str()
                            .split('{')
                            .skip(1)
                            .filter_map(|s| s.split('}').next())
                            .collect()
                    })
                    .unwrap_or_default();
                let field = match &e {
                    PathRejection::FailedToDeserializePathParams(inner) => match inner.kind() {
                        ErrorKind::ParseErrorAtKey { key, .. }
                        | ErrorKind::DeserializeError { key, .. }
                        | ErrorKind::InvalidUtf8InPathParam { key } => Some(key.clone()),
                        ErrorKind::ParseErrorAtIndex { index, .. } => {
                            names.get(*index).map(|n| (*n).to_owned())
                        }
                        _ if names.len() == 1 => Some(names[0].to_owned()),
                        _ => None,
                    },
                    _ => None,
                };
                ApiError::invalid_parameter(
                    field.unwrap_or_else(|| "path".to_owned()),
                    "not a valid value for this parameter",
                )
            })
    }
}

/// Query parameters; a malformed one, or one with a control character, is a 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        parse_query(query).map(ApiQuery)
    }
}

/// Parses a query string, naming the parameter at fault and never its value.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let field = if domain::text::has_forbidden_control(&name) {
            "query".to_owned()
        } else if domain::text::has_forbidden_control(&value) {
            name.into_owned()
        } else {
            continue;
        };
        return Err(ApiError::invalid_parameter(
            field,
            domain::text::TextError::ControlCharacter.to_string(),
        ));
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let (detail, member) = match message.strip_prefix(domain::text::FIELD_ERROR) {
            Some(own) => (own.to_owned(), None),
            None => describe(&message),
        };
        let field = join_path(&path, member.as_deref()).unwrap_or_else(|| "query".to_owned());
        ApiError::invalid_parameter(field, detail)
    })
}

/// A required single-line text field (names, labels, reasons): see [`domain::text`].
pub fn line(field: &'static str, v: &str, max: usize) -> Result<String, ApiError> {
    domain::text::line(v, max).map_err(|e| ApiError::invalid_field(field, e.to_string()))
}

/// A required multi-line text field (templates, notes).
pub fn text(field: &'static str, v: &str, max: usize) -> Result<String, ApiError> {
    domain::text::text(v, max).map_err(|e| ApiError::invalid_field(field, e.to_string()))
}

/// An optional single-line text field; blank is absent.
pub fn optional_line(
    field: &'static str,
    v: Option<&str>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    domain::text::optional(v, max, domain::text::line)
        .map_err(|e| ApiError::invalid_field(field, e.to_string()))
}

/// An optional multi-line text field; blank is absent.
pub fn optional_text(
    field: &'static str,
    v: Option<&str>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    domain::text::optional(v, max, domain::text::text)
        .map_err(|e| ApiError::invalid_field(field, e.to_string()))
}

/// A list's `limit` query parameter: `default` when absent, else 1 to `max`; out of range is a
/// 400 naming `limit`, like every malformed query parameter.
pub fn page_limit(v: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    match v {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid_parameter(
            "limit",
            format!("must be between 1 and {max}"),
        )),
    }
}

/// A whole number field within `min..=max` (for types that are read and written alike; plain
/// request fields use [`domain::bounded::Int`], which states its range in the schema itself).
pub fn range(field: &'static str, v: i64, min: i64, max: i64) -> Result<(), ApiError> {
    if (min..=max).contains(&v) {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            field,
            domain::bounded::OutOfRange { min, max }.to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only the parse result matters")]
    struct Body {
        name: String,
        #[serde(default)]
        sex: Option<Sex>,
        #[serde(default)]
        inner: Option<Inner>,
        #[serde(default)]
        count: Option<u32>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Sex {
        Female,
        Male,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only the parse result matters")]
    struct Inner {
        email: String,
        tags: Vec<String>,
    }

    fn refuse(body: &str) -> serde_json::Value {
        let e = parse_json::<Body>(body.as_bytes()).expect_err("refused");
        let response = axum::response::IntoResponse::into_response(e);
        let status = response.status().as_u16();
        let bytes = futures_body(response);
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).expect("problem json");
        v["status_seen"] = status.into();
        v
    }

    fn futures_body(r: axum::response::Response) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .expect("body")
                .to_vec()
        })
    }

    #[test]
    fn a_body_that_is_not_an_object_is_a_400_without_a_field() {
        for body in [r#"["Room"]"#, "\"x\"", "12", "null", "true", "[]"] {
            let p = refuse(body);
            assert_eq!(p["status_seen"], 400, "{body}");
            assert_eq!(p["detail"], "the body must be a JSON object", "{body}");
            assert!(p.get("field").is_none(), "{body}");
        }
    }

    #[test]
    fn control_characters_anywhere_are_a_422_naming_the_path() {
        let p = refuse(r#"{"name":"a\u0000b"}"#);
        assert_eq!(
            (p["status_seen"].as_u64(), p["field"].as_str()),
            (Some(422), Some("name"))
        );
        let p = refuse(r#"{"name":"x","inner":{"email":"e","tags":["ok","\u001b[31m"]}}"#);
        assert_eq!(p["field"], "inner.tags[1]");
        // Line breaks and tabs pass the scan (single-line fields refuse them themselves).
        assert!(parse_json::<Body>(br#"{"name":"a\nb\tc"}"#).is_ok());
        let p = refuse(r#"{"name":"x","bad\u0007":1}"#);
        assert_eq!(p["status_seen"], 400);
        assert!(p.get("field").is_none());
    }

    #[test]
    fn errors_name_the_field_and_never_echo_the_value() {
        let cases = [
            (r#"{"name":"x","sex":"<script>alert(1)</script>"}"#, "sex"),
            (r#"{"name":"x","count":"<script>"}"#, "count"),
            (r#"{"name":"x","count":-1}"#, "count"),
            (
                r#"{"name":"x","inner":{"email":"e","tags":[],"<script>":1}}"#,
                "inner",
            ),
            (r#"{"name":{"<script>":1}}"#, "name"),
            (r#"{}"#, "name"),
            (r#"{"name":"x","inner":{"tags":[]}}"#, "inner.email"),
            (r#"{"name":"x","name":"y"}"#, "name"),
        ];
        for (body, field) in cases {
            let p = refuse(body);
            assert_eq!(p["status_seen"], 400, "{body}: {p}");
            assert_eq!(p["field"], field, "{body}: {p}");
            let detail = p["detail"].as_str().expect("detail");
            assert!(
                !detail.contains("script") && !detail.contains("-1"),
                "{body}: {detail}"
            );
        }
        let p = refuse(r#"{"name":"x","sex":"robot"}"#);
        assert!(p["detail"].as_str().unwrap().contains("`female`"), "{p}");
    }

    #[test]
    fn malformed_json_has_no_field() {
        for body in [r#"{"name": "#, "{\"name\": \"x\"} trailing", "", "{'a':1}"] {
            let p = refuse(body);
            assert_eq!(p["status_seen"], 400, "{body}");
            assert!(p.get("field").is_none(), "{body}: {p}");
            assert!(
                p["detail"].as_str().unwrap().starts_with("malformed JSON"),
                "{p}"
            );
        }
    }

    #[test]
    fn query_parameters_refuse_control_characters_by_name() {
        #[derive(Debug, Deserialize)]
        #[expect(dead_code, reason = "only the parse result matters")]
        struct Q {
            q: Option<String>,
            limit: Option<u32>,
        }
        let e = parse_query::<Q>("q=a%00b").expect_err("refused");
        assert_eq!(e.status().as_u16(), 400);
        let e = parse_query::<Q>("limit=%3Cscript%3E").expect_err("refused");
        assert_eq!(e.code(), "invalid_parameter");
        assert!(parse_query::<Q>("q=Jansen&limit=5").is_ok());
    }
}
