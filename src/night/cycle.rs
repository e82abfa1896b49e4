//! The staged runner. A night is one `night_runs` row; each stage does its work, then writes
//! its statistics and its name as the row's checkpoint in the same transaction as its
//! effects. A crash, a killed process or a failed stage leaves the row at the last completed
//! stage, and the next attempt resumes right after it: no stage's effects are applied twice.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row, Transaction};
use tokio_util::sync::CancellationToken;

use super::lock;
use super::stages;
use crate::llm::{ChatMessage, LlmClient, LlmError};

/// The stages, in order. `night_runs.stage` holds the last completed one (or `start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Group,
    Extract,
    Store,
    Conflicts,
    Decay,
    Cluster,
    Behaviour,
    Profile,
    Digest,
}

impl Stage {
    pub const ALL: [Stage; 9] = [
        Stage::Group,
        Stage::Extract,
        Stage::Store,
        Stage::Conflicts,
        Stage::Decay,
        Stage::Cluster,
        Stage::Behaviour,
        Stage::Profile,
        Stage::Digest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Group => "group",
            Stage::Extract => "extract",
            Stage::Store => "store",
            Stage::Conflicts => "conflicts",
            Stage::Decay => "decay",
            Stage::Cluster => "cluster",
            Stage::Behaviour => "behaviour",
            Stage::Profile => "profile",
            Stage::Digest => "digest",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The stages after the checkpoint `done` (`None`: nothing done yet).
    pub fn after(done: Option<Stage>) -> impl Iterator<Item = Stage> {
        Stage::ALL.into_iter().filter(move |s| Some(*s) > done)
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who asked for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trigger {
    /// The scheduler: a night that already finished is not run again.
    #[default]
    Schedule,
    /// `!night` or `threeam night --now`: a finished night is run again (a second pass over
    /// whatever is pending; its digest items join that morning's digest if it is not sent).
    Manual,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub trigger: Trigger,
    /// Stop (as if the process were killed) once this stage is committed. For crash tests.
    pub stop_after: Option<Stage>,
    /// Checked between stages: a shutdown leaves the run to be resumed.
    pub cancel: Option<CancellationToken>,
}

/// What a call to [`run_night`] did.
#[derive(Debug, Clone)]
pub enum RunOutcome {
    /// The night is complete.
    Done(RunReport),
    /// Another cycle holds this user's lock.
    Busy,
    /// The scheduler's run of this night had already finished.
    AlreadyDone,
    /// Stopped after a stage (options or shutdown); the next run resumes there.
    Stopped { run_id: i64, after: Option<Stage> },
}

#[derive(Debug, Clone)]
pub struct RunReport {
    pub run_id: i64,
    pub user_id: String,
    pub night_date: NaiveDate,
    /// The last completed stage before this call, if it resumed.
    pub resumed_after: Option<Stage>,
    pub stages_run: Vec<Stage>,
    /// Everything the stages recorded, by stage name.
    pub stats: Value,
    /// The digest this pass produced (also stored for the morning unless already sent).
    pub digest: Option<String>,
}

/// The per-run context the stages share: who, when, and the counted model calls.
pub struct Ctx<'a> {
    pub llm: &'a LlmClient,
    pub user_id: &'a str,
    pub run_id: i64,
    pub night_date: NaiveDate,
    pub now: DateTime<Utc>,
    chat_calls: AtomicU32,
    embed_calls: AtomicU32,
    started: std::sync::Mutex<Instant>,
}

impl<'a> Ctx<'a> {
    fn new(
        llm: &'a LlmClient,
        user_id: &'a str,
        run_id: i64,
        night_date: NaiveDate,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            llm,
            user_id,
            run_id,
            night_date,
            now,
            chat_calls: AtomicU32::new(0),
            embed_calls: AtomicU32::new(0),
            started: std::sync::Mutex::new(Instant::now()),
        }
    }

    fn begin_stage(&self) {
        self.chat_calls.store(0, Ordering::SeqCst);
        self.embed_calls.store(0, Ordering::SeqCst);
        *self.started.lock().unwrap() = Instant::now();
    }

    /// A JSON-schema-constrained chat call, counted.
    pub async fn chat_json<T: serde::de::DeserializeOwned>(
        &self,
        messages: Vec<ChatMessage>,
        name: &str,
        schema: Value,
        max_tokens: u32,
    ) -> Result<T, LlmError> {
        self.chat_calls.fetch_add(1, Ordering::SeqCst);
        self.llm.chat_json(messages, name, schema, max_tokens).await
    }

    /// Embeddings, counted per HTTP request (the client batches).
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let batch = 32u32;
        self.embed_calls
            .fetch_add((texts.len() as u32).div_ceil(batch), Ordering::SeqCst);
        self.llm.embed(texts).await
    }

