//! The shared kernel's HTTP API: practices (operator), staff sign-in and accounts, patients,
//! and the audit trail. The tables live in schema `core`, owned by `shared/platform`.

pub mod audit_trail;
pub mod auth;
pub mod patients;
pub mod practices;
pub mod staff;
pub mod subprocessors;
pub mod support;

use axum::Router;
use platform::AppState;

/// Every core route.
pub fn router() -> Router<AppState> {
    Router::new()
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
    paths(
        practices::create_practice,
        auth::login,
        auth::setup,
        auth::enrol_totp,
        auth::confirm_totp,
        auth::verify_totp,
        auth::current_session,
        auth::logout,
        auth::change_password,
        staff::list_staff,
        staff::create_staff,
        staff::unlock_staff,
        staff::reset_staff,
        staff::deactivate_staff,
        patients::create_patient,
        patients::get_patient,
        patients::update_patient,
        patients::list_patients,
        patients::search_patients,
        patients::give_sms_consent,
        patients::withdraw_sms_consent,
        patients::restrict_processing,
        patients::lift_restriction,
        audit_trail::list_audit_events,
        support::create_support_grant,
        support::list_support_grants,
        support::revoke_support_grant,
        subprocessors::list_subprocessors,
        subprocessors::object,
        subprocessors::withdraw_objection,
        subprocessors::list_disclosures,
    ),
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
