//! Working hours (weekly, local time), exceptions (absence or extra hours) per practitioner,
//! and practice-wide closures, with BE/NL public holidays as an applicable calendar.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, FixedOffset, NaiveTime, Utc};
use domain::PractitionerId;
use domain::holidays::public_holidays;
use domain::practice::Permission;
use domain::schedule::boundary;
use platform::auth::Staff;
use platform::db::TenantTx;
use platform::json::{ApiJson, ApiPath};
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use sqlx::postgres::types::PgRange;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::availability::range_bounds;
use crate::zone::{local, practice_zone};
use domain::bounded::Int;
use domain::text::Line;
use platform::ApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(get_working_hours, put_working_hours))
        .routes(routes!(list_exceptions, create_exception))
        .routes(routes!(delete_exception))
        .routes(routes!(list_closures, create_closure))
        .routes(routes!(apply_holidays))
        .routes(routes!(delete_closure))
}

/// One weekly working period.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkingPeriod {
    /// ISO weekday: 1 = Monday ... 7 = Sunday.
    #[schema(minimum = 1, maximum = 7)]
    pub weekday: i16,
    /// Local start, e.g. "09:00".
    #[schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?$", example = "09:00")]
    pub starts: NaiveTime,
    /// Local end, e.g. "12:30"; after `starts`, same day.
    #[schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?$", example = "12:30")]
    pub ends: NaiveTime,
}

/// The whole weekly schedule of a practitioner.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"periods": [{"weekday": 1, "starts": "08:30", "ends": "12:30"}, {"weekday": 1, "starts": "13:30", "ends": "18:00"}, {"weekday": 3, "starts": "08:30", "ends": "12:30"}]}))]
pub struct WorkingHours {
    /// Periods; none on a weekday means not working that day.
    pub periods: Vec<WorkingPeriod>,
}

pub(crate) async fn practitioner_exists(tx: &mut TenantTx, id: PractitionerId) -> ApiResult<()> {
    let found: bool = sqlx::query_scalar(
        "select exists (select 1 from scheduling.practitioner where practitioner_id = $1)",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    if found {
        Ok(())
    } else {
        Err(ApiError::not_found(
            "practitioner_not_found",
            "practitioner_id",
        ))
    }
}

/// Replaces a practitioner's weekly working hours.
#[utoipa::path(put, path = "/v1/practitioners/{practitioner_id}/working-hours", tag = "scheduling", security(("session" = [])),
    params(("practitioner_id" = Uuid, Path)), request_body = WorkingHours,
    responses((status = 200, body = WorkingHours), (status = 404, body = platform::error::Problem), (status = 422, body = platform::error::Problem)))]
pub async fn put_working_hours(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<PractitionerId>,
    ApiJson(mut body): ApiJson<WorkingHours>,
) -> ApiResult<Json<WorkingHours>> {
    staff.require(&state, Permission::ScheduleManage).await?;
    for (i, p) in body.periods.iter().enumerate() {
        if !(1..=7).contains(&p.weekday) {
            return Err(ApiError::invalid_field(
                format!("periods[{i}].weekday"),
                "must be 1 (Monday) to 7 (Sunday)",
            ));
        }
        if p.ends <= p.starts {
            return Err(ApiError::invalid_field(
                format!("periods[{i}].ends"),
                "must be after starts",
            ));
        }
    }
    body.periods.sort_by_key(|p| (p.weekday, p.starts));
    for (i, pair) in body.periods.windows(2).enumerate() {
        if pair[0].weekday == pair[1].weekday && pair[1].starts < pair[0].ends {
            return Err(ApiError::invalid_field(
                format!("periods[{}].starts", i + 1),
                "overlaps the period before it",
            ));
        }
    }
    let mut tx = state.db().tenant(staff.practice()).await?;
    practitioner_exists(&mut tx, id).await?;
    sqlx::query("delete from scheduling.working_hours where practitioner_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    for p in &body.periods {
        sqlx::query(
            "insert into scheduling.working_hours (practice_id, practitioner_id, weekday, starts_local, ends_local) values ($1, $2, $3, $4, $5)",
        )
        .bind(staff.practice().as_uuid())
        .bind(id)
        .bind(p.weekday)
        .bind(p.starts)
        .bind(p.ends)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Json(body))
}

/// Reads a practitioner's weekly working hours.
#[utoipa::path(get, path = "/v1/practitioners/{practitioner_id}/working-hours", tag = "scheduling", security(("session" = [])),
    params(("practitioner_id" = Uuid, Path)), responses((status = 200, body = WorkingHours), (status = 404, body = platform::error::Problem)))]
