//! Provider callbacks: delivery reports and inbound messages (replies).
//!
//! Authentication: every callback URL carries the secret token `SMS_CALLBACK_TOKEN` in its
//! path; LINK platform gates also send the Basic credentials stored on the gate
//! (`LINK_GATE_USERNAME`/`LINK_GATE_PASSWORD`). A wrong token is answered 404 (nothing to
//! discover), wrong credentials 401, a malformed body 400. Reports about messages we do not
//! know are acknowledged (so the provider stops retrying) and change nothing; a replayed report
//! or inbound message matches its earlier row and changes nothing. Every callback is counted
//! in `sms_callbacks_total{kind, result}`.
//!
//! Callbacks carry no tenant. Our reference (the message id) or the sender's number is looked up
//! in `notifications.route` in a read-only transaction with `app.routing = on`; the work itself
//! then runs inside the practice's tenant.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use domain::PracticeId;
use domain::jobs::{PATIENT_REPLY, PatientReply, ReplyAction};
use domain::message::MessageState;
use domain::replies::{Intent, classify};
use platform::AppState;
use platform::crypto::FieldRef;
use platform::db::set_tenant;
use platform::jobs::enqueue;
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use platform::patients::ContactSource;

/// The callback routes (no session; see the module docs).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/hooks/link/{token}/dlr", post(link_dlr))
        .route("/v1/hooks/link/{token}/mo", post(link_mo))
        .route(
            "/v1/hooks/smsapi/{token}/dlr",
            axum::routing::get(smsapi_dlr_get).post(smsapi_dlr_post),
        )
        .route("/v1/hooks/smsapi/{token}/mo", post(smsapi_mo))
}

/// Constant-time comparison; digests first, so the secret's length does not leak either.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    Sha256::digest(a).ct_eq(&Sha256::digest(b)).into()
}

fn count(kind: &'static str, result: &'static str) {
    metrics::counter!("sms_callbacks_total", "kind" => kind, "result" => result).increment(1);
}

/// A refused callback: counted and logged by kind and reason, never by content.
fn refuse(kind: &'static str, result: &'static str, status: StatusCode) -> Response {
    count(kind, result);
    tracing::warn!(callback = kind, result, "callback refused");
    (status, result).into_response()
}

fn token_ok(state: &AppState, token: &str) -> bool {
    ct_eq(
        token.as_bytes(),
        state
            .settings()
            .sms_callback_token
            .expose_secret()
            .as_bytes(),
    )
}

fn basic_ok(state: &AppState, headers: &HeaderMap) -> bool {
    let Some((user, password)) = &state.settings().link_gate_credentials else {
        return true;
    };
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}", password.expose_secret()))
    );
    let given = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    ct_eq(given, expected.as_bytes())
}

/// What a report says about a message part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// Still on its way.
    InFlight,
    /// Delivered to the handset.
    Delivered,
    /// Validity ran out.
    Expired,
    /// Not delivered; `true` when the number itself is wrong (flag it for staff).
    Failed(bool),
}

impl Report {
    /// The state this report alone points to (a multi-part message is delivered when every
    /// part is).
    fn state(self) -> MessageState {
        match self {
            Report::InFlight => MessageState::Sent,
            Report::Delivered => MessageState::Delivered,
            Report::Expired => MessageState::Expired,
            Report::Failed(_) => MessageState::Failed,
        }
    }
}

/// LINK platform `resultCode` (reference §1.7).
pub fn platform_report(code: i64) -> Report {
    match code {
        1001 => Report::Delivered,
        1000 | 1005 | 1007 | 1008 | 1011 | 1012 | 1013 => Report::InFlight,
        1002 | 1010 | 4 | 5 => Report::Expired,
        2104..=2106 => Report::Failed(true),
        _ => Report::Failed(false),
    }
}

/// SMSAPI `status` (reference §2.5).
pub fn smsapi_report(code: i64) -> Report {
    match code {
        404 => Report::Delivered,
        403 | 409 | 410 | 411 => Report::InFlight,
        402 | 408 => Report::Expired,
        _ => Report::Failed(false),
    }
}

/// What applying a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The message state moved (or the report was recorded).
    Applied,
    /// The same report came before.
    Replayed,
    /// No message with that reference.
    Unknown,
}

