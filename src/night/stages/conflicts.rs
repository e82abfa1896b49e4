//! Stage 4: does a new fact replace an older one? For each fact that is new since the last
//! digest (the night's and realtime extraction's) the live facts of the same category with
//! cosine in [0.75, 0.92) are candidates (closer ones were merged at stage 3), and so are the
//! live facts that fill the same slot of the user's life (home, job, name: see
//! [`crate::memory::slots`]) whatever their similarity above [`SLOT_MIN`]. Pairs in one slot
//! are decided by that module's rule; the others by the model. The model
//! decides each pair; when the new statement replaces the old, the old fact gets `valid_to`
//! and `superseded_by` (it is kept as history); when both can be true, both stay. The model
//! calls come first, then one transaction applies the decisions.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use pgvector::Vector;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, Row};

use crate::llm::LlmError;
use crate::memory::slots;
use crate::memory::store::{lock_user, supersede};
use crate::night::cycle::{Ctx, Stage};
use crate::night::digest::SupersededItem;
use crate::night::prompts;

/// Similarity band in which two facts may contradict each other.
pub const CONFLICT_MIN: f64 = 0.75;
pub const CONFLICT_MAX: f64 = crate::memory::MERGE_SIMILARITY as f64;
/// Older facts checked per new fact (the nearest ones).
const PER_FACT: i64 = 3;
/// Facts in the same slot are related at least this much (MiniLM: "lives in Stockholm" and
/// "moved to Gothenburg" 0.67, two jobs 0.5, a home and an allergy 0.26).
pub const SLOT_MIN: f64 = 0.35;
/// Model calls per night at most; the rest wait for the next night.
pub const MAX_CHECKS: usize = 60;

struct Live {
    id: i64,
    text: String,
    category: String,
    valid_from: DateTime<Utc>,
    embedding: Vector,
}

