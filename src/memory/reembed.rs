//! Re-embedding every fact when the embedding model changes (`threeam reembed`).
//!
//! Vectors from two models do not compare, so recall must never mix them. New vectors are
//! written to `facts.embedding_next` in batches while `embedding` keeps the old ones (recall
//! goes on working, with the old model's vectors); when every fact has its new vector, one
//! transaction moves them all into `embedding` and recomputes each topic's centroid from
//! its members. Stopped half-way (Ctrl-C, a crash, the embedding server away), the next run
//! embeds only what is left. Facts stored meanwhile by a running bot are embedded again,
//! which is harmless.

use pgvector::Vector;
use sqlx::{PgPool, Row};

use super::MemoryError;
use crate::llm::LlmClient;

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reembedded {
    /// Facts embedded by this run.
    pub embedded: u64,
    /// Facts whose new vector was moved into place (0 unless the run finished).
    pub swapped: u64,
    /// Everything done: all facts carry the new model's vectors.
    pub finished: bool,
}

/// Facts still waiting for their new vector, and facts in all.
pub async fn remaining(pool: &PgPool) -> Result<(u64, u64), MemoryError> {
    let row =
        sqlx::query("SELECT count(*) FILTER (WHERE embedding_next IS NULL), count(*) FROM facts")
            .fetch_one(pool)
            .await?;
    Ok((row.get::<i64, _>(0) as u64, row.get::<i64, _>(1) as u64))
}

/// Embeds what is left in batches of `batch`, calling `progress(done, total)` after each;
/// stops after `max_batches` batches if given (the rest waits for the next run), else
/// finishes and swaps.
pub async fn reembed(
    pool: &PgPool,
    llm: &LlmClient,
    batch: usize,
    max_batches: Option<usize>,
    mut progress: impl FnMut(u64, u64),
) -> Result<Reembedded, MemoryError> {
    let batch = batch.max(1);
    let (left, total) = remaining(pool).await?;
    let mut done = total - left;
    progress(done, total);
    let mut embedded = 0;
    let mut batches = 0;
    loop {
        if max_batches.is_some_and(|m| batches >= m) {
            return Ok(Reembedded {
                embedded,
                swapped: 0,
                finished: false,
            });
        }
        let rows = sqlx::query(
            "SELECT id, text FROM facts WHERE embedding_next IS NULL ORDER BY id LIMIT $1",
        )
        .bind(batch as i64)
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            break;
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.get("id")).collect();
        let texts: Vec<String> = rows.iter().map(|r| r.get("text")).collect();
        let vectors: Vec<Vector> = llm
            .embed(&texts)
            .await?
            .into_iter()
            .map(Vector::from)
            .collect();
        sqlx::query(
            "UPDATE facts f SET embedding_next = v.e
             FROM unnest($1::bigint[], $2::vector[]) AS v(id, e) WHERE f.id = v.id",
        )
        .bind(&ids)
        .bind(&vectors)
        .execute(pool)
        .await?;
        embedded += ids.len() as u64;
        done += ids.len() as u64;
        batches += 1;
        progress(done.min(total), total);
    }
    let swapped = swap(pool).await?;
    Ok(Reembedded {
        embedded,
        swapped,
        finished: true,
    })
}

/// Moves every new vector into place and recomputes the topics' centroids, at once.
async fn swap(pool: &PgPool) -> Result<u64, MemoryError> {
    let mut tx = pool.begin().await?;
    // Facts stored while the last batch ran have no new vector yet; theirs is already
    // the new model's (the bot embeds with whatever is configured), so they keep it.
    let swapped = sqlx::query(
        "UPDATE facts SET embedding = embedding_next, embedding_next = NULL
         WHERE embedding_next IS NOT NULL",
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE clusters c SET centroid = m.centroid
         FROM (SELECT cluster_id, avg(embedding) AS centroid FROM facts
               WHERE cluster_id IS NOT NULL AND embedding IS NOT NULL GROUP BY cluster_id) m
         WHERE m.cluster_id = c.id",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(swapped)
}
