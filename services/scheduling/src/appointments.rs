//! Appointments: book, hold and confirm, reschedule, cancel, complete, no-show.
//!
//! The exclusion constraints decide conflicts: two requests for one slot both insert, one
//! commits, the other gets 409 naming the appointment it collides with. A deliberate overlap
//! (practitioner or admin, with a reason) is kept out of the constraints; ordinary bookings
//! take a shared advisory lock per practitioner and check those rows, overlaps take it
//! exclusively, so the two kinds cannot race past each other.
//!
//! Allowed transitions: held → booked (confirm) | cancelled | expired; booked → booked
//! (reschedule) | cancelled | completed | no_show. Every change raises `version`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use chrono_tz::Tz;
use domain::PatientId;
use domain::practice::Permission;
use domain::schedule::Span;
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::db::TenantTx;
use platform::error::ResultExt;
use platform::json::{ApiJson, ApiPath};
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use sqlx::postgres::types::PgRange;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::availability::{Calendar, TypeTiming, context, free_room, room_busy};
use crate::{local, practice_zone};
use domain::text::Line;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/appointments", post(book_appointment))
        .route("/v1/appointments/holds", post(hold_slot))
        .route("/v1/appointments/{appointment_id}", get(get_appointment))
        .route(
            "/v1/appointments/{appointment_id}/confirm",
            post(confirm_hold),
        )
        .route(
            "/v1/appointments/{appointment_id}/reschedule",
            post(reschedule_appointment),
        )
        .route(
            "/v1/appointments/{appointment_id}/cancel",
            post(cancel_appointment),
        )
        .route(
            "/v1/appointments/{appointment_id}/complete",
            post(complete_appointment),
        )
        .route(
            "/v1/appointments/{appointment_id}/no-show",
            post(no_show_appointment),
        )
}

/// A booking.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppointment {
    /// The patient.
    pub patient_id: Uuid,
    /// The practitioner.
    pub practitioner_id: Uuid,
    /// The appointment type (decides length, buffers, room need).
    pub appointment_type_id: Uuid,
    /// Start, RFC 3339 with offset (e.g. `2026-12-01T09:00:00+01:00`).
    pub starts_at: DateTime<FixedOffset>,
    /// A room; one is chosen when the type needs a room and none is given.
    #[serde(default)]
    pub room_id: Option<Uuid>,
    /// Book on top of another appointment on purpose (practitioners and admins); audited.
    #[serde(default)]
    pub overlap_reason: Option<Line<500>>,
    /// Book outside working hours on purpose (practitioners and admins); audited.
    #[serde(default)]
    pub outside_hours_reason: Option<Line<500>>,
}

/// A short hold on a slot during a booking flow.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHold {
    /// The practitioner.
    pub practitioner_id: Uuid,
    /// The appointment type.
    pub appointment_type_id: Uuid,
    /// Start, RFC 3339 with offset.
    pub starts_at: DateTime<FixedOffset>,
    /// A room.
    #[serde(default)]
    pub room_id: Option<Uuid>,
}

/// An appointment.
#[derive(Debug, Serialize, ToSchema)]
pub struct Appointment {
    /// Id.
    pub appointment_id: Uuid,
    /// Practitioner.
    pub practitioner_id: Uuid,
    /// Patient (absent on a hold).
    pub patient_id: Option<Uuid>,
    /// Type.
    pub appointment_type_id: Uuid,
    /// Room.
    pub room_id: Option<Uuid>,
    /// Start, with the practice's offset.
    pub starts_at: DateTime<FixedOffset>,
    /// End.
    pub ends_at: DateTime<FixedOffset>,
    /// `held`, `booked`, `completed`, `cancelled`, `no_show` or `expired`.
    pub status: String,
    /// When a hold lapses.
    pub hold_expires_at: Option<DateTime<FixedOffset>>,
    /// Reason of a deliberate overlap.
    pub overlap_reason: Option<String>,
    /// Reason of a booking outside working hours.
    pub outside_hours_reason: Option<String>,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
    /// When the appointment was confirmed (by the patient's reply to a reminder, or by staff).
    pub confirmed_at: Option<DateTime<FixedOffset>>,
    /// How it was confirmed: `patient_reply` or `staff`.
    pub confirmed_via: Option<String>,
    /// Raised by every change.
    pub version: i32,
}

