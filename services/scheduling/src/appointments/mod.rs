//! Appointments over HTTP: book, hold and confirm, read, reschedule, cancel, complete,
//! no-show. Handlers only: each checks the permission, opens the tenant transaction, calls the
//! change path ([`change`]), writes its audit row and commits.
//!
//! Allowed transitions are `domain::appointment`'s; every change raises `version`.

pub(crate) mod change;
mod error;
mod place;
mod rules;
pub(crate) mod store;

pub(crate) use change::CancelledBy;
pub(crate) use error::ChangeError;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, FixedOffset};
use chrono_tz::Tz;
use domain::appointment::{AppointmentStatus, ChangedVia, Transition};
use domain::practice::Permission;
use domain::text::Line;
use domain::{AppointmentId, AppointmentTypeId, PatientId, PractitionerId, RoomId};
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::db::TenantTx;
use platform::idempotency::{Answer, Idempotent};
use platform::json::{ApiJson, ApiPath};
use platform::{ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::availability::context;
use crate::zone::{local, practice_zone};
use place::place;
use platform::ApiRouter;
use store::{NewRow, Row};
use utoipa_axum::routes;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(book_appointment))
        .routes(routes!(hold_slot))
        .routes(routes!(get_appointment))
        .routes(routes!(confirm_hold))
        .routes(routes!(reschedule_appointment))
        .routes(routes!(cancel_appointment))
        .routes(routes!(complete_appointment))
        .routes(routes!(no_show_appointment))
}

/// A booking.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"patient_id": "0193a0c2-6f1e-7c4b-9a51-2d6f0e8b1a01", "practitioner_id": "0193a0c2-6f1e-7c4b-9a51-2d6f0e8b1a02", "appointment_type_id": "0193a0c2-6f1e-7c4b-9a51-2d6f0e8b1a03", "starts_at": "2027-03-15T09:00:00+01:00"}))]
pub struct NewAppointment {
    /// The patient.
    pub patient_id: PatientId,
    /// The practitioner.
    pub practitioner_id: PractitionerId,
    /// The appointment type (decides length, buffers, room need).
    pub appointment_type_id: AppointmentTypeId,
    /// Start, RFC 3339 with offset (e.g. `2026-12-01T09:00:00+01:00`).
    pub starts_at: DateTime<FixedOffset>,
    /// A room; one is chosen when the type needs a room and none is given.
    #[serde(default)]
    pub room_id: Option<RoomId>,
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
#[schema(example = json!({"practitioner_id": "0193a0c2-6f1e-7c4b-9a51-2d6f0e8b1a02", "appointment_type_id": "0193a0c2-6f1e-7c4b-9a51-2d6f0e8b1a03", "starts_at": "2027-03-15T10:00:00+01:00"}))]
pub struct NewHold {
    /// The practitioner.
    pub practitioner_id: PractitionerId,
    /// The appointment type.
    pub appointment_type_id: AppointmentTypeId,
    /// Start, RFC 3339 with offset.
    pub starts_at: DateTime<FixedOffset>,
    /// A room.
    #[serde(default)]
    pub room_id: Option<RoomId>,
}

/// An appointment.
#[derive(Debug, Serialize, ToSchema)]
pub struct Appointment {
    /// Id.
    pub appointment_id: AppointmentId,
    /// Practitioner.
    pub practitioner_id: PractitionerId,
    /// Patient (absent on a hold).
    pub patient_id: Option<PatientId>,
    /// Type.
    pub appointment_type_id: AppointmentTypeId,
    /// Room.
    pub room_id: Option<RoomId>,
    /// Start, with the practice's offset.
    pub starts_at: DateTime<FixedOffset>,
    /// End.
    pub ends_at: DateTime<FixedOffset>,
    /// Where it stands.
    pub status: AppointmentStatus,
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
    /// How it was confirmed.
    pub confirmed_via: Option<ChangedVia>,
    /// Raised by every change.
    pub version: i32,
}

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
            confirmed_via: self.confirmed_via.and_then(|v| v.parse().ok()),
            version: self.version,
        }
    }
}

pub(crate) async fn record(
    tx: &mut TenantTx,
    staff: &Staff,
    event: &'static str,
    action: Action,
    patient: Option<PatientId>,
    why: &'static str,
) -> ApiResult<()> {
    let mut ev = staff.audit(event, action, patient, "success");
    ev.reason = Some(why);
    audit::record(tx, staff.practice(), &ev).await?;
    Ok(())
}

/// Books an appointment.
#[utoipa::path(post, path = "/v1/appointments", tag = "scheduling", security(("session" = [])), request_body = NewAppointment,
    params(("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = "^[!-~]{1,255}$", description = "A retry with the same key and request gets the first answer (`Idempotent-Replayed: true`) without booking again; kept 24 hours")),
    responses((status = 201, body = Appointment), (status = 409, description = "Conflict; `conflicting_appointment_id` names the other appointment", body = platform::error::Problem),
              (status = 422, body = platform::error::Problem)))]
