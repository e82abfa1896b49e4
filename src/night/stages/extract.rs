//! Stage 2: one JSON-schema-constrained call per group for up to eight facts, each with the
//! exchanges it came from. Each group's candidates are committed with the group's status, so
//! a crash midway does not ask the model again about groups already done. A malformed answer
//! fails only its group (its exchanges stay pending for the next night, and the error is
//! recorded); a model server that is down fails the stage, which resumes next time.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, Row};

use crate::llm::LlmError;
use crate::night::cycle::{Ctx, Stage};
use crate::night::prompts::{self, Exchange};
use crate::store::night_log;

struct Loaded {
    exchanges: Vec<Exchange>,
    /// Per exchange: the user's event id, then the reply's.
    event_ids: Vec<Vec<String>>,
    sent_at: Vec<DateTime<Utc>>,
}

pub(super) async fn run(conn: &mut PgConnection, cx: &Ctx<'_>) -> anyhow::Result<()> {
    let groups: Vec<(i32, Vec<i64>)> = sqlx::query(
        "SELECT group_no, message_ids FROM night_groups
         WHERE run_id = $1 AND status = 'pending' ORDER BY group_no",
    )
    .bind(cx.run_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| (r.get("group_no"), r.get("message_ids")))
    .collect();

    for (group_no, message_ids) in groups {
        let loaded = load(conn, cx.user_id, &message_ids).await?;
        if loaded.exchanges.is_empty() {
            mark(conn, cx, group_no, "extracted", None).await?;
            continue;
        }
        let n = loaded.exchanges.len();
        let answer: Result<Value, LlmError> = cx
            .chat_json(
                prompts::extract_messages(&loaded.exchanges, cx.now),
                prompts::EXTRACT_SCHEMA_NAME,
                prompts::extract_schema(n),
                900,
            )
            .await;
        let raw = match answer {
            Ok(v) => v,
            Err(e @ LlmError::MalformedOutput { .. }) => {
                tracing::warn!(user = cx.user_id, group_no, error = %e, "malformed extraction; the group's exchanges stay pending");
                mark(conn, cx, group_no, "failed", Some(&e.to_string())).await?;
                continue;
            }
            Err(e) => return Err(anyhow::Error::new(e).context("extracting facts")),
        };
        let (extracted, ungrounded): (Vec<_>, Vec<_>) = prompts::read_extracted(&raw, n)
            .into_iter()
            .partition(|e| prompts::grounded(&e.fact.text, &loaded.exchanges));
        for e in &ungrounded {
            tracing::debug!(user = cx.user_id, fact = %e.fact.text, "dropped an extracted fact the user did not state");
        }
        let mut tx = conn.begin().await?;
        for e in &extracted {
            let mut sources: Vec<String> = Vec::new();
            let mut observed: Option<DateTime<Utc>> = None;
            for s in &e.sources {
                sources.extend(loaded.event_ids[s - 1].iter().cloned());
                observed = observed.max(Some(loaded.sent_at[s - 1]));
            }
            sqlx::query(
                "INSERT INTO night_candidates (run_id, group_no, user_id, text, category, priority, kind, source_event_ids, observed_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(cx.run_id)
            .bind(group_no)
            .bind(cx.user_id)
            .bind(&e.fact.text)
            .bind(e.fact.category.as_str())
            .bind(i16::from(e.fact.priority))
            .bind(e.fact.kind.as_str())
            .bind(&sources)
            .bind(observed)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE night_groups SET status = 'extracted', error = NULL WHERE run_id = $1 AND group_no = $2",
        )
        .bind(cx.run_id)
        .bind(group_no)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }

    let mut tx = conn.begin().await?;
    let row = sqlx::query(
        "SELECT count(*) FILTER (WHERE status = 'extracted') AS ok,
                count(*) FILTER (WHERE status = 'failed') AS failed,
                COALESCE(array_agg(group_no || ': ' || error) FILTER (WHERE status = 'failed'), '{}') AS errors,
                (SELECT count(*) FROM night_candidates WHERE run_id = $1) AS candidates
         FROM night_groups WHERE run_id = $1",
    )
    .bind(cx.run_id)
    .fetch_one(&mut *tx)
    .await?;
    let (ok, failed, errors, candidates): (i64, i64, Vec<String>, i64) = (
        row.get("ok"),
        row.get("failed"),
        row.get("errors"),
        row.get("candidates"),
    );
    cx.checkpoint(
        &mut tx,
        Stage::Extract,
        json!({"groups_extracted": ok, "groups_failed": failed, "errors": errors, "candidates": candidates}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn mark(
    conn: &mut PgConnection,
    cx: &Ctx<'_>,
    group_no: i32,
    status: &str,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE night_groups SET status = $3, error = $4 WHERE run_id = $1 AND group_no = $2",
    )
    .bind(cx.run_id)
    .bind(group_no)
    .bind(status)
    .bind(error)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn load(conn: &mut PgConnection, user_id: &str, ids: &[i64]) -> sqlx::Result<Loaded> {
    let mut out = Loaded {
        exchanges: Vec::new(),
        event_ids: Vec::new(),
        sent_at: Vec::new(),
    };
    for e in night_log::exchanges(conn, user_id, ids).await? {
        out.exchanges.push(Exchange {
            user: e.body,
            reply: e.reply,
        });
        out.event_ids.push(e.event_ids);
        out.sent_at.push(e.sent_at);
    }
    Ok(out)
}
