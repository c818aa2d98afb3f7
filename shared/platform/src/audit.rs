//! The audit trail (design §6.2, NEN 7513): every login attempt and every access to patient
//! data, written in the transaction of the access it records.
//!
//! Rows are inserted in parallel; [`seal_practice`] later chains them per practice in order:
//! `hash_n = SHA-256(hash_{n-1} || canonical(event_n))`, stored in `core.audit_chain`. The
//! application role may only insert and read both tables. [`verify_practice`] recomputes the
//! chain and reports the first broken link.

use chrono::{DateTime, Utc};
use domain::practice::Role;
use domain::{PatientId, PracticeId, StaffId, SupportGrantId};
use sha2::{Digest, Sha256};
use sqlx::AssertSqlSafe;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::db::Db;

/// NEN 7513 action codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create.
    Create,
    /// Read.
    Read,
    /// Update.
    Update,
    /// Delete.
    Delete,
    /// Execute (logins, authorisation decisions, exports).
    Execute,
}

impl Action {
    fn code(self) -> &'static str {
        match self {
            Action::Create => "C",
            Action::Read => "R",
            Action::Update => "U",
            Action::Delete => "D",
            Action::Execute => "E",
        }
    }
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    /// OWASP logging vocabulary name (`authn_login_fail`, `sensitive_read`, ...).
    pub event: &'a str,
    /// What kind of access.
    pub action: Action,
    /// Who, if a staff member.
    pub actor: Option<(StaffId, Role)>,
    /// The support grant, when operator staff act under one (role `support`).
    pub support_grant: Option<SupportGrantId>,
    /// Whose data, if a patient's.
    pub patient: Option<PatientId>,
    /// Purpose of use.
    pub purpose: &'a str,
    /// The matched route or job name.
    pub route: &'a str,
    /// `success`, `failure`, `denied`, ...
    pub outcome: &'a str,
    /// A short machine reason; never personal data.
    pub reason: Option<&'a str>,
}

/// The default purpose of use for a role.
pub fn purpose_for(role: Role) -> &'static str {
    match role {
        Role::Practitioner => "care",
        Role::Receptionist | Role::PracticeAdmin => "administration",
        Role::Billing => "billing",
    }
}

/// Records one event in the caller's transaction.
pub async fn record(
    conn: &mut PgConnection,
    practice: PracticeId,
    ev: &AuditEvent<'_>,
) -> Result<(), sqlx::Error> {
    record_for_patients(conn, practice, ev, &[ev.patient]).await
}

/// Records the same event once for each patient (a list that shows several patients).
pub async fn record_for_patients(
    conn: &mut PgConnection,
    practice: PracticeId,
    ev: &AuditEvent<'_>,
    patients: &[Option<PatientId>],
) -> Result<(), sqlx::Error> {
    if patients.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = patients.iter().map(|_| Uuid::now_v7()).collect();
    let pats: Vec<Option<Uuid>> = patients.iter().map(|p| p.map(|p| p.as_uuid())).collect();
    sqlx::query(
        r#"insert into core.audit_event
               (practice_id, audit_id, event, action, actor_staff_id, actor_role, patient_id,
                purpose, route, outcome, request_id, reason, support_grant_id)
           select $1, a, $3, $4, $5, $6, p, $7, $8, $9, $10, $11, $13
             from unnest($2::uuid[], $12::uuid[]) as t(a, p)"#,
    )
    .bind(practice.as_uuid())
    .bind(&ids)
    .bind(ev.event)
    .bind(ev.action.code())
    .bind(ev.actor.map(|(s, _)| s.as_uuid()))
    .bind(
        ev.actor
            .map(|(_, r)| r.as_str())
            .or(ev.support_grant.map(|_| "support")),
    )
    .bind(ev.purpose)
    .bind(ev.route)
    .bind(ev.outcome)
    .bind(crate::error::current_request_id())
    .bind(ev.reason)
    .bind(&pats)
    .bind(ev.support_grant.map(|g| g.as_uuid()))
    .execute(conn)
    .await?;
    metrics::counter!("audit_events_total").increment(patients.len() as u64);
    Ok(())
}

/// The hash every chain starts from.
pub const GENESIS: [u8; 32] = [0; 32];

