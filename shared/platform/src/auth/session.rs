//! Opaque session tokens and the extractors that check them.
//!
//! A token is `pxs_<practice id hex>_<256 random bits>`. The practice part lets the server set
//! the tenant before it looks the session up; only the SHA-256 of the whole token is stored.
//! Sessions end on logout, password change, deactivation or lock, after the idle timeout, and
//! after the absolute timeout.

use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::header;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use domain::practice::{Permission, Role};
use domain::{PracticeId, SessionId, StaffId, SupportGrantId};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, Action, AuditEvent};
use crate::crypto::{random_token, token_hash};
use crate::error::ApiError;
use crate::state::AppState;

/// How far along the login a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Password accepted; a TOTP code is due.
    SecondFactor,
    /// Password accepted; TOTP must be enrolled and confirmed.
    Enrolment,
    /// Both factors done.
    Active,
}

impl Stage {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::SecondFactor => "second_factor",
            Stage::Enrolment => "enrolment",
            Stage::Active => "active",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "second_factor" => Some(Stage::SecondFactor),
            "enrolment" => Some(Stage::Enrolment),
            "active" => Some(Stage::Active),
            _ => None,
        }
    }
}

/// A new session's token, shown once.
pub struct NewSession {
    /// The session id.
    pub session_id: SessionId,
    /// The bearer token.
    pub token: String,
    /// The absolute expiry.
    pub expires_at: DateTime<Utc>,
}

/// Creates a session at `stage`.
pub async fn create(
    conn: &mut PgConnection,
    state: &AppState,
    practice: PracticeId,
    staff: StaffId,
    stage: Stage,
) -> Result<NewSession, sqlx::Error> {
    let session_id = SessionId::new();
    let token = format!("{}{}", token_prefix(practice), &random_token("")[..]);
    let expires_at = Utc::now() + state.settings().security.session_absolute_timeout;
    sqlx::query(
        r#"insert into core.session (practice_id, session_id, staff_id, token_hash, stage, expires_at)
           values ($1, $2, $3, $4, $5, $6)"#,
    )
    .bind(practice.as_uuid())
    .bind(session_id.as_uuid())
    .bind(staff.as_uuid())
    .bind(token_hash(&token))
    .bind(stage.as_str())
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(NewSession {
        session_id,
        token,
        expires_at,
    })
}

fn token_prefix(practice: PracticeId) -> String {
    format!("{SESSION_PREFIX}{}_", practice.as_uuid().simple())
}

const SESSION_PREFIX: &str = "pxs_";
const SUPPORT_PREFIX: &str = "pxg_";

/// A new support token for `practice`: `pxg_<practice id hex>_<256 random bits>`.
pub fn new_support_token(practice: PracticeId) -> String {
    format!(
        "{SUPPORT_PREFIX}{}_{}",
        practice.as_uuid().simple(),
        random_token("")
    )
}

/// Revokes every open session of a staff member.
pub async fn revoke_all(
    conn: &mut PgConnection,
    staff: StaffId,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "update core.session set revoked_at = now(), revoked_reason = $2 where staff_id = $1 and revoked_at is null",
    )
    .bind(staff.as_uuid())
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The practice a session token claims to belong to.
fn practice_of(token: &str) -> Option<PracticeId> {
    practice_in(token, SESSION_PREFIX)
}

fn practice_in(token: &str, prefix: &str) -> Option<PracticeId> {
    let rest = token.strip_prefix(prefix)?;
    let (hex, secret) = rest.split_once('_')?;
    if hex.len() != 32 || secret.len() < 43 {
        return None;
    }
    Uuid::try_parse(hex).ok().map(PracticeId::from_uuid)
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A checked session of any stage.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// The practice.
    pub practice: PracticeId,
    /// The session.
    pub session_id: SessionId,
    /// The staff member.
    pub staff_id: StaffId,
    /// Their role.
    pub role: Role,
    /// How far the login is.
    pub stage: Stage,
    /// The matched route, for audit rows.
    pub route: String,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    session_id: Uuid,
    staff_id: Uuid,
    stage: String,
    role: String,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    account_ok: bool,
}

