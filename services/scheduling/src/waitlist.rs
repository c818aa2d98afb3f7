//! The waitlist. Patients wait for a slot of a type, optionally with a practitioner, weekdays
//! and a local time window. When a booked slot frees (cancel or reschedule), a job offers it
//! to the matching entries in order of joining (up to `OFFERS_PER_SLOT` at once); each offer
//! expires. The first acceptance books through the same exclusion constraint as any booking;
//! later acceptances of the same slot get 409.

use domain::{AppointmentId, AppointmentTypeId, PatientId, PractitionerId};
use std::collections::BTreeSet;

use anyhow::Context;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveTime, Utc};
use domain::jobs::{MessageRequest, SlotFreed};
use domain::practice::Permission;
use domain::schedule::Span;
use domain::templates::MessageKind;
use domain::waitlist::{EntryStatus, OfferStatus};
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::error::ResultExt;
use platform::jobs::enqueue;
use platform::json::{ApiJson, ApiPath};
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::appointments::store::{NewRow, Placement};
use crate::appointments::{Appointment, ChangeError};
use crate::availability::{Calendar, free_room, room_busy, type_timing};
use crate::zone::{local, practice_zone};
use platform::ApiRouter;
use utoipa_axum::routes;

/// Offers made at once for one freed slot.
pub const OFFERS_PER_SLOT: i64 = 3;
/// How long an offer stays open.
pub const OFFER_MINUTES: i64 = 120;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_waitlist, join_waitlist))
        .routes(routes!(leave_waitlist))
        .routes(routes!(list_offers))
        .routes(routes!(accept_offer))
}

/// Joining the waitlist.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"patient_id": "0193a0c2-6f1e-7c4b-9a51-2d6f0e8b1a01", "appointment_type_id": "0193a0c2-6f1e-7c4b-9a51-2d6f0e8b1a03", "weekdays": [1, 3], "earliest_time": "08:00", "latest_time": "12:00"}))]
pub struct NewEntry {
    /// The patient.
    pub patient_id: PatientId,
    /// The appointment type wanted.
    pub appointment_type_id: AppointmentTypeId,
    /// A preferred practitioner; any when absent.
    #[serde(default)]
    pub practitioner_id: Option<PractitionerId>,
    /// ISO weekdays the patient can come (1 = Monday); any when empty.
    #[serde(default)]
    #[schema(value_type = Vec<i16>, minimum = 1, maximum = 7)]
    pub weekdays: Vec<i16>,
    /// Earliest local start, e.g. "08:00".
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?$")]
    pub earliest_time: Option<NaiveTime>,
    /// Latest local end, e.g. "12:00".
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?$")]
    pub latest_time: Option<NaiveTime>,
}

/// A waitlist entry.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Entry {
    /// Id.
    pub entry_id: Uuid,
    /// Patient.
    pub patient_id: PatientId,
    /// Type.
    pub type_id: AppointmentTypeId,
    /// Preferred practitioner.
    pub practitioner_id: Option<PractitionerId>,
    /// Weekdays.
    pub weekdays: Vec<i16>,
    /// Earliest local start.
    #[schema(value_type = Option<String>)]
    pub earliest_time: Option<NaiveTime>,
    /// Latest local end.
    #[schema(value_type = Option<String>)]
    pub latest_time: Option<NaiveTime>,
    /// Where it stands.
    pub status: EntryStatus,
    /// The appointment booked from an offer.
    pub appointment_id: Option<AppointmentId>,
    /// Joined at; the order of offers.
    pub created_at: DateTime<Utc>,
}

const ENTRY_COLUMNS: &str = "entry_id, patient_id, type_id, practitioner_id, weekdays, earliest_time, latest_time, status, appointment_id, created_at";

/// Puts a patient on the waitlist.
#[utoipa::path(post, path = "/v1/waitlist", tag = "scheduling", security(("session" = [])), request_body = NewEntry,
    responses((status = 201, body = Entry), (status = 422, body = platform::error::Problem)))]
