//! The egress gate (design §4): the one way personal data leaves the system.
//!
//! A call names its subprocessor, purpose, data categories and the field names it carries. The
//! gate refuses it unless the subprocessor is registered, active, past its objection window, in
//! the EU/EEA or with a recorded transfer basis, and not objected to by the practice. Every
//! decision and outcome goes to the disclosure log, with field names, never values. Provider
//! clients (SMS, payments) take a [`Permit`], so there is no way to call them around the gate.

use domain::PracticeId;
use uuid::Uuid;

use crate::db::{Db, TenantTx};

/// A call about to leave the system.
#[derive(Debug, Clone)]
pub struct Disclosure<'a> {
    /// The practice whose data it is.
    pub practice: PracticeId,
    /// Register id, e.g. `linkmobility-pl`.
    pub subprocessor: &'a str,
    /// Why, e.g. `appointment_reminder`.
    pub purpose: &'a str,
    /// Categories, e.g. `mobile_number`, `message_text`.
    pub data_categories: &'a [&'a str],
    /// Field names sent, e.g. `recipient`, `content`.
    pub fields: &'a [&'a str],
    /// Correlates with the provider's reference and our logs.
    pub correlation_id: &'a str,
}

/// Why the gate refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not in the register.
    #[error("subprocessor not registered")]
    Unregistered,
    /// Registered but switched off.
    #[error("subprocessor not active")]
    Inactive,
    /// Announced, objection window still open.
    #[error("subprocessor not yet effective")]
    NotYetEffective,
    /// Outside the EU/EEA without a transfer basis (the register forbids it; kept for safety).
    #[error("no transfer basis")]
    NoTransferBasis,
    /// The practice objected.
    #[error("the practice objected to this subprocessor")]
    Objected,
    /// A data category the register does not list for it.
    #[error("data category not registered for this subprocessor")]
    CategoryNotRegistered,
}

impl Refusal {
    fn code(self) -> &'static str {
        match self {
            Refusal::Unregistered => "unregistered",
            Refusal::Inactive => "inactive",
            Refusal::NotYetEffective => "not_yet_effective",
            Refusal::NoTransferBasis => "no_transfer_basis",
            Refusal::Objected => "objected",
            Refusal::CategoryNotRegistered => "category_not_registered",
        }
    }
}

/// Permission for one call; record its outcome with [`Permit::sent`] or [`Permit::failed`].
#[derive(Debug)]
#[must_use = "record the outcome of the call"]
pub struct Permit {
    practice: PracticeId,
    disclosure_id: Uuid,
    subprocessor: String,
    purpose: String,
    data_categories: Vec<String>,
    fields: Vec<String>,
    correlation_id: String,
}

/// A gate error: refused, or the log could not be written (then nothing may be sent).
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The call is not allowed.
    #[error("egress refused: {0}")]
    Refused(Refusal),
    /// The database failed.
    #[error("egress gate database error")]
    Database(#[source] sqlx::Error),
}

#[derive(sqlx::FromRow)]
struct RegisterRow {
    active: bool,
    effective: bool,
    eu_eea: bool,
    transfer_basis: Option<String>,
    data_categories: Vec<String>,
    objected: bool,
}

/// Checks a call against the register and the practice's objections, and logs a refusal.
pub async fn authorize(db: &Db, d: &Disclosure<'_>) -> Result<Permit, GateError> {
    let mut tx = db.tenant(d.practice).await.map_err(GateError::Database)?;
    let decision = authorize_in(&mut tx, d).await;
    if matches!(decision, Err(GateError::Database(_))) {
        return decision;
    }
    tx.commit().await.map_err(GateError::Database)?;
    decision
}

/// [`authorize`]'s check inside a tenant transaction (the refusal row commits with it).
async fn authorize_in(tx: &mut TenantTx, d: &Disclosure<'_>) -> Result<Permit, GateError> {
    let row: Option<RegisterRow> = sqlx::query_as(
        r#"select s.active, s.effective_at <= now() as effective, s.eu_eea, s.transfer_basis, s.data_categories,
                  exists (select 1 from core.subprocessor_objection o where o.subprocessor_id = s.subprocessor_id) as objected
             from core.subprocessor s where s.subprocessor_id = $1"#,
    )
    .bind(d.subprocessor)
    .fetch_optional(&mut **tx)
    .await
    .map_err(GateError::Database)?;
    let refusal = match &row {
        None => Some(Refusal::Unregistered),
        Some(r) if !r.active => Some(Refusal::Inactive),
        Some(r) if !r.effective => Some(Refusal::NotYetEffective),
        Some(r) if !r.eu_eea && r.transfer_basis.is_none() => Some(Refusal::NoTransferBasis),
        Some(r) if r.objected => Some(Refusal::Objected),
        Some(r)
            if d.data_categories
                .iter()
                .any(|c| !r.data_categories.iter().any(|x| x == c)) =>
        {
            Some(Refusal::CategoryNotRegistered)
        }
        Some(_) => None,
    };
    let permit = Permit::for_call(d);
    if let Some(r) = refusal {
        insert(tx, &permit, "refused", Some(r.code()))
            .await
            .map_err(GateError::Database)?;
        metrics::counter!("egress_refused_total", "subprocessor" => d.subprocessor.to_owned())
            .increment(1);
        tracing::warn!(practice.id = %d.practice, subprocessor = d.subprocessor, purpose = d.purpose, reason = r.code(), "egress refused");
        return Err(GateError::Refused(r));
    }
    Ok(permit)
}

