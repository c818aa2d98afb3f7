//! HTTP conventions: security headers, request ids, health, readiness, metrics, the OpenAPI
//! description (compared with the committed copy) and the docs page.

use chrono::Datelike;
use praxis_tests::*;
use serde_json::Value;

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
}

/// `/docs` is an API explorer served from the binary: its page, scripts and styles come from
/// this server (nothing from a CDN), it reads `/openapi.json`, and only its pages get the looser
/// Content-Security-Policy it needs.
#[tokio::test]
async fn the_api_explorer_is_served_from_the_binary_with_its_own_policy() {
    let app = spawn_app().await;
    let moved = app.call("GET", "/docs", None, None).await;
    assert_eq!(moved.status.as_u16(), 303);
    assert_eq!(moved.headers["location"], "/docs/");
    let page = app.call("GET", "/docs/", None, None).await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = page.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    // Every script and stylesheet the page loads is a relative path on this server.
    let mut assets = 0;
    for attr in ["src=\"", "href=\""] {
        for part in page.text.split(attr).skip(1) {
            let url = part.split('"').next().unwrap();
            assert!(
                !url.contains("//"),
                "the explorer loads {url} from elsewhere"
            );
            let path = format!("/docs/{}", url.trim_start_matches("./"));
            let asset = app.call("GET", &path, None, None).await;
            assert_eq!(asset.status.as_u16(), 200, "{path}");
            assert!(!asset.text.is_empty() || path.ends_with(".png"), "{path}");
            assets += 1;
        }
    }
    assert!(assets >= 4, "{}", page.text);
    let init = app
        .call("GET", "/docs/swagger-initializer.js", None, None)
        .await;
    assert!(init.text.contains("\"/openapi.json\""), "{}", init.text);
    assert!(
        init.text.contains("\"persistAuthorization\": false"),
        "{}",
        init.text
    );
    // The API keeps the strict policy.
    let api = app.call("GET", "/openapi.json", None, None).await;
    assert_eq!(
        api.headers["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
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

/// In a real browser, under its real policy, the explorer draws every tag and operation of the
/// description, with the request schema and an example of a body; the policy refuses nothing it
/// needs. A screenshot is left in `target/artefacts/docs.png`.
#[tokio::test]
async fn the_api_explorer_renders_in_a_browser() {
    let Some(browser) = browser::chromium() else {
        return;
    };
    let app = spawn_app().await;
    let url = format!("{}/docs/#/patients/create_patient", app.base);
    let page = browser::render(&browser, &url, 15_000).await;
    assert!(
        page.policy_refusals().is_empty(),
        "{:?}",
        page.policy_refusals()
    );
    let text = page.text();
    let spec = app.call("GET", "/openapi.json", None, None).await.body;
    for tag in spec["tags"].as_array().unwrap() {
        let name = tag["name"].as_str().unwrap();
        assert!(text.contains(name), "tag {name} is not shown");
    }
    for path in spec["paths"].as_object().unwrap().keys() {
        let drawn = format!("data-path=\"{path}\"");
        assert!(page.dom.contains(&drawn), "{path} is not shown");
    }
    // The deep-linked operation is open: its request body, schema and example.
    assert!(
        text.contains("Request body"),
        "{}",
        &text[..2000.min(text.len())]
    );
    assert!(text.contains("Example Value"));
    assert!(text.contains("family_name"));
    browser::screenshot(
        &browser,
        &format!("{}/docs/", app.base),
        &browser::artefacts().join("docs.png"),
        (1280, 1600),
    )
    .await;
}

/// The request examples the explorer shows are true: sent as they stand (ids swapped for this
/// practice's), the server accepts them.
#[tokio::test]
async fn the_documented_request_examples_are_accepted() {
    let app = spawn_app().await;
    let spec = app.call("GET", "/openapi.json", None, None).await.body;
    let example = |schema: &str| spec["components"]["schemas"][schema]["example"].clone();
    let post = |path: &str, op: &str| {
        spec["paths"][path][op]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };
    // The operator's example creates a practice.
    let practice = app
        .client
        .post(format!("{}/v1/operator/practices", app.base))
        .bearer_auth(OPERATOR_KEY)
        .json(&example(&post("/v1/operator/practices", "post")))
        .send()
        .await
        .unwrap();
    assert_eq!(practice.status().as_u16(), 201);

    let admin = app.practice_with_admin("Examples", "BE").await;
    let t = Some(admin.token.as_str());
    let accepted = |path: String, op: &'static str, body: Value| {
        let app = &app;
        async move {
            let r = app.call(&op.to_uppercase(), &path, t, Some(&body)).await;
            assert!(
                r.status.is_success(),
                "{op} {path}: {} {}",
                r.status,
                r.text
            );
            r.body
        }
    };
    let patient = accepted("/v1/patients".into(), "post", example("NewPatient")).await;
    accepted(
        "/v1/patients/search".into(),
        "post",
        example("PatientSearch"),
    )
    .await;
    accepted("/v1/staff".into(), "post", example("NewStaff")).await;
    let practitioner = accepted(
        "/v1/practitioners".into(),
        "post",
        example("NewPractitioner"),
    )
    .await;
    let kind = accepted(
        "/v1/appointment-types".into(),
        "post",
        example("NewAppointmentType"),
    )
    .await;
    let pid = practitioner["practitioner_id"].as_str().unwrap();
    accepted(
        format!("/v1/practitioners/{pid}/working-hours"),
        "put",
        example("WorkingHours"),
    )
    .await;
    accepted("/v1/closures".into(), "post", example("NewClosure")).await;
    accepted(
        "/v1/notifications/templates/reminder/nl".into(),
        "put",
        example("TemplateBody"),
    )
    .await;
    // Examples that name other records: the same body with this practice's ids, and the
    // example's Monday moved to a Monday ahead (same local time), so the test does not age.
    let monday = {
        let today = chrono::Utc::now().date_naive();
        let ahead = today + chrono::Duration::days(14);
        ahead - chrono::Duration::days(ahead.weekday().num_days_from_monday().into())
    };
    let ids = |mut body: Value| {
        for field in ["starts_at", "first_starts_at"] {
            if let Some(at) = body.get(field).and_then(Value::as_str) {
                let local = chrono::DateTime::parse_from_rfc3339(at).unwrap().time();
                let at = monday
                    .and_time(local)
                    .and_local_timezone(chrono_tz::Europe::Brussels)
                    .unwrap();
                body[field] = Value::from(at.to_rfc3339());
            }
        }
        for (field, id) in [
            ("patient_id", &patient["patient_id"]),
            ("practitioner_id", &practitioner["practitioner_id"]),
            ("appointment_type_id", &kind["type_id"]),
        ] {
            if body.get(field).is_some() {
                body[field] = id.clone();
            }
        }
        body
    };
    accepted("/v1/waitlist".into(), "post", ids(example("NewEntry"))).await;
    // The booking examples are on a Monday morning the example working hours cover.
    let booked = accepted(
        "/v1/appointments".into(),
        "post",
        ids(example("NewAppointment")),
    )
    .await;
    let id = booked["appointment_id"].as_str().unwrap();
    accepted(
        "/v1/appointments/holds".into(),
        "post",
        ids(example("NewHold")),
    )
    .await;
    accepted(
        format!("/v1/appointments/{id}/reschedule"),
        "post",
        ids(example("Reschedule")),
    )
    .await;
    accepted(
        format!("/v1/appointments/{id}/cancel"),
        "post",
        example("Cancel"),
    )
    .await;
    accepted(
        "/v1/appointment-series".into(),
        "post",
        ids(example("NewSeries")),
    )
    .await;
}
