//! The `claims.batch` table: its row, its columns and every statement that writes it, and the
//! statements that move lines in and out of batches.

use chrono::{DateTime, NaiveDate, Utc};
use domain::claims::{BatchOutcome, BatchState, ClaimFormat, ClaimLineState};
use domain::{ClaimBatchId, PatientId, PracticeId, StaffId};
use platform::db::TenantTx;
use rust_decimal::Decimal;

/// A batch as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Row {
    pub batch_id: ClaimBatchId,
    #[sqlx(try_from = "String")]
    pub format: ClaimFormat,
    pub insurer: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    #[sqlx(try_from = "String")]
    pub state: BatchState,
    pub outcome: Option<String>,
    pub file_number: Option<String>,
    pub line_count: i32,
    pub total: Decimal,
    pub granted: Option<Decimal>,
    pub created_at: DateTime<Utc>,
    pub generated_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
}

pub(crate) const COLUMNS: &str = "batch_id, format, insurer, period_start, period_end, state, outcome, file_number, \
     line_count, total, granted, created_at, generated_at, sent_at, answered_at";

/// One batch, locked for a change when `lock`.
pub(crate) async fn load(
    tx: &mut TenantTx,
    id: ClaimBatchId,
    lock: bool,
) -> Result<Option<Row>, sqlx::Error> {
    let lock = if lock { " for update" } else { "" };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from claims.batch where batch_id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// The batches, newest first.
pub(crate) async fn list(
    tx: &mut TenantTx,
    state: Option<BatchState>,
    limit: i64,
) -> Result<Vec<Row>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from claims.batch where ($1::text is null or state = $1)
          order by created_at desc, batch_id limit $2"
    )))
    .bind(state)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// What a new batch is.
pub(crate) struct NewBatch<'a> {
    pub format: ClaimFormat,
    pub insurer: &'a str,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub by: StaffId,
}

/// A draft batch taking every ready line of its insurer and period that no batch holds;
/// `None` if there is none (nothing is written then).
pub(crate) async fn insert_with_lines(
    tx: &mut TenantTx,
    practice: PracticeId,
    b: &NewBatch<'_>,
) -> Result<Option<Row>, sqlx::Error> {
    let id = ClaimBatchId::new();
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with taken as (
             update claims.claim_line set batch_id = $2, state = $7
              where state = $8 and batch_id is null and insurer = $4
                and service_date between $5 and $6
             returning kind, amount),
         b as (
             insert into claims.batch (practice_id, batch_id, format, insurer, period_start, period_end,
                                       created_by, line_count, total)
             select $1, $2, $3, $4, $5, $6, $9, count(*),
                    coalesce(sum(case when kind = 'credit' then -amount else amount end), 0)
               from taken having count(*) > 0
             returning {COLUMNS})
         select {COLUMNS} from b"
    )))
    .bind(practice)
    .bind(id)
    .bind(b.format)
    .bind(b.insurer)
    .bind(b.period_start)
    .bind(b.period_end)
    .bind(ClaimLineState::Batched)
    .bind(ClaimLineState::Ready)
    .bind(b.by)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row)
}

/// Throws a draft away; its lines are ready again.
pub(crate) async fn delete_draft(tx: &mut TenantTx, id: ClaimBatchId) -> Result<(), sqlx::Error> {
    sqlx::query("update claims.claim_line set batch_id = null, state = $2 where batch_id = $1")
        .bind(id)
        .bind(ClaimLineState::Ready)
        .execute(&mut **tx)
        .await?;
    sqlx::query("delete from claims.batch where batch_id = $1 and state = 'draft'")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The next file number of the practice and year (row-locked counter: no gap, no reuse).
pub(crate) async fn next_file_number(
    tx: &mut TenantTx,
    practice: PracticeId,
    year: i32,
) -> Result<String, sqlx::Error> {
    let n: i32 = sqlx::query_scalar(
        "insert into claims.file_counter as c (practice_id, year, last_number) values ($1, $2, 1)
         on conflict (practice_id, year) do update set last_number = c.last_number + 1
         returning last_number",
    )
    .bind(practice)
    .bind(year)
    .fetch_one(&mut **tx)
    .await?;
    Ok(format!("{year:04}{n:08}"))
}

/// Marks a batch generated under `file_number`.
pub(crate) async fn set_generated(
    tx: &mut TenantTx,
    id: ClaimBatchId,
    file_number: &str,
) -> Result<Row, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update claims.batch set state = $2, file_number = $3, generated_at = now(), version = version + 1
          where batch_id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(BatchState::Generated)
    .bind(file_number)
    .fetch_one(&mut **tx)
    .await
}

