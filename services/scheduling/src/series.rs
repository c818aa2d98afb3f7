//! Recurring series (e.g. nine weekly physiotherapy sessions). Occurrences are ordinary
//! appointments, computed on the local wall clock; every occurrence is checked before anything
//! is written, and any problem is reported per occurrence with nothing written. One occurrence
//! changes through the appointment routes; "this and following" moves or cancels the rest.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use chrono_tz::Tz;
use domain::practice::Permission;
use domain::schedule::{Span, series_starts};
use domain::{AppointmentId, AppointmentTypeId, PatientId, PractitionerId, RoomId};
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::db::TenantTx;
use platform::json::{ApiJson, ApiPath};
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::appointments::store::{COLUMNS, NewRow, Placement, Row};
use crate::appointments::{Appointment, CancelledBy, change};
use crate::availability::{Calendar, TypeTiming, free_room, room_busy, type_timing};
use crate::zone::{local, practice_zone};
use domain::bounded::Int;
use domain::text::Line;
use platform::ApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(create_series))
        .routes(routes!(reschedule_following))
        .routes(routes!(cancel_following))
}

/// A new series.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"patient_id": "0193a0c2-6f1e-7c4b-9a51-2d6f0e8b1a01", "practitioner_id": "0193a0c2-6f1e-7c4b-9a51-2d6f0e8b1a02", "appointment_type_id": "0193a0c2-6f1e-7c4b-9a51-2d6f0e8b1a03", "first_starts_at": "2027-03-15T09:00:00+01:00", "occurrences": 9, "interval_weeks": 1}))]
pub struct NewSeries {
    /// The patient.
    pub patient_id: PatientId,
    /// The practitioner.
    pub practitioner_id: PractitionerId,
    /// The appointment type.
    pub appointment_type_id: AppointmentTypeId,
    /// The first occurrence, RFC 3339 with offset; the others keep its local time.
    pub first_starts_at: DateTime<FixedOffset>,
    /// How many occurrences, 2 to 60.
    pub occurrences: Int<2, 60>,
    /// Weeks between occurrences, 1 to 8 (default 1).
    #[serde(default)]
    pub interval_weeks: Option<Int<1, 8>>,
    /// A room for every occurrence; chosen per occurrence when the type needs one.
    #[serde(default)]
    pub room_id: Option<RoomId>,
    /// Check only: report every occurrence, write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// One occurrence as checked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OccurrenceCheck {
    /// Position in the series, from 0.
    pub index: usize,
    /// The instant; absent when the local time does not exist that day (spring gap).
    pub starts_at: Option<DateTime<FixedOffset>>,
    /// The local wall-clock time asked for.
    pub local_time: String,
    /// What is wrong: `in_the_past`, `nonexistent_local_time`, `outside_working_hours`,
    /// `conflict`, `no_room_free`; absent when the occurrence can be booked.
    pub problem: Option<String>,
    /// The appointment it collides with.
    pub conflicting_appointment_id: Option<AppointmentId>,
}

/// A created series.
#[derive(Debug, Serialize, ToSchema)]
pub struct Series {
    /// The series (absent on a dry run).
    pub series_id: Option<Uuid>,
    /// Every occurrence as checked.
    pub occurrences: Vec<OccurrenceCheck>,
    /// The booked appointments.
    pub appointments: Vec<Appointment>,
}

struct Planned {
    check: OccurrenceCheck,
    placement: Option<Placement>,
}