async fn load(parts: &mut Parts, state: &AppState) -> Result<SessionInfo, ApiError> {
    let token = bearer(parts).ok_or_else(ApiError::unauthenticated)?;
    let practice = practice_of(token).ok_or_else(ApiError::unauthenticated)?;
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let idle = chrono::Duration::from_std(state.settings().security.session_idle_timeout)
        .unwrap_or(chrono::Duration::MAX);
    // One round trip: the function sets the tenant for its own statement.
    let row: Option<SessionRow> = sqlx::query_as(
        "select session_id, staff_id, stage, role, last_seen_at, expires_at, revoked_at, account_ok
           from core.session_lookup($1, $2, make_interval(secs => 15), make_interval(secs => $3))",
    )
    .bind(practice.as_uuid())
    .bind(token_hash(token))
    .bind(idle.num_seconds() as f64)
    .fetch_optional(state.db().pool())
    .await?;
    let Some(SessionRow {
        session_id,
        staff_id,
        stage,
        role,
        last_seen_at: last_seen,
        expires_at,
        revoked_at,
        account_ok,
    }) = row
    else {
        return Err(ApiError::unauthenticated());
    };
    let now = Utc::now();
    if revoked_at.is_some() || !account_ok || now >= expires_at || now - last_seen >= idle {
        if revoked_at.is_none() {
            let reason = if !account_ok {
                "account"
            } else if now >= expires_at {
                "absolute_timeout"
            } else {
                "idle_timeout"
            };
            let mut tx = state.db().tenant(practice).await?;
            sqlx::query("update core.session set revoked_at = now(), revoked_reason = $2 where session_id = $1")
                .bind(session_id)
                .bind(reason)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        return Err(ApiError::unauthenticated());
    }
    let role = Role::parse(&role)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown role in database")))?;
    let stage = Stage::parse(&stage)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown session stage")))?;
    Ok(SessionInfo {
        practice,
        session_id: SessionId::from_uuid(session_id),
        staff_id: StaffId::from_uuid(staff_id),
        role,
        stage,
        route,
    })
}

/// A fully signed-in staff member (password and TOTP). Every route that touches patient data
/// takes this.
#[derive(Debug, Clone)]
pub struct Staff(pub SessionInfo);

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let info = load(parts, state).await?;
        if info.stage != Stage::Active {
            return Err(ApiError::second_factor_required());
        }
        Ok(Staff(info))
    }
}

impl Staff {
    /// The practice.
    pub fn practice(&self) -> PracticeId {
        self.0.practice
    }

    /// The staff member.
    pub fn staff_id(&self) -> StaffId {
        self.0.staff_id
    }

    /// Their role.
    pub fn role(&self) -> Role {
        self.0.role
    }

    /// Whether the role allows `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        self.0.role.allows(permission)
    }

    /// Requires `permission`; a refusal is written to the audit trail (`authz_fail`).
    pub async fn require(&self, state: &AppState, permission: Permission) -> Result<(), ApiError> {
        if self.can(permission) {
            return Ok(());
        }
        let mut ev = self.audit("authz_fail", Action::Execute, None, "denied");
        ev.reason = Some(permission_name(permission));
        deny(
            state,
            self.practice(),
            &ev,
            format!("the role {} may not do this", self.role().as_str()),
        )
        .await
    }

    /// The route, for audit rows.
    pub fn route(&self) -> &str {
        &self.0.route
    }

    /// An audit event by this staff member.
    pub fn audit<'a>(
        &'a self,
        event: &'a str,
        action: Action,
        patient: Option<domain::PatientId>,
        outcome: &'a str,
    ) -> AuditEvent<'a> {
        AuditEvent {
            event,
            action,
            actor: Some((self.staff_id(), self.role())),
            support_grant: None,
            patient,
            purpose: audit::purpose_for(self.role()),
            route: &self.0.route,
            outcome,
            reason: None,
        }
    }
}

/// Records a refused authorisation in its own transaction, then refuses.
async fn deny(
    state: &AppState,
    practice: PracticeId,
    ev: &AuditEvent<'_>,
    detail: String,
) -> Result<(), ApiError> {
    let mut tx = state.db().tenant(practice).await?;
    audit::record(&mut tx, practice, ev).await?;
    tx.commit().await?;
    Err(ApiError::forbidden(detail))
}

