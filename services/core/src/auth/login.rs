//! Password sign-in and the first sign-in or reset with a setup token.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::identifiers::parse_email;
use domain::practice::Role;
use domain::{PracticeId, StaffId};
use platform::audit::{self};
use platform::auth::rate_limit::ClientIp;
use platform::auth::session::{self, Stage};
use platform::auth::{MAX_FAILED_ATTEMPTS, check_password_policy};
use platform::crypto::token_hash;
use platform::json::ApiJson;
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::attempts::*;

/// Password sign-in.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"practice_id": "0d3e0000-0000-7000-8000-000000000001", "email": "admin@demo.praxis.test", "password": "demo-password-2026"}))]
pub struct LoginRequest {
    /// The practice (from the practice's sign-in address).
    pub practice_id: PracticeId,
    /// Sign-in e-mail address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A new session; the token is shown once.
#[derive(Serialize, ToSchema)]
pub struct SessionToken {
    /// Bearer token for the `Authorization` header.
    pub token: String,
    /// What the session may do next.
    pub stage: Stage,
    /// Absolute expiry.
    pub expires_at: DateTime<Utc>,
}

/// Signs in with a password. The session then needs a TOTP code (or TOTP enrolment).
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = SessionToken),
        (status = 401, description = "Wrong, unknown, locked or deactivated: always the same body", body = platform::error::Problem),
        (status = 429, body = platform::error::Problem),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<SessionToken>> {
    if !state.login_limiter().check(ip.0) {
        return Err(ApiError::rate_limited());
    }
    let practice = body.practice_id;
    let Ok(email) = parse_email(&body.email) else {
        state.passwords().dummy_verify(body.password).await;
        return Err(ApiError::invalid_credentials());
    };

    // 1. Reserve an attempt, committed before any hashing.
    let mut tx = state.db().tenant(practice).await?;
    let reserved: Option<(Uuid, Option<String>, String, i32, bool)> = sqlx::query_as(
        r#"update core.staff_account
              set failed_attempts = failed_attempts + 1
            where email = $1 and deactivated_at is null and locked_at is null
              and failed_attempts < $2 and password_hash is not null
        returning staff_id, password_hash, role, failed_attempts, totp_confirmed_at is not null"#,
    )
    .bind(&email)
    .bind(MAX_FAILED_ATTEMPTS)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;

    let Some((staff_id, Some(phc), role, attempts, totp_enrolled)) = reserved else {
        // Unknown, locked, deactivated or never set up: same time, same answer.
        let known: Option<(Uuid, String)> = {
            let mut tx = state.db().tenant(practice).await?;
            let r =
                sqlx::query_as("select staff_id, role from core.staff_account where email = $1")
                    .bind(&email)
                    .fetch_optional(&mut *tx)
                    .await?;
            tx.commit().await?;
            r
        };
        state.passwords().dummy_verify(body.password).await;
        let actor = known
            .as_ref()
            .and_then(|(id, r)| Role::parse(r).map(|r| (StaffId::from_uuid(*id), r)));
        let reason = if actor.is_some() {
            "locked_or_inactive"
        } else {
            "unknown_account"
        };
        record_auth(
            &state,
            practice,
            auth_event(
                "authn_login_fail",
                actor,
                "failure",
                Some(reason),
                LOGIN_ROUTE,
            ),
        )
        .await?;
        return Err(ApiError::invalid_credentials());
    };
    let staff = StaffId::from_uuid(staff_id);
    let role =
        Role::parse(&role).ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown role")))?;

    // 2. Verify.
    let ok = state
        .passwords()
        .verify(phc, body.password)
        .await
        .map_err(ApiError::internal)?;
    let mut tx = state.db().tenant(practice).await?;
    if !ok {
        audit::record(
            &mut tx,
            practice,
            &auth_event(
                "authn_login_fail",
                Some((staff, role)),
                "failure",
                Some("bad_password"),
                LOGIN_ROUTE,
            ),
        )
        .await?;
        if attempts >= MAX_FAILED_ATTEMPTS {
            lock(&mut tx, practice, staff, role, LOGIN_ROUTE).await?;
        }
        tx.commit().await?;
        return Err(ApiError::invalid_credentials());
    }
    // 3. Right password: give the reservation back; the second factor decides the rest.
    sqlx::query("update core.staff_account set failed_attempts = greatest(failed_attempts - 1, 0) where staff_id = $1")
        .bind(staff_id)
        .execute(&mut *tx)
        .await?;
    let stage = if totp_enrolled {
        Stage::SecondFactor
    } else {
        Stage::Enrolment
    };
    let new = session::create(&mut tx, &state, practice, staff, stage).await?;
    audit::record(
        &mut tx,
        practice,
        &auth_event(
            "authn_password_ok",
            Some((staff, role)),
            "success",
            Some(stage.as_str()),
            LOGIN_ROUTE,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(SessionToken {
        token: new.token,
        stage,
        expires_at: new.expires_at,
    }))
}

/// First sign-in or password reset with a one-time setup token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    /// The practice.
    pub practice_id: PracticeId,
    /// Sign-in e-mail address.
    #[schema(
        max_length = 254,
        pattern = r"^[^\s@\x00-\x1F\x7F-\x9F]{1,64}@[^\s@.\x00-\x1F\x7F-\x9F]+(\.[^\s@.\x00-\x1F\x7F-\x9F]+)+$"
    )]
    pub email: String,
    /// The setup token from the administrator or operator.
    pub setup_token: String,
    /// The new password (12 to 128 characters).
    #[schema(min_length = 12, max_length = 128)]
    pub new_password: String,
}

