//! What happened to each message, the messages that need an admin, and sending a dead one again.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::message::MessageState;
use domain::practice::Permission;
use domain::{AppointmentId, MessageId, PatientId};
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::json::{ApiPath, ApiQuery};
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// What happened to one message. No text and no number: those are not kept.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Message {
    /// Message id (also the reference sent to the provider).
    pub message_id: MessageId,
    /// `reminder`, `waitlist_offer`, `payment_link`, `payment_reminder`.
    pub kind: String,
    /// The patient.
    pub patient_id: PatientId,
    /// The appointment, for reminders.
    pub appointment_id: Option<AppointmentId>,
    /// The appointment time the message names.
    pub starts_at: Option<DateTime<Utc>>,
    /// `scheduled`, `sending`, `retrying`, `sent`, `delivered`, `failed`, `expired`,
    /// `skipped`, `cancelled` or `dead`.
    pub state: String,
    /// Why skipped, cancelled, failed or dead.
    pub reason: Option<String>,
    /// When it is (or was) due.
    pub due_at: DateTime<Utc>,
    /// Attempts so far.
    pub attempts: i32,
    /// Provider's message id.
    pub provider_id: Option<String>,
    /// Segments.
    pub segments: Option<i32>,
    /// When the provider accepted it.
    pub sent_at: Option<DateTime<Utc>>,
    /// When it reached a final state.
    pub final_at: Option<DateTime<Utc>>,
}

const MESSAGE_COLUMNS: &str = "message_id, kind, patient_id, appointment_id, starts_at, state, reason, due_at, attempts, provider_id, segments, sent_at, final_at";

/// Messages matching a fixed condition on one id.
async fn select_messages(
    tx: &mut platform::db::TenantTx,
    condition: &'static str,
    id: uuid::Uuid,
) -> sqlx::Result<Vec<Message>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {MESSAGE_COLUMNS} from notifications.message where {condition}"
    )))
    .bind(id)
    .fetch_all(&mut **tx)
    .await
}

/// The messages about an appointment.
#[utoipa::path(get, path = "/v1/appointments/{appointment_id}/messages", tag = "notifications", security(("session" = [])),
    params(("appointment_id" = Uuid, Path)), responses((status = 200, body = [Message])))]
pub async fn appointment_messages(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<AppointmentId>,
) -> ApiResult<Json<Vec<Message>>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    // Notifications knows an appointment from scheduling's events (its projection); one it has
    // never heard of is not this practice's, or not yet announced: 404 either way.
    let known: bool = sqlx::query_scalar(
        "select exists (select 1 from notifications.appointment where appointment_id = $1)",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if !known {
        return Err(ApiError::not_found(
            "appointment_not_found",
            "appointment_id",
        ));
    }
    let rows = select_messages(
        &mut tx,
        "appointment_id = $1 order by created_at",
        id.as_uuid(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// The messages to a patient (audited as an access to the patient's data).
#[utoipa::path(get, path = "/v1/patients/{patient_id}/messages", tag = "notifications", security(("session" = [])),
    params(("patient_id" = Uuid, Path)), responses((status = 200, body = [Message])))]
pub async fn patient_messages(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<PatientId>,
) -> ApiResult<Json<Vec<Message>>> {
    staff.require(&state, Permission::PatientRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    platform::patients::require(&mut tx, id).await?;
    let rows = select_messages(
        &mut tx,
        "patient_id = $1 order by created_at desc limit 200",
        id.as_uuid(),
    )
    .await?;
    let mut ev = staff.audit("sensitive_read", Action::Read, Some(id), "success");
    ev.reason = Some("patient_messages");
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// Filter for messages that need attention.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AttentionQuery {
    /// `dead` (out of attempts; default) or `failed`.
    #[param(pattern = "^(dead|failed)$")]
    pub state: Option<String>,
}

/// Messages that need an admin: dead (out of attempts) or failed.
#[utoipa::path(get, path = "/v1/notifications/messages", tag = "notifications", security(("session" = [])),
    params(AttentionQuery), responses((status = 200, body = [Message]), (status = 422, body = platform::error::Problem)))]
pub async fn attention_messages(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<AttentionQuery>,
) -> ApiResult<Json<Vec<Message>>> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let wanted = match q.state.as_deref() {
        None => MessageState::Dead,
        Some(s) => s
            .parse::<MessageState>()
            .ok()
            .filter(|s| s.needs_attention())
            .ok_or_else(|| ApiError::invalid_parameter("state", "must be dead or failed"))?,
    };
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rows: Vec<Message> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {MESSAGE_COLUMNS} from notifications.message where needs_attention and state = $1 order by updated_at desc limit 500"
    )))
    .bind(wanted.as_str())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// Sends a dead message again (after the cause is fixed).
#[utoipa::path(post, path = "/v1/notifications/messages/{message_id}/retry", tag = "notifications", security(("session" = [])),
    params(("message_id" = Uuid, Path)),
    responses((status = 200, body = Message), (status = 404, body = platform::error::Problem), (status = 409, body = platform::error::Problem)))]
pub async fn retry_message(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<MessageId>,
) -> ApiResult<Json<Message>> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let current: Option<String> = sqlx::query_scalar(
        "select state from notifications.message where message_id = $1 for update",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    match current.as_deref().map(str::parse::<MessageState>) {
        None => return Err(ApiError::not_found("message_not_found", "message_id")),
        Some(Ok(MessageState::Dead)) => {}
        Some(_) => {
            let other = current.unwrap_or_default();
            return Err(ApiError::conflict(
                "message_not_dead",
                format!("the message is {other}; only dead messages are retried"),
            )
            .with_field("state"));
        }
    }
    let row: Message = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update notifications.message set state = 'retrying', attempts = 0, reason = null, final_at = null, next_attempt_at = now()
          where message_id = $1 returning {MESSAGE_COLUMNS}"
    )))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    crate::outbox::schedule_send(&mut tx, staff.practice(), id, Utc::now()).await?;
    tx.commit().await?;
    Ok(Json(row))
}
