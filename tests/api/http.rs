//! HTTP conventions: security headers, request ids, health, readiness, metrics, the OpenAPI
//! description (compared with the committed copy) and the docs page.

use praxis_tests::*;

#[tokio::test]
async fn conventions_hold_on_every_answer() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz", "/v1/nothing-here", "/openapi.json"] {
        let r = app.call("GET", path, None, None).await;
        let h = &r.headers;
        assert_eq!(
            h["strict-transport-security"], "max-age=63072000; includeSubDomains",
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["cache-control"], "no-store");
        assert!(h.contains_key("content-security-policy"));
        assert!(h.contains_key("x-request-id"), "{path}");
    }
    assert_eq!(app.call("GET", "/healthz", None, None).await.text, "ok");
    assert_eq!(app.call("GET", "/readyz", None, None).await.text, "ready");
    app.call("GET", "/v1/nothing-here", None, None)
        .await
        .problem(404, "route_not_found");
    let metrics = app.call("GET", "/metrics", None, None).await;
    assert!(
        metrics.text.contains("http_requests_total"),
        "{}",
        metrics.text
    );
    let docs = app.call("GET", "/docs", None, None).await;
    assert!(docs.text.contains("/v1/patients/{patient_id}"));
    assert!(
        !docs.text.contains("<script"),
        "the docs page needs nothing from outside"
    );
}

#[tokio::test]
async fn openapi_matches_the_committed_copy() {
    let app = spawn_app().await;
    let served = app.call("GET", "/openapi.json", None, None).await;
    assert_eq!(served.body["openapi"], "3.1.0");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, format!("{}\n", served.text)).unwrap();
    }
    let committed = std::fs::read_to_string(path)
        .expect("openapi.json is committed (UPDATE_OPENAPI=1 cargo test writes it)");
    if let Some((n, (a, b))) = committed
        .lines()
        .zip(served.text.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        panic!(
            "the API changed at line {}: committed `{a}`, served `{b}`; run \
             `UPDATE_OPENAPI=1 cargo test -p praxis-tests --test api openapi` and commit openapi.json",
            n + 1
        );
    }
    assert_eq!(
        committed.trim_end().lines().count(),
        served.text.trim_end().lines().count(),
        "openapi.json differs in length"
    );
    let paths = served.body["paths"].as_object().unwrap();
    assert!(paths.len() >= 15);
    // Query parameters are documented as such, and optional ones as optional.
    let audit = &paths["/v1/audit-events"]["get"]["parameters"];
    for p in audit.as_array().unwrap() {
        assert_eq!(p["in"], "query", "{p}");
        assert_eq!(p["required"], false, "{p}");
    }
}
