//! Free slots: working hours (weekly, local) plus extra hours, minus absences, closures and
//! existing appointments with their buffers, on the practice's wall-clock grid, within the
//! minimum notice and the horizon, with a free room when the type needs one.

use domain::{AppointmentId, AppointmentTypeId, PractitionerId, RoomId};
use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use domain::practice::Permission;
use domain::schedule::{Span, boundary, candidate_starts, local_date};
use platform::auth::Staff;
use platform::db::TenantTx;
use platform::json::ApiQuery;
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use sqlx::postgres::types::PgRange;
use utoipa::ToSchema;

use crate::zone::local;
use platform::ApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(search_availability))
}

/// Longest search range, in days.
pub const MAX_DAYS: i64 = 62;

/// Practice scheduling settings (defaults when never set).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) slot_step_minutes: i32,
    pub(crate) min_notice_minutes: i32,
    pub(crate) horizon_days: i32,
}

/// An appointment type's timing.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub(crate) struct TypeTiming {
    pub(crate) duration_minutes: i32,
    pub(crate) buffer_before_minutes: i32,
    pub(crate) buffer_after_minutes: i32,
    pub(crate) needs_room: bool,
}

impl TypeTiming {
    pub(crate) fn duration(&self) -> Duration {
        Duration::minutes(self.duration_minutes.into())
    }

    /// The appointment plus its buffers.
    pub(crate) fn blocked(&self, appt: Span) -> Span {
        Span {
            start: appt.start - Duration::minutes(self.buffer_before_minutes.into()),
            end: appt.end + Duration::minutes(self.buffer_after_minutes.into()),
        }
    }
}

/// Everything a search or a booking reads before the calendar, in one round trip.
pub(crate) struct Context {
    pub(crate) tz: Tz,
    pub(crate) timing: TypeTiming,
    pub(crate) settings: Settings,
    pub(crate) hold_minutes: i32,
    /// Active practitioners, by name.
    pub(crate) practitioners: Vec<PractitionerId>,
}

#[derive(sqlx::FromRow)]
struct ContextRow {
    time_zone: String,
    duration_minutes: Option<i32>,
    buffer_before_minutes: Option<i32>,
    buffer_after_minutes: Option<i32>,
    needs_room: Option<bool>,
    slot_step_minutes: i32,
    min_notice_minutes: i32,
    horizon_days: i32,
    hold_minutes: i32,
    practitioners: Vec<PractitionerId>,
}

/// Loads the practice's zone and settings, the active practitioners and the type's timing;
/// an unknown or inactive type is a 422 naming `appointment_type_id`.
pub(crate) async fn context(tx: &mut TenantTx, type_id: AppointmentTypeId) -> ApiResult<Context> {
    let c: ContextRow = sqlx::query_as(
        r#"select p.time_zone, t.duration_minutes, t.buffer_before_minutes, t.buffer_after_minutes, t.needs_room,
                  coalesce(s.slot_step_minutes, 15) as slot_step_minutes, coalesce(s.min_notice_minutes, 0) as min_notice_minutes,
                  coalesce(s.horizon_days, 365) as horizon_days, coalesce(s.hold_minutes, 5) as hold_minutes,
                  array(select pr.practitioner_id from scheduling.practitioner pr where pr.active order by pr.display_name) as practitioners
             from core.practice p
             left join scheduling.appointment_type t on t.practice_id = p.practice_id and t.type_id = $1 and t.active
             left join scheduling.settings s on s.practice_id = p.practice_id"#,
    )
    .bind(type_id)
    .fetch_one(&mut **tx)
    .await?;
    let tz: Tz = c
        .time_zone
        .parse()
        .map_err(|_| ApiError::internal(anyhow::anyhow!("invalid time zone in database")))?;
    let timing = match (
        c.duration_minutes,
        c.buffer_before_minutes,
        c.buffer_after_minutes,
        c.needs_room,
    ) {
        (
            Some(duration_minutes),
            Some(buffer_before_minutes),
            Some(buffer_after_minutes),
            Some(needs_room),
        ) => TypeTiming {
            duration_minutes,
            buffer_before_minutes,
            buffer_after_minutes,
            needs_room,
        },
        _ => {
            return Err(ApiError::not_found(
                "appointment_type_not_found",
                "appointment_type_id",
            ));
        }
    };
    Ok(Context {
        tz,
        timing,
        settings: Settings {
            slot_step_minutes: c.slot_step_minutes,
            min_notice_minutes: c.min_notice_minutes,
            horizon_days: c.horizon_days,
        },
        hold_minutes: c.hold_minutes,
        practitioners: c.practitioners,
    })
}

