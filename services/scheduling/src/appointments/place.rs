//! Where and when an appointment can go: the practitioner's calendar, working hours (or a
//! reason to book outside them) and a room.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use domain::practice::Permission;
use domain::schedule::Span;
use domain::{AppointmentId, PractitionerId, RoomId};
use platform::auth::Staff;
use platform::db::TenantTx;
use platform::{ApiError, ApiResult, AppState};

use super::store::Placement;
use crate::availability::{Calendar, TypeTiming, free_room, room_busy};

/// Checks a start for `practitioner` (id, and whether it is active) and picks a room.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site per flow; a struct would only rename them"
)]
pub(crate) async fn place(
    tx: &mut TenantTx,
    state: &AppState,
    staff: &Staff,
    tz: Tz,
    practitioner: (PractitionerId, bool),
    timing: &TypeTiming,
    starts_at: DateTime<Utc>,
    room: Option<RoomId>,
    outside_hours: bool,
    skip: Option<AppointmentId>,
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
