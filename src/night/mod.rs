//! The night: while the user sleeps (03:00 in their time zone by default), the day's
//! conversations become memory, and in the morning (07:30) a digest says what changed.
//!
//! A night is a run of nine stages ([`Stage`]), each committed with a checkpoint in
//! `night_runs`, so a crash or a failed stage resumes where it stopped and never repeats
//! work ([`cycle`]):
//!
//! 1. **group** the pending exchanges by topic ([`group`]);
//! 2. **extract** up to eight facts per group, with their source events ([`prompts`]);
//! 3. **store**: embed, merge near-duplicates (cosine ≥ 0.92), mark the exchanges processed;
//! 4. **conflicts**: the model decides whether a new fact replaces a similar older one
//!    (superseded facts are kept as history);
//! 5. **decay**: unused low-priority facts fade and are archived ([`decay`]);
//! 6. **cluster**: Torque Clustering of the live facts into named topics ([`topics`]);
//! 7. **behaviour**: the behaviour profile hook ([`behaviour_stage`]);
//! 8. **profile**: the ≤ 200-word user profile from the important facts;
//! 9. **digest**: the morning message, prepared ([`digest`]) and later delivered
//!    ([`deliver`]).
//!
//! [`Scheduler`] runs nights and delivers digests on time ([`schedule`] has the pure time
//! maths, [`Clock`] lets tests move time); [`lock`] keeps two cycles of one user apart.

pub mod behaviour_stage;
pub mod cli;
pub mod clock;
pub mod cycle;
pub mod decay;
pub mod deliver;
pub mod digest;
pub mod group;
pub mod lock;
pub mod prompts;
pub mod schedule;
pub mod scheduler;
mod stages;
pub mod topics;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use sqlx::PgPool;

pub use clock::{Clock, FakeClock, SystemClock};
pub use cycle::{RunOptions, RunOutcome, RunReport, Stage, Trigger, run_night};
pub use deliver::{Delivery, StoredDigest, deliver, latest_digest};
pub use scheduler::{Scheduler, SchedulerHandle, Tick};

use crate::config::ScheduleConfig;
use crate::llm::LlmClient;

/// How the running bot schedules nights: the clock it reads and how often it looks.
#[derive(Clone)]
pub struct NightOptions {
    pub clock: Arc<dyn Clock>,
    pub tick: Duration,
}

impl Default for NightOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            tick: Duration::from_secs(60),
        }
    }
}

/// The user's time zone (their own, else the configured default).
pub async fn user_timezone(
    db: &PgPool,
    schedule: &ScheduleConfig,
    user_id: &str,
) -> sqlx::Result<Tz> {
    let stored = crate::store::users::timezone(db, user_id).await?;
    Ok(stored
        .map(|s| schedule::parse_tz(&s, schedule.timezone()))
        .unwrap_or_else(|| schedule.timezone()))
}

/// Runs the user's night now (`!night`, `threeam night --now`): the latest scheduled night,
/// resumed if it is unfinished, or run again as a second pass if it is done.
pub async fn run_now(
    db: &PgPool,
    llm: &LlmClient,
    schedule_cfg: &ScheduleConfig,
    user_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<RunOutcome> {
    let tz = user_timezone(db, schedule_cfg, user_id).await?;
    let (night_date, _) = schedule::last_occurrence(now, schedule_cfg.night(), tz);
    run_night(
        db,
        llm,
        user_id,
        night_date,
        now,
        &RunOptions {
            trigger: Trigger::Manual,
            ..Default::default()
        },
    )
    .await
}

/// A short account of a finished night, for `!night` and the CLI (markdown).
pub fn summary(report: &RunReport) -> String {
    let s = &report.stats;
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let mut out = format!(
        "Night of {} done{}: {} exchange{} in {} group{} → {} fact{} extracted ({} new, {} merged)",
        report.night_date,
        match report.resumed_after {
            Some(st) => format!(" (resumed after stage {st})"),
            None => String::new(),
        },
        n(&s["group"]["exchanges"]),
        plural(n(&s["group"]["exchanges"])),
        n(&s["group"]["groups"]),
        plural(n(&s["group"]["groups"])),
        n(&s["extract"]["candidates"]),
        plural(n(&s["extract"]["candidates"])),
        n(&s["store"]["inserted"]),
        n(&s["store"]["merged"]),
    );
    if n(&s["extract"]["groups_failed"]) > 0 {
        out.push_str(&format!(
            "; {} group(s) could not be read and stay pending",
            n(&s["extract"]["groups_failed"])
        ));
    }
    out.push_str(&format!(
        "; {} superseded, {} kept side by side; {} archived; {}; profile {}.",
        s["conflicts"]["superseded"].as_array().map_or(0, Vec::len),
        n(&s["conflicts"]["kept_both"]),
        n(&s["decay"]["archived"]),
        s["cluster"]["health"].as_str().unwrap_or("no clustering"),
        s["profile"]["profile"].as_str().unwrap_or("not written"),
    ));
    let (calls, embeds, ms) = Stage::ALL.iter().fold((0, 0, 0), |(c, e, m), st| {
        let x = &s[st.as_str()];
        (
            c + n(&x["llm_calls"]),
            e + n(&x["embed_calls"]),
            m + n(&x["ms"]),
        )
    });
    out.push_str(&format!(
        " {calls} model call{}, {embeds} embedding request{}, {:.1} s.",
        plural(calls),
        plural(embeds),
        ms as f64 / 1000.0
    ));
    out
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
