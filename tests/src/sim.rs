//! A strict local simulator of LINK Mobility's Common Platform SMS REST API
//! (shared/reference/linkmobility.md §1): Basic auth, `platformId`/`platformPartnerId`,
//! documented fields only, E.164 destinations, alphanumeric sender rules, no 4-byte characters,
//! a gate when delivery reports are asked for, `resultCode` 1005 "Queued", and injectable
//! faults (status codes, latency). It records every request body for assertions.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Value, json};

/// Credentials the simulator accepts.
pub const USER: &str = "praxis";
/// Password the simulator accepts.
pub const PASSWORD: &str = "sim-password";
/// `platformId` the simulator accepts.
pub const PLATFORM: &str = "PLATFORM";
/// `platformPartnerId` the simulator accepts.
pub const PARTNER: &str = "12345";

const DOCUMENTED: [&str; 20] = [
    "source",
    "sourceTON",
    "destination",
    "destinationTON",
    "userData",
    "dcs",
    "userDataHeader",
    "useDeliveryReport",
    "deliveryReportGates",
    "relativeValidityTime",
    "absoluteValidityTime",
    "priority",
    "refId",
    "customParameters",
    "ignoreResponse",
    "platformId",
    "platformPartnerId",
    "tariff",
    "currency",
    "moReferenceId",
];

/// A fault to inject into the next requests.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Answer this status (with an error body) `n` times.
    Status(u16, u32),
    /// Wait this long before answering, `n` times.
    Delay(Duration, u32),
}

#[derive(Default)]
struct Inner {
    received: Vec<Value>,
    raw: Vec<String>,
    faults: Vec<Fault>,
    next_id: u64,
}

/// A running simulator.
#[derive(Clone)]
pub struct LinkSim {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

fn error(status: StatusCode, code: i64, description: &str) -> Response {
    (status, Json(json!({"resultCode": code, "description": description, "translatedDescription": description}))).into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    );
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(expected.as_str())
}

fn valid_sender(s: &str) -> bool {
    (2..=11).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

async fn send(State(sim): State<LinkSim>, headers: HeaderMap, body: String) -> Response {
    let fault = {
        let mut inner = sim.inner.lock().expect("sim lock");
        inner.raw.push(body.clone());
        // Drop exhausted faults, then take one use of the next.
        while matches!(
            inner.faults.first(),
            Some(Fault::Status(_, 0) | Fault::Delay(_, 0))
        ) {
            inner.faults.remove(0);
        }
        match inner.faults.first_mut() {
            Some(f) => {
                let out = *f;
                match f {
                    Fault::Status(_, n) | Fault::Delay(_, n) => *n -= 1,
                }
                Some(out)
            }
            None => None,
        }
    };
    match fault {
        Some(Fault::Status(s, _)) => {
            let status = StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(status, 106000, "Unknown error");
        }
        Some(Fault::Delay(d, _)) => tokio::time::sleep(d).await,
        None => {}
    }
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, 106100, "Invalid authentication");
    }
    let Ok(Value::Object(req)) = serde_json::from_str::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, 106000, "Invalid JSON");
    };
    if let Some(unknown) = req.keys().find(|k| !DOCUMENTED.contains(&k.as_str())) {
        return error(
            StatusCode::BAD_REQUEST,
            106000,
            &format!("Unknown field {unknown}"),
        );
    }
    match req.get("platformId").and_then(Value::as_str) {
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                106200,
                "Invalid or missing platformId",
            );
        }
        Some(p) if p != PLATFORM => return error(StatusCode::FORBIDDEN, 106101, "Access denied"),
        _ => {}
    }
    match req.get("platformPartnerId").and_then(Value::as_str) {
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                106201,
                "Invalid or missing platformPartnerId",
            );
        }
        Some(p) if p != PARTNER => return error(StatusCode::FORBIDDEN, 106101, "Access denied"),
        _ => {}
    }
    let source = req
        .get("source")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ton = req
        .get("sourceTON")
        .and_then(Value::as_str)
        .unwrap_or("ALPHANUMERIC");
    if ton == "ALPHANUMERIC" && !valid_sender(source) {
        return error(StatusCode::BAD_REQUEST, 106000, "Invalid source");
    }
    let destination = req
        .get("destination")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let digits = destination.strip_prefix('+').unwrap_or("");
    if !(8..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
        return error(StatusCode::BAD_REQUEST, 106000, "Invalid destination");
    }
    let Some(text) = req.get("userData").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, 106000, "Missing userData");
    };
    if text.is_empty() || text.chars().any(|c| (c as u32) > 0xFFFF) {
        return error(StatusCode::BAD_REQUEST, 4001, "Invalid content");
    }
    let wants_dlr = req
        .get("useDeliveryReport")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let gates = req
        .get("deliveryReportGates")
        .and_then(Value::as_array)
        .map(|g| g.len())
        .unwrap_or(0);
    if wants_dlr && gates == 0 {
        return error(StatusCode::BAD_REQUEST, 106300, "No gates available");
    }
    let segments = domain::sms::prepare(text).segments;
    let id = {
        let mut inner = sim.inner.lock().expect("sim lock");
        inner.next_id += 1;
        inner.received.push(Value::Object(req.clone()));
        format!("SIM{:021}", inner.next_id)
    };
    // The documented default of ignoreResponse is true: 204 without a body.
    if req
        .get("ignoreResponse")
        .and_then(Value::as_bool)
        .unwrap_or(true)
    {
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut out = json!({"messageId": id, "resultCode": 1005, "description": "Queued"});
    let count = req
        .get("customParameters")
        .and_then(|c| c.get("replySmsCount"))
        .and_then(Value::as_str);
    if count.is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        out["smsCount"] = json!(segments);
    }
    (StatusCode::OK, Json(out)).into_response()
}

impl LinkSim {
    /// Starts a simulator on a random loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind simulator");
        let addr: SocketAddr = listener.local_addr().expect("address");
        let sim = LinkSim {
            base: format!("http://{addr}"),
            inner: Arc::default(),
        };
        let app = Router::new()
            .route("/sms/send", post(send))
            .with_state(sim.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        sim
    }

    /// Injects a fault for the next requests.
    pub fn inject(&self, fault: Fault) {
        self.inner.lock().expect("sim lock").faults.push(fault);
    }

    /// Accepted request bodies.
    pub fn received(&self) -> Vec<Value> {
        self.inner.lock().expect("sim lock").received.clone()
    }

    /// Every raw request body, accepted or not.
    pub fn raw(&self) -> Vec<String> {
        self.inner.lock().expect("sim lock").raw.clone()
    }
}
