//! A strict local simulator of the part of Stripe's API that invoicing uses
//! (shared/reference/stripe.md): Checkout Sessions (create, expire, retrieve), refunds and the
//! event list, on connected accounts.
//!
//! Strict like the SMS simulators: a Bearer secret key, a `Stripe-Version`, a known
//! `Stripe-Account`, form encoding, documented parameters only (anything else is Stripe's
//! `parameter_unknown`), required parameters and their value rules (amounts, currency, expiry
//! window, payment method types), and Stripe's idempotency semantics — the same key with the
//! same parameters replays the first answer (`Idempotent-Replayed: true`), with other
//! parameters it is an `idempotency_error`, POSTs only. Faults on demand (429, 5xx, delays).
//!
//! It also plays the patient and the Dashboard: [`StripeSim::complete`] pays a session,
//! [`StripeSim::dashboard_refund`] refunds outside our API; each makes the events Stripe
//! would send (session objects carry `customer_details` with the patient's typed name and
//! e-mail, which the server must drop), kept for `GET /v1/events` and returned signed for
//! delivery to the webhook.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// The secret key the simulator accepts.
pub const SECRET_KEY: &str = "sk_test_praxis_simulator";
/// The webhook signing secret the simulator signs with.
pub const WEBHOOK_SECRET: &str = "whsec_praxis_simulator_secret";
/// The API version async-stripe 1.0.0-rc.10 pins.
pub const API_VERSION: &str = "2026-09-30.endive";

/// The parameters Stripe documents for `POST /v1/checkout/sessions` (top level; nested keys
/// are checked by prefix). Anything else is refused.
const SESSION_PARAMS: [&str; 52] = [
    "adaptive_pricing",
    "after_expiration",
    "allow_promotion_codes",
    "allowed_payment_method_types",
    "automatic_tax",
    "billing_address_collection",
    "branding_settings",
    "cancel_url",
    "client_reference_id",
    "consent_collection",
    "currency",
    "custom_fields",
    "custom_text",
    "customer",
    "customer_account",
    "customer_creation",
    "customer_email",
    "customer_update",
    "discounts",
    "excluded_payment_method_types",
    "expand",
    "expires_at",
    "invoice_creation",
    "line_items",
    "locale",
    "metadata",
    "mode",
    "name_collection",
    "optional_items",
    "origin_context",
    "payment_intent_data",
    "payment_method_collection",
    "payment_method_configuration",
    "payment_method_data",
    "payment_method_options",
    "permissions",
    "phone_number_collection",
    "redirect_on_completion",
    "return_url",
    "saved_payment_method_options",
    "setup_intent_data",
    "shipping_address_collection",
    "shipping_options",
    "submit_type",
    "subscription_data",
    "success_url",
    "tax_id_collection",
    "ui_mode",
    "wallet_options",
    "checkout_items",
    "managed_payments",
    "integration_identifier",
];

/// The parameters Stripe documents for `POST /v1/refunds`.
const REFUND_PARAMS: [&str; 9] = [
    "amount",
    "charge",
    "currency",
    "customer",
    "expand",
    "instructions_email",
    "metadata",
    "origin",
    "payment_intent",
];
const REFUND_PARAMS_MORE: [&str; 3] = ["reason", "refund_application_fee", "reverse_transfer"];

const METHODS: [&str; 6] = ["card", "bancontact", "ideal", "sepa_debit", "eps", "p24"];
const LOCALES: [&str; 8] = ["auto", "nl", "fr", "en", "de", "es", "it", "pl"];

/// A fault to inject into the next requests.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Answer this status (with a Stripe error body) `n` times.
    Status(u16, u32),
    /// Wait this long before answering, `n` times (the work is done: a lost answer).
    Delay(Duration, u32),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `POST`, `GET`.
    pub method: String,
    /// `/v1/checkout/sessions`.
    pub path: String,
    /// The raw form body (or query string of a GET).
    pub body: String,
    /// The form as pairs, in order.
    pub form: Vec<(String, String)>,
    /// `Idempotency-Key`.
    pub idempotency_key: Option<String>,
    /// `Stripe-Account`.
    pub account: Option<String>,
}

