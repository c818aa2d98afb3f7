//! The jobs invoicing changes enqueue, in the transaction of the change.

use chrono::Utc;
use domain::PracticeId;
use domain::jobs::{Claimable, RenderDocuments};
use platform::db::TenantTx;
use platform::jobs::Enqueue;
use rust_decimal::Decimal;

use crate::invoices::store::Row;

/// An invoice or credit note is being issued: its documents are written once it is, and
/// claims learns of its insurer share, if it has one.
pub(crate) async fn issued(
    tx: &mut TenantTx,
    practice: PracticeId,
    row: &Row,
) -> Result<(), sqlx::Error> {
    let render = RenderDocuments {
        practice_id: practice,
        invoice_id: row.invoice_id,
    };
    let now = Utc::now();
    let mut jobs = Enqueue::default();
    jobs.add(&render, now)?;
    if row.insurer_total > Decimal::ZERO {
        let job = Claimable {
            practice_id: practice,
            invoice_id: row.invoice_id,
        };
        jobs.add(&job, now)?;
    }
    jobs.send(tx).await?;
    Ok(())
}
