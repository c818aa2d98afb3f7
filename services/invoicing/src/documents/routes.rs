//! The documents over HTTP: the PDF of any issued invoice or credit note, the Peppol UBL of one
//! addressed to a payer with a participant id. Each download is an audit row (the documents
//! carry the patient's or payer's name and address).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use domain::InvoiceId;
use domain::invoice::InvoiceStatus;
use domain::practice::Permission;
use platform::audit::Action;
use platform::auth::Staff;
use platform::json::ApiPath;
use platform::{ApiError, ApiResult, ApiRouter, AppState};
use utoipa_axum::routes;

use super::{Format, document};
use crate::invoices::store;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(get_invoice_pdf))
        .routes(routes!(get_invoice_ubl))
}

async fn serve(
    state: &AppState,
    staff: &Staff,
    id: InvoiceId,
    format: Format,
) -> ApiResult<axum::response::Response> {
    staff.require(state, Permission::InvoiceRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let row = store::load(&mut tx, id, false).await?;
    if row.status == InvoiceStatus::Draft {
        return Err(
            ApiError::conflict("invoice_not_issued", "a draft has no document yet")
                .with_field("status"),
        );
    }
    crate::invoices::record(&mut tx, staff, "sensitive_read", Action::Read, &row).await?;
    let bytes = document(&mut tx, state, staff.practice(), &row, format)
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                "no_peppol_participant",
                "a Peppol e-invoice goes to a payer with a Peppol participant id; this one is addressed to a patient",
            )
            .with_field("payer_id")
        })?;
    tx.commit().await?;
    let (mime, extension) = match format {
        Format::Pdf => ("application/pdf", "pdf"),
        Format::Ubl => ("application/xml", "xml"),
    };
    let name = format!(
        "attachment; filename=\"{}.{extension}\"",
        row.number.as_deref().unwrap_or("invoice")
    );
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (header::CONTENT_DISPOSITION, name),
        ],
        bytes,
    )
        .into_response())
}

/// The PDF of an issued invoice or credit note, in the patient's language: written once and
/// served unchanged afterwards.
#[utoipa::path(get, path = "/v1/invoices/{invoice_id}/pdf", tag = "invoicing", security(("session" = [])),
    params(("invoice_id" = InvoiceId, Path, description = "The invoice or credit note")),
    responses((status = 200, description = "The PDF", content_type = "application/pdf", body = Vec<u8>),
              (status = 409, description = "A draft has no document yet", body = platform::error::Problem)))]
pub async fn get_invoice_pdf(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<InvoiceId>,
) -> ApiResult<axum::response::Response> {
    serve(&state, &staff, id, Format::Pdf).await
}

/// The Peppol BIS Billing 3.0 UBL document of an issued invoice or credit note addressed to a
/// payer with a Peppol participant id: written once and served unchanged afterwards.
#[utoipa::path(get, path = "/v1/invoices/{invoice_id}/ubl", tag = "invoicing", security(("session" = [])),
    params(("invoice_id" = InvoiceId, Path, description = "The invoice or credit note")),
    responses((status = 200, description = "The UBL document", content_type = "application/xml", body = String),
              (status = 409, description = "A draft, or addressed to a patient (no Peppol participant)", body = platform::error::Problem)))]
pub async fn get_invoice_ubl(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<InvoiceId>,
) -> ApiResult<axum::response::Response> {
    serve(&state, &staff, id, Format::Ubl).await
}
