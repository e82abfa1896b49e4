//! Self-made tools, their approvals and their runs: the owner of the `tools`,
//! `tool_approvals` and `tool_runs` tables.
//!
//! A tool row holds the tool's current version at its current stage (see
//! `migrations/0011_tools.sql`); every revision bumps `version`, so an approval given for an
//! older version (or other code) no longer matches. Stage changes are conditional updates on
//! the expected stage, version and code hash: a ✅ delivered twice, or a ✅ on a message that a
//! revision replaced, changes nothing.

use serde_json::Value;
use sqlx::{PgPool, Row};

/// A tool at its current stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub id: i64,
    pub user_id: String,
    pub room_id: String,
    pub name: String,
    pub description: String,
    pub stage: String,
    pub version: i32,
    /// The JSON schema of its arguments.
    pub parameters: Value,
    /// The concept's example: `{"input": …, "expected": …}`.
    pub example: Value,
    /// What the user asked for, in their words.
    pub request: String,
    pub code: Option<String>,
    pub code_hash: Option<String>,
    /// The code's own examples: `[{"input": …, "expected": …}]`.
    pub examples: Value,
    pub explanation: String,
    pub scan_report: Option<String>,
    pub example_report: String,
    pub installed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

macro_rules! tool_columns {
    () => {
        "id, user_id, room_id, name, description, stage, version, parameters, example, request, \
         code, code_hash, examples, explanation, scan_report, example_report, installed_at, \
         updated_at"
    };
}

fn from_row(r: &sqlx::postgres::PgRow) -> Tool {
    Tool {
        id: r.get(0),
        user_id: r.get(1),
        room_id: r.get(2),
        name: r.get(3),
        description: r.get(4),
        stage: r.get(5),
        version: r.get(6),
        parameters: r.get(7),
        example: r.get(8),
        request: r.get(9),
        code: r.get(10),
        code_hash: r.get(11),
        examples: r.get(12),
        explanation: r.get(13),
        scan_report: r.get(14),
        example_report: r.get(15),
        installed_at: r.get(16),
        updated_at: r.get(17),
    }
}

/// A concept, as proposed or revised.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConcept<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub parameters: &'a Value,
    pub example: &'a Value,
    pub request: &'a str,
}

/// Stores a new proposal, at stage `proposed`. A tool of the same name that was rejected or
/// removed is replaced (its runs and history go with it); one that is installed or still
/// being built is not: `None`.
pub async fn propose(
    pool: &PgPool,
    user_id: &str,
    room_id: &str,
    c: &NewConcept<'_>,
) -> sqlx::Result<Option<Tool>> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "DELETE FROM tools WHERE user_id = $1 AND name = $2 AND stage IN ('rejected', 'removed')",
    )
    .bind(user_id)
    .bind(c.name)
    .execute(&mut *tx)
    .await?;
    let row = sqlx::query(concat!(
        "INSERT INTO tools (user_id, room_id, name, description, parameters, example, request)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (user_id, name) DO NOTHING RETURNING ",
        tool_columns!()
    ))
    .bind(user_id)
    .bind(room_id)
    .bind(c.name)
    .bind(c.description)
    .bind(c.parameters)
    .bind(c.example)
    .bind(c.request)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.as_ref().map(from_row))
}

/// Replaces the concept of a tool still at stage `proposed` (a revision): a new version.
pub async fn revise_concept(
    pool: &PgPool,
    id: i64,
    version: i32,
    c: &NewConcept<'_>,
) -> sqlx::Result<Option<Tool>> {
    let row = sqlx::query(concat!(
        "UPDATE tools SET description = $3, parameters = $4, example = $5,
                version = version + 1, updated_at = now()
         WHERE id = $1 AND version = $2 AND stage = 'proposed' RETURNING ",
        tool_columns!()
    ))
    .bind(id)
    .bind(version)
    .bind(c.description)
    .bind(c.parameters)
    .bind(c.example)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(from_row))
}

/// Generated code, with what the scan and the example runs found.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCode<'a> {
    pub code: &'a str,
    pub code_hash: &'a str,
    pub examples: &'a Value,
    pub explanation: &'a str,
    pub scan_report: &'a str,
    pub example_report: &'a str,
}

