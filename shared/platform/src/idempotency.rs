//! Safe retries: the `Idempotency-Key` header (IETF httpapi draft, as Stripe has it) on the
//! POSTs that book, issue, credit, record a payment or refund.
//!
//! The handler claims the key in its own tenant transaction before doing anything: the claim
//! is a row in `core.idempotency_key` (practice, key, keyed fingerprint of method, path and
//! body) inserted by that transaction. A concurrent retry's insert waits on the row until the
//! first request commits — then it finds the stored answer and returns it, byte for byte, with
//! `Idempotent-Replayed: true` — or rolls back (an error answer is not kept), and then does the
//! work itself. The same key with another request is refused (422, field `Idempotency-Key`).
//! Keys live 24 hours per practice; without the header a request is simply not deduplicated.
//!
//! ```ignore
//! let mut tx = state.db().tenant(staff.practice()).await?;
//! if let Some(replay) = idem.claim(&mut tx, &staff).await? {
//!     tx.commit().await?;
//!     return Ok(replay);
//! }
//! // … the change, its audit row …
//! let answer = idem.answer(&mut tx, &staff, StatusCode::CREATED, &view).await?;
//! tx.commit().await?;
//! Ok(answer)
//! ```

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::audit::{self, Action};
use crate::auth::Staff;
use crate::db::TenantTx;
use crate::error::ApiError;
use crate::json::{json_bytes, parse_json};
use crate::state::AppState;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The response header of a replayed answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// The documented shape of a key: 1 to 255 visible ASCII characters.
pub const KEY_PATTERN: &str = "^[!-~]{1,255}$";

/// The key a request sent (if any) and the keyed fingerprint of what it asks.
#[derive(Debug, Clone)]
pub struct Idempotency {
    key: Option<String>,
    fingerprint: Vec<u8>,
}

/// A POST with a JSON body and an optional `Idempotency-Key`: the extractor for the body
/// (instead of `ApiJson`) of a route that takes the key.
#[derive(Debug)]
pub struct Idempotent<T>(pub Idempotency, pub T);

fn key(parts: &Parts) -> Result<Option<String>, ApiError> {
    let Some(v) = parts.headers.get(HEADER) else {
        return Ok(None);
    };
    let bad =
        || ApiError::invalid_parameter("Idempotency-Key", "1 to 255 visible ASCII characters");
    let s = v.to_str().map_err(|_| bad())?;
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(Some(s.to_owned()))
}

impl Idempotency {
    /// No key: for routes that answer through the same path without taking one.
    pub fn none() -> Self {
        Idempotency {
            key: None,
            fingerprint: Vec::new(),
        }
    }

    fn of(state: &AppState, parts: &Parts, body: &[u8]) -> Result<Self, ApiError> {
        let key = key(parts)?;
        let fingerprint = match key {
            Some(_) => state.settings().security.master_key.request_fingerprint(
                parts.method.as_str(),
                parts.uri.path(),
                body,
            ),
            None => Vec::new(),
        };
        Ok(Idempotency { key, fingerprint })
    }