#[derive(Default)]
struct Inner {
    accounts: Vec<String>,
    received: Vec<Received>,
    faults: Vec<Fault>,
    next: u64,
    sessions: BTreeMap<String, (String, Value)>,
    refunds: BTreeMap<String, Value>,
    /// payment intent → (account, amount, refunded)
    intents: HashMap<String, (String, i64, i64)>,
    idempotency: HashMap<(String, String), (String, u16, Value)>,
    events: Vec<(String, Value)>,
    refund_status: Option<String>,
}

/// The simulator.
#[derive(Clone)]
pub struct StripeSim {
    /// `http://127.0.0.1:port/`.
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

fn error(status: StatusCode, kind: &str, code: &str, param: Option<&str>) -> Response {
    let mut e = json!({"type": kind, "code": code, "message": format!("{code}")});
    if let Some(p) = param {
        e["param"] = json!(p);
    }
    (status, axum::Json(json!({ "error": e }))).into_response()
}

fn invalid(code: &str, param: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        code,
        Some(param),
    )
}

impl StripeSim {
    /// Starts a simulator on a random loopback port that knows `accounts`.
    pub async fn start(accounts: &[&str]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind simulator");
        let addr: SocketAddr = listener.local_addr().expect("address");
        let sim = StripeSim {
            base: format!("http://{addr}/"),
            inner: Arc::default(),
        };
        sim.inner.lock().unwrap().accounts = accounts.iter().map(|a| (*a).to_owned()).collect();
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(retrieve_session))
            .route("/v1/checkout/sessions/{id}/expire", post(expire_session))
            .route("/v1/refunds", post(create_refund))
            .route("/v1/events", get(list_events))
            .with_state(sim.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        sim
    }

