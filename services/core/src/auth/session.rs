//! The signed-in session: who it is, logging out, changing the password.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::practice::Role;
use domain::{PracticeId, StaffId};
use platform::audit::{self, Action};
use platform::auth::session::{self, Stage};
use platform::auth::{MAX_FAILED_ATTEMPTS, PendingSession, Staff, check_password_policy};
use platform::json::ApiJson;
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::attempts::*;

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
