//! LINK platform gate callbacks: delivery reports and inbound messages, JSON, behind the path
//! token and the gate's Basic credentials.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use platform::AppState;

use super::auth::{basic_ok, count, refuse, token_ok};
use super::inbound::{apply_inbound, inbound_response, valid_e164};
use super::reports::apply_report;
use crate::providers::link_platform::{self, DeliveryReport, InboundMessage};

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
    let dlr: DeliveryReport = match platform_callback(&state, &token, &headers, &body) {
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
        link_platform::report(dlr.result_code),
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
    let mo: InboundMessage = match platform_callback(&state, &token, &headers, &body) {
        Ok(v) => v,
        Err((result, status)) => return refuse(KIND, result, status),
    };
    if !valid_e164(&mo.source) {
        return refuse(KIND, "malformed", StatusCode::BAD_REQUEST);
    }
    let key = state
        .settings()
        .security
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