    /// The settings that point the server at this simulator.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("STRIPE_SECRET_KEY", SECRET_KEY.to_owned()),
            ("STRIPE_API_BASE", self.base.clone()),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
            ("STRIPE_TIMEOUT_MS", "2000".to_owned()),
        ]
    }

    /// Injects a fault for the next requests.
    pub fn inject(&self, fault: Fault) {
        self.inner.lock().unwrap().faults.push(fault);
    }

    /// The status new refunds get (default `succeeded`).
    pub fn refund_status(&self, status: &str) {
        self.inner.lock().unwrap().refund_status = Some(status.to_owned());
    }

    /// Every request received, accepted or not.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The sessions created, by id.
    pub fn sessions(&self) -> Vec<Value> {
        self.inner
            .lock()
            .unwrap()
            .sessions
            .values()
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// The refunds created.
    pub fn refunds(&self) -> Vec<Value> {
        self.inner
            .lock()
            .unwrap()
            .refunds
            .values()
            .cloned()
            .collect()
    }

    fn id(&self, prefix: &str) -> String {
        let mut i = self.inner.lock().unwrap();
        i.next += 1;
        format!("{prefix}_sim{:06}", i.next)
    }

    fn event(&self, account: &str, kind: &str, object: Value) -> Value {
        let id = self.id("evt");
        let e = json!({
            "id": id, "object": "event", "api_version": API_VERSION, "account": account,
            "created": chrono::Utc::now().timestamp(), "data": {"object": object},
            "livemode": false, "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null}, "type": kind,
        });
        self.inner
            .lock()
            .unwrap()
            .events
            .push((account.to_owned(), e.clone()));
        e
    }

    /// The patient pays a session on Stripe's page (typing a name and an e-mail there); the
    /// `checkout.session.completed` event.
    pub fn complete(&self, session_id: &str) -> Value {
        let pi = self.id("pi");
        let (account, session) = {
            let mut i = self.inner.lock().unwrap();
            let (account, s) = i.sessions.get_mut(session_id).expect("known session");
            s["status"] = json!("complete");
            s["payment_status"] = json!("paid");
            s["payment_intent"] = json!(pi);
            let (account, s) = (account.clone(), s.clone());
            let amount = s["amount_total"].as_i64().unwrap_or(0);
            i.intents.insert(pi.clone(), (account.clone(), amount, 0));
            (account, s)
        };
        let mut object = session;
        object["customer_details"] = json!({
            "email": "canary.payer@example.org", "name": "Canary Payer-Zwanenburg",
            "phone": "+32470999111", "address": {"line1": "Kanariestraat 9", "city": "Zwanegem", "country": "BE"},
            "tax_exempt": "none", "tax_ids": []
        });
        self.event(&account, "checkout.session.completed", object)
    }

    /// A session runs out; the `checkout.session.expired` event.
    pub fn expire(&self, session_id: &str) -> Value {
        let (account, object) = {
            let mut i = self.inner.lock().unwrap();
            let (account, s) = i.sessions.get_mut(session_id).expect("known session");
            s["status"] = json!("expired");
            (account.clone(), s.clone())
        };
        self.event(&account, "checkout.session.expired", object)
    }

    /// A refund made in Stripe's Dashboard (no metadata of ours): `refund.created` (pending)
    /// and `refund.updated` (succeeded).
    pub fn dashboard_refund(&self, payment_intent: &str, amount: i64) -> Vec<Value> {
        let id = self.id("re");
        let account = {
            let mut i = self.inner.lock().unwrap();
            let entry = i
                .intents
                .get_mut(payment_intent)
                .expect("known payment intent");
            entry.2 += amount;
            entry.0.clone()
        };
        let mut refund = json!({"id": id, "object": "refund", "amount": amount, "currency": "eur",
            "created": chrono::Utc::now().timestamp(), "payment_intent": payment_intent,
            "status": "pending", "metadata": {}, "reason": "requested_by_customer"});
        let created = self.event(&account, "refund.created", refund.clone());
        refund["status"] = json!("succeeded");
        self.inner
            .lock()
            .unwrap()
            .refunds
            .insert(id, refund.clone());
        let updated = self.event(&account, "refund.updated", refund);
        vec![created, updated]
    }

    /// `refund.updated` for a refund we were asked for, with a new status.
    pub fn refund_update(&self, refund_id: &str, status: &str) -> Value {
        let (account, object) = {
            let mut i = self.inner.lock().unwrap();
            let r = i.refunds.get_mut(refund_id).expect("known refund");
            r["status"] = json!(status);
            let pi = r["payment_intent"].as_str().unwrap_or_default().to_owned();
            let account = i.intents.get(&pi).map(|e| e.0.clone()).unwrap_or_default();
            (account, i.refunds[refund_id].clone())
        };
        self.event(
            &account,
            if status == "failed" {
                "refund.failed"
            } else {
                "refund.updated"
            },
            object,
        )
    }

    /// The `Stripe-Signature` header for `body` at `t`.
    pub fn signature(body: &str, t: i64) -> String {
        invoicing::stripe::signature::sign(body.as_bytes(), WEBHOOK_SECRET, t)
    }

    /// Delivers an event to the server's webhook now, signed; the status it answered.
    pub async fn deliver(client: &reqwest::Client, base: &str, event: &Value) -> u16 {
        let body = event.to_string();
        let t = chrono::Utc::now().timestamp();
        client
            .post(format!("{base}/v1/hooks/stripe"))
            .header("content-type", "application/json")
            .header("stripe-signature", Self::signature(&body, t))
            .body(body)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }
}

/// Checks what every request must carry and records it; an error answer when it fails.
async fn admit(
    sim: &StripeSim,
    method: Method,
    path: &str,
    headers: &HeaderMap,
    body: &str,
) -> Result<Received, Response> {
    let form: Vec<(String, String)> = form_pairs(body);
    let received = Received {
        method: method.to_string(),
        path: path.to_owned(),
        body: body.to_owned(),
        form,
        idempotency_key: header(headers, "idempotency-key"),
        account: header(headers, "stripe-account"),
    };
    let fault = {
        let mut i = sim.inner.lock().unwrap();
        i.received.push(received.clone());
        let f = i.faults.first().copied();
        match f {
            Some(Fault::Status(s, n)) => {
                if n <= 1 {
                    i.faults.remove(0);
                } else {
                    i.faults[0] = Fault::Status(s, n - 1);
                }
            }
            Some(Fault::Delay(d, n)) => {
                if n <= 1 {
                    i.faults.remove(0);
                } else {
                    i.faults[0] = Fault::Delay(d, n - 1);
                }
            }
            None => {}
        }
        f
    };
    match fault {
        Some(Fault::Status(s, _)) => {
            let status = StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let kind = if s == 429 {
                "rate_limit_error"
            } else {
                "api_error"
            };
            return Err(error(
                status,
                kind,
                if s == 429 { "rate_limit" } else { "api_error" },
                None,
            ));
        }
        Some(Fault::Delay(d, _)) => tokio::time::sleep(d).await,
        None => {}
    }
    if header(headers, "authorization").as_deref() != Some(&format!("Bearer {SECRET_KEY}")) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "api_key_invalid",
            None,
        ));
    }
    if header(headers, "stripe-version").as_deref() != Some(API_VERSION) {
        return Err(invalid("api_version_invalid", "Stripe-Version"));
    }
    let known = {
        let i = sim.inner.lock().unwrap();
        received
            .account
            .as_ref()
            .is_some_and(|a| i.accounts.contains(a))
    };
    if !known {
        return Err(error(
            StatusCode::FORBIDDEN,
            "invalid_request_error",
            "account_invalid",
            Some("Stripe-Account"),
        ));
    }
    if method == Method::POST {
        let ct = header(headers, "content-type").unwrap_or_default();
        if !body.is_empty() && ct != "application/x-www-form-urlencoded" {
            return Err(invalid("content_type_invalid", "Content-Type"));
        }
    } else if received.idempotency_key.is_some() {
        // Stripe ignores it on GET; a client that sends one misunderstands the API.
        return Err(invalid("idempotency_key_on_get", "Idempotency-Key"));
    }
    Ok(received)
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn form_pairs(body: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(body).unwrap_or_default()
}