    /// Writes the stage's statistics (plus its model calls and wall time) and makes it the
    /// run's checkpoint. Call it last, inside the stage's transaction.
    pub async fn checkpoint(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        stage: Stage,
        mut stats: Value,
    ) -> Result<(), sqlx::Error> {
        if let Value::Object(m) = &mut stats {
            m.insert(
                "llm_calls".into(),
                json!(self.chat_calls.load(Ordering::SeqCst)),
            );
            m.insert(
                "embed_calls".into(),
                json!(self.embed_calls.load(Ordering::SeqCst)),
            );
            m.insert(
                "ms".into(),
                json!(self.started.lock().unwrap().elapsed().as_millis() as u64),
            );
        }
        sqlx::query(
            "UPDATE night_runs SET stage = $2, stats = stats || jsonb_build_object($2::text, $3::jsonb)
             WHERE id = $1",
        )
        .bind(self.run_id)
        .bind(stage.as_str())
        .bind(&stats)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The highest fact id the user's digests have told of (0 before the first).
    pub async fn fact_mark(&self, conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT COALESCE((SELECT fact_id FROM night_marks WHERE user_id = $1), 0)",
        )
        .bind(self.user_id)
        .fetch_one(conn)
        .await
    }

    /// The facts this run's store stage merged a candidate into: changed tonight though
    /// older than the mark.
    pub async fn merged_tonight(&self, conn: &mut PgConnection) -> Result<Vec<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT fact_id FROM night_candidates WHERE run_id = $1 AND outcome = 'merged' AND fact_id IS NOT NULL",
        )
        .bind(self.run_id)
        .fetch_all(conn)
        .await
    }
}

/// Runs (or resumes) the night `night_date` of `user_id`. Returns [`RunOutcome::Busy`] when
/// another cycle holds the user's lock. A failing stage marks the run failed with a readable
/// error and returns it; the next call resumes at that stage.
pub async fn run_night(
    db: &PgPool,
    llm: &LlmClient,
    user_id: &str,
    night_date: NaiveDate,
    now: DateTime<Utc>,
    opts: &RunOptions,
) -> anyhow::Result<RunOutcome> {
    let Some(mut guard) = lock::try_lock(db, user_id)
        .await
        .context("taking the night lock")?
    else {
        tracing::info!(
            user = user_id,
            "a night cycle is already running for this user"
        );
        return Ok(RunOutcome::Busy);
    };
    let result = run_locked(guard.conn(), llm, user_id, night_date, now, opts).await;
    guard.release().await;
    result
}

async fn run_locked(
    conn: &mut PgConnection,
    llm: &LlmClient,
    user_id: &str,
    night_date: NaiveDate,
    now: DateTime<Utc>,
    opts: &RunOptions,
) -> anyhow::Result<RunOutcome> {
    let Some((run_id, done)) = open_run(conn, user_id, night_date, opts.trigger, now)
        .await
        .context("opening the night run")?
    else {
        return Ok(RunOutcome::AlreadyDone);
    };
    let cx = Ctx::new(llm, user_id, run_id, night_date, now);
    tracing::info!(user = user_id, %night_date, run_id, resumed_after = ?done, "night cycle starting");
    let mut stages_run = Vec::new();
    let mut last = done;
    for stage in Stage::after(done) {
        if opts.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
            return Ok(RunOutcome::Stopped {
                run_id,
                after: last,
            });
        }
        cx.begin_stage();
        let t = Instant::now();
        if let Err(e) = stages::run_stage(stage, conn, &cx).await {
            crate::metrics::night_stage(stage.as_str(), t.elapsed().as_secs_f64(), false);
            let message = format!("stage {stage} failed: {e:#}");
            tracing::error!(user = user_id, run_id, %stage, error = %format!("{e:#}"), "night stage failed; the run resumes here next time");
            mark_failed(conn, run_id, &message, now).await;
            return Err(e.context(format!("night {night_date} of {user_id}: stage {stage}")));
        }
        crate::metrics::night_stage(stage.as_str(), t.elapsed().as_secs_f64(), true);
        tracing::info!(user = user_id, run_id, %stage, ms = t.elapsed().as_millis() as u64, "night stage done");
        stages_run.push(stage);
        last = Some(stage);
        if opts.stop_after == Some(stage) {
            return Ok(RunOutcome::Stopped {
                run_id,
                after: last,
            });
        }
    }
    let row = sqlx::query(
        "UPDATE night_runs SET status = 'done', finished_at = $2, error = NULL WHERE id = $1
         RETURNING stats",
    )
    .bind(run_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let stats: Value = row.try_get("stats")?;
    let digest = stats["digest"]["body"].as_str().map(str::to_owned);
    tracing::info!(user = user_id, %night_date, run_id, "night cycle done");
    Ok(RunOutcome::Done(RunReport {
        run_id,
        user_id: user_id.to_owned(),
        night_date,
        resumed_after: done,
        stages_run,
        stats,
        digest,
    }))
}

