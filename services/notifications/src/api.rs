//! Staff API: message settings, reminder rules, templates, what happened to each message, dead
//! messages, and replies kept for staff.

use axum::extract::State;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, NaiveTime, Utc};
use domain::PatientId;
use domain::message::MessageState;
use domain::practice::{Language, Permission};
use domain::templates::{self, Allowed, Fields, MessageKind};
use domain::text::Text;
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::json::{ApiJson, ApiPath, ApiQuery};
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::hooks::reply_field;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/notifications/settings",
            get(get_notification_settings).put(put_notification_settings),
        )
        .route(
            "/v1/notifications/reminder-rules",
            get(get_rules).put(put_rules),
        )
        .route("/v1/notifications/templates", get(list_templates))
        .route(
            "/v1/notifications/templates/{kind}/{language}",
            put(put_template).delete(delete_template),
        )
        .route("/v1/notifications/messages", get(attention_messages))
        .route(
            "/v1/notifications/messages/{message_id}/retry",
            post(retry_message),
        )
        .route(
            "/v1/appointments/{appointment_id}/messages",
            get(appointment_messages),
        )
        .route("/v1/patients/{patient_id}/messages", get(patient_messages))
        .route(
            "/v1/notifications/provider",
            get(get_provider).put(put_provider).delete(delete_provider),
        )
        .route("/v1/notifications/replies", get(list_replies))
        .route(
            "/v1/notifications/replies/{reply_id}/handled",
            post(handle_reply),
        )
}

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
    pub type_id: Option<Uuid>,
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

/// A template as stored, with its cost.
#[derive(Debug, Serialize, ToSchema)]
pub struct Template {
    /// Kind of message.
    pub kind: MessageKind,
    /// `nl`, `fr`, `en` or `de`.
    pub language: String,
    /// The text with `{placeholders}`.
    pub body: String,
    /// Whether this is the built-in text.
    pub built_in: bool,
    /// Encoding of a sample rendering: `gsm7` or `ucs2`.
    pub encoding: domain::sms::Encoding,
    /// Segments of a sample rendering (long practice name and address).
    pub segments: usize,
    /// More than one segment: every message costs more. Shown to the practice when saved.
    pub over_one_segment: bool,
}

/// A sample with long values, so the count is an upper estimate.
fn sample(kind: MessageKind) -> Fields {
    Fields {
        practice: "X".repeat(30),
        address: Some("Y".repeat(40)),
        starts_at: Some(DateTime::<Utc>::from_timestamp(1_796_000_400, 0).unwrap_or_default()),
        practitioner: Some("Z".repeat(15)),
        type_name: Some("T".repeat(20)),
        reply: Some(templates::reply_instructions(Language::Nl).to_owned()),
        link: matches!(
            kind,
            MessageKind::PaymentLink | MessageKind::PaymentReminder
        )
        .then(|| "https://pay.example.eu/p/AbCdEfGhIjKlMnOp".to_owned()),
    }
}

fn describe(kind: MessageKind, lang: Language, body: String, built_in: bool) -> Template {
    let t = templates::render(&body, chrono_tz::Europe::Brussels, lang, &sample(kind))
        .unwrap_or_else(|_| domain::sms::prepare(&body));
    Template {
        kind,
        language: lang.as_str().to_owned(),
        body,
        built_in,
        encoding: t.encoding,
        segments: t.segments,
        over_one_segment: t.segments > 1,
    }
}

const KINDS: [MessageKind; 4] = [
    MessageKind::Reminder,
    MessageKind::WaitlistOffer,
    MessageKind::PaymentLink,
    MessageKind::PaymentReminder,
];
const LANGUAGES: [Language; 4] = [Language::Nl, Language::Fr, Language::En, Language::De];

/// Lists every kind and language: the practice's text or the built-in one.
#[utoipa::path(get, path = "/v1/notifications/templates", tag = "notifications", security(("session" = [])),
    responses((status = 200, body = [Template])))]