#[derive(sqlx::FromRow)]
pub(crate) struct Row {
    pub(crate) appointment_id: Uuid,
    pub(crate) practitioner_id: Uuid,
    pub(crate) patient_id: Option<Uuid>,
    pub(crate) type_id: Uuid,
    room_id: Option<Uuid>,
    pub(crate) starts_at: DateTime<Utc>,
    pub(crate) ends_at: DateTime<Utc>,
    pub(crate) status: String,
    hold_expires_at: Option<DateTime<Utc>>,
    overlap_reason: Option<String>,
    outside_hours_reason: Option<String>,
    cancel_reason: Option<String>,
    confirmed_at: Option<DateTime<Utc>>,
    confirmed_via: Option<String>,
    pub(crate) version: i32,
}

pub(crate) const COLUMNS: &str = "appointment_id, practitioner_id, patient_id, type_id, room_id, starts_at, ends_at, status, \
     hold_expires_at, overlap_reason, outside_hours_reason, cancel_reason, confirmed_at, confirmed_via, version";

impl Row {
    pub(crate) fn view(self, tz: Tz) -> Appointment {
        Appointment {
            appointment_id: self.appointment_id,
            practitioner_id: self.practitioner_id,
            patient_id: self.patient_id,
            appointment_type_id: self.type_id,
            room_id: self.room_id,
            starts_at: local(tz, self.starts_at),
            ends_at: local(tz, self.ends_at),
            status: self.status,
            hold_expires_at: self.hold_expires_at.map(|t| local(tz, t)),
            overlap_reason: self.overlap_reason,
            outside_hours_reason: self.outside_hours_reason,
            cancel_reason: self.cancel_reason,
            confirmed_at: self.confirmed_at.map(|t| local(tz, t)),
            confirmed_via: self.confirmed_via,
            version: self.version,
        }
    }
}

async fn load(tx: &mut TenantTx, id: Uuid, for_update: bool) -> ApiResult<Row> {
    let lock = if for_update { " for update" } else { "" };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from scheduling.appointment where appointment_id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| ApiError::not_found("appointment_not_found", "appointment_id"))
}

/// Where and when an appointment goes, checked against the practitioner's calendar.
pub(crate) struct Placement {
    pub(crate) practitioner: Uuid,
    pub(crate) appt: Span,
    pub(crate) blocked: Span,
    pub(crate) room: Option<Uuid>,
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site per flow; a struct would only rename them"
)]
async fn place(
    tx: &mut TenantTx,
    state: &AppState,
    staff: &Staff,
    tz: Tz,
    practitioner: (Uuid, bool),
    timing: &TypeTiming,
    starts_at: DateTime<Utc>,
    room: Option<Uuid>,
    outside_hours: bool,
    skip: Option<Uuid>,
) -> ApiResult<Placement> {
    let (practitioner, active) = practitioner;
    if !active {
        return Err(ApiError::not_found(
            "practitioner_not_found",
            "practitioner_id",
        ));
    }
    if starts_at < Utc::now() - Duration::minutes(1) {
        return Err(ApiError::invalid_field("starts_at", "is in the past"));
    }
    let appt = Span {
        start: starts_at,
        end: starts_at + timing.duration(),
    };
    let blocked = timing.blocked(appt);
    let cal = Calendar::load(tx, tz, &[practitioner], blocked, skip.as_slice(), false).await?;
    if !cal.workable(practitioner, &appt) {
        if !outside_hours {
            return Err(ApiError::invalid_field(
                "starts_at",
                "is outside the practitioner's working hours, in an absence or in a closure (outside_hours_reason books it anyway)",
            ));
        }
        staff.require(state, Permission::OverlapOverride).await?;
    }
    let room = match room {
        Some(r) => {
            let ok: bool = sqlx::query_scalar(
                "select exists (select 1 from scheduling.room where room_id = $1 and active)",
            )
            .bind(r)
            .fetch_one(&mut **tx)
            .await?;
            if !ok {
                return Err(ApiError::not_found("room_not_found", "room_id"));
            }
            Some(r)
        }
        None if timing.needs_room => {
            let rooms = room_busy(tx, blocked, skip.as_slice()).await?;
            Some(free_room(&rooms, &blocked).ok_or_else(|| {
                ApiError::conflict("no_room_free", "no room is free at that time")
                    .with_field("starts_at")
            })?)
        }
        None => None,
    };
    Ok(Placement {
        practitioner,
        appt,
        blocked,
        room,
    })
}