fn top(key: &str) -> &str {
    key.split('[').next().unwrap_or(key)
}

/// Replays the first answer for the same key and parameters; refuses other parameters.
fn replay(sim: &StripeSim, r: &Received) -> Option<Response> {
    let key = r.idempotency_key.clone()?;
    let i = sim.inner.lock().unwrap();
    let (body, status, answer) = i
        .idempotency
        .get(&(r.account.clone().unwrap_or_default(), key))?;
    if *body != r.body {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "idempotency_error",
            "idempotency_key_in_use",
            None,
        ));
    }
    let mut resp = (
        StatusCode::from_u16(*status).unwrap(),
        axum::Json(answer.clone()),
    )
        .into_response();
    resp.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    Some(resp)
}

fn remember(sim: &StripeSim, r: &Received, status: u16, answer: &Value) {
    if let Some(key) = &r.idempotency_key {
        sim.inner.lock().unwrap().idempotency.insert(
            (r.account.clone().unwrap_or_default(), key.clone()),
            (r.body.clone(), status, answer.clone()),
        );
    }
}

/// The `metadata[key]=value` pairs of a form, as Stripe echoes them.
fn metadata(form: &[(String, String)]) -> serde_json::Map<String, Value> {
    form.iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata[")
                .and_then(|k| k.strip_suffix(']'))
                .map(|k| (k.to_owned(), json!(v)))
        })
        .collect()
}

