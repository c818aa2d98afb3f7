//! What can go wrong when an appointment changes, below HTTP: the change path returns these,
//! and the one conversion at the bottom turns them into problem answers.

use domain::AppointmentId;
use domain::appointment::{AppointmentStatus, Transition};
use platform::ApiError;

/// A change of an appointment that did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChangeError {
    /// No such appointment in this practice.
    #[error("appointment not found")]
    NotFound,
    /// The patient named does not exist in this practice.
    #[error("patient not found")]
    PatientNotFound,
    /// The status does not allow the change.
    #[error("cannot {} an appointment that is {from}", transition.verb())]
    InvalidTransition {
        /// Where it stands.
        from: AppointmentStatus,
        /// What was asked.
        transition: Transition,
    },
    /// A hold that lapsed or was never one.
    #[error("appointment {id} is not a live hold (it is {from})")]
    HoldNotActive {
        /// The appointment.
        id: AppointmentId,
        /// Where it stands.
        from: AppointmentStatus,
    },
    /// Completion or no-show before the start.
    #[error("the appointment has not started yet")]
    NotStarted,
    /// The time is taken; by this appointment when it is known.
    #[error("the time is taken")]
    Conflict(Option<AppointmentId>),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> ApiError {
        match e {
            ChangeError::NotFound => ApiError::not_found("appointment_not_found", "appointment_id"),
            ChangeError::PatientNotFound => ApiError::not_found("patient_not_found", "patient_id"),
            ChangeError::InvalidTransition { .. } => {
                ApiError::conflict("invalid_transition", e.to_string()).with_field("status")
            }
            ChangeError::HoldNotActive { .. } => {
                ApiError::conflict("hold_not_active", e.to_string())
            }
            ChangeError::NotStarted => {
                ApiError::conflict("appointment_not_started", e.to_string()).with_field("status")
            }
            ChangeError::Conflict(Some(other)) => ApiError::conflict(
                "appointment_conflict",
                format!("overlaps appointment {other}"),
            )
            .with_field("starts_at")
            .with_extension("conflicting_appointment_id", other.to_string()),
            ChangeError::Conflict(None) => {
                ApiError::conflict("appointment_conflict", "the time was just taken")
                    .with_field("starts_at")
            }
            ChangeError::Db(e) => e.into(),
        }
    }
}
