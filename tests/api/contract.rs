//! A fixed set of negative examples against every operation with a JSON body, taken from the
//! OpenAPI document itself (so a new route is covered the day it is added): non-object bodies,
//! NUL and escape characters in each string member, a 1 MiB string, a wrong type in each member,
//! an unknown member. Each has one answer everywhere, it names the field, never repeats what was
//! sent, and nothing answers 5xx.

use praxis_tests::*;
use serde_json::{Value, json};

/// An operation that takes a JSON body.
struct Operation {
    method: String,
    path: String,
    token: Option<String>,
    /// The body's members, with their schemas (refs resolved one level).
    members: Vec<(String, Value)>,
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(&r.replacen('#', "", 1))
            .expect("a ref names a component"),
        None => schema,
    }
}

/// Whether a member is read as a string (plain, enum or format).
fn is_string(doc: &Value, schema: &Value) -> bool {
    let s = resolve(doc, schema);
    let typed = |t: &Value| match t {
        Value::String(t) => t == "string",
        Value::Array(ts) => ts.iter().any(|t| t == "string"),
        _ => false,
    };
    s.get("type").is_some_and(typed)
        || s.get("oneOf")
            .and_then(Value::as_array)
            .is_some_and(|alts| alts.iter().any(|a| is_string(doc, a)))
}

/// Whether a member is an object (possibly nullable).
fn is_object(doc: &Value, schema: &Value) -> bool {
    let s = resolve(doc, schema);
    s.get("properties").is_some()
        || ["oneOf", "anyOf", "allOf"].iter().any(|k| {
            s.get(*k)
                .and_then(Value::as_array)
                .is_some_and(|alts| alts.iter().any(|a| is_object(doc, a)))
        })
}

fn operations(doc: &Value, admin: &Session) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if path.starts_with("/v1/hooks/") {
            continue; // provider protocols, not this API's JSON bodies
        }
        for (method, op) in item.as_object().unwrap() {
            let Some(schema) = op.pointer("/requestBody/content/application~1json/schema") else {
                continue;
            };
            let schemes: Vec<&str> = op["security"]
                .as_array()
                .map(|s| {
                    s.iter()
                        .filter_map(|r| r.as_object())
                        .flat_map(|r| r.keys().map(String::as_str))
                        .collect()
                })
                .unwrap_or_default();
            let token = if schemes.contains(&"session") {
                Some(admin.token.clone())
            } else if schemes.contains(&"operator_key") {
                Some(OPERATOR_KEY.to_owned())
            } else {
                None
            };
            let concrete = path
                .replace("{kind}", "reminder")
                .replace("{language}", "nl")
                .replace("{subprocessor_id}", "stripe-eu");
            let concrete = concrete
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        uuid::Uuid::now_v7().to_string()
                    } else {
                        seg.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let body = resolve(doc, schema);
            let members = body["properties"]
                .as_object()
                .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            out.push(Operation {
                method: method.to_uppercase(),
                path: concrete,
                token,
                members,
            });
        }
    }
    out
}

#[tokio::test]
async fn every_body_refuses_the_same_bad_input_the_same_way() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("Contract", "BE").await;
    let doc: Value = app.call("GET", "/openapi.json", None, None).await.body;
    let ops = operations(&doc, &admin);
    assert!(ops.len() >= 35, "{} operations with a body", ops.len());
    let patients_before = app.count("select count(*) from core.patient").await;
    let mut checked = 0;
    for op in &ops {
        let label = format!("{} {}", op.method, op.path);
        let send = |body: Vec<u8>| {
            app.raw(
                &op.method,
                &op.path,
                op.token.as_deref(),
                "application/json",
                body,
            )
        };
        // Not an object.
        for body in ["[]", r#"["x"]"#, r#""x""#, "42", "null", "true"] {
            let r = send(body.as_bytes().to_vec()).await;
            let p = r.problem(400, "invalid_body");
            assert_eq!(
                p["detail"], "the body must be a JSON object",
                "{label} {body}"
            );
            assert!(p.get("field").is_none(), "{label} {body}: {}", r.text);
            checked += 1;
        }
        // An unknown member.
        let r = send(br#"{"zz_unknown_member": 1}"#.to_vec()).await;
        assert_eq!(
            r.problem(400, "invalid_body")["field"],
            "zz_unknown_member",
            "{label}"
        );
        // A 1 MiB string.
        if let Some((name, _)) = op.members.first() {
            let huge = json!({ name: "x".repeat(1 << 20) });
            send(serde_json::to_vec(&huge).unwrap())
                .await
                .problem(413, "payload_too_large");
        }
        for (name, schema) in &op.members {
            // A wrong type: a nested object where a string, number, list or flag goes, a
            // string where an object goes.
            let wrong = if is_object(&doc, schema) {
                json!("Mallory-canary")
            } else {
                json!({"nested": ["Mallory-canary"]})
            };
            let r = send(serde_json::to_vec(&json!({ name: wrong })).unwrap()).await;
            let p = r.problem(400, "invalid_body");
            assert!(
                p["field"]
                    .as_str()
                    .is_some_and(|f| f.starts_with(name.as_str())),
                "{label} {name}: {}",
                r.text
            );
            assert!(!r.text.contains("Mallory"), "{label} {name}: {}", r.text);
            checked += 1;
            // NUL and an escape sequence: refused before any other rule, naming the member.
            if is_string(&doc, schema) {
                for bad in ["a\u{0}b", "a\u{1b}[31mb"] {
                    let r = send(serde_json::to_vec(&json!({ name: bad })).unwrap()).await;
                    let p = r.problem(422, "invalid_field");
                    assert_eq!(p["field"], name.as_str(), "{label}: {}", r.text);
                    assert!(!r.text.contains("[31m"), "{label}: {}", r.text);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 300, "{checked} examples");
    assert_eq!(
        app.count("select count(*) from core.patient").await,
        patients_before,
        "nothing was written"
    );
}
