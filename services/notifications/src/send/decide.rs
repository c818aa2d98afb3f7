//! Is this message still wanted, and when? The pure verdict of one run of the send job, from
//! the message as loaded and the clock; the job acts on it.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use domain::appointment::AppointmentStatus;
use domain::message::{MessageState, SkipReason};
use domain::reminders::QuietHours;
use domain::templates::MessageKind;

use super::message::Loaded;
use crate::planning::next_allowed;

/// What to do with a message now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Settled earlier: nothing to do.
    Settled,
    /// Not due yet: a later job runs it.
    NotDue,
    /// In doubt with a provider that does not de-duplicate: wait for a delivery report naming
    /// it until `until`, then send again.
    AwaitReport {
        /// The end of the reconciliation window.
        until: DateTime<Utc>,
    },
    /// No longer wanted, or not allowed.
    Skip(SkipReason),
    /// Quiet hours: try again at `until`.
    Defer {
        /// The next allowed time.
        until: DateTime<Utc>,
    },
    /// Send it now.
    Send,
}

/// The rules, in order: state and due time; an attempt in doubt (`marked`: the provider does
/// not refuse a reference twice, so a report is awaited for `reconcile_after`); a reminder whose
/// appointment moved or is too close, or a payment message whose invoice is settled; the recipient (number, restriction, consent, flag);
/// quiet hours (a reminder that would land after its latest useful time is skipped instead).
pub(super) fn decide(
    m: &Loaded,
    kind: MessageKind,
    tz: Tz,
    marked: bool,
    reconcile_after: Duration,
    now: DateTime<Utc>,
) -> Verdict {
    let soon = now + Duration::seconds(1);
    match m.state {
        MessageState::Scheduled if m.due_at > soon => return Verdict::NotDue,
        MessageState::Retrying if m.next_attempt_at.is_some_and(|t| t > soon) => {
            return Verdict::NotDue;
        }
        MessageState::Scheduled | MessageState::Retrying => {}
        MessageState::Sending => {
            // In doubt: an attempt started and its outcome was not recorded.
            if m.next_attempt_at.is_some_and(|t| t > soon) {
                return Verdict::NotDue;
            }
            let until = m.sending_since.unwrap_or(now) + reconcile_after;
            if marked && until > now {
                return Verdict::AwaitReport { until };
            }
            // No report named it within the window: it did not get through; send again.
        }
        _ => return Verdict::Settled,
    }
    let lead = Duration::minutes(m.min_lead_minutes.into());
    if m.invoice_settled == Some(true) {
        return Verdict::Skip(SkipReason::InvoiceSettled);
    }
    if kind == MessageKind::Reminder {
        let booked = m.appt_status == Some(AppointmentStatus::Booked);
        if !booked || m.appt_starts_at != m.starts_at {
            return Verdict::Skip(SkipReason::AppointmentChanged);
        }
        if m.starts_at.is_none_or(|s| s - lead <= now) {
            return Verdict::Skip(SkipReason::TooLate);
        }
    }
    let recipient = if m.mobile_e164.is_none() {
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
    if let Some(reason) = recipient {
        return Verdict::Skip(reason);
    }
    // A retry never goes out in quiet hours either.
    let quiet = QuietHours {
        start: m.quiet_start,
        end: m.quiet_end,
    };
    let allowed = next_allowed(tz, quiet, now);
    if allowed > now + Duration::minutes(1) {
        if kind == MessageKind::Reminder && m.starts_at.is_some_and(|s| allowed > s - lead) {
            return Verdict::Skip(SkipReason::QuietHours);
        }
        return Verdict::Defer { until: allowed };
    }
    Verdict::Send
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, TimeZone};
    use domain::{MessageId, PatientId};
    use uuid::Uuid;

    const TZ: Tz = chrono_tz::Europe::Brussels;

    /// 2026-12-03 10:00 UTC (11:00 in Brussels), outside quiet hours 22:00–08:00.
    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap()
    }

    /// A due reminder for a booked appointment tomorrow, to a consenting patient.
    fn due() -> Loaded {
        let starts = now() + Duration::days(1);
        Loaded {
            message_id: MessageId::from_uuid(Uuid::nil()),
            state: MessageState::Scheduled,
            kind: "reminder".into(),
            patient_id: PatientId::from_uuid(Uuid::nil()),
            starts_at: Some(starts),
            link: None,
            due_at: now(),
            next_attempt_at: None,
            sending_since: None,
            mobile_e164: Some("+32470000000".into()),
            preferred_language: "nl".into(),
            consent: true,
            restricted: false,
            flagged: false,
            practice_name: String::new(),
            time_zone: "Europe/Brussels".into(),
            display_name: None,
            address_line: None,
            practitioner_in_messages: false,
            min_lead_minutes: 60,
            quiet_start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            quiet_end: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            appt_status: Some(AppointmentStatus::Booked),
            appt_starts_at: Some(starts),
            template: None,
            practitioner_name: None,
            type_name: None,
            type_in_messages: false,
            refusal: None,
            invoice_settled: None,
        }
    }

    #[test]
    fn a_payment_message_of_a_settled_invoice_is_cancelled() {
        let mut m = due();
        m.kind = "payment_reminder".into();
        m.invoice_settled = Some(false);
        let at = now();
        let send = decide(
            &m,
            MessageKind::PaymentReminder,
            TZ,
            false,
            Duration::seconds(600),
            at,
        );
        assert_eq!(send, Verdict::Send);
        m.invoice_settled = Some(true);
        let skip = decide(
            &m,
            MessageKind::PaymentReminder,
            TZ,
            false,
            Duration::seconds(600),
            at,
        );
        assert_eq!(skip, Verdict::Skip(SkipReason::InvoiceSettled));
    }

    fn verdict(m: &Loaded, marked: bool, at: DateTime<Utc>) -> Verdict {
        decide(
            m,
            MessageKind::Reminder,
            TZ,
            marked,
            Duration::seconds(600),
            at,
        )
    }

    #[test]
    fn a_due_wanted_message_is_sent() {
        assert_eq!(verdict(&due(), false, now()), Verdict::Send);
    }

    #[test]
    fn not_yet_due_and_settled_messages_are_left_alone() {
        let mut m = due();
        m.due_at = now() + Duration::minutes(5);
        assert_eq!(verdict(&m, false, now()), Verdict::NotDue);
        for s in [
            MessageState::Sent,
            MessageState::Delivered,
            MessageState::Dead,
        ] {
            let mut m = due();
            m.state = s;
            assert_eq!(verdict(&m, false, now()), Verdict::Settled, "{s}");
        }
    }

    #[test]
    fn an_attempt_in_doubt_waits_for_its_report_only_where_references_are_not_deduplicated() {
        let mut m = due();
        m.state = MessageState::Sending;
        m.sending_since = Some(now() - Duration::seconds(60));
        let until = now() + Duration::seconds(540);
        assert_eq!(verdict(&m, true, now()), Verdict::AwaitReport { until });
        assert_eq!(verdict(&m, false, now()), Verdict::Send);
        // After the window, it is sent again.
        assert_eq!(verdict(&m, true, until), Verdict::Send);
    }

    #[test]
    fn a_moved_cancelled_or_imminent_appointment_stops_its_reminder() {
        let mut moved = due();
        moved.appt_starts_at = moved.starts_at.map(|s| s + Duration::hours(1));
        let mut cancelled = due();
        cancelled.appt_status = Some(AppointmentStatus::Cancelled);
        for m in [moved, cancelled] {
            assert_eq!(
                verdict(&m, false, now()),
                Verdict::Skip(SkipReason::AppointmentChanged)
            );
        }
        let mut soon = due();
        soon.starts_at = Some(now() + Duration::minutes(30));
        soon.appt_starts_at = soon.starts_at;
        assert_eq!(
            verdict(&soon, false, now()),
            Verdict::Skip(SkipReason::TooLate)
        );
    }

    #[test]
    fn the_recipient_decides_in_a_fixed_order() {
        let mut m = due();
        m.flagged = true;
        assert_eq!(
            verdict(&m, false, now()),
            Verdict::Skip(SkipReason::MobileNumberFlagged)
        );
        m.consent = false;
        assert_eq!(
            verdict(&m, false, now()),
            Verdict::Skip(SkipReason::NoSmsConsent)
        );
        m.restricted = true;
        assert_eq!(
            verdict(&m, false, now()),
            Verdict::Skip(SkipReason::ProcessingRestricted)
        );
        m.mobile_e164 = None;
        assert_eq!(
            verdict(&m, false, now()),
            Verdict::Skip(SkipReason::NoMobileNumber)
        );
    }

    #[test]
    fn quiet_hours_defer_a_message_or_skip_a_reminder_that_would_come_too_late() {
        // 23:00 in Brussels: the next allowed time is 08:00.
        let night = Utc.with_ymd_and_hms(2026, 12, 3, 22, 0, 0).unwrap();
        let eight = Utc.with_ymd_and_hms(2026, 12, 4, 7, 0, 0).unwrap();
        let mut m = due();
        m.due_at = night;
        assert_eq!(verdict(&m, false, night), Verdict::Defer { until: eight });
        // An appointment at 08:30 with an hour's lead: 08:00 is past its latest useful time.
        m.starts_at = Some(eight + Duration::minutes(30));
        m.appt_starts_at = m.starts_at;
        assert_eq!(
            verdict(&m, false, night),
            Verdict::Skip(SkipReason::QuietHours)
        );
    }
}
