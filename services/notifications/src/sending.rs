//! The send worker: one `notifications.send` job per message and attempt.
//!
//! 1. In one transaction: lock the message; stop if it is settled, not yet due or superseded;
//!    check the recipient (mobile number, consent, no opt-out, no restriction, number not
//!    flagged); render the text; pass the egress gate; mark the message `sending` and write
//!    its reply route. Commit.
//! 2. Call the provider with the number, the text and the message id as reference.
//! 3. In one transaction: record the outcome on the message and in the disclosure log.
//!
//! A crash between 1 and 3 leaves the message `sending`: the provider may or may not have it.
//! The job runs again (apalis re-queues jobs of dead workers). With SMSAPI the message is sent
//! again with the same `idx` and `check_idx=1`, which the provider refuses as a duplicate if
//! it had it: exactly once. The platform API does not de-duplicate `refId`, so a message in
//! doubt waits `SMS_RECONCILE_SECS` for a delivery report naming its refId (which settles it
//! as sent) before it is sent again.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use domain::PracticeId;
use domain::appointment::AppointmentStatus;
use domain::identifiers::MobileNumber;
use domain::jobs::SendMessage;
use domain::message::{MessageState, SkipReason};
use domain::practice::Language;
use domain::reminders::QuietHours;
use domain::sms::OutboundSms;
use domain::templates::{self, Fields, MessageKind};
use platform::AppState;
use platform::db::TenantTx;
use platform::egress::{self, Disclosure};
use uuid::Uuid;

use crate::planning::{next_allowed, schedule_send};
use crate::providers::{Provider, Providers, SendError, SmsProvider};

/// Attempts before a message is dead (listed for practice admins).
pub const MAX_ATTEMPTS: i32 = 6;

/// What one run of the send job did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SendOutcome {
    /// The provider accepted it.
    Sent,
    /// The provider already had it (an earlier attempt got through): settled, not re-sent.
    AlreadyAccepted,
    /// Settled earlier; nothing to do.
    Settled,
    /// Not due yet (a later job will run it).
    NotDue,
    /// Not sent, with the reason (consent, restriction, too late, ...).
    Skipped(String),
    /// In doubt with a provider that does not de-duplicate: waiting for a delivery report.
    AwaitingReport,
    /// Failed and will be retried.
    Retrying(String),
    /// Failed for good.
    Failed(String),
    /// Out of attempts.
    Dead(String),
}

#[derive(sqlx::FromRow)]
struct Loaded {
    message_id: Uuid,
    #[sqlx(try_from = "String")]
    state: MessageState,
    kind: String,
    patient_id: Uuid,
    starts_at: Option<DateTime<Utc>>,
    link: Option<String>,
    due_at: DateTime<Utc>,
    next_attempt_at: Option<DateTime<Utc>>,
    sending_since: Option<DateTime<Utc>>,
    mobile_e164: Option<String>,
    preferred_language: String,
    consent: bool,
    restricted: bool,
    flagged: bool,
    practice_name: String,
    time_zone: String,
    display_name: Option<String>,
    address_line: Option<String>,
    practitioner_in_messages: bool,
    min_lead_minutes: i32,
    quiet_start: NaiveTime,
    quiet_end: NaiveTime,
    appt_status: Option<String>,
    appt_starts_at: Option<DateTime<Utc>>,
    template: Option<String>,
    practitioner_name: Option<String>,
    type_name: Option<String>,
    type_in_messages: bool,
    refusal: Option<String>,
}

/// One round trip for any number of messages of one practice: each message, its patient's
/// contact state, the practice's settings, the appointment, template and names, and the egress
/// gate's register check.
const LOAD: &str = "select * from notifications.send_load($1, $2, $3, $4)";

/// Data categories a send discloses (both providers).
const CATEGORIES: [&str; 2] = ["mobile_number", "message_text"];
/// Field names a send discloses, for the disclosure log.
const FIELDS: [&str; 3] = ["recipient", "text", "reference"];

fn purpose(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Reminder => "appointment_reminder",
        MessageKind::WaitlistOffer => "waitlist_offer",
        MessageKind::PaymentLink | MessageKind::PaymentReminder => "payment_request",
    }
}

