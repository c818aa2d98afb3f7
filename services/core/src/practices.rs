//! Creating practices: by the operator API (hosted service) and by `praxis practice create`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use chrono::{DateTime, Utc};
use domain::identifiers::{parse_email, parse_registration_number};
use domain::practice::{Country, Language, Role};
use domain::{PracticeId, StaffId};
use platform::error::ResultExt;
use platform::json::ApiJson;
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::staff::insert_staff;
use platform::ApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(create_practice))
}

/// A new practice and its first administrator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Kinepraktijk De Linde", "country": "BE", "time_zone": "Europe/Brussels", "default_language": "nl", "registration_number": "0403170701", "admin": {"email": "admin@delinde.example.be", "display_name": "Practice admin"}}))]
pub struct NewPractice {
    /// Display name, e.g. "Kinesitherapie De Linde".
    pub name: String,
    /// BE or NL.
    pub country: Country,
    /// IANA time zone, e.g. Europe/Brussels.
    pub time_zone: String,
    /// Default language.
    pub default_language: Language,
    /// BE enterprise number (KBO/BCE) or NL KvK number.
    #[serde(default)]
    pub registration_number: Option<String>,
    /// The first practice administrator.
    pub admin: NewAdmin,
}

/// The first administrator of a new practice.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdmin {
    /// Sign-in e-mail address.
    pub email: String,
    /// Name shown to colleagues.
    pub display_name: String,
}

/// What creating a practice returns: the setup token is shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedPractice {
    /// The new practice.
    pub practice_id: PracticeId,
    /// The administrator's account.
    pub admin_staff_id: StaffId,
    /// One-time token for `POST /v1/auth/setup`.
    pub setup_token: String,
    /// When the token stops working.
    pub setup_token_expires_at: DateTime<Utc>,
}

/// Creates a practice with its keys and first administrator.
#[utoipa::path(post, path = "/v1/operator/practices", tag = "operator",
    request_body = NewPractice,
    security(("operator_key" = [])),
    responses(
        (status = 201, body = CreatedPractice),
        (status = 400, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "the admin e-mail address has an account", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_practice(
    State(state): State<AppState>,
    _operator: Operator,
    ApiJson(body): ApiJson<NewPractice>,
) -> ApiResult<(StatusCode, Json<CreatedPractice>)> {
    let created = create(&state, body).await?;
    tracing::info!(practice.id = %created.practice_id, "practice created by operator");
    Ok((StatusCode::CREATED, Json(created)))
}

/// The operator, proven by `OPERATOR_API_KEY`. Checked before the body is read.
pub struct Operator;

impl axum::extract::FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        check_operator_key(state, &parts.headers).map(|()| Operator)
    }
}

fn check_operator_key(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    use secrecy::ExposeSecret;
    let Some(expected) = &state.settings().security.operator_api_key else {
        return Err(ApiError::unauthenticated());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Compare digests in constant time.
    let a = platform::crypto::token_hash(given);
    let b = platform::crypto::token_hash(expected.expose_secret());
    if subtle_eq(&a, &b) {
        Ok(())
    } else {
        Err(ApiError::unauthenticated())
    }
}

fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Validates and creates a practice, its keys and its first administrator, in one transaction.
pub async fn create(state: &AppState, p: NewPractice) -> ApiResult<CreatedPractice> {
    create_with_id(state, PracticeId::new(), p).await
}

/// [`create`] with a chosen id (the demo practice has a fixed one).
pub async fn create_with_id(
    state: &AppState,
    practice: PracticeId,
    p: NewPractice,
) -> ApiResult<CreatedPractice> {
    let name = platform::json::line("name", &p.name, 200)?;
    if p.time_zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(ApiError::invalid_field(
            "time_zone",
            "must be an IANA time zone such as Europe/Brussels",
        ));
    }
    let registration_number = p
        .registration_number
        .as_deref()
        .map(|r| parse_registration_number(p.country, r))
        .transpose()
        .map_err(|e| ApiError::invalid_field("registration_number", e.to_string()))?;
    let email = parse_email(&p.admin.email)
        .map_err(|e| ApiError::invalid_field("admin.email", e.to_string()))?;
    let display_name = platform::json::line("admin.display_name", &p.admin.display_name, 200)?;

    let keys = state.keys().generate(practice);
    let mut tx = state.db().tenant(practice).await?;
    sqlx::query(
        r#"insert into core.practice (practice_id, name, country, time_zone, default_language, registration_number)
           values ($1, $2, $3, $4, $5, $6)"#,
    )
    .bind(practice.as_uuid())
    .bind(&name)
    .bind(p.country.as_str())
    .bind(&p.time_zone)
    .bind(p.default_language.as_str())
    .bind(&registration_number)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into core.practice_key (practice_id, key_version, wrapped_data_key, wrapped_index_key) values ($1, $2, $3, $4)",
    )
    .bind(practice.as_uuid())
    .bind(keys.version)
    .bind(&keys.data_key)
    .bind(&keys.index_key)
    .execute(&mut *tx)
    .await?;
    let (admin_staff_id, setup_token, setup_token_expires_at) = insert_staff(
        &mut tx,
        state,
        practice,
        &email,
        &display_name,
        Role::PracticeAdmin,
    )
    .await
    .on_constraint("staff_account_email_key", || {
        ApiError::conflict("email_taken", "that e-mail address has an account")
    })?;
    platform::audit::record(
        &mut tx,
        practice,
        &platform::audit::AuditEvent {
            event: "practice_created",
            action: platform::audit::Action::Create,
            actor: None,
            support_grant: None,
            patient: None,
            purpose: "administration",
            route: "/v1/operator/practices",
            outcome: "success",
            reason: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedPractice {
        practice_id: practice,
        admin_staff_id,
        setup_token,
        setup_token_expires_at,
    })
}
