//! Agenda views (day or week, per practitioner or the whole practice) and a patient's
//! appointment history. Both show patient data, so each patient shown is an audit row.
//! No clinical text appears here for any role.

use domain::{AppointmentId, AppointmentTypeId, PatientId, PractitionerId, RoomId};
use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, Utc};
use domain::appointment::AppointmentStatus;
use domain::practice::Permission;
use domain::schedule::boundary;
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::json::{ApiPath, ApiQuery};
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::zone::{local, practice_zone};
use platform::ApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(get_agenda))
        .routes(routes!(patient_appointments))
}

/// Agenda parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AgendaQuery {
    /// First local date.
    #[param(value_type = String, format = Date)]
    pub date: NaiveDate,
    /// Number of days: 1 (day view) to 7 (week view); default 1.
    #[serde(default)]
    #[param(minimum = 1, maximum = 7)]
    pub days: Option<i64>,
    /// One practitioner; the whole practice when absent.
    #[serde(default)]
    pub practitioner_id: Option<PractitionerId>,
    /// Also show cancelled appointments.
    #[serde(default)]
    pub include_cancelled: Option<bool>,
}

/// One appointment on the agenda.
#[derive(Debug, Serialize, ToSchema, Clone)]
pub struct AgendaItem {
    /// Appointment.
    pub appointment_id: AppointmentId,
    /// Practitioner.
    pub practitioner_id: PractitionerId,
    /// Practitioner's name.
    pub practitioner_name: String,
    /// Patient (absent on a hold).
    pub patient_id: Option<PatientId>,
    /// Patient's family name.
    pub family_name: Option<String>,
    /// Patient's given names.
    pub given_names: Option<String>,
    /// Appointment type.
    pub appointment_type_id: AppointmentTypeId,
    /// Type name.
    pub appointment_type_name: String,
    /// Room.
    pub room_id: Option<RoomId>,
    /// Start.
    pub starts_at: DateTime<FixedOffset>,
    /// End.
    pub ends_at: DateTime<FixedOffset>,
    /// Status.
    pub status: AppointmentStatus,
    /// Series, when part of one.
    pub series_id: Option<Uuid>,
}

/// An agenda.
#[derive(Debug, Serialize, ToSchema)]
pub struct Agenda {
    /// The practice's time zone.
    pub time_zone: String,
    /// Appointments, by start.
    pub items: Vec<AgendaItem>,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    appointment_id: AppointmentId,
    practitioner_id: PractitionerId,
    practitioner_name: String,
    patient_id: Option<PatientId>,
    family_name: Option<String>,
    given_names: Option<String>,
    type_id: AppointmentTypeId,
    type_name: String,
    room_id: Option<RoomId>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    status: AppointmentStatus,
    series_id: Option<Uuid>,
}

const ITEM_SELECT: &str = r#"select a.appointment_id, a.practitioner_id, pr.display_name as practitioner_name, a.patient_id,
       p.family_name, p.given_names, a.type_id, t.name as type_name, a.room_id, a.starts_at, a.ends_at, a.status, a.series_id
  from scheduling.appointment a
  join scheduling.practitioner pr on pr.practice_id = a.practice_id and pr.practitioner_id = a.practitioner_id
  join scheduling.appointment_type t on t.practice_id = a.practice_id and t.type_id = a.type_id
  left join core.patient p on p.practice_id = a.practice_id and p.patient_id = a.patient_id"#;

fn item(r: ItemRow, tz: chrono_tz::Tz) -> AgendaItem {
    AgendaItem {
        appointment_id: r.appointment_id,
        practitioner_id: r.practitioner_id,
        practitioner_name: r.practitioner_name,
        patient_id: r.patient_id,
        family_name: r.family_name,
        given_names: r.given_names,
        appointment_type_id: r.type_id,
        appointment_type_name: r.type_name,
        room_id: r.room_id,
        starts_at: local(tz, r.starts_at),
        ends_at: local(tz, r.ends_at),
        status: r.status,
        series_id: r.series_id,
    }
}

async fn audit_shown(
    tx: &mut platform::db::TenantTx,
    staff: &Staff,
    items: &[AgendaItem],
    reason: &'static str,
) -> ApiResult<()> {
    let patients: BTreeSet<PatientId> = items.iter().filter_map(|i| i.patient_id).collect();
    let shown: Vec<Option<PatientId>> = patients.into_iter().map(Some).collect();
    let mut ev = staff.audit("sensitive_read", Action::Read, None, "success");
    ev.reason = Some(reason);
    audit::record_for_patients(tx, staff.practice(), &ev, &shown).await?;
    Ok(())
}