/// Runs `write` (an insert or update of one appointment) under the overlap rules; a collision
/// becomes 409 naming the appointment it collides with. On a collision the transaction is
/// spent: the caller returns the error and it rolls back.
pub(crate) async fn guarded_write<F>(
    tx: &mut TenantTx,
    practice: domain::PracticeId,
    p: &Placement,
    overlap: bool,
    skip: Option<Uuid>,
    write: F,
) -> ApiResult<Row>
where
    F: for<'c> FnOnce(
        &'c mut sqlx::PgConnection,
    ) -> futures_like::BoxFuture<'c, Result<Row, sqlx::Error>>,
{
    let range = PgRange::from(p.blocked.start..p.blocked.end);
    // Lock, deliberate-overlap check and lapsed holds in one round trip.
    let deliberate: Option<Uuid> =
        sqlx::query_scalar("select scheduling.prepare_write($1, $2, $3, $4, $5)")
            .bind(p.practitioner)
            .bind(range)
            .bind(p.room)
            .bind(skip)
            .bind(overlap)
            .fetch_one(&mut **tx)
            .await?;
    if let Some(id) = deliberate {
        return Err(conflict(id));
    }
    let e = match write(tx).await {
        Ok(row) => return Ok(row),
        Err(e) => e,
    };
    match platform::db::violated_constraint(&e) {
        Some("appointment_no_overlap") | Some("appointment_room_no_overlap") => {
            // The winner has committed (the constraint waited for it). Look it up on this same
            // connection: roll the spent transaction back and open a fresh tenant one in its
            // place (the caller drops it). Taking a second pooled connection here would let
            // concurrent losers starve the pool.
            sqlx::query("rollback").execute(&mut **tx).await?;
            sqlx::query("begin").execute(&mut **tx).await?;
            platform::db::set_tenant(tx, practice).await?;
            let other: Option<Uuid> = sqlx::query_scalar(
                r#"select appointment_id from scheduling.appointment
                    where status in ('held', 'booked') and overlap_reason is null and blocked && $2
                      and starts_at > lower($2) - interval '12 hours' and starts_at < upper($2) + interval '12 hours'
                      and (practitioner_id = $1 or ($3::uuid is not null and room_id = $3))
                      and ($4::uuid is null or appointment_id <> $4)
                    order by starts_at limit 1"#,
            )
            .bind(p.practitioner)
            .bind(range)
            .bind(p.room)
            .bind(skip)
            .fetch_optional(&mut **tx)
            .await?;
            Err(match other {
                Some(id) => conflict(id),
                None => ApiError::conflict("appointment_conflict", "the time was just taken")
                    .with_field("starts_at"),
            })
        }
        Some("appointment_patient_fkey") => {
            Err(ApiError::not_found("patient_not_found", "patient_id"))
        }
        _ => Err(e.into()),
    }
}

/// A new appointment row: one statement for bookings, holds (`held_minutes`), series
/// occurrences and waitlist bookings.
pub(crate) struct NewRow {
    pub(crate) practice: domain::PracticeId,
    pub(crate) patient: Option<Uuid>,
    pub(crate) type_id: Uuid,
    /// A hold lasting this many minutes; a booking when absent.
    pub(crate) held_minutes: Option<i32>,
    pub(crate) series: Option<Uuid>,
    pub(crate) overlap_reason: Option<String>,
    pub(crate) outside_hours_reason: Option<String>,
    pub(crate) created_by: Uuid,
}

