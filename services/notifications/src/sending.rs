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
use domain::identifiers::MobileNumber;
use domain::jobs::SendMessage;
use domain::practice::Language;
use domain::reminders::QuietHours;
use domain::sms::OutboundSms;
use domain::templates::{self, Fields, MessageKind};
use platform::AppState;
use platform::db::TenantTx;
use platform::egress::{self, Disclosure, GateError};
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
    state: String,
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
}

const LOAD: &str = r#"
select m.state, m.kind, m.patient_id, m.starts_at, m.link, m.due_at, m.attempts, m.next_attempt_at, m.sending_since,
       p.mobile_e164, p.preferred_language,
       (p.sms_consent_at is not null and p.sms_consent_withdrawn_at is null) as consent,
       p.processing_restricted_at is not null as restricted,
       p.mobile_flagged_at is not null as flagged,
       pr.name as practice_name, pr.time_zone,
       s.display_name, s.address_line,
       coalesce(s.practitioner_name_in_messages, false) as practitioner_in_messages,
       coalesce(s.min_lead_minutes, 60) as min_lead_minutes,
       coalesce(s.quiet_start, time '21:00') as quiet_start,
       coalesce(s.quiet_end, time '08:00') as quiet_end,
       a.status as appt_status, a.starts_at as appt_starts_at,
       t.body as template,
       sp.display_name as practitioner_name, st.name as type_name,
       coalesce(st.name_in_messages, false) as type_in_messages
  from notifications.message m
  join core.patient p on p.practice_id = m.practice_id and p.patient_id = m.patient_id
  join core.practice pr on pr.practice_id = m.practice_id
  left join notifications.settings s on s.practice_id = m.practice_id
  left join notifications.appointment a on a.practice_id = m.practice_id and a.appointment_id = m.appointment_id
  left join notifications.template t on t.practice_id = m.practice_id and t.kind = m.kind and t.language = p.preferred_language
  left join scheduling.practitioner sp on sp.practice_id = m.practice_id and sp.practitioner_id = a.practitioner_id
  left join scheduling.appointment_type st on st.practice_id = m.practice_id and st.type_id = a.type_id
 where m.message_id = $1"#;