/// The reference sent to the provider and echoed in its reports: the message id, nothing else.
pub fn reference(message: Uuid) -> String {
    message.simple().to_string()
}

/// Settles a message without sending.
async fn settle(
    mut tx: TenantTx,
    message: Uuid,
    state: MessageState,
    reason: &str,
) -> anyhow::Result<SendOutcome> {
    sqlx::query(
        "update notifications.message set state = $2, reason = $3, final_at = now(), sending_since = null where message_id = $1",
    )
    .bind(message)
    .bind(state.as_str())
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(SendOutcome::Skipped(reason.to_owned()))
}

/// Last word of a display name ("Dr. An Peeters" → "Peeters").
fn last_name(display: &str) -> String {
    display
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_owned()
}

/// What the send worker keeps between jobs: the providers (one HTTP client each) and the
/// recorder that commits accepted sends in groups.
pub struct Sender {
    providers: Providers,
    loader: Loader,
    recorder: Recorder,
}

impl Sender {
    /// Builds the providers from configuration and starts the recorder.
    pub fn new(state: &AppState) -> Result<Self, reqwest::Error> {
        Ok(Self {
            providers: Providers::from_settings(state.settings())?,
            loader: Loader::start(state.db().pool().clone()),
            recorder: Recorder::start(state.db().pool().clone()),
        })
    }
}

type LoadRequest = (
    PracticeId,
    Uuid,
    &'static str,
    tokio::sync::oneshot::Sender<Result<Option<Loaded>, String>>,
);

/// Group loading, the read-side twin of [`Recorder`]: the messages that jobs ask for while a
/// group is being read are read together, one statement per practice.
#[derive(Clone)]
struct Loader {
    queue: tokio::sync::mpsc::Sender<LoadRequest>,
}

impl Loader {
    fn start(pool: sqlx::PgPool) -> Self {
        let (queue, rx) = tokio::sync::mpsc::channel::<LoadRequest>(1024);
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..LANES {
            let (rx, pool) = (rx.clone(), pool.clone());
            tokio::spawn(async move {
                while let Some(waiting) = next_group(&rx, std::time::Duration::ZERO).await {
                    load_group(&pool, waiting).await;
                }
            });
        }
        Self { queue }
    }

    async fn load(
        &self,
        practice: PracticeId,
        id: Uuid,
        subprocessor: &'static str,
    ) -> anyhow::Result<Option<Loaded>> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.queue
            .send((practice, id, subprocessor, done))
            .await
            .map_err(|_| anyhow::anyhow!("loader stopped"))?;
        wait.await
            .map_err(|_| anyhow::anyhow!("loader stopped"))?
            .map_err(|e| anyhow::anyhow!("loading the message failed: {e}"))
    }
}

