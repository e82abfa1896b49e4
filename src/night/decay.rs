//! Stage 5's pure part: how memories fade. A fact's retention is `exp(-rate · age)`, where
//! the age counts days since it was last used (recalled into a prompt, or said again), and
//! the rate comes from its priority: a half-life of 7 days for trivia (priority 1), 30 for
//! priority 2, 90 for 3 and a year for 4. Knowledge and procedures fade four times slower.
//! Every past use stretches the half-life a little more. Identity facts (priority 5) never
//! fade. Below [`ARCHIVE_BELOW`] a fact is archived: kept, shown in `!memory`, no longer
//! recalled, and brought back if it is mentioned again. Nothing is deleted.

use chrono::{DateTime, Utc};

use crate::memory::Kind;

/// Retention under which a fact is archived (two half-lives).
pub const ARCHIVE_BELOW: f64 = 0.25;

/// Half-life in days for a personal fact of this priority; `None`: never fades.
pub fn half_life_days(priority: u8, kind: Kind) -> Option<f64> {
    let base = match priority {
        0 | 1 => 7.0,
        2 => 30.0,
        3 => 90.0,
        4 => 365.0,
        _ => return None,
    };
    Some(match kind {
        Kind::Personal => base,
        Kind::Knowledge | Kind::Procedure => base * 4.0,
    })
}

pub use crate::memory::upkeep::Usage;

/// Retention in (0, 1] at `now`; 1 for facts that never fade.
pub fn retention(u: &Usage, now: DateTime<Utc>) -> f64 {
    let Some(half_life) = half_life_days(u.priority, u.kind) else {
        return 1.0;
    };
    let last_use = [Some(u.created_at), Some(u.updated_at), u.last_accessed_at]
        .into_iter()
        .flatten()
        .max()
        .expect("created_at is always there");
    let age_days = ((now - last_use).num_seconds().max(0) as f64) / 86_400.0;
    // Each use is evidence the fact matters: 1 use → ×1.35, 10 → ×2.2, 100 → ×3.3.
    let half_life = half_life * (1.0 + 0.5 * f64::from(u.access_count.max(0)).ln_1p());
    let rate = std::f64::consts::LN_2 / half_life;
    (-rate * age_days).exp()
}

/// Whether decay archives the fact now.
pub fn fades(u: &Usage, now: DateTime<Utc>) -> bool {
    retention(u, now) < ARCHIVE_BELOW
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn usage(priority: u8, kind: Kind, age_days: i64, accesses: i32) -> (Usage, DateTime<Utc>) {
        let now = Utc.with_ymd_and_hms(2025, 6, 1, 3, 0, 0).unwrap();
        let t = now - Duration::days(age_days);
        (
            Usage {
                priority,
                kind,
                created_at: t,
                updated_at: t,
                last_accessed_at: None,
                access_count: accesses,
            },
            now,
        )
    }

    #[test]
    fn retention_halves_every_half_life() {
        let (u, now) = usage(3, Kind::Personal, 90, 0);
        assert!((retention(&u, now) - 0.5).abs() < 1e-9);
        let (u, now) = usage(1, Kind::Personal, 14, 0);
        assert!((retention(&u, now) - 0.25).abs() < 1e-9);
        let (u, now) = usage(2, Kind::Personal, 0, 0);
        assert_eq!(retention(&u, now), 1.0);
    }

    #[test]
    fn low_priority_fades_first_identity_never() {
        assert!(fades(
            &usage(1, Kind::Personal, 15, 0).0,
            usage(1, Kind::Personal, 15, 0).1
        ));
        let (u, now) = usage(3, Kind::Personal, 15, 0);
        assert!(!fades(&u, now));
        let (u, now) = usage(5, Kind::Personal, 10_000, 0);
        assert_eq!(retention(&u, now), 1.0);
        assert!(!fades(&u, now));
        let (u, now) = usage(4, Kind::Personal, 800, 0);
        assert!(fades(&u, now));
    }

    #[test]
    fn knowledge_fades_slower_and_use_resets_the_age() {
        let (p, now) = usage(2, Kind::Personal, 70, 0);
        let (k, _) = usage(2, Kind::Knowledge, 70, 0);
        assert!(fades(&p, now));
        assert!(!fades(&k, now));
        let mut used = p;
        used.last_accessed_at = Some(now - Duration::days(1));
        assert!(!fades(&used, now));
        // Past uses stretch the half-life.
        let (many, now) = usage(2, Kind::Personal, 70, 20);
        assert!(retention(&many, now) > retention(&p, now));
    }
}
