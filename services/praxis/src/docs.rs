//! `/openapi.json`, the API description, and `/docs`, an API explorer over it (Swagger UI):
//! operations grouped by tag, their parameters, request and response schemas with examples, and
//! "try it out" against this server.
//!
//! The explorer's files are built into the binary (utoipa-swagger-ui with its `vendored`
//! assets): nothing is fetched from a CDN, at build or at run time, and it works offline. Its
//! pages get their own, looser Content-Security-Policy ([`DOCS_CSP`], applied by
//! `platform::http` to `/docs` and below only); every other answer keeps `default-src 'none'`.

use std::sync::OnceLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use platform::AppState;
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Where the explorer lives.
pub const DOCS_PATH: &str = "/docs";

pub(crate) fn router() -> Router<AppState> {
    let config = Config::from("/openapi.json")
        // No "explore another URL" bar: this explorer shows this server's description only.
        .use_base_layout()
        // Try-it-out is on at once: the explorer is for working against this server.
        .try_it_out_enabled(true)
        .filter(true)
        .display_request_duration(true)
        .display_operation_id(false)
        .deep_linking(true)
        .doc_expansion("list")
        // A session token typed into "Authorize" is kept only for the page's lifetime, never
        // in the browser's storage.
        .persist_authorization(false)
        .with_credentials(false);
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .merge(SwaggerUi::new(DOCS_PATH).config(config))
}

fn spec_json() -> &'static str {
    static SPEC: OnceLock<String> = OnceLock::new();
    SPEC.get_or_init(|| {
        serde_json::to_string_pretty(&crate::openapi()).expect("the OpenAPI description serialises")
    })
}

async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], spec_json())
}
