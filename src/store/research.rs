//! Research on approved topics: the owner of the `research_topics`, `research_runs`,
//! `research_pages`, `research_findings` and `research_settings` tables.
//!
//! A topic's life: proposed (waiting for ✅) or added directly, approved, researched in runs.
//! A run reads pages; each page is recorded together with the findings it gave, in one
//! transaction ([`save_page`]), so a run that a stop or a crash cut off resumes after the pages
//! it finished and never reads a page twice. Findings become knowledge facts afterwards
//! ([`findings_without_fact`], [`set_fact`]): that step is idempotent, so it can be repeated.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgPool, Row};

/// A research topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    pub id: i64,
    pub user_id: String,
    pub room_id: String,
    pub topic: String,
    /// What is searched for it.
    pub query: String,
    pub status: String,
    pub origin: String,
    /// Why it was proposed, or "you added it".
    pub reason: String,
    pub created_at: DateTime<Utc>,
    pub last_researched_at: Option<DateTime<Utc>>,
    pub backoff_until: Option<DateTime<Utc>>,
}

macro_rules! topic_columns {
    () => {
        "id, user_id, room_id, topic, query, status, origin, reason, created_at, \
         last_researched_at, backoff_until"
    };
}

fn topic_from_row(r: &sqlx::postgres::PgRow) -> Topic {
    Topic {
        id: r.get(0),
        user_id: r.get(1),
        room_id: r.get(2),
        topic: r.get(3),
        query: r.get(4),
        status: r.get(5),
        origin: r.get(6),
        reason: r.get(7),
        created_at: r.get(8),
        last_researched_at: r.get(9),
        backoff_until: r.get(10),
    }
}

/// A finding: one statement from one page.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub id: i64,
    pub topic_id: i64,
    pub topic: String,
    pub title: String,
    pub url: Option<String>,
    pub statement: String,
    pub page_date: Option<NaiveDate>,
    pub confidence: f32,
    pub fact_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

macro_rules! finding_columns {
    () => {
        "f.id, f.topic_id, t.topic, f.title, f.url, f.summary, f.page_date, f.confidence, \
         f.fact_id, f.created_at"
    };
}

fn finding_from_row(r: &sqlx::postgres::PgRow) -> Finding {
    Finding {
        id: r.get(0),
        topic_id: r.get(1),
        topic: r.get(2),
        title: r.get(3),
        url: r.get(4),
        statement: r.get(5),
        page_date: r.get(6),
        confidence: r.get(7),
        fact_id: r.get(8),
        created_at: r.get(9),
    }
}

/// A finding about to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFinding {
    pub statement: String,
    pub page_date: Option<NaiveDate>,
    pub confidence: f32,
}

/// How a topic comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The bot proposes it; it waits for the owner's ✅.
    Proposed,
    /// The owner added it (`!research add`): approved at once.
    Added,
}

/// A topic about to be added.
#[derive(Debug, Clone, Copy)]
pub struct NewTopic<'a> {
    pub user_id: &'a str,
    pub room_id: &'a str,
    pub topic: &'a str,
    pub query: &'a str,
    pub reason: &'a str,
    pub origin: Origin,
}

