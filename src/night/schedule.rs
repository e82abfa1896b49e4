//! When things are due, in each user's local time. Pure: no clock, no database.
//!
//! A night is named by the local date of its scheduled start: the 03:00 run of 15 March
//! (which reads what was said on the 14th) is night `2025-03-15`, and so is its digest. The
//! scheduler asks "what is the latest occurrence at or before now?" ([`last_occurrence`]):
//! if that night has no finished run, it is due, which is also how a night missed while the
//! bot was down runs at start-up (only the latest one: it reads every pending exchange).
//!
//! Daylight saving: a local time that does not exist that day (02:30 when clocks jump from
//! 02:00 to 03:00) happens at the first instant after the gap; a time that happens twice
//! (02:30 when clocks fall back) happens at its first occurrence.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant `time` happens on local `date` in `tz` (see the module docs for DST).
pub fn occurrence(date: NaiveDate, time: NaiveTime, tz: Tz) -> DateTime<Utc> {
    let local = date.and_time(time);
    if let Some(t) = tz.from_local_datetime(&local).earliest() {
        return t.with_timezone(&Utc);
    }
    // In a gap: the first local minute after it that exists (gaps are at most a few hours).
    for minutes in 1..=(6 * 60) {
        if let Some(t) = tz
            .from_local_datetime(&(local + Duration::minutes(minutes)))
            .earliest()
        {
            // Gaps start and end on whole minutes, so this is the gap's end.
            return t.with_timezone(&Utc);
        }
    }
    // Unreachable for real time zones; fall back to reading the time as UTC.
    Utc.from_utc_datetime(&local)
}

/// The latest occurrence of local `time` at or before `now`, with its local date.
pub fn last_occurrence(now: DateTime<Utc>, time: NaiveTime, tz: Tz) -> (NaiveDate, DateTime<Utc>) {
    let today = now.with_timezone(&tz).date_naive();
    let at = occurrence(today, time, tz);
    if at <= now {
        (today, at)
    } else {
        let yesterday = today.pred_opt().expect("dates in range");
        (yesterday, occurrence(yesterday, time, tz))
    }
}

/// The next occurrence of local `time` strictly after `now`.
pub fn next_occurrence(now: DateTime<Utc>, time: NaiveTime, tz: Tz) -> DateTime<Utc> {
    let today = now.with_timezone(&tz).date_naive();
    let at = occurrence(today, time, tz);
    if at > now {
        at
    } else {
        occurrence(today.succ_opt().expect("dates in range"), time, tz)
    }
}

/// The local date of `now` in `tz`.
pub fn local_date(now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// Reads a user's stored time zone, falling back to `default` when it is not a valid IANA name.
pub fn parse_tz(name: &str, default: Tz) -> Tz {
    name.trim().parse().unwrap_or(default)
}

/// What the scheduler knows about one night run when deciding whether to start it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// No run for that night yet.
    Missing,
    Done,
    /// Running (or left running by a crash: the database lock tells which).
    Running,
    /// Failed `attempts` times, the last at `finished_at`.
    Failed {
        attempts: i32,
        finished_at: Option<DateTime<Utc>>,
    },
}

/// How long to wait after a failed night before trying again, and how often to try.
pub const RETRY_AFTER: Duration = Duration::minutes(15);
pub const MAX_ATTEMPTS: i32 = 6;

/// Whether the night should be started (or resumed) now.
pub fn night_due(state: RunState, now: DateTime<Utc>) -> bool {
    match state {
        RunState::Missing | RunState::Running => true,
        RunState::Done => false,
        RunState::Failed {
            attempts,
            finished_at,
        } => attempts < MAX_ATTEMPTS && finished_at.is_none_or(|t| now - t >= RETRY_AFTER),
    }
}

