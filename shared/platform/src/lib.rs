//! Run-time foundations every service uses: configuration, the database and tenancy,
//! field encryption, staff authentication, the audit trail, HTTP conventions and telemetry.
//!
//! Services build on [`AppState`]: it carries the application-role pool, the keyring and the
//! settings, and every request and job reaches tenant data through [`db::Db::tenant`].

pub mod audit;
pub mod auth;
pub mod config;
pub mod crypto;
pub mod db;
pub mod egress;
pub mod error;
pub mod http;
pub mod idempotency;
pub mod jobs;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod patients;
pub mod state;
pub mod telemetry;
pub mod versions;

pub use config::Settings;
pub use error::{ApiError, ApiResult};
pub use state::AppState;

/// The router every service builds: each handler is registered once, with `routes!`, and the
/// same list gives both the axum routes and the OpenAPI paths (`docs/CONVENTIONS.md`).
pub type ApiRouter = utoipa_axum::router::OpenApiRouter<AppState>;