    /// Claims the key for this transaction. `Some(answer)`: the same request was answered
    /// before; return that (the replay is audited here; commit and answer it). `None`: go ahead.
    pub async fn claim(
        &self,
        tx: &mut TenantTx,
        staff: &Staff,
    ) -> Result<Option<Answer>, ApiError> {
        let Some(key) = &self.key else {
            return Ok(None);
        };
        let practice = staff.practice();
        sqlx::query(
            "delete from core.idempotency_key where practice_id = $1 and created_at < now() - interval '24 hours'",
        )
        .bind(practice)
        .execute(&mut **tx)
        .await?;
        let claimed: Option<bool> = sqlx::query_scalar(
            "insert into core.idempotency_key (practice_id, key, fingerprint) values ($1, $2, $3)
             on conflict (practice_id, key) do nothing returning true",
        )
        .bind(practice)
        .bind(key)
        .bind(&self.fingerprint)
        .fetch_optional(&mut **tx)
        .await?;
        if claimed.is_some() {
            return Ok(None);
        }
        #[allow(clippy::type_complexity)]
        let (fingerprint, status, body, version): (Vec<u8>, Option<i16>, Option<Vec<u8>>, Option<i32>) = sqlx::query_as(
            "select fingerprint, status, response, version from core.idempotency_key where practice_id = $1 and key = $2",
        )
        .bind(practice)
        .bind(key)
        .fetch_one(&mut **tx)
        .await?;
        if fingerprint != self.fingerprint {
            return Err(ApiError::invalid_field(
                "Idempotency-Key",
                "this key was used for another request; use a new key for a new request",
            ));
        }
        let (Some(status), Some(body)) = (status, body) else {
            return Err(ApiError::internal(anyhow::anyhow!(
                "an idempotency key was committed without its answer"
            )));
        };
        let mut ev = staff.audit("idempotent_replay", Action::Read, None, "success");
        ev.reason = Some("idempotency_key");
        audit::record(tx, practice, &ev).await?;
        Ok(Some(Answer {
            status: StatusCode::from_u16(u16::try_from(status).unwrap_or(500))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
            replayed: true,
            version,
        }))
    }

    /// The answer of the work done: `body` as JSON with `status`, kept with the key (in the
    /// caller's transaction) for a retry.
    pub async fn answer<T: Serialize>(
        &self,
        tx: &mut TenantTx,
        staff: &Staff,
        status: StatusCode,
        body: &T,
    ) -> Result<Answer, ApiError> {
        self.keep(tx, staff, status, body, None).await
    }

    /// [`Idempotency::answer`] of a versioned resource: the answer carries its `ETag`, and so
    /// does every replay of it.
    pub async fn answer_versioned<T: Serialize>(
        &self,
        tx: &mut TenantTx,
        staff: &Staff,
        status: StatusCode,
        body: &T,
        version: i32,
    ) -> Result<Answer, ApiError> {
        self.keep(tx, staff, status, body, Some(version)).await
    }

    async fn keep<T: Serialize>(
        &self,
        tx: &mut TenantTx,
        staff: &Staff,
        status: StatusCode,
        body: &T,
        version: Option<i32>,
    ) -> Result<Answer, ApiError> {
        let body = serde_json::to_vec(body).map_err(ApiError::internal)?;
        if let Some(key) = &self.key {
            sqlx::query(
                "update core.idempotency_key set status = $3, response = $4, version = $5 where practice_id = $1 and key = $2",
            )
            .bind(staff.practice())
            .bind(key)
            .bind(i16::try_from(status.as_u16()).unwrap_or(500))
            .bind(&body)
            .bind(version)
            .execute(&mut **tx)
            .await?;
        }
        Ok(Answer {
            status,
            body,
            replayed: false,
            version,
        })
    }
}

impl FromRequestParts<AppState> for Idempotency {
    type Rejection = ApiError;

    /// For a POST without a body: the fingerprint covers method and path.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Idempotency::of(state, parts, b"")
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for Idempotent<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let idem_parts = parts.clone();
        let bytes = json_bytes(Request::from_parts(parts, body), state).await?;
        let value = parse_json(&bytes)?;
        Ok(Idempotent(
            Idempotency::of(state, &idem_parts, &bytes)?,
            value,
        ))
    }
}

/// A JSON answer that a retry with the same key gets again.
#[derive(Debug)]
pub struct Answer {
    status: StatusCode,
    body: Vec<u8>,
    replayed: bool,
    version: Option<i32>,
}

impl Answer {
    /// Adds the answered resource's `ETag` (its version).
    pub fn with_etag(mut self, version: i32) -> Self {
        self.version = Some(version);
        self
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.body,
        )
            .into_response();
        if self.replayed {
            r.headers_mut()
                .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
        }
        if let Some(v) = self.version {
            let [(name, value)] = crate::versions::etag(v);
            r.headers_mut().insert(name, value);
        }
        r
    }
}