pub async fn list_templates(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<Vec<Template>>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let own: Vec<(String, String, String)> =
        sqlx::query_as("select kind, language, body from notifications.template")
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    let mut out = Vec::new();
    for kind in KINDS {
        for lang in LANGUAGES {
            let mine = own
                .iter()
                .find(|(k, l, _)| k == kind.as_str() && l == lang.as_str());
            out.push(match mine {
                Some((_, _, body)) => describe(kind, lang, body.clone(), false),
                None => describe(
                    kind,
                    lang,
                    templates::default_template(kind, lang).to_owned(),
                    true,
                ),
            });
        }
    }
    Ok(Json(out))
}

/// A template's text.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    /// Text with placeholders from: practice, date, time, address, reply; practitioner (if the
    /// practice allows it), type (if the appointment type allows it), link (payment messages).
    pub body: Text<1000>,
}

fn parse_kind_lang(kind: &str, language: &str) -> ApiResult<(MessageKind, Language)> {
    let k = MessageKind::parse(kind).ok_or_else(|| {
        ApiError::invalid_parameter(
            "kind",
            "must be reminder, waitlist_offer, payment_link or payment_reminder",
        )
    })?;
    let l = Language::parse(language)
        .ok_or_else(|| ApiError::invalid_parameter("language", "must be nl, fr, en or de"))?;
    Ok((k, l))
}

/// Sets the practice's text for a kind and language. The answer says how many segments it
/// costs; `over_one_segment` warns that every message will cost more.
#[utoipa::path(put, path = "/v1/notifications/templates/{kind}/{language}", tag = "notifications", security(("session" = [])),
    params(("kind" = MessageKind, Path), ("language" = Language, Path)), request_body = TemplateBody,
    responses((status = 200, body = Template), (status = 422, body = platform::error::Problem)))]
pub async fn put_template(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath((kind, language)): ApiPath<(String, String)>,
    ApiJson(b): ApiJson<TemplateBody>,
) -> ApiResult<Json<Template>> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let (kind, lang) = parse_kind_lang(&kind, &language)?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let practitioner_allowed: Option<bool> =
        sqlx::query_scalar("select practitioner_name_in_messages from notifications.settings")
            .fetch_optional(&mut *tx)
            .await?;
    let type_allowed: bool = sqlx::query_scalar(
        "select exists (select 1 from scheduling.appointment_type where name_in_messages)",
    )
    .fetch_one(&mut *tx)
    .await?;
    let allowed = Allowed {
        practitioner_name: practitioner_allowed.unwrap_or(false),
        type_name: type_allowed,
    };
    templates::check(b.body.as_str(), kind, allowed)
        .map_err(|e| ApiError::invalid_field("body", e.to_string()))?;
    let t = describe(kind, lang, b.body.into_inner(), false);
    sqlx::query(
        r#"insert into notifications.template (practice_id, kind, language, body, encoding, segments, updated_by)
           values ($1, $2, $3, $4, $5, $6, $7)
           on conflict (practice_id, kind, language) do update set body = excluded.body, encoding = excluded.encoding,
               segments = excluded.segments, updated_by = excluded.updated_by, updated_at = now()"#,
    )
    .bind(staff.practice().as_uuid())
    .bind(kind.as_str())
    .bind(lang.as_str())
    .bind(&t.body)
    .bind(match t.encoding {
        domain::sms::Encoding::Gsm7 => "gsm7",
        domain::sms::Encoding::Ucs2 => "ucs2",
    })
    .bind(t.segments as i32)
    .bind(staff.staff_id().as_uuid())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(t))
}

/// Goes back to the built-in text.
#[utoipa::path(delete, path = "/v1/notifications/templates/{kind}/{language}", tag = "notifications", security(("session" = [])),
    params(("kind" = MessageKind, Path), ("language" = Language, Path)),
    responses((status = 200, body = Template)))]
pub async fn delete_template(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath((kind, language)): ApiPath<(String, String)>,
) -> ApiResult<Json<Template>> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let (kind, lang) = parse_kind_lang(&kind, &language)?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    sqlx::query("delete from notifications.template where kind = $1 and language = $2")
        .bind(kind.as_str())
        .bind(lang.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Json(describe(
        kind,
        lang,
        templates::default_template(kind, lang).to_owned(),
        true,
    )))
}

