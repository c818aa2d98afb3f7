//! The one change path of each batch use case, in the caller's transaction: make a draft,
//! throw it away, generate its file, mark it sent, apply the insurer's answer.

use chrono::{Datelike, NaiveDate};
use domain::claims::{BatchOutcome, BatchState, ClaimFormat, ClaimLineState};
use domain::identifiers::{parse_mutuality_code, parse_uzovi};
use domain::practice::Country;
use domain::{ClaimFileId, PracticeId, StaffId};
use platform::AppState;
use platform::db::TenantTx;
use rust_decimal::Decimal;

use crate::batches::efact::{self, MessageFor};
use crate::batches::error::BatchError;
use crate::batches::fhir::{self, BundleFor};
use crate::batches::pm304::{self, FileFor};
use crate::batches::store::{self, NewBatch, Row};
use crate::files::Stored;
use crate::vektis::parse::return_file;
use crate::vektis::pm304_v32::PM305;

fn require(row: &Row, to: BatchState, verb: &'static str) -> Result<(), BatchError> {
    if row.state.may_become(to) {
        Ok(())
    } else {
        Err(BatchError::InvalidTransition {
            from: row.state,
            verb,
        })
    }
}

/// The practice's country, provider number and time zone's today.
pub(crate) struct PracticeSide {
    pub country: Country,
    pub provider_number: Option<String>,
    pub today: NaiveDate,
}

pub(crate) async fn practice_side(tx: &mut TenantTx) -> Result<PracticeSide, BatchError> {
    let (country, provider, tz): (String, Option<String>, String) = sqlx::query_as(
        "select p.country, s.provider_number, p.time_zone
           from core.practice p left join invoicing.settings s on s.practice_id = p.practice_id",
    )
    .fetch_one(&mut **tx)
    .await?;
    let country =
        Country::parse(&country).ok_or_else(|| anyhow::anyhow!("practice country unknown"))?;
    let tz: chrono_tz::Tz = tz
        .parse()
        .map_err(|_| anyhow::anyhow!("practice time zone unknown"))?;
    Ok(PracticeSide {
        country,
        provider_number: provider,
        today: chrono::Utc::now().with_timezone(&tz).date_naive(),
    })
}

/// A draft batch of every ready line of `insurer` with a service date in the period.
pub(crate) async fn create(
    tx: &mut TenantTx,
    practice: PracticeId,
    insurer: &str,
    period: (NaiveDate, NaiveDate),
    by: StaffId,
) -> Result<Row, BatchError> {
    let side = practice_side(tx).await?;
    let format = match side.country {
        Country::NL => {
            parse_uzovi(insurer)
                .map_err(|_| BatchError::InsurerFormat("UZOVI number (4 digits)"))?;
            ClaimFormat::Pm304
        }
        Country::BE => {
            parse_mutuality_code(insurer)
                .map_err(|_| BatchError::InsurerFormat("mutuality code (3 digits)"))?;
            ClaimFormat::Efact
        }
    };
    let new = NewBatch {
        format,
        insurer,
        period_start: period.0,
        period_end: period.1,
        by,
    };
    store::insert_with_lines(tx, practice, &new)
        .await?
        .ok_or(BatchError::NothingReady)
}

/// Throws a draft away.
pub(crate) async fn discard(tx: &mut TenantTx, row: &Row) -> Result<(), BatchError> {
    if row.state != BatchState::Draft {
        return Err(BatchError::InvalidTransition {
            from: row.state,
            verb: "discarded",
        });
    }
    Ok(store::delete_draft(tx, row.batch_id).await?)
}

