//! Per-practice scheduling settings: the slot grid, minimum notice, booking horizon and how
//! long a hold lasts.

use axum::Json;
use axum::extract::State;
use domain::practice::Permission;
use platform::ApiRouter;
use platform::auth::Staff;
use platform::json::{ApiJson, range};
use platform::{ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(get_scheduling_settings, put_scheduling_settings))
}

/// Scheduling settings.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct SchedulingSettings {
    /// Wall-clock grid of offered slots, 5 to 120 minutes (default 15).
    #[schema(minimum = 5, maximum = 120)]
    pub slot_step_minutes: i32,
    /// No slot starts sooner than this after now, 0 to 20160 minutes (default 0).
    #[schema(minimum = 0, maximum = 20160)]
    pub min_notice_minutes: i32,
    /// No slot starts later than this many days ahead, 1 to 1095 (default 365).
    #[schema(minimum = 1, maximum = 1095)]
    pub horizon_days: i32,
    /// How long a hold reserves a slot, 1 to 60 minutes (default 5).
    #[schema(minimum = 1, maximum = 60)]
    pub hold_minutes: i32,
}

const SELECT: &str = "select coalesce(s.slot_step_minutes, 15) as slot_step_minutes, coalesce(s.min_notice_minutes, 0) as min_notice_minutes,
        coalesce(s.horizon_days, 365) as horizon_days, coalesce(s.hold_minutes, 5) as hold_minutes
   from core.practice p left join scheduling.settings s on s.practice_id = p.practice_id";

/// Reads the practice's scheduling settings.
#[utoipa::path(get, path = "/v1/scheduling/settings", tag = "scheduling", security(("session" = [])),
    responses((status = 200, body = SchedulingSettings)))]
pub async fn get_scheduling_settings(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<SchedulingSettings>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let s = sqlx::query_as(SELECT).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(Json(s))
}

/// Replaces the practice's scheduling settings.
#[utoipa::path(put, path = "/v1/scheduling/settings", tag = "scheduling", security(("session" = [])), request_body = SchedulingSettings,
    responses((status = 200, body = SchedulingSettings), (status = 422, body = platform::error::Problem)))]
pub async fn put_scheduling_settings(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(b): ApiJson<SchedulingSettings>,
) -> ApiResult<Json<SchedulingSettings>> {
    staff.require(&state, Permission::ScheduleManage).await?;
    range("slot_step_minutes", b.slot_step_minutes.into(), 5, 120)?;
    range("min_notice_minutes", b.min_notice_minutes.into(), 0, 20_160)?;
    range("horizon_days", b.horizon_days.into(), 1, 1095)?;
    range("hold_minutes", b.hold_minutes.into(), 1, 60)?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    sqlx::query(
        r#"insert into scheduling.settings (practice_id, slot_step_minutes, min_notice_minutes, horizon_days, hold_minutes)
           values ($1, $2, $3, $4, $5)
           on conflict (practice_id) do update set slot_step_minutes = excluded.slot_step_minutes,
               min_notice_minutes = excluded.min_notice_minutes, horizon_days = excluded.horizon_days,
               hold_minutes = excluded.hold_minutes"#,
    )
    .bind(staff.practice().as_uuid())
    .bind(b.slot_step_minutes)
    .bind(b.min_notice_minutes)
    .bind(b.horizon_days)
    .bind(b.hold_minutes)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(b))
}