/// Sets the password from a setup token; ends every other session. The new session still
/// needs TOTP: enrolment on first sign-in, a code after a reset.
#[utoipa::path(post, path = "/v1/auth/setup", tag = "auth", request_body = SetupRequest,
    responses((status = 200, body = SessionToken), (status = 401, body = platform::error::Problem), (status = 422, body = platform::error::Problem)))]
pub async fn setup(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(body): ApiJson<SetupRequest>,
) -> ApiResult<Json<SessionToken>> {
    if !state.login_limiter().check(ip.0) {
        return Err(ApiError::rate_limited());
    }
    check_password_policy("new_password", &body.new_password)?;
    let email = parse_email(&body.email).map_err(|_| ApiError::invalid_credentials())?;
    let phc = state
        .passwords()
        .hash(body.new_password)
        .await
        .map_err(ApiError::internal)?;
    let practice = body.practice_id;
    let mut tx = state.db().tenant(practice).await?;
    let row: Option<(Uuid, String, bool)> = sqlx::query_as(
        r#"update core.staff_account
              set password_hash = $3, setup_token_hash = null, setup_token_expires_at = null,
                  failed_attempts = 0, locked_at = null
            where email = $1 and setup_token_hash = $2 and setup_token_expires_at > now() and deactivated_at is null
        returning staff_id, role, totp_confirmed_at is not null"#,
    )
    .bind(&email)
    .bind(token_hash(&body.setup_token))
    .bind(&phc)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((staff_id, role, totp_enrolled)) = row else {
        drop(tx);
        record_auth(
            &state,
            practice,
            auth_event(
                "authn_setup_fail",
                None,
                "failure",
                Some("bad_token"),
                "/v1/auth/setup",
            ),
        )
        .await?;
        return Err(ApiError::invalid_credentials());
    };
    let staff = StaffId::from_uuid(staff_id);
    let role =
        Role::parse(&role).ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown role")))?;
    session::revoke_all(&mut tx, staff, "password_set").await?;
    let stage = if totp_enrolled {
        Stage::SecondFactor
    } else {
        Stage::Enrolment
    };
    let new = session::create(&mut tx, &state, practice, staff, stage).await?;
    audit::record(
        &mut tx,
        practice,
        &auth_event(
            "user_password_set",
            Some((staff, role)),
            "success",
            None,
            "/v1/auth/setup",
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(SessionToken {
        token: new.token,
        stage,
        expires_at: new.expires_at,
    }))
}