impl NewRow {
    /// Inserts it at `p` under the overlap rules.
    pub(crate) async fn insert(self, tx: &mut TenantTx, p: &Placement) -> ApiResult<Row> {
        let overlap = self.overlap_reason.is_some();
        let practice = self.practice;
        let (appt, blocked, room, practitioner) = (p.appt, p.blocked, p.room, p.practitioner);
        guarded_write(tx, practice, p, overlap, None, move |c| {
            Box::pin(async move {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    r#"insert into scheduling.appointment (practice_id, appointment_id, practitioner_id, patient_id, type_id, room_id,
                           starts_at, ends_at, blocked, status, hold_expires_at, series_id, overlap_reason, outside_hours_reason, created_by)
                       values ($1, $2, $3, $4, $5, $6, $7, $8, $9,
                               case when $10::int is null then 'booked' else 'held' end,
                               case when $10::int is null then null else now() + make_interval(mins => $10::int) end,
                               $11, $12, $13, $14)
                       returning {COLUMNS}"#
                )))
                .bind(self.practice.as_uuid())
                .bind(Uuid::now_v7())
                .bind(practitioner)
                .bind(self.patient)
                .bind(self.type_id)
                .bind(room)
                .bind(appt.start)
                .bind(appt.end)
                .bind(PgRange::from(blocked.start..blocked.end))
                .bind(self.held_minutes)
                .bind(self.series)
                .bind(self.overlap_reason)
                .bind(self.outside_hours_reason)
                .bind(self.created_by)
                .fetch_one(c)
                .await
            })
        })
        .await
    }
}

pub(crate) fn conflict(other: Uuid) -> ApiError {
    ApiError::conflict(
        "appointment_conflict",
        format!("overlaps appointment {other}"),
    )
    .with_field("starts_at")
    .with_extension("conflicting_appointment_id", other.to_string())
}

/// Boxed futures without pulling in the `futures` crate.
pub(crate) mod futures_like {
    pub(crate) type BoxFuture<'a, T> =
        std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
}

pub(crate) async fn record(
    tx: &mut TenantTx,
    staff: &Staff,
    event: &'static str,
    action: Action,
    patient: Option<Uuid>,
    why: &'static str,
) -> ApiResult<()> {
    let mut ev = staff.audit(event, action, patient.map(PatientId::from_uuid), "success");
    ev.reason = Some(why);
    audit::record(tx, staff.practice(), &ev).await?;
    Ok(())
}

/// Books an appointment.
#[utoipa::path(post, path = "/v1/appointments", tag = "scheduling", security(("session" = [])), request_body = NewAppointment,
    responses((status = 201, body = Appointment), (status = 409, description = "Conflict; `conflicting_appointment_id` names the other appointment", body = platform::error::Problem),
              (status = 422, body = platform::error::Problem)))]
pub async fn book_appointment(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(b): ApiJson<NewAppointment>,
) -> ApiResult<(StatusCode, Json<Appointment>)> {
    staff.require(&state, Permission::ScheduleWrite).await?;
    let overlap_reason = b.overlap_reason.map(String::from);
    let outside_hours_reason = b.outside_hours_reason.map(String::from);
    if overlap_reason.is_some() {
        staff.require(&state, Permission::OverlapOverride).await?;
    }
    let mut tx = state.db().tenant(staff.practice()).await?;
    let ctx = context(&mut tx, b.appointment_type_id).await?;
    let (tz, timing, active) = (
        ctx.tz,
        ctx.timing,
        ctx.practitioners.contains(&b.practitioner_id),
    );
    let p = place(
        &mut tx,
        &state,
        &staff,
        tz,
        (b.practitioner_id, active),
        &timing,
        b.starts_at.to_utc(),
        b.room_id,
        outside_hours_reason.is_some(),
        None,
    )
    .await?;
    let row = NewRow {
        practice: staff.practice(),
        patient: Some(b.patient_id),
        type_id: b.appointment_type_id,
        held_minutes: None,
        series: None,
        overlap_reason: overlap_reason.clone(),
        outside_hours_reason: outside_hours_reason.clone(),
        created_by: staff.staff_id().as_uuid(),
    }
    .insert(&mut tx, &p)
    .await?;
    crate::jobs::changed(&mut tx, staff.practice(), &row).await?;
    record(
        &mut tx,
        &staff,
        "sensitive_create",
        Action::Create,
        Some(b.patient_id),
        "appointment_booked",
    )
    .await?;
    if overlap_reason.is_some() {
        record(
            &mut tx,
            &staff,
            "schedule_override",
            Action::Create,
            Some(b.patient_id),
            "overlap",
        )
        .await?;
    }
    if outside_hours_reason.is_some() {
        record(
            &mut tx,
            &staff,
            "schedule_override",
            Action::Create,
            Some(b.patient_id),
            "outside_hours",
        )
        .await?;
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row.view(tz))))
}

