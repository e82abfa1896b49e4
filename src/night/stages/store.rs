//! Stage 3: embed the candidates and store them. Each one is inserted, or merged into a fact
//! within cosine 0.92 (the same rule realtime extraction uses, so a fact it already stored is
//! not stored twice: its sources are united instead). In the same transaction the exchanges
//! of the extracted groups are marked processed: an exchange is done only once its facts are
//! committed.

use std::collections::{HashMap, HashSet};

use pgvector::Vector;
use serde_json::json;
use sqlx::{Connection, PgConnection, Row};

use crate::memory::fact::{Category, Kind, NewFact};
use crate::memory::store::{StoreOutcome, exact_vector_order, lock_user, store_one};
use crate::night::cycle::{Ctx, Stage};
use crate::store::night_log;

pub(super) async fn run(conn: &mut PgConnection, cx: &Ctx<'_>) -> anyhow::Result<()> {
    let rows = sqlx::query(
        "SELECT id, text, category, priority, kind, source_event_ids, observed_at
         FROM night_candidates WHERE run_id = $1 ORDER BY id",
    )
    .bind(cx.run_id)
    .fetch_all(&mut *conn)
    .await?;
    let candidates: Vec<(i64, NewFact)> = rows
        .iter()
        .map(|r| {
            let category = Category::parse_lenient(r.get::<&str, _>("category"));
            let mut f = NewFact::new(
                r.get::<String, _>("text"),
                category,
                r.get::<i16, _>("priority").clamp(1, 5) as u8,
            )
            .with_sources(r.get::<Vec<String>, _>("source_event_ids"));
            f.kind = Kind::parse_lenient(r.get::<&str, _>("kind"));
            f.observed_at = r.get("observed_at");
            (r.get("id"), f)
        })
        .collect();
    let texts: Vec<String> = candidates.iter().map(|(_, f)| f.text.clone()).collect();
    let vectors = cx.embed(&texts).await?;

    let mut tx = conn.begin().await?;
    lock_user(&mut tx, cx.user_id).await?;
    crate::store::users::ensure(&mut *tx, cx.user_id).await?;
    exact_vector_order(&mut tx).await?;
    // A `!forget` since the extraction scrubbed these sources: what came from them stays
    // forgotten. (The user's lock, held since, keeps another from slipping in.)
    let sources: Vec<String> = candidates
        .iter()
        .flat_map(|(_, f)| f.source_event_ids.iter().cloned())
        .collect();
    let forgotten: HashSet<String> =
        crate::store::messages::forgotten_among(&mut tx, cx.user_id, &sources)
            .await?
            .into_iter()
            .collect();
    let mut counts: HashMap<&'static str, usize> = HashMap::new();
    for ((cid, fact), vector) in candidates.iter().zip(vectors) {
        let from_forgotten = fact.source_event_ids.iter().any(|e| forgotten.contains(e));
        let (outcome, fact_id) = match fact.normalized() {
            _ if from_forgotten => ("forgotten", None),
            Ok(f) => match store_one(&mut tx, cx.user_id, &f, Vector::from(vector)).await? {
                StoreOutcome::Inserted { id } => ("inserted", Some(id)),
                StoreOutcome::Merged { id, .. } => ("merged", Some(id)),
                StoreOutcome::AlreadyStored => ("already_stored", None),
                StoreOutcome::Rejected { .. } => ("rejected", None),
            },
            Err(_) => ("rejected", None),
        };
        *counts.entry(outcome).or_default() += 1;
        sqlx::query("UPDATE night_candidates SET outcome = $2, fact_id = $3 WHERE id = $1")
            .bind(cid)
            .bind(outcome)
            .bind(fact_id)
            .execute(&mut *tx)
            .await?;
    }

    // The exchanges of extracted groups, their replies, and the command/notice messages seen
    // at stage 1 are done. Exchanges of failed groups stay pending.
    let max_message_id: i64 = sqlx::query_scalar(
        "SELECT COALESCE((stats->'group'->>'max_message_id')::bigint, 0) FROM night_runs WHERE id = $1",
    )
    .bind(cx.run_id)
    .fetch_one(&mut *tx)
    .await?;
    let done: Vec<i64> = sqlx::query_scalar(
        "SELECT unnest(message_ids) FROM night_groups WHERE run_id = $1 AND status = 'extracted'",
    )
    .bind(cx.run_id)
    .fetch_all(&mut *tx)
    .await?;
    let marked =
        night_log::mark_processed(&mut tx, cx.user_id, &done, max_message_id, cx.now).await?;
    cx.checkpoint(
        &mut tx,
        Stage::Store,
        json!({
            "inserted": counts.get("inserted").copied().unwrap_or(0),
            "merged": counts.get("merged").copied().unwrap_or(0),
            "rejected": counts.get("rejected").copied().unwrap_or(0) + counts.get("already_stored").copied().unwrap_or(0),
            "forgotten": counts.get("forgotten").copied().unwrap_or(0),
            "exchanges_processed": marked.exchanges,
            "other_messages_processed": marked.others,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