/// Field names and data categories a send discloses (both providers).
const CATEGORIES: [&str; 2] = ["mobile_number", "message_text"];

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
    state: &str,
    reason: &str,
) -> anyhow::Result<SendOutcome> {
    sqlx::query(
        "update notifications.message set state = $2, reason = $3, final_at = now(), sending_since = null where message_id = $1",
    )
    .bind(message)
    .bind(state)
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

/// Handles `notifications.send`.
pub async fn send(
    state: &AppState,
    providers: &Providers,
    payload: serde_json::Value,
) -> anyhow::Result<SendOutcome> {
    let job: SendMessage = serde_json::from_value(payload)?;
    let practice = job.practice_id;
    let id = job.message_id;
    let mut tx = state.db().tenant(practice).await?;
    let provider = providers.for_practice(state, &mut tx, practice).await?;
    let provider: &Provider = &provider;
    // A provider that refuses a reference twice needs no marker before the call: the message
    // is read without a lock (no write, no WAL flush) and the attempt is recorded with its
    // outcome. Otherwise the row is locked and marked `sending` before the call.
    let marked = !provider.dedupes_by_reference();
    let query = if marked {
        format!("{LOAD} for update of m")
    } else {
        LOAD.to_owned()
    };
    let Some(m) = sqlx::query_as::<_, Loaded>(sqlx::AssertSqlSafe(query))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
    else {
        // Erased with the patient, or never existed.
        return Ok(SendOutcome::Settled);
    };
    let now = Utc::now();
    let tz: Tz = m.time_zone.parse().unwrap_or(chrono_tz::Europe::Brussels);
    let kind = MessageKind::parse(&m.kind).unwrap_or(MessageKind::Reminder);
    match m.state.as_str() {
        "scheduled" if m.due_at > now + Duration::seconds(1) => return Ok(SendOutcome::NotDue),
        "retrying"
            if m.next_attempt_at
                .is_some_and(|t| t > now + Duration::seconds(1)) =>
        {
            return Ok(SendOutcome::NotDue);
        }
        "scheduled" | "retrying" => {}
        "sending" => {
            // In doubt: an attempt started and its outcome was not recorded.
            if m.next_attempt_at
                .is_some_and(|t| t > now + Duration::seconds(1))
            {
                return Ok(SendOutcome::NotDue);
            }
            if !provider.dedupes_by_reference() {
                let since = m.sending_since.unwrap_or(now);
                let wait = Duration::from_std(state.settings().sms_reconcile_after)?;
                if since + wait > now {
                    // Come back when the reconciliation window has passed.
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
    if kind == MessageKind::Reminder {
        let current = m.appt_status.as_deref() == Some("booked") && m.appt_starts_at == m.starts_at;
        if !current {
            return settle(tx, id, "cancelled", "appointment_changed").await;
        }
        let lead = Duration::minutes(m.min_lead_minutes.into());
        if m.starts_at.is_none_or(|s| s - lead <= now) {
            return settle(tx, id, "skipped", "too_late").await;
        }
    }
    let Some(mobile) = m.mobile_e164.clone() else {
        return settle(tx, id, "skipped", "no_mobile_number").await;
    };
    if m.restricted {
        return settle(tx, id, "skipped", "processing_restricted").await;
    }
    if !m.consent {
        return settle(tx, id, "skipped", "no_sms_consent").await;
    }
    if m.flagged {
        return settle(tx, id, "skipped", "mobile_number_flagged").await;
    }
    // A retry never goes out in quiet hours.
    let quiet = QuietHours {
        start: m.quiet_start,
        end: m.quiet_end,
    };
    let allowed = next_allowed(tz, quiet, now);
    if allowed > now + Duration::minutes(1) {
        if kind == MessageKind::Reminder
            && m.starts_at
                .is_some_and(|s| allowed > s - Duration::minutes(m.min_lead_minutes.into()))
        {
            return settle(tx, id, "skipped", "quiet_hours").await;
        }
        sqlx::query("update notifications.message set next_attempt_at = $2 where message_id = $1")
            .bind(id)
            .bind(allowed)
            .execute(&mut *tx)
            .await?;
        schedule_send(&mut tx, practice, id, allowed).await?;
        tx.commit().await?;
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
        Err(_) => return settle(tx, id, "failed", "template_invalid").await,
    };
    let correlation = reference(id);
    let disclosure = Disclosure {
        practice,
        subprocessor: provider.subprocessor(),
        purpose: purpose(kind),
        data_categories: &CATEGORIES,
        fields: &["recipient", "text", "reference"],
        correlation_id: &correlation,
    };
    let permit = match egress::authorize_in(&mut tx, &disclosure).await {
        Ok(p) => p,
        Err(GateError::Refused(r)) => {
            sqlx::query(
                "update notifications.message set state = 'skipped', reason = $2, final_at = now() where message_id = $1",
            )
            .bind(id)
            .bind(format!("egress_refused:{r:?}").to_lowercase())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(SendOutcome::Skipped("egress_refused".into()));
        }
        Err(GateError::Database(e)) => return Err(e.into()),
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
    let marked_attempt = if marked {
        Some(attempt.mark(&mut tx).await?)
    } else {
        None
    };
    tx.commit().await?;

    let sms = OutboundSms {
        to: MobileNumber::from_e164(mobile),
        text,
        reference: correlation,
    };
    let result = provider.send(&permit, &sms).await;
    record(state, attempt, marked_attempt, permit, result).await
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
    a: Attempt,
    marked: Option<i32>,
    permit: egress::Permit,
    result: Result<crate::providers::Accepted, SendError>,
) -> anyhow::Result<SendOutcome> {
    let (practice, id, patient) = (a.practice, a.message, a.patient);
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
