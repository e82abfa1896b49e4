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
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

use crate::llm::LlmError;
use crate::memory::slots;
use crate::memory::store::{lock_user, supersede};
use crate::memory::upkeep::{self, Band, LiveFact};
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

/// A pair to decide: (older id, older text, newer id, newer text, newer valid from).
type Pair = (i64, String, i64, String, DateTime<Utc>);

pub(super) async fn run(conn: &mut PgConnection, cx: &Ctx<'_>) -> anyhow::Result<()> {
    let mark = cx.fact_mark(&mut *conn).await?;
    let merged = cx.merged_tonight(&mut *conn).await?;
    let new_facts = upkeep::live_since(&mut *conn, cx.user_id, mark, &merged).await?;
    let mut pairs = pairs(&mut *conn, cx.user_id, &new_facts).await?;
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

/// The pairs to decide, nearest first per new fact: same-category neighbours in the
/// conflict band, then facts of the same slot of the user's life.
async fn pairs(
    conn: &mut PgConnection,
    user_id: &str,
    new_facts: &[LiveFact],
) -> sqlx::Result<Vec<Pair>> {
    let mut pairs: Vec<Pair> = Vec::new();
    let mut seen: HashSet<(i64, i64)> = HashSet::new();
    for n in new_facts {
        let band = Band {
            category: Some(&n.category),
            min: CONFLICT_MIN,
            max: CONFLICT_MAX,
            limit: PER_FACT,
        };
        let mut older = upkeep::older_neighbours(&mut *conn, user_id, n, band).await?;
        // The same slot of the user's life, whatever the category the model gave each.
        if let Some(slot) = slots::slot(&n.text) {
            let band = Band {
                category: None,
                min: SLOT_MIN,
                max: CONFLICT_MAX,
                limit: 20,
            };
            let same_slot = upkeep::older_neighbours(&mut *conn, user_id, n, band).await?;
            older.extend(
                same_slot
                    .into_iter()
                    .filter(|(_, text)| slots::slot(text) == Some(slot))
                    .take(PER_FACT as usize),
            );
        }
        for (oid, text) in older {
            if seen.insert((oid, n.id)) {
                pairs.push((oid, text, n.id, n.text.clone(), n.valid_from));
            }
        }
    }
    Ok(pairs)
}
