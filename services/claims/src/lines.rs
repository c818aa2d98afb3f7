//! Claim lines: made from the insurer share of an issued invoice or credit note by the job
//! `claims.claimable` (idempotent: one line per invoice line, whatever the number of runs),
//! and checked against the rules of `domain::claims` — again whenever billing staff ask, after
//! correcting a patient's or the practice's data.

use chrono::NaiveDate;
use domain::claims::{ClaimFacts, ClaimLineKind, ClaimLineState, Problem};
use domain::jobs::Claimable;
use domain::practice::Country;
use domain::referral::covering;
use domain::{ClaimLineId, InvoiceId, PatientId, PracticeId, ReferralId, TariffId};
use platform::AppState;
use platform::audit::{self, Action, AuditEvent};
use platform::db::TenantTx;
use platform::patients::Insurance;
use rust_decimal::Decimal;

#[derive(sqlx::FromRow)]
struct Source {
    kind: String,
    number: String,
    issue_date: NaiveDate,
    patient_id: PatientId,
    corrects_invoice_id: Option<InvoiceId>,
}

#[derive(sqlx::FromRow)]
struct SourceLine {
    line_no: i32,
    tariff_id: Option<TariffId>,
    corrects_line_no: Option<i32>,
    code: String,
    service_date: NaiveDate,
    quantity: Decimal,
    insurer_share: Decimal,
    referral_required: bool,
}

/// The practice's side of a claim: its country and provider number.
#[derive(sqlx::FromRow)]
pub(crate) struct Practice {
    pub(crate) country: String,
    pub(crate) provider_number: Option<String>,
}

pub(crate) async fn practice_of(tx: &mut TenantTx) -> Result<Practice, sqlx::Error> {
    sqlx::query_as(
        "select p.country, s.provider_number
           from core.practice p left join invoicing.settings s on s.practice_id = p.practice_id",
    )
    .fetch_one(&mut **tx)
    .await
}

/// A line's own facts, as the rules need them (the patient's come from [`Insurance`]).
#[derive(sqlx::FromRow)]
pub(crate) struct LineFacts {
    pub(crate) code: String,
    pub(crate) service_date: NaiveDate,
    pub(crate) invoice_date: NaiveDate,
    pub(crate) quantity: Decimal,
    pub(crate) amount: Decimal,
    /// `claims.referral_required(tariff_id, code, service_date)`: its tariff says so.
    pub(crate) referral_required: bool,
    /// A credit line: the referral of the line it takes back, which it names again (a newer
    /// referral covering the same day does not change what was claimed).
    pub(crate) mirrored_referral: Option<ReferralId>,
}

/// The SQL of [`LineFacts`] over `claims.claim_line`.
pub(crate) const LINE_FACTS: &str = "code, service_date, invoice_date, quantity, amount, \
     claims.referral_required(tariff_id, code, service_date) as referral_required, \
     (select c.referral_id from claims.claim_line c \
       where c.practice_id = claim_line.practice_id and c.line_id = claim_line.corrects_line_id) as mirrored_referral";

/// What the rules say of a line, and what it is then stored with.
pub(crate) struct Verdict {
    pub(crate) problems: Vec<Problem>,
    /// The patient's insurer (UZOVI or mutuality code), the batch the line goes into.
    pub(crate) insurer: Option<String>,
    /// The patient's referral covering the service date: the one the file names.
    pub(crate) referral: Option<ReferralId>,
}

impl Verdict {
    pub(crate) fn state(&self) -> ClaimLineState {
        if self.problems.is_empty() {
            ClaimLineState::Ready
        } else {
            ClaimLineState::Invalid
        }
    }
}

