//! SMSAPI callbacks: delivery reports (GET query or form POST, bulk values comma-separated)
//! and inbound messages (form POST), behind the path token; every answer is the body `OK`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{TimeZone, Utc};
use platform::AppState;

use super::auth::{count, refuse, token_ok};
use super::inbound::{apply_inbound, inbound_response, valid_e164};
use super::reports::apply_report;
use crate::providers::smsapi;

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
            smsapi::report(code),
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
        .security
        .master_key
        .inbound_key("smsapi", &[&from, &date, &text]);
    let r = apply_inbound(&state, &from, &text, received_at, &key).await;
    inbound_response(KIND, r, ok_text())
}
