//! The jobs invoicing changes enqueue, in the transaction of the change.

use chrono::Utc;
use domain::PracticeId;
use domain::jobs::Claimable;
use platform::db::TenantTx;
use platform::jobs::enqueue;
use rust_decimal::Decimal;

use crate::invoices::store::Row;

/// An invoice or credit note was issued: claims learns of its insurer share, if it has one.
pub(crate) async fn issued(
    tx: &mut TenantTx,
    practice: PracticeId,
    row: &Row,
) -> Result<(), sqlx::Error> {
    if row.insurer_total > Decimal::ZERO {
        let job = Claimable {
            practice_id: practice,
            invoice_id: row.invoice_id,
        };
        enqueue(tx, &job, Utc::now()).await?;
    }
    Ok(())
}
