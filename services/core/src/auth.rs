//! Staff sign-in: password, then TOTP; first sign-in and resets through a setup token.
//!
//! Lockout: every password check first *reserves* an attempt on the account
//! (`failed_attempts + 1`, only while below the limit) and commits that before argon2 runs, so
//! however many guesses arrive at once, at most five verifications run and the fifth failure
//! locks the account. A right password gives its reservation back; the counter returns to zero
//! only after the second factor succeeds, so a known password does not let anyone brute-force
//! TOTP. Wrong, unknown, locked and deactivated all get the same 401 body.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use domain::identifiers::parse_email;
use domain::practice::Role;
use domain::{PracticeId, StaffId};
use platform::audit::{self, Action, AuditEvent};
use platform::auth::rate_limit::ClientIp;
use platform::auth::session::{self, SessionInfo, Stage};
use platform::auth::{MAX_FAILED_ATTEMPTS, PendingSession, Staff, check_password_policy, totp};
use platform::crypto::{FieldRef, token_hash};
use platform::json::ApiJson;
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/setup", post(setup))
        .route("/v1/auth/totp/enrol", post(enrol_totp))
        .route("/v1/auth/totp/confirm", post(confirm_totp))
        .route("/v1/auth/totp/verify", post(verify_totp))
        .route("/v1/auth/session", get(current_session))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/password", post(change_password))
}

const LOGIN_ROUTE: &str = "/v1/auth/login";
const PASSWORD_ROUTE: &str = "/v1/auth/password";

/// Password sign-in.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
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

fn auth_event<'a>(
    event: &'a str,
    actor: Option<(StaffId, Role)>,
    outcome: &'a str,
    reason: Option<&'a str>,
    route: &'a str,
) -> AuditEvent<'a> {
    AuditEvent {
        event,
        action: Action::Execute,
        actor,
        support_grant: None,
        patient: None,
        purpose: "authentication",
        route,
        outcome,
        reason,
    }
}

/// Records an authentication event in its own transaction. An unknown practice has no trail
/// to write to; that attempt is counted in a metric only.
async fn record_auth(state: &AppState, practice: PracticeId, ev: AuditEvent<'_>) -> ApiResult<()> {
    let mut tx = state.db().tenant(practice).await?;
    let exists: bool = sqlx::query_scalar("select exists (select 1 from core.practice)")
        .fetch_one(&mut *tx)
        .await?;
    if !exists {
        metrics::counter!("auth_unknown_practice_total").increment(1);
        return Ok(());
    }
    audit::record(&mut tx, practice, &ev).await?;
    tx.commit().await?;
    Ok(())
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

async fn lock(
    tx: &mut platform::db::TenantTx,
    practice: PracticeId,
    staff: StaffId,
    role: Role,
    route: &str,
) -> ApiResult<()> {
    sqlx::query(
        "update core.staff_account set locked_at = now() where staff_id = $1 and locked_at is null",
    )
    .bind(staff.as_uuid())
    .execute(&mut **tx)
    .await?;
    session::revoke_all(tx, staff, "locked").await?;
    audit::record(
        tx,
        practice,
        &auth_event(
            "authn_login_lock",
            Some((staff, role)),
            "locked",
            None,
            route,
        ),
    )
    .await?;
    metrics::counter!("auth_lockouts_total").increment(1);
    tracing::warn!(practice.id = %practice, staff.id = %staff, "account locked after failed attempts");
    Ok(())
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
    let uri = totp::otpauth_uri(&secret, &state.settings().totp_issuer, &email)
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

/// The signed-in staff member.
#[derive(Serialize, ToSchema)]
pub struct CurrentSession {
    /// The practice.
    pub practice_id: PracticeId,
    /// The staff member.
    pub staff_id: StaffId,
    /// Their role.
    pub role: Role,
    /// Session stage.
    pub stage: Stage,
}

/// Who this session belongs to.
#[utoipa::path(get, path = "/v1/auth/session", tag = "auth", security(("session" = [])),
    responses((status = 200, body = CurrentSession), (status = 401, body = platform::error::Problem)))]
