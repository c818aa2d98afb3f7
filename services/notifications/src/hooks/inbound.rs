//! A patient's reply: routed to the practice that messaged the number, classified, stored
//! encrypted, and handed to scheduling (`JA`/`NEE`) or applied at once (`STOP`).

use std::str::FromStr;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::jobs::{PatientReply, ReplyAction};
use domain::replies::{Intent, classify};
use domain::{AppointmentId, MessageId, PatientId, PracticeId, ReplyId};
use platform::AppState;
use platform::crypto::FieldRef;
use platform::db::set_tenant;
use platform::jobs::enqueue;

use super::auth::count;
use super::reports::routes_of_phone;
use platform::patients::ContactSource;

/// What an inbound message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// Handled.
    Applied,
    /// Seen before.
    Replayed,
    /// From a number we never messaged.
    UnknownSender,
}

/// Handles one inbound message from `from` (E.164).
pub async fn apply_inbound(
    state: &AppState,
    from: &str,
    text: &str,
    received_at: DateTime<Utc>,
    inbound_key: &[u8],
) -> anyhow::Result<Inbound> {
    let routes = routes_of_phone(
        state,
        &state.settings().security.master_key.phone_route(from),
    )
    .await?;
    let Some((practice, patient, reference)) = routes.first().cloned() else {
        return Ok(Inbound::UnknownSender);
    };
    let mut tx = state.db().pool().begin().await?;
    let fresh: Option<i32> = sqlx::query_scalar(
        "insert into notifications.inbound_seen (inbound_key) values ($1) on conflict do nothing returning 1",
    )
    .bind(inbound_key)
    .fetch_optional(&mut *tx)
    .await?;
    if fresh.is_none() {
        return Ok(Inbound::Replayed);
    }
    let intent = classify(text);
    let message = MessageId::from_str(&reference).ok();
    if intent == Intent::Stop {
        // Opt out at every practice that messaged this number.
        let mut practices: Vec<(PracticeId, PatientId, String)> = Vec::new();
        for r in &routes {
            if !practices.iter().any(|p| p.0 == r.0) {
                practices.push(r.clone());
            }
        }
        for (practice, patient, reference) in practices {
            set_tenant(&mut tx, practice).await?;
            let source = ContactSource {
                route: "callback:sms_inbound",
                purpose: "patient_reply",
            };
            platform::patients::withdraw_sms_consent(&mut tx, practice, from, source).await?;
            sqlx::query(
                r#"update notifications.message set state = 'cancelled', reason = 'opted_out', final_at = now()
                    where state in ('scheduled', 'retrying')
                      and patient_id in (select patient_id from core.patient where mobile_e164 = $1)"#,
            )
            .bind(from)
            .execute(&mut *tx)
            .await?;
            insert_reply(
                &mut tx,
                practice,
                patient,
                MessageId::from_str(&reference).ok(),
                None,
                "stop",
                "opted_out",
                None,
                received_at,
            )
            .await?;
        }
        tx.commit().await?;
        return Ok(Inbound::Applied);
    }
    set_tenant(&mut tx, practice).await?;
    let about: Option<(String, Option<AppointmentId>)> = match message {
        Some(m) => {
            sqlx::query_as(
                "select kind, appointment_id from notifications.message where message_id = $1",
            )
            .bind(m)
            .fetch_optional(&mut *tx)
            .await?
        }
        None => None,
    };
    let appointment = about
        .filter(|(kind, _)| kind == "reminder")
        .and_then(|(_, a)| a);
    match (intent, appointment) {
        (Intent::Confirm | Intent::Cancel, Some(appointment)) => {
            let reply_id = insert_reply(
                &mut tx,
                practice,
                patient,
                message,
                Some(appointment),
                if intent == Intent::Confirm {
                    "confirm"
                } else {
                    "cancel"
                },
                "forwarded",
                None,
                received_at,
            )
            .await?;
            let job = PatientReply {
                practice_id: practice,
                reply_id,
                patient_id: patient,
                appointment_id: appointment,
                action: if intent == Intent::Confirm {
                    ReplyAction::Confirm
                } else {
                    ReplyAction::Cancel
                },
                received_at,
            };
            enqueue(&mut tx, &job, Utc::now()).await?;
        }
        (Intent::Confirm | Intent::Cancel, None) => {
            insert_reply(
                &mut tx,
                practice,
                patient,
                message,
                None,
                if intent == Intent::Confirm {
                    "confirm"
                } else {
                    "cancel"
                },
                "no_appointment",
                None,
                received_at,
            )
            .await?;
        }
        _ => {
            // Kept for staff, encrypted: free text may say anything.
            let keys = state
                .practice_keys(&mut tx, practice)
                .await
                .map_err(|e| anyhow::anyhow!("practice keys: {}", e.status()))?;
            let reply_id = ReplyId::new();
            let sealed = keys.encrypt(reply_field(practice, reply_id), text.as_bytes());
            insert_reply_with_id(
                &mut tx,
                reply_id,
                practice,
                patient,
                message,
                None,
                "other",
                "kept",
                Some(sealed),
                received_at,
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(Inbound::Applied)
}

/// Where a reply's text lives (its ciphertext's associated data).
pub(crate) fn reply_field(practice: PracticeId, reply: ReplyId) -> FieldRef {
    FieldRef {
        practice,
        table: "notifications.reply",
        column: "body",
        row: reply.as_uuid(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn insert_reply(
    tx: &mut sqlx::PgConnection,
    practice: PracticeId,
    patient: PatientId,
    message: Option<MessageId>,
    appointment: Option<AppointmentId>,
    intent: &str,
    outcome: &str,
    body: Option<Vec<u8>>,
    received_at: DateTime<Utc>,
) -> sqlx::Result<ReplyId> {
    let id = ReplyId::new();
    insert_reply_with_id(
        tx,
        id,
        practice,
        patient,
        message,
        appointment,
        intent,
        outcome,
        body,
        received_at,
    )
    .await?;
    Ok(id)
}

#[allow(clippy::too_many_arguments)]
async fn insert_reply_with_id(
    tx: &mut sqlx::PgConnection,
    id: ReplyId,
    practice: PracticeId,
    patient: PatientId,
    message: Option<MessageId>,
    appointment: Option<AppointmentId>,
    intent: &str,
    outcome: &str,
    body: Option<Vec<u8>>,
    received_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        r#"insert into notifications.reply (practice_id, reply_id, patient_id, message_id, appointment_id, intent, outcome, body_enc, received_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"#,
    )
    .bind(practice.as_uuid())
    .bind(id)
    .bind(patient)
    .bind(message)
    .bind(appointment)
    .bind(intent)
    .bind(outcome)
    .bind(body)
    .bind(received_at)
    .execute(tx)
    .await?;
    Ok(())
}

pub(super) fn inbound_response(
    kind: &'static str,
    r: anyhow::Result<Inbound>,
    ok: Response,
) -> Response {
    match r {
        Ok(Inbound::Applied) => {
            count(kind, "applied");
            ok
        }
        Ok(Inbound::Replayed) => {
            count(kind, "replayed");
            ok
        }
        Ok(Inbound::UnknownSender) => {
            count(kind, "unknown_sender");
            ok
        }
        Err(e) => {
            tracing::error!(error = %e, "inbound message failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Whether a sender is an E.164 number.
pub(super) fn valid_e164(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()))
}