/// Writes the batch's file (validated; never stored if it fails) under a new file number.
pub(crate) async fn generate(
    state: &AppState,
    tx: &mut TenantTx,
    practice: PracticeId,
    row: &Row,
    by: StaffId,
) -> Result<(Row, Stored), BatchError> {
    require(row, BatchState::Generated, "generated")?;
    let side = practice_side(tx).await?;
    let keys = state
        .practice_keys(tx, practice)
        .await
        .map_err(|e| anyhow::anyhow!("practice keys: {}", e.status()))?;
    let file_number = store::next_file_number(tx, practice, side.today.year()).await?;
    let stored = match row.format {
        ClaimFormat::Pm304 => {
            let agb = side.provider_number.clone().unwrap_or_default();
            pm304::write(
                tx,
                keys,
                &FileFor {
                    practice,
                    batch: row.batch_id,
                    uzovi: &row.insurer,
                    practice_agb: &agb,
                    period: (row.period_start, row.period_end),
                    file_number: &file_number,
                    today: side.today,
                    test: false,
                },
            )
            .await?
        }
        ClaimFormat::Efact => {
            efact::write(
                tx,
                keys,
                &MessageFor {
                    practice,
                    batch: row.batch_id,
                    mutuality: &row.insurer,
                    period_end: row.period_end,
                    file_number: &file_number,
                    today: side.today,
                },
            )
            .await?
        }
    };
    let extension = match row.format {
        ClaimFormat::Pm304 => "asc",
        ClaimFormat::Efact => "txt",
    };
    let name = format!(
        "{}-{}-{file_number}.{extension}",
        row.format.as_str(),
        row.insurer
    );
    insert_file(
        tx,
        practice,
        row,
        &stored,
        "out",
        row.format.as_str(),
        &name,
        Some(by),
    )
    .await?;
    let row = store::set_generated(tx, row.batch_id, &file_number).await?;
    Ok((row, stored))
}