async fn insert(
    tx: &mut TenantTx,
    p: &Permit,
    outcome: &str,
    detail: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"insert into core.disclosure (practice_id, disclosure_id, subprocessor_id, purpose, data_categories, fields, outcome, detail, correlation_id)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"#,
    )
    .bind(p.practice.as_uuid())
    .bind(p.disclosure_id)
    .bind(&p.subprocessor)
    .bind(&p.purpose)
    .bind(&p.data_categories)
    .bind(&p.fields)
    .bind(outcome)
    .bind(detail)
    .bind(&p.correlation_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// For callers that ran the register check (`core.egress_refusal`) inside their own query:
/// the permit when it found nothing, else the refusal, which the caller logs with
/// [`refuse_in`] in its transaction.
pub fn decide(d: &Disclosure<'_>, refusal_code: Option<&str>) -> Result<Permit, Refusal> {
    match refusal_code {
        None => Ok(Permit::for_call(d)),
        Some(code) => Err([
            Refusal::Unregistered,
            Refusal::Inactive,
            Refusal::NotYetEffective,
            Refusal::NoTransferBasis,
            Refusal::Objected,
            Refusal::CategoryNotRegistered,
        ]
        .into_iter()
        .find(|r| r.code() == code)
        .unwrap_or(Refusal::Unregistered)),
    }
}

/// Logs a refusal found by [`decide`] in the caller's transaction.
pub async fn refuse_in(
    tx: &mut TenantTx,
    d: &Disclosure<'_>,
    r: Refusal,
) -> Result<(), sqlx::Error> {
    let p = Permit::for_call(d);
    insert(tx, &p, "refused", Some(r.code())).await?;
    metrics::counter!("egress_refused_total", "subprocessor" => d.subprocessor.to_owned())
        .increment(1);
    tracing::warn!(practice.id = %d.practice, subprocessor = d.subprocessor, purpose = d.purpose, reason = r.code(), "egress refused");
    Ok(())
}

/// The disclosure row of a call that went out, for callers that write it in their own
/// statement (`notifications.send_accepted`).
#[derive(Debug)]
pub struct SentRow {
    /// Row id.
    pub disclosure_id: Uuid,
    /// Register id.
    pub subprocessor: String,
    /// Purpose.
    pub purpose: String,
    /// Data categories.
    pub data_categories: Vec<String>,
    /// Field names.
    pub fields: Vec<String>,
}

impl Permit {
    /// The permit (or refusal record) of one call, with a fresh disclosure id.
    fn for_call(d: &Disclosure<'_>) -> Self {
        Permit {
            practice: d.practice,
            disclosure_id: Uuid::now_v7(),
            subprocessor: d.subprocessor.to_owned(),
            purpose: d.purpose.to_owned(),
            data_categories: d.data_categories.iter().map(|s| (*s).to_owned()).collect(),
            fields: d.fields.iter().map(|s| (*s).to_owned()).collect(),
            correlation_id: d.correlation_id.to_owned(),
        }
    }

    /// Consumes the permit of a call that went out; the caller writes the row.
    pub fn into_sent_row(self) -> SentRow {
        metrics::counter!("egress_calls_total", "subprocessor" => self.subprocessor.clone(), "outcome" => "sent")
            .increment(1);
        SentRow {
            disclosure_id: self.disclosure_id,
            subprocessor: self.subprocessor,
            purpose: self.purpose,
            data_categories: self.data_categories,
            fields: self.fields,
        }
    }

    /// The call went out and the provider accepted it.
    pub async fn sent(self, db: &Db) -> Result<(), sqlx::Error> {
        self.finish(db, "sent", None).await
    }

    /// The call failed; `class` is a short error class (`timeout`, `http_503`), never data.
    pub async fn failed(self, db: &Db, class: &str) -> Result<(), sqlx::Error> {
        self.finish(db, "failed", Some(class)).await
    }

    /// [`Permit::sent`] inside the caller's transaction (with the message's own update).
    pub async fn sent_in(self, tx: &mut TenantTx) -> Result<(), sqlx::Error> {
        self.finish_in(tx, "sent", None).await
    }

    /// [`Permit::failed`] inside the caller's transaction.
    pub async fn failed_in(self, tx: &mut TenantTx, class: &str) -> Result<(), sqlx::Error> {
        self.finish_in(tx, "failed", Some(class)).await
    }

    async fn finish(self, db: &Db, outcome: &str, detail: Option<&str>) -> Result<(), sqlx::Error> {
        let mut tx = db.tenant(self.practice).await?;
        self.finish_in(&mut tx, outcome, detail).await?;
        tx.commit().await
    }

    async fn finish_in(
        self,
        tx: &mut TenantTx,
        outcome: &str,
        detail: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        insert(tx, &self, outcome, detail).await?;
        metrics::counter!("egress_calls_total", "subprocessor" => self.subprocessor.clone(), "outcome" => outcome.to_owned()).increment(1);
        Ok(())
    }
}