/// Loads an active appointment type, or a 422 naming `field`.
pub(crate) async fn type_timing(
    tx: &mut TenantTx,
    id: AppointmentTypeId,
    field: &'static str,
) -> ApiResult<TypeTiming> {
    let t: Option<TypeTiming> = sqlx::query_as(
        "select duration_minutes, buffer_before_minutes, buffer_after_minutes, needs_room
           from scheduling.appointment_type where type_id = $1 and active",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    t.ok_or_else(|| ApiError::not_found("appointment_type_not_found", field))
}

/// The bounds of a stored range (unbounded ends become the extremes).
pub(crate) fn range_bounds(r: &PgRange<DateTime<Utc>>) -> (DateTime<Utc>, DateTime<Utc>) {
    use std::ops::Bound::*;
    let s = match r.start {
        Included(t) | Excluded(t) => t,
        Unbounded => DateTime::<Utc>::MIN_UTC,
    };
    let e = match r.end {
        Included(t) | Excluded(t) => t,
        Unbounded => DateTime::<Utc>::MAX_UTC,
    };
    (s, e)
}

fn span_of(r: &PgRange<DateTime<Utc>>) -> Option<Span> {
    let (s, e) = range_bounds(r);
    Span::new(s, e)
}

/// The longest time an appointment can block: 8 hours plus two 2-hour buffers.
const MAX_BLOCK: Duration = Duration::hours(12);

#[derive(sqlx::FromRow)]
struct CalendarRow {
    kind: String,
    practitioner_id: Option<PractitionerId>,
    weekday: Option<i16>,
    starts_local: Option<NaiveTime>,
    ends_local: Option<NaiveTime>,
    period: Option<PgRange<DateTime<Utc>>>,
    appointment_id: Option<AppointmentId>,
}

/// The first span of `sorted` (by start) that overlaps `target`: only spans starting between
/// `target.start - MAX_BLOCK` and `target.end` can, so the search is a window, not a scan.
fn first_overlap<'a>(
    sorted: &'a [(Span, AppointmentId)],
    target: &Span,
) -> Option<&'a (Span, AppointmentId)> {
    let from = sorted.partition_point(|(s, _)| s.start < target.start - MAX_BLOCK);
    let to = sorted.partition_point(|(s, _)| s.start < target.end);
    sorted[from..to].iter().find(|(s, _)| s.overlaps(target))
}

/// Everything that decides whether practitioners can work at a time, over a window.
pub(crate) struct Calendar {
    pub(crate) tz: Tz,
    weekly: HashMap<PractitionerId, Vec<(i16, NaiveTime, NaiveTime)>>,
    extras: HashMap<PractitionerId, Vec<Span>>,
    absences: HashMap<PractitionerId, Vec<Span>>,
    closures: Vec<Span>,
    /// Active appointments' blocked spans per practitioner (held ones only while the hold
    /// lasts), with their ids.
    pub(crate) busy: HashMap<PractitionerId, Vec<(Span, AppointmentId)>>,
}

