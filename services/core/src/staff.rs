//! Staff accounts: practice admins create them (each gets a one-time setup token), unlock
//! them, reset their password (a new setup token; TOTP stays), and deactivate them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::identifiers::parse_email;
use domain::practice::{Permission, Role};
use domain::text::Line;
use domain::{PracticeId, StaffId};
use platform::ApiRouter;
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::crypto::{random_token, token_hash};
use platform::db::TenantTx;
use platform::error::ResultExt;
use platform::json::{ApiJson, ApiPath};
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;
use uuid::Uuid;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_staff, create_staff))
        .routes(routes!(unlock_staff))
        .routes(routes!(reset_staff))
        .routes(routes!(deactivate_staff))
}

/// Inserts an account with a fresh setup token; returns the id, the token and its expiry.
pub async fn insert_staff(
    tx: &mut TenantTx,
    state: &AppState,
    practice: PracticeId,
    email: &str,
    display_name: &str,
    role: Role,
) -> Result<(StaffId, String, DateTime<Utc>), sqlx::Error> {
    let staff = StaffId::new();
    let token = random_token("pxsetup_");
    let expires = Utc::now() + state.settings().security.setup_token_ttl;
    sqlx::query(
        r#"insert into core.staff_account (practice_id, staff_id, email, display_name, role, setup_token_hash, setup_token_expires_at)
           values ($1, $2, $3, $4, $5, $6, $7)"#,
    )
    .bind(practice.as_uuid())
    .bind(staff.as_uuid())
    .bind(email)
    .bind(display_name)
    .bind(role.as_str())
    .bind(token_hash(&token))
    .bind(expires)
    .execute(&mut **tx)
    .await?;
    Ok((staff, token, expires))
}

/// A staff account as admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffAccount {
    /// The account.
    pub staff_id: StaffId,
    /// Sign-in e-mail address.
    pub email: String,
    /// Name shown to colleagues.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Whether TOTP is set up.
    pub totp_enrolled: bool,
    /// Whether the account is locked after failed attempts.
    pub locked: bool,
    /// Whether the account is deactivated.
    pub deactivated: bool,
}

type StaffRow = (Uuid, String, String, String, bool, bool, bool);

fn account(r: StaffRow) -> ApiResult<StaffAccount> {
    Ok(StaffAccount {
        staff_id: StaffId::from_uuid(r.0),
        email: r.1,
        display_name: r.2,
        role: Role::parse(&r.3)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown role")))?,
        totp_enrolled: r.4,
        locked: r.5,
        deactivated: r.6,
    })
}

/// Lists the practice's staff accounts.
#[utoipa::path(get, path = "/v1/staff", tag = "staff", security(("session" = [])),
    responses((status = 200, body = [StaffAccount]), (status = 403, body = platform::error::Problem)))]
pub async fn list_staff(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<Vec<StaffAccount>>> {
    staff.require(&state, Permission::StaffManage).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rows: Vec<StaffRow> = sqlx::query_as(
        r#"select staff_id, email, display_name, role, totp_confirmed_at is not null, locked_at is not null, deactivated_at is not null
             from core.staff_account order by display_name, staff_id"#,
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(
        rows.into_iter().map(account).collect::<ApiResult<_>>()?,
    ))
}

/// A new staff account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "front.desk@example.be", "display_name": "Front desk", "role": "receptionist"}))]
pub struct NewStaff {
    /// Sign-in e-mail address.
    #[schema(
        max_length = 254,
        pattern = r"^[^\s@\x00-\x1F\x7F-\x9F]{1,64}@[^\s@.\x00-\x1F\x7F-\x9F]+(\.[^\s@.\x00-\x1F\x7F-\x9F]+)+$"
    )]
    pub email: String,
    /// Name shown to colleagues.
    pub display_name: Line<200>,
    /// Role.
    pub role: Role,
}

/// A setup token, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetupToken {
    /// The account.
    pub staff_id: StaffId,
    /// One-time token for `POST /v1/auth/setup`.
    pub setup_token: String,
    /// When it stops working.
    pub setup_token_expires_at: DateTime<Utc>,
}

/// Creates a staff account; the new colleague signs in with the setup token.
#[utoipa::path(post, path = "/v1/staff", tag = "staff", security(("session" = [])), request_body = NewStaff,
    responses((status = 201, body = SetupToken), (status = 409, body = platform::error::Problem), (status = 422, body = platform::error::Problem)))]
