//! Checking a callback: the path token, the gate's credentials, and counting what was refused.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use platform::AppState;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

/// Constant-time comparison; digests first, so the secret's length does not leak either.
pub(super) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    Sha256::digest(a).ct_eq(&Sha256::digest(b)).into()
}

pub(super) fn count(kind: &'static str, result: &'static str) {
    metrics::counter!("sms_callbacks_total", "kind" => kind, "result" => result).increment(1);
}

/// A refused callback: counted and logged by kind and reason, never by content.
pub(super) fn refuse(kind: &'static str, result: &'static str, status: StatusCode) -> Response {
    count(kind, result);
    tracing::warn!(callback = kind, result, "callback refused");
    (status, result).into_response()
}

pub(super) fn token_ok(state: &AppState, token: &str) -> bool {
    ct_eq(
        token.as_bytes(),
        state
            .settings()
            .sms
            .callback_token
            .expose_secret()
            .as_bytes(),
    )
}

pub(super) fn basic_ok(state: &AppState, headers: &HeaderMap) -> bool {
    let Some((user, password)) = &state.settings().sms.link_gate_credentials else {
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