struct EventRow {
    audit_id: Uuid,
    occurred_at: DateTime<Utc>,
    event: String,
    action: String,
    actor_staff_id: Option<Uuid>,
    actor_role: Option<String>,
    support_grant_id: Option<Uuid>,
    patient_id: Option<Uuid>,
    purpose: String,
    route: String,
    outcome: String,
    request_id: Option<String>,
    reason: Option<String>,
}

const EVENT_COLUMNS: &str = "e.audit_id, e.occurred_at, e.event, e.action, e.actor_staff_id, e.actor_role, \
     e.support_grant_id, e.patient_id, e.purpose, e.route, e.outcome, e.request_id, e.reason";

fn event_from_row(r: &sqlx::postgres::PgRow) -> Result<EventRow, sqlx::Error> {
    Ok(EventRow {
        audit_id: r.try_get("audit_id")?,
        occurred_at: r.try_get("occurred_at")?,
        event: r.try_get("event")?,
        action: r.try_get("action")?,
        actor_staff_id: r.try_get("actor_staff_id")?,
        actor_role: r.try_get("actor_role")?,
        support_grant_id: r.try_get("support_grant_id")?,
        patient_id: r.try_get("patient_id")?,
        purpose: r.try_get("purpose")?,
        route: r.try_get("route")?,
        outcome: r.try_get("outcome")?,
        request_id: r.try_get("request_id")?,
        reason: r.try_get("reason")?,
    })
}

/// Length-prefixed fields, so no two different events encode alike.
fn canonical(practice: PracticeId, e: &EventRow) -> Vec<u8> {
    fn opt_uuid(u: Option<Uuid>) -> String {
        u.map(|u| u.to_string()).unwrap_or_default()
    }
    let fields: [String; 14] = [
        practice.to_string(),
        e.audit_id.to_string(),
        e.occurred_at.timestamp_micros().to_string(),
        e.event.clone(),
        e.action.clone(),
        opt_uuid(e.actor_staff_id),
        e.actor_role.clone().unwrap_or_default(),
        opt_uuid(e.support_grant_id),
        opt_uuid(e.patient_id),
        e.purpose.clone(),
        e.route.clone(),
        e.outcome.clone(),
        e.request_id.clone().unwrap_or_default(),
        e.reason.clone().unwrap_or_default(),
    ];
    let mut out = Vec::with_capacity(256);
    for f in fields {
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend_from_slice(f.as_bytes());
    }
    out
}

fn link(prev: &[u8], practice: PracticeId, e: &EventRow) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical(practice, e));
    h.finalize().to_vec()
}

/// Seals the practice's unsealed events into its chain. Returns how many were sealed. Two
/// sealers never interleave: the second one finds the practice's advisory lock taken and
/// leaves the work to the first.
pub async fn seal_practice(db: &Db, practice: PracticeId, batch: i64) -> Result<u64, sqlx::Error> {
    let mut tx = db.tenant(practice).await?;
    let locked: bool = sqlx::query_scalar(
        "select pg_try_advisory_xact_lock(hashtext('core.audit_chain'), hashtext($1))",
    )
    .bind(practice.to_string())
    .fetch_one(&mut *tx)
    .await?;
    if !locked {
        return Ok(0);
    }
    let head: Option<(i64, Vec<u8>)> =
        sqlx::query_as("select seq, hash from core.audit_chain order by seq desc limit 1")
            .fetch_optional(&mut *tx)
            .await?;
    let (mut seq, mut prev) = head.unwrap_or((0, GENESIS.to_vec()));
    let rows = sqlx::query(AssertSqlSafe(format!(
        "select {EVENT_COLUMNS} from core.audit_event e
          where not exists (select 1 from core.audit_chain c where c.practice_id = e.practice_id and c.audit_id = e.audit_id)
          order by e.occurred_at, e.audit_id
          limit $1"
    )))
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut seqs = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    let mut prevs = Vec::with_capacity(rows.len());
    let mut hashes = Vec::with_capacity(rows.len());
    for r in &rows {
        let e = event_from_row(r)?;
        let h = link(&prev, practice, &e);
        seq += 1;
        seqs.push(seq);
        ids.push(e.audit_id);
        prevs.push(prev);
        hashes.push(h.clone());
        prev = h;
    }
    sqlx::query(
        r#"insert into core.audit_chain (practice_id, seq, audit_id, prev_hash, hash)
           select $1, s, a, p, h from unnest($2::bigint[], $3::uuid[], $4::bytea[], $5::bytea[]) as t(s, a, p, h)"#,
    )
    .bind(practice.as_uuid())
    .bind(&seqs)
    .bind(&ids)
    .bind(&prevs)
    .bind(&hashes)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    metrics::counter!("audit_sealed_total").increment(rows.len() as u64);
    Ok(rows.len() as u64)
}

