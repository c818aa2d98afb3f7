//! When a reminder goes out: an offset before the appointment (whole days on the wall clock),
//! moved out of quiet hours into the allowed window, never after the appointment, sent at once
//! when booked after its due time if still useful, otherwise skipped with a reason.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;

use crate::schedule::{boundary, reminder_at};

/// Local hours in which no message is sent; the window may wrap midnight (21:00–08:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// Start of the quiet period (local).
    pub start: NaiveTime,
    /// End of the quiet period (local); sending may resume at this time.
    pub end: NaiveTime,
}

impl Default for QuietHours {
    fn default() -> Self {
        Self {
            start: NaiveTime::from_hms_opt(21, 0, 0).expect("valid"),
            end: NaiveTime::from_hms_opt(8, 0, 0).expect("valid"),
        }
    }
}

impl QuietHours {
    /// Whether a local time is quiet.
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start <= self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

/// Why a reminder is not sent: planning can only find it too late or inside quiet hours (the
/// message vocabulary's [`SkipReason::TooLate`] and [`SkipReason::QuietHours`]).
pub use crate::message::SkipReason;

/// What to do with a reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send at this instant.
    SendAt(DateTime<Utc>),
    /// Do not send; record why.
    Skip(SkipReason),
}

/// Decides when the reminder `before` an appointment at `starts_at` goes out. `min_lead` is how
/// long before the appointment a reminder still helps (e.g. one hour).
pub fn plan(
    tz: Tz,
    starts_at: DateTime<Utc>,
    before: Duration,
    quiet: QuietHours,
    now: DateTime<Utc>,
    min_lead: Duration,
) -> Decision {
    let latest = starts_at - min_lead;
    if now >= latest {
        return Decision::Skip(SkipReason::TooLate);
    }
    let due = reminder_at(tz, starts_at, before).max(now);
    let local = due.with_timezone(&tz);
    if !quiet.contains(local.time()) {
        return Decision::SendAt(due);
    }
    // Later: when the quiet period ends (the same night or the next morning).
    let mut end_date = local.date_naive();
    if quiet.start > quiet.end && local.time() >= quiet.start {
        end_date = end_date.succ_opt().unwrap_or(end_date);
    }
    let later = boundary(tz, end_date.and_time(quiet.end), true);
    if later <= latest {
        return Decision::SendAt(later);
    }
    // Earlier: the last minute before the quiet period began, if that is not past.
    let mut start_date = local.date_naive();
    if quiet.start > quiet.end && local.time() < quiet.end {
        start_date = start_date.pred_opt().unwrap_or(start_date);
    }
    let earlier = boundary(tz, start_date.and_time(quiet.start), true) - Duration::minutes(1);
    if earlier >= now {
        return Decision::SendAt(earlier);
    }
    Decision::Skip(SkipReason::QuietHours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const BXL: Tz = chrono_tz::Europe::Brussels;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        BXL.with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn local(d: Decision) -> String {
        match d {
            Decision::SendAt(t) => t
                .with_timezone(&BXL)
                .format("%Y-%m-%d %H:%M %:z")
                .to_string(),
            Decision::Skip(r) => format!("skip {r:?}"),
        }
    }

    #[test]
    fn a_day_before_on_the_wall_clock_across_dst() {
        let now = at(2027, 3, 1, 12, 0);
        let d = plan(
            BXL,
            at(2027, 3, 29, 9, 0),
            Duration::hours(24),
            QuietHours::default(),
            now,
            Duration::hours(1),
        );
        assert_eq!(local(d), "2027-03-28 09:00 +02:00");
        let d = plan(
            BXL,
            at(2027, 11, 1, 9, 0),
            Duration::hours(24),
            QuietHours::default(),
            at(2027, 10, 1, 0, 0),
            Duration::hours(1),
        );
        assert_eq!(local(d), "2027-10-31 09:00 +01:00");
    }

    #[test]
    fn quiet_hours_move_the_send_into_the_window() {
        let now = at(2027, 5, 1, 12, 0);
        // 07:30 appointment: due 07:30 the day before, quiet → 08:00 the day before.
        let d = plan(
            BXL,
            at(2027, 5, 10, 7, 30),
            Duration::hours(24),
            QuietHours::default(),
            now,
            Duration::hours(1),
        );
        assert_eq!(local(d), "2027-05-09 08:00 +02:00");
        // 22:30 appointment: due 22:30 the day before → 08:00 on the day.
        let d = plan(
            BXL,
            at(2027, 5, 10, 22, 30),
            Duration::hours(24),
            QuietHours::default(),
            now,
            Duration::hours(1),
        );
        assert_eq!(local(d), "2027-05-10 08:00 +02:00");
        // 08:30 appointment with a 10-hour reminder: due 22:30, 08:00 is too late → 20:59.
        let d = plan(
            BXL,
            at(2027, 5, 10, 8, 30),
            Duration::hours(10),
            QuietHours::default(),
            now,
            Duration::hours(1),
        );
        assert_eq!(local(d), "2027-05-09 20:59 +02:00");
    }

    #[test]
    fn late_bookings_are_reminded_at_once_or_skipped() {
        // Booked at 14:00 for tomorrow 10:00: the 24-hour reminder is due already → now.
        let now = at(2027, 5, 9, 14, 0);
        let d = plan(
            BXL,
            at(2027, 5, 10, 10, 0),
            Duration::hours(24),
            QuietHours::default(),
            now,
            Duration::hours(1),
        );
        assert_eq!(d, Decision::SendAt(now));
        // Booked at 22:00 for 08:30 next morning: quiet until 08:00, 08:00 is within the lead.
        let now = at(2027, 5, 9, 22, 0);
        let d = plan(
            BXL,
            at(2027, 5, 10, 8, 30),
            Duration::hours(24),
            QuietHours::default(),
            now,
            Duration::hours(1),
        );
        assert_eq!(d, Decision::Skip(SkipReason::QuietHours));
        // Booked 30 minutes before.
        let now = at(2027, 5, 10, 10, 0);
        let d = plan(
            BXL,
            at(2027, 5, 10, 10, 30),
            Duration::hours(24),
            QuietHours::default(),
            now,
            Duration::hours(1),
        );
        assert_eq!(d, Decision::Skip(SkipReason::TooLate));
    }
}
