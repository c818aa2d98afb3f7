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

//!
//! The parts: [`decide`] is the pure verdict (is this message still wanted, and when),
//! [`batch`] the group loader and recorder (no notification logic), [`record`] the outcome of an
//! attempt, [`message`] the row the job reads.

mod batch;
mod decide;
mod message;
mod record;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use domain::identifiers::MobileNumber;
use domain::jobs::SendMessage;
use domain::message::MessageState;
use domain::practice::Language;
use domain::sms::OutboundSms;
use domain::templates::{self, Fields, MessageKind};
use domain::{MessageId, PracticeId};
use platform::AppState;
use platform::db::TenantTx;
use platform::egress::{self, Disclosure};

pub use crate::outbox::reference;
use crate::outbox::schedule_send;
use crate::providers::{Provider, Providers, SmsProvider};
use batch::{Loader, Recorder};
use decide::Verdict;
use message::{CATEGORIES, FIELDS, LOAD, Loaded};
use record::{Attempt, record};
pub use record::{MAX_ATTEMPTS, SendOutcome};

fn purpose(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Reminder => "appointment_reminder",
        MessageKind::WaitlistOffer => "waitlist_offer",
        MessageKind::PaymentLink | MessageKind::PaymentReminder => "payment_request",
    }
}

/// Settles a message without sending.
async fn settle(
    mut tx: TenantTx,
    message: MessageId,
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

/// Sets when the message is next looked at.
async fn later(tx: &mut TenantTx, message: MessageId, at: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query("update notifications.message set next_attempt_at = $2 where message_id = $1")
        .bind(message)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
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
    let reconcile_after = Duration::from_std(state.settings().sms.reconcile_after)?;
    match decide::decide(&m, kind, tz, marked, reconcile_after, now) {
        Verdict::Send => {}
        Verdict::Settled => return Ok(SendOutcome::Settled),
        Verdict::NotDue => return Ok(SendOutcome::NotDue),
        Verdict::AwaitReport { until } => {
            // Come back when the reconciliation window has passed; keyed by this run, so a run
            // that comes early (a forced re-run) still leaves a job for the end of the window.
            let mut t = open(state, practice, &mut tx).await?;
            let key = format!("send:{id}:reconcile:{}", now.timestamp_micros());
            later(&mut t, id, until).await?;
            crate::outbox::schedule_send_keyed(&mut t, practice, id, until, &key).await?;
            t.commit().await?;
            return Ok(SendOutcome::AwaitingReport);
        }
        Verdict::Skip(reason) => {
            let t = open(state, practice, &mut tx).await?;
            return settle(t, id, reason.state(), reason.as_str()).await;
        }
        Verdict::Defer { until } => {
            let mut t = open(state, practice, &mut tx).await?;
            later(&mut t, id, until).await?;
            schedule_send(&mut t, practice, id, until).await?;
            t.commit().await?;
            return Ok(SendOutcome::NotDue);
        }
    }
    let mobile = m.mobile_e164.clone().unwrap_or_default();

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
        phone_hmac: state.settings().security.master_key.phone_route(&mobile),
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
