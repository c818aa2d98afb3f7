//! The appointment table: the row, its columns, and every write of it. Writes that place an
//! appointment in time go through [`guarded_write`], which applies the overlap rules; status
//! changes are single statements the change path calls after checking the rules.
//!
//! The exclusion constraints decide conflicts: two requests for one slot both insert, one
//! commits, the other gets [`ChangeError::Conflict`] naming the appointment it collides with. A
//! deliberate overlap (practitioner or admin, with a reason) is kept out of the constraints;
//! ordinary bookings take a shared advisory lock per practitioner and check those rows,
//! overlaps take it exclusively, so the two kinds cannot race past each other.

use chrono::{DateTime, Utc};
use domain::appointment::{AppointmentStatus, ChangedVia};
use domain::schedule::Span;
use domain::{AppointmentId, AppointmentTypeId, PatientId, PracticeId, PractitionerId, RoomId};
use platform::db::TenantTx;
use sqlx::postgres::types::PgRange;
use uuid::Uuid;

use super::error::ChangeError;

/// One appointment as stored.
#[derive(sqlx::FromRow)]
pub(crate) struct Row {
    pub(crate) appointment_id: AppointmentId,
    pub(crate) practitioner_id: PractitionerId,
    pub(crate) patient_id: Option<PatientId>,
    pub(crate) type_id: AppointmentTypeId,
    pub(crate) room_id: Option<RoomId>,
    pub(crate) starts_at: DateTime<Utc>,
    pub(crate) ends_at: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    pub(crate) status: AppointmentStatus,
    pub(crate) hold_expires_at: Option<DateTime<Utc>>,
    pub(crate) overlap_reason: Option<String>,
    pub(crate) outside_hours_reason: Option<String>,
    pub(crate) cancel_reason: Option<String>,
    pub(crate) confirmed_at: Option<DateTime<Utc>>,
    pub(crate) confirmed_via: Option<String>,
    pub(crate) version: i32,
}

/// The columns of [`Row`], in a `select` or `returning` list.
pub(crate) const COLUMNS: &str = "appointment_id, practitioner_id, patient_id, type_id, room_id, starts_at, ends_at, status, \
     hold_expires_at, overlap_reason, outside_hours_reason, cancel_reason, confirmed_at, confirmed_via, version";

/// Reads one appointment, locked for a change when `for_update`.
pub(crate) async fn load(
    tx: &mut TenantTx,
    id: AppointmentId,
    for_update: bool,
) -> Result<Row, ChangeError> {
    let lock = if for_update { " for update" } else { "" };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from scheduling.appointment where appointment_id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(ChangeError::NotFound)
}

/// The patient's next booked appointment, locked.
pub(crate) async fn next_booked(
    tx: &mut TenantTx,
    patient: PatientId,
) -> Result<Option<Row>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from scheduling.appointment
          where patient_id = $1 and status = $2 and starts_at > now()
          order by starts_at limit 1 for update"
    )))
    .bind(patient)
    .bind(AppointmentStatus::Booked.as_str())
    .fetch_optional(&mut **tx)
    .await
}

/// Where and when an appointment goes, checked against the practitioner's calendar.
pub(crate) struct Placement {
    pub(crate) practitioner: PractitionerId,
    pub(crate) appt: Span,
    pub(crate) blocked: Span,
    pub(crate) room: Option<RoomId>,
}

/// Boxed futures without pulling in the `futures` crate.
pub(crate) type BoxFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Runs `write` (an insert or update of one appointment) under the overlap rules; a collision
/// becomes [`ChangeError::Conflict`] naming the appointment it collides with. On a collision
/// the transaction is spent: the caller returns the error and it rolls back.
pub(crate) async fn guarded_write<F>(
    tx: &mut TenantTx,
    practice: PracticeId,
    p: &Placement,
    overlap: bool,
    skip: Option<AppointmentId>,
    write: F,
) -> Result<Row, ChangeError>
where
    F: for<'c> FnOnce(&'c mut sqlx::PgConnection) -> BoxFuture<'c, Result<Row, sqlx::Error>>,
{
    let range = PgRange::from(p.blocked.start..p.blocked.end);
    // Lock, deliberate-overlap check and lapsed holds in one round trip.
    let deliberate: Option<AppointmentId> =
        sqlx::query_scalar("select scheduling.prepare_write($1, $2, $3, $4, $5)")
            .bind(p.practitioner)
            .bind(range)
            .bind(p.room)
            .bind(skip)
            .bind(overlap)
            .fetch_one(&mut **tx)
            .await?;
    if let Some(id) = deliberate {
        return Err(ChangeError::Conflict(Some(id)));
    }
    let e = match write(tx).await {
        Ok(row) => return Ok(row),
        Err(e) => e,
    };
    // Two overlapping inserts in flight can each wait for the other inside the exclusion
    // check; PostgreSQL then aborts one of them as a deadlock. For that one it is a collision
    // like any other.
    let deadlock = e
        .as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "40P01");
    let collided = deadlock
        || matches!(
            platform::db::violated_constraint(&e),
            Some("appointment_no_overlap") | Some("appointment_room_no_overlap")
        );
    if collided {
        // The winner has committed (the constraint waited for it). Look it up on this same
        // connection: roll the spent transaction back and open a fresh tenant one in its
        // place (the caller drops it). Taking a second pooled connection here would let
        // concurrent losers starve the pool.
        sqlx::query("rollback").execute(&mut **tx).await?;
        sqlx::query("begin").execute(&mut **tx).await?;
        platform::db::set_tenant(tx, practice).await?;
        // The statuses are spelled out (not bound) so that the planner can use the partial
        // exclusion index, whose predicate names them (`AppointmentStatus::occupies_slot`; the
        // vocabulary test keeps the two in step).
        let other: Option<AppointmentId> = sqlx::query_scalar(
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
        return Err(ChangeError::Conflict(other));
    }
    Err(write_error(e))
}

