//! A practice's own SMS account (credentials stored encrypted, never shown).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::practice::Permission;
use platform::auth::Staff;
use platform::json::ApiJson;
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The SMS account a practice's messages go through (secrets are never shown).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderAccount {
    /// `global` (the operator's account from configuration) or `practice` (its own).
    pub source: String,
    /// `link_platform` or `smsapi` (for a practice's own account).
    pub provider: Option<String>,
    /// API host.
    pub base_url: Option<String>,
    /// Sender id.
    pub sender: Option<String>,
    /// Last change.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A practice's own SMS account. Which fields are required depends on `provider`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderAccountInput {
    /// `link_platform` or `smsapi`.
    #[schema(pattern = r"^(link_platform|smsapi)$")]
    pub provider: String,
    /// API host (https; plain http only outside production, for simulators).
    #[schema(
        max_length = 200,
        pattern = r"^https?://[^\s\x00-\x1F\x7F-\x9F/]+(/[^\s\x00-\x1F\x7F-\x9F]*)?$"
    )]
    pub base_url: String,
    /// Sender id: 2 to 11 letters or digits, not starting with a digit.
    #[schema(pattern = r"^[A-Za-z][A-Za-z0-9]{1,10}$")]
    pub sender: String,
    /// LINK platform: Basic-auth user.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub username: Option<String>,
    /// LINK platform: Basic-auth password.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub password: Option<String>,
    /// LINK platform: `platformId`.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub platform_id: Option<String>,
    /// LINK platform: `platformPartnerId`.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub platform_partner_id: Option<String>,
    /// LINK platform: delivery-report gate id.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub gate_id: Option<String>,
    /// SMSAPI: OAuth token.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub token: Option<String>,
}

/// Shows which SMS account the practice uses.
#[utoipa::path(get, path = "/v1/notifications/provider", tag = "notifications", security(("session" = [])),
    responses((status = 200, body = ProviderAccount)))]
pub async fn get_provider(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<ProviderAccount>> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let row: Option<(String, String, String, DateTime<Utc>)> = sqlx::query_as(
        "select provider, base_url, sender, updated_at from notifications.provider_override",
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(match row {
        None => ProviderAccount {
            source: "global".into(),
            provider: None,
            base_url: None,
            sender: None,
            updated_at: None,
        },
        Some((provider, base_url, sender, updated_at)) => ProviderAccount {
            source: "practice".into(),
            provider: Some(provider),
            base_url: Some(base_url),
            sender: Some(sender),
            updated_at: Some(updated_at),
        },
    }))
}

fn required(field: &'static str, v: Option<String>) -> ApiResult<String> {
    match v.map(|s| s.trim().to_owned()) {
        Some(s) if !s.is_empty() && s.len() <= 500 => Ok(s),
        _ => Err(ApiError::invalid_field(
            field,
            "is required for this provider",
        )),
    }
}

/// Sets the practice's own SMS account (credentials are stored encrypted and never shown).
#[utoipa::path(put, path = "/v1/notifications/provider", tag = "notifications", security(("session" = [])),
    request_body = ProviderAccountInput,
    responses((status = 200, body = ProviderAccount), (status = 422, body = platform::error::Problem)))]
pub async fn put_provider(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(b): ApiJson<ProviderAccountInput>,
) -> ApiResult<Json<ProviderAccount>> {
    use crate::providers::AccountConfig;
    staff.require(&state, Permission::ScheduleManage).await?;
    let base_url = b.base_url.trim().trim_end_matches('/').to_owned();
    let production = state.settings().environment == platform::config::Environment::Production;
    let scheme_ok =
        base_url.starts_with("https://") || (!production && base_url.starts_with("http://"));
    if !scheme_ok || base_url.len() > 200 || base_url.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid_field(
            "base_url",
            "must be an https:// URL",
        ));
    }
    let sender = b.sender.trim().to_owned();
    let sender_ok = (2..=11).contains(&sender.len())
        && sender.chars().all(|c| c.is_ascii_alphanumeric())
        && !sender.starts_with(|c: char| c.is_ascii_digit());
    if !sender_ok {
        return Err(ApiError::invalid_field(
            "sender",
            "must be 2 to 11 letters or digits, not starting with a digit",
        ));
    }
    let config = match b.provider.as_str() {
        "link_platform" => AccountConfig::LinkPlatform {
            base_url: base_url.clone(),
            sender: sender.clone(),
            username: required("username", b.username)?,
            password: required("password", b.password)?,
            platform_id: required("platform_id", b.platform_id)?,
            platform_partner_id: required("platform_partner_id", b.platform_partner_id)?,
            gate_id: b.gate_id.filter(|g| !g.trim().is_empty()),
        },
        "smsapi" => AccountConfig::Smsapi {
            base_url: base_url.clone(),
            sender: sender.clone(),
            token: required("token", b.token)?,
        },
        _ => {
            return Err(ApiError::invalid_field(
                "provider",
                "must be link_platform or smsapi",
            ));
        }
    };
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    let keys = state.practice_keys(&mut tx, practice).await?;
    let plain = serde_json::to_vec(&config).map_err(ApiError::internal)?;
    let sealed = keys.encrypt(crate::providers::account_field(practice), &plain);
    sqlx::query(
        r#"insert into notifications.provider_override (practice_id, provider, base_url, sender, config_enc, updated_by)
           values ($1, $2, $3, $4, $5, $6)
           on conflict (practice_id) do update set provider = excluded.provider, base_url = excluded.base_url,
               sender = excluded.sender, config_enc = excluded.config_enc, updated_by = excluded.updated_by, updated_at = now()"#,
    )
    .bind(practice.as_uuid())
    .bind(&b.provider)
    .bind(&base_url)
    .bind(&sender)
    .bind(sealed)
    .bind(staff.staff_id().as_uuid())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    get_provider(State(state), staff).await
}

/// Goes back to the operator's global account.
#[utoipa::path(delete, path = "/v1/notifications/provider", tag = "notifications", security(("session" = [])),
    responses((status = 200, body = ProviderAccount)))]
pub async fn delete_provider(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<ProviderAccount>> {
    staff.require(&state, Permission::ScheduleManage).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    sqlx::query("delete from notifications.provider_override")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    get_provider(State(state), staff).await
}
