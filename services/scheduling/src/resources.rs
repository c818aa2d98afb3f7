//! Practitioners, rooms and appointment types.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::identifiers::{parse_agb, parse_riziv};
use domain::practice::Permission;
use domain::{AppointmentTypeId, PractitionerId, RoomId};
use platform::auth::Staff;
use platform::error::ResultExt;
use platform::json::{ApiJson, ApiPath};
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use domain::bounded::Int;
use domain::text::Line;
use platform::ApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_practitioners, create_practitioner))
        .routes(routes!(update_practitioner))
        .routes(routes!(list_rooms, create_room))
        .routes(routes!(list_appointment_types, create_appointment_type))
        .routes(routes!(update_appointment_type))
}

/// A practitioner to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"display_name": "Dr. Lotte Claes", "riziv_number": null}))]
pub struct NewPractitioner {
    /// Name on the agenda.
    pub display_name: Line<200>,
    /// The staff account, if the practitioner signs in.
    #[serde(default)]
    pub staff_id: Option<Uuid>,
    /// NL AGB code (8 digits).
    #[serde(default)]
    #[schema(pattern = r"^[ ./-]*([0-9][ ./-]*){8}$")]
    pub agb_code: Option<String>,
    /// BE RIZIV/INAMI number (11 digits, with check digits).
    #[serde(default)]
    #[schema(pattern = r"^[ ./-]*([0-9][ ./-]*){11}$")]
    pub riziv_number: Option<String>,
}

/// A practitioner.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Practitioner {
    /// Id.
    pub practitioner_id: PractitionerId,
    /// Name on the agenda.
    pub display_name: String,
    /// Staff account.
    pub staff_id: Option<Uuid>,
    /// AGB code.
    pub agb_code: Option<String>,
    /// RIZIV/INAMI number.
    pub riziv_number: Option<String>,
    /// Bookable.
    pub active: bool,
}

fn provider_numbers(
    agb: Option<&str>,
    riziv: Option<&str>,
) -> ApiResult<(Option<String>, Option<String>)> {
    let agb = agb
        .map(parse_agb)
        .transpose()
        .map_err(|e| ApiError::invalid_field("agb_code", e.to_string()))?;
    let riziv = riziv.map(parse_riziv).transpose().map_err(|e| {
        ApiError::invalid_field(
            "riziv_number",
            format!("not a valid RIZIV/INAMI number: {e}"),
        )
    })?;
    Ok((agb, riziv))
}

const PRACTITIONER_COLUMNS: &str =
    "practitioner_id, display_name, staff_id, agb_code, riziv_number, active";

/// Adds a practitioner.
#[utoipa::path(post, path = "/v1/practitioners", tag = "scheduling", security(("session" = [])), request_body = NewPractitioner,
    responses((status = 201, body = Practitioner), (status = 422, body = platform::error::Problem), (status = 409, description = "that staff account is a practitioner already", body = platform::error::Problem)))]
pub async fn create_practitioner(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(body): ApiJson<NewPractitioner>,
) -> ApiResult<(StatusCode, Json<Practitioner>)> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let display_name = body.display_name.as_str();
    let (agb, riziv) = provider_numbers(body.agb_code.as_deref(), body.riziv_number.as_deref())?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let p: Practitioner = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into scheduling.practitioner (practice_id, practitioner_id, display_name, staff_id, agb_code, riziv_number)
         values ($1, $2, $3, $4, $5, $6) returning {PRACTITIONER_COLUMNS}"
    )))
    .bind(staff.practice().as_uuid())
    .bind(Uuid::now_v7())
    .bind(display_name)
    .bind(body.staff_id)
    .bind(&agb)
    .bind(&riziv)
    .fetch_one(&mut *tx)
    .await
    .on_constraint("practitioner_staff_fkey", || ApiError::not_found("staff_not_found", "staff_id"))
    .on_constraint("practitioner_staff_key", || ApiError::conflict("staff_already_practitioner", "that staff account is a practitioner already").with_field("staff_id"))?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// Lists practitioners.
#[utoipa::path(get, path = "/v1/practitioners", tag = "scheduling", security(("session" = [])),
    responses((status = 200, body = [Practitioner])))]
pub async fn list_practitioners(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<Vec<Practitioner>>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {PRACTITIONER_COLUMNS} from scheduling.practitioner order by display_name, practitioner_id"
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// Changes to a practitioner.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PractitionerChange {
    /// Name on the agenda.
    #[serde(default)]
    pub display_name: Option<Line<200>>,
    /// Bookable or not.
    #[serde(default)]
    pub active: Option<bool>,
    /// AGB code.
    #[serde(default)]
    #[schema(pattern = r"^[ ./-]*([0-9][ ./-]*){8}$")]
    pub agb_code: Option<String>,
    /// RIZIV/INAMI number.
    #[serde(default)]
    #[schema(pattern = r"^[ ./-]*([0-9][ ./-]*){11}$")]
    pub riziv_number: Option<String>,
}

