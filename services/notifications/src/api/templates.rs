//! Message templates per kind and language, with what each costs in segments.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::practice::{Language, Permission};
use domain::templates::{self, Allowed, Fields, MessageKind};
use domain::text::Text;
use platform::auth::Staff;
use platform::json::{ApiJson, ApiPath};
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
#[schema(example = json!({"body": "{practice}: reminder of your appointment on {date} at {time}. Reply JA to confirm or NEE to cancel."}))]
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