pub async fn join_waitlist(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(b): ApiJson<NewEntry>,
) -> ApiResult<(StatusCode, Json<Entry>)> {
    staff.require(&state, Permission::ScheduleWrite).await?;
    if b.weekdays.iter().any(|d| !(1..=7).contains(d)) {
        return Err(ApiError::invalid_field(
            "weekdays",
            "each must be an ISO weekday (1 = Monday to 7 = Sunday)",
        ));
    }
    if let (Some(e), Some(l)) = (b.earliest_time, b.latest_time)
        && e >= l
    {
        return Err(ApiError::invalid_field(
            "latest_time",
            "must be after earliest_time",
        ));
    }
    let weekdays: Vec<i16> = b
        .weekdays
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut tx = state.db().tenant(staff.practice()).await?;
    type_timing(&mut tx, b.appointment_type_id, "appointment_type_id").await?;
    let entry: Entry = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into scheduling.waitlist_entry (practice_id, entry_id, patient_id, type_id, practitioner_id, weekdays, earliest_time, latest_time, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning {ENTRY_COLUMNS}"
    )))
    .bind(staff.practice().as_uuid())
    .bind(Uuid::now_v7())
    .bind(b.patient_id)
    .bind(b.appointment_type_id)
    .bind(b.practitioner_id)
    .bind(&weekdays)
    .bind(b.earliest_time)
    .bind(b.latest_time)
    .bind(staff.staff_id().as_uuid())
    .fetch_one(&mut *tx)
    .await
    .on_constraint("waitlist_entry_patient_fkey", || ApiError::not_found("patient_not_found", "patient_id"))
    .on_constraint("waitlist_entry_practitioner_fkey", || ApiError::not_found("practitioner_not_found", "practitioner_id"))?;
    let mut ev = staff.audit(
        "sensitive_create",
        Action::Create,
        Some(b.patient_id),
        "success",
    );
    ev.reason = Some("waitlist_joined");
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

/// Lists waiting entries in the order they will be offered slots.
#[utoipa::path(get, path = "/v1/waitlist", tag = "scheduling", security(("session" = [])), responses((status = 200, body = [Entry])))]
pub async fn list_waitlist(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<Vec<Entry>>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rows: Vec<Entry> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ENTRY_COLUMNS} from scheduling.waitlist_entry where status = 'waiting' order by created_at, entry_id"
    )))
    .fetch_all(&mut *tx)
    .await?;
    let shown: Vec<Option<PatientId>> = rows
        .iter()
        .map(|e| e.patient_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(Some)
        .collect();
    let mut ev = staff.audit("sensitive_read", Action::Read, None, "success");
    ev.reason = Some("waitlist");
    audit::record_for_patients(&mut tx, staff.practice(), &ev, &shown).await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// Takes an entry off the waitlist.
#[utoipa::path(delete, path = "/v1/waitlist/{entry_id}", tag = "scheduling", security(("session" = [])),
    params(("entry_id" = Uuid, Path)), responses((status = 204), (status = 404, body = platform::error::Problem)))]
pub async fn leave_waitlist(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    staff.require(&state, Permission::ScheduleWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let patient: Option<PatientId> =
        sqlx::query_scalar("update scheduling.waitlist_entry set status = 'withdrawn' where entry_id = $1 and status = 'waiting' returning patient_id")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let patient =
        patient.ok_or_else(|| ApiError::not_found("waitlist_entry_not_found", "entry_id"))?;
    let mut ev = staff.audit("sensitive_update", Action::Update, Some(patient), "success");
    ev.reason = Some("waitlist_left");
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An offer of a freed slot.
#[derive(Debug, Serialize, ToSchema)]
pub struct Offer {
    /// Id.
    pub offer_id: Uuid,
    /// The entry.
    pub entry_id: Uuid,
    /// Practitioner.
    pub practitioner_id: PractitionerId,
    /// Start.
    pub starts_at: DateTime<FixedOffset>,
    /// What became of it (`expired` once past its time, even before the expiry job ran).
    pub status: OfferStatus,
    /// Until when it can be accepted.
    pub expires_at: DateTime<FixedOffset>,
    /// The appointment booked by accepting.
    pub appointment_id: Option<AppointmentId>,
}

type OfferRow = (
    Uuid,
    Uuid,
    PractitionerId,
    DateTime<Utc>,
    OfferStatus,
    DateTime<Utc>,
    Option<AppointmentId>,
);
/// entry, type, duration, buffer before, buffer after, needs room, latest end.
type MatchRow = (
    Uuid,
    AppointmentTypeId,
    i32,
    i32,
    i32,
    bool,
    Option<NaiveTime>,
    PatientId,
);
/// entry, practitioner, start, offer status, expiry, patient, type, entry status.
type AcceptRow = (
    Uuid,
    PractitionerId,
    DateTime<Utc>,
    OfferStatus,
    DateTime<Utc>,
    PatientId,
    AppointmentTypeId,
    EntryStatus,
);

/// Lists the offers made to an entry.
#[utoipa::path(get, path = "/v1/waitlist/{entry_id}/offers", tag = "scheduling", security(("session" = [])),
    params(("entry_id" = Uuid, Path)), responses((status = 200, body = [Offer]), (status = 404, body = platform::error::Problem)))]