/// Reads a group of requests, one statement per practice (and subprocessor), and answers each.
async fn load_group(pool: &sqlx::PgPool, mut waiting: Vec<LoadRequest>) {
    while let Some((practice, _, subprocessor, _)) = waiting.first() {
        let (practice, subprocessor) = (*practice, *subprocessor);
        let (group, rest): (Vec<_>, Vec<_>) = waiting
            .into_iter()
            .partition(|r| r.0 == practice && r.2 == subprocessor);
        waiting = rest;
        let ids: Vec<Uuid> = group.iter().map(|r| r.1).collect();
        let rows = sqlx::query_as::<_, Loaded>(LOAD)
            .bind(practice.as_uuid())
            .bind(&ids)
            .bind(subprocessor)
            .bind(CATEGORIES.as_slice())
            .fetch_all(pool)
            .await;
        match rows {
            Ok(rows) => {
                let mut rows: std::collections::HashMap<Uuid, Loaded> =
                    rows.into_iter().map(|r| (r.message_id, r)).collect();
                for (_, id, _, done) in group {
                    let _ = done.send(Ok(rows.remove(&id)));
                }
            }
            Err(e) => {
                for (_, _, _, done) in group {
                    let _ = done.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// A send the provider accepted, to record.
struct Accepted {
    practice: Uuid,
    message: Uuid,
    patient: Uuid,
    provider: &'static str,
    encoding: &'static str,
    segments: i32,
    reference: String,
    phone_hmac: Vec<u8>,
    provider_id: String,
    disclosure_id: Uuid,
    subprocessor: String,
    purpose: String,
}

type Pending = (Accepted, tokio::sync::oneshot::Sender<Result<i32, String>>);

/// Group commit for accepted sends. A lane takes whatever accepted sends are waiting (after
/// [`LINGER`]) and writes them in one statement (`notifications.sends_accepted`) and one commit,
/// then answers each waiting job, which only then completes: nothing is acknowledged before it
/// is durable. While one lane writes, the other gathers, so a busy worker flushes the WAL once
/// per group instead of once per message. If a group fails, each of its jobs fails and runs again, and
/// the provider's duplicate check (`idx`) keeps the message from going out twice.
#[derive(Clone)]
struct Recorder {
    queue: tokio::sync::mpsc::Sender<Pending>,
}

/// Largest group read or written at once.
const GROUP: usize = 128;

/// Groups read or written at the same time: while one waits for its commit (or for a
/// core), the next is already being executed.
const LANES: usize = 2;

/// How long the recorder waits after the first accepted send for others to join its group.
/// Provider answers come back one by one; without the wait a group is a dozen sends, with it
/// several dozen: fewer statements and commits, and the jobs of a group are acknowledged
/// together (one apalis ack statement instead of several). Costs each send up to 1 ms.
const LINGER: std::time::Duration = std::time::Duration::from_millis(1);

/// Waits for the next request, then (after `linger`) takes whatever else is waiting, up to
/// [`GROUP`]; `None` when the sender side is gone. One lane at a time gathers, so groups never
/// overlap.
async fn next_group<T>(
    rx: &tokio::sync::Mutex<tokio::sync::mpsc::Receiver<T>>,
    linger: std::time::Duration,
) -> Option<Vec<T>> {
    let mut rx = rx.lock().await;
    let first = rx.recv().await?;
    let mut group = vec![first];
    if !linger.is_zero() {
        tokio::time::sleep(linger).await;
    }
    while group.len() < GROUP {
        match rx.try_recv() {
            Ok(r) => group.push(r),
            Err(_) => break,
        }
    }
    Some(group)
}

impl Recorder {
    fn start(pool: sqlx::PgPool) -> Self {
        let (queue, rx) = tokio::sync::mpsc::channel::<Pending>(1024);
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..LANES {
            let (rx, pool) = (rx.clone(), pool.clone());
            tokio::spawn(async move {
                while let Some(group) = next_group(&rx, LINGER).await {
                    let written = write_group(&pool, &group).await;
                    for ((_, done), result) in group.into_iter().zip(written) {
                        let _ = done.send(result);
                    }
                }
            });
        }
        Self { queue }
    }

    async fn record(&self, a: Accepted) -> anyhow::Result<i32> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.queue
            .send((a, done))
            .await
            .map_err(|_| anyhow::anyhow!("recorder stopped"))?;
        wait.await
            .map_err(|_| anyhow::anyhow!("recorder stopped"))?
            .map_err(|e| anyhow::anyhow!("recording the send failed: {e}"))
    }
}

/// Writes a group, one statement (transaction) per practice; for each entry (in order) its
/// attempt number, or the error of its practice's statement.
async fn write_group(pool: &sqlx::PgPool, group: &[Pending]) -> Vec<Result<i32, String>> {
    let mut attempts: std::collections::HashMap<Uuid, i32> = std::collections::HashMap::new();
    let mut failed: std::collections::HashMap<Uuid, String> = std::collections::HashMap::new();
    let mut practices: Vec<Uuid> = group.iter().map(|(a, _)| a.practice).collect();
    practices.sort();
    practices.dedup();
    for practice in practices {
        let of: Vec<&Accepted> = group
            .iter()
            .map(|(a, _)| a)
            .filter(|a| a.practice == practice)
            .collect();
        let uuids = |f: fn(&Accepted) -> Uuid| of.iter().map(|a| f(a)).collect::<Vec<_>>();
        let texts = |f: fn(&Accepted) -> String| of.iter().map(|a| f(a)).collect::<Vec<_>>();
        let rows: Result<Vec<(Uuid, i32)>, sqlx::Error> = sqlx::query_as(
            "select * from notifications.sends_accepted($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(practice)
        .bind(uuids(|a| a.message))
        .bind(uuids(|a| a.patient))
        .bind(texts(|a| a.provider.to_owned()))
        .bind(texts(|a| a.encoding.to_owned()))
        .bind(of.iter().map(|a| a.segments).collect::<Vec<_>>())
        .bind(texts(|a| a.reference.clone()))
        .bind(of.iter().map(|a| a.phone_hmac.clone()).collect::<Vec<_>>())
        .bind(texts(|a| a.provider_id.clone()))
        .bind(uuids(|a| a.disclosure_id))
        .bind(texts(|a| a.subprocessor.clone()))
        .bind(texts(|a| a.purpose.clone()))
        .bind(CATEGORIES.as_slice())
        .bind(FIELDS.as_slice())
        .fetch_all(pool)
        .await;
        match rows {
            Ok(rows) => attempts.extend(rows),
            Err(e) => {
                failed.insert(practice, e.to_string());
            }
        }
    }
    group
        .iter()
        .map(|(a, _)| match failed.get(&a.practice) {
            Some(e) => Err(e.clone()),
            None => Ok(attempts.get(&a.message).copied().unwrap_or_default()),
        })
        .collect()
}

/// The transaction of a send that needs one, opened when first needed.
async fn open(
    state: &AppState,
    practice: PracticeId,
    tx: &mut Option<TenantTx>,
) -> sqlx::Result<TenantTx> {
    match tx.take() {
        Some(t) => Ok(t),
        None => state.db().tenant(practice).await,
    }
}

/// Handles `notifications.send`.
pub async fn send(
    state: &AppState,
    sender: &Sender,
    payload: serde_json::Value,
) -> anyhow::Result<SendOutcome> {
    let providers = &sender.providers;
    let job: SendMessage = serde_json::from_value(payload)?;
    let practice = job.practice_id;
    let id = job.message_id;
    let provider = providers.for_practice(state, practice).await?;
    let provider: &Provider = &provider;
    // A provider that refuses a reference twice needs no marker before the call: the message
    // is read in one statement without a lock (no write, no WAL flush) and the attempt is
    // recorded with its outcome. Otherwise the row is locked and marked `sending` before the
    // call, in one transaction.
    let marked = !provider.dedupes_by_reference();
    let mut tx: Option<TenantTx> = None;
    if marked {
        let mut t = state.db().tenant(practice).await?;
        sqlx::query("select 1 from notifications.message where message_id = $1 for update")
            .bind(id)
            .execute(&mut *t)
            .await?;
        tx = Some(t);
    }
    let loaded = match tx.as_mut() {
        Some(t) => {
            sqlx::query_as::<_, Loaded>(LOAD)
                .bind(practice.as_uuid())
                .bind(vec![id])
                .bind(provider.subprocessor())
                .bind(CATEGORIES.as_slice())
                .fetch_optional(&mut **t)
                .await?
        }
        None => {
            sender
                .loader
                .load(practice, id, provider.subprocessor())
                .await?
        }
    };
    let Some(m) = loaded else {
        // Erased with the patient, or never existed.
        return Ok(SendOutcome::Settled);
    };
    let now = Utc::now();
    let tz: Tz = m.time_zone.parse().unwrap_or(chrono_tz::Europe::Brussels);
    let kind = MessageKind::parse(&m.kind).unwrap_or(MessageKind::Reminder);
    match m.state {
        MessageState::Scheduled if m.due_at > now + Duration::seconds(1) => {
            return Ok(SendOutcome::NotDue);
        }
        MessageState::Retrying
            if m.next_attempt_at
                .is_some_and(|t| t > now + Duration::seconds(1)) =>
        {
            return Ok(SendOutcome::NotDue);
        }
        MessageState::Scheduled | MessageState::Retrying => {}
        MessageState::Sending => {
            // In doubt: an attempt started and its outcome was not recorded.
            if m.next_attempt_at
                .is_some_and(|t| t > now + Duration::seconds(1))
            {
                return Ok(SendOutcome::NotDue);
            }
            if marked {
                let since = m.sending_since.unwrap_or(now);
                let wait = Duration::from_std(state.settings().sms_reconcile_after)?;
                if since + wait > now {
                    // Come back when the reconciliation window has passed.
                    let mut tx = open(state, practice, &mut tx).await?;
                    sqlx::query("update notifications.message set next_attempt_at = $2 where message_id = $1")
                        .bind(id)
                        .bind(since + wait)
                        .execute(&mut *tx)
                        .await?;
                    // Keyed by this run: a run that comes early (a forced re-run) still leaves
                    // a job for the end of the window behind it.
                    crate::planning::schedule_send_keyed(
                        &mut tx,
                        practice,
                        id,
                        since + wait,
                        &format!("send:{id}:reconcile:{}", now.timestamp_micros()),
                    )
                    .await?;
                    tx.commit().await?;
                    return Ok(SendOutcome::AwaitingReport);
                }
                // No report named it within the window: it did not get through; send again.
            }
        }
        _ => return Ok(SendOutcome::Settled),
    }

    // Still wanted?
    let mut verdict = None;
    if kind == MessageKind::Reminder {
        let booked = m.appt_status.as_deref() == Some(AppointmentStatus::Booked.as_str());
        let current = booked && m.appt_starts_at == m.starts_at;
        let lead = Duration::minutes(m.min_lead_minutes.into());
        if !current {
            verdict = Some(SkipReason::AppointmentChanged);
        } else if m.starts_at.is_none_or(|s| s - lead <= now) {
            verdict = Some(SkipReason::TooLate);
        }
    }
    if verdict.is_none() {
        verdict = if m.mobile_e164.is_none() {
            Some(SkipReason::NoMobileNumber)
        } else if m.restricted {
            Some(SkipReason::ProcessingRestricted)
        } else if !m.consent {
            Some(SkipReason::NoSmsConsent)
        } else if m.flagged {
            Some(SkipReason::MobileNumberFlagged)
        } else {
            None
        };
    }
    if let Some(reason) = verdict {
        let t = open(state, practice, &mut tx).await?;
        return settle(t, id, reason.state(), reason.as_str()).await;
    }
    let mobile = m.mobile_e164.clone().unwrap_or_default();
    // A retry never goes out in quiet hours.
    let quiet = QuietHours {
        start: m.quiet_start,
        end: m.quiet_end,
    };
    let allowed = next_allowed(tz, quiet, now);
    if allowed > now + Duration::minutes(1) {
        let mut t = open(state, practice, &mut tx).await?;
        if kind == MessageKind::Reminder
            && m.starts_at
                .is_some_and(|s| allowed > s - Duration::minutes(m.min_lead_minutes.into()))
        {
            let reason = SkipReason::QuietHours;
            return settle(t, id, reason.state(), reason.as_str()).await;
        }
        sqlx::query("update notifications.message set next_attempt_at = $2 where message_id = $1")
            .bind(id)
            .bind(allowed)
            .execute(&mut *t)
            .await?;
        schedule_send(&mut t, practice, id, allowed).await?;
        t.commit().await?;
        return Ok(SendOutcome::NotDue);
    }

    // Render from whitelisted fields only.
    let lang = Language::parse(&m.preferred_language).unwrap_or(Language::Nl);
    let template = m
        .template
        .clone()
        .unwrap_or_else(|| templates::default_template(kind, lang).to_owned());
    let fields = Fields {
        practice: m.display_name.clone().unwrap_or(m.practice_name.clone()),
        address: m.address_line.clone(),
        starts_at: m.starts_at,
        practitioner: m
            .practitioner_name
            .as_deref()
            .filter(|_| m.practitioner_in_messages)
            .map(last_name),
        type_name: m.type_name.clone().filter(|_| m.type_in_messages),
        reply: Some(templates::reply_instructions(lang).to_owned()),
        link: m.link.clone(),
    };
    let text = match templates::render(&template, tz, lang, &fields) {
        Ok(t) => t,
        Err(_) => {
            return settle(
                open(state, practice, &mut tx).await?,
                id,
                MessageState::Failed,
                "template_invalid",
            )
            .await;
        }
    };
    let correlation = reference(id);
    let disclosure = Disclosure {
        practice,
        subprocessor: provider.subprocessor(),
        purpose: purpose(kind),
        data_categories: &CATEGORIES,
        fields: &FIELDS,
        correlation_id: &correlation,
    };
    let permit = match egress::decide(&disclosure, m.refusal.as_deref()) {
        Ok(p) => p,
        Err(r) => {
            let mut t = open(state, practice, &mut tx).await?;
            egress::refuse_in(&mut t, &disclosure, r).await?;
            sqlx::query(
                "update notifications.message set state = 'skipped', reason = $2, final_at = now() where message_id = $1",
            )
            .bind(id)
            .bind(format!("egress_refused:{r:?}").to_lowercase())
            .execute(&mut *t)
            .await?;
            t.commit().await?;
            return Ok(SendOutcome::Skipped("egress_refused".into()));
        }
    };
    let attempt = Attempt {
        message: id,
        patient: m.patient_id,
        practice,
        provider: provider.name(),
        encoding: match text.encoding {
            domain::sms::Encoding::Gsm7 => "gsm7",
            domain::sms::Encoding::Ucs2 => "ucs2",
        },
        segments: text.segments as i32,
        reference: correlation.clone(),
        phone_hmac: state.settings().master_key.phone_route(&mobile),
    };
    let marked_attempt = match tx {
        Some(mut t) => {
            let n = attempt.mark(&mut t).await?;
            t.commit().await?;
            Some(n)
        }
        None => None,
    };
    let sms = OutboundSms {
        to: MobileNumber::from_e164(mobile),
        text,
        reference: correlation,
    };
    let result = provider.send(&permit, &sms).await;
    record(
        state,
        &sender.recorder,
        attempt,
        marked_attempt,
        permit,
        result,
    )
    .await
}

/// One attempt at sending a message.
struct Attempt {
    message: Uuid,
    patient: Uuid,
    practice: PracticeId,
    provider: &'static str,
    encoding: &'static str,
    segments: i32,
    reference: String,
    phone_hmac: Vec<u8>,
}

impl Attempt {
    /// Counts the attempt, marks the message `sending` (unless a delivery report already
    /// moved it on) and writes the route replies and reports will find it by. Returns the
    /// attempt number.
    async fn mark(&self, tx: &mut TenantTx) -> sqlx::Result<i32> {
        let n: i32 = sqlx::query_scalar(
            r#"update notifications.message
                  set state = case when state in ('scheduled', 'retrying', 'sending') then 'sending' else state end,
                      attempts = attempts + 1, sending_since = now(), next_attempt_at = null,
                      provider = $2, encoding = $3, segments = $4
                where message_id = $1 returning attempts"#,
        )
        .bind(self.message)
        .bind(self.provider)
        .bind(self.encoding)
        .bind(self.segments)
        .fetch_one(&mut **tx)
        .await?;
        sqlx::query(
            r#"insert into notifications.route (reference, practice_id, patient_id, phone_hmac) values ($1, $2, $3, $4)
               on conflict (reference) do update set sent_at = now(), phone_hmac = excluded.phone_hmac"#,
        )
        .bind(&self.reference)
        .bind(self.practice.as_uuid())
        .bind(self.patient)
        .bind(&self.phone_hmac)
        .execute(&mut **tx)
        .await?;
        Ok(n)
    }
}

/// Records the outcome of an attempt (and the attempt itself, when it was not marked before
/// the call) with its disclosure, in one transaction.
async fn record(
    state: &AppState,
    recorder: &Recorder,
    a: Attempt,
    marked: Option<i32>,
    permit: egress::Permit,
    result: Result<crate::providers::Accepted, SendError>,
) -> anyhow::Result<SendOutcome> {
    let (practice, id, patient) = (a.practice, a.message, a.patient);
    if let (None, Ok(accepted)) = (marked, &result) {
        // The common case: attempt, state, route and disclosure in one statement, committed
        // together with the other sends that finished meanwhile (group commit).
        let row = permit.into_sent_row();
        let attempt = recorder
            .record(Accepted {
                practice: practice.as_uuid(),
                message: id,
                patient,
                provider: a.provider,
                encoding: a.encoding,
                segments: a.segments,
                reference: a.reference,
                phone_hmac: a.phone_hmac,
                provider_id: accepted.provider_id.clone(),
                disclosure_id: row.disclosure_id,
                subprocessor: row.subprocessor,
                purpose: row.purpose,
            })
            .await?;
        metrics::counter!("sms_sent_total", "duplicate" => accepted.duplicate.to_string())
            .increment(1);
        let outcome = if accepted.duplicate {
            SendOutcome::AlreadyAccepted
        } else {
            SendOutcome::Sent
        };
        tracing::info!(practice.id = %practice, message.id = %id, attempt, outcome = ?outcome, "message send");
        return Ok(outcome);
    }
    let mut tx = state.db().tenant(practice).await?;
    let attempt = match marked {
        Some(n) => n,
        None => a.mark(&mut tx).await?,
    };
    let outcome = match result {
        Ok(accepted) => {
            // A delivery report may have arrived first and moved the state on: keep it.
            sqlx::query(
                r#"update notifications.message
                      set state = case when state in ('sending', 'retrying') then 'sent' else state end,
                          provider_id = coalesce(nullif($2, ''), provider_id),
                          sent_at = coalesce(sent_at, now()), sending_since = null,
                          reason = case when state in ('sending', 'retrying') then null else reason end
                    where message_id = $1"#,
            )
            .bind(id)
            .bind(&accepted.provider_id)
            .execute(&mut *tx)
            .await?;
            permit.sent_in(&mut tx).await?;
            metrics::counter!("sms_sent_total", "duplicate" => accepted.duplicate.to_string())
                .increment(1);
            if accepted.duplicate {
                SendOutcome::AlreadyAccepted
            } else {
                SendOutcome::Sent
            }
        }
        Err(e) => {
            let class = e.class().to_owned();
            permit.failed_in(&mut tx, &class).await?;
            metrics::counter!("sms_send_errors_total", "class" => class.clone()).increment(1);
            match e {
                SendError::Permanent(_) => {
                    sqlx::query(
                        "update notifications.message set state = 'failed', reason = $2, final_at = now(), sending_since = null where message_id = $1",
                    )
                    .bind(id)
                    .bind(&class)
                    .execute(&mut *tx)
                    .await?;
                    if class == "error_13" {
                        flag_mobile(&mut tx, patient, "invalid_number").await?;
                    }
                    SendOutcome::Failed(class)
                }
                SendError::Retryable(_) if attempt >= MAX_ATTEMPTS => {
                    sqlx::query(
                        "update notifications.message set state = 'dead', reason = $2, final_at = now(), sending_since = null where message_id = $1",
                    )
                    .bind(id)
                    .bind(&class)
                    .execute(&mut *tx)
                    .await?;
                    tracing::warn!(practice.id = %practice, message.id = %id, class = %class, "message dead after retries");
                    SendOutcome::Dead(class)
                }
                SendError::Retryable(_) => {
                    // Unless the provider clearly refused (429, or an SMSAPI error code), it may
                    // have the message: a timeout, a lost answer or a 5xx from a gateway in
                    // front of an accepting server. The message stays in doubt (`sending`).
                    let unanswered =
                        !(class.starts_with("http_429") || class.starts_with("error_"));
                    let base = Duration::from_std(state.settings().sms_retry_base)?;
                    let delay = (base * 2i32.pow((attempt - 1).clamp(0, 10) as u32))
                        .min(Duration::minutes(30));
                    let at = Utc::now() + delay;
                    sqlx::query(
                        r#"update notifications.message
                              set state = case when $3 then state else 'retrying' end, reason = $2, next_attempt_at = $4
                            where message_id = $1 and state = 'sending'"#,
                    )
                    .bind(id)
                    .bind(&class)
                    .bind(unanswered)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    schedule_send(&mut tx, practice, id, at).await?;
                    SendOutcome::Retrying(class)
                }
            }
        }
    };
    tx.commit().await?;
    tracing::info!(practice.id = %practice, message.id = %id, attempt, outcome = ?outcome, "message send");
    Ok(outcome)
}

/// Flags a patient's mobile number for staff after a permanent delivery failure.
pub(crate) async fn flag_mobile(
    tx: &mut TenantTx,
    patient: Uuid,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "update core.patient set mobile_flagged_at = now(), mobile_flag_reason = $2 where patient_id = $1 and mobile_flagged_at is null",
    )
    .bind(patient)
    .bind(reason)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
