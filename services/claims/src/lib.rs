//! Claims: insurer claim batches and files (Vektis PM304/PM305, eFact) and return files. Built in its own issue; this crate already takes part in routing, `--only` and OpenAPI.

use platform::ApiRouter;

/// This service's routes.
pub fn router() -> ApiRouter {
    ApiRouter::with_openapi(<Api as utoipa::OpenApi>::openapi())
}

/// This service's OpenAPI description.
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Api;
