//! Which messages exist and when they are due.
//!
//! Reminders: every `notifications.appointment-changed` event updates this service's projection
//! of the appointment (only when its version is newer), cancels pending reminders for another
//! time or a cancelled appointment, and writes one message per reminder rule for the current
//! time, keyed `reminder:<appointment>:<offset>:<start>`. A reminder whose moment has passed
//! goes out at once if it still helps, or is written as `skipped` with the reason.
//!
//! Other messages (`notifications.request-message`): one message per requester's key, sent at
//! once or at the end of quiet hours.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use domain::appointment::AppointmentStatus;
use domain::jobs::{AppointmentChanged, MessageRequest};
use domain::message::MessageState;
use domain::reminders::{Decision, QuietHours, plan};
use domain::schedule::boundary;
use domain::{AppointmentTypeId, MessageId};
use platform::AppState;
use platform::db::TenantTx;

use crate::outbox::{route, schedule_send};

/// What an appointment-changed event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Planned {
    /// An older version than the one already applied: nothing changes.
    Stale,
    /// Applied: reminders scheduled, skipped and cancelled.
    Applied {
        /// Reminders newly scheduled.
        scheduled: usize,
        /// Reminders written as skipped.
        skipped: usize,
        /// Pending reminders cancelled.
        cancelled: u64,
    },
}

/// A practice's sending rules.
#[derive(sqlx::FromRow)]
pub(crate) struct Rules {
    time_zone: String,
    quiet_start: NaiveTime,
    quiet_end: NaiveTime,
    min_lead_minutes: i32,
    offsets: Vec<i32>,
}

impl Rules {
    pub(crate) fn tz(&self) -> Tz {
        self.time_zone
            .parse()
            .unwrap_or(chrono_tz::Europe::Brussels)
    }

    pub(crate) fn quiet(&self) -> QuietHours {
        QuietHours {
            start: self.quiet_start,
            end: self.quiet_end,
        }
    }

    pub(crate) fn min_lead(&self) -> Duration {
        Duration::minutes(self.min_lead_minutes.into())
    }
}

/// The rules for an appointment type (or the practice's, for other messages).
pub(crate) async fn rules(
    tx: &mut TenantTx,
    type_id: Option<AppointmentTypeId>,
) -> sqlx::Result<Rules> {
    sqlx::query_as(
        r#"select p.time_zone,
                  coalesce(s.quiet_start, time '21:00') as quiet_start,
                  coalesce(s.quiet_end, time '08:00') as quiet_end,
                  coalesce(s.min_lead_minutes, 60) as min_lead_minutes,
                  coalesce((select array_agg(r.offset_minutes order by r.offset_minutes) from notifications.reminder_rule r where r.type_id = $1),
                           (select array_agg(r.offset_minutes order by r.offset_minutes) from notifications.reminder_rule r where r.type_id is null),
                           array[1440]) as offsets
             from core.practice p left join notifications.settings s on s.practice_id = p.practice_id"#,
    )
    .bind(type_id)
    .fetch_one(&mut **tx)
    .await
}

