//! The second factor: TOTP enrolment, confirmation and verification.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use domain::{PracticeId, StaffId};
use platform::audit::{self};
use platform::auth::rate_limit::ClientIp;
use platform::auth::session::{SessionInfo, Stage};
use platform::auth::{MAX_FAILED_ATTEMPTS, PendingSession, totp};
use platform::crypto::FieldRef;
use platform::json::ApiJson;
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::attempts::*;

/// A TOTP enrolment: the secret for the authenticator app.
#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// Base32 secret for manual entry.
    pub secret: String,
    /// `otpauth://` URI.
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_svg: String,
}

fn totp_field(practice: PracticeId, staff: StaffId) -> FieldRef {
    FieldRef {
        practice,
        table: "core.staff_account",
        column: "totp_secret_enc",
        row: staff.as_uuid(),
    }
}

/// Starts (or restarts) TOTP enrolment for a session in the enrolment stage.
#[utoipa::path(post, path = "/v1/auth/totp/enrol", tag = "auth", security(("session" = [])),
    responses((status = 200, body = TotpEnrolment), (status = 409, body = platform::error::Problem)))]
pub async fn enrol_totp(
    State(state): State<AppState>,
    PendingSession(s): PendingSession,
) -> ApiResult<Json<TotpEnrolment>> {
    if s.stage != Stage::Enrolment {
        return Err(ApiError::conflict(
            "totp_already_enrolled",
            "TOTP is already set up for this account",
        ));
    }
    let secret = totp::generate_secret();
    let mut tx = state.db().tenant(s.practice).await?;
    let keys = state.practice_keys(&mut tx, s.practice).await?;
    let enc = keys.encrypt(totp_field(s.practice, s.staff_id), &secret);
    let email: String = sqlx::query_scalar(
        "update core.staff_account set totp_secret_enc = $2, totp_last_step = null where staff_id = $1 and totp_confirmed_at is null returning email",
    )
    .bind(s.staff_id.as_uuid())
    .bind(&enc)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let uri = totp::otpauth_uri(&secret, &state.settings().security.totp_issuer, &email)
        .map_err(ApiError::internal)?;
    Ok(Json(TotpEnrolment {
        secret: totp::secret_base32(&secret),
        qr_svg: totp::qr_svg(&uri).map_err(ApiError::internal)?,
        otpauth_uri: uri,
    }))
}

/// A TOTP code.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    /// Six digits from the authenticator app.
    pub code: String,
}

/// The session after a successful second factor.
#[derive(Serialize, ToSchema)]
pub struct StageResponse {
    /// `active`.
    pub stage: Stage,
}

/// Confirms enrolment with a first code; the session becomes active.
#[utoipa::path(post, path = "/v1/auth/totp/confirm", tag = "auth", security(("session" = [])), request_body = TotpCode,
    responses((status = 200, body = StageResponse), (status = 401, body = platform::error::Problem), (status = 409, description = "TOTP is set up already", body = platform::error::Problem)))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    ip: ClientIp,
    PendingSession(s): PendingSession,
    ApiJson(body): ApiJson<TotpCode>,
) -> ApiResult<Json<StageResponse>> {
    if s.stage != Stage::Enrolment {
        return Err(ApiError::conflict(
            "totp_already_enrolled",
            "TOTP is already set up for this account",
        ));
    }
    second_factor(&state, ip, &s, &body.code, "/v1/auth/totp/confirm").await
}

/// Completes sign-in with a TOTP code; the session becomes active.
#[utoipa::path(post, path = "/v1/auth/totp/verify", tag = "auth", security(("session" = [])), request_body = TotpCode,
    responses((status = 200, body = StageResponse), (status = 401, body = platform::error::Problem), (status = 409, description = "the session is not waiting for a code", body = platform::error::Problem)))]
pub async fn verify_totp(
    State(state): State<AppState>,
    ip: ClientIp,
    PendingSession(s): PendingSession,
    ApiJson(body): ApiJson<TotpCode>,
) -> ApiResult<Json<StageResponse>> {
    if s.stage != Stage::SecondFactor {
        return Err(ApiError::conflict(
            "no_second_factor_due",
            "this session is not waiting for a TOTP code",
        ));
    }
    second_factor(&state, ip, &s, &body.code, "/v1/auth/totp/verify").await
}

/// Checks a code for the session's account: the attempt is reserved like a password attempt,
/// and the step is claimed atomically so that each code works once.
async fn second_factor(
    state: &AppState,
    ip: ClientIp,
    s: &SessionInfo,
    code: &str,
    route: &'static str,
) -> ApiResult<Json<StageResponse>> {
    if !state.login_limiter().check(ip.0) {
        return Err(ApiError::rate_limited());
    }
    let practice = s.practice;
    let actor = Some((s.staff_id, s.role));
    let mut tx = state.db().tenant(practice).await?;
    let reserved: Option<(Option<Vec<u8>>, i32)> = sqlx::query_as(
        r#"update core.staff_account set failed_attempts = failed_attempts + 1
            where staff_id = $1 and locked_at is null and deactivated_at is null and failed_attempts < $2
        returning totp_secret_enc, failed_attempts"#,
    )
    .bind(s.staff_id.as_uuid())
    .bind(MAX_FAILED_ATTEMPTS)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some((Some(enc), attempts)) = reserved else {
        record_auth(
            state,
            practice,
            auth_event(
                "authn_mfa_fail",
                actor,
                "failure",
                Some("locked_or_not_enrolled"),
                route,
            ),
        )
        .await?;
        return Err(ApiError::invalid_credentials());
    };
    let mut tx = state.db().tenant(practice).await?;
    let keys = state.practice_keys(&mut tx, practice).await?;
    let secret = keys.decrypt(totp_field(practice, s.staff_id), &enc)?;
    let now = Utc::now().timestamp().max(0) as u64;
    let claimed = match totp::matching_step(&secret, code, now) {
        Some(step) => sqlx::query_scalar::<_, Uuid>(
            r#"update core.staff_account
                  set totp_last_step = $2, failed_attempts = 0,
                      totp_confirmed_at = coalesce(totp_confirmed_at, now())
                where staff_id = $1 and (totp_last_step is null or totp_last_step < $2)
            returning staff_id"#,
        )
        .bind(s.staff_id.as_uuid())
        .bind(step as i64)
        .fetch_optional(&mut *tx)
        .await?
        .map(|_| ())
        .ok_or("replayed"),
        None => Err("bad_code"),
    };
    match claimed {
        Ok(()) => {
            sqlx::query("update core.session set stage = 'active' where session_id = $1")
                .bind(s.session_id.as_uuid())
                .execute(&mut *tx)
                .await?;
            audit::record(
                &mut tx,
                practice,
                &auth_event("authn_login_success", actor, "success", None, route),
            )
            .await?;
            tx.commit().await?;
            Ok(Json(StageResponse {
                stage: Stage::Active,
            }))
        }
        Err(reason) => {
            audit::record(
                &mut tx,
                practice,
                &auth_event("authn_mfa_fail", actor, "failure", Some(reason), route),
            )
            .await?;
            if attempts >= MAX_FAILED_ATTEMPTS {
                lock(&mut tx, practice, s.staff_id, s.role, route).await?;
            }
            tx.commit().await?;
            if reason == "replayed" {
                tracing::warn!(practice.id = %practice, staff.id = %s.staff_id, "TOTP code replayed");
            }
            Err(ApiError::invalid_credentials())
        }
    }
}