impl Applied {
    fn label(self) -> &'static str {
        match self {
            Applied::Applied => "applied",
            Applied::Replayed => "replayed",
            Applied::Unknown => "unknown_message",
        }
    }
}

/// A read-only transaction that may read `notifications.route` across practices (one round
/// trip, simple query protocol, fixed text).
async fn routing_tx(state: &AppState) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    state
        .db()
        .pool()
        .begin_with("begin read only; select set_config('app.routing', 'on', true)")
        .await
}

async fn practice_of(state: &AppState, reference: &str) -> sqlx::Result<Option<PracticeId>> {
    let mut tx = routing_tx(state).await?;
    let p: Option<Uuid> =
        sqlx::query_scalar("select practice_id from notifications.route where reference = $1")
            .bind(reference)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(p.map(PracticeId::from_uuid))
}

/// Routes of a phone number, newest first: (practice, patient, reference).
async fn routes_of_phone(state: &AppState, hmac: &[u8]) -> sqlx::Result<Vec<(Uuid, Uuid, String)>> {
    let mut tx = routing_tx(state).await?;
    let rows = sqlx::query_as(
        "select practice_id, patient_id, reference from notifications.route where phone_hmac = $1 order by sent_at desc limit 100",
    )
    .bind(hmac)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Applies one report about one part of a message.
pub async fn apply_report(
    state: &AppState,
    reference: &str,
    provider_id: Option<&str>,
    part: i32,
    provider_status: &str,
    report: Report,
) -> anyhow::Result<Applied> {
    let Ok(message) = Uuid::try_parse(reference) else {
        return Ok(Applied::Unknown);
    };
    let Some(practice) = practice_of(state, reference).await? else {
        return Ok(Applied::Unknown);
    };
    let mut tx = state.db().tenant(practice).await?;
    let current: Option<(String, Option<i32>, Uuid)> = sqlx::query_as(
        "select state, segments, patient_id from notifications.message where message_id = $1 for update",
    )
    .bind(message)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((current, segments, patient)) = current else {
        return Ok(Applied::Unknown);
    };
    let label = report.state();
    let new: Option<String> = sqlx::query_scalar(
        r#"insert into notifications.delivery_report (practice_id, message_id, part, provider_status, state)
           values ($1, $2, $3, $4, $5) on conflict do nothing returning state"#,
    )
    .bind(practice.as_uuid())
    .bind(message)
    .bind(part)
    .bind(provider_status)
    .bind(label.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    if new.is_none() {
        tx.commit().await?;
        return Ok(Applied::Replayed);
    }
    let settled = current
        .parse::<MessageState>()
        .is_ok_and(MessageState::is_reported_final);
    if !settled {
        let next = match report {
            Report::Delivered => {
                let parts: i64 = sqlx::query_scalar(
                    "select count(distinct part) from notifications.delivery_report where message_id = $1 and state = 'delivered'",
                )
                .bind(message)
                .fetch_one(&mut *tx)
                .await?;
                if parts >= i64::from(segments.unwrap_or(1).max(1)) {
                    MessageState::Delivered
                } else {
                    MessageState::Sent
                }
            }
            other => other.state(),
        };
        let last = next.is_reported_final();
        sqlx::query(
            r#"update notifications.message
                  set state = $2, provider_id = coalesce(provider_id, $3), sent_at = coalesce(sent_at, now()),
                      sending_since = null, next_attempt_at = null,
                      final_at = case when $4 then now() else final_at end,
                      reason = case when $2 = 'failed' then 'provider_status_' || $5 else reason end
                where message_id = $1"#,
        )
        .bind(message)
        .bind(next.as_str())
        .bind(provider_id)
        .bind(last)
        .bind(provider_status)
        .execute(&mut *tx)
        .await?;
        if report == Report::Failed(true) {
            let source = ContactSource {
                route: "callback:delivery_report",
                purpose: "message_delivery",
            };
            let patient = domain::PatientId::from_uuid(patient);
            let reason = "unknown_subscriber_or_number_error";
            platform::patients::flag_mobile(&mut tx, practice, patient, reason, source).await?;
        }
    }
    tx.commit().await?;
    Ok(Applied::Applied)
}

/// Checks a LINK gate callback (path token, gate credentials) and parses its JSON body; on
/// refusal, the result label and status to answer with.
fn platform_callback<T: serde::de::DeserializeOwned>(
    state: &AppState,
    token: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, (&'static str, StatusCode)> {
    if !token_ok(state, token) {
        return Err(("bad_token", StatusCode::NOT_FOUND));
    }
    if !basic_ok(state, headers) {
        return Err(("bad_credentials", StatusCode::UNAUTHORIZED));
    }
    serde_json::from_slice(body).map_err(|_| ("malformed", StatusCode::BAD_REQUEST))
}

/// A LINK platform delivery report (reference §1.7).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlatformDlr {
    #[serde(default)]
    ref_id: Option<String>,
    id: String,
    result_code: i64,
}

/// A delivery report from a LINK platform gate (Basic credentials of the gate when configured).
#[utoipa::path(post, path = "/v1/hooks/link/{token}/dlr", tag = "provider callbacks",
    params(("token" = String, Path, description = "SMS_CALLBACK_TOKEN (404 when wrong)", pattern = r"^[A-Za-z0-9_-]{24,}$")), request_body(content = crate::hooks_doc::LinkDeliveryReport, content_type = "application/json"),
    responses((status = 200, description = "recorded, replayed or about an unknown message"),
              (status = 401, description = "wrong gate credentials", body = platform::error::Problem)))]