/// Changes a practitioner.
#[utoipa::path(patch, path = "/v1/practitioners/{practitioner_id}", tag = "scheduling", security(("session" = [])),
    params(("practitioner_id" = Uuid, Path)), request_body = PractitionerChange,
    responses((status = 200, body = Practitioner), (status = 404, body = platform::error::Problem)))]
pub async fn update_practitioner(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<PractitionerId>,
    ApiJson(body): ApiJson<PractitionerChange>,
) -> ApiResult<Json<Practitioner>> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let display_name = body.display_name.as_ref().map(Line::as_str);
    let (agb, riziv) = provider_numbers(body.agb_code.as_deref(), body.riziv_number.as_deref())?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let p: Option<Practitioner> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update scheduling.practitioner
            set display_name = coalesce($2, display_name), active = coalesce($3, active),
                agb_code = coalesce($4, agb_code), riziv_number = coalesce($5, riziv_number)
          where practitioner_id = $1 returning {PRACTITIONER_COLUMNS}"
    )))
    .bind(id)
    .bind(display_name)
    .bind(body.active)
    .bind(agb)
    .bind(riziv)
    .fetch_optional(&mut *tx)
    .await?;
    let p = p.ok_or_else(|| ApiError::not_found("practitioner_not_found", "practitioner_id"))?;
    tx.commit().await?;
    Ok(Json(p))
}

/// A room to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoom {
    /// Name.
    pub name: Line<100>,
}

/// A room.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Room {
    /// Id.
    pub room_id: RoomId,
    /// Name.
    pub name: String,
    /// In use.
    pub active: bool,
}

/// Adds a room.
#[utoipa::path(post, path = "/v1/rooms", tag = "scheduling", security(("session" = [])), request_body = NewRoom,
    responses((status = 201, body = Room), (status = 409, body = platform::error::Problem)))]
pub async fn create_room(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(body): ApiJson<NewRoom>,
) -> ApiResult<(StatusCode, Json<Room>)> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let room_name = body.name.as_str();
    let mut tx = state.db().tenant(staff.practice()).await?;
    let room: Room =
        sqlx::query_as("insert into scheduling.room (practice_id, room_id, name) values ($1, $2, $3) returning room_id, name, active")
            .bind(staff.practice().as_uuid())
            .bind(Uuid::now_v7())
            .bind(room_name)
            .fetch_one(&mut *tx)
            .await
            .on_constraint("room_name_key", || ApiError::conflict("room_name_taken", "a room has that name").with_field("name"))?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(room)))
}

/// Lists rooms.
#[utoipa::path(get, path = "/v1/rooms", tag = "scheduling", security(("session" = [])), responses((status = 200, body = [Room])))]
pub async fn list_rooms(State(state): State<AppState>, staff: Staff) -> ApiResult<Json<Vec<Room>>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rows = sqlx::query_as("select room_id, name, active from scheduling.room order by name")
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// An appointment type to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Kinesitherapy session", "duration_minutes": 30, "buffer_after_minutes": 5, "patient_bookable": true}))]
pub struct NewAppointmentType {
    /// Name, e.g. "Kinesitherapie 30 min".
    pub name: Line<100>,
    /// Length in minutes (5 to 480).
    pub duration_minutes: Int<5, 480>,
    /// Free time kept before (0 to 120 minutes).
    #[serde(default)]
    pub buffer_before_minutes: Int<0, 120>,
    /// Free time kept after (0 to 120 minutes).
    #[serde(default)]
    pub buffer_after_minutes: Int<0, 120>,
    /// Tariff code for invoicing.
    #[serde(default)]
    pub tariff_code: Option<Line<20>>,
    /// Needs a room.
    #[serde(default)]
    pub needs_room: bool,
    /// Patients may book it themselves.
    #[serde(default)]
    pub patient_bookable: bool,
    /// Its name may appear in patient messages (default no).
    #[serde(default)]
    pub name_in_messages: bool,
}

/// An appointment type.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct AppointmentType {
    /// Id.
    pub type_id: AppointmentTypeId,
    /// Name.
    pub name: String,
    /// Minutes.
    pub duration_minutes: i32,
    /// Buffer before.
    pub buffer_before_minutes: i32,
    /// Buffer after.
    pub buffer_after_minutes: i32,
    /// Tariff code.
    pub tariff_code: Option<String>,
    /// Needs a room.
    pub needs_room: bool,
    /// Patients may book it.
    pub patient_bookable: bool,
    /// Name may appear in messages.
    pub name_in_messages: bool,
    /// In use.
    pub active: bool,
}

