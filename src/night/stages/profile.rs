//! Stage 8: the user profile (at most 200 words) from the live facts of priority ≥ 4,
//! rewritten only when that set of facts changed. If the model's answer is unusable, the
//! profile is the facts themselves, joined: plain, but true.

use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, Row};

use crate::llm::LlmError;
use crate::night::cycle::{Ctx, Stage};
use crate::night::prompts;

/// Most facts the profile is written from (highest priority, then most recent).
const MAX_FACTS: i64 = 60;

pub(super) async fn run(conn: &mut PgConnection, cx: &Ctx<'_>) -> anyhow::Result<()> {
    let rows = sqlx::query(
        "SELECT id, text FROM live_facts
         WHERE user_id = $1
           AND priority >= 4
         ORDER BY priority DESC, updated_at DESC, id LIMIT $2",
    )
    .bind(cx.user_id)
    .bind(MAX_FACTS)
    .fetch_all(&mut *conn)
    .await?;
    let mut ids: Vec<i64> = rows.iter().map(|r| r.get("id")).collect();
    let texts: Vec<String> = rows.iter().map(|r| r.get("text")).collect();
    ids.sort_unstable();
    let current: Option<Vec<i64>> =
        sqlx::query_scalar("SELECT source_fact_ids FROM user_profile WHERE user_id = $1")
            .bind(cx.user_id)
            .fetch_optional(&mut *conn)
            .await?;
    let unchanged = current.as_ref().is_some_and(|c| {
        let mut c = c.clone();
        c.sort_unstable();
        c == ids
    });

    let mut tx = conn.begin().await?;
    let outcome = if ids.is_empty() && current.is_none() {
        "no facts yet"
    } else if unchanged {
        "unchanged"
    } else if ids.is_empty() {
        sqlx::query("DELETE FROM user_profile WHERE user_id = $1")
            .bind(cx.user_id)
            .execute(&mut *tx)
            .await?;
        "removed"
    } else {
        let answer: Result<Value, LlmError> = cx
            .chat_json(
                prompts::profile_messages(&texts),
                prompts::PROFILE_SCHEMA_NAME,
                prompts::profile_schema(),
                400,
            )
            .await;
        let text = match answer {
            Ok(v) => prompts::read_profile(&v),
            Err(LlmError::MalformedOutput { .. }) => None,
            Err(e) => return Err(anyhow::Error::new(e).context("writing the user profile")),
        }
        .unwrap_or_else(|| prompts::limit_words(&texts.join(" "), prompts::PROFILE_WORDS));
        sqlx::query(
            "INSERT INTO user_profile (user_id, text, source_fact_ids, generated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id) DO UPDATE SET text = EXCLUDED.text, source_fact_ids = EXCLUDED.source_fact_ids,
                                                 generated_at = EXCLUDED.generated_at",
        )
        .bind(cx.user_id)
        .bind(&text)
        .bind(&ids)
        .bind(cx.now)
        .execute(&mut *tx)
        .await?;
        "rewritten"
    };
    cx.checkpoint(
        &mut tx,
        Stage::Profile,
        json!({"facts": ids.len(), "profile": outcome}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