pub(crate) async fn link_dlr(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const KIND: &str = "link_dlr";
    let dlr: PlatformDlr = match platform_callback(&state, &token, &headers, &body) {
        Ok(v) => v,
        Err((result, status)) => return refuse(KIND, result, status),
    };
    // Multi-part messages: one report per part, id `{messageId}${n}`.
    let (provider_id, part) = match dlr.id.rsplit_once('$') {
        Some((id, n)) => match n.parse::<i32>() {
            Ok(n) => (id.to_owned(), n),
            Err(_) => return refuse(KIND, "malformed", StatusCode::BAD_REQUEST),
        },
        None => (dlr.id.clone(), 0),
    };
    let Some(reference) = dlr.ref_id.filter(|r| !r.is_empty()) else {
        count(KIND, "unknown_message");
        return StatusCode::OK.into_response();
    };
    match apply_report(
        &state,
        &reference,
        Some(&provider_id),
        part,
        &dlr.result_code.to_string(),
        platform_report(dlr.result_code),
    )
    .await
    {
        Ok(a) => {
            count(KIND, a.label());
            StatusCode::OK.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "delivery report failed");
            // 5xx: the gate retries.
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// SMSAPI answers must be the body `OK`, or it retries.
fn ok_text() -> Response {
    (StatusCode::OK, "OK").into_response()
}

async fn smsapi_dlr(state: AppState, token: String, params: Vec<(String, String)>) -> Response {
    const KIND: &str = "smsapi_dlr";
    if !token_ok(&state, &token) {
        return refuse(KIND, "bad_token", StatusCode::NOT_FOUND);
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (Some(ids), Some(statuses)) = (get("MsgId"), get("status")) else {
        return refuse(KIND, "malformed", StatusCode::BAD_REQUEST);
    };
    // Bulk callbacks: comma-separated values aligned by position.
    let ids: Vec<&str> = ids.split(',').collect();
    let statuses: Vec<&str> = statuses.split(',').collect();
    let idxs: Vec<&str> = get("idx")
        .map(|s| s.split(',').collect())
        .unwrap_or_default();
    if ids.len() != statuses.len() || (!idxs.is_empty() && idxs.len() != ids.len()) {
        return refuse(KIND, "malformed", StatusCode::BAD_REQUEST);
    }
    let mut parsed = Vec::with_capacity(ids.len());
    for (i, (id, status)) in ids.iter().zip(&statuses).enumerate() {
        let Ok(code) = status.trim().parse::<i64>() else {
            return refuse(KIND, "malformed", StatusCode::BAD_REQUEST);
        };
        parsed.push((*id, code, idxs.get(i).copied()));
    }
    for (id, code, idx) in parsed {
        let Some(reference) = idx.filter(|r| !r.is_empty()) else {
            count(KIND, "unknown_message");
            continue;
        };
        match apply_report(
            &state,
            reference,
            Some(id),
            0,
            &code.to_string(),
            smsapi_report(code),
        )
        .await
        {
            Ok(a) => count(KIND, a.label()),
            Err(e) => {
                tracing::error!(error = %e, "delivery report failed");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
    }
    ok_text()
}

fn pairs(s: &str) -> Option<Vec<(String, String)>> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(s).ok()
}

/// An SMSAPI delivery report as a GET with query parameters.
#[utoipa::path(get, path = "/v1/hooks/smsapi/{token}/dlr", tag = "provider callbacks",
    params(("token" = String, Path, description = "SMS_CALLBACK_TOKEN (404 when wrong)", pattern = r"^[A-Za-z0-9_-]{24,}$"),
        ("MsgId" = String, Query, pattern = r"^[^,]+(,[^,]+)*$"),
        ("status" = String, Query, pattern = r"^[0-9]+(,[0-9]+)*$"),
        ("idx" = Option<String>, Query), ("donedate" = Option<String>, Query)),
    responses((status = 200, description = "the body `OK`", content_type = "text/plain", body = String)))]
pub(crate) async fn smsapi_dlr_get(
    State(state): State<AppState>,
    Path(token): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    match pairs(query.as_deref().unwrap_or_default()) {
        Some(p) => smsapi_dlr(state, token, p).await,
        None => refuse("smsapi_dlr", "malformed", StatusCode::BAD_REQUEST),
    }
}

/// An SMSAPI delivery report as a form POST.
#[utoipa::path(post, path = "/v1/hooks/smsapi/{token}/dlr", tag = "provider callbacks",
    params(("token" = String, Path, description = "SMS_CALLBACK_TOKEN (404 when wrong)", pattern = r"^[A-Za-z0-9_-]{24,}$")), request_body(content = crate::hooks_doc::SmsapiReport, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "the body `OK`", content_type = "text/plain", body = String)))]