impl Calendar {
    /// Loads the calendar of `practitioners` over `window` in one round trip; `with_busy`
    /// also loads the active appointments (availability needs them, a booking does not: the
    /// constraints decide there).
    pub(crate) async fn load(
        tx: &mut TenantTx,
        tz: Tz,
        practitioners: &[PractitionerId],
        window: Span,
        skip: &[AppointmentId],
        with_busy: bool,
    ) -> ApiResult<Self> {
        let range = PgRange::from(window.start..window.end);
        // Widen by the longest block so that neighbours' buffers count; the starts_at bounds
        // of the same width let the (practice, practitioner, starts_at) index do the work.
        let wide = PgRange::from((window.start - MAX_BLOCK)..(window.end + MAX_BLOCK));
        let rows: Vec<CalendarRow> = sqlx::query_as(
            r#"select 'weekly' as kind, practitioner_id, weekday, starts_local, ends_local, null::tstzrange as period, null::uuid as appointment_id
                 from scheduling.working_hours where practitioner_id = any($1)
               union all
               select kind, practitioner_id, null, null, null, period, null
                 from scheduling.schedule_exception where practitioner_id = any($1) and period && $2
               union all
               select 'closure', null, null, null, null, period, null from scheduling.closure where period && $2
               union all
               select 'busy', practitioner_id, null, null, null, blocked, appointment_id
                 from scheduling.appointment
                where $4 and practitioner_id = any($1) and blocked && $3
                  and starts_at > lower($3) and starts_at < upper($3)
                  and (status = 'booked' or (status = 'held' and hold_expires_at > now()))
                  and not (appointment_id = any($5))"#,
        )
        .bind(practitioners)
        .bind(range)
        .bind(wide)
        .bind(with_busy)
        .bind(skip)
        .fetch_all(&mut **tx)
        .await?;
        let mut cal = Calendar {
            tz,
            weekly: HashMap::new(),
            extras: HashMap::new(),
            absences: HashMap::new(),
            closures: Vec::new(),
            busy: HashMap::new(),
        };
        for r in rows {
            let span = r.period.as_ref().and_then(span_of);
            match (r.kind.as_str(), r.practitioner_id, span) {
                ("weekly", Some(p), _) => {
                    if let (Some(d), Some(s), Some(e)) = (r.weekday, r.starts_local, r.ends_local) {
                        cal.weekly.entry(p).or_default().push((d, s, e));
                    }
                }
                ("extra", Some(p), Some(span)) => cal.extras.entry(p).or_default().push(span),
                ("absence", Some(p), Some(span)) => cal.absences.entry(p).or_default().push(span),
                ("closure", _, Some(span)) => cal.closures.push(span),
                ("busy", Some(p), Some(span)) => {
                    if let Some(id) = r.appointment_id {
                        cal.busy.entry(p).or_default().push((span, id));
                    }
                }
                _ => {}
            }
        }
        for spans in cal.busy.values_mut() {
            spans.sort_by_key(|(s, _)| s.start);
        }
        Ok(cal)
    }

    /// Working spans of a practitioner on a local date, with the wall-clock bounds to put the
    /// slot grid on: the weekly periods and the extra hours that start that day.
    fn working(&self, p: PractitionerId, date: NaiveDate) -> Vec<(NaiveTime, NaiveTime)> {
        let weekday = date.weekday().number_from_monday() as i16;
        let mut out: Vec<(NaiveTime, NaiveTime)> = self
            .weekly
            .get(&p)
            .into_iter()
            .flatten()
            .filter(|(d, _, _)| *d == weekday)
            .map(|(_, s, e)| (*s, *e))
            .collect();
        for extra in self.extras.get(&p).into_iter().flatten() {
            if local_date(self.tz, extra.start) == date {
                let s = extra.start.with_timezone(&self.tz).time();
                let e = if local_date(self.tz, extra.end) == date {
                    extra.end.with_timezone(&self.tz).time()
                } else {
                    NaiveTime::from_hms_opt(23, 59, 0).expect("valid time")
                };
                if s < e {
                    out.push((s, e));
                }
            }
        }
        out
    }

