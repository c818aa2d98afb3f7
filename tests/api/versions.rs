//! Concurrent edits: `ETag` on reads, `If-Match` on changes; a stale edit gets 412 and nothing
//! is written.

use praxis_tests::billing::{Billing, settings_body};
use praxis_tests::*;
use serde_json::json;

fn etag(r: &Reply) -> String {
    r.headers
        .get("etag")
        .unwrap_or_else(|| panic!("an ETag: {}", r.text))
        .to_str()
        .unwrap()
        .to_owned()
}

async fn with_if_match(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    tag: &str,
    body: Option<serde_json::Value>,
) -> Reply {
    let mut req = app
        .client
        .request(method.parse().unwrap(), format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("if-match", tag);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        text,
    }
}

#[tokio::test]
async fn a_stale_if_match_is_refused_and_writes_nothing() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let token = b.clinic.admin.token.clone();
    let t = Some(token.as_str());

    // A patient read by two people; the first edit wins, the second is told.
    let path = format!("/v1/patients/{}", b.clinic.patient);
    let read = app.call("GET", &path, t, None).await;
    let tag = etag(&read);
    let first = with_if_match(
        &app,
        "PATCH",
        &path,
        &token,
        &tag,
        Some(json!({"gp_name": "Dr. Eerst"})),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_ne!(etag(&first), tag);
    let second = with_if_match(
        &app,
        "PATCH",
        &path,
        &token,
        &tag,
        Some(json!({"gp_name": "Dr. Tweede"})),
    )
    .await;
    assert_eq!(second.problem(412, "stale_version")["field"], "If-Match");
    assert_eq!(
        app.call("GET", &path, t, None).await.body["gp_name"],
        "Dr. Eerst"
    );
    // With the current tag it goes through.
    let third = with_if_match(
        &app,
        "PATCH",
        &path,
        &token,
        &etag(&first),
        Some(json!({"gp_name": "Dr. Derde"})),
    )
    .await;
    assert_eq!(third.status, 200, "{}", third.text);

    // A draft: adding a line from a stale read is refused; so are removing, issuing, discarding.
    let d = b.draft(&app, json!([b.tariff_line("1")])).await;
    let id = d["invoice_id"].as_str().unwrap();
    let ipath = format!("/v1/invoices/{id}");
    let tag = etag(&app.call("GET", &ipath, t, None).await);
    let added = with_if_match(
        &app,
        "POST",
        &format!("{ipath}/lines"),
        &token,
        &tag,
        Some(json!({"lines": [b.tariff_line("1")]})),
    )
    .await;
    assert_eq!(added.status, 200, "{}", added.text);
    for (method, p, body) in [
        (
            "POST",
            format!("{ipath}/lines"),
            Some(json!({"lines": [b.tariff_line("1")]})),
        ),
        ("DELETE", format!("{ipath}/lines/1"), None),
        ("POST", format!("{ipath}/issue"), None),
        ("DELETE", ipath.clone(), None),
    ] {
        let r = with_if_match(&app, method, &p, &token, &tag, body).await;
        r.problem(412, "stale_version");
    }
    let now = app.call("GET", &ipath, t, None).await;
    assert_eq!(now.body["lines"].as_array().unwrap().len(), 2);
    assert_eq!(now.body["status"], "draft");
    let issued = with_if_match(
        &app,
        "POST",
        &format!("{ipath}/issue"),
        &token,
        &etag(&now),
        None,
    )
    .await;
    assert_eq!(issued.status, 200, "{}", issued.text);

    // The invoicing settings.
    let s = app.call("GET", "/v1/invoicing/settings", t, None).await;
    let tag = etag(&s);
    let mut body = settings_body("BE");
    body["payment_terms_days"] = json!(14);
    let put = with_if_match(
        &app,
        "PUT",
        "/v1/invoicing/settings",
        &token,
        &tag,
        Some(body.clone()),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text);
    body["payment_terms_days"] = json!(60);
    let stale = with_if_match(
        &app,
        "PUT",
        "/v1/invoicing/settings",
        &token,
        &tag,
        Some(body),
    )
    .await;
    stale.problem(412, "stale_version");
    assert_eq!(
        app.call("GET", "/v1/invoicing/settings", t, None)
            .await
            .body["payment_terms_days"],
        14
    );

    // A malformed tag is a 400 naming the header.
    let bad = with_if_match(
        &app,
        "PATCH",
        &path,
        &token,
        "7",
        Some(json!({"gp_name": "X"})),
    )
    .await;
    assert_eq!(bad.problem(400, "invalid_parameter")["field"], "If-Match");
}