/// Holds a slot for a few minutes (the practice's hold time) while a booking is completed.
#[utoipa::path(post, path = "/v1/appointments/holds", tag = "scheduling", security(("session" = [])), request_body = NewHold,
    responses((status = 201, body = Appointment), (status = 409, body = platform::error::Problem), (status = 422, body = platform::error::Problem)))]
pub async fn hold_slot(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(b): ApiJson<NewHold>,
) -> ApiResult<(StatusCode, Json<Appointment>)> {
    staff.require(&state, Permission::ScheduleWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let ctx = context(&mut tx, b.appointment_type_id).await?;
    let (tz, timing, hold_minutes, active) = (
        ctx.tz,
        ctx.timing,
        ctx.hold_minutes,
        ctx.practitioners.contains(&b.practitioner_id),
    );
    let p = place(
        &mut tx,
        &state,
        &staff,
        tz,
        (b.practitioner_id, active),
        &timing,
        b.starts_at.to_utc(),
        b.room_id,
        false,
        None,
    )
    .await?;
    let row = NewRow {
        practice: staff.practice(),
        patient: None,
        type_id: b.appointment_type_id,
        held_minutes: Some(hold_minutes),
        series: None,
        overlap_reason: None,
        outside_hours_reason: None,
        created_by: staff.staff_id().as_uuid(),
    }
    .insert(&mut tx, &p)
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row.view(tz))))
}

/// The patient for a held slot.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmHold {
    /// The patient.
    pub patient_id: Uuid,
}

/// Turns a hold that has not lapsed into a booking.
#[utoipa::path(post, path = "/v1/appointments/{appointment_id}/confirm", tag = "scheduling", security(("session" = [])),
    params(("appointment_id" = Uuid, Path)), request_body = ConfirmHold,
    responses((status = 200, body = Appointment), (status = 404, body = platform::error::Problem), (status = 409, body = platform::error::Problem)))]
pub async fn confirm_hold(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(b): ApiJson<ConfirmHold>,
) -> ApiResult<Json<Appointment>> {
    staff.require(&state, Permission::ScheduleWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let current = load(&mut tx, id, true).await?;
    let live = current.status == "held" && current.hold_expires_at.is_some_and(|t| t > Utc::now());
    if !live {
        return Err(ApiError::conflict(
            "hold_not_active",
            format!(
                "appointment {id} is not a live hold (it is {})",
                current.status
            ),
        ));
    }
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update scheduling.appointment set status = 'booked', patient_id = $2, hold_expires_at = null, version = version + 1
          where appointment_id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(b.patient_id)
    .fetch_one(&mut *tx)
    .await
    .on_constraint("appointment_patient_fkey", || ApiError::not_found("patient_not_found", "patient_id"))?;
    crate::jobs::changed(&mut tx, staff.practice(), &row).await?;
    record(
        &mut tx,
        &staff,
        "sensitive_create",
        Action::Create,
        Some(b.patient_id),
        "appointment_booked",
    )
    .await?;
    tx.commit().await?;
    Ok(Json(row.view(tz)))
}

/// Reads an appointment.
#[utoipa::path(get, path = "/v1/appointments/{appointment_id}", tag = "scheduling", security(("session" = [])),
    params(("appointment_id" = Uuid, Path)), responses((status = 200, body = Appointment), (status = 404, body = platform::error::Problem)))]