/// Stores code for version `version` of a tool at stage `proposed` or `code_shown` (a
/// revision of the code): a new version at stage `code_shown`.
pub async fn set_code(
    pool: &PgPool,
    id: i64,
    version: i32,
    c: &NewCode<'_>,
) -> sqlx::Result<Option<Tool>> {
    let row = sqlx::query(concat!(
        "UPDATE tools SET code = $3, code_hash = $4, examples = $5, explanation = $6,
                scan_report = $7, example_report = $8, stage = 'code_shown',
                version = version + 1, updated_at = now()
         WHERE id = $1 AND version = $2 AND stage IN ('proposed', 'code_shown') RETURNING ",
        tool_columns!()
    ))
    .bind(id)
    .bind(version)
    .bind(c.code)
    .bind(c.code_hash)
    .bind(c.examples)
    .bind(c.explanation)
    .bind(c.scan_report)
    .bind(c.example_report)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(from_row))
}

/// Moves a tool from stage `from` to `to` if it is still at `version` with `code_hash`
/// (`None`: no code yet); the moved tool, or `None` when something changed in between.
pub async fn advance(
    pool: &PgPool,
    id: i64,
    from: &str,
    to: &str,
    version: i32,
    code_hash: Option<&str>,
    report: Option<(&str, &str)>,
) -> sqlx::Result<Option<Tool>> {
    let row = sqlx::query(concat!(
        "UPDATE tools SET stage = $3, updated_at = now(),
                installed_at = CASE WHEN $3 = 'installed' THEN now() ELSE installed_at END,
                scan_report = COALESCE($6, scan_report),
                example_report = COALESCE($7, example_report)
         WHERE id = $1 AND stage = $2 AND version = $4 AND code_hash IS NOT DISTINCT FROM $5
         RETURNING ",
        tool_columns!()
    ))
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(version)
    .bind(code_hash)
    .bind(report.map(|r| r.0))
    .bind(report.map(|r| r.1))
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(from_row))
}

/// Marks an installed tool removed.
pub async fn remove(pool: &PgPool, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE tools SET stage = 'removed', updated_at = now() WHERE id = $1 AND stage <> 'removed'",
    )
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected()
        > 0)
}

/// Whether the user has, or had, a tool proposed for `request` (at any stage, dropped and
/// removed ones included): a need is proposed once.
pub async fn exists_for_request(pool: &PgPool, user_id: &str, request: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tools WHERE user_id = $1 AND request = $2)")
        .bind(user_id)
        .bind(request)
        .fetch_one(pool)
        .await
}

pub async fn get(pool: &PgPool, user_id: &str, id: i64) -> sqlx::Result<Option<Tool>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        tool_columns!(),
        " FROM tools WHERE user_id = $1 AND id = $2"
    ))
    .bind(user_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(from_row))
}

pub async fn by_name(pool: &PgPool, user_id: &str, name: &str) -> sqlx::Result<Option<Tool>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        tool_columns!(),
        " FROM tools WHERE user_id = $1 AND name = $2"
    ))
    .bind(user_id)
    .bind(name)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(from_row))
}