    fn blocked_by_absence_or_closure(&self, p: PractitionerId, appt: &Span) -> bool {
        self.closures.iter().any(|c| c.overlaps(appt))
            || self
                .absences
                .get(&p)
                .into_iter()
                .flatten()
                .any(|a| a.overlaps(appt))
    }

    /// Whether `appt` lies inside the practitioner's working time (and not in an absence or a
    /// closure). Buffers are not required to lie inside working time.
    pub(crate) fn workable(&self, p: PractitionerId, appt: &Span) -> bool {
        let date = local_date(self.tz, appt.start);
        let inside = self.working(p, date).iter().any(|(s, e)| {
            let period = Span::new(
                boundary(self.tz, date.and_time(*s), true),
                boundary(self.tz, date.and_time(*e), false),
            );
            period.is_some_and(|period| period.contains(appt))
        });
        inside && !self.blocked_by_absence_or_closure(p, appt)
    }

    /// The first active appointment whose blocked time overlaps `blocked`.
    pub(crate) fn busy_at(&self, p: PractitionerId, blocked: &Span) -> Option<AppointmentId> {
        self.busy
            .get(&p)
            .and_then(|spans| first_overlap(spans, blocked))
            .map(|(_, id)| *id)
    }

    /// Free candidate slots of a practitioner on a date.
    pub(crate) fn free_slots(
        &self,
        p: PractitionerId,
        date: NaiveDate,
        step: Duration,
        timing: &TypeTiming,
    ) -> Vec<Span> {
        let mut out: Vec<Span> = self
            .working(p, date)
            .into_iter()
            .flat_map(|(s, e)| candidate_starts(self.tz, date, s, e, step, timing.duration()))
            .filter(|appt| !self.blocked_by_absence_or_closure(p, appt))
            .filter(|appt| self.busy_at(p, &timing.blocked(*appt)).is_none())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Search parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityQuery {
    /// The appointment type.
    pub appointment_type_id: AppointmentTypeId,
    /// Practitioners, comma-separated; all active ones when absent.
    #[serde(default)]
    #[param(
        pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(,[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})*$"
    )]
    pub practitioner_ids: Option<String>,
    /// First local date (YYYY-MM-DD).
    #[param(value_type = String, format = Date)]
    pub from: NaiveDate,
    /// Last local date, inclusive (at most 62 days after `from`).
    #[param(value_type = String, format = Date)]
    pub to: NaiveDate,
}

/// A free slot.
#[derive(Debug, Serialize, ToSchema)]
pub struct Slot {
    /// Who.
    pub practitioner_id: PractitionerId,
    /// Start, with the practice's offset at that instant.
    pub starts_at: DateTime<FixedOffset>,
    /// End.
    pub ends_at: DateTime<FixedOffset>,
    /// A free room, when the type needs one.
    pub room_id: Option<RoomId>,
}

/// Free slots.
#[derive(Debug, Serialize, ToSchema)]
pub struct Availability {
    /// The practice's time zone.
    pub time_zone: String,
    /// Slots, earliest first.
    pub slots: Vec<Slot>,
}

/// Rooms and their busy spans over a window.
pub(crate) async fn room_busy(
    tx: &mut TenantTx,
    window: Span,
    skip: &[AppointmentId],
) -> ApiResult<Vec<(RoomId, Vec<Span>)>> {
    let rooms: Vec<RoomId> =
        sqlx::query_scalar("select room_id from scheduling.room where active order by name")
            .fetch_all(&mut **tx)
            .await?;
    let wide = PgRange::from((window.start - MAX_BLOCK)..(window.end + MAX_BLOCK));
    let rows: Vec<(RoomId, PgRange<DateTime<Utc>>)> = sqlx::query_as(
        r#"select room_id, blocked from scheduling.appointment
            where room_id is not null and blocked && $1 and starts_at > lower($1) and starts_at < upper($1)
              and (status = 'booked' or (status = 'held' and hold_expires_at > now()))
              and not (appointment_id = any($2))"#,
    )
    .bind(wide)
    .bind(skip)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rooms
        .into_iter()
        .map(|r| {
            (
                r,
                rows.iter()
                    .filter(|(room, _)| *room == r)
                    .filter_map(|(_, span)| span_of(span))
                    .collect(),
            )
        })
        .collect())
}