pub async fn get_appointment(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Appointment>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let row = load(&mut tx, id, false).await?;
    if row.patient_id.is_some() {
        record(
            &mut tx,
            &staff,
            "sensitive_read",
            Action::Read,
            row.patient_id,
            "appointment",
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(row.view(tz)))
}

/// A new time (and optionally practitioner) for a booked appointment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reschedule {
    /// New start, RFC 3339 with offset.
    pub starts_at: DateTime<FixedOffset>,
    /// Another practitioner.
    #[serde(default)]
    pub practitioner_id: Option<Uuid>,
    /// Another room.
    #[serde(default)]
    pub room_id: Option<Uuid>,
    /// Outside working hours on purpose (practitioners and admins).
    #[serde(default)]
    pub outside_hours_reason: Option<Line<500>>,
}

/// Moves a booked appointment.
#[utoipa::path(post, path = "/v1/appointments/{appointment_id}/reschedule", tag = "scheduling", security(("session" = [])),
    params(("appointment_id" = Uuid, Path)), request_body = Reschedule,
    responses((status = 200, body = Appointment), (status = 404, body = platform::error::Problem), (status = 409, body = platform::error::Problem), (status = 422, body = platform::error::Problem)))]
pub async fn reschedule_appointment(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(b): ApiJson<Reschedule>,
) -> ApiResult<Json<Appointment>> {
    staff.require(&state, Permission::ScheduleWrite).await?;
    let outside_hours_reason = b.outside_hours_reason.map(String::from);
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let current = load(&mut tx, id, true).await?;
    if current.status != "booked" {
        return Err(invalid_transition(&current.status, "reschedule"));
    }
    let practitioner = b.practitioner_id.unwrap_or(current.practitioner_id);
    let ctx = context(&mut tx, current.type_id).await?;
    let (timing, active) = (ctx.timing, ctx.practitioners.contains(&practitioner));
    let room = b.room_id.or(current.room_id);
    let p = place(
        &mut tx,
        &state,
        &staff,
        tz,
        (practitioner, active),
        &timing,
        b.starts_at.to_utc(),
        room,
        outside_hours_reason.is_some(),
        Some(id),
    )
    .await?;
    let (appt, blocked, room, practitioner) = (p.appt, p.blocked, p.room, p.practitioner);
    let ohr = outside_hours_reason.clone();
    let row = guarded_write(&mut tx, staff.practice(), &p, current.overlap_reason.is_some(), Some(id), move |c| {
        Box::pin(async move {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                r#"update scheduling.appointment
                      set practitioner_id = $2, room_id = $3, starts_at = $4, ends_at = $5, blocked = $6,
                          outside_hours_reason = $7, version = version + 1
                    where appointment_id = $1 returning {COLUMNS}"#
            )))
            .bind(id)
            .bind(practitioner)
            .bind(room)
            .bind(appt.start)
            .bind(appt.end)
            .bind(PgRange::from(blocked.start..blocked.end))
            .bind(ohr)
            .fetch_one(c)
            .await
        })
    })
    .await?;
    crate::jobs::changed(&mut tx, staff.practice(), &row).await?;
    freed(&mut tx, staff.practice(), &current, row.version).await?;
    record(
        &mut tx,
        &staff,
        "sensitive_update",
        Action::Update,
        row.patient_id,
        "appointment_rescheduled",
    )
    .await?;
    tx.commit().await?;
    Ok(Json(row.view(tz)))
}

/// Offers the time a booked appointment gave up to the waitlist.
pub(crate) async fn freed(
    tx: &mut TenantTx,
    practice: domain::PracticeId,
    old: &Row,
    version: i32,
) -> Result<(), sqlx::Error> {
    if old.status != "booked" {
        return Ok(());
    }
    let job = domain::jobs::SlotFreed {
        practice_id: practice,
        appointment_id: old.appointment_id,
        practitioner_id: old.practitioner_id,
        starts_at: old.starts_at,
        ends_at: old.ends_at,
    };
    crate::waitlist::slot_freed(tx, &job, version).await
}

