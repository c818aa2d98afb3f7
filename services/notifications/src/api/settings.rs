//! The practice's message settings and reminder rules.

use axum::Json;
use axum::extract::State;
use chrono::NaiveTime;
use domain::AppointmentTypeId;
use domain::practice::Permission;
use platform::auth::Staff;
use platform::json::ApiJson;
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// What the practice's messages may say and when they may go out.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// Name in messages (the practice's name when null), at most 40 characters.
    #[schema(max_length = 40, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub display_name: Option<String>,
    /// Address line for `{address}`, at most 80 characters.
    #[schema(max_length = 80, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub address_line: Option<String>,
    /// Start of quiet hours, local time (default 21:00).
    #[schema(value_type = String, example = "21:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?$")]
    pub quiet_start: NaiveTime,
    /// End of quiet hours, local time (default 08:00).
    #[schema(value_type = String, example = "08:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?$")]
    pub quiet_end: NaiveTime,
    /// Whether `{practitioner}` (the practitioner's last name) may be used.
    pub practitioner_name_in_messages: bool,
    /// A reminder that cannot go out at least this many minutes before the appointment is
    /// skipped (0 to 1440, default 60).
    #[schema(minimum = 0, maximum = 1440)]
    pub min_lead_minutes: i32,
}

const SELECT_SETTINGS: &str = r#"select s.display_name, s.address_line,
        coalesce(s.quiet_start, time '21:00') as quiet_start, coalesce(s.quiet_end, time '08:00') as quiet_end,
        coalesce(s.practitioner_name_in_messages, false) as practitioner_name_in_messages,
        coalesce(s.min_lead_minutes, 60) as min_lead_minutes
   from core.practice p left join notifications.settings s on s.practice_id = p.practice_id"#;

/// Reads the message settings.
#[utoipa::path(get, path = "/v1/notifications/settings", tag = "notifications", security(("session" = [])),
    responses((status = 200, body = NotificationSettings)))]
pub async fn get_notification_settings(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<NotificationSettings>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let s = sqlx::query_as(SELECT_SETTINGS).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(Json(s))
}

/// Replaces the message settings.
#[utoipa::path(put, path = "/v1/notifications/settings", tag = "notifications", security(("session" = [])),
    request_body = NotificationSettings,
    responses((status = 200, body = NotificationSettings), (status = 422, body = platform::error::Problem)))]
pub async fn put_notification_settings(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(b): ApiJson<NotificationSettings>,
) -> ApiResult<Json<NotificationSettings>> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let display_name =
        platform::json::optional_line("display_name", b.display_name.as_deref(), 40)?;
    let address_line =
        platform::json::optional_line("address_line", b.address_line.as_deref(), 80)?;
    platform::json::range("min_lead_minutes", b.min_lead_minutes.into(), 0, 1440)?;
    if b.quiet_start == b.quiet_end {
        return Err(ApiError::invalid_field(
            "quiet_end",
            "must differ from quiet_start",
        ));
    }
    let mut tx = state.db().tenant(staff.practice()).await?;
    sqlx::query(
        r#"insert into notifications.settings (practice_id, display_name, address_line, quiet_start, quiet_end, practitioner_name_in_messages, min_lead_minutes)
           values ($1, $2, $3, $4, $5, $6, $7)
           on conflict (practice_id) do update set display_name = excluded.display_name, address_line = excluded.address_line,
               quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end,
               practitioner_name_in_messages = excluded.practitioner_name_in_messages,
               min_lead_minutes = excluded.min_lead_minutes, updated_at = now()"#,
    )
    .bind(staff.practice().as_uuid())
    .bind(&display_name)
    .bind(&address_line)
    .bind(b.quiet_start)
    .bind(b.quiet_end)
    .bind(b.practitioner_name_in_messages)
    .bind(b.min_lead_minutes)
    .execute(&mut *tx)
    .await?;
    let s = sqlx::query_as(SELECT_SETTINGS).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(Json(s))
}

/// One reminder offset.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct ReminderRule {
    /// The appointment type whose reminders this rule sets (its rules replace the practice's);
    /// null for the practice's rules.
    pub type_id: Option<AppointmentTypeId>,
    /// Minutes before the appointment, 15 to 20160 (14 days). Whole days keep the wall-clock
    /// time across DST changes.
    #[schema(minimum = 15, maximum = 20160)]
    pub offset_minutes: i32,
}

/// The reminder rules. With none, one reminder goes 24 hours before.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderRules {
    /// Rules; at most 5 per appointment type (or for the practice).
    pub rules: Vec<ReminderRule>,
}

/// Lists the reminder rules.
#[utoipa::path(get, path = "/v1/notifications/reminder-rules", tag = "notifications", security(("session" = [])),
    responses((status = 200, body = ReminderRules)))]
pub async fn get_rules(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<ReminderRules>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rules = sqlx::query_as(
        "select type_id, offset_minutes from notifications.reminder_rule order by type_id nulls first, offset_minutes",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(ReminderRules { rules }))
}

/// Replaces the reminder rules (appointments booked later follow them; so do moved ones).
#[utoipa::path(put, path = "/v1/notifications/reminder-rules", tag = "notifications", security(("session" = [])),
    request_body = ReminderRules,
    responses((status = 200, body = ReminderRules), (status = 422, body = platform::error::Problem)))]
pub async fn put_rules(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(b): ApiJson<ReminderRules>,
) -> ApiResult<Json<ReminderRules>> {
    staff.require(&state, Permission::ScheduleManage).await?;
    for (i, r) in b.rules.iter().enumerate() {
        if !(15..=20_160).contains(&r.offset_minutes) {
            return Err(ApiError::invalid_field(
                format!("rules[{i}].offset_minutes"),
                "must be between 15 and 20160",
            ));
        }
        let same: Vec<_> = b.rules.iter().filter(|o| o.type_id == r.type_id).collect();
        if same.len() > 5 {
            return Err(ApiError::invalid_field(
                format!("rules[{i}].type_id"),
                "at most 5 rules per appointment type",
            ));
        }
        if same
            .iter()
            .filter(|o| o.offset_minutes == r.offset_minutes)
            .count()
            > 1
        {
            return Err(ApiError::invalid_field(
                format!("rules[{i}].offset_minutes"),
                "appears twice",
            ));
        }
    }
    let mut tx = state.db().tenant(staff.practice()).await?;
    sqlx::query("delete from notifications.reminder_rule")
        .execute(&mut *tx)
        .await?;
    for (i, r) in b.rules.iter().enumerate() {
        sqlx::query(
            "insert into notifications.reminder_rule (practice_id, rule_id, type_id, offset_minutes) values ($1, $2, $3, $4)",
        )
        .bind(staff.practice().as_uuid())
        .bind(Uuid::now_v7())
        .bind(r.type_id)
        .bind(r.offset_minutes)
        .execute(&mut *tx)
        .await
        .map_err(|e| match platform::db::violated_constraint(&e) {
            Some("reminder_rule_type_fkey") => ApiError::not_found("appointment_type_not_found", "type_id").with_field(format!("rules[{i}].type_id")),
            _ => e.into(),
        })?;
    }
    tx.commit().await?;
    Ok(Json(b))
}