pub async fn list_offers(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<Offer>>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let known: bool = sqlx::query_scalar(
        "select exists (select 1 from scheduling.waitlist_entry where entry_id = $1)",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if !known {
        return Err(ApiError::not_found("waitlist_entry_not_found", "entry_id"));
    }
    let rows: Vec<OfferRow> = sqlx::query_as(
        r#"select offer_id, entry_id, practitioner_id, starts_at,
                  case when status = 'open' and expires_at <= now() then 'expired' else status end, expires_at, appointment_id
             from scheduling.waitlist_offer where entry_id = $1 order by created_at"#,
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(
        rows.into_iter()
            .map(
                |(offer_id, entry_id, practitioner_id, s, status, e, appointment_id)| Offer {
                    offer_id,
                    entry_id,
                    practitioner_id,
                    starts_at: local(tz, s),
                    status,
                    expires_at: local(tz, e),
                    appointment_id,
                },
            )
            .collect(),
    ))
}

/// Handles `scheduling.slot-freed`: offers the slot to the first matching waiting entries.
/// Returns how many offers were made.
pub async fn offer_freed_slot(
    state: &AppState,
    payload: serde_json::Value,
) -> anyhow::Result<usize> {
    let job: SlotFreed = serde_json::from_value(payload)?;
    let mut tx = state.db().tenant(job.practice_id).await?;
    let (tz, _) = practice_zone(&mut tx)
        .await
        .context("the practice's time zone")?;
    let start_local = job.starts_at.with_timezone(&tz);
    let weekday = start_local.weekday().number_from_monday() as i16;
    let entries: Vec<MatchRow> = sqlx::query_as(
        r#"select e.entry_id, e.type_id, t.duration_minutes, t.buffer_before_minutes, t.buffer_after_minutes, t.needs_room, e.latest_time, e.patient_id
             from scheduling.waitlist_entry e
             join scheduling.appointment_type t on t.practice_id = e.practice_id and t.type_id = e.type_id and t.active
            where e.status = 'waiting'
              and (e.practitioner_id is null or e.practitioner_id = $1)
              and (cardinality(e.weekdays) = 0 or $2 = any(e.weekdays))
              and (e.earliest_time is null or e.earliest_time <= $3)
            order by e.created_at, e.entry_id"#,
    )
    .bind(job.practitioner_id)
    .bind(weekday)
    .bind(start_local.time())
    .fetch_all(&mut *tx)
    .await?;
    let window = Span {
        start: job.starts_at - Duration::hours(1),
        end: job.ends_at + Duration::hours(9),
    };
    let cal = Calendar::load(&mut tx, tz, &[job.practitioner_id], window, &[], true)
        .await
        .with_context(|| format!("the calendar of practitioner {}", job.practitioner_id))?;
    let rooms = room_busy(&mut tx, window, &[])
        .await
        .context("the rooms' busy times")?;
    let mut offered = 0usize;
    for (entry_id, _type_id, duration, before, after, needs_room, latest, patient_id) in entries {
        if offered as i64 >= OFFERS_PER_SLOT {
            break;
        }
        let appt = Span {
            start: job.starts_at,
            end: job.starts_at + Duration::minutes(duration.into()),
        };
        let blocked = Span {
            start: appt.start - Duration::minutes(before.into()),
            end: appt.end + Duration::minutes(after.into()),
        };
        let fits_window = latest.is_none_or(|l| appt.end.with_timezone(&tz).time() <= l);
        let free = cal.workable(job.practitioner_id, &appt)
            && cal.busy_at(job.practitioner_id, &blocked).is_none()
            && (!needs_room || free_room(&rooms, &blocked).is_some());
        if !fits_window || !free {
            continue;
        }
        let offer_id = Uuid::now_v7();
        let made: Option<Uuid> = sqlx::query_scalar(
            r#"insert into scheduling.waitlist_offer (practice_id, offer_id, entry_id, practitioner_id, starts_at, expires_at)
               values ($1, $2, $3, $4, $5, now() + make_interval(mins => $6))
               on conflict (practice_id, entry_id, practitioner_id, starts_at) do nothing returning offer_id"#,
        )
        .bind(job.practice_id.as_uuid())
        .bind(offer_id)
        .bind(entry_id)
        .bind(job.practitioner_id)
        .bind(job.starts_at)
        .bind(OFFER_MINUTES as i32)
        .fetch_optional(&mut *tx)
        .await?;
        if made.is_some() {
            let key = format!("waitlist-offer:{offer_id}");
            let send = MessageRequest {
                practice_id: job.practice_id,
                kind: MessageKind::WaitlistOffer,
                about_id: offer_id,
                patient_id,
                starts_at: Some(job.starts_at),
                link: None,
                key: key.clone(),
            };
            enqueue(&mut tx, &send, Utc::now()).await?;
            offered += 1;
        }
    }
    tx.commit().await?;
    tracing::info!(practice.id = %job.practice_id, appointment.id = %job.appointment_id, offers = offered, "freed slot offered");
    Ok(offered)
}

/// Accepts an open offer: books the slot for the entry's patient, or answers 409 when someone
/// was first or the offer lapsed.
#[utoipa::path(post, path = "/v1/waitlist/offers/{offer_id}/accept", tag = "scheduling", security(("session" = [])),
    params(("offer_id" = Uuid, Path)),
    responses((status = 201, body = Appointment), (status = 404, body = platform::error::Problem), (status = 409, body = platform::error::Problem)))]
