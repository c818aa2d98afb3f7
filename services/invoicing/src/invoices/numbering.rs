//! Invoice and credit note numbers: given at issue, never to drafts, per practice, series and
//! year, from a counter row that the issuing transaction increments and so holds locked until
//! it ends. Two issues in one series queue behind each other for the length of one
//! transaction; a transaction that rolls back gives its number back, so numbers are
//! consecutive with no gaps and no reuse.
//!
//! Format: `<prefix><year>-<sequence>`, the sequence zero-padded to the practice's digits
//! (`2026-000123`, `C2026-000007`). The year is always part of it: sequences restart yearly.

use domain::PracticeId;
use domain::invoice::InvoiceKind;
use platform::db::TenantTx;

/// The counter's series for a kind of document.
pub fn series(kind: InvoiceKind) -> &'static str {
    match kind {
        InvoiceKind::Invoice => "invoice",
        InvoiceKind::CreditNote => "credit_note",
    }
}

/// The statement that takes the next number: `$1` practice, `$2` series, `$3` year; answers
/// `next_seq`. Issuing runs it as the first part of its last statement
/// ([`super::store::set_issued`]); [`next`] runs it alone.
pub(crate) const TAKE_NEXT: &str =
    "insert into invoicing.number_counter as c (practice_id, series, year, last_number)
     values ($1, $2, $3, 1)
     on conflict (practice_id, series, year) do update set last_number = c.last_number + 1
     returning last_number as next_seq";

/// Takes the next number of `kind` in `year`, in the caller's transaction (the counter row
/// stays locked until it commits or rolls back).
pub async fn next(
    tx: &mut TenantTx,
    practice: PracticeId,
    kind: InvoiceKind,
    year: i32,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(TAKE_NEXT)
        .bind(practice)
        .bind(series(kind))
        .bind(year)
        .fetch_one(&mut **tx)
        .await
}

/// The printed number.
pub fn format(prefix: &str, year: i32, seq: i32, digits: i32) -> String {
    let width = usize::try_from(digits).unwrap_or(6);
    format!("{prefix}{year}-{seq:0width$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_carry_prefix_year_and_padded_sequence() {
        assert_eq!(format("", 2026, 123, 6), "2026-000123");
        assert_eq!(format("C", 2027, 7, 4), "C2027-0007");
        // A sequence wider than its padding is printed whole, never cut.
        assert_eq!(format("F", 2026, 12_345, 3), "F2026-12345");
    }
}
