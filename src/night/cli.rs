//! `threeam night` and `threeam digest`.
//!
//! * `threeam night` shows each user's time zone, next night and last run;
//!   `threeam night --now [--user @u:hs]` runs the night now (resuming an unfinished one, or
//!   a second pass over a finished one) and prints what it did and the digest it prepared.
//! * `threeam digest` shows when each user's next digest is due and whether the latest was
//!   sent; `threeam digest --now [--user …]` prints the latest digest. It does not send it:
//!   the running bot owns the Matrix session and delivers digests at the digest time (and
//!   `!digest` shows the latest in the chat).

use chrono::Utc;
use sqlx::{PgPool, Row};

use super::{RunOutcome, latest_digest, run_now, schedule, summary, user_timezone};
use crate::config::Config;
use crate::llm::LlmClient;

async fn connect(cfg: &Config) -> anyhow::Result<PgPool> {
    cfg.validate_database()?;
    cfg.validate_schedule()?;
    Ok(
        crate::db::connect_migrated(&cfg.database.url, 4, std::time::Duration::from_secs(10))
            .await?,
    )
}

async fn users(pool: &PgPool, user: Option<&str>) -> anyhow::Result<Vec<String>> {
    if let Some(u) = user {
        return Ok(vec![u.to_owned()]);
    }
    Ok(crate::store::users::all(pool).await?)
}

/// `threeam night [--now] [--user U]`; returns false if a run failed.
pub async fn night(cfg: &Config, now_flag: bool, user: Option<&str>) -> anyhow::Result<bool> {
    let pool = connect(cfg).await?;
    let mut ok = true;
    if now_flag {
        cfg.validate_llm()?;
    }
    let llm = LlmClient::new(&cfg.llm)?;
    for u in users(&pool, user).await? {
        let now = Utc::now();
        if !now_flag {
            let tz = user_timezone(&pool, &cfg.schedule, &u).await?;
            let next = schedule::next_occurrence(now, cfg.schedule.night(), tz);
            let last = sqlx::query(
                "SELECT night_date, status, stage, error FROM night_runs WHERE user_id = $1 ORDER BY night_date DESC LIMIT 1",
            )
            .bind(&u)
            .fetch_optional(&pool)
            .await?;
            let last = match last {
                Some(r) => format!(
                    "last night {} {} (stage {}){}",
                    r.get::<chrono::NaiveDate, _>("night_date"),
                    r.get::<String, _>("status"),
                    r.get::<String, _>("stage"),
                    r.get::<Option<String>, _>("error")
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ),
                None => "no night yet".into(),
            };
            println!(
                "{u}: {} | next night {} | {last}",
                tz.name(),
                next.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z")
            );
            continue;
        }
        match run_now(&pool, &llm, &cfg.schedule, &u, now).await {
            Ok(RunOutcome::Done(r)) => {
                println!("{u}: {}", summary(&r));
                if let Some(d) = &r.digest {
                    println!("\n{d}\n");
                }
            }
            Ok(RunOutcome::Busy) => println!("{u}: a night cycle is already running"),
            Ok(other) => println!("{u}: not completed ({other:?})"),
            Err(e) => {
                ok = false;
                println!("{u}: FAILED: {e:#}");
            }
        }
    }
    pool.close().await;
    Ok(ok)
}

/// `threeam digest [--now] [--user U]`.
pub async fn digest(cfg: &Config, now_flag: bool, user: Option<&str>) -> anyhow::Result<()> {
    let pool = connect(cfg).await?;
    for u in users(&pool, user).await? {
        let latest = latest_digest(&pool, &u).await?;
        if now_flag {
            match latest {
                Some(d) => println!(
                    "{u}: digest for {} ({})\n\n{}\n",
                    d.for_date,
                    match d.sent_at {
                        Some(t) => format!("sent {}", t.format("%Y-%m-%d %H:%M UTC")),
                        None => "not sent yet".into(),
                    },
                    d.body
                ),
                None => println!("{u}: no digest yet"),
            }
        } else {
            let tz = user_timezone(&pool, &cfg.schedule, &u).await?;
            let next = schedule::next_occurrence(Utc::now(), cfg.schedule.digest(), tz);
            println!(
                "{u}: next digest time {} | latest: {}",
                next.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z"),
                match latest {
                    Some(d) if d.sent_at.is_some() => format!("{} (sent)", d.for_date),
                    Some(d) => format!("{} (waiting)", d.for_date),
                    None => "none".into(),
                }
            );
        }
    }
    pool.close().await;
    Ok(())
}
