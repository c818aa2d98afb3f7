//! The shared kernel's HTTP API: practices (operator), staff sign-in and accounts, patients,
//! and the audit trail. The tables live in schema `core`, owned by `shared/platform`.

pub mod audit_trail;
pub mod auth;
pub mod patients;
pub mod practices;
pub mod staff;
pub mod subprocessors;
pub mod support;

use platform::ApiRouter;

/// Every core route.
pub fn router() -> ApiRouter {
    ApiRouter::with_openapi(<CoreApi as utoipa::OpenApi>::openapi())
        .merge(practices::router())
        .merge(auth::router())
        .merge(staff::router())
        .merge(patients::router())
        .merge(audit_trail::router())
        .merge(support::router())
        .merge(subprocessors::router())
}

/// The OpenAPI description of the core routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    components(schemas(platform::error::Problem)),
    tags(
        (name = "operator", description = "Hosted-service operator: creating practices"),
        (name = "auth", description = "Staff sign-in: password, TOTP, sessions"),
        (name = "staff", description = "Staff accounts of a practice"),
        (name = "patients", description = "Patients: identity, contact, insurance, clinical summary"),
        (name = "audit", description = "The audit trail of access to personal data"),
        (name = "support", description = "Time-boxed, audited operator support access granted by a practice admin"),
        (name = "privacy", description = "Subprocessor register, objections and the disclosure log"),
    )
)]
pub struct CoreApi;
