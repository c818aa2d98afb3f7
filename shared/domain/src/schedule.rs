//! Local wall-clock time in a practice's zone, turned into instants without the classic DST
//! mistakes: a wall-clock time inside the spring gap does not exist (no slot is offered there),
//! one inside the autumn overlap exists twice (both instants are offered, each with its own
//! offset), and durations are physical (an appointment lasts its minutes whatever the clock does).

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A half-open interval of instants `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

impl Span {
    /// A span; `None` unless `start < end`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Self> {
        (start < end).then_some(Self { start, end })
    }

    /// Whether the two share any instant.
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether `other` lies inside this span.
    pub fn contains(&self, other: &Span) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

/// Every instant a local wall-clock time stands for: none in a spring gap, two in an autumn
/// overlap (earlier first), one otherwise.
pub fn instants(tz: Tz, local: NaiveDateTime) -> Vec<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
        LocalResult::Ambiguous(a, b) => vec![a.with_timezone(&Utc), b.with_timezone(&Utc)],
        LocalResult::None => vec![],
    }
}

/// The instant a working period that starts (or ends) at `local` begins at: in an overlap the
/// earlier instant for a start and the later for an end; in a gap, the moment the clock jumps.
pub fn boundary(tz: Tz, local: NaiveDateTime, is_start: bool) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => if is_start { a } else { b }.with_timezone(&Utc),
        LocalResult::None => {
            // Gaps are at most a few hours; walk forward to the first wall-clock time that exists.
            let mut t = local;
            for _ in 0..(4 * 60) {
                t += Duration::minutes(1);
                if let Some(x) = tz.from_local_datetime(&t).earliest() {
                    return x.with_timezone(&Utc);
                }
            }
            Utc.from_utc_datetime(&local)
        }
    }
}

/// A local working period on a date, as instants (periods end on the day they start).
pub fn local_period(tz: Tz, date: NaiveDate, start: NaiveTime, end: NaiveTime) -> Option<Span> {
    Span::new(
        boundary(tz, date.and_time(start), true),
        boundary(tz, date.and_time(end), false),
    )
}

/// Candidate appointment starts inside a local working period: wall-clock times from `start` in
/// steps of `step`, each resolved to its instants (none in a gap, two in an overlap), keeping
/// those whose physical `duration` ends inside the period.
pub fn candidate_starts(
    tz: Tz,
    date: NaiveDate,
    start: NaiveTime,
    end: NaiveTime,
    step: Duration,
    duration: Duration,
) -> Vec<Span> {
    let Some(period) = local_period(tz, date, start, end) else {
        return vec![];
    };
    let mut out = Vec::new();
    let mut local = date.and_time(start);
    let last = date.and_time(end);
    while local < last {
        for t in instants(tz, local) {
            if let Some(span) = Span::new(t, t + duration)
                && period.contains(&span)
            {
                out.push(span);
            }
        }
        local += step;
    }
    out.sort();
    out.dedup();
    out
}

/// When a reminder `before` an appointment is due. Whole days are counted on the wall clock
/// (a 24-hour reminder of a 09:00 appointment is at 09:00 the day before, also across a DST
/// change); other offsets are physical.
pub fn reminder_at(tz: Tz, starts_at: DateTime<Utc>, before: Duration) -> DateTime<Utc> {
    let days = before.num_days();
    if days > 0 && before == Duration::days(days) {
        let local = starts_at.with_timezone(&tz).naive_local() - Duration::days(days);
        boundary(tz, local, true)
    } else {
        starts_at - before
    }
}

/// Occurrences of a series: the first start's local wall-clock time, every `interval_weeks`
/// weeks. An occurrence whose local time does not exist that day (spring gap) is `None`; one
/// that exists twice (autumn overlap) takes the earlier instant.
pub fn series_starts(
    tz: Tz,
    first: DateTime<Utc>,
    count: u32,
    interval_weeks: u32,
) -> Vec<Option<DateTime<Utc>>> {
    let local = first.with_timezone(&tz).naive_local();
    (0..count)
        .map(|k| {
            let at = local + Duration::weeks(i64::from(k) * i64::from(interval_weeks));
            tz.from_local_datetime(&at)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        })
        .collect()
}

/// The local date of an instant in a zone.
pub fn local_date(tz: Tz, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    /// Every DST transition of a zone between two years, as (local date, spring?).
    fn transitions(tz: Tz, from: i32, to: i32) -> Vec<(NaiveDate, bool)> {
        let mut out = Vec::new();
        let mut day = d(from, 1, 1);
        while day < d(to + 1, 1, 1) {
            let noon = |x: NaiveDate| tz.from_local_datetime(&x.and_time(t(12, 0))).unwrap();
            use chrono::Offset;
            let before = noon(day).offset().fix().local_minus_utc();
            let after = noon(day + Duration::days(1))
                .offset()
                .fix()
                .local_minus_utc();
            if before != after {
                out.push((day + Duration::days(1), after > before));
            }
            day += Duration::days(1);
        }
        out
    }

    #[test]
    fn every_transition_2020_2035_in_brussels_and_amsterdam() {
        for tz in [chrono_tz::Europe::Brussels, chrono_tz::Europe::Amsterdam] {
            let all = transitions(tz, 2020, 2035);
            assert_eq!(all.len(), 32, "two a year");
            for (day, spring) in all {
                // A night practice working 00:00-06:00 on the transition day, 30-minute slots.
                let slots = candidate_starts(
                    tz,
                    day,
                    t(0, 0),
                    t(6, 0),
                    Duration::minutes(30),
                    Duration::minutes(30),
                );
                let locals: Vec<NaiveTime> = slots
                    .iter()
                    .map(|s| s.start.with_timezone(&tz).time())
                    .collect();
                if spring {
                    // 02:00 and 02:30 do not exist; 5 physical hours hold 10 slots.
                    assert!(
                        !locals.contains(&t(2, 0)) && !locals.contains(&t(2, 30)),
                        "{day}: {locals:?}"
                    );
                    assert_eq!(slots.len(), 10, "{day}");
                } else {
                    // 02:00 and 02:30 exist twice, with different offsets; 7 physical hours.
                    assert_eq!(locals.iter().filter(|x| **x == t(2, 0)).count(), 2, "{day}");
                    assert_eq!(slots.len(), 14, "{day}");
                }
                // Every slot starts on the intended wall-clock grid and lasts 30 real minutes.
                for s in &slots {
                    let local = s.start.with_timezone(&tz);
                    assert_eq!(local.minute() % 30, 0);
                    assert_eq!(s.end - s.start, Duration::minutes(30));
                }
                // Day hours on the transition day land on the intended wall-clock time.
                let day_slots = candidate_starts(
                    tz,
                    day,
                    t(9, 0),
                    t(12, 0),
                    Duration::minutes(60),
                    Duration::minutes(60),
                );
                let hours: Vec<u32> = day_slots
                    .iter()
                    .map(|s| s.start.with_timezone(&tz).hour())
                    .collect();
                assert_eq!(hours, vec![9, 10, 11], "{day}");
            }
        }
    }

    #[test]
    fn day_reminders_keep_the_wall_clock_across_every_transition() {
        for tz in [chrono_tz::Europe::Brussels, chrono_tz::Europe::Amsterdam] {
            for (day, _) in transitions(tz, 2020, 2035) {
                // A 09:00 appointment the day after the change.
                let next = day + Duration::days(1);
                let appt = tz
                    .from_local_datetime(&next.and_time(t(9, 0)))
                    .unwrap()
                    .with_timezone(&Utc);
                let r = reminder_at(tz, appt, Duration::hours(24)).with_timezone(&tz);
                assert_eq!((r.date_naive(), r.time()), (day, t(9, 0)), "{tz} {day}");
                // A 2-hour reminder is two real hours.
                assert_eq!(
                    appt - reminder_at(tz, appt, Duration::hours(2)),
                    Duration::hours(2)
                );
            }
        }
    }

    #[test]
    fn weekly_series_keep_their_local_time_through_dst() {
        for tz in [chrono_tz::Europe::Brussels, chrono_tz::Europe::Amsterdam] {
            for (day, _) in transitions(tz, 2020, 2035) {
                // Nine weekly sessions at 18:30, starting three weeks before the change.
                let first = tz
                    .from_local_datetime(&(day - Duration::weeks(3)).and_time(t(18, 30)))
                    .unwrap()
                    .with_timezone(&Utc);
                let all = series_starts(tz, first, 9, 1);
                for (k, s) in all.iter().enumerate() {
                    let local = s.expect("18:30 always exists").with_timezone(&tz);
                    assert_eq!(local.time(), t(18, 30), "{tz} {day} #{k}");
                    assert_eq!(
                        local.date_naive(),
                        day - Duration::weeks(3) + Duration::weeks(k as i64)
                    );
                }
            }
            // A series at 02:30 meets the spring gap: that occurrence does not exist.
            let spring = transitions(tz, 2027, 2027)
                .into_iter()
                .find(|(_, s)| *s)
                .unwrap()
                .0;
            let first = tz
                .from_local_datetime(&(spring - Duration::weeks(1)).and_time(t(2, 30)))
                .unwrap()
                .with_timezone(&Utc);
            let all = series_starts(tz, first, 3, 1);
            assert!(all[0].is_some() && all[1].is_none() && all[2].is_some());
        }
    }

    #[test]
    fn spans() {
        let a = Span::new(
            Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap(),
        )
        .unwrap();
        let b = Span::new(a.end, a.end + Duration::minutes(30)).unwrap();
        assert!(!a.overlaps(&b), "touching spans do not overlap");
        assert!(Span::new(a.end, a.start).is_none());
    }
}