/// A failed write of the row: an unknown patient is the caller's mistake, the rest the database's.
fn write_error(e: sqlx::Error) -> ChangeError {
    match platform::db::violated_constraint(&e) {
        Some("appointment_patient_fkey") => ChangeError::PatientNotFound,
        _ => e.into(),
    }
}

/// A new appointment row: one statement for bookings, holds (`held_minutes`), series
/// occurrences and waitlist bookings.
pub(crate) struct NewRow {
    pub(crate) practice: PracticeId,
    pub(crate) patient: Option<PatientId>,
    pub(crate) type_id: AppointmentTypeId,
    /// A hold lasting this many minutes; a booking when absent.
    pub(crate) held_minutes: Option<i32>,
    pub(crate) series: Option<Uuid>,
    pub(crate) overlap_reason: Option<String>,
    pub(crate) outside_hours_reason: Option<String>,
    pub(crate) created_by: Uuid,
}

impl NewRow {
    /// Inserts it at `p` under the overlap rules.
    pub(crate) async fn insert(self, tx: &mut TenantTx, p: &Placement) -> Result<Row, ChangeError> {
        let overlap = self.overlap_reason.is_some();
        let practice = self.practice;
        let status = if self.held_minutes.is_some() {
            AppointmentStatus::Held
        } else {
            AppointmentStatus::Booked
        };
        let (appt, blocked, room, practitioner) = (p.appt, p.blocked, p.room, p.practitioner);
        guarded_write(tx, practice, p, overlap, None, move |c| {
            Box::pin(async move {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    r#"insert into scheduling.appointment (practice_id, appointment_id, practitioner_id, patient_id, type_id, room_id,
                           starts_at, ends_at, blocked, status, hold_expires_at, series_id, overlap_reason, outside_hours_reason, created_by)
                       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                               case when $11::int is null then null else now() + make_interval(mins => $11::int) end,
                               $12, $13, $14, $15)
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
                .bind(status.as_str())
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

/// Moves `id` to `p` under the overlap rules.
pub(crate) async fn move_to(
    tx: &mut TenantTx,
    practice: PracticeId,
    current: &Row,
    p: &Placement,
    outside_hours_reason: Option<String>,
) -> Result<Row, ChangeError> {
    let id = current.appointment_id;
    let (appt, blocked, room, practitioner) = (p.appt, p.blocked, p.room, p.practitioner);
    let overlap = current.overlap_reason.is_some();
    guarded_write(tx, practice, p, overlap, Some(id), move |c| {
        Box::pin(async move {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                r#"update scheduling.appointment
                      set practitioner_id = $2, room_id = coalesce($3, room_id), starts_at = $4, ends_at = $5, blocked = $6,
                          outside_hours_reason = $7, version = version + 1
                    where appointment_id = $1 returning {COLUMNS}"#
            )))
            .bind(id)
            .bind(practitioner)
            .bind(room)
            .bind(appt.start)
            .bind(appt.end)
            .bind(PgRange::from(blocked.start..blocked.end))
            .bind(outside_hours_reason)
            .fetch_one(c)
            .await
        })
    })
    .await
}

/// A held slot becomes `patient`'s booking.
pub(crate) async fn set_booked(
    tx: &mut TenantTx,
    id: AppointmentId,
    patient: PatientId,
) -> Result<Row, ChangeError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update scheduling.appointment set status = $3, patient_id = $2, hold_expires_at = null, version = version + 1
          where appointment_id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(patient)
    .bind(AppointmentStatus::Booked.as_str())
    .fetch_one(&mut **tx)
    .await
    .map_err(write_error)
}

/// Cancelled, by a staff member or by the patient's reply.
pub(crate) async fn set_cancelled(
    tx: &mut TenantTx,
    id: AppointmentId,
    staff: Option<Uuid>,
    via: ChangedVia,
    reason: &str,
) -> Result<Row, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        r#"update scheduling.appointment
              set status = $5, cancelled_at = now(), cancelled_by = $2, cancel_reason = $3,
                  cancelled_via = $4, hold_expires_at = null, version = version + 1
            where appointment_id = $1 returning {COLUMNS}"#
    )))
    .bind(id)
    .bind(staff)
    .bind(reason)
    .bind(via.as_str())
    .bind(AppointmentStatus::Cancelled.as_str())
    .fetch_one(&mut **tx)
    .await
}

/// Completed or no-show.
pub(crate) async fn set_closed(
    tx: &mut TenantTx,
    id: AppointmentId,
    to: AppointmentStatus,
) -> Result<Row, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update scheduling.appointment set status = $2, version = version + 1 where appointment_id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(to.as_str())
    .fetch_one(&mut **tx)
    .await
}

/// Confirmed by the patient (the version is not raised: nothing the reminders depend on moved).
pub(crate) async fn set_confirmed(
    tx: &mut TenantTx,
    id: AppointmentId,
    via: ChangedVia,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update scheduling.appointment set confirmed_at = now(), confirmed_via = $2 where appointment_id = $1",
    )
    .bind(id)
    .bind(via.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
