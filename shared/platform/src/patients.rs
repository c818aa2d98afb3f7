//! What every service may ask of the shared kernel's patients (`core.patient`) without owning
//! them: whether one exists in the practice of the transaction.

use crate::db::TenantTx;
use crate::error::ApiError;
use domain::PatientId;

/// Whether the patient exists in the transaction's practice (row-level security hides every
/// other practice's patients, so another practice's id answers `false` like an unknown one).
pub async fn exists(tx: &mut TenantTx, patient: PatientId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select exists (select 1 from core.patient where patient_id = $1)")
        .bind(patient.as_uuid())
        .fetch_one(&mut **tx)
        .await
}

/// Requires the patient named by the path: 404 `patient_not_found` otherwise.
pub async fn require(tx: &mut TenantTx, patient: PatientId) -> Result<(), ApiError> {
    if exists(tx, patient).await? {
        Ok(())
    } else {
        Err(ApiError::not_found("patient_not_found", "patient_id"))
    }
}