/// Adds a topic, or returns the one of the same name. An added topic that exists is approved
/// again (the owner asked for it in words); a proposal never revives a topic the owner
/// rejected or deleted. Returns the topic and whether it is new.
pub async fn add_topic(
    pool: &PgPool,
    t: NewTopic<'_>,
    now: DateTime<Utc>,
) -> sqlx::Result<(Topic, bool)> {
    let NewTopic {
        user_id,
        room_id,
        topic,
        query,
        reason,
        origin,
    } = t;
    let (status, origin_text) = match origin {
        Origin::Proposed => ("proposed", "proposed"),
        Origin::Added => ("approved", "added"),
    };
    let inserted = sqlx::query(concat!(
        "INSERT INTO research_topics (user_id, room_id, topic, query, reason, status, origin, created_at, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $6 = 'approved' THEN $8 END)
         ON CONFLICT (user_id, lower(topic)) DO NOTHING
         RETURNING ",
        topic_columns!()
    ))
    .bind(user_id)
    .bind(room_id)
    .bind(topic)
    .bind(query)
    .bind(reason)
    .bind(status)
    .bind(origin_text)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    if let Some(row) = inserted {
        return Ok((topic_from_row(&row), true));
    }
    if origin == Origin::Added {
        sqlx::query(
            "UPDATE research_topics SET status = 'approved', origin = 'added', decided_at = $4,
                    room_id = $3, backoff_until = NULL
             WHERE user_id = $1 AND lower(topic) = lower($2) AND status <> 'approved'",
        )
        .bind(user_id)
        .bind(topic)
        .bind(room_id)
        .bind(now)
        .execute(pool)
        .await?;
    }
    let row = sqlx::query(concat!(
        "SELECT ",
        topic_columns!(),
        " FROM research_topics WHERE user_id = $1 AND lower(topic) = lower($2)"
    ))
    .bind(user_id)
    .bind(topic)
    .fetch_one(pool)
    .await?;
    Ok((topic_from_row(&row), false))
}

/// Sets a topic's status (a ✅ or ❌ on its proposal, a deletion) if it is in one of `from`.
/// Returns whether it changed.
pub async fn set_status(
    pool: &PgPool,
    user_id: &str,
    topic_id: i64,
    from: &[&str],
    to: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE research_topics SET status = $4, decided_at = $5
         WHERE id = $1 AND user_id = $2 AND status = ANY($3)",
    )
    .bind(topic_id)
    .bind(user_id)
    .bind(from)
    .bind(to)
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected()
        > 0)
}

pub async fn topic(pool: &PgPool, user_id: &str, topic_id: i64) -> sqlx::Result<Option<Topic>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        topic_columns!(),
        " FROM research_topics WHERE id = $1 AND user_id = $2"
    ))
    .bind(topic_id)
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(topic_from_row))
}

/// The topic called `name` (any case), if the user has one.
pub async fn topic_named(pool: &PgPool, user_id: &str, name: &str) -> sqlx::Result<Option<Topic>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        topic_columns!(),
        " FROM research_topics WHERE user_id = $1 AND lower(topic) = lower($2)"
    ))
    .bind(user_id)
    .bind(name.trim())
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(topic_from_row))
}

/// Every topic of the user in `statuses`, newest first.
pub async fn topics(pool: &PgPool, user_id: &str, statuses: &[&str]) -> sqlx::Result<Vec<Topic>> {
    Ok(sqlx::query(concat!(
        "SELECT ",
        topic_columns!(),
        " FROM research_topics WHERE user_id = $1 AND status = ANY($2) ORDER BY created_at DESC, id DESC"
    ))
    .bind(user_id)
    .bind(statuses)
    .fetch_all(pool)
    .await?
    .iter()
    .map(topic_from_row)
    .collect())
}

/// Every topic name the user has in any state (a proposal must be none of them).
pub async fn all_topic_names(pool: &PgPool, user_id: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT topic FROM research_topics WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(pool)
        .await
}

/// How many topics the bot proposed to the user since `since`.
pub async fn proposed_since(
    pool: &PgPool,
    user_id: &str,
    since: DateTime<Utc>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM research_topics WHERE user_id = $1 AND origin = 'proposed' AND created_at >= $2",
    )
    .bind(user_id)
    .bind(since)
    .fetch_one(pool)
    .await
}

/// Approved topics that may be researched at `now`: not backing off, not researched in the
/// last `rest`, the one tried longest ago first (a topic whose search keeps failing does not
/// hold up the others).
pub async fn due_topics(
    pool: &PgPool,
    user_id: &str,
    now: DateTime<Utc>,
    rest: chrono::Duration,
) -> sqlx::Result<Vec<Topic>> {
    Ok(sqlx::query(concat!(
        "SELECT ",
        topic_columns!(),
        " FROM research_topics
          WHERE user_id = $1 AND status = 'approved'
            AND (backoff_until IS NULL OR backoff_until <= $2)
            AND (last_researched_at IS NULL OR last_researched_at <= $3)
          ORDER BY (SELECT max(r.started_at) FROM research_runs r WHERE r.topic_id = research_topics.id) NULLS FIRST, id"
    ))
    .bind(user_id)
    .bind(now)
    .bind(now - rest)
    .fetch_all(pool)
    .await?
    .iter()
    .map(topic_from_row)
    .collect())
}