pub async fn create_staff(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(body): ApiJson<NewStaff>,
) -> ApiResult<(StatusCode, Json<SetupToken>)> {
    staff.require(&state, Permission::StaffManage).await?;
    let email =
        parse_email(&body.email).map_err(|e| ApiError::invalid_field("email", e.to_string()))?;
    let name = body.display_name.as_str();
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (staff_id, setup_token, setup_token_expires_at) =
        insert_staff(&mut tx, &state, staff.practice(), &email, name, body.role)
            .await
            .on_constraint("staff_account_email_key", || {
                ApiError::conflict("email_taken", "that e-mail address has an account")
                    .with_field("email")
            })?;
    let mut ev = staff.audit("user_created", Action::Create, None, "success");
    ev.reason = Some(body.role.as_str());
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(SetupToken {
            staff_id,
            setup_token,
            setup_token_expires_at,
        }),
    ))
}

/// An admin resets or deactivates a colleague, never their own account: both end the caller's
/// own session (a reset of oneself is a password change, `POST /v1/auth/password`), and a practice
/// whose admin removed itself may have no one left to let anybody back in.
fn refuse_own_account(staff: &Staff, target: Uuid) -> ApiResult<()> {
    if staff.staff_id().as_uuid() == target {
        return Err(ApiError::conflict(
            "own_account",
            "an admin cannot reset or deactivate their own account; ask another admin, or change your password with POST /v1/auth/password",
        )
        .with_field("staff_id"));
    }
    Ok(())
}

async fn admin_change(
    state: &AppState,
    staff: &Staff,
    target: Uuid,
    sql: &'static str,
    event: &'static str,
) -> ApiResult<TenantTx> {
    staff.require(state, Permission::StaffManage).await?;
    refuse_own_account(staff, target)?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let found = sqlx::query(sql)
        .bind(target)
        .execute(&mut *tx)
        .await
        .on_constraint("staff_account_last_admin", || {
            ApiError::conflict(
                "last_admin",
                "the practice must keep one active practice admin; make another admin first",
            )
            .with_field("staff_id")
        })?
        .rows_affected();
    if found == 0 {
        return Err(ApiError::not_found("staff_not_found", "staff_id"));
    }
    audit::record(
        &mut tx,
        staff.practice(),
        &staff.audit(event, Action::Update, None, "success"),
    )
    .await?;
    Ok(tx)
}

/// Unlocks an account locked after failed attempts.
#[utoipa::path(post, path = "/v1/staff/{staff_id}/unlock", tag = "staff", security(("session" = [])),
    params(("staff_id" = Uuid, Path)), responses((status = 204), (status = 404, body = platform::error::Problem), (status = 409, description = "the caller's own account", body = platform::error::Problem)))]
pub async fn unlock_staff(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let tx = admin_change(
        &state,
        &staff,
        id,
        "update core.staff_account set failed_attempts = 0, locked_at = null where staff_id = $1",
        "user_unlocked",
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Issues a new setup token (password reset): unlocks the account and ends its sessions. A
/// confirmed TOTP stays, so the reset does not bypass the second factor.
#[utoipa::path(post, path = "/v1/staff/{staff_id}/reset", tag = "staff", security(("session" = [])),
    params(("staff_id" = Uuid, Path)), responses((status = 200, body = SetupToken), (status = 404, body = platform::error::Problem), (status = 409, description = "the caller's own account", body = platform::error::Problem)))]
pub async fn reset_staff(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<SetupToken>> {
    staff.require(&state, Permission::StaffManage).await?;
    refuse_own_account(&staff, id)?;
    let token = random_token("pxsetup_");
    let expires = Utc::now() + state.settings().security.setup_token_ttl;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let found = sqlx::query(
        r#"update core.staff_account
              set setup_token_hash = $2, setup_token_expires_at = $3, failed_attempts = 0, locked_at = null
            where staff_id = $1 and deactivated_at is null"#,
    )
    .bind(id)
    .bind(token_hash(&token))
    .bind(expires)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if found == 0 {
        return Err(ApiError::not_found("staff_not_found", "staff_id"));
    }
    platform::auth::session::revoke_all(&mut tx, StaffId::from_uuid(id), "password_reset").await?;
    audit::record(
        &mut tx,
        staff.practice(),
        &staff.audit("user_password_reset", Action::Update, None, "success"),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(SetupToken {
        staff_id: StaffId::from_uuid(id),
        setup_token: token,
        setup_token_expires_at: expires,
    }))
}

/// Deactivates an account and ends its sessions.
#[utoipa::path(post, path = "/v1/staff/{staff_id}/deactivate", tag = "staff", security(("session" = [])),
    params(("staff_id" = Uuid, Path)), responses((status = 204), (status = 404, body = platform::error::Problem), (status = 409, description = "the caller's own account, or the last active practice admin", body = platform::error::Problem)))]
pub async fn deactivate_staff(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let mut tx = admin_change(
        &state,
        &staff,
        id,
        "update core.staff_account set deactivated_at = coalesce(deactivated_at, now()), setup_token_hash = null where staff_id = $1",
        "user_deactivated",
    )
    .await?;
    platform::auth::session::revoke_all(&mut tx, StaffId::from_uuid(id), "deactivated").await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