pub async fn accept_offer(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<(StatusCode, Json<Appointment>)> {
    staff.require(&state, Permission::ScheduleWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let offer: Option<AcceptRow> = sqlx::query_as(
        r#"select o.entry_id, o.practitioner_id, o.starts_at, o.status, o.expires_at, e.patient_id, e.type_id, e.status
             from scheduling.waitlist_offer o
             join scheduling.waitlist_entry e on e.practice_id = o.practice_id and e.entry_id = o.entry_id
            where o.offer_id = $1 for update of o, e"#,
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let (entry, practitioner, starts_at, status, expires_at, patient, type_id, entry_status) =
        offer.ok_or_else(|| ApiError::not_found("offer_not_found", "offer_id"))?;
    if status != OfferStatus::Open || entry_status != EntryStatus::Waiting {
        return Err(
            ApiError::conflict("offer_not_open", format!("the offer is {status}"))
                .with_field("offer_id"),
        );
    }
    if expires_at <= Utc::now() || starts_at <= Utc::now() {
        sqlx::query("update scheduling.waitlist_offer set status = 'expired' where offer_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Err(ApiError::conflict("offer_expired", "the offer expired").with_field("offer_id"));
    }
    let timing = type_timing(&mut tx, type_id, "appointment_type_id").await?;
    let appt = Span {
        start: starts_at,
        end: starts_at + timing.duration(),
    };
    let blocked = timing.blocked(appt);
    let room = if timing.needs_room {
        free_room(&room_busy(&mut tx, blocked, &[]).await?, &blocked)
    } else {
        None
    };
    let place = Placement {
        practitioner,
        appt,
        blocked,
        room,
    };
    let booked = NewRow {
        practice: staff.practice(),
        patient: Some(patient),
        type_id,
        held_minutes: None,
        series: None,
        overlap_reason: None,
        outside_hours_reason: None,
        created_by: staff.staff_id().as_uuid(),
    }
    .insert(&mut tx, &place)
    .await;
    let row = match booked {
        Ok(row) => row,
        Err(e) => {
            // Someone was first: this offer is over (recorded outside the spent transaction).
            drop(tx);
            let mut after = state.db().tenant(staff.practice()).await?;
            sqlx::query("update scheduling.waitlist_offer set status = 'taken' where offer_id = $1 and status = 'open'")
                .bind(id)
                .execute(&mut *after)
                .await?;
            after.commit().await?;
            let conflict = matches!(e, ChangeError::Conflict(_));
            let e = ApiError::from(e);
            return Err(if conflict {
                e.with_extension("offer_id", id.to_string())
            } else {
                e
            });
        }
    };
    sqlx::query("update scheduling.waitlist_offer set status = 'accepted', appointment_id = $2 where offer_id = $1")
        .bind(id)
        .bind(row.appointment_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("update scheduling.waitlist_offer set status = 'taken' where practitioner_id = $1 and starts_at = $2 and status = 'open' and offer_id <> $3")
        .bind(practitioner)
        .bind(starts_at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("update scheduling.waitlist_entry set status = 'booked', appointment_id = $2 where entry_id = $1")
        .bind(entry)
        .bind(row.appointment_id)
        .execute(&mut *tx)
        .await?;
    crate::events::changed(&mut tx, staff.practice(), &row).await?;
    let mut ev = staff.audit("sensitive_create", Action::Create, Some(patient), "success");
    ev.reason = Some("waitlist_offer_accepted");
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row.view(tz))))
}
