//! What billing staff do with a line the insurer rejected, once each: **resubmit** it (a credit
//! line mirroring it and a new debit line, both ready for the next batch of its insurer, the new
//! one checked again against the patient's data as it now stands), or **re-bill** it to the
//! patient (invoicing drafts the patient's invoice through the job `invoicing.rebill-claim`).

use chrono::Utc;
use domain::claims::{ClaimLineKind, ClaimLineState};
use domain::jobs::RebillClaim;
use domain::practice::Country;
use domain::{ClaimLineId, PatientId, PracticeId};
use platform::AppState;
use platform::db::TenantTx;
use platform::jobs::enqueue;

use crate::lines::{LINE_FACTS, LineFacts, insurance_of, judge, practice_of};

/// Why a correction did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CorrectionError {
    /// No such line in this practice.
    #[error("claim line not found")]
    NotFound,
    /// Only a rejected debit line not settled yet may be corrected.
    #[error("only a rejected debit line that is not yet resubmitted or re-billed can be")]
    NotRejected,
    /// Anything else.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for CorrectionError {
    fn from(e: sqlx::Error) -> Self {
        CorrectionError::Other(e.into())
    }
}

impl From<CorrectionError> for platform::ApiError {
    fn from(e: CorrectionError) -> Self {
        match e {
            CorrectionError::NotFound => {
                platform::ApiError::not_found("claim_line_not_found", "line_id")
            }
            CorrectionError::NotRejected => {
                platform::ApiError::conflict("invalid_transition", e.to_string())
            }
            CorrectionError::Other(e) => platform::ApiError::internal(e),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Rejected {
    reference: String,
    patient_id: PatientId,
    #[sqlx(flatten)]
    facts: LineFacts,
}

/// Locks a rejected, unsettled debit line and marks it settled `how`.
async fn settle(
    tx: &mut TenantTx,
    line: ClaimLineId,
    how: &str,
) -> Result<Rejected, CorrectionError> {
    let row: Option<(String, Option<String>, String)> = sqlx::query_as(
        "select state, settled, kind from claims.claim_line where line_id = $1 for update",
    )
    .bind(line)
    .fetch_optional(&mut **tx)
    .await?;
    let (state, settled, kind) = row.ok_or(CorrectionError::NotFound)?;
    if state != ClaimLineState::Rejected.as_str()
        || settled.is_some()
        || kind != ClaimLineKind::Debit.as_str()
    {
        return Err(CorrectionError::NotRejected);
    }
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update claims.claim_line set settled = $2, settled_at = now() where line_id = $1
         returning reference, patient_id, {LINE_FACTS}"
    )))
    .bind(line)
    .bind(how)
    .fetch_one(&mut **tx)
    .await?)
}

/// The reference of a correction: the original's, with `-C<n>` (credit) or `-R<n>` (new debit).
fn correction_reference(original: &str, letter: char, n: i64) -> String {
    format!("{original}-{letter}{n}")
}

/// `<number>/<line>` without a correction suffix (`-R1`): the line chain's own reference.
fn root_reference(reference: &str) -> &str {
    match reference.rsplit_once('/') {
        Some((number, tail)) => {
            let line = tail.split_once('-').map_or(tail, |(l, _)| l);
            &reference[..number.len() + 1 + line.len()]
        }
        None => reference,
    }
}

/// The new lines of a resubmission: (credit, new debit).
pub(crate) async fn resubmit(
    state: &AppState,
    tx: &mut TenantTx,
    practice: PracticeId,
    line: ClaimLineId,
) -> Result<(ClaimLineId, ClaimLineId), CorrectionError> {
    let original = settle(tx, line, "resubmitted").await?;
    // The n-th resubmission of this line's chain (a resubmitted line rejected again).
    let root = root_reference(&original.reference).to_owned();
    let n: i64 = sqlx::query_scalar(
        "select count(*) + 1 from claims.claim_line where origin = 'resubmission' and reference like $1 || '-R%'",
    )
    .bind(&root)
    .fetch_one(&mut **tx)
    .await?;
    let credit = ClaimLineId::new();
    sqlx::query(
        "insert into claims.claim_line (practice_id, line_id, reference, invoice_id, invoice_line_no, kind,
             corrects_line_id, patient_id, country, insurer, tariff_id, code, service_date, invoice_date,
             quantity, amount, referral_id, state, problems, origin)
         select practice_id, $2, $3, invoice_id, invoice_line_no, 'credit', line_id, patient_id, country,
                insurer, tariff_id, code, service_date, invoice_date, quantity, amount, referral_id, $4, '[]',
                'correction'
           from claims.claim_line where line_id = $1",
    )
    .bind(line)
    .bind(credit)
    .bind(correction_reference(&root, 'C', n))
    .bind(ClaimLineState::Ready)
    .execute(&mut **tx)
    .await?;
    // The new debit: checked against the patient's data as corrected.
    let p = practice_of(tx).await?;
    let country = Country::parse(&p.country).ok_or_else(|| anyhow::anyhow!("practice country"))?;
    let ins = insurance_of(state, tx, practice, original.patient_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the line's patient is gone"))?;
    let v = judge(country, &ins, p.provider_number.as_deref(), &original.facts);
    let debit = ClaimLineId::new();
    sqlx::query(
        "insert into claims.claim_line (practice_id, line_id, reference, invoice_id, invoice_line_no, kind,
             replaces_line_id, patient_id, country, insurer, tariff_id, code, service_date, invoice_date,
             quantity, amount, state, problems, origin, checked_at, referral_id)
         select practice_id, $2, $3, invoice_id, invoice_line_no, 'debit', line_id, patient_id, country,
                $4, tariff_id, code, service_date, invoice_date, quantity, amount, $5, $6, 'resubmission', $7, $8
           from claims.claim_line where line_id = $1",
    )
    .bind(line)
    .bind(debit)
    .bind(correction_reference(&root, 'R', n))
    .bind(&v.insurer)
    .bind(v.state())
    .bind(sqlx::types::Json(&v.problems))
    .bind(Utc::now())
    .bind(v.referral)
    .execute(&mut **tx)
    .await?;
    Ok((credit, debit))
}

/// Marks the line re-billed and asks invoicing for the patient's invoice.
pub(crate) async fn rebill(
    tx: &mut TenantTx,
    practice: PracticeId,
    line: ClaimLineId,
) -> Result<PatientId, CorrectionError> {
    let original = settle(tx, line, "rebilled").await?;
    let job = RebillClaim {
        practice_id: practice,
        line_id: line,
    };
    enqueue(tx, &job, Utc::now()).await?;
    Ok(original.patient_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrections_keep_the_chain_s_own_reference() {
        assert_eq!(root_reference("2026-000101/1"), "2026-000101/1");
        assert_eq!(root_reference("2026-000101/12-R2"), "2026-000101/12");
        assert_eq!(root_reference("INV-R26-7/3-C1"), "INV-R26-7/3");
        assert_eq!(
            correction_reference("2026-000101/1", 'R', 2),
            "2026-000101/1-R2"
        );
    }
}