/// Finds or creates the run row and decides where to start. `None`: a scheduled run of a
/// night that is already done. Otherwise the run id and its last completed stage.
async fn open_run(
    conn: &mut PgConnection,
    user_id: &str,
    night_date: NaiveDate,
    trigger: Trigger,
    now: DateTime<Utc>,
) -> Result<Option<(i64, Option<Stage>)>, sqlx::Error> {
    let mut tx = conn.begin().await?;
    crate::store::users::ensure(&mut *tx, user_id).await?;
    let existing = sqlx::query(
        "SELECT id, stage, status, stats FROM night_runs WHERE user_id = $1 AND night_date = $2 FOR UPDATE",
    )
    .bind(user_id)
    .bind(night_date)
    .fetch_optional(&mut *tx)
    .await?;
    let out = match existing {
        None => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO night_runs (user_id, night_date, stage, status, trigger, attempts, started_at, stats)
                 VALUES ($1, $2, 'start', 'running', $3, 1, $4, '{\"passes\": 1}') RETURNING id",
            )
            .bind(user_id)
            .bind(night_date)
            .bind(trigger.as_str())
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            Some((id, None))
        }
        Some(row) => {
            let id: i64 = row.try_get("id")?;
            let status: String = row.try_get("status")?;
            let stage: String = row.try_get("stage")?;
            if status == "done" {
                if trigger == Trigger::Schedule {
                    None
                } else {
                    // A second pass: start over with fresh work tables.
                    let stats: Value = row.try_get("stats")?;
                    let passes = stats["passes"].as_i64().unwrap_or(1) + 1;
                    sqlx::query("DELETE FROM night_groups WHERE run_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM night_candidates WHERE run_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "UPDATE night_runs SET stage = 'start', status = 'running', error = NULL,
                             stats = jsonb_build_object('passes', $2::int), attempts = attempts + 1,
                             trigger = $3, started_at = $4, finished_at = NULL
                         WHERE id = $1",
                    )
                    .bind(id)
                    .bind(passes as i32)
                    .bind(trigger.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    Some((id, None))
                }
            } else {
                sqlx::query(
                    "UPDATE night_runs SET status = 'running', error = NULL, attempts = attempts + 1
                     WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                Some((id, Stage::parse(&stage)))
            }
        }
    };
    tx.commit().await?;
    Ok(out)
}

async fn mark_failed(conn: &mut PgConnection, run_id: i64, message: &str, now: DateTime<Utc>) {
    let r = sqlx::query(
        "UPDATE night_runs SET status = 'failed', error = $2, finished_at = $3 WHERE id = $1",
    )
    .bind(run_id)
    .bind(crate::llm::truncate(message, 2000))
    .bind(now)
    .execute(&mut *conn)
    .await;
    if let Err(e) = r {
        tracing::error!(run_id, error = %e, "could not record the failed night run");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_round_trip_and_resume_after_a_checkpoint() {
        for s in Stage::ALL {
            assert_eq!(Stage::parse(s.as_str()), Some(s));
        }
        assert_eq!(Stage::parse("start"), None);
        assert_eq!(Stage::after(None).count(), 9);
        let rest: Vec<Stage> = Stage::after(Some(Stage::Conflicts)).collect();
        assert_eq!(rest.first(), Some(&Stage::Decay));
        assert_eq!(rest.len(), 5);
        assert_eq!(Stage::after(Some(Stage::Digest)).count(), 0);
    }
}