/// A POST admitted ([`admit`]), or the answer to give: a refusal, or the replay of the first
/// answer for its idempotency key.
async fn admit_post(
    sim: &StripeSim,
    path: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Received, Response> {
    let body = String::from_utf8_lossy(body).into_owned();
    let r = admit(sim, Method::POST, path, headers, &body).await?;
    match replay(sim, &r) {
        Some(replayed) => Err(replayed),
        None => Ok(r),
    }
}

fn get_one<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

async fn create_session(State(sim): State<StripeSim>, headers: HeaderMap, body: Bytes) -> Response {
    let r = match admit_post(&sim, "/v1/checkout/sessions", &headers, &body).await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let f = &r.form;
    if let Some((k, _)) = f.iter().find(|(k, _)| !SESSION_PARAMS.contains(&top(k))) {
        return invalid("parameter_unknown", k);
    }
    if f.iter()
        .any(|(k, _)| k == "payment_method_types" || k.starts_with("payment_method_types["))
    {
        return invalid("parameter_unknown", "payment_method_types");
    }
    let Some(mode) = get_one(f, "mode") else {
        return invalid("parameter_missing", "mode");
    };
    if !["payment", "setup", "subscription"].contains(&mode) {
        return invalid("parameter_invalid_string", "mode");
    }
    let Some(success) = get_one(f, "success_url") else {
        return invalid("parameter_missing", "success_url");
    };
    if !success.starts_with("http://") && !success.starts_with("https://") {
        return invalid("url_invalid", "success_url");
    }
    let currency = get_one(f, "line_items[0][price_data][currency]");
    if currency != Some("eur") {
        return invalid(
            "parameter_invalid_string",
            "line_items[0][price_data][currency]",
        );
    }
    let Some(amount) =
        get_one(f, "line_items[0][price_data][unit_amount]").and_then(|a| a.parse::<i64>().ok())
    else {
        return invalid(
            "parameter_invalid_integer",
            "line_items[0][price_data][unit_amount]",
        );
    };
    if amount < 50 {
        return invalid("amount_too_small", "line_items[0][price_data][unit_amount]");
    }
    if get_one(f, "line_items[0][price_data][product_data][name]").is_none_or(str::is_empty) {
        return invalid(
            "parameter_missing",
            "line_items[0][price_data][product_data][name]",
        );
    }
    let quantity = get_one(f, "line_items[0][quantity]")
        .and_then(|q| q.parse::<i64>().ok())
        .unwrap_or(0);
    if quantity < 1 {
        return invalid("parameter_invalid_integer", "line_items[0][quantity]");
    }
    for (k, v) in f
        .iter()
        .filter(|(k, _)| k.starts_with("allowed_payment_method_types["))
    {
        if !METHODS.contains(&v.as_str()) {
            return invalid("parameter_invalid_string", k);
        }
    }
    if let Some(l) = get_one(f, "locale")
        && !LOCALES.contains(&l)
    {
        return invalid("parameter_invalid_string", "locale");
    }
    if let Some(c) = get_one(f, "customer_creation")
        && !["always", "if_required"].contains(&c)
    {
        return invalid("parameter_invalid_string", "customer_creation");
    }
    let now = chrono::Utc::now().timestamp();
    let expires_at = match get_one(f, "expires_at").map(str::parse::<i64>) {
        None => now + 86_400,
        Some(Ok(t)) if t >= now + 1_800 - 5 && t <= now + 86_400 => t,
        Some(_) => return invalid("expires_at_invalid", "expires_at"),
    };
    let metadata = metadata(f);
    let id = sim.id("cs_test");
    let methods: Vec<&str> = f
        .iter()
        .filter(|(k, _)| k.starts_with("allowed_payment_method_types["))
        .map(|(_, v)| v.as_str())
        .collect();
    let session = json!({
        "id": id, "object": "checkout.session", "automatic_tax": {"enabled": false},
        "amount_total": amount * quantity, "currency": "eur", "created": now,
        "client_reference_id": get_one(f, "client_reference_id"), "custom_fields": [], "custom_text": {},
        "expires_at": expires_at, "livemode": false, "metadata": metadata, "mode": mode,
        "payment_intent": null, "payment_method_types": methods, "payment_status": "unpaid",
        "shipping_options": [], "status": "open", "success_url": success,
        "url": format!("https://checkout.stripe.com/c/pay/{id}"),
    });
    let account = r.account.clone().unwrap_or_default();
    sim.inner
        .lock()
        .unwrap()
        .sessions
        .insert(id, (account, session.clone()));
    remember(&sim, &r, 200, &session);
    (StatusCode::OK, axum::Json(session)).into_response()
}

async fn retrieve_session(
    State(sim): State<StripeSim>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let r = match admit(
        &sim,
        Method::GET,
        &format!("/v1/checkout/sessions/{id}"),
        &headers,
        "",
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return e,
    };
    let i = sim.inner.lock().unwrap();
    match i.sessions.get(&id) {
        Some((a, s)) if Some(a) == r.account.as_ref() => {
            (StatusCode::OK, axum::Json(s.clone())).into_response()
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "resource_missing",
            Some("session"),
        ),
    }
}

async fn expire_session(
    State(sim): State<StripeSim>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = match admit_post(
        &sim,
        &format!("/v1/checkout/sessions/{id}/expire"),
        &headers,
        &body,
    )
    .await
    {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    if let Some((k, _)) = r.form.iter().find(|(k, _)| top(k) != "expand") {
        return invalid("parameter_unknown", k);
    }
    let answer = {
        let mut i = sim.inner.lock().unwrap();
        match i.sessions.get_mut(&id) {
            Some((a, s)) if Some(&*a) == r.account.as_ref() => {
                if s["status"] != "open" {
                    return invalid("checkout_session_not_expirable", "session");
                }
                s["status"] = json!("expired");
                s.clone()
            }
            _ => {
                return error(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    "resource_missing",
                    Some("session"),
                );
            }
        }
    };
    remember(&sim, &r, 200, &answer);
    (StatusCode::OK, axum::Json(answer)).into_response()
}

async fn create_refund(State(sim): State<StripeSim>, headers: HeaderMap, body: Bytes) -> Response {
    let r = match admit_post(&sim, "/v1/refunds", &headers, &body).await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let f = &r.form;
    if let Some((k, _)) = f
        .iter()
        .find(|(k, _)| !REFUND_PARAMS.contains(&top(k)) && !REFUND_PARAMS_MORE.contains(&top(k)))
    {
        return invalid("parameter_unknown", k);
    }
    let Some(pi) = get_one(f, "payment_intent") else {
        return invalid("parameter_missing", "payment_intent");
    };
    if let Some(reason) = get_one(f, "reason")
        && !["duplicate", "fraudulent", "requested_by_customer"].contains(&reason)
    {
        return invalid("parameter_invalid_string", "reason");
    }
    let amount = match get_one(f, "amount").map(str::parse::<i64>) {
        None => None,
        Some(Ok(a)) if a > 0 => Some(a),
        Some(_) => return invalid("parameter_invalid_integer", "amount"),
    };
    let status = {
        let mut i = sim.inner.lock().unwrap();
        let status = i
            .refund_status
            .clone()
            .unwrap_or_else(|| "succeeded".into());
        let Some(entry) = i.intents.get_mut(pi) else {
            return invalid("resource_missing", "payment_intent");
        };
        if Some(&entry.0) != r.account.as_ref() {
            return invalid("resource_missing", "payment_intent");
        }
        let amount = amount.unwrap_or(entry.1 - entry.2);
        if entry.2 + amount > entry.1 {
            return invalid("amount_too_large", "amount");
        }
        entry.2 += amount;
        (status, amount)
    };
    let metadata = metadata(f);
    let id = sim.id("re");
    let refund = json!({"id": id, "object": "refund", "amount": status.1, "currency": "eur",
        "created": chrono::Utc::now().timestamp(), "payment_intent": pi, "status": status.0,
        "metadata": metadata, "reason": get_one(f, "reason")});
    sim.inner.lock().unwrap().refunds.insert(id, refund.clone());
    remember(&sim, &r, 200, &refund);
    (StatusCode::OK, axum::Json(refund)).into_response()
}

async fn list_events(
    State(sim): State<StripeSim>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query.unwrap_or_default();
    let r = match admit(&sim, Method::GET, "/v1/events", &headers, &query).await {
        Ok(r) => r,
        Err(e) => return e,
    };
    let allowed = [
        "created",
        "delivery_success",
        "ending_before",
        "expand",
        "limit",
        "starting_after",
        "type",
        "types",
    ];
    if let Some((k, _)) = r.form.iter().find(|(k, _)| !allowed.contains(&top(k))) {
        return invalid("parameter_unknown", k);
    }
    let types: Vec<&str> = r
        .form
        .iter()
        .filter(|(k, _)| k.starts_with("types["))
        .map(|(_, v)| v.as_str())
        .collect();
    let gte = get_one(&r.form, "created[gte]")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    let limit = get_one(&r.form, "limit")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    let after = get_one(&r.form, "starting_after");
    let i = sim.inner.lock().unwrap();
    // Newest first, like Stripe.
    let mine: Vec<&Value> = i
        .events
        .iter()
        .rev()
        .filter(|(a, e)| {
            Some(a) == r.account.as_ref()
                && (types.is_empty() || types.contains(&e["type"].as_str().unwrap_or_default()))
                && e["created"].as_i64().unwrap_or(0) >= gte
        })
        .map(|(_, e)| e)
        .collect();
    let start = match after {
        Some(a) => mine
            .iter()
            .position(|e| e["id"] == a)
            .map(|p| p + 1)
            .unwrap_or(mine.len()),
        None => 0,
    };
    let page: Vec<Value> = mine
        .iter()
        .skip(start)
        .take(limit)
        .map(|e| (*e).clone())
        .collect();
    let has_more = start + page.len() < mine.len();
    (
        StatusCode::OK,
        axum::Json(
            json!({"object": "list", "data": page, "has_more": has_more, "url": "/v1/events"}),
        ),
    )
        .into_response()
}
