//! Notifications: SMS through LINK Mobility. This crate holds the provider clients so far;
//! reminders, templates, delivery reports, replies and opt-out build on them.

pub mod providers;

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