pub async fn get_working_hours(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<PractitionerId>,
) -> ApiResult<Json<WorkingHours>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    practitioner_exists(&mut tx, id).await?;
    let rows: Vec<(i16, NaiveTime, NaiveTime)> = sqlx::query_as(
        "select weekday, starts_local, ends_local from scheduling.working_hours where practitioner_id = $1 order by weekday, starts_local",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(WorkingHours {
        periods: rows
            .into_iter()
            .map(|(weekday, starts, ends)| WorkingPeriod {
                weekday,
                starts,
                ends,
            })
            .collect(),
    }))
}

/// Absence or extra hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExceptionKind {
    /// Not available.
    Absence,
    /// Available outside the weekly hours.
    Extra,
}

/// A new exception; instants carry their offset.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewException {
    /// Absence or extra hours.
    pub kind: ExceptionKind,
    /// Start (RFC 3339 with offset).
    pub starts_at: DateTime<FixedOffset>,
    /// End (RFC 3339 with offset).
    pub ends_at: DateTime<FixedOffset>,
    /// Optional note for colleagues.
    #[serde(default)]
    pub reason: Option<Line<200>>,
}

/// An exception.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleException {
    /// Id.
    pub exception_id: Uuid,
    /// Kind.
    pub kind: ExceptionKind,
    /// Start, in the practice's offset.
    pub starts_at: DateTime<FixedOffset>,
    /// End, in the practice's offset.
    pub ends_at: DateTime<FixedOffset>,
    /// Note.
    pub reason: Option<String>,
}

fn period(
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
    field: &'static str,
) -> ApiResult<PgRange<DateTime<Utc>>> {
    if ends <= starts {
        return Err(ApiError::invalid_field(field, "must be after the start"));
    }
    Ok(PgRange::from(starts..ends))
}

/// Adds an absence or extra hours.
#[utoipa::path(post, path = "/v1/practitioners/{practitioner_id}/exceptions", tag = "scheduling", security(("session" = [])),
    params(("practitioner_id" = Uuid, Path)), request_body = NewException,
    responses((status = 201, body = ScheduleException), (status = 404, body = platform::error::Problem), (status = 422, body = platform::error::Problem)))]
pub async fn create_exception(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<PractitionerId>,
    ApiJson(b): ApiJson<NewException>,
) -> ApiResult<(StatusCode, Json<ScheduleException>)> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let range = period(b.starts_at.to_utc(), b.ends_at.to_utc(), "ends_at")?;
    let reason = b.reason.as_ref().map(Line::as_str);
    let mut tx = state.db().tenant(staff.practice()).await?;
    practitioner_exists(&mut tx, id).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let exception_id = Uuid::now_v7();
    sqlx::query(
        "insert into scheduling.schedule_exception (practice_id, exception_id, practitioner_id, kind, period, reason) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(staff.practice().as_uuid())
    .bind(exception_id)
    .bind(id)
    .bind(if b.kind == ExceptionKind::Absence { "absence" } else { "extra" })
    .bind(range)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let (s, e) = range_bounds(&range);
    Ok((
        StatusCode::CREATED,
        Json(ScheduleException {
            exception_id,
            kind: b.kind,
            starts_at: local(tz, s),
            ends_at: local(tz, e),
            reason: reason.map(str::to_owned),
        }),
    ))
}

/// Lists a practitioner's exceptions that have not ended.
#[utoipa::path(get, path = "/v1/practitioners/{practitioner_id}/exceptions", tag = "scheduling", security(("session" = [])),
    params(("practitioner_id" = Uuid, Path)), responses((status = 200, body = [ScheduleException]), (status = 404, body = platform::error::Problem)))]
pub async fn list_exceptions(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<PractitionerId>,
) -> ApiResult<Json<Vec<ScheduleException>>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    practitioner_exists(&mut tx, id).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let rows: Vec<ExceptionRow> = sqlx::query_as(
        "select exception_id, kind, period, reason from scheduling.schedule_exception
          where practitioner_id = $1 and upper(period) > now() order by lower(period)",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(
        rows.into_iter()
            .map(|(exception_id, kind, r, reason)| {
                let (s, e) = range_bounds(&r);
                ScheduleException {
                    exception_id,
                    kind: if kind == "absence" {
                        ExceptionKind::Absence
                    } else {
                        ExceptionKind::Extra
                    },
                    starts_at: local(tz, s),
                    ends_at: local(tz, e),
                    reason,
                }
            })
            .collect(),
    ))
}

type ExceptionRow = (Uuid, String, PgRange<DateTime<Utc>>, Option<String>);

/// Removes an exception.
#[utoipa::path(delete, path = "/v1/practitioners/{practitioner_id}/exceptions/{exception_id}", tag = "scheduling", security(("session" = [])),
    params(("practitioner_id" = Uuid, Path), ("exception_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = platform::error::Problem)))]
pub async fn delete_exception(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath((pid, eid)): ApiPath<(PractitionerId, Uuid)>,
) -> ApiResult<StatusCode> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let n = sqlx::query("delete from scheduling.schedule_exception where practitioner_id = $1 and exception_id = $2")
        .bind(pid)
        .bind(eid)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(ApiError::not_found("exception_not_found", "exception_id"));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new closure.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"starts_at": "2027-07-19T00:00:00+02:00", "ends_at": "2027-08-02T00:00:00+02:00", "reason": "Summer closure"}))]
