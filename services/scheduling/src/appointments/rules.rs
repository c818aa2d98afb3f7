//! The rules of an appointment's life, pure: which change its status allows, when a hold is
//! live, when a missed appointment's rest is given back. The status type and its transition
//! table are `domain::appointment`'s; this adds the time conditions scheduling applies.

use chrono::{DateTime, Duration, Utc};
pub(crate) use domain::appointment::{AppointmentStatus, Transition};

use super::error::ChangeError;

/// The status `transition` leads to, or why it is refused.
pub(crate) fn check(
    from: AppointmentStatus,
    transition: Transition,
) -> Result<AppointmentStatus, ChangeError> {
    from.after(transition)
        .ok_or(ChangeError::InvalidTransition { from, transition })
}

/// Whether a hold can still be confirmed at `now`.
pub(crate) fn live_hold(
    status: AppointmentStatus,
    hold_expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    status == AppointmentStatus::Held && hold_expires_at.is_some_and(|t| t > now)
}

/// Completion and no-show need the appointment to have started.
pub(crate) fn check_started(
    starts_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), ChangeError> {
    if starts_at > now {
        return Err(ChangeError::NotStarted);
    }
    Ok(())
}

/// What a no-show gives back to the waitlist: the rest of the slot from the next 5-minute mark,
/// when at least 5 minutes are left.
pub(crate) fn no_show_release(
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let next_mark = now + Duration::seconds(300 - now.timestamp().rem_euclid(300));
    (ends_at >= next_mark + Duration::minutes(5)).then(|| next_mark.max(starts_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, h, m, s).unwrap()
    }

    #[test]
    fn a_refused_transition_names_the_status_and_the_change() {
        let e = check(AppointmentStatus::Cancelled, Transition::Cancel).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot cancel an appointment that is cancelled"
        );
        assert_eq!(
            check(AppointmentStatus::Held, Transition::Cancel).unwrap(),
            AppointmentStatus::Cancelled
        );
    }

    #[test]
    fn a_hold_is_live_until_it_lapses() {
        let now = at(10, 0, 0);
        assert!(live_hold(AppointmentStatus::Held, Some(at(10, 0, 1)), now));
        assert!(!live_hold(AppointmentStatus::Held, Some(now), now));
        assert!(!live_hold(AppointmentStatus::Held, None, now));
        assert!(!live_hold(
            AppointmentStatus::Booked,
            Some(at(11, 0, 0)),
            now
        ));
    }

    #[test]
    fn closing_needs_a_started_appointment() {
        assert!(check_started(at(10, 0, 0), at(10, 0, 0)).is_ok());
        assert!(matches!(
            check_started(at(10, 0, 1), at(10, 0, 0)),
            Err(ChangeError::NotStarted)
        ));
    }

    #[test]
    fn a_no_show_gives_back_the_rest_from_the_next_five_minute_mark() {
        // 10:00–10:30, noticed at 10:07:30: from 10:10, 20 minutes left.
        assert_eq!(
            no_show_release(at(10, 0, 0), at(10, 30, 0), at(10, 7, 30)),
            Some(at(10, 10, 0))
        );
        // Noticed at 10:21: the next mark is 10:25, leaving exactly 5 minutes.
        assert_eq!(
            no_show_release(at(10, 0, 0), at(10, 30, 0), at(10, 21, 0)),
            Some(at(10, 25, 0))
        );
        // Noticed at 10:26: nothing worth offering.
        assert_eq!(
            no_show_release(at(10, 0, 0), at(10, 30, 0), at(10, 26, 0)),
            None
        );
        // Noticed before the start (an early mark is never before the start).
        assert_eq!(
            no_show_release(at(10, 0, 0), at(10, 30, 0), at(9, 50, 0)),
            Some(at(10, 0, 0))
        );
    }
}
