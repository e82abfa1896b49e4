//! Stage 8: the user profile (at most 200 words) from the live facts of priority ≥ 4,
//! rewritten only when that set of facts changed. If the model's answer is unusable, the
//! profile is the facts themselves, joined: plain, but true.

use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

use crate::llm::LlmError;
use crate::memory::upkeep;
use crate::night::cycle::{Ctx, Stage};
use crate::night::prompts;

/// Most facts the profile is written from (highest priority, then most recent).
const MAX_FACTS: i64 = 60;

pub(super) async fn run(conn: &mut PgConnection, cx: &Ctx<'_>) -> anyhow::Result<()> {
    let rows = upkeep::profile_sources(&mut *conn, cx.user_id, MAX_FACTS).await?;
    let mut ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
    let texts: Vec<String> = rows.into_iter().map(|(_, text)| text).collect();
    ids.sort_unstable();
    let current = upkeep::profile_written_from(&mut *conn, cx.user_id).await?;
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
        upkeep::remove_profile(&mut tx, cx.user_id).await?;
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
        upkeep::set_profile(&mut tx, cx.user_id, &text, &ids, cx.now).await?;
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
