//! The HTTP conventions of every route, written into the OpenAPI description once, so that the
//! document says what the server does without each handler repeating it:
//!
//! - every error is `application/problem+json` with the [`crate::error::Problem`] schema;
//! - a route with a JSON body may answer 400 (not JSON, not an object, a wrong type, a missing or
//!   unknown field), 413 (over `MAX_BODY_BYTES`), 415 (not `application/json`) and 422 (a value
//!   the rules refuse); one with parameters 400; one with a path parameter 404;
//! - a route behind a session or key may answer 401, one behind a session 403 (role, second
//!   factor); the sign-in routes 429; every route 500 and 503.
//!
//! The error responses are declared once under `components/responses` and referenced.
//!
//! And the one text rule of the extractors (no control character but `\n` and `\t` in any
//! string of a body or query) is stated on every such string that has no stricter pattern.

use serde_json::{Map, Value, json};

const PROBLEM_TYPE: &str = "application/problem+json";

/// The error responses every route may refer to: (status, component name, description).
const RESPONSES: &[(&str, &str, &str)] = &[
    (
        "400",
        "BadRequest",
        "The body is not a JSON object of the expected shape, or a parameter is malformed; `field` names it.",
    ),
    (
        "401",
        "Unauthenticated",
        "No valid session (or key), or the credentials are wrong.",
    ),
    (
        "403",
        "Forbidden",
        "The role may not do this (the refusal is audited), or the second factor is missing.",
    ),
    (
        "404",
        "NotFound",
        "Nothing with this id exists in the practice (another practice's id answers the same).",
    ),
    (
        "412",
        "PreconditionFailed",
        "`If-Match` names a version that is no longer current: someone changed it since it was read. Nothing was written; read it again.",
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body is larger than MAX_BODY_BYTES.",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "The body is not application/json.",
    ),
    (
        "422",
        "UnprocessableEntity",
        "A field is well-formed but not acceptable (check digits, dates, rules); `field` names it.",
    ),
    (
        "429",
        "TooManyRequests",
        "Too many sign-in attempts from this address.",
    ),
    (
        "500",
        "InternalError",
        "An internal error; the body carries the request id only.",
    ),
    (
        "503",
        "Unavailable",
        "The database is busy or unreachable; try again.",
    ),
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];

/// What every string of a request may hold (see `crate::json`).
const NO_CONTROL: &str = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$";

/// Applies the conventions to a serialised OpenAPI document.
pub fn apply(mut doc: Value) -> Value {
    let components = doc
        .as_object_mut()
        .expect("an OpenAPI document is an object")
        .entry("components")
        .or_insert_with(|| json!({}));
    let responses = components
        .as_object_mut()
        .expect("components is an object")
        .entry("responses")
        .or_insert_with(|| json!({}));
    for (_, name, description) in RESPONSES {
        responses[*name] = json!({
            "description": description,
            "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        });
    }
    let components = doc["components"].clone();
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return doc;
    };
    let mut request_schemas = Vec::new();
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            if let Some(op) = item.get_mut(*method).and_then(Value::as_object_mut) {
                conventions(path, op, &components);
                if let Some(body) = op.get_mut("requestBody") {
                    refs(body, &mut request_schemas);
                    text_rule(body);
                }
                if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                    params.iter_mut().for_each(text_rule);
                    params.iter_mut().for_each(header_not_null);
                }
            }
        }
    }
    // The component schemas that requests use, and those they use in turn.
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = request_schemas.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")) {
            refs(schema, &mut request_schemas);
            text_rule(schema);
        }
    }
    doc
}

/// Collects the names of the component schemas `v` refers to.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str)
                && let Some(name) = r.strip_prefix("#/components/schemas/")
            {
                out.push(name.to_owned());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// Gives every plain string schema inside `v` (no pattern, format or enum of its own) the
/// text rule's pattern.
fn text_rule(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let is_string = match m.get("type") {
                Some(Value::String(t)) => t == "string",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
                _ => false,
            };
            if is_string
                && !m.contains_key("pattern")
                && !m.contains_key("format")
                && !m.contains_key("enum")
            {
                m.insert("pattern".to_owned(), json!(NO_CONTROL));
            }
            m.values_mut().for_each(text_rule);
        }
        Value::Array(a) => a.iter_mut().for_each(text_rule),
        _ => {}
    }
}

/// Whether an operation takes an id in its query or body (a member named `…_id` or `…_ids`).
fn names_an_id(op: &Map<String, Value>, components: &Value) -> bool {
    let is_id = |name: &str| name.ends_with("_id") || name.ends_with("_ids");
    let query = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| {
            ps.iter()
                .filter_map(|p| p.get("name").and_then(Value::as_str))
                .any(is_id)
        });
    if query {
        return true;
    }
    let mut pending = Vec::new();
    if let Some(body) = op.get("requestBody") {
        refs(body, &mut pending);
        if has_member(body, &is_id) {
            return true;
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = components.pointer(&format!("/schemas/{name}")) {
            if has_member(schema, &is_id) {
                return true;
            }
            refs(schema, &mut pending);
        }
    }
    false
}