/// Checks every target instant against one calendar loaded for the whole series.
async fn plan(
    tx: &mut TenantTx,
    tz: Tz,
    practitioner: PractitionerId,
    timing: &TypeTiming,
    room: Option<RoomId>,
    targets: &[(String, Option<DateTime<Utc>>)],
    skip: &[AppointmentId],
) -> ApiResult<Vec<Planned>> {
    let known: Vec<DateTime<Utc>> = targets.iter().filter_map(|(_, t)| *t).collect();
    let (Some(first), Some(last)) = (known.iter().min(), known.iter().max()) else {
        return Ok(targets
            .iter()
            .enumerate()
            .map(|(index, (lt, _))| Planned {
                check: OccurrenceCheck {
                    index,
                    starts_at: None,
                    local_time: lt.clone(),
                    problem: Some("nonexistent_local_time".into()),
                    conflicting_appointment_id: None,
                },
                placement: None,
            })
            .collect());
    };
    let window = Span {
        start: *first - Duration::days(1),
        end: *last + Duration::days(1),
    };
    let cal = Calendar::load(tx, tz, &[practitioner], window, skip, true).await?;
    let rooms = if timing.needs_room || room.is_some() {
        room_busy(tx, window, skip).await?
    } else {
        vec![]
    };
    let now = Utc::now();
    Ok(targets
        .iter()
        .enumerate()
        .map(|(index, (local_time, at))| {
            let mut check = OccurrenceCheck {
                index,
                starts_at: at.map(|t| local(tz, t)),
                local_time: local_time.clone(),
                problem: None,
                conflicting_appointment_id: None,
            };
            let Some(start) = *at else {
                check.problem = Some("nonexistent_local_time".into());
                return Planned {
                    check,
                    placement: None,
                };
            };
            let appt = Span {
                start,
                end: start + timing.duration(),
            };
            let blocked = timing.blocked(appt);
            let chosen_room = match room {
                Some(r) => rooms.iter().find(|(id, _)| *id == r).and_then(|(_, busy)| {
                    (!busy.iter().any(|b| b.overlaps(&blocked))).then_some(r)
                }),
                None if timing.needs_room => free_room(&rooms, &blocked),
                None => None,
            };
            let problem = if start < now {
                Some(("in_the_past", None))
            } else if !cal.workable(practitioner, &appt) {
                Some(("outside_working_hours", None))
            } else if let Some(other) = cal.busy_at(practitioner, &blocked) {
                Some(("conflict", Some(other)))
            } else if (timing.needs_room || room.is_some()) && chosen_room.is_none() {
                Some(("no_room_free", None))
            } else {
                None
            };
            if let Some((p, other)) = problem {
                check.problem = Some(p.into());
                check.conflicting_appointment_id = other;
                return Planned {
                    check,
                    placement: None,
                };
            }
            Planned {
                check,
                placement: Some(Placement {
                    practitioner,
                    appt,
                    blocked,
                    room: chosen_room,
                }),
            }
        })
        .collect())
}

fn refuse(planned: &[Planned]) -> ApiError {
    let checks: Vec<&OccurrenceCheck> = planned.iter().map(|p| &p.check).collect();
    let bad = checks.iter().filter(|c| c.problem.is_some()).count();
    ApiError::conflict(
        "series_conflicts",
        format!(
            "{bad} of {} occurrences cannot be booked; nothing was written",
            checks.len()
        ),
    )
    .with_field("occurrences")
    .with_extension(
        "occurrences",
        serde_json::to_value(&checks).unwrap_or_default(),
    )
}

/// Books a series: every occurrence or none.
#[utoipa::path(post, path = "/v1/appointment-series", tag = "scheduling", security(("session" = [])), request_body = NewSeries,
    responses((status = 201, body = Series), (status = 200, description = "dry run", body = Series),
              (status = 409, description = "`occurrences` lists each occurrence and its problem", body = platform::error::Problem),
              (status = 422, body = platform::error::Problem)))]
