//! Invoicing: invoices, credit notes and payments (Stripe). Built in its own issue; this crate already takes part in routing, `--only` and OpenAPI.

pub mod stripe;

use platform::ApiRouter;

/// This service's routes.
pub fn router() -> ApiRouter {
    ApiRouter::with_openapi(<Api as utoipa::OpenApi>::openapi())
}

/// This service's OpenAPI description.
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Api;