/// Whether the digest of night `for_date` should be sent now: from the digest time of that
/// day until the end of that local day (an old morning's digest is not sent a day late; it
/// stays readable with `!digest`).
pub fn digest_due(for_date: NaiveDate, now: DateTime<Utc>, time: NaiveTime, tz: Tz) -> bool {
    local_date(now, tz) == for_date && now >= occurrence(for_date, time, tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }
    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }
    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn three_am_in_two_zones() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let ny: Tz = "America/New_York".parse().unwrap();
        // Winter: Berlin is UTC+1, New York UTC-5.
        assert_eq!(
            occurrence(d(2025, 1, 10), t(3, 0), berlin),
            utc(2025, 1, 10, 2, 0)
        );
        assert_eq!(
            occurrence(d(2025, 1, 10), t(3, 0), ny),
            utc(2025, 1, 10, 8, 0)
        );
        // Summer: UTC+2 and UTC-4.
        assert_eq!(
            occurrence(d(2025, 7, 10), t(3, 0), berlin),
            utc(2025, 7, 10, 1, 0)
        );
        assert_eq!(
            occurrence(d(2025, 7, 10), t(3, 0), ny),
            utc(2025, 7, 10, 7, 0)
        );
    }

    #[test]
    fn dst_gap_and_overlap() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // 9 March 2025: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist → 03:00 EDT = 07:00 UTC.
        assert_eq!(
            occurrence(d(2025, 3, 9), t(2, 30), ny),
            utc(2025, 3, 9, 7, 0)
        );
        // 2 November 2025: 01:30 happens twice; the first is EDT (UTC-4) → 05:30 UTC.
        assert_eq!(
            occurrence(d(2025, 11, 2), t(1, 30), ny),
            utc(2025, 11, 2, 5, 30)
        );
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 30 March 2025: 02:00 CET jumps to 03:00 CEST; 03:00 exists (= 01:00 UTC).
        assert_eq!(
            occurrence(d(2025, 3, 30), t(3, 0), berlin),
            utc(2025, 3, 30, 1, 0)
        );
        assert_eq!(
            occurrence(d(2025, 3, 30), t(2, 15), berlin),
            utc(2025, 3, 30, 1, 0)
        );
    }

    #[test]
    fn last_and_next_occurrence() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 01:59 UTC = 02:59 Berlin: the latest 03:00 is yesterday's.
        let (date, at) = last_occurrence(utc(2025, 1, 10, 1, 59), t(3, 0), berlin);
        assert_eq!((date, at), (d(2025, 1, 9), utc(2025, 1, 9, 2, 0)));
        let (date, at) = last_occurrence(utc(2025, 1, 10, 2, 0), t(3, 0), berlin);
        assert_eq!((date, at), (d(2025, 1, 10), utc(2025, 1, 10, 2, 0)));
        assert_eq!(
            next_occurrence(utc(2025, 1, 10, 2, 0), t(3, 0), berlin),
            utc(2025, 1, 11, 2, 0)
        );
        // A local date differs from the UTC date near midnight.
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        let (date, _) = last_occurrence(utc(2025, 1, 9, 18, 30), t(3, 0), tokyo);
        assert_eq!(date, d(2025, 1, 10));
    }

    #[test]
    fn due_rules() {
        let now = utc(2025, 1, 10, 12, 0);
        assert!(night_due(RunState::Missing, now));
        assert!(night_due(RunState::Running, now));
        assert!(!night_due(RunState::Done, now));
        let failed = |attempts, mins| RunState::Failed {
            attempts,
            finished_at: Some(now - Duration::minutes(mins)),
        };
        assert!(!night_due(failed(1, 5), now));
        assert!(night_due(failed(1, 15), now));
        assert!(!night_due(failed(MAX_ATTEMPTS, 600), now));

        let utc_tz: Tz = "UTC".parse().unwrap();
        assert!(!digest_due(
            d(2025, 1, 10),
            utc(2025, 1, 10, 7, 29),
            t(7, 30),
            utc_tz
        ));
        assert!(digest_due(
            d(2025, 1, 10),
            utc(2025, 1, 10, 7, 30),
            t(7, 30),
            utc_tz
        ));
        assert!(digest_due(
            d(2025, 1, 10),
            utc(2025, 1, 10, 23, 59),
            t(7, 30),
            utc_tz
        ));
        assert!(!digest_due(
            d(2025, 1, 10),
            utc(2025, 1, 11, 7, 30),
            t(7, 30),
            utc_tz
        ));
        assert_eq!(parse_tz("Mars/Base", utc_tz), utc_tz);
        assert_eq!(parse_tz(" Europe/Berlin ", utc_tz).name(), "Europe/Berlin");
    }
}