fn permission_name(p: Permission) -> &'static str {
    match p {
        Permission::PatientRead => "patient.read",
        Permission::PatientWrite => "patient.write",
        Permission::ClinicalText => "patient.clinical",
        Permission::AuditRead => "audit.read",
        Permission::StaffManage => "staff.manage",
        Permission::SupportGrant => "support.grant",
        Permission::ScheduleRead => "schedule.read",
        Permission::ScheduleWrite => "schedule.write",
        Permission::ScheduleManage => "schedule.manage",
        Permission::OverlapOverride => "schedule.overlap_override",
        Permission::PrivacyManage => "privacy.manage",
        Permission::InvoiceRead => "invoice.read",
        Permission::InvoiceWrite => "invoice.write",
    }
}

/// Who may read patient data: a signed-in staff member, or operator staff holding a support
/// grant that a practice admin gave and that has not expired or been revoked. Support access is
/// read-only, never includes clinical text, and every use is audited with the grant id.
#[derive(Debug, Clone)]
pub enum Reader {
    /// A staff member with an active session.
    Staff(Staff),
    /// Operator staff under a support grant.
    Support {
        /// The practice that granted access.
        practice: PracticeId,
        /// The grant.
        grant: SupportGrantId,
        /// The matched route.
        route: String,
    },
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer(parts).filter(|t| t.starts_with(SUPPORT_PREFIX)) else {
            return Staff::from_request_parts(parts, state)
                .await
                .map(Reader::Staff);
        };
        let practice = practice_in(token, SUPPORT_PREFIX).ok_or_else(ApiError::unauthenticated)?;
        let mut tx = state.db().tenant(practice).await?;
        let grant: Option<Uuid> = sqlx::query_scalar(
            r#"select grant_id from core.support_grant
                where token_hash = $1 and revoked_at is null and starts_at <= now() and expires_at > now()"#,
        )
        .bind(token_hash(token))
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let grant = grant.ok_or_else(ApiError::unauthenticated)?;
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        Ok(Reader::Support {
            practice,
            grant: SupportGrantId::from_uuid(grant),
            route,
        })
    }
}

impl Reader {
    /// The practice.
    pub fn practice(&self) -> PracticeId {
        match self {
            Reader::Staff(s) => s.practice(),
            Reader::Support { practice, .. } => *practice,
        }
    }

    /// Whether the reader may do this. Support may only read identity, contact and insurance.
    pub fn can(&self, permission: Permission) -> bool {
        match self {
            Reader::Staff(s) => s.can(permission),
            Reader::Support { .. } => permission == Permission::PatientRead,
        }
    }

    /// Requires `permission`; refusals are audited.
    pub async fn require(&self, state: &AppState, permission: Permission) -> Result<(), ApiError> {
        match self {
            Reader::Staff(s) => s.require(state, permission).await,
            Reader::Support { .. } if self.can(permission) => Ok(()),
            Reader::Support { .. } => {
                let mut ev = self.audit("authz_fail", Action::Execute, None, "denied");
                ev.reason = Some(permission_name(permission));
                deny(
                    state,
                    self.practice(),
                    &ev,
                    "support access is read-only".to_owned(),
                )
                .await
            }
        }
    }

    /// An audit event by this reader.
    pub fn audit<'a>(
        &'a self,
        event: &'a str,
        action: Action,
        patient: Option<domain::PatientId>,
        outcome: &'a str,
    ) -> AuditEvent<'a> {
        match self {
            Reader::Staff(s) => s.audit(event, action, patient, outcome),
            Reader::Support { grant, route, .. } => AuditEvent {
                event,
                action,
                actor: None,
                support_grant: Some(*grant),
                patient,
                purpose: "support",
                route,
                outcome,
                reason: None,
            },
        }
    }
}

/// A session that has passed the password but not yet the second factor (or enrolment).
#[derive(Debug, Clone)]
pub struct PendingSession(pub SessionInfo);

impl FromRequestParts<AppState> for PendingSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(PendingSession(load(parts, state).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_carries_the_practice() {
        let p = PracticeId::new();
        let token = format!("{}{}", token_prefix(p), random_token(""));
        assert_eq!(practice_of(&token), Some(p));
        assert_eq!(practice_of("pxs_nothex_abc"), None);
        assert_eq!(practice_of(&format!("{}short", token_prefix(p))), None);
    }
}
