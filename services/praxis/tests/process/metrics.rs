//! `/metrics` in a process of its own (the metrics registry is process-wide): it is served only
//! behind a token or on a listener of its own, and it cannot tell a known account from an
//! unknown one.

use crate::common;

use serde_json::json;

const PRACTICE: &str = "0d3e0000-0000-7000-8000-000000000001";
const TOKEN: &str = "metrics-token-0123456789abcdefghijklmnop";

async fn verifications(client: &reqwest::Client, url: &str) -> f64 {
    let text = client
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with("auth_password_verifications_total"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_need_the_token_and_count_unknown_accounts_like_known_ones() {
    let server = common::Server::start("metrics", &[("METRICS_TOKEN", TOKEN)]);
    let c = reqwest::Client::new();
    let url = format!("{}/metrics", server.base);

    let anonymous = c.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.headers()["content-type"],
        "application/problem+json"
    );
    let wrong = c
        .get(&url)
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let login = |email: &'static str| {
        c.post(format!("{}/v1/auth/login", server.base))
            .json(
                &json!({"practice_id": PRACTICE, "email": email, "password": "wrong-password-123"}),
            )
            .send()
    };
    let mut deltas = Vec::new();
    for email in [
        "admin@demo.praxis.test",
        "nobody@demo.praxis.test",
        "not an e-mail",
    ] {
        let before = verifications(&c, &url).await;
        assert_eq!(login(email).await.unwrap().status(), 401);
        deltas.push(verifications(&c, &url).await - before);
    }
    assert_eq!(
        deltas,
        vec![1.0, 1.0, 1.0],
        "known, unknown and malformed accounts count alike"
    );
    server.stop().await;
}

#[tokio::test]
async fn with_a_listener_of_its_own_the_public_port_does_not_serve_metrics() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let server = common::Server::start("metrics_addr", &[("METRICS_BIND_ADDR", &addr)]);
    let public = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    assert_eq!(public.headers()["content-type"], "application/problem+json");
    let internal = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(internal.status(), 200);
    assert!(
        internal
            .text()
            .await
            .unwrap()
            .contains("http_requests_total")
    );
    // The metrics listener serves nothing else.
    let other = reqwest::get(format!("http://{addr}/v1/patients"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    server.stop().await;
}