/// What happened to one message. No text and no number: those are not kept.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Message {
    /// Message id (also the reference sent to the provider).
    pub message_id: Uuid,
    /// `reminder`, `waitlist_offer`, `payment_link`, `payment_reminder`.
    pub kind: String,
    /// The patient.
    pub patient_id: Uuid,
    /// The appointment, for reminders.
    pub appointment_id: Option<Uuid>,
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
    id: Uuid,
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
    ApiPath(id): ApiPath<Uuid>,
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
    let rows = select_messages(&mut tx, "appointment_id = $1 order by created_at", id).await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// The messages to a patient (audited as an access to the patient's data).
#[utoipa::path(get, path = "/v1/patients/{patient_id}/messages", tag = "notifications", security(("session" = [])),
    params(("patient_id" = Uuid, Path)), responses((status = 200, body = [Message])))]
pub async fn patient_messages(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<Message>>> {
    staff.require(&state, Permission::PatientRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    platform::patients::require(&mut tx, PatientId::from_uuid(id)).await?;
    let rows = select_messages(
        &mut tx,
        "patient_id = $1 order by created_at desc limit 200",
        id,
    )
    .await?;
    let mut ev = staff.audit(
        "sensitive_read",
        Action::Read,
        Some(PatientId::from_uuid(id)),
        "success",
    );
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
    ApiPath(id): ApiPath<Uuid>,
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
    crate::planning::schedule_send(&mut tx, staff.practice(), id, Utc::now()).await?;
    tx.commit().await?;
    Ok(Json(row))
}

/// A reply from a patient.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reply {
    /// Reply id.
    pub reply_id: Uuid,
    /// The patient whose number it came from.
    pub patient_id: Option<Uuid>,
    /// The message it answered.
    pub message_id: Option<Uuid>,
    /// The appointment it confirmed or cancelled.
    pub appointment_id: Option<Uuid>,
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
    Uuid,
    Option<Uuid>,
    Option<Uuid>,
    Option<Uuid>,
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
        if let Some(p) = patient_id
            && !patients.contains(&Some(PatientId::from_uuid(p)))
        {
            patients.push(Some(PatientId::from_uuid(p)));
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
    ApiPath(id): ApiPath<Uuid>,
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

/// The SMS account a practice's messages go through (secrets are never shown).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderAccount {
    /// `global` (the operator's account from configuration) or `practice` (its own).
    pub source: String,
    /// `link_platform` or `smsapi` (for a practice's own account).
    pub provider: Option<String>,
    /// API host.
    pub base_url: Option<String>,
    /// Sender id.
    pub sender: Option<String>,
    /// Last change.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A practice's own SMS account. Which fields are required depends on `provider`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderAccountInput {
    /// `link_platform` or `smsapi`.
    #[schema(pattern = r"^(link_platform|smsapi)$")]
    pub provider: String,
    /// API host (https; plain http only outside production, for simulators).
    #[schema(
        max_length = 200,
        pattern = r"^https?://[^\s\x00-\x1F\x7F-\x9F/]+(/[^\s\x00-\x1F\x7F-\x9F]*)?$"
    )]
    pub base_url: String,
    /// Sender id: 2 to 11 letters or digits, not starting with a digit.
    #[schema(pattern = r"^[A-Za-z][A-Za-z0-9]{1,10}$")]
    pub sender: String,
    /// LINK platform: Basic-auth user.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub username: Option<String>,
    /// LINK platform: Basic-auth password.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub password: Option<String>,
    /// LINK platform: `platformId`.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub platform_id: Option<String>,
    /// LINK platform: `platformPartnerId`.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub platform_partner_id: Option<String>,
    /// LINK platform: delivery-report gate id.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub gate_id: Option<String>,
    /// SMSAPI: OAuth token.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub token: Option<String>,
}

/// Shows which SMS account the practice uses.
#[utoipa::path(get, path = "/v1/notifications/provider", tag = "notifications", security(("session" = [])),
    responses((status = 200, body = ProviderAccount)))]
