//! Patients' replies kept for staff (read audited per patient).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::practice::Permission;
use domain::{AppointmentId, MessageId, PatientId, ReplyId};
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::json::{ApiPath, ApiQuery};
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::hooks::reply_field;

/// A reply from a patient.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reply {
    /// Reply id.
    pub reply_id: ReplyId,
    /// The patient whose number it came from.
    pub patient_id: Option<PatientId>,
    /// The message it answered.
    pub message_id: Option<MessageId>,
    /// The appointment it confirmed or cancelled.
    pub appointment_id: Option<AppointmentId>,
    /// `confirm`, `cancel`, `stop` or `other`.
    pub intent: String,
    /// What it did: `forwarded`, `no_appointment`, `opted_out`, `kept`.
    pub outcome: String,
    /// The text, for replies kept for staff.
    pub text: Option<String>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// When staff marked it handled.
    pub handled_at: Option<DateTime<Utc>>,
}

/// Filter for replies.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RepliesQuery {
    /// Only replies kept for staff and not yet handled (default true).
    pub open: Option<bool>,
}

type ReplyRow = (
    ReplyId,
    Option<PatientId>,
    Option<MessageId>,
    Option<AppointmentId>,
    String,
    String,
    Option<Vec<u8>>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

/// Replies, newest first; reading them is audited per patient.
#[utoipa::path(get, path = "/v1/notifications/replies", tag = "notifications", security(("session" = [])),
    params(RepliesQuery), responses((status = 200, body = [Reply])))]
pub async fn list_replies(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<RepliesQuery>,
) -> ApiResult<Json<Vec<Reply>>> {
    staff.require(&state, Permission::PatientRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rows: Vec<ReplyRow> = sqlx::query_as(
        r#"select reply_id, patient_id, message_id, appointment_id, intent, outcome, body_enc, received_at, handled_at
             from notifications.reply
            where not $1 or (intent = 'other' and handled_at is null)
            order by received_at desc limit 200"#,
    )
    .bind(q.open.unwrap_or(true))
    .fetch_all(&mut *tx)
    .await?;
    let keys = state.practice_keys(&mut tx, staff.practice()).await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut patients = Vec::new();
    for (
        reply_id,
        patient_id,
        message_id,
        appointment_id,
        intent,
        outcome,
        body,
        received_at,
        handled_at,
    ) in rows
    {
        let text = match body {
            Some(b) => Some(keys.decrypt_string(reply_field(staff.practice(), reply_id), &b)?),
            None => None,
        };
        if patient_id.is_some() && !patients.contains(&patient_id) {
            patients.push(patient_id);
        }
        out.push(Reply {
            reply_id,
            patient_id,
            message_id,
            appointment_id,
            intent,
            outcome,
            text,
            received_at,
            handled_at,
        });
    }
    if !patients.is_empty() {
        let mut ev = staff.audit("sensitive_read", Action::Read, None, "success");
        ev.reason = Some("patient_replies");
        audit::record_for_patients(&mut tx, staff.practice(), &ev, &patients).await?;
    }
    tx.commit().await?;
    Ok(Json(out))
}

/// Marks a kept reply as handled.
#[utoipa::path(post, path = "/v1/notifications/replies/{reply_id}/handled", tag = "notifications", security(("session" = [])),
    params(("reply_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = platform::error::Problem)))]
pub async fn handle_reply(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<ReplyId>,
) -> ApiResult<axum::http::StatusCode> {
    staff.require(&state, Permission::PatientWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let done = sqlx::query(
        "update notifications.reply set handled_at = coalesce(handled_at, now()), handled_by = coalesce(handled_by, $2) where reply_id = $1",
    )
    .bind(id)
    .bind(staff.staff_id().as_uuid())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Err(ApiError::not_found("reply_not_found", "reply_id"));
    }
    tx.commit().await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