fn has_member(v: &Value, is_id: &impl Fn(&str) -> bool) -> bool {
    match v {
        Value::Object(m) => {
            m.get("properties")
                .and_then(Value::as_object)
                .is_some_and(|props| props.keys().any(|k| is_id(k)))
                || m.values().any(|x| has_member(x, is_id))
        }
        Value::Array(a) => a.iter().any(|x| has_member(x, is_id)),
        _ => false,
    }
}

/// An optional header is absent or a string, never `null` (an `Option<String>` parameter is
/// documented as nullable by the generator).
fn header_not_null(param: &mut Value) {
    if param.get("in").and_then(Value::as_str) != Some("header") {
        return;
    }
    if let Some(types) = param
        .pointer_mut("/schema/type")
        .and_then(Value::as_array_mut)
    {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types[0].clone();
            param["schema"]["type"] = only;
        }
    }
}

fn conventions(path: &str, op: &mut Map<String, Value>, components: &Value) {
    let has_body = op.contains_key("requestBody");
    let params: Vec<String> = op
        .get("parameters")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p.get("in").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let schemes: Vec<String> = op
        .get("security")
        .and_then(Value::as_array)
        .map(|reqs| {
            reqs.iter()
                .filter_map(Value::as_object)
                .flat_map(|r| r.keys().cloned())
                .collect()
        })
        .unwrap_or_default();
    let conditional = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| {
            ps.iter()
                .any(|p| p.get("name").and_then(Value::as_str) == Some("If-Match"))
        });
    let sign_in = ["/v1/auth/login", "/v1/auth/setup", "/v1/auth/totp/"]
        .iter()
        .any(|p| path.starts_with(p));

    let mut codes = vec!["500", "503"];
    if has_body {
        codes.extend(["400", "413", "415", "422"]);
    }
    if !params.is_empty() {
        codes.push("400");
    }
    // An unknown id, or one of another practice, is a 404 wherever it is given: in the path,
    // in the query or in the body.
    if params.iter().any(|p| p == "path") || names_an_id(op, components) {
        codes.push("404");
    }
    if !schemes.is_empty() {
        codes.push("401");
    }
    if schemes.iter().any(|s| s == "session") {
        codes.push("403");
    }
    if sign_in {
        codes.extend(["401", "429"]);
    }
    if conditional {
        codes.push("412");
    }

    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses is an object");
    // Problems declared by a handler keep their description but get the problem media type.
    for response in responses.values_mut() {
        if let Some(content) = response.get_mut("content").and_then(Value::as_object_mut)
            && let Some(schema) = content.get("application/json")
            && schema.pointer("/schema/$ref") == Some(&json!("#/components/schemas/Problem"))
        {
            let schema = content.remove("application/json").expect("present");
            content.insert(PROBLEM_TYPE.to_owned(), schema);
        }
    }
    for code in codes {
        if responses.contains_key(code) {
            continue;
        }
        let (_, name, _) = RESPONSES
            .iter()
            .find(|(c, _, _)| *c == code)
            .expect("every code used is declared");
        responses.insert(
            code.to_owned(),
            json!({"$ref": format!("#/components/responses/{name}")}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_get_the_error_responses_their_shape_implies() {
        let doc = json!({"paths": {
            "/v1/things/{id}": {"post": {
                "requestBody": {"content": {"application/json": {}}},
                "parameters": [{"in": "path", "name": "id"}],
                "security": [{"session": []}],
                "responses": {"200": {"description": "ok"},
                              "409": {"description": "taken", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}
            }},
            "/healthz": {"get": {"responses": {"200": {"description": "ok"}}}}
        }});
        let doc = apply(doc);
        let r = &doc["paths"]["/v1/things/{id}"]["post"]["responses"];
        for code in [
            "200", "400", "401", "403", "404", "409", "413", "415", "422", "500", "503",
        ] {
            assert!(r.get(code).is_some(), "{code}: {r}");
        }
        assert!(r.get("429").is_none());
        assert!(r["409"]["content"]["application/problem+json"].is_object());
        assert!(r["409"]["content"].get("application/json").is_none());
        let h = &doc["paths"]["/healthz"]["get"]["responses"];
        assert_eq!(
            h.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["200", "500", "503"]
        );
        assert_eq!(
            doc["components"]["responses"]["NotFound"]["content"][PROBLEM_TYPE]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
    }
}
