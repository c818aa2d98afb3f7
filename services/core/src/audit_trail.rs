//! Reading the audit trail: practice admins ask "who looked at patient X", "what did staff
//! member Y do". Reading the trail is itself recorded.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::practice::Permission;
use domain::{PatientId, StaffId};
use platform::ApiRouter;
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::json::ApiQuery;
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;
use uuid::Uuid;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(list_audit_events))
}

/// Filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only events about this patient.
    #[serde(default)]
    pub patient_id: Option<Uuid>,
    /// Only events by this staff member.
    #[serde(default)]
    pub staff_id: Option<Uuid>,
    /// From this instant (inclusive).
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    /// Until this instant (exclusive).
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1 to 500 (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<Uuid>,
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    /// The event.
    pub audit_id: Uuid,
    /// When (UTC).
    pub occurred_at: DateTime<Utc>,
    /// Event name (OWASP logging vocabulary).
    pub event: String,
    /// C, R, U, D or E.
    pub action: String,
    /// Who.
    pub actor_staff_id: Option<StaffId>,
    /// Their role then.
    pub actor_role: Option<String>,
    /// Support grant, when operator staff acted.
    pub support_grant_id: Option<Uuid>,
    /// Whose data.
    pub patient_id: Option<PatientId>,
    /// Purpose of use.
    pub purpose: String,
    /// Route or job.
    pub route: String,
    /// Outcome.
    pub outcome: String,
    /// Machine reason.
    pub reason: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Position in the practice's hash chain, once sealed.
    pub chain_seq: Option<i64>,
}

/// A page of audit events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Events.
    pub items: Vec<AuditEventView>,
    /// Pass as `cursor` for the next page.
    pub next_cursor: Option<Uuid>,
}

type Row = (
    Uuid,
    DateTime<Utc>,
    String,
    String,
    Option<Uuid>,
    Option<String>,
    Option<Uuid>,
    Option<Uuid>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// Lists audit events, newest first.
#[utoipa::path(get, path = "/v1/audit-events", tag = "audit", security(("session" = [])), params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = platform::error::Problem), (status = 403, body = platform::error::Problem)))]
pub async fn list_audit_events(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    staff.require(&state, Permission::AuditRead).await?;
    let limit = match q.limit {
        None => 100,
        Some(n @ 1..=500) => n,
        Some(_) => {
            return Err(ApiError::invalid_parameter(
                "limit",
                "must be between 1 and 500",
            ));
        }
    };
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    // A filter on another practice's patient or staff member is a 404, like every other route.
    if let Some(id) = q.patient_id {
        platform::patients::require(&mut tx, domain::PatientId::from_uuid(id)).await?;
    }
    if let Some(id) = q.staff_id {
        let known: bool = sqlx::query_scalar(
            "select exists (select 1 from core.staff_account where staff_id = $1)",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if !known {
            return Err(ApiError::not_found("staff_not_found", "staff_id"));
        }
    }
    let rows: Vec<Row> = sqlx::query_as(
        r#"select e.audit_id, e.occurred_at, e.event, e.action, e.actor_staff_id, e.actor_role, e.support_grant_id,
                  e.patient_id, e.purpose, e.route, e.outcome, e.reason, e.request_id, c.seq
             from core.audit_event e
             left join core.audit_chain c on c.practice_id = e.practice_id and c.audit_id = e.audit_id
            where ($1::uuid is null or e.patient_id = $1)
              and ($2::uuid is null or e.actor_staff_id = $2)
              and ($3::timestamptz is null or e.occurred_at >= $3)
              and ($4::timestamptz is null or e.occurred_at < $4)
              and ($5::uuid is null or e.audit_id < $5)
            order by e.audit_id desc
            limit $6"#,
    )
    .bind(q.patient_id)
    .bind(q.staff_id)
    .bind(q.from)
    .bind(q.to)
    .bind(q.cursor)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    let mut ev = staff.audit(
        "audit_read",
        Action::Read,
        q.patient_id.map(PatientId::from_uuid),
        "success",
    );
    ev.purpose = "audit";
    audit::record(&mut tx, practice, &ev).await?;
    tx.commit().await?;
    let has_more = rows.len() as i64 > limit;
    let items: Vec<AuditEventView> = rows
        .into_iter()
        .take(limit as usize)
        .map(|r| AuditEventView {
            audit_id: r.0,
            occurred_at: r.1,
            event: r.2,
            action: r.3,
            actor_staff_id: r.4.map(StaffId::from_uuid),
            actor_role: r.5,
            support_grant_id: r.6,
            patient_id: r.7.map(PatientId::from_uuid),
            purpose: r.8,
            route: r.9,
            outcome: r.10,
            reason: r.11,
            request_id: r.12,
            chain_seq: r.13,
        })
        .collect();
    let next_cursor = if has_more {
        items.last().map(|e| e.audit_id)
    } else {
        None
    };
    Ok(Json(AuditPage { items, next_cursor }))
}