pub async fn create_series(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(b): ApiJson<NewSeries>,
) -> ApiResult<(StatusCode, Json<Series>)> {
    staff.require(&state, Permission::ScheduleWrite).await?;
    let interval = b.interval_weeks.map_or(1, Int::get_i32);
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let timing = type_timing(&mut tx, b.appointment_type_id, "appointment_type_id").await?;
    let active: Option<bool> =
        sqlx::query_scalar("select active from scheduling.practitioner where practitioner_id = $1")
            .bind(b.practitioner_id)
            .fetch_optional(&mut *tx)
            .await?;
    if active != Some(true) {
        return Err(ApiError::not_found(
            "practitioner_not_found",
            "practitioner_id",
        ));
    }
    if !platform::patients::exists(&mut tx, b.patient_id).await? {
        return Err(ApiError::not_found("patient_not_found", "patient_id"));
    }
    let first = b.first_starts_at.to_utc();
    let first_local = first.with_timezone(&tz).naive_local();
    let targets: Vec<(String, Option<DateTime<Utc>>)> =
        series_starts(tz, first, b.occurrences.get() as u32, interval as u32)
            .into_iter()
            .enumerate()
            .map(|(k, t)| {
                let lt = first_local + Duration::weeks(k as i64 * i64::from(interval));
                (lt.format("%Y-%m-%dT%H:%M").to_string(), t)
            })
            .collect();
    let planned = plan(
        &mut tx,
        tz,
        b.practitioner_id,
        &timing,
        b.room_id,
        &targets,
        &[],
    )
    .await?;
    if b.dry_run {
        return Ok((
            StatusCode::OK,
            Json(Series {
                series_id: None,
                occurrences: planned.into_iter().map(|p| p.check).collect(),
                appointments: vec![],
            }),
        ));
    }
    if planned.iter().any(|p| p.check.problem.is_some()) {
        return Err(refuse(&planned));
    }
    let series_id = Uuid::now_v7();
    sqlx::query(
        r#"insert into scheduling.appointment_series (practice_id, series_id, patient_id, practitioner_id, type_id, interval_weeks, occurrences, created_by)
           values ($1, $2, $3, $4, $5, $6, $7, $8)"#,
    )
    .bind(staff.practice().as_uuid())
    .bind(series_id)
    .bind(b.patient_id)
    .bind(b.practitioner_id)
    .bind(b.appointment_type_id)
    .bind(interval)
    .bind(b.occurrences.get_i32())
    .bind(staff.staff_id().as_uuid())
    .execute(&mut *tx)
    .await?;
    let mut appointments = Vec::new();
    for p in &planned {
        let place = p.placement.as_ref().expect("checked above");
        let row = NewRow {
            practice: staff.practice(),
            patient: Some(b.patient_id),
            type_id: b.appointment_type_id,
            held_minutes: None,
            series: Some(series_id),
            overlap_reason: None,
            outside_hours_reason: None,
            created_by: staff.staff_id().as_uuid(),
        }
        .insert(&mut tx, place)
        .await?;
        crate::events::changed(&mut tx, staff.practice(), &row).await?;
        appointments.push(row.view(tz));
    }
    let mut ev = staff.audit(
        "sensitive_create",
        Action::Create,
        Some(b.patient_id),
        "success",
    );
    ev.reason = Some("series_booked");
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Series {
            series_id: Some(series_id),
            occurrences: planned.into_iter().map(|p| p.check).collect(),
            appointments,
        }),
    ))
}

/// The occurrences of a series from one of them on, still booked, in time order.
async fn following(tx: &mut TenantTx, series: Uuid, from: AppointmentId) -> ApiResult<Vec<Row>> {
    let exists: bool = sqlx::query_scalar(
        "select exists (select 1 from scheduling.appointment_series where series_id = $1)",
    )
    .bind(series)
    .fetch_one(&mut **tx)
    .await?;
    if !exists {
        return Err(ApiError::not_found("series_not_found", "series_id"));
    }
    let start: Option<DateTime<Utc>> = sqlx::query_scalar(
        "select starts_at from scheduling.appointment where appointment_id = $1 and series_id = $2",
    )
    .bind(from)
    .bind(series)
    .fetch_optional(&mut **tx)
    .await?;
    let start = start.ok_or_else(|| {
        ApiError::invalid_field("from_appointment_id", "not an occurrence of this series")
    })?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from scheduling.appointment
          where series_id = $1 and starts_at >= $2 and status = 'booked' order by starts_at for update"
    )))
    .bind(series)
    .bind(start)
    .fetch_all(&mut **tx)
    .await?)
}

/// Cancelling this and the following occurrences.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelFollowing {
    /// The first occurrence to cancel.
    pub from_appointment_id: AppointmentId,
    /// Reason.
    pub reason: Line<500>,
}

/// Cancels an occurrence and every later one of the series.
#[utoipa::path(post, path = "/v1/appointment-series/{series_id}/cancel", tag = "scheduling", security(("session" = [])),
    params(("series_id" = Uuid, Path)), request_body = CancelFollowing,
    responses((status = 200, body = [Appointment]), (status = 404, body = platform::error::Problem), (status = 422, body = platform::error::Problem)))]