/// Checks one line of a patient: the one place the rules are applied to stored facts.
pub(crate) fn judge(
    country: Country,
    ins: &Insurance,
    provider: Option<&str>,
    l: &LineFacts,
) -> Verdict {
    let referral = match l.mirrored_referral {
        Some(id) => ins.referrals.iter().find(|r| r.referral_id == id),
        None => covering(&ins.referrals, l.service_date),
    };
    let insurer = match country {
        Country::NL => ins.uzovi.as_deref(),
        Country::BE => ins.mutuality_code.as_deref(),
    };
    let problems = domain::claims::check(&ClaimFacts {
        country,
        insurance_country: ins.country,
        national_number: ins.national_number.as_deref(),
        insurer,
        provider_number: provider,
        code: &l.code,
        service_date: l.service_date,
        invoice_date: l.invoice_date,
        birth_date: ins.birth_date,
        sex: &ins.sex,
        insured: ins.valid,
        quantity: l.quantity,
        amount: l.amount,
        referral_required: l.referral_required,
        referral,
    });
    Verdict {
        problems,
        insurer: insurer.map(str::to_owned),
        referral: referral.map(|r| r.referral_id),
    }
}

pub(crate) async fn insurance_of(
    state: &AppState,
    tx: &mut TenantTx,
    practice: PracticeId,
    patient: PatientId,
) -> anyhow::Result<Option<Insurance>> {
    let keys = state
        .practice_keys(tx, practice)
        .await
        .map_err(|e| anyhow::anyhow!("practice keys: {}", e.status()))?;
    platform::patients::insurance(tx, &keys, practice, patient)
        .await
        .map_err(|e| anyhow::anyhow!("patient insurance: {}", e.status()))
}

/// The patient's identifiers were read to check their lines (a job's read of personal data).
async fn audit_check(
    tx: &mut TenantTx,
    practice: PracticeId,
    patient: PatientId,
    route: &str,
) -> Result<(), sqlx::Error> {
    let ev = AuditEvent {
        event: "claim_lines_checked",
        action: Action::Read,
        actor: None,
        support_grant: None,
        patient: Some(patient),
        purpose: "claims",
        route,
        outcome: "success",
        reason: None,
    };
    audit::record(tx, practice, &ev).await
}

