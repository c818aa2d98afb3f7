//! Notifications: SMS through LINK Mobility, templates, reminders, delivery reports, replies and opt-out. Built in its own issue; this crate already takes part in routing, `--only` and OpenAPI.

use axum::Router;
use platform::AppState;

/// This service's routes.
pub fn router() -> Router<AppState> {
    Router::new()
}

/// This service's OpenAPI description.
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Api;