const TYPE_COLUMNS: &str = "type_id, name, duration_minutes, buffer_before_minutes, buffer_after_minutes, tariff_code, \
     needs_room, patient_bookable, name_in_messages, active";

/// Adds an appointment type.
#[utoipa::path(post, path = "/v1/appointment-types", tag = "scheduling", security(("session" = [])), request_body = NewAppointmentType,
    responses((status = 201, body = AppointmentType), (status = 422, body = platform::error::Problem), (status = 409, description = "an appointment type has that name", body = platform::error::Problem)))]
pub async fn create_appointment_type(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(b): ApiJson<NewAppointmentType>,
) -> ApiResult<(StatusCode, Json<AppointmentType>)> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let type_name = b.name.as_str();
    let tariff = b.tariff_code.as_ref().map(Line::as_str);
    let mut tx = state.db().tenant(staff.practice()).await?;
    let t: AppointmentType = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into scheduling.appointment_type (practice_id, type_id, name, duration_minutes, buffer_before_minutes,
             buffer_after_minutes, tariff_code, needs_room, patient_bookable, name_in_messages)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning {TYPE_COLUMNS}"
    )))
    .bind(staff.practice().as_uuid())
    .bind(Uuid::now_v7())
    .bind(type_name)
    .bind(b.duration_minutes.get_i32())
    .bind(b.buffer_before_minutes.get_i32())
    .bind(b.buffer_after_minutes.get_i32())
    .bind(tariff)
    .bind(b.needs_room)
    .bind(b.patient_bookable)
    .bind(b.name_in_messages)
    .fetch_one(&mut *tx)
    .await
    .on_constraint("appointment_type_name_key", || {
        ApiError::conflict("appointment_type_name_taken", "an appointment type has that name").with_field("name")
    })?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// Lists appointment types.
#[utoipa::path(get, path = "/v1/appointment-types", tag = "scheduling", security(("session" = [])),
    responses((status = 200, body = [AppointmentType])))]
pub async fn list_appointment_types(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<Vec<AppointmentType>>> {
    staff.require(&state, Permission::ScheduleRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {TYPE_COLUMNS} from scheduling.appointment_type order by name"
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// Changes to an appointment type. Existing appointments keep their times.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentTypeChange {
    /// Name.
    #[serde(default)]
    pub name: Option<Line<100>>,
    /// Tariff code.
    #[serde(default)]
    pub tariff_code: Option<Line<20>>,
    /// Patients may book it.
    #[serde(default)]
    pub patient_bookable: Option<bool>,
    /// Name may appear in messages.
    #[serde(default)]
    pub name_in_messages: Option<bool>,
    /// In use.
    #[serde(default)]
    pub active: Option<bool>,
}

/// Changes an appointment type.
#[utoipa::path(patch, path = "/v1/appointment-types/{type_id}", tag = "scheduling", security(("session" = [])),
    params(("type_id" = Uuid, Path)), request_body = AppointmentTypeChange,
    responses((status = 200, body = AppointmentType), (status = 404, body = platform::error::Problem), (status = 409, description = "an appointment type has that name", body = platform::error::Problem)))]
pub async fn update_appointment_type(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<AppointmentTypeId>,
    ApiJson(b): ApiJson<AppointmentTypeChange>,
) -> ApiResult<Json<AppointmentType>> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let type_name = b.name.as_ref().map(Line::as_str);
    let tariff = b.tariff_code.as_ref().map(Line::as_str);
    let mut tx = state.db().tenant(staff.practice()).await?;
    let t: Option<AppointmentType> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update scheduling.appointment_type
            set name = coalesce($2, name), tariff_code = coalesce($3, tariff_code),
                patient_bookable = coalesce($4, patient_bookable), name_in_messages = coalesce($5, name_in_messages),
                active = coalesce($6, active)
          where type_id = $1 returning {TYPE_COLUMNS}"
    )))
    .bind(id)
    .bind(type_name)
    .bind(tariff)
    .bind(b.patient_bookable)
    .bind(b.name_in_messages)
    .bind(b.active)
    .fetch_optional(&mut *tx)
    .await
    .on_constraint("appointment_type_name_key", || {
        ApiError::conflict("appointment_type_name_taken", "an appointment type has that name").with_field("name")
    })?;
    let t = t.ok_or_else(|| ApiError::not_found("appointment_type_not_found", "type_id"))?;
    tx.commit().await?;
    Ok(Json(t))
}