pub(super) async fn run(conn: &mut PgConnection, cx: &Ctx<'_>) -> anyhow::Result<()> {
    let mark: i64 = sqlx::query_scalar(
        "SELECT COALESCE((SELECT fact_id FROM night_marks WHERE user_id = $1), 0)",
    )
    .bind(cx.user_id)
    .fetch_one(&mut *conn)
    .await?;
    let new_facts: Vec<Live> = sqlx::query(
        "SELECT id, text, category, valid_from, embedding FROM live_facts
         WHERE user_id = $1
           AND embedding IS NOT NULL
           AND (id > $2 OR id IN (SELECT fact_id FROM night_candidates WHERE run_id = $3 AND outcome = 'merged'))
         ORDER BY valid_from, id",
    )
    .bind(cx.user_id)
    .bind(mark)
    .bind(cx.run_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| Live {
        id: r.get("id"),
        text: r.get("text"),
        category: r.get("category"),
        valid_from: r.get("valid_from"),
        embedding: r.get("embedding"),
    })
    .collect();

    // Pairs (older, newer) to ask about, nearest first per new fact.
    let mut pairs: Vec<(i64, String, i64, String, DateTime<Utc>)> = Vec::new();
    let mut seen: HashSet<(i64, i64)> = HashSet::new();
    for n in &new_facts {
        let older = sqlx::query(
            "SELECT id, text, 1 - (embedding <=> $3) AS similarity FROM live_facts
             WHERE user_id = $1 AND category = $2 AND id <> $4
               AND embedding IS NOT NULL
               AND (valid_from < $5 OR (valid_from = $5 AND id < $4))
               AND 1 - (embedding <=> $3) >= $6 AND 1 - (embedding <=> $3) < $7
             ORDER BY embedding <=> $3 LIMIT $8",
        )
        .bind(cx.user_id)
        .bind(&n.category)
        .bind(&n.embedding)
        .bind(n.id)
        .bind(n.valid_from)
        .bind(CONFLICT_MIN)
        .bind(CONFLICT_MAX)
        .bind(PER_FACT)
        .fetch_all(&mut *conn)
        .await?;
        for o in older {
            let oid: i64 = o.get("id");
            if seen.insert((oid, n.id)) {
                pairs.push((oid, o.get("text"), n.id, n.text.clone(), n.valid_from));
            }
        }
        // The same slot of the user's life, whatever the category the model gave each.
        if let Some(slot) = slots::slot(&n.text) {
            let same_slot = sqlx::query(
                "SELECT id, text FROM live_facts
                 WHERE user_id = $1 AND id <> $3
                   AND embedding IS NOT NULL
                   AND (valid_from < $4 OR (valid_from = $4 AND id < $3))
                   AND 1 - (embedding <=> $2) >= $5 AND 1 - (embedding <=> $2) < $6
                 ORDER BY embedding <=> $2 LIMIT 20",
            )
            .bind(cx.user_id)
            .bind(&n.embedding)
            .bind(n.id)
            .bind(n.valid_from)
            .bind(SLOT_MIN)
            .bind(CONFLICT_MAX)
            .fetch_all(&mut *conn)
            .await?;
            for o in same_slot
                .iter()
                .filter(|o| slots::slot(o.get::<&str, _>("text")) == Some(slot))
                .take(PER_FACT as usize)
            {
                let oid: i64 = o.get("id");
                if seen.insert((oid, n.id)) {
                    pairs.push((oid, o.get("text"), n.id, n.text.clone(), n.valid_from));
                }
            }
        }
    }
    let skipped = pairs.len().saturating_sub(MAX_CHECKS);
    pairs.truncate(MAX_CHECKS);

    let mut replaced: Vec<(SupersededItem, DateTime<Utc>)> = Vec::new();
    let mut gone: HashSet<i64> = HashSet::new();
    let (mut kept_both, mut malformed) = (0usize, 0usize);
    for (old_id, old_text, new_id, new_text, new_from) in pairs {
        // A fact replaced a moment ago neither needs nor gives another verdict.
        if gone.contains(&old_id) || gone.contains(&new_id) {
            continue;
        }
        // Two facts of one slot (home, job, name) are decided by rule; others by the model.
        let verdict = match slots::replaces(&old_text, &new_text) {
            Some(v) => Some(v),
            None => {
                let answer: Result<Value, LlmError> = cx
                    .chat_json(
                        prompts::conflict_messages(&old_text, &new_text),
                        prompts::CONFLICT_SCHEMA_NAME,
                        prompts::conflict_schema(),
                        20,
                    )
                    .await;
                match answer {
                    Ok(v) => prompts::read_conflict(&v),
                    Err(LlmError::MalformedOutput { .. }) => None,
                    Err(e) => {
                        return Err(anyhow::Error::new(e).context("checking a possible conflict"));
                    }
                }
            }
        };
        match verdict {
            Some(true) => {
                gone.insert(old_id);
                replaced.push((
                    SupersededItem {
                        old_id,
                        old_text,
                        new_id,
                        new_text,
                    },
                    new_from,
                ));
            }
            Some(false) => kept_both += 1,
            // When in doubt, keep both: nothing is lost.
            None => malformed += 1,
        }
    }

    let mut tx = conn.begin().await?;
    lock_user(&mut tx, cx.user_id).await?;
    let mut applied: Vec<SupersededItem> = Vec::new();
    for (item, new_from) in replaced {
        if supersede(&mut tx, cx.user_id, item.old_id, item.new_id, new_from).await? {
            tracing::info!(
                user = cx.user_id,
                old = item.old_id,
                new = item.new_id,
                "fact superseded"
            );
            applied.push(item);
        }
    }
    cx.checkpoint(
        &mut tx,
        Stage::Conflicts,
        json!({
            "new_facts": new_facts.len(),
            "checked": applied.len() + kept_both + malformed,
            "superseded": applied,
            "kept_both": kept_both,
            "unclear": malformed,
            "postponed": skipped,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