pub async fn get_provider(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<ProviderAccount>> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let row: Option<(String, String, String, DateTime<Utc>)> = sqlx::query_as(
        "select provider, base_url, sender, updated_at from notifications.provider_override",
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(match row {
        None => ProviderAccount {
            source: "global".into(),
            provider: None,
            base_url: None,
            sender: None,
            updated_at: None,
        },
        Some((provider, base_url, sender, updated_at)) => ProviderAccount {
            source: "practice".into(),
            provider: Some(provider),
            base_url: Some(base_url),
            sender: Some(sender),
            updated_at: Some(updated_at),
        },
    }))
}

fn required(field: &'static str, v: Option<String>) -> ApiResult<String> {
    match v.map(|s| s.trim().to_owned()) {
        Some(s) if !s.is_empty() && s.len() <= 500 => Ok(s),
        _ => Err(ApiError::invalid_field(
            field,
            "is required for this provider",
        )),
    }
}

/// Sets the practice's own SMS account (credentials are stored encrypted and never shown).
#[utoipa::path(put, path = "/v1/notifications/provider", tag = "notifications", security(("session" = [])),
    request_body = ProviderAccountInput,
    responses((status = 200, body = ProviderAccount), (status = 422, body = platform::error::Problem)))]
pub async fn put_provider(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(b): ApiJson<ProviderAccountInput>,
) -> ApiResult<Json<ProviderAccount>> {
    use crate::providers::AccountConfig;
    staff.require(&state, Permission::ScheduleManage).await?;
    let base_url = b.base_url.trim().trim_end_matches('/').to_owned();
    let production = state.settings().environment == platform::config::Environment::Production;
    let scheme_ok =
        base_url.starts_with("https://") || (!production && base_url.starts_with("http://"));
    if !scheme_ok || base_url.len() > 200 || base_url.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid_field(
            "base_url",
            "must be an https:// URL",
        ));
    }
    let sender = b.sender.trim().to_owned();
    let sender_ok = (2..=11).contains(&sender.len())
        && sender.chars().all(|c| c.is_ascii_alphanumeric())
        && !sender.starts_with(|c: char| c.is_ascii_digit());
    if !sender_ok {
        return Err(ApiError::invalid_field(
            "sender",
            "must be 2 to 11 letters or digits, not starting with a digit",
        ));
    }
    let config = match b.provider.as_str() {
        "link_platform" => AccountConfig::LinkPlatform {
            base_url: base_url.clone(),
            sender: sender.clone(),
            username: required("username", b.username)?,
            password: required("password", b.password)?,
            platform_id: required("platform_id", b.platform_id)?,
            platform_partner_id: required("platform_partner_id", b.platform_partner_id)?,
            gate_id: b.gate_id.filter(|g| !g.trim().is_empty()),
        },
        "smsapi" => AccountConfig::Smsapi {
            base_url: base_url.clone(),
            sender: sender.clone(),
            token: required("token", b.token)?,
        },
        _ => {
            return Err(ApiError::invalid_field(
                "provider",
                "must be link_platform or smsapi",
            ));
        }
    };
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    let keys = state.practice_keys(&mut tx, practice).await?;
    let plain = serde_json::to_vec(&config).map_err(ApiError::internal)?;
    let sealed = keys.encrypt(crate::providers::account_field(practice), &plain);
    sqlx::query(
        r#"insert into notifications.provider_override (practice_id, provider, base_url, sender, config_enc, updated_by)
           values ($1, $2, $3, $4, $5, $6)
           on conflict (practice_id) do update set provider = excluded.provider, base_url = excluded.base_url,
               sender = excluded.sender, config_enc = excluded.config_enc, updated_by = excluded.updated_by, updated_at = now()"#,
    )
    .bind(practice.as_uuid())
    .bind(&b.provider)
    .bind(&base_url)
    .bind(&sender)
    .bind(sealed)
    .bind(staff.staff_id().as_uuid())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    get_provider(State(state), staff).await
}

/// Goes back to the operator's global account.
#[utoipa::path(delete, path = "/v1/notifications/provider", tag = "notifications", security(("session" = [])),
    responses((status = 200, body = ProviderAccount)))]
pub async fn delete_provider(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<ProviderAccount>> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    sqlx::query("delete from notifications.provider_override")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    get_provider(State(state), staff).await
}