/// The user's tools that are installed or being built, installed first, then newest first.
pub async fn list(pool: &PgPool, user_id: &str) -> sqlx::Result<Vec<Tool>> {
    Ok(sqlx::query(concat!(
        "SELECT ",
        tool_columns!(),
        " FROM tools WHERE user_id = $1 AND stage NOT IN ('rejected', 'removed')
          ORDER BY stage = 'installed' DESC, updated_at DESC, id"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(from_row)
    .collect())
}

/// The user's installed tools, by name.
pub async fn installed(pool: &PgPool, user_id: &str) -> sqlx::Result<Vec<Tool>> {
    Ok(sqlx::query(concat!(
        "SELECT ",
        tool_columns!(),
        " FROM tools WHERE user_id = $1 AND stage = 'installed' ORDER BY name"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(from_row)
    .collect())
}

/// One ✅ or ❌ on a tool's stage.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    pub stage: String,
    pub version: i32,
    pub code_hash: Option<String>,
    pub approved: bool,
    pub user_id: String,
    pub event_id: String,
    pub decided_at: chrono::DateTime<chrono::Utc>,
}

/// Keeps a decision in the tool's history (once per message and stage).
#[allow(clippy::too_many_arguments)]
pub async fn record_approval(
    pool: &PgPool,
    tool_id: i64,
    user_id: &str,
    stage: &str,
    version: i32,
    code_hash: Option<&str>,
    approved: bool,
    event_id: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO tool_approvals (tool_id, user_id, stage, version, code_hash, approved, event_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id, stage) DO NOTHING",
    )
    .bind(tool_id)
    .bind(user_id)
    .bind(stage)
    .bind(version)
    .bind(code_hash)
    .bind(approved)
    .bind(event_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// A tool's decisions, oldest first.
pub async fn approvals(pool: &PgPool, tool_id: i64) -> sqlx::Result<Vec<ApprovalRecord>> {
    Ok(sqlx::query(
        "SELECT stage, version, code_hash, approved, user_id, event_id, decided_at
         FROM tool_approvals WHERE tool_id = $1 ORDER BY decided_at, id",
    )
    .bind(tool_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| ApprovalRecord {
        stage: r.get(0),
        version: r.get(1),
        code_hash: r.get(2),
        approved: r.get(3),
        user_id: r.get(4),
        event_id: r.get(5),
        decided_at: r.get(6),
    })
    .collect())
}

/// One run of a tool, as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub input: Value,
    pub output: Option<String>,
    /// `returned`, `raised` or `stopped`.
    pub status: String,
    pub duration_ms: i32,
    /// `chat`, `command` or `example`.
    pub origin: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Logs a run.
#[allow(clippy::too_many_arguments)]
pub async fn record_run(
    pool: &PgPool,
    user_id: &str,
    tool_id: i64,
    input: &Value,
    output: &str,
    status: &str,
    duration_ms: i32,
    origin: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO tool_runs (user_id, tool_id, input, output, status, exit_code, duration_ms, origin)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(user_id)
    .bind(tool_id)
    .bind(input)
    .bind(output)
    .bind(status)
    .bind(i32::from(status != "returned"))
    .bind(duration_ms)
    .bind(origin)
    .execute(pool)
    .await?;
    Ok(())
}

/// A tool's latest runs, newest first.
pub async fn runs(pool: &PgPool, tool_id: i64, limit: i64) -> sqlx::Result<Vec<RunRecord>> {
    Ok(sqlx::query(
        "SELECT input, output, status, duration_ms, origin, created_at FROM tool_runs
         WHERE tool_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(tool_id)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| RunRecord {
        input: r.get(0),
        output: r.get(1),
        status: r.get(2),
        duration_ms: r.get::<Option<i32>, _>(3).unwrap_or_default(),
        origin: r.get(4),
        created_at: r.get(5),
    })
    .collect())
}

/// Tools proposed after `mark` (by id), for the morning digest: id, name, description.
pub async fn proposed_after<'e>(
    exec: impl sqlx::PgExecutor<'e>,
    user_id: &str,
    mark: i64,
) -> sqlx::Result<Vec<(i64, String, String)>> {
    sqlx::query_as(
        "SELECT id, name, description FROM tools WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT 50",
    )
    .bind(user_id)
    .bind(mark)
    .fetch_all(exec)
    .await
}

/// A chat run of an installed tool that raised or was stopped, not yet looked at by the
/// hourly self-review.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedRun {
    pub run_id: i64,
    pub tool_id: i64,
    pub name: String,
    pub request: String,
    pub room_id: String,
    pub input: Value,
    pub output: String,
}

/// The user's failed chat runs of installed tools since `since`, oldest first.
pub async fn failed_runs(
    pool: &PgPool,
    user_id: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<Vec<FailedRun>> {
    Ok(sqlx::query(
        "SELECT r.id, t.id, t.name, t.request, t.room_id, r.input, COALESCE(r.output, '')
         FROM tool_runs r JOIN tools t ON t.id = r.tool_id
         WHERE r.user_id = $1 AND r.created_at >= $2 AND r.origin = 'chat'
           AND r.status IN ('raised', 'stopped') AND t.stage = 'installed'
           AND NOT EXISTS (SELECT 1 FROM self_reviews s
                           WHERE s.user_id = r.user_id AND s.source = 'tool_run' AND s.source_id = r.id)
         ORDER BY r.id",
    )
    .bind(user_id)
    .bind(since)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| FailedRun {
        run_id: r.get(0),
        tool_id: r.get(1),
        name: r.get(2),
        request: r.get(3),
        room_id: r.get(4),
        input: r.get(5),
        output: r.get(6),
    })
    .collect())
}