/// The first room free over `blocked`.
pub(crate) fn free_room(rooms: &[(RoomId, Vec<Span>)], blocked: &Span) -> Option<RoomId> {
    rooms
        .iter()
        .find(|(_, busy)| !busy.iter().any(|b| b.overlaps(blocked)))
        .map(|(r, _)| *r)
}

/// Searches free slots for an appointment type over a range of local dates.
#[utoipa::path(get, path = "/v1/availability", tag = "scheduling", security(("session" = [])), params(AvailabilityQuery),
    responses((status = 200, body = Availability), (status = 400, body = platform::error::Problem), (status = 422, body = platform::error::Problem)))]
pub async fn search_availability(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<AvailabilityQuery>,
) -> ApiResult<Json<Availability>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    if q.to < q.from {
        return Err(ApiError::invalid_field("to", "must not be before from"));
    }
    if (q.to - q.from).num_days() >= MAX_DAYS {
        return Err(ApiError::invalid_field(
            "to",
            format!("the range is at most {MAX_DAYS} days"),
        ));
    }
    let requested: Option<Vec<PractitionerId>> = q
        .practitioner_ids
        .as_deref()
        .map(|s| {
            s.split(',')
                .map(|p| p.trim().parse::<PractitionerId>())
                .collect::<Result<_, _>>()
        })
        .transpose()
        .map_err(|_| {
            ApiError::invalid_parameter("practitioner_ids", "must be comma-separated ids")
        })?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let Context {
        tz,
        timing,
        settings,
        practitioners: active,
        ..
    } = context(&mut tx, q.appointment_type_id).await?;
    let practitioners = match requested {
        Some(ids) => {
            if ids.iter().any(|id| !active.contains(id)) {
                return Err(ApiError::not_found(
                    "practitioner_not_found",
                    "practitioner_ids",
                ));
            }
            ids
        }
        None => active,
    };
    let window = Span::new(
        boundary(tz, q.from.and_time(NaiveTime::MIN), true),
        boundary(
            tz,
            (q.to + Duration::days(1)).and_time(NaiveTime::MIN),
            true,
        ),
    )
    .ok_or_else(|| ApiError::invalid_field("to", "empty range"))?;
    let cal = Calendar::load(&mut tx, tz, &practitioners, window, &[], true).await?;
    let rooms = if timing.needs_room {
        room_busy(&mut tx, window, &[]).await?
    } else {
        vec![]
    };
    tx.commit().await?;

    let now = Utc::now();
    let earliest = now + Duration::minutes(settings.min_notice_minutes.into());
    let latest = now + Duration::days(settings.horizon_days.into());
    let step = Duration::minutes(settings.slot_step_minutes.into());
    let mut slots = Vec::new();
    let mut date = q.from;
    while date <= q.to {
        for &p in &practitioners {
            for appt in cal.free_slots(p, date, step, &timing) {
                if appt.start < earliest || appt.start > latest {
                    continue;
                }
                let room_id = if timing.needs_room {
                    match free_room(&rooms, &timing.blocked(appt)) {
                        Some(r) => Some(r),
                        None => continue,
                    }
                } else {
                    None
                };
                slots.push(Slot {
                    practitioner_id: p,
                    starts_at: local(tz, appt.start),
                    ends_at: local(tz, appt.end),
                    room_id,
                });
            }
        }
        date += Duration::days(1);
    }
    slots.sort_by_key(|s| (s.starts_at, s.practitioner_id));
    Ok(Json(Availability {
        time_zone: tz.name().to_owned(),
        slots,
    }))
}
