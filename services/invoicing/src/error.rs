//! What can go wrong in invoicing, below HTTP: the change paths return these, and the one
//! conversion at the bottom turns them into problem answers.

use domain::invoice::InvoiceStatus;
use platform::ApiError;

/// A change in invoicing that did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InvoiceError {
    /// No such invoice in this practice.
    #[error("invoice not found")]
    NotFound,
    /// No such patient in this practice.
    #[error("patient not found")]
    PatientNotFound,
    /// No such payer in this practice.
    #[error("payer not found")]
    PayerNotFound,
    /// No such tariff in this practice (field names the list entry).
    #[error("tariff not found")]
    TariffNotFound(String),
    /// The tariff does not apply on the service date (field names the list entry).
    #[error("the tariff does not apply on the service date")]
    TariffNotValid(String),
    /// A line number the invoice does not have (field names the list entry).
    #[error("line {line_no} not found")]
    LineNotFound {
        /// The line asked for.
        line_no: i32,
        /// The request field.
        field: String,
    },
    /// A change that only drafts allow.
    #[error("the invoice is {0}; only a draft changes")]
    NotDraft(InvoiceStatus),
    /// Issuing a draft without lines.
    #[error("an invoice needs at least one line")]
    Empty,
    /// Too many lines on one invoice.
    #[error("an invoice has at most {0} lines")]
    TooManyLines(i32),
    /// The status does not allow this.
    #[error("cannot {verb} an invoice that is {from}")]
    InvalidTransition {
        /// Where it stands.
        from: InvoiceStatus,
        /// What was asked.
        verb: &'static str,
    },
    /// A credit note cannot itself be credited, paid or written off.
    #[error("a credit note cannot be {0}")]
    CreditNote(&'static str),
    /// A line that an earlier credit note already took back.
    #[error("line {line_no} is already credited")]
    LineAlreadyCredited {
        /// The line.
        line_no: i32,
        /// The request field.
        field: String,
    },
    /// The practice's invoicing details are not complete enough to issue.
    #[error("the practice's invoicing details lack {0}")]
    SettingsIncomplete(&'static str),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<InvoiceError> for ApiError {
    fn from(e: InvoiceError) -> ApiError {
        match e {
            InvoiceError::NotFound => ApiError::not_found("invoice_not_found", "invoice_id"),
            InvoiceError::PatientNotFound => ApiError::not_found("patient_not_found", "patient_id"),
            InvoiceError::PayerNotFound => ApiError::not_found("payer_not_found", "payer_id"),
            InvoiceError::TariffNotFound(field) => {
                ApiError::not_found("tariff_not_found", "tariff_id").with_field(field)
            }
            InvoiceError::TariffNotValid(ref field) => {
                ApiError::invalid_field(field.clone(), e.to_string())
            }
            InvoiceError::LineNotFound { ref field, .. } => {
                ApiError::invalid_field(field.clone(), e.to_string())
            }
            InvoiceError::LineAlreadyCredited { ref field, .. } => {
                let field = field.clone();
                ApiError::conflict("line_already_credited", e.to_string()).with_field(field)
            }
            InvoiceError::NotDraft(_) => {
                ApiError::conflict("invoice_not_draft", e.to_string()).with_field("status")
            }
            InvoiceError::Empty | InvoiceError::TooManyLines(_) => {
                ApiError::invalid_field("lines", e.to_string())
            }
            InvoiceError::InvalidTransition { .. } | InvoiceError::CreditNote(_) => {
                ApiError::conflict("invalid_transition", e.to_string()).with_field("status")
            }
            InvoiceError::SettingsIncomplete(field) => {
                ApiError::conflict("invoicing_settings_incomplete", e.to_string()).with_field(field)
            }
            InvoiceError::Db(e) => e.into(),
        }
    }
}