#[allow(clippy::too_many_arguments)]
async fn insert_file(
    tx: &mut TenantTx,
    practice: PracticeId,
    row: &Row,
    stored: &Stored,
    direction: &str,
    format: &str,
    name: &str,
    by: Option<StaffId>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into claims.claim_file (practice_id, file_id, batch_id, direction, format, name, byte_size,
                                        sha256, chunk_count, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(practice)
    .bind(ClaimFileId::from_uuid(stored.file_id))
    .bind(row.batch_id)
    .bind(direction)
    .bind(format)
    .bind(name)
    .bind(i64::try_from(stored.size).unwrap_or(i64::MAX))
    .bind(&stored.sha256)
    .bind(stored.chunks)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes the batch as a FHIR R4 bundle (any state), stored beside its claim file.
pub(crate) async fn export_fhir(
    state: &AppState,
    tx: &mut TenantTx,
    practice: PracticeId,
    row: &Row,
    by: StaffId,
) -> Result<Stored, BatchError> {
    let side = practice_side(tx).await?;
    let keys = state
        .practice_keys(tx, practice)
        .await
        .map_err(|e| anyhow::anyhow!("practice keys: {}", e.status()))?;
    let name: Option<String> = sqlx::query_scalar("select legal_name from invoicing.settings")
        .fetch_optional(&mut **tx)
        .await?
        .flatten();
    let stored = fhir::write(
        tx,
        keys,
        &BundleFor {
            practice,
            country: side.country,
            batch: row.batch_id,
            insurer: &row.insurer,
            provider_number: side.provider_number.as_deref().unwrap_or_default(),
            practice_name: name.as_deref().unwrap_or_default(),
            today: side.today,
        },
    )
    .await?;
    let file = format!(
        "fhir-{}-{}.json",
        row.insurer,
        row.file_number
            .clone()
            .unwrap_or_else(|| row.batch_id.to_string())
    );
    insert_file(tx, practice, row, &stored, "out", "fhir", &file, Some(by)).await?;
    Ok(stored)
}

/// Marks a generated batch sent.
pub(crate) async fn mark_sent(tx: &mut TenantTx, row: &Row) -> Result<Row, BatchError> {
    require(row, BatchState::Sent, "sent")?;
    Ok(store::set_sent(tx, row.batch_id).await?)
}

/// What a return file did to its batch's lines.
pub(crate) struct Answered {
    pub accepted: usize,
    pub rejected: usize,
}

/// Applies a PM305 return file: its batch (by file number, in this practice) is answered, each
/// line accepted or rejected with its codes and granted amount. The file is kept, encrypted.
pub(crate) async fn apply_return(
    state: &AppState,
    tx: &mut TenantTx,
    practice: PracticeId,
    bytes: &[u8],
    by: Option<StaffId>,
) -> Result<(Row, Answered), BatchError> {
    // eFact answers open with their message code (9…); Vektis files with record 01.
    if bytes.first() == Some(&b'9') {
        return apply_efact_answer(state, tx, practice, bytes, by).await;
    }
    let answer = return_file(&PM305, bytes).map_err(BatchError::ReturnInvalid)?;
    let row = store::by_file_number(tx, &answer.invoice_number)
        .await?
        .filter(|b| b.insurer == answer.uzovi && b.format == ClaimFormat::Pm304)
        .ok_or(BatchError::ReturnUnknown)?;
    require(&row, BatchState::Answered, "answered")?;
    let mut rejected = 0usize;
    let mut accepted = 0usize;
    // In groups: one statement per 5,000 lines, whatever the file's size.
    for group in answer.lines.chunks(5_000) {
        let mut references = Vec::with_capacity(group.len());
        let mut states = Vec::with_capacity(group.len());
        let mut granted = Vec::with_capacity(group.len());
        let mut codes = Vec::with_capacity(group.len());
        for line in group {
            let reject = line
                .codes
                .iter()
                .any(|c| !crate::vektis::parse::is_remark_free(c))
                || line.granted == 0;
            if reject {
                rejected += 1;
            } else {
                accepted += 1;
            }
            references.push(line.reference.as_str());
            states.push(if reject {
                ClaimLineState::Rejected.as_str()
            } else {
                ClaimLineState::Accepted.as_str()
            });
            granted.push(Decimal::new(line.granted.abs(), 2));
            codes.push(line.codes.join(","));
        }
        let updated = sqlx::query(
            "update claims.claim_line l set state = a.state, granted = a.granted,
                    return_codes = string_to_array(a.codes, ','), answered_at = now()
               from unnest($2::text[], $3::text[], $4::numeric[], $5::text[]) as a(reference, state, granted, codes)
              where l.batch_id = $1 and l.reference = a.reference",
        )
        .bind(row.batch_id)
        .bind(&references)
        .bind(&states)
        .bind(&granted)
        .bind(&codes)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if updated != group.len() as u64 {
            return Err(BatchError::ReturnUnknown);
        }
    }
    let outcome = match (accepted, rejected) {
        (_, 0) => BatchOutcome::Accepted,
        (0, _) => BatchOutcome::Rejected,
        _ => BatchOutcome::Partly,
    };
    let name = format!("pm305-{}-{}.asc", row.insurer, answer.invoice_number);
    keep_answer(state, tx, practice, &row, bytes, ("pm305", &name), by).await?;
    let granted = Decimal::new(answer.granted_total, 2);
    let row = store::set_answered(tx, row.batch_id, outcome, granted).await?;
    Ok((row, Answered { accepted, rejected }))
}

/// Stores an insurer's answer beside its batch, encrypted like the files sent.
async fn keep_answer(
    state: &AppState,
    tx: &mut TenantTx,
    practice: PracticeId,
    row: &Row,
    bytes: &[u8],
    (format, name): (&str, &str),
    by: Option<StaffId>,
) -> Result<(), BatchError> {
    let keys = state
        .practice_keys(tx, practice)
        .await
        .map_err(|e| anyhow::anyhow!("practice keys: {}", e.status()))?;
    let mut w = crate::files::ChunkWriter::new(practice, keys);
    std::io::Write::write_all(&mut w, bytes).map_err(anyhow::Error::from)?;
    let stored = w.finish(tx).await?;
    insert_file(tx, practice, row, &stored, "in", format, name, by).await?;
    Ok(())
}

/// Applies a mutuality's answer to an eFact sending (acknowledgement, refusal, or errors in
/// detail): the lines it faults are rejected with its codes, the others accepted in full.
async fn apply_efact_answer(
    state: &AppState,
    tx: &mut TenantTx,
    practice: PracticeId,
    bytes: &[u8],
    by: Option<StaffId>,
) -> Result<(Row, Answered), BatchError> {
    use crate::efact::answer::{Verdict, read};
    let answer = read(bytes).map_err(BatchError::ReturnInvalid)?;
    let row = store::by_file_number(tx, &answer.file_number)
        .await?
        .filter(|b| b.format == ClaimFormat::Efact)
        .ok_or(BatchError::ReturnUnknown)?;
    require(&row, BatchState::Answered, "answered")?;
    async fn accept_all(tx: &mut TenantTx, batch: domain::ClaimBatchId) -> Result<(), sqlx::Error> {
        sqlx::query(
            "update claims.claim_line set state = $2, granted = amount, return_codes = '{}', answered_at = now()
              where batch_id = $1",
        )
        .bind(batch)
        .bind(ClaimLineState::Accepted)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
    // `scope`: `line` (a reference), `invoice` (its lines), `all`.
    async fn reject(
        tx: &mut TenantTx,
        batch: domain::ClaimBatchId,
        scope: &str,
        reference: &str,
        codes: &[String],
    ) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(
            "update claims.claim_line set state = $5, granted = 0, return_codes = $4, answered_at = now()
              where batch_id = $1
                and ($2 = 'all' or ($2 = 'line' and reference = $3)
                     or ($2 = 'invoice' and reference like $3 || '/%'))",
        )
        .bind(batch)
        .bind(scope)
        .bind(reference)
        .bind(codes)
        .bind(ClaimLineState::Rejected)
        .execute(&mut **tx)
        .await?
        .rows_affected())
    }
    match &answer.verdict {
        Verdict::Accepted => {
            accept_all(tx, row.batch_id).await?;
        }
        Verdict::Rejected(codes) => {
            reject(tx, row.batch_id, "all", "", codes).await?;
        }
        Verdict::Errors(faulted) => {
            accept_all(tx, row.batch_id).await?;
            for f in faulted {
                let scope = match f.kind.as_str() {
                    "50" => "line",
                    "20" | "80" => "invoice",
                    _ => "all",
                };
                if reject(tx, row.batch_id, scope, &f.reference, &f.codes).await? == 0 {
                    return Err(BatchError::ReturnUnknown);
                }
            }
        }
    }
    let (accepted, rejected, granted): (i64, i64, Decimal) = sqlx::query_as(
        "select count(*) filter (where state = 'accepted'), count(*) filter (where state = 'rejected'),
                coalesce(sum(case when kind = 'credit' then -granted else granted end), 0)
           from claims.claim_line where batch_id = $1",
    )
    .bind(row.batch_id)
    .fetch_one(&mut **tx)
    .await?;
    let outcome = match (accepted, rejected) {
        (_, 0) => BatchOutcome::Accepted,
        (0, _) => BatchOutcome::Rejected,
        _ => BatchOutcome::Partly,
    };
    let name = format!(
        "{}-{}-{}.txt",
        answer.message, row.insurer, answer.file_number
    );
    keep_answer(
        state,
        tx,
        practice,
        &row,
        bytes,
        ("efact-answer", &name),
        by,
    )
    .await?;
    let row = store::set_answered(tx, row.batch_id, outcome, granted).await?;
    Ok((
        row,
        Answered {
            accepted: accepted as usize,
            rejected: rejected as usize,
        },
    ))
}
