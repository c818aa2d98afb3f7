//! What can go wrong with batches and claim files, below HTTP; one conversion decides the
//! problem answers.

use domain::claims::BatchState;
use platform::ApiError;

use crate::vektis::validate::Finding;

/// A batch change that did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BatchError {
    /// No such batch in this practice.
    #[error("batch not found")]
    NotFound,
    /// The insurer code is not one of the practice's country.
    #[error("the insurer must be a {0}")]
    InsurerFormat(&'static str),
    /// Nothing of this insurer and period is ready.
    #[error("no line of this insurer and period is ready to be claimed")]
    NothingReady,
    /// The state does not allow this.
    #[error("the batch is {from}; it cannot be {verb}")]
    InvalidTransition {
        /// Where it stands.
        from: BatchState,
        /// What was asked.
        verb: &'static str,
    },
    /// The file the lines make fails the validator; nothing was stored.
    #[error("the file would fail the insurer's checks")]
    Invalid(Vec<Finding>),
    /// A value of a line does not fit the file (a reference too long, say).
    #[error("a line does not fit the file: {0}")]
    DoesNotFit(String),
    /// A return file that breaks the standard.
    #[error("the return file breaks the standard")]
    ReturnInvalid(Vec<Finding>),
    /// A return file that answers no batch of this practice.
    #[error("the return file answers no sent batch of this practice")]
    ReturnUnknown,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// Anything else (keys, decryption).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

fn findings(e: ApiError, f: &[Finding]) -> ApiError {
    e.with_extension(
        "findings",
        serde_json::to_value(f).unwrap_or(serde_json::Value::Null),
    )
}

impl From<BatchError> for ApiError {
    fn from(e: BatchError) -> ApiError {
        match e {
            BatchError::NotFound => ApiError::not_found("batch_not_found", "batch_id"),
            BatchError::InsurerFormat(_) | BatchError::NothingReady => {
                ApiError::invalid_field("insurer", e.to_string())
            }
            BatchError::InvalidTransition { .. } => {
                ApiError::conflict("invalid_transition", e.to_string())
            }
            BatchError::Invalid(ref f) => findings(
                ApiError::invalid_field("lines", e.to_string()).with_code("file_invalid"),
                f,
            ),
            BatchError::DoesNotFit(_) => {
                ApiError::invalid_field("lines", e.to_string()).with_code("file_invalid")
            }
            BatchError::ReturnInvalid(ref f) => findings(
                ApiError::invalid_field("body", e.to_string()).with_code("return_file_invalid"),
                f,
            ),
            BatchError::ReturnUnknown => {
                ApiError::invalid_field("body", e.to_string()).with_code("return_file_unknown")
            }
            BatchError::Db(e) => e.into(),
            BatchError::Other(e) => ApiError::internal(e),
        }
    }
}
