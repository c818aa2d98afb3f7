//! The documents of an issued invoice or credit note: what they show ([`DocumentData`],
//! gathered from the invoice, the practice's invoicing details and the patient), the PDF
//! ([`pdf`]), and their storage: written once — by the job issuing enqueues, or on the first
//! download if that comes first — encrypted with the practice key, and served unchanged
//! afterwards, whatever changes later in the practice's details or the patient's address.

mod data;
pub(crate) mod labels;
pub mod pdf;
pub mod routes;
pub mod ubl;

pub use data::{Buyer, DocumentData, DocumentLine, DocumentTotals, Seller, address_lines};

use domain::invoice::InvoiceStatus;
use domain::jobs::RenderDocuments;
use domain::practice::Language;
use domain::{InvoiceId, PracticeId};
use platform::crypto::{FieldRef, PracticeKeys};
use platform::db::TenantTx;
use platform::{ApiError, AppState};

use crate::invoices::store::{self, Row};
use crate::settings;

/// A stored document format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// The PDF.
    Pdf,
    /// Peppol BIS Billing 3.0 UBL.
    Ubl,
}

impl Format {
    fn as_str(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Ubl => "ubl",
        }
    }
}

fn field(practice: PracticeId, invoice: InvoiceId, format: Format) -> FieldRef {
    FieldRef {
        practice,
        table: "invoicing.document",
        column: format.as_str(),
        row: invoice.as_uuid(),
    }
}

/// Gathers what the document of the issued `row` shows.
pub(crate) async fn gather(
    tx: &mut TenantTx,
    keys: &PracticeKeys,
    practice: PracticeId,
    row: &Row,
) -> Result<DocumentData, ApiError> {
    let (s, place) = settings::load_with_place(tx).await?;
    let missing = || ApiError::internal(anyhow::anyhow!("an issued invoice without its details"));
    let buyer = platform::patients::addressee(tx, keys, practice, row.patient_id)
        .await?
        .ok_or_else(missing)?;
    let payer = match row.payer_id {
        Some(id) => crate::payers::load(tx, keys, practice, id).await?,
        None => None,
    };
    let lines = store::lines(tx, row.invoice_id).await?;
    let corrects = match row.corrects_invoice_id {
        Some(id) => store::load(tx, id, false).await?.number,
        None => None,
    };
    let language = Language::parse(&row.language).unwrap_or(buyer.language);
    let seller_address = domain::people::PostalAddress {
        street: s.street.clone().ok_or_else(missing)?,
        number: s.house_number.clone().unwrap_or_default(),
        box_number: s.box_number.clone(),
        postcode: s.postcode.clone().ok_or_else(missing)?,
        city: s.city.clone().ok_or_else(missing)?,
        country: s.country.clone().ok_or_else(missing)?,
    };
    Ok(DocumentData {
        kind: row.kind,
        language,
        country: place.country,
        number: row.number.clone().ok_or_else(missing)?,
        issue_date: row.issue_date.ok_or_else(missing)?,
        due_date: row.due_date.ok_or_else(missing)?,
        corrects,
        seller: Seller {
            name: s.legal_name.clone().ok_or_else(missing)?,
            address: seller_address,
            enterprise_number: s.enterprise_number.clone().ok_or_else(missing)?,
            vat_number: s.vat_number.clone(),
            provider_number: s.provider_number.clone(),
            iban: s.iban.clone().ok_or_else(missing)?,
            bic: s.bic.clone(),
        },
        buyer: match payer {
            Some(p) => Buyer {
                name: p.name,
                address: Some(p.address),
                peppol_id: p.peppol_id,
            },
            None => Buyer {
                name: buyer.name,
                address: buyer.address,
                peppol_id: None,
            },
        },
        lines: lines
            .into_iter()
            .map(|l| DocumentLine {
                service_date: l.service_date,
                code: l.code,
                label: l.label,
                quantity: l.quantity,
                unit_price: l.unit_price,
                net: l.net_amount,
                vat_category: l.vat_category,
                vat_rate: l.vat_rate,
                vat: l.vat_amount,
                exemption_reason: l.vat_exemption_reason,
            })
            .collect(),
        totals: DocumentTotals {
            net: row.net_total,
            vat: row.vat_total,
            total: row.total,
            insurer: row.insurer_total,
            patient: row.patient_total,
        },
        payment_reference: crate::invoices::printed_reference(row.payment_reference.clone()),
    })
}

/// The stored document, decrypted.
async fn stored(
    tx: &mut TenantTx,
    keys: &PracticeKeys,
    practice: PracticeId,
    invoice: InvoiceId,
    format: Format,
) -> Result<Option<Vec<u8>>, ApiError> {
    let enc: Option<Vec<u8>> = sqlx::query_scalar(
        "select content_enc from invoicing.document where invoice_id = $1 and format = $2",
    )
    .bind(invoice)
    .bind(format.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(enc
        .map(|c| keys.decrypt(field(practice, invoice, format), &c))
        .transpose()?)
}

/// A document of an issued invoice or credit note: the stored one, or written now and stored
/// (when two writers race, the first stored wins and both answer it). `None`: a UBL document
/// for a buyer without a Peppol participant id (a patient), which has none.
pub(crate) async fn document(
    tx: &mut TenantTx,
    state: &AppState,
    practice: PracticeId,
    row: &Row,
    format: Format,
) -> Result<Option<Vec<u8>>, ApiError> {
    let keys = state.practice_keys(tx, practice).await?;
    if let Some(bytes) = stored(tx, &keys, practice, row.invoice_id, format).await? {
        return Ok(Some(bytes));
    }
    let data = gather(tx, &keys, practice, row).await?;
    let bytes = match format {
        Format::Pdf => pdf::render(&data).map_err(ApiError::internal)?,
        Format::Ubl => match ubl::write(&data) {
            Ok(xml) => xml.into_bytes(),
            Err(ubl::UblError::NoParticipant) => return Ok(None),
            Err(e) => return Err(ApiError::internal(e)),
        },
    };
    let enc = keys.encrypt(field(practice, row.invoice_id, format), &bytes);
    sqlx::query(
        "insert into invoicing.document (practice_id, invoice_id, format, content_enc) values ($1, $2, $3, $4)
         on conflict do nothing",
    )
    .bind(practice)
    .bind(row.invoice_id)
    .bind(format.as_str())
    .bind(enc)
    .execute(&mut **tx)
    .await?;
    Ok(Some(
        stored(tx, &keys, practice, row.invoice_id, format)
            .await?
            .unwrap_or(bytes),
    ))
}

/// The job issuing enqueues: writes the documents of one issued invoice or credit note.
pub async fn render_documents(
    state: &AppState,
    payload: serde_json::Value,
) -> anyhow::Result<&'static str> {
    use anyhow::Context;
    let job: RenderDocuments =
        serde_json::from_value(payload).context("a render-documents payload")?;
    let ctx = || format!("documents of invoice {}", job.invoice_id);
    let mut tx = state.db().tenant(job.practice_id).await.with_context(ctx)?;
    let row = store::load(&mut tx, job.invoice_id, false)
        .await
        .map_err(anyhow::Error::from)
        .with_context(ctx)?;
    if row.status == InvoiceStatus::Draft {
        return Ok("draft");
    }
    for format in [Format::Pdf, Format::Ubl] {
        document(&mut tx, state, job.practice_id, &row, format)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))
            .with_context(ctx)?;
    }
    tx.commit().await.with_context(ctx)?;
    Ok("written")
}