/// Seals every practice until nothing is left.
pub async fn seal_all(db: &Db) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    for practice in db.practice_directory().await? {
        loop {
            let n = seal_practice(db, practice, 5_000).await?;
            total += n;
            if n < 5_000 {
                break;
            }
        }
    }
    Ok(total)
}

/// The outcome of verifying one practice's chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// The practice.
    pub practice_id: PracticeId,
    /// Links checked.
    pub checked: u64,
    /// Events not sealed yet.
    pub unsealed: u64,
    /// The first broken link, if any.
    pub first_broken: Option<BrokenLink>,
    /// The head hash (hex), to anchor outside the database.
    pub head: Option<String>,
}

/// Where and why the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BrokenLink {
    /// Sequence number of the first bad link.
    pub seq: i64,
    /// The event at that link.
    pub audit_id: Uuid,
    /// `event_changed`, `event_missing`, `chain_changed` or `sequence_gap`.
    pub problem: &'static str,
}

/// Recomputes the practice's chain from the start.
pub async fn verify_practice(db: &Db, practice: PracticeId) -> Result<VerifyReport, sqlx::Error> {
    // One snapshot for the chain and the events.
    let mut tx = db.pool().begin().await?;
    sqlx::query("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    crate::db::set_tenant(&mut tx, practice).await?;
    let rows = sqlx::query(AssertSqlSafe(format!(
        "select c.seq, c.audit_id as chain_audit_id, c.prev_hash, c.hash, (e.audit_id is not null) as present, {EVENT_COLUMNS}
           from core.audit_chain c
           left join core.audit_event e on e.practice_id = c.practice_id and e.audit_id = c.audit_id
          order by c.seq"
    )))
    .fetch_all(&mut *tx)
    .await?;
    let unsealed: i64 = sqlx::query_scalar(
        "select count(*) from core.audit_event e
          where not exists (select 1 from core.audit_chain c where c.practice_id = e.practice_id and c.audit_id = e.audit_id)",
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut prev = GENESIS.to_vec();
    let mut checked = 0u64;
    let mut head = None;
    for (expected_seq, r) in (1i64..).zip(rows.iter()) {
        let seq: i64 = r.try_get("seq")?;
        let chain_audit_id: Uuid = r.try_get("chain_audit_id")?;
        let stored_prev: Vec<u8> = r.try_get("prev_hash")?;
        let stored: Vec<u8> = r.try_get("hash")?;
        let broken = |problem| BrokenLink {
            seq,
            audit_id: chain_audit_id,
            problem,
        };
        let report = |b: BrokenLink| VerifyReport {
            practice_id: practice,
            checked,
            unsealed: unsealed as u64,
            first_broken: Some(b),
            head: None,
        };
        if seq != expected_seq {
            return Ok(report(broken("sequence_gap")));
        }
        if stored_prev != prev {
            return Ok(report(broken("chain_changed")));
        }
        if !r.try_get::<bool, _>("present")? {
            return Ok(report(broken("event_missing")));
        }
        let e = event_from_row(r)?;
        let computed = link(&prev, practice, &e);
        if computed != stored {
            return Ok(report(broken("event_changed")));
        }
        prev = computed;
        checked += 1;
        head = Some(hex::encode(&prev));
    }
    Ok(VerifyReport {
        practice_id: practice,
        checked,
        unsealed: unsealed as u64,
        first_broken: None,
        head,
    })
}

/// Runs [`seal_all`] every `interval` until the process stops.
pub async fn run_sealer(db: Db, interval: std::time::Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = seal_all(&db).await {
            tracing::warn!(error = %e, "audit sealing failed; will retry");
        }
    }
}