pub async fn cancel_following(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(series): ApiPath<Uuid>,
    ApiJson(b): ApiJson<CancelFollowing>,
) -> ApiResult<Json<Vec<Appointment>>> {
    staff.require(&state, Permission::ScheduleWrite).await?;
    let why = b.reason.as_str();
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    // Each occurrence goes the way a single cancel goes: its slot is offered to the waitlist.
    let mut rows = Vec::new();
    for current in following(&mut tx, series, b.from_appointment_id).await? {
        let by = CancelledBy::Staff(staff.staff_id().as_uuid());
        rows.push(change::cancel(&mut tx, staff.practice(), &current, by, why).await?);
    }
    if let Some(p) = rows.first().and_then(|r| r.patient_id) {
        let mut ev = staff.audit("sensitive_update", Action::Update, Some(p), "success");
        ev.reason = Some("series_cancelled");
        audit::record(&mut tx, staff.practice(), &ev).await?;
    }
    tx.commit().await?;
    let mut out: Vec<Appointment> = rows.into_iter().map(|r| r.view(tz)).collect();
    out.sort_by_key(|a| a.starts_at);
    Ok(Json(out))
}

/// Moving this and the following occurrences.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleFollowing {
    /// The first occurrence to move.
    pub from_appointment_id: AppointmentId,
    /// Its new start; later occurrences move by the same wall-clock shift.
    pub starts_at: DateTime<FixedOffset>,
}

/// Moves an occurrence and every later one by the same wall-clock shift; all or nothing.
#[utoipa::path(post, path = "/v1/appointment-series/{series_id}/reschedule", tag = "scheduling", security(("session" = [])),
    params(("series_id" = Uuid, Path)), request_body = RescheduleFollowing,
    responses((status = 200, body = [Appointment]), (status = 404, body = platform::error::Problem),
              (status = 409, body = platform::error::Problem), (status = 422, body = platform::error::Problem)))]
pub async fn reschedule_following(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(series): ApiPath<Uuid>,
    ApiJson(b): ApiJson<RescheduleFollowing>,
) -> ApiResult<Json<Vec<Appointment>>> {
    staff.require(&state, Permission::ScheduleWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let rows = following(&mut tx, series, b.from_appointment_id).await?;
    let Some(head) = rows.first() else {
        return Ok(Json(vec![]));
    };
    let (type_id, practitioner): (AppointmentTypeId, PractitionerId) = sqlx::query_as(
        "select type_id, practitioner_id from scheduling.appointment_series where series_id = $1",
    )
    .bind(series)
    .fetch_one(&mut *tx)
    .await?;
    let timing = type_timing(&mut tx, type_id, "appointment_type_id").await?;
    let shift = b.starts_at.to_utc().with_timezone(&tz).naive_local()
        - head.starts_at.with_timezone(&tz).naive_local();
    let targets: Vec<(String, Option<DateTime<Utc>>)> = rows
        .iter()
        .map(|r| {
            let lt = r.starts_at.with_timezone(&tz).naive_local() + shift;
            (
                lt.format("%Y-%m-%dT%H:%M").to_string(),
                tz.from_local_datetime(&lt)
                    .earliest()
                    .map(|t| t.with_timezone(&Utc)),
            )
        })
        .collect();
    let ids: Vec<AppointmentId> = rows.iter().map(|r| r.appointment_id).collect();
    let planned = plan(&mut tx, tz, practitioner, &timing, None, &targets, &ids).await?;
    if planned.iter().any(|p| p.check.problem.is_some()) {
        return Err(refuse(&planned));
    }
    // Move in the direction of the shift, so no occurrence lands on one not yet moved.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    if shift > Duration::zero() {
        order.reverse();
    }
    let mut out = Vec::new();
    for i in order {
        let place = planned[i].placement.as_ref().expect("checked above");
        // Each occurrence moves the way a single reschedule moves: the time it leaves is
        // offered to the waitlist.
        let current = &rows[i];
        let keep = current.outside_hours_reason.clone();
        let row = change::reschedule(&mut tx, staff.practice(), current, place, keep).await?;
        out.push(row.view(tz));
    }
    if let Some(p) = rows.first().and_then(|r| r.patient_id) {
        let mut ev = staff.audit("sensitive_update", Action::Update, Some(p), "success");
        ev.reason = Some("series_rescheduled");
        audit::record(&mut tx, staff.practice(), &ev).await?;
    }
    tx.commit().await?;
    out.sort_by_key(|a| a.starts_at);
    Ok(Json(out))
}