pub(crate) async fn smsapi_dlr_post(
    State(state): State<AppState>,
    Path(token): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let Ok(body) = std::str::from_utf8(&body) else {
        return refuse("smsapi_dlr", "malformed", StatusCode::BAD_REQUEST);
    };
    match (pairs(query.as_deref().unwrap_or_default()), pairs(body)) {
        (Some(mut q), Some(b)) => {
            q.extend(b);
            smsapi_dlr(state, token, q).await
        }
        _ => refuse("smsapi_dlr", "malformed", StatusCode::BAD_REQUEST),
    }
}

/// What an inbound message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// Handled.
    Applied,
    /// Seen before.
    Replayed,
    /// From a number we never messaged.
    UnknownSender,
}

/// Handles one inbound message from `from` (E.164).
pub async fn apply_inbound(
    state: &AppState,
    from: &str,
    text: &str,
    received_at: DateTime<Utc>,
    inbound_key: &[u8],
) -> anyhow::Result<Inbound> {
    let routes = routes_of_phone(state, &state.settings().master_key.phone_route(from)).await?;
    let Some((practice, patient, reference)) = routes.first().cloned() else {
        return Ok(Inbound::UnknownSender);
    };
    let mut tx = state.db().pool().begin().await?;
    let fresh: Option<i32> = sqlx::query_scalar(
        "insert into notifications.inbound_seen (inbound_key) values ($1) on conflict do nothing returning 1",
    )
    .bind(inbound_key)
    .fetch_optional(&mut *tx)
    .await?;
    if fresh.is_none() {
        return Ok(Inbound::Replayed);
    }
    let intent = classify(text);
    let message = Uuid::try_parse(&reference).ok();
    if intent == Intent::Stop {
        // Opt out at every practice that messaged this number.
        let mut practices: Vec<(Uuid, Uuid, String)> = Vec::new();
        for r in &routes {
            if !practices.iter().any(|p| p.0 == r.0) {
                practices.push(r.clone());
            }
        }
        for (practice, patient, reference) in practices {
            let practice = PracticeId::from_uuid(practice);
            set_tenant(&mut tx, practice).await?;
            let source = ContactSource {
                route: "callback:sms_inbound",
                purpose: "patient_reply",
            };
            platform::patients::withdraw_sms_consent(&mut tx, practice, from, source).await?;
            sqlx::query(
                r#"update notifications.message set state = 'cancelled', reason = 'opted_out', final_at = now()
                    where state in ('scheduled', 'retrying')
                      and patient_id in (select patient_id from core.patient where mobile_e164 = $1)"#,
            )
            .bind(from)
            .execute(&mut *tx)
            .await?;
            insert_reply(
                &mut tx,
                practice,
                patient,
                Uuid::try_parse(&reference).ok(),
                None,
                "stop",
                "opted_out",
                None,
                received_at,
            )
            .await?;
        }
        tx.commit().await?;
        return Ok(Inbound::Applied);
    }
    let practice = PracticeId::from_uuid(practice);
    set_tenant(&mut tx, practice).await?;
    let about: Option<(String, Option<Uuid>)> = match message {
        Some(m) => {
            sqlx::query_as(
                "select kind, appointment_id from notifications.message where message_id = $1",
            )
            .bind(m)
            .fetch_optional(&mut *tx)
            .await?
        }
        None => None,
    };
    let appointment = about
        .filter(|(kind, _)| kind == "reminder")
        .and_then(|(_, a)| a);
    match (intent, appointment) {
        (Intent::Confirm | Intent::Cancel, Some(appointment)) => {
            let reply_id = insert_reply(
                &mut tx,
                practice,
                patient,
                message,
                Some(appointment),
                if intent == Intent::Confirm {
                    "confirm"
                } else {
                    "cancel"
                },
                "forwarded",
                None,
                received_at,
            )
            .await?;
            let job = PatientReply {
                practice_id: practice,
                reply_id,
                patient_id: patient,
                appointment_id: appointment,
                action: if intent == Intent::Confirm {
                    ReplyAction::Confirm
                } else {
                    ReplyAction::Cancel
                },
                received_at,
            };
            enqueue(
                &mut tx,
                PATIENT_REPLY,
                &job,
                Utc::now(),
                &format!("patient-reply:{reply_id}"),
            )
            .await?;
        }
        (Intent::Confirm | Intent::Cancel, None) => {
            insert_reply(
                &mut tx,
                practice,
                patient,
                message,
                None,
                if intent == Intent::Confirm {
                    "confirm"
                } else {
                    "cancel"
                },
                "no_appointment",
                None,
                received_at,
            )
            .await?;
        }
        _ => {
            // Kept for staff, encrypted: free text may say anything.
            let keys = state
                .practice_keys(&mut tx, practice)
                .await
                .map_err(|e| anyhow::anyhow!("practice keys: {}", e.status()))?;
            let reply_id = Uuid::now_v7();
            let sealed = keys.encrypt(reply_field(practice, reply_id), text.as_bytes());
            insert_reply_with_id(
                &mut tx,
                reply_id,
                practice,
                patient,
                message,
                None,
                "other",
                "kept",
                Some(sealed),
                received_at,
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(Inbound::Applied)
}

/// Where a reply's text lives (its ciphertext's associated data).
pub(crate) fn reply_field(practice: PracticeId, reply: Uuid) -> FieldRef {
    FieldRef {
        practice,
        table: "notifications.reply",
        column: "body",
        row: reply,
    }
}

#[allow(clippy::too_many_arguments)]
async fn insert_reply(
    tx: &mut sqlx::PgConnection,
    practice: PracticeId,
    patient: Uuid,
    message: Option<Uuid>,
    appointment: Option<Uuid>,
    intent: &str,
    outcome: &str,
    body: Option<Vec<u8>>,
    received_at: DateTime<Utc>,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    insert_reply_with_id(
        tx,
        id,
        practice,
        patient,
        message,
        appointment,
        intent,
        outcome,
        body,
        received_at,
    )
    .await?;
    Ok(id)
}

#[allow(clippy::too_many_arguments)]
async fn insert_reply_with_id(
    tx: &mut sqlx::PgConnection,
    id: Uuid,
    practice: PracticeId,
    patient: Uuid,
    message: Option<Uuid>,
    appointment: Option<Uuid>,
    intent: &str,
    outcome: &str,
    body: Option<Vec<u8>>,
    received_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        r#"insert into notifications.reply (practice_id, reply_id, patient_id, message_id, appointment_id, intent, outcome, body_enc, received_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"#,
    )
    .bind(practice.as_uuid())
    .bind(id)
    .bind(patient)
    .bind(message)
    .bind(appointment)
    .bind(intent)
    .bind(outcome)
    .bind(body)
    .bind(received_at)
    .execute(tx)
    .await?;
    Ok(())
}

fn inbound_response(kind: &'static str, r: anyhow::Result<Inbound>, ok: Response) -> Response {
    match r {
        Ok(Inbound::Applied) => {
            count(kind, "applied");
            ok
        }
        Ok(Inbound::Replayed) => {
            count(kind, "replayed");
            ok
        }
        Ok(Inbound::UnknownSender) => {
            count(kind, "unknown_sender");
            ok
        }
        Err(e) => {
            tracing::error!(error = %e, "inbound message failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// A LINK platform inbound message (reference §1.8); only the fields we use.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlatformMo {
    source: String,
    content: PlatformContent,
    message_id: String,
    #[serde(default)]
    timestamp: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlatformContent {
    user_data: String,
}

/// A patient's reply through a LINK platform gate.
#[utoipa::path(post, path = "/v1/hooks/link/{token}/mo", tag = "provider callbacks",
    params(("token" = String, Path, description = "SMS_CALLBACK_TOKEN (404 when wrong)", pattern = r"^[A-Za-z0-9_-]{24,}$")), request_body(content = crate::hooks_doc::LinkInbound, content_type = "application/json"),
    responses((status = 200, description = "handled, replayed or from an unknown number"),
              (status = 401, description = "wrong gate credentials", body = platform::error::Problem)))]
pub(crate) async fn link_mo(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const KIND: &str = "link_mo";
    let mo: PlatformMo = match platform_callback(&state, &token, &headers, &body) {
        Ok(v) => v,
        Err((result, status)) => return refuse(KIND, result, status),
    };
    if !valid_e164(&mo.source) {
        return refuse(KIND, "malformed", StatusCode::BAD_REQUEST);
    }
    let key = state
        .settings()
        .master_key
        .inbound_key("link", &[&mo.message_id]);
    let r = apply_inbound(
        &state,
        &mo.source,
        &mo.content.user_data,
        mo.timestamp.unwrap_or_else(Utc::now),
        &key,
    )
    .await;
    inbound_response(KIND, r, StatusCode::OK.into_response())
}

fn valid_e164(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()))
}

/// A patient's reply through SMSAPI (form POST).
#[utoipa::path(post, path = "/v1/hooks/smsapi/{token}/mo", tag = "provider callbacks",
    params(("token" = String, Path, description = "SMS_CALLBACK_TOKEN (404 when wrong)", pattern = r"^[A-Za-z0-9_-]{24,}$")), request_body(content = crate::hooks_doc::SmsapiInbound, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "the body `OK`", content_type = "text/plain", body = String)))]
pub(crate) async fn smsapi_mo(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    const KIND: &str = "smsapi_mo";
    if !token_ok(&state, &token) {
        return refuse(KIND, "bad_token", StatusCode::NOT_FOUND);
    }
    let Some(params) = std::str::from_utf8(&body).ok().and_then(pairs) else {
        return refuse(KIND, "malformed", StatusCode::BAD_REQUEST);
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (Some(from), Some(text)) = (get("sms_from"), get("sms_text")) else {
        return refuse(KIND, "malformed", StatusCode::BAD_REQUEST);
    };
    // SMSAPI sends numbers without the plus.
    let from = format!("+{}", from.trim_start_matches('+'));
    if !valid_e164(&from) {
        return refuse(KIND, "malformed", StatusCode::BAD_REQUEST);
    }
    let date = get("sms_date").unwrap_or_default();
    let received_at = date
        .parse::<i64>()
        .ok()
        .and_then(|s| Utc.timestamp_opt(s, 0).single())
        .unwrap_or_else(Utc::now);
    let key = state
        .settings()
        .master_key
        .inbound_key("smsapi", &[&from, &date, &text]);
    let r = apply_inbound(&state, &from, &text, received_at, &key).await;
    inbound_response(KIND, r, ok_text())
}