/// Marks a batch sent.
pub(crate) async fn set_sent(tx: &mut TenantTx, id: ClaimBatchId) -> Result<Row, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update claims.batch set state = $2, sent_at = now(), version = version + 1
          where batch_id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(BatchState::Sent)
    .fetch_one(&mut **tx)
    .await
}

/// Marks a batch answered.
pub(crate) async fn set_answered(
    tx: &mut TenantTx,
    id: ClaimBatchId,
    outcome: BatchOutcome,
    granted: Decimal,
) -> Result<Row, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update claims.batch set state = $2, outcome = $3, granted = $4, answered_at = now(), version = version + 1
          where batch_id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(BatchState::Answered)
    .bind(outcome)
    .bind(granted)
    .fetch_one(&mut **tx)
    .await
}

/// A batch by the file number its return file names.
pub(crate) async fn by_file_number(
    tx: &mut TenantTx,
    file_number: &str,
) -> Result<Option<Row>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from claims.batch where file_number = $1 for update"
    )))
    .bind(file_number)
    .fetch_optional(&mut **tx)
    .await
}

/// `from … where` of a batch's lines with everything its files say of them — the patient, the
/// invoice and its line, the line a credit corrects, the practitioner, the referral — joined on full keys
/// (`practice_id` first), so every join is an index lookup with or without row-level security.
pub(crate) fn lines_from(batch: ClaimBatchId) -> String {
    format!(
        "from claims.claim_line l
           join core.patient p on p.practice_id = l.practice_id and p.patient_id = l.patient_id
           join invoicing.invoice i on i.practice_id = l.practice_id and i.invoice_id = l.invoice_id
           join invoicing.invoice_line il
             on il.practice_id = l.practice_id and il.invoice_id = l.invoice_id and il.line_no = l.invoice_line_no
           left join claims.claim_line c on c.practice_id = l.practice_id and c.line_id = l.corrects_line_id
           left join scheduling.appointment a on a.practice_id = il.practice_id and a.appointment_id = il.appointment_id
           left join scheduling.practitioner pr on pr.practice_id = a.practice_id and pr.practitioner_id = a.practitioner_id
           left join core.referral rf on rf.practice_id = l.practice_id and rf.referral_id = l.referral_id
          where l.batch_id = '{}'",
        batch.as_uuid()
    )
}

/// The patients whose data a batch's files carry (for the audit trail).
pub(crate) async fn patients(
    tx: &mut TenantTx,
    batch: ClaimBatchId,
) -> Result<Vec<Option<PatientId>>, sqlx::Error> {
    let ids: Vec<PatientId> = sqlx::query_scalar(
        "select distinct patient_id from claims.claim_line where batch_id = $1 order by patient_id",
    )
    .bind(batch)
    .fetch_all(&mut **tx)
    .await?;
    Ok(ids.into_iter().map(Some).collect())
}

/// A server-side cursor over a batch's lines, read a page at a time in the caller's
/// transaction (a file of any size with the memory of one page).
pub(crate) struct LineCursor {
    name: &'static str,
}

impl LineCursor {
    /// Rows per fetch.
    const PAGE: i64 = 2_000;

    /// Declares the cursor `name` over `query`, planned for the whole result (it is read to
    /// its end), not for its first rows.
    pub(crate) async fn open(
        tx: &mut TenantTx,
        name: &'static str,
        query: String,
    ) -> Result<Self, sqlx::Error> {
        sqlx::query("set local cursor_tuple_fraction = 1")
            .execute(&mut **tx)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "declare {name} no scroll cursor for {query}"
        )))
        .execute(&mut **tx)
        .await?;
        Ok(LineCursor { name })
    }

    /// The next page; empty at the end.
    pub(crate) async fn next<T>(&self, tx: &mut TenantTx) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
    {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "fetch {} from {}",
            Self::PAGE,
            self.name
        )))
        .fetch_all(&mut **tx)
        .await
    }

    /// Closes it.
    pub(crate) async fn close(self, tx: &mut TenantTx) -> Result<(), sqlx::Error> {
        sqlx::query(sqlx::AssertSqlSafe(format!("close {}", self.name)))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