pub async fn current_session(PendingSession(s): PendingSession) -> Json<CurrentSession> {
    Json(CurrentSession {
        practice_id: s.practice,
        staff_id: s.staff_id,
        role: s.role,
        stage: s.stage,
    })
}

/// Ends this session.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("session" = [])),
    responses((status = 204), (status = 401, body = platform::error::Problem)))]
pub async fn logout(
    State(state): State<AppState>,
    PendingSession(s): PendingSession,
) -> ApiResult<StatusCode> {
    let mut tx = state.db().tenant(s.practice).await?;
    sqlx::query("update core.session set revoked_at = now(), revoked_reason = 'logout' where session_id = $1 and revoked_at is null")
        .bind(s.session_id.as_uuid())
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        s.practice,
        &auth_event(
            "session_ended",
            Some((s.staff_id, s.role)),
            "success",
            Some("logout"),
            "/v1/auth/logout",
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A password change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password.
    pub current_password: String,
    /// The new password (12 to 128 characters).
    #[schema(min_length = 12, max_length = 128)]
    pub new_password: String,
}

/// Changes the password; every session of the account ends, this one included.
#[utoipa::path(post, path = "/v1/auth/password", tag = "auth", security(("session" = [])), request_body = PasswordChange,
    responses((status = 204), (status = 401, body = platform::error::Problem), (status = 422, body = platform::error::Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    check_password_policy("new_password", &body.new_password)?;
    let practice = staff.practice();
    let (staff_id, role) = (staff.staff_id(), staff.role());
    // A wrong current password counts towards the lockout like a failed login: the attempt is
    // reserved (and committed) before any hashing, so parallel guesses cannot outrun the limit.
    let mut tx = state.db().tenant(practice).await?;
    let reserved: Option<(Option<String>, i32)> = sqlx::query_as(
        r#"update core.staff_account
              set failed_attempts = failed_attempts + 1
            where staff_id = $1 and deactivated_at is null and locked_at is null
              and failed_attempts < $2
        returning password_hash, failed_attempts"#,
    )
    .bind(staff_id.as_uuid())
    .bind(MAX_FAILED_ATTEMPTS)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let ok = match &reserved {
        Some((Some(phc), _)) => state
            .passwords()
            .verify(phc.clone(), body.current_password)
            .await
            .map_err(ApiError::internal)?,
        _ => {
            state.passwords().dummy_verify(body.current_password).await;
            false
        }
    };
    if !ok {
        let mut tx = state.db().tenant(practice).await?;
        audit::record(
            &mut tx,
            practice,
            &auth_event(
                "authn_password_change_fail",
                Some((staff_id, role)),
                "failure",
                Some("bad_password"),
                PASSWORD_ROUTE,
            ),
        )
        .await?;
        let attempts = reserved.as_ref().map_or(MAX_FAILED_ATTEMPTS, |r| r.1);
        if attempts >= MAX_FAILED_ATTEMPTS {
            lock(&mut tx, practice, staff_id, role, PASSWORD_ROUTE).await?;
        }
        tx.commit().await?;
        return Err(ApiError::invalid_credentials().with_field("current_password"));
    }
    let new = state
        .passwords()
        .hash(body.new_password)
        .await
        .map_err(ApiError::internal)?;
    let mut tx = state.db().tenant(practice).await?;
    sqlx::query(
        "update core.staff_account set password_hash = $2, failed_attempts = 0 where staff_id = $1",
    )
    .bind(staff.staff_id().as_uuid())
    .bind(&new)
    .execute(&mut *tx)
    .await?;
    session::revoke_all(&mut tx, staff.staff_id(), "password_changed").await?;
    audit::record(
        &mut tx,
        practice,
        &staff.audit("user_password_changed", Action::Update, None, "success"),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