pub struct NewClosure {
    /// Start (RFC 3339 with offset).
    pub starts_at: DateTime<FixedOffset>,
    /// End (RFC 3339 with offset).
    pub ends_at: DateTime<FixedOffset>,
    /// Why, e.g. "Team training".
    pub reason: Line<200>,
}

/// A practice-wide closure.
#[derive(Debug, Serialize, ToSchema)]
pub struct Closure {
    /// Id.
    pub closure_id: Uuid,
    /// Start.
    pub starts_at: DateTime<FixedOffset>,
    /// End.
    pub ends_at: DateTime<FixedOffset>,
    /// Why.
    pub reason: String,
    /// `manual` or `holiday`.
    pub source: String,
}

/// Closes the practice for a period.
#[utoipa::path(post, path = "/v1/closures", tag = "scheduling", security(("session" = [])), request_body = NewClosure,
    responses((status = 201, body = Closure), (status = 422, body = platform::error::Problem)))]
pub async fn create_closure(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(b): ApiJson<NewClosure>,
) -> ApiResult<(StatusCode, Json<Closure>)> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let range = period(b.starts_at.to_utc(), b.ends_at.to_utc(), "ends_at")?;
    let reason = b.reason.as_str();
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let closure_id = Uuid::now_v7();
    sqlx::query("insert into scheduling.closure (practice_id, closure_id, period, reason) values ($1, $2, $3, $4)")
        .bind(staff.practice().as_uuid())
        .bind(closure_id)
        .bind(range)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let (s, e) = range_bounds(&range);
    Ok((
        StatusCode::CREATED,
        Json(Closure {
            closure_id,
            starts_at: local(tz, s),
            ends_at: local(tz, e),
            reason: reason.to_owned(),
            source: "manual".into(),
        }),
    ))
}

async fn closures(tx: &mut TenantTx) -> ApiResult<Vec<Closure>> {
    let (tz, _) = practice_zone(tx).await?;
    let rows: Vec<(Uuid, PgRange<DateTime<Utc>>, String, String)> = sqlx::query_as(
        "select closure_id, period, reason, source from scheduling.closure where upper(period) > now() order by lower(period)",
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(closure_id, r, reason, source)| {
            let (s, e) = range_bounds(&r);
            Closure {
                closure_id,
                starts_at: local(tz, s),
                ends_at: local(tz, e),
                reason,
                source,
            }
        })
        .collect())
}

/// Lists closures that have not ended.
#[utoipa::path(get, path = "/v1/closures", tag = "scheduling", security(("session" = [])), responses((status = 200, body = [Closure])))]
pub async fn list_closures(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<Vec<Closure>>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let out = closures(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Removes a closure.
#[utoipa::path(delete, path = "/v1/closures/{closure_id}", tag = "scheduling", security(("session" = [])),
    params(("closure_id" = Uuid, Path)), responses((status = 204), (status = 404, body = platform::error::Problem)))]
pub async fn delete_closure(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let n = sqlx::query("delete from scheduling.closure where closure_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(ApiError::not_found("closure_not_found", "closure_id"));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which year's holidays to apply.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayYear {
    /// The year, 2000 to 2100.
    pub year: Int<2000, 2100>,
}

/// Closes the practice on its country's public holidays of a year (whole local days).
/// Applying a year twice changes nothing.
#[utoipa::path(post, path = "/v1/closures/holidays", tag = "scheduling", security(("session" = [])), request_body = HolidayYear,
    responses((status = 200, body = [Closure]), (status = 422, body = platform::error::Problem)))]
pub async fn apply_holidays(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(b): ApiJson<HolidayYear>,
) -> ApiResult<Json<Vec<Closure>>> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, country) = practice_zone(&mut tx).await?;
    for (day, holiday) in public_holidays(country, b.year.get_i32()) {
        let start = boundary(tz, day.and_time(NaiveTime::MIN), true);
        let end = boundary(tz, (day + Duration::days(1)).and_time(NaiveTime::MIN), true);
        sqlx::query(
            r#"insert into scheduling.closure (practice_id, closure_id, period, reason, source)
               values ($1, $2, $3, $4, 'holiday')
               on conflict (practice_id, period) where source = 'holiday' do nothing"#,
        )
        .bind(staff.practice().as_uuid())
        .bind(Uuid::now_v7())
        .bind(PgRange::from(start..end))
        .bind(holiday)
        .execute(&mut *tx)
        .await?;
    }
    let out = closures(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(
        out.into_iter().filter(|c| c.source == "holiday").collect(),
    ))
}