fn invalid_transition(from: &str, action: &str) -> ApiError {
    ApiError::conflict(
        "invalid_transition",
        format!("cannot {action} the appointment: it is {from}"),
    )
    .with_field("status")
}

/// Why an appointment is cancelled.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cancel {
    /// Reason (kept with the appointment).
    pub reason: Line<500>,
}

/// Cancels a booked appointment or a hold; the slot is free at once.
#[utoipa::path(post, path = "/v1/appointments/{appointment_id}/cancel", tag = "scheduling", security(("session" = [])),
    params(("appointment_id" = Uuid, Path)), request_body = Cancel,
    responses((status = 200, body = Appointment), (status = 404, body = platform::error::Problem), (status = 409, body = platform::error::Problem)))]
pub async fn cancel_appointment(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(b): ApiJson<Cancel>,
) -> ApiResult<Json<Appointment>> {
    staff.require(&state, Permission::ScheduleWrite).await?;
    let why = b.reason.as_str();
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let current = load(&mut tx, id, true).await?;
    if !matches!(current.status.as_str(), "booked" | "held") {
        return Err(invalid_transition(&current.status, "cancel"));
    }
    let row = crate::change::cancel(
        &mut tx,
        staff.practice(),
        &current,
        crate::change::CancelledBy::Staff(staff.staff_id().as_uuid()),
        why,
    )
    .await?;
    if row.patient_id.is_some() {
        record(
            &mut tx,
            &staff,
            "sensitive_update",
            Action::Update,
            row.patient_id,
            "appointment_cancelled",
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(row.view(tz)))
}

async fn close(
    state: &AppState,
    staff: &Staff,
    id: Uuid,
    to: &'static str,
    action: &'static str,
) -> ApiResult<Json<Appointment>> {
    staff.require(state, Permission::ScheduleWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let current = load(&mut tx, id, true).await?;
    if current.status != "booked" {
        return Err(invalid_transition(&current.status, action));
    }
    if current.starts_at > Utc::now() {
        return Err(ApiError::conflict(
            "appointment_not_started",
            "the appointment has not started yet",
        )
        .with_field("status"));
    }
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update scheduling.appointment set status = $2, version = version + 1 where appointment_id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(to)
    .fetch_one(&mut *tx)
    .await?;
    if to == "no_show" {
        // Early release: what is left of the slot goes to the waitlist.
        // From the next 5-minute mark, if at least 5 minutes are left.
        let now = Utc::now();
        let next_mark = now + Duration::seconds(300 - now.timestamp().rem_euclid(300));
        if current.ends_at >= next_mark + Duration::minutes(5) {
            let rest = Row {
                starts_at: next_mark.max(current.starts_at),
                ..current
            };
            freed(&mut tx, staff.practice(), &rest, row.version).await?;
        }
    }
    crate::jobs::changed(&mut tx, staff.practice(), &row).await?;
    if to == "completed" {
        crate::jobs::draft_invoice(&mut tx, staff.practice(), row.appointment_id, row.version)
            .await?;
    }
    record(
        &mut tx,
        staff,
        "sensitive_update",
        Action::Update,
        row.patient_id,
        if to == "completed" {
            "appointment_completed"
        } else {
            "appointment_no_show"
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(row.view(tz)))
}

/// Marks a started appointment as completed.
#[utoipa::path(post, path = "/v1/appointments/{appointment_id}/complete", tag = "scheduling", security(("session" = [])),
    params(("appointment_id" = Uuid, Path)), responses((status = 200, body = Appointment), (status = 409, body = platform::error::Problem)))]
pub async fn complete_appointment(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Appointment>> {
    close(&state, &staff, id, "completed", "complete").await
}

/// Marks a started appointment as a no-show.
#[utoipa::path(post, path = "/v1/appointments/{appointment_id}/no-show", tag = "scheduling", security(("session" = [])),
    params(("appointment_id" = Uuid, Path)), responses((status = 200, body = Appointment), (status = 409, body = platform::error::Problem)))]
pub async fn no_show_appointment(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Appointment>> {
    close(&state, &staff, id, "no_show", "mark as no-show").await
}