pub async fn book_appointment(
    State(state): State<AppState>,
    staff: Staff,
    Idempotent(idem, b): Idempotent<NewAppointment>,
) -> ApiResult<Answer> {
    staff.require(&state, Permission::ScheduleWrite).await?;
    let overlap_reason = b.overlap_reason.map(String::from);
    let outside_hours_reason = b.outside_hours_reason.map(String::from);
    if overlap_reason.is_some() {
        staff.require(&state, Permission::OverlapOverride).await?;
    }
    let mut tx = state.db().tenant(staff.practice()).await?;
    if let Some(replay) = idem.claim(&mut tx, &staff).await? {
        tx.commit().await?;
        return Ok(replay);
    }
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
    crate::events::changed(&mut tx, staff.practice(), &row).await?;
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
    let answer = idem
        .answer(&mut tx, &staff, StatusCode::CREATED, &row.view(tz))
        .await?;
    tx.commit().await?;
    Ok(answer)
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
    pub patient_id: PatientId,
}

/// Turns a hold that has not lapsed into a booking.
#[utoipa::path(post, path = "/v1/appointments/{appointment_id}/confirm", tag = "scheduling", security(("session" = [])),
    params(("appointment_id" = Uuid, Path)), request_body = ConfirmHold,
    responses((status = 200, body = Appointment), (status = 404, body = platform::error::Problem), (status = 409, body = platform::error::Problem)))]
pub async fn confirm_hold(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<AppointmentId>,
    ApiJson(b): ApiJson<ConfirmHold>,
) -> ApiResult<Json<Appointment>> {
    staff.require(&state, Permission::ScheduleWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let current = store::load(&mut tx, id, true).await?;
    let row = change::confirm(&mut tx, staff.practice(), &current, b.patient_id).await?;
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
    ApiPath(id): ApiPath<AppointmentId>,
) -> ApiResult<Json<Appointment>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let row = store::load(&mut tx, id, false).await?;
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
#[schema(example = json!({"starts_at": "2027-03-15T11:00:00+01:00"}))]
pub struct Reschedule {
    /// New start, RFC 3339 with offset.
    pub starts_at: DateTime<FixedOffset>,
    /// Another practitioner.
    #[serde(default)]
    pub practitioner_id: Option<PractitionerId>,
    /// Another room.
    #[serde(default)]
    pub room_id: Option<RoomId>,
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
    ApiPath(id): ApiPath<AppointmentId>,
    ApiJson(b): ApiJson<Reschedule>,
) -> ApiResult<Json<Appointment>> {
    staff.require(&state, Permission::ScheduleWrite).await?;
    let outside_hours_reason = b.outside_hours_reason.map(String::from);
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let current = store::load(&mut tx, id, true).await?;
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
    let row = change::reschedule(
        &mut tx,
        staff.practice(),
        &current,
        &p,
        outside_hours_reason,
    )
    .await?;
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

/// Why an appointment is cancelled.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Patient called: ill"}))]
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
    ApiPath(id): ApiPath<AppointmentId>,
    ApiJson(b): ApiJson<Cancel>,
) -> ApiResult<Json<Appointment>> {
    staff.require(&state, Permission::ScheduleWrite).await?;
    let why = b.reason.as_str();
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let current = store::load(&mut tx, id, true).await?;
    let by = CancelledBy::Staff(staff.staff_id().as_uuid());
    let row = change::cancel(&mut tx, staff.practice(), &current, by, why).await?;
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
    id: AppointmentId,
    transition: Transition,
) -> ApiResult<Json<Appointment>> {
    staff.require(state, Permission::ScheduleWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let current = store::load(&mut tx, id, true).await?;
    let row = change::close(&mut tx, staff.practice(), &current, transition).await?;
    let why = match row.status {
        AppointmentStatus::Completed => "appointment_completed",
        _ => "appointment_no_show",
    };
    record(
        &mut tx,
        staff,
        "sensitive_update",
        Action::Update,
        row.patient_id,
        why,
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
    ApiPath(id): ApiPath<AppointmentId>,
) -> ApiResult<Json<Appointment>> {
    close(&state, &staff, id, Transition::Complete).await
}

/// Marks a started appointment as a no-show.
#[utoipa::path(post, path = "/v1/appointments/{appointment_id}/no-show", tag = "scheduling", security(("session" = [])),
    params(("appointment_id" = Uuid, Path)), responses((status = 200, body = Appointment), (status = 409, body = platform::error::Problem)))]
pub async fn no_show_appointment(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<AppointmentId>,
) -> ApiResult<Json<Appointment>> {
    close(&state, &staff, id, Transition::NoShow).await
}