/// A run of research on a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunStats {
    pub hits: i32,
    pub pages: i32,
    pub findings: i32,
    pub model_calls: i32,
}

/// Idle-hour runs that count against the daily limit since `since` (a failed search and
/// `!research now` do not).
pub async fn runs_since(pool: &PgPool, user_id: &str, since: DateTime<Utc>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM research_runs
         WHERE user_id = $1 AND started_at >= $2 AND trigger = 'idle' AND status IN ('done', 'poor', 'running')",
    )
    .bind(user_id)
    .bind(since)
    .fetch_one(pool)
    .await
}

/// The unfinished run of the topic (cut off by a stop or a crash), or a new one.
pub async fn open_run(
    pool: &PgPool,
    user_id: &str,
    topic_id: i64,
    trigger: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<(i64, RunStats)> {
    let mut tx = pool.begin().await?;
    // One run per topic at a time, across processes too.
    sqlx::query("SELECT id FROM research_topics WHERE id = $1 FOR UPDATE")
        .bind(topic_id)
        .execute(&mut *tx)
        .await?;
    let open = sqlx::query(
        "SELECT id, hits, pages, findings, model_calls FROM research_runs
         WHERE topic_id = $1 AND user_id = $2 AND status = 'running' ORDER BY id DESC LIMIT 1",
    )
    .bind(topic_id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let out = match open {
        Some(r) => (
            r.get(0),
            RunStats {
                hits: r.get(1),
                pages: r.get(2),
                findings: r.get(3),
                model_calls: r.get(4),
            },
        ),
        None => (
            sqlx::query_scalar(
                "INSERT INTO research_runs (user_id, topic_id, trigger, started_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(user_id)
            .bind(topic_id)
            .bind(trigger)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?,
            RunStats::default(),
        ),
    };
    tx.commit().await?;
    Ok(out)
}

/// Adds model calls and hits to a running run's counters.
pub async fn count_run(
    pool: &PgPool,
    run_id: i64,
    hits: i32,
    model_calls: i32,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE research_runs SET hits = GREATEST(hits, $2), model_calls = model_calls + $3 WHERE id = $1",
    )
    .bind(run_id)
    .bind(hits)
    .bind(model_calls)
    .execute(pool)
    .await?;
    Ok(())
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// It found something new.
    Done,
    /// Nothing new: the topic backs off until `until`.
    Poor { until: DateTime<Utc> },
    /// The search failed; the topic is not marked researched.
    Failed,
}

/// Ends a run and marks its topic.
pub async fn finish_run(
    pool: &PgPool,
    run_id: i64,
    end: RunEnd,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    let status = match end {
        RunEnd::Done => "done",
        RunEnd::Poor { .. } => "poor",
        RunEnd::Failed => "failed",
    };
    let topic_id: i64 = sqlx::query_scalar(
        "UPDATE research_runs SET status = $2, error = $3, finished_at = $4 WHERE id = $1 RETURNING topic_id",
    )
    .bind(run_id)
    .bind(status)
    .bind(error)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    match end {
        RunEnd::Done => {
            sqlx::query("UPDATE research_topics SET last_researched_at = $2, backoff_until = NULL WHERE id = $1")
                .bind(topic_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        RunEnd::Poor { until } => {
            sqlx::query("UPDATE research_topics SET last_researched_at = $2, backoff_until = $3 WHERE id = $1")
                .bind(topic_id)
                .bind(now)
                .bind(until)
                .execute(&mut *tx)
                .await?;
        }
        RunEnd::Failed => {}
    }
    tx.commit().await
}

/// The pages of the topic already read (by any run).
pub async fn pages_read(pool: &PgPool, topic_id: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT url FROM research_pages WHERE topic_id = $1")
        .bind(topic_id)
        .fetch_all(pool)
        .await
}

/// Records a page as read with the findings it gave, in one transaction. A page already
/// recorded (a second process, a repeated step) stores nothing. Returns the new findings' ids.
#[allow(clippy::too_many_arguments)]
pub async fn save_page(
    pool: &PgPool,
    user_id: &str,
    topic_id: i64,
    run_id: i64,
    url: &str,
    title: &str,
    findings: &[NewFinding],
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<i64>> {
    let mut tx = pool.begin().await?;
    // A topic deleted (or rejected) while the run was reading keeps nothing of it.
    let open: Option<String> =
        sqlx::query_scalar("SELECT status FROM research_topics WHERE id = $1 FOR SHARE")
            .bind(topic_id)
            .fetch_optional(&mut *tx)
            .await?;
    if open.as_deref() != Some("approved") {
        return Ok(Vec::new());
    }
    let fresh = sqlx::query(
        "INSERT INTO research_pages (topic_id, url, user_id, run_id, findings, read_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(topic_id)
    .bind(url)
    .bind(user_id)
    .bind(run_id)
    .bind(findings.len() as i32)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    if !fresh {
        return Ok(Vec::new());
    }
    let mut ids = Vec::new();
    for f in findings {
        ids.push(
            sqlx::query_scalar(
                "INSERT INTO research_findings (user_id, topic_id, run_id, title, url, summary, page_date, confidence, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(user_id)
            .bind(topic_id)
            .bind(run_id)
            .bind(title)
            .bind(url)
            .bind(&f.statement)
            .bind(f.page_date)
            .bind(f.confidence)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?,
        );
    }
    sqlx::query(
        "UPDATE research_runs SET pages = pages + 1, findings = findings + $2 WHERE id = $1",
    )
    .bind(run_id)
    .bind(findings.len() as i32)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ids)
}

/// The user's findings, newest first: of one topic, or of all, at most `limit`.
pub async fn findings(
    pool: &PgPool,
    user_id: &str,
    topic_id: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<Finding>> {
    Ok(sqlx::query(concat!(
        "SELECT ",
        finding_columns!(),
        " FROM research_findings f JOIN research_topics t ON t.id = f.topic_id
          WHERE f.user_id = $1 AND ($2::bigint IS NULL OR f.topic_id = $2)
          ORDER BY f.id DESC LIMIT $3"
    ))
    .bind(user_id)
    .bind(topic_id)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(finding_from_row)
    .collect())
}

/// The findings of the user with these ids.
pub async fn findings_by_id(
    pool: &PgPool,
    user_id: &str,
    ids: &[i64],
) -> sqlx::Result<Vec<Finding>> {
    Ok(sqlx::query(concat!(
        "SELECT ",
        finding_columns!(),
        " FROM research_findings f JOIN research_topics t ON t.id = f.topic_id
          WHERE f.user_id = $1 AND f.id = ANY($2) ORDER BY f.id"
    ))
    .bind(user_id)
    .bind(ids)
    .fetch_all(pool)
    .await?
    .iter()
    .map(finding_from_row)
    .collect())
}

/// Findings above `mark` (for the morning digest), oldest first.
pub async fn findings_after<'e>(
    exec: impl sqlx::PgExecutor<'e>,
    user_id: &str,
    mark: i64,
) -> sqlx::Result<Vec<Finding>> {
    Ok(sqlx::query(concat!(
        "SELECT ",
        finding_columns!(),
        " FROM research_findings f JOIN research_topics t ON t.id = f.topic_id
          WHERE f.user_id = $1 AND f.id > $2 ORDER BY f.id LIMIT 200"
    ))
    .bind(user_id)
    .bind(mark)
    .fetch_all(exec)
    .await?
    .iter()
    .map(finding_from_row)
    .collect())
}

/// Findings whose knowledge fact is not stored yet.
pub async fn findings_without_fact(pool: &PgPool, user_id: &str) -> sqlx::Result<Vec<Finding>> {
    Ok(sqlx::query(concat!(
        "SELECT ",
        finding_columns!(),
        " FROM research_findings f JOIN research_topics t ON t.id = f.topic_id
          WHERE f.user_id = $1 AND f.stored_at IS NULL AND t.status <> 'deleted' ORDER BY f.id"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(finding_from_row)
    .collect())
}

pub async fn set_fact(pool: &PgPool, finding_id: i64, fact_id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE research_findings SET fact_id = $2, stored_at = now() WHERE id = $1")
        .bind(finding_id)
        .bind(fact_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Marks a topic deleted and returns the ids of all its findings (to delete with their facts):
/// from now on no run stores anything for it.
pub async fn delete_topic(pool: &PgPool, user_id: &str, topic_id: i64) -> sqlx::Result<Vec<i64>> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE research_topics SET status = 'deleted', decided_at = now() WHERE id = $1 AND user_id = $2",
    )
    .bind(topic_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    let ids = sqlx::query_scalar(
        "SELECT id FROM research_findings WHERE topic_id = $1 AND user_id = $2 ORDER BY id",
    )
    .bind(topic_id)
    .bind(user_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ids)
}

/// Deletes findings; returns the facts made from them (for the caller to forget).
pub async fn delete_findings(pool: &PgPool, user_id: &str, ids: &[i64]) -> sqlx::Result<Vec<i64>> {
    let facts: Vec<Option<i64>> = sqlx::query_scalar(
        "DELETE FROM research_findings WHERE user_id = $1 AND id = ANY($2) RETURNING fact_id",
    )
    .bind(user_id)
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(facts.into_iter().flatten().collect())
}

/// Whether the user paused research.
pub async fn paused(pool: &PgPool, user_id: &str) -> sqlx::Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT paused FROM research_settings WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(pool)
            .await?
            .unwrap_or(false),
    )
}

pub async fn set_paused(pool: &PgPool, user_id: &str, paused: bool) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO research_settings (user_id, paused, updated_at) VALUES ($1, $2, now())
         ON CONFLICT (user_id) DO UPDATE SET paused = EXCLUDED.paused, updated_at = now()",
    )
    .bind(user_id)
    .bind(paused)
    .execute(pool)
    .await?;
    Ok(())
}

/// The latest runs of the user, newest first (for `!research` and the benchmark).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub topic_id: i64,
    pub status: String,
    pub stats: RunStats,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

pub async fn runs(pool: &PgPool, user_id: &str, limit: i64) -> sqlx::Result<Vec<RunRow>> {
    Ok(sqlx::query(
        "SELECT topic_id, status, hits, pages, findings, model_calls, started_at, finished_at
         FROM research_runs WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| RunRow {
        topic_id: r.get(0),
        status: r.get(1),
        stats: RunStats {
            hits: r.get(2),
            pages: r.get(3),
            findings: r.get(4),
            model_calls: r.get(5),
        },
        started_at: r.get(6),
        finished_at: r.get(7),
    })
    .collect())
}

/// How many findings each of the user's topics has.
pub async fn finding_counts(
    pool: &PgPool,
    user_id: &str,
) -> sqlx::Result<std::collections::HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT topic_id, count(*) FROM research_findings WHERE user_id = $1 GROUP BY topic_id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// First half of the advisory lock key of a research run (the second is the topic id);
/// distinct from the night's and the memory store's locks.
const RUN_LOCK_NAMESPACE: i32 = 0x3A3_0004;

/// One run per topic at a time, across tasks and processes (`!research now` and an idle
/// hour would otherwise resume the same run twice): a session advisory lock on a connection
/// of its own, released when this is dropped (or the process dies and the connection closes).
pub struct TopicLock {
    _conn: sqlx::PgConnection,
}

/// Takes the topic's run lock, or `None` while another run holds it.
pub async fn try_lock_topic(pool: &PgPool, topic_id: i64) -> sqlx::Result<Option<TopicLock>> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect_with(&pool.connect_options()).await?;
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
        .bind(RUN_LOCK_NAMESPACE)
        .bind((topic_id % i64::from(i32::MAX)) as i32)
        .fetch_one(&mut conn)
        .await?;
    Ok(got.then_some(TopicLock { _conn: conn }))
}