/// A day or week of appointments, for one practitioner or the practice.
#[utoipa::path(get, path = "/v1/agenda", tag = "scheduling", security(("session" = [])), params(AgendaQuery),
    responses((status = 200, body = Agenda), (status = 400, body = platform::error::Problem)))]
pub async fn get_agenda(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<AgendaQuery>,
) -> ApiResult<Json<Agenda>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let days = q.days.unwrap_or(1);
    if !(1..=7).contains(&days) {
        return Err(ApiError::invalid_parameter(
            "days",
            "must be between 1 and 7",
        ));
    }
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    if let Some(p) = q.practitioner_id {
        crate::hours::practitioner_exists(&mut tx, p)
            .await
            .map_err(|e| e.with_field("practitioner_id"))?;
    }
    let from = boundary(tz, q.date.and_time(NaiveTime::MIN), true);
    let to = boundary(
        tz,
        (q.date + Duration::days(days)).and_time(NaiveTime::MIN),
        true,
    );
    // Everything but lapsed holds; cancelled ones when asked.
    let statuses: Vec<&str> = AppointmentStatus::ALL
        .iter()
        .filter(|s| match s {
            AppointmentStatus::Expired => false,
            AppointmentStatus::Cancelled => q.include_cancelled == Some(true),
            _ => true,
        })
        .map(|s| s.as_str())
        .collect();
    let rows: Vec<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ITEM_SELECT}
          where a.starts_at >= $1 and a.starts_at < $2 and a.status = any($3)
            and ($4::uuid is null or a.practitioner_id = $4)
            and (a.status <> 'held' or a.hold_expires_at > now())
          order by a.starts_at, pr.display_name, a.appointment_id"
    )))
    .bind(from)
    .bind(to)
    .bind(statuses)
    .bind(q.practitioner_id)
    .fetch_all(&mut *tx)
    .await?;
    let items: Vec<AgendaItem> = rows.into_iter().map(|r| item(r, tz)).collect();
    audit_shown(&mut tx, &staff, &items, "agenda").await?;
    tx.commit().await?;
    Ok(Json(Agenda {
        time_zone: tz.name().to_owned(),
        items,
    }))
}

/// History paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Page size, 1 to 200 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<AppointmentId>,
}

/// A page of a patient's appointments.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    /// Appointments, latest first.
    pub items: Vec<AgendaItem>,
    /// Pass as `cursor` for the next page.
    pub next_cursor: Option<AppointmentId>,
}

/// A patient's appointments, latest first.
#[utoipa::path(get, path = "/v1/patients/{patient_id}/appointments", tag = "scheduling", security(("session" = [])),
    params(("patient_id" = Uuid, Path), HistoryQuery),
    responses((status = 200, body = History), (status = 404, body = platform::error::Problem)))]
pub async fn patient_appointments(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(patient): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<History>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let limit = match q.limit {
        None => 50,
        Some(n @ 1..=200) => n,
        Some(_) => {
            return Err(ApiError::invalid_parameter(
                "limit",
                "must be between 1 and 200",
            ));
        }
    };
    let mut tx = state.db().tenant(staff.practice()).await?;
    platform::patients::require(&mut tx, domain::PatientId::from_uuid(patient)).await?;
    let (tz, _) = practice_zone(&mut tx).await?;
    let cursor: Option<(DateTime<Utc>, AppointmentId)> = match q.cursor {
        Some(c) => Some(
            sqlx::query_as("select starts_at, appointment_id from scheduling.appointment where appointment_id = $1 and patient_id = $2")
                .bind(c)
                .bind(patient)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| ApiError::not_found("cursor_not_found", "cursor"))?,
        ),
        None => None,
    };
    let rows: Vec<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ITEM_SELECT}
          where a.patient_id = $1
            and ($2::timestamptz is null or (a.starts_at, a.appointment_id) < ($2, $3))
          order by a.starts_at desc, a.appointment_id desc
          limit $4"
    )))
    .bind(patient)
    .bind(cursor.map(|c| c.0))
    .bind(cursor.map(|c| c.1))
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    let has_more = rows.len() as i64 > limit;
    let items: Vec<AgendaItem> = rows
        .into_iter()
        .take(limit as usize)
        .map(|r| item(r, tz))
        .collect();
    let mut ev = staff.audit(
        "sensitive_read",
        Action::Read,
        Some(PatientId::from_uuid(patient)),
        "success",
    );
    ev.reason = Some("appointment_history");
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    let next_cursor = if has_more {
        items.last().map(|i| i.appointment_id)
    } else {
        None
    };
    Ok(Json(History { items, next_cursor }))
}