/// Handles `notifications.appointment-changed`.
pub async fn appointment_changed(
    state: &AppState,
    payload: serde_json::Value,
) -> anyhow::Result<Planned> {
    let ev: AppointmentChanged = serde_json::from_value(payload)?;
    let mut tx = state.db().tenant(ev.practice_id).await?;
    let applied: Option<i32> = sqlx::query_scalar(
        r#"insert into notifications.appointment (practice_id, appointment_id, version, patient_id, practitioner_id, type_id, starts_at, status)
           values ($1, $2, $3, $4, $5, $6, $7, $8)
           on conflict (practice_id, appointment_id) do update
              set version = excluded.version, patient_id = excluded.patient_id, practitioner_id = excluded.practitioner_id,
                  type_id = excluded.type_id, starts_at = excluded.starts_at, status = excluded.status, updated_at = now()
            where notifications.appointment.version < excluded.version
           returning version"#,
    )
    .bind(ev.practice_id.as_uuid())
    .bind(ev.appointment_id)
    .bind(ev.version)
    .bind(ev.patient_id)
    .bind(ev.practitioner_id)
    .bind(ev.type_id)
    .bind(ev.starts_at)
    .bind(ev.status.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    if applied.is_none() {
        tx.commit().await?;
        return Ok(Planned::Stale);
    }
    let booked = ev.status == AppointmentStatus::Booked;
    let cancel_reason = if booked {
        "rescheduled".to_owned()
    } else {
        format!("appointment_{}", ev.status)
    };
    let cancelled = sqlx::query(
        r#"update notifications.message set state = 'cancelled', reason = $3, final_at = now()
            where appointment_id = $1 and kind = 'reminder' and state in ('scheduled', 'retrying')
              and (starts_at <> $2 or not $4)"#,
    )
    .bind(ev.appointment_id)
    .bind(ev.starts_at)
    .bind(&cancel_reason)
    .bind(booked)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let (mut scheduled, mut skipped) = (0, 0);
    if let (true, Some(patient)) = (booked, ev.patient_id) {
        let now = Utc::now();
        let r = rules(&mut tx, Some(ev.type_id)).await?;
        for offset in &r.offsets {
            let key = format!(
                "reminder:{}:{offset}m:{}",
                ev.appointment_id,
                ev.starts_at.timestamp()
            );
            let decision = plan(
                r.tz(),
                ev.starts_at,
                Duration::minutes((*offset).into()),
                r.quiet(),
                now,
                r.min_lead(),
            );
            let (state, due, reason) = match decision {
                Decision::SendAt(t) => (MessageState::Scheduled, t, None),
                Decision::Skip(why) => (MessageState::Skipped, now, Some(why.as_str().to_owned())),
            };
            // A reminder cancelled by a move comes back when the appointment moves back.
            let written: Option<MessageId> = sqlx::query_scalar(
                r#"insert into notifications.message (practice_id, message_id, dedupe_key, kind, patient_id, appointment_id, starts_at, state, reason, due_at, final_at)
                   values ($1, $2, $3, 'reminder', $4, $5, $6, $7, $8, $9, case when $7 = 'skipped' then now() end)
                   on conflict (practice_id, dedupe_key) do update
                      set state = excluded.state, reason = excluded.reason, due_at = excluded.due_at, final_at = excluded.final_at
                    where notifications.message.state = 'cancelled' and notifications.message.reason = 'rescheduled'
                   returning message_id"#,
            )
            .bind(ev.practice_id.as_uuid())
            .bind(MessageId::new())
            .bind(&key)
            .bind(patient)
            .bind(ev.appointment_id)
            .bind(ev.starts_at)
            .bind(state.as_str())
            .bind(&reason)
            .bind(due)
            .fetch_optional(&mut *tx)
            .await?;
            match (written, state) {
                (Some(id), MessageState::Scheduled) => {
                    route(&mut tx, ev.practice_id, id, patient).await?;
                    schedule_send(&mut tx, ev.practice_id, id, due).await?;
                    scheduled += 1;
                }
                (Some(_), _) => skipped += 1,
                (None, _) => {}
            }
        }
    }
    tx.commit().await?;
    let planned = Planned::Applied {
        scheduled,
        skipped,
        cancelled,
    };
    tracing::info!(practice.id = %ev.practice_id, appointment.id = %ev.appointment_id, version = ev.version, outcome = ?planned, "reminders planned");
    Ok(planned)
}

/// The first moment at or after `now` outside quiet hours.
pub(crate) fn next_allowed(tz: Tz, quiet: QuietHours, now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&tz);
    if !quiet.contains(local.time()) {
        return now;
    }
    let mut date = local.date_naive();
    if quiet.start > quiet.end && local.time() >= quiet.start {
        date = date.succ_opt().unwrap_or(date);
    }
    boundary(tz, date.and_time(quiet.end), true).max(now)
}

/// Handles `notifications.request-message`: one message per requester's key.
pub async fn request_message(state: &AppState, payload: serde_json::Value) -> anyhow::Result<bool> {
    let req: MessageRequest = serde_json::from_value(payload)?;
    let mut tx = state.db().tenant(req.practice_id).await?;
    let r = rules(&mut tx, None).await?;
    let due = next_allowed(r.tz(), r.quiet(), Utc::now());
    let written: Option<MessageId> = sqlx::query_scalar(
        r#"insert into notifications.message (practice_id, message_id, dedupe_key, kind, patient_id, about_id, starts_at, link, state, due_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, 'scheduled', $9)
           on conflict (practice_id, dedupe_key) do nothing
           returning message_id"#,
    )
    .bind(req.practice_id.as_uuid())
    .bind(MessageId::new())
    .bind(&req.key)
    .bind(req.kind.as_str())
    .bind(req.patient_id)
    .bind(req.about_id)
    .bind(req.starts_at)
    .bind(&req.link)
    .bind(due)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = written {
        route(&mut tx, req.practice_id, id, req.patient_id).await?;
        schedule_send(&mut tx, req.practice_id, id, due).await?;
    }
    tx.commit().await?;
    Ok(written.is_some())
}
