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

/// Where the platform simulator sends delivery reports (a LINK "gate").
#[derive(Debug, Clone)]
pub struct Gate {
    /// Callback URL.
    pub url: String,
    /// Basic credentials stored on the gate.
    pub credentials: Option<(String, String)>,
}

#[derive(Default)]
struct Inner {
    received: Vec<Value>,
    raw: Vec<String>,
    faults: Vec<Fault>,
    next_id: u64,
    gate: Option<Gate>,
    /// Platform `resultCode` / SMSAPI `status` of the final report (default delivered).
    final_code: Option<i64>,
    /// Reports answered with success by our server: (url without query, status).
    callbacks: Vec<(String, u16)>,
    /// Callback attempts that were not acknowledged.
    callback_retries: u64,
    /// Whether to drop the HTTP answer after accepting (the client sees a failure).
    drop_answers: u32,
    /// Emit no delivery reports.
    hold_reports: bool,
    /// Every `idx` accepted (SMSAPI `check_idx`).
    idx_seen: std::collections::HashSet<String>,
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

/// Records the raw body and applies the next fault: `Some(status)` to answer with.
async fn take_fault(inner: &Mutex<Inner>, body: &str) -> Option<StatusCode> {
    let fault = {
        let mut inner = inner.lock().expect("sim lock");
        inner.raw.push(body.to_owned());
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
            Some(StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        }
        Some(Fault::Delay(d, _)) => {
            tokio::time::sleep(d).await;
            None
        }
        None => None,
    }
}

async fn send(State(sim): State<LinkSim>, headers: HeaderMap, body: String) -> Response {
    if let Some(status) = take_fault(&sim.inner, &body).await {
        return error(status, 106000, "Unknown error");
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
    let (id, gate, code, drop_answer) = {
        let mut inner = sim.inner.lock().expect("sim lock");
        inner.next_id += 1;
        inner.received.push(Value::Object(req.clone()));
        let drop_answer = inner.drop_answers > 0;
        if drop_answer {
            inner.drop_answers -= 1;
        }
        (
            format!("SIM{:021}", inner.next_id),
            inner.gate.clone(),
            inner.final_code.unwrap_or(1001),
            drop_answer,
        )
    };
    let held = sim.inner.lock().expect("sim lock").hold_reports;
    if let (true, Some(gate), false) = (wants_dlr, gate, held) {
        let ref_id = req.get("refId").and_then(Value::as_str).map(str::to_owned);
        for part in 0..segments {
            let part_id = if segments > 1 {
                format!("{id}${part}")
            } else {
                id.clone()
            };
            let body = json!({"refId": ref_id, "id": part_id, "operator": "be.sim",
                "sentTimestamp": "2026-01-01T00:00:00Z", "timestamp": "2026-01-01T00:00:01Z",
                "resultCode": code, "operatorResultCode": "0", "segments": segments,
                "gateCustomParameters": {}, "customParameters": {}});
            tokio::spawn(deliver(sim.clone(), gate.clone(), body));
        }
    }
    if drop_answer {
        return StatusCode::BAD_GATEWAY.into_response();
    }
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

/// Posts a delivery report to the gate until it is acknowledged with 200 (at most 100 tries,
/// 200 ms apart). The gate is read again before every try, as LINK's gate is a configured
/// address that keeps pointing at the service when a process behind it restarts.
async fn deliver(sim: LinkSim, gate: Gate, body: Value) {
    let client = reqwest::Client::new();
    for _ in 0..100 {
        let gate = sim
            .inner
            .lock()
            .expect("sim lock")
            .gate
            .clone()
            .unwrap_or_else(|| gate.clone());
        let mut req = client.post(&gate.url).json(&body);
        if let Some((u, p)) = &gate.credentials {
            req = req.basic_auth(u, Some(p));
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => {
                sim.inner
                    .lock()
                    .expect("sim lock")
                    .callbacks
                    .push((gate.url.clone(), r.status().as_u16()));
                return;
            }
            _ => {
                sim.inner.lock().expect("sim lock").callback_retries += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// SMSAPI callbacks: GET `notify_url` with the report in the query until the body is `OK`.
async fn notify(sim: LinkSim, url: String, query: Vec<(String, String)>) {
    let client = reqwest::Client::new();
    for _ in 0..20 {
        match client.get(&url).query(&query).send().await {
            Ok(r) if r.status().is_success() => {
                let status = r.status().as_u16();
                if r.text().await.is_ok_and(|b| b == "OK") {
                    sim.inner
                        .lock()
                        .expect("sim lock")
                        .callbacks
                        .push((url.clone(), status));
                    return;
                }
                sim.inner.lock().expect("sim lock").callback_retries += 1;
            }
            _ => {
                sim.inner.lock().expect("sim lock").callback_retries += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl LinkSim {
    /// Sets the gate delivery reports go to (platform API).
    pub fn set_gate(&self, gate: Gate) {
        self.inner.lock().expect("sim lock").gate = Some(gate);
    }

    /// Sets the final report code: platform `resultCode` (1001 delivered, 2104 unknown
    /// subscriber, ...) or SMSAPI `status` (404 delivered, ...).
    pub fn set_final_code(&self, code: i64) {
        self.inner.lock().expect("sim lock").final_code = Some(code);
    }

    /// Accepts the next `n` sends but answers them with 502 (the answer is lost on the way).
    pub fn lose_answers(&self, n: u32) {
        self.inner.lock().expect("sim lock").drop_answers = n;
    }

    /// Stops (or resumes) emitting delivery reports.
    pub fn hold_reports(&self, hold: bool) {
        self.inner.lock().expect("sim lock").hold_reports = hold;
    }

    /// Sends an inbound message (platform MO format) to `url`, as a gate would.
    pub async fn deliver_mo(&self, url: &str, from: &str, text: &str) -> u16 {
        let id = {
            let mut inner = self.inner.lock().expect("sim lock");
            inner.next_id += 1;
            format!("MO{:022}", inner.next_id)
        };
        let gate = self.inner.lock().expect("sim lock").gate.clone();
        let body = json!({"destination": "BE-8850", "subNumber": null, "source": from,
            "content": {"type": "SMS", "userData": text, "encoding": "TEXT"},
            "operator": "be.sim", "timestamp": chrono::Utc::now().to_rfc3339(), "messageId": id,
            "operatorTimestamp": null, "operatorMessageId": null, "route": null,
            "gateCustomParameters": {}, "customParameters": {}});
        let mut req = reqwest::Client::new().post(url).json(&body);
        if let Some((u, p)) = gate.and_then(|g| g.credentials) {
            req = req.basic_auth(u, Some(p));
        }
        req.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
    }

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
            .route("/sms.do", post(sms_do))
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

    /// How many messages were accepted (cheaper than [`Self::received`] for polling).
    pub fn received_count(&self) -> usize {
        self.inner.lock().expect("sim lock").received.len()
    }

    /// Every raw request body, accepted or not.
    pub fn raw(&self) -> Vec<String> {
        self.inner.lock().expect("sim lock").raw.clone()
    }
}

/// The token the SMSAPI simulator accepts.
pub const SMSAPI_TOKEN: &str = "sim-smsapi-token";

const SMSAPI_PARAMS: [&str; 16] = [
    "to",
    "message",
    "from",
    "encoding",
    "format",
    "idx",
    "check_idx",
    "notify_url",
    "test",
    "fast",
    "date",
    "expiration_date",
    "max_parts",
    "nounicode",
    "normalize",
    "details",
];

fn smsapi_error(code: i64, message: &str) -> Response {
    // Business errors are HTTP 200 with an error body (reference §2.4).
    (
        StatusCode::OK,
        Json(json!({"error": code, "message": message})),
    )
        .into_response()
}

async fn sms_do(
    State(sim): State<LinkSim>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: String,
) -> Response {
    if let Some(status) = take_fault(&sim.inner, &body).await {
        return (status, "").into_response();
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if bearer != Some(format!("Bearer {SMSAPI_TOKEN}").as_str()) {
        return smsapi_error(101, "Authorization failed");
    }
    // Form or JSON body; `format` may also be in the query.
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let mut params: serde_json::Map<String, Value> = if json_body {
        match serde_json::from_str::<Value>(&body) {
            Ok(Value::Object(m)) => m,
            _ => return smsapi_error(8, "Request error"),
        }
    } else {
        form_urlencoded_pairs(&body)
    };
    for (k, v) in form_urlencoded_pairs(uri.query().unwrap_or_default()) {
        params.entry(k).or_insert(v);
    }
    if let Some(unknown) = params.keys().find(|k| !SMSAPI_PARAMS.contains(&k.as_str())) {
        return smsapi_error(8, &format!("Unknown parameter {unknown}"));
    }
    let get = |k: &str| {
        params
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if get("format") != "json" || get("encoding") != "utf-8" {
        return smsapi_error(8, "Request error");
    }
    let to = get("to");
    if !(11..=15).contains(&to.len()) || !to.chars().all(|c| c.is_ascii_digit()) {
        return (StatusCode::OK, Json(json!({"error": 13, "message": "No correct phone numbers",
            "invalid_numbers": [{"number": to, "submitted_number": to, "message": "Invalid phone number"}]}))).into_response();
    }
    let message = get("message");
    if message.is_empty() || message.chars().any(|c| (c as u32) > 0xFFFF) {
        return smsapi_error(
            11,
            "Message too long or empty or contains unsupported characters",
        );
    }
    let from = get("from");
    if !from.is_empty() && (from.len() > 11 || !from.chars().all(|c| c.is_ascii_alphanumeric())) {
        return smsapi_error(14, "Invalid sender name");
    }
    let idx = get("idx");
    let mut inner = sim.inner.lock().expect("sim lock");
    if get("check_idx") == "1" && !idx.is_empty() && inner.idx_seen.contains(&idx) {
        return smsapi_error(53, "Duplicated idx");
    }
    if !idx.is_empty() {
        inner.idx_seen.insert(idx.clone());
    }
    inner.next_id += 1;
    let id = format!("{:024X}", inner.next_id);
    inner.received.push(Value::Object(params.clone()));
    let notify_url = get("notify_url");
    if !notify_url.is_empty() && get("test") != "1" && !inner.hold_reports {
        let code = inner.final_code.unwrap_or(404);
        let query = vec![
            ("MsgId".to_owned(), id.clone()),
            ("status".to_owned(), code.to_string()),
            (
                "status_name".to_owned(),
                if code == 404 {
                    "DELIVERED"
                } else {
                    "UNDELIVERED"
                }
                .to_owned(),
            ),
            ("idx".to_owned(), idx.clone()),
            ("donedate".to_owned(), "1800000010".to_owned()),
            ("username".to_owned(), "praxis".to_owned()),
            ("points".to_owned(), "0.16".to_owned()),
            ("from".to_owned(), get("from")),
            ("to".to_owned(), to.clone()),
        ];
        tokio::spawn(notify(sim.clone(), notify_url, query));
    }
    if inner.drop_answers > 0 {
        inner.drop_answers -= 1;
        return (StatusCode::BAD_GATEWAY, "").into_response();
    }
    (StatusCode::OK, Json(json!({"count": 1, "list": [{"id": id, "points": 0.16, "number": to, "date_sent": 1_800_000_000,
        "submitted_number": to, "status": "QUEUE", "idx": idx}]}))).into_response()
}

fn form_urlencoded_pairs(s: &str) -> serde_json::Map<String, Value> {
    url_decode_pairs(s)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

fn url_decode_pairs(s: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(s).unwrap_or_default()
}