/// Makes the claim lines of an issued invoice or credit note (ids only in the job); how many
/// were new. A credit note whose invoice's lines are not there yet fails, to be retried.
pub async fn make_lines(state: &AppState, job: Claimable) -> anyhow::Result<usize> {
    let practice = job.practice_id;
    let mut tx = state.db().tenant(practice).await?;
    let source: Option<Source> = sqlx::query_as(
        "select kind, number, issue_date, patient_id, corrects_invoice_id
           from invoicing.invoice where invoice_id = $1 and status <> 'draft'",
    )
    .bind(job.invoice_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(source) = source else {
        tx.commit().await?;
        return Ok(0);
    };
    let lines: Vec<SourceLine> = sqlx::query_as(
        "select line_no, tariff_id, corrects_line_no, code, service_date, quantity, insurer_share,
                claims.referral_required(tariff_id, code, service_date) as referral_required
           from invoicing.invoice_line where invoice_id = $1 and insurer_share > 0 order by line_no",
    )
    .bind(job.invoice_id)
    .fetch_all(&mut *tx)
    .await?;
    let p = practice_of(&mut tx).await?;
    let country = Country::parse(&p.country).ok_or_else(|| anyhow::anyhow!("practice country"))?;
    let ins = insurance_of(state, &mut tx, practice, source.patient_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the invoice's patient is gone"))?;
    let kind = if source.kind == "credit_note" {
        ClaimLineKind::Credit
    } else {
        ClaimLineKind::Debit
    };
    let mut made = 0;
    for l in &lines {
        // A credit line names the invoice's own line (not a correction made of it since).
        let corrects: Option<(ClaimLineId, Option<ReferralId>)> =
            match (kind, source.corrects_invoice_id, l.corrects_line_no) {
                (ClaimLineKind::Credit, Some(inv), Some(no)) => Some(
                    sqlx::query_as(
                        "select line_id, referral_id from claims.claim_line
                      where invoice_id = $1 and invoice_line_no = $2 and origin = 'invoice'",
                    )
                    .bind(inv)
                    .bind(no)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| {
                        anyhow::anyhow!("the corrected invoice's claim lines are not made yet")
                    })?,
                ),
                _ => None,
            };
        let facts = LineFacts {
            code: l.code.clone(),
            service_date: l.service_date,
            invoice_date: source.issue_date,
            quantity: l.quantity,
            amount: l.insurer_share,
            referral_required: l.referral_required,
            mirrored_referral: corrects.and_then(|(_, r)| r),
        };
        let v = judge(country, &ins, p.provider_number.as_deref(), &facts);
        let inserted = sqlx::query(
            r#"insert into claims.claim_line (practice_id, line_id, reference, invoice_id, invoice_line_no, kind,
                   corrects_line_id, patient_id, country, insurer, tariff_id, code, service_date, invoice_date,
                   quantity, amount, state, problems, referral_id, origin)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                       case when $6 = 'credit' then 'credit_note' else 'invoice' end)
               on conflict (practice_id, invoice_id, invoice_line_no) where origin in ('invoice', 'credit_note')
               do nothing"#,
        )
        .bind(practice)
        .bind(ClaimLineId::new())
        .bind(format!("{}/{}", source.number, l.line_no))
        .bind(job.invoice_id)
        .bind(l.line_no)
        .bind(kind)
        .bind(corrects.map(|(id, _)| id))
        .bind(source.patient_id)
        .bind(country.as_str())
        .bind(&v.insurer)
        .bind(l.tariff_id)
        .bind(&l.code)
        .bind(l.service_date)
        .bind(source.issue_date)
        .bind(l.quantity)
        .bind(l.insurer_share)
        .bind(v.state())
        .bind(sqlx::types::Json(&v.problems))
        .bind(v.referral)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        made += inserted as usize;
    }
    if !lines.is_empty() {
        audit_check(
            &mut tx,
            practice,
            source.patient_id,
            domain::jobs::CLAIMABLE,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(made)
}

#[derive(sqlx::FromRow)]
struct ToCheck {
    line_id: ClaimLineId,
    patient_id: PatientId,
    #[sqlx(flatten)]
    facts: LineFacts,
}

/// What a re-check found.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Checked {
    /// Lines checked.
    pub checked: usize,
    /// Now ready.
    pub ready: usize,
    /// Still invalid.
    pub invalid: usize,
}

/// Checks the practice's invalid lines again (after staff corrected what they named).
pub(crate) async fn recheck(
    state: &AppState,
    tx: &mut TenantTx,
    practice: PracticeId,
) -> anyhow::Result<Checked> {
    let p = practice_of(tx).await?;
    let country = Country::parse(&p.country).ok_or_else(|| anyhow::anyhow!("practice country"))?;
    let rows: Vec<ToCheck> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select line_id, patient_id, {LINE_FACTS}
           from claims.claim_line where state = 'invalid' order by patient_id, line_id for update"
    )))
    .fetch_all(&mut **tx)
    .await?;
    let mut out = Checked::default();
    let mut current: Option<(PatientId, Option<Insurance>)> = None;
    for r in &rows {
        if current.as_ref().is_none_or(|(p, _)| *p != r.patient_id) {
            let ins = insurance_of(state, tx, practice, r.patient_id).await?;
            audit_check(tx, practice, r.patient_id, "/v1/claims/lines/check").await?;
            current = Some((r.patient_id, ins));
        }
        let Some((_, Some(ins))) = &current else {
            continue;
        };
        let v = judge(country, ins, p.provider_number.as_deref(), &r.facts);
        let s = v.state();
        sqlx::query(
            "update claims.claim_line set state = $2, problems = $3, insurer = $4, referral_id = $5, checked_at = now()
              where line_id = $1",
        )
        .bind(r.line_id)
        .bind(s)
        .bind(sqlx::types::Json(&v.problems))
        .bind(&v.insurer)
        .bind(v.referral)
        .execute(&mut **tx)
        .await?;
        out.checked += 1;
        match s {
            ClaimLineState::Ready => out.ready += 1,
            _ => out.invalid += 1,
        }
    }
    Ok(out)
}
