//! Retrieval for a chat turn: which of the user's facts should the model see now?
//!
//! Two candidate lists are drawn from the user's live facts (not superseded, not ended, not
//! archived):
//! * **full-text**: `websearch_to_tsquery` (every word must match), topped up by facts with
//!   any of the question's words when that finds too few, because natural questions ("where
//!   do I live these days?") rarely have all their words in one fact; those are ranked by
//!   the summed rarity (IDF) of the words they share with the question;
//! * **vector**: nearest embeddings by cosine distance through the HNSW index.
//!
//! They are fused by reciprocal rank, boosted by priority, cluster importance and recency
//! ([`super::score`]), and packed into a token budget after the user's profile. The facts
//! that made it in get their `access_count` and `last_accessed_at` bumped.
//!
//! Retrieval never waits on the embedding server longer than `embed_timeout`: on a timeout or
//! error it logs a warning and carries on with full-text only (`used_vector == false`).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pgvector::Vector;
use serde::Serialize;
use sqlx::{PgPool, Postgres, Row, Transaction};

use super::MemoryError;
use super::fact::Fact;
use super::score::{
    BoostWeights, PackItem, RRF_K, Signals, TermStats, boost, pack, question_words, quoted_lexeme,
    reciprocal_rank_fusion, weigh_terms,
};
use super::store::{fact_columns, fact_from_row};
use crate::llm::LlmClient;

/// The least `hnsw.ef_search` (candidate list size) of the vector search.
const HNSW_EF_SEARCH: i64 = 100;

/// Vector candidates less similar than this to the query are noise, not memories.
pub const MIN_VECTOR_SIMILARITY: f64 = 0.2;

/// How to retrieve.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrieveOptions {
    /// At most this many facts.
    pub k: usize,
    /// Tokens the profile and the facts may take together in the system prompt.
    pub token_budget: usize,
    /// Longest wait for the query's embedding before falling back to full-text only.
    pub embed_timeout: Duration,
    /// The time recency is measured from, and the access time recorded.
    pub now: DateTime<Utc>,
}

impl RetrieveOptions {
    /// Sensible defaults for a chat turn: 8 facts, 600 tokens, 1.5 s for the embedding.
    pub fn new(now: DateTime<Utc>) -> Self {
        RetrieveOptions {
            k: 8,
            token_budget: 600,
            embed_timeout: Duration::from_millis(1500),
            now,
        }
    }

    fn candidates(&self) -> i64 {
        (self.k * 10).clamp(50, 400) as i64
    }
}

impl Default for RetrieveOptions {
    fn default() -> Self {
        Self::new(Utc::now())
    }
}

/// One retrieved fact and why it ranked where it did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredFact {
    pub fact: Fact,
    /// Fused and boosted score; only the order means something.
    pub score: f64,
    /// 1-based rank in the full-text list, if the fact was in it.
    pub text_rank: Option<usize>,
    /// 1-based rank in the vector list, if the fact was in it.
    pub vector_rank: Option<usize>,
    /// Cosine similarity to the query, if the fact was a vector candidate.
    pub similarity: Option<f64>,
}

/// What a turn gets from memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Retrieved {
    /// The facts in `context`, best first.
    pub facts: Vec<ScoredFact>,
    /// The user's profile, if there is one (it is in `context` too, first).
    pub profile: Option<String>,
    /// False when the embedding server timed out or failed and only full-text was used.
    pub used_vector: bool,
    /// The memory section for the system prompt; empty when there is nothing to say.
    pub context: String,
    /// For a retrieved fact that recently replaced another (a move, a new job): its id and
    /// the replaced fact's text, so the answer can say what changed instead of repeating
    /// what the conversation said before the change.
    pub replaced: std::collections::HashMap<i64, String>,
}

impl Retrieved {
    /// Ids of the facts used, for the experience row ([`record_facts_used`]).
    pub fn fact_ids(&self) -> Vec<i64> {
        self.facts.iter().map(|f| f.fact.id).collect()
    }
}

/// A replacement this recent is pointed out next to the new fact.
const RECENT_CHANGE_DAYS: i64 = 14;

/// Retrieves the memory for one turn of `user_id` asking `query`. See the module docs.
pub async fn retrieve(
    pool: &PgPool,
    llm: &LlmClient,
    user_id: &str,
    query: &str,
    opts: &RetrieveOptions,
) -> Result<Retrieved, MemoryError> {
    let vector = embed_query(llm, user_id, query, opts.embed_timeout).await;
    retrieve_with_vector(pool, user_id, query, vector.as_deref(), opts).await
}

/// The query's embedding, or `None` (with a warning in the log) if the embedding server
/// fails or takes longer than `timeout`.
pub async fn embed_query(
    llm: &LlmClient,
    user_id: &str,
    query: &str,
    timeout: Duration,
) -> Option<Vec<f32>> {
    match tokio::time::timeout(timeout, llm.embed_one(query)).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(error)) => {
            tracing::warn!(user_id, %error, "embedding the query failed; retrieving memory with full-text search only");
            None
        }
        Err(_) => {
            tracing::warn!(
                user_id,
                timeout_ms = timeout.as_millis() as u64,
                "embedding the query timed out; retrieving memory with full-text search only"
            );
            None
        }
    }
}

/// Facts worth keeping in mind whatever the user asks: who they are (identity of priority 4
/// and up) and what they cannot or will not have (health facts of priority 4 and up, and any
/// fact about an allergy, an intolerance, a diet or a dislike), most important first, as they
/// were at `as_of` (the chat takes them as of the session's start, so its prompt stays the
/// same all session; what the user says meanwhile is in the conversation). A suggestion for
/// dinner must respect the peanut allergy even when the question does not mention it.
pub async fn pinned(
    pool: &PgPool,
    user_id: &str,
    limit: i64,
    as_of: DateTime<Utc>,
) -> Result<Vec<String>, MemoryError> {
    Ok(sqlx::query_scalar(
        r"SELECT text FROM live_facts
          WHERE user_id = $1
            AND ((category IN ('identity', 'health') AND priority >= 4)
                 OR text ~* '(allerg|intoleran|vegetarian|vegan|gluten|lactose|dislike|hates|can''?t stand|cannot stand|does not like|doesn''?t like|never eats?|does not eat|doesn''?t eat|cannot eat|can''?t eat|avoids?)')
            AND created_at < $3
          ORDER BY priority DESC, id DESC
          LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .bind(as_of)
    .fetch_all(pool)
    .await?)
}

/// [`retrieve`] with the query's embedding already computed (or `None` for full-text only):
/// the database half, which is also what the latency benchmark measures.
pub async fn retrieve_with_vector(
    pool: &PgPool,
    user_id: &str,
    query: &str,
    vector: Option<&[f32]>,
    opts: &RetrieveOptions,
) -> Result<Retrieved, MemoryError> {
    let mut tx = pool.begin().await?;
    let ranked = rank(&mut tx, user_id, query, vector, opts.candidates(), opts.now).await?;
    let profile: Option<String> =
        // A profile written from facts that have since been replaced (a move, a new job)
        // would contradict what memory says now: it waits for the night to rewrite it.
        sqlx::query_scalar(
            "SELECT p.text FROM user_profile p
             WHERE p.user_id = $1
               AND NOT EXISTS (SELECT 1 FROM facts f
                               WHERE f.id = ANY(p.source_fact_ids) AND f.user_id = p.user_id
                                 AND (f.valid_to IS NOT NULL OR f.superseded_by IS NOT NULL))",
        )
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .filter(|t: &String| !t.trim().is_empty());

    let items: Vec<PackItem<'_>> = ranked
        .iter()
        .map(|s| PackItem {
            text: &s.fact.text,
            date: s.fact.updated_at,
        })
        .collect();
    let packed = pack(profile.as_deref(), &items, opts.k, opts.token_budget);
    let mut slots: Vec<Option<ScoredFact>> = ranked.into_iter().map(Some).collect();
    let facts: Vec<ScoredFact> = packed
        .included
        .iter()
        .filter_map(|&i| slots[i].take())
        .collect();

    let mut replaced = std::collections::HashMap::new();
    if !facts.is_empty() {
        let ids: Vec<i64> = facts.iter().map(|f| f.fact.id).collect();
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT DISTINCT ON (superseded_by) superseded_by, text FROM facts
             WHERE user_id = $1 AND superseded_by = ANY($2) AND valid_to > $3
             ORDER BY superseded_by, id DESC",
        )
        .bind(user_id)
        .bind(&ids)
        .bind(opts.now - chrono::Duration::days(RECENT_CHANGE_DAYS))
        .fetch_all(&mut *tx)
        .await?;
        replaced.extend(rows);
        sqlx::query(
            "UPDATE facts SET access_count = access_count + 1, last_accessed_at = $3
             WHERE user_id = $1 AND id = ANY($2)",
        )
        .bind(user_id)
        .bind(&ids)
        .bind(opts.now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    tracing::debug!(
        user_id,
        facts = facts.len(),
        used_vector = vector.is_some(),
        profile = packed.profile_included,
        "memory retrieved"
    );
    Ok(Retrieved {
        facts,
        profile: profile.filter(|_| packed.profile_included),
        used_vector: vector.is_some(),
        context: packed.context,
        replaced,
    })
}

/// Draws both candidate lists, fuses and boosts them: every candidate, best first.
pub(crate) async fn rank(
    tx: &mut Transaction<'_, Postgres>,
    user_id: &str,
    query: &str,
    vector: Option<&[f32]>,
    candidates: i64,
    now: DateTime<Utc>,
) -> Result<Vec<ScoredFact>, MemoryError> {
    let mut facts: HashMap<i64, (Fact, Option<f32>)> = HashMap::new();
    let text_ids = text_candidates(tx, user_id, query, candidates, &mut facts).await?;
    let mut similarity: HashMap<i64, f64> = HashMap::new();
    let vector_ids = match vector {
        Some(v) => {
            vector_candidates(tx, user_id, v, candidates, &mut facts, &mut similarity).await?
        }
        None => Vec::new(),
    };

    let weights = BoostWeights::default();
    let mut scored: Vec<ScoredFact> =
        reciprocal_rank_fusion(&[text_ids.clone(), vector_ids.clone()], RRF_K)
            .into_iter()
            .filter_map(|(id, fused)| {
                let (fact, importance) = facts.remove(&id)?;
                let signals = Signals {
                    priority: fact.priority,
                    importance,
                    updated_at: fact.updated_at,
                };
                Some(ScoredFact {
                    score: fused * boost(&signals, now, &weights),
                    text_rank: text_ids.iter().position(|x| *x == id).map(|p| p + 1),
                    vector_rank: vector_ids.iter().position(|x| *x == id).map(|p| p + 1),
                    similarity: similarity.get(&id).copied(),
                    fact,
                })
            })
            .collect();
    scored.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.fact.id.cmp(&a.fact.id)));
    Ok(scored)
}

/// Full-text candidates: every word first, then any word, best `ts_rank` first.
async fn text_candidates(
    tx: &mut Transaction<'_, Postgres>,
    user_id: &str,
    query: &str,
    limit: i64,
    facts: &mut HashMap<i64, (Fact, Option<f32>)>,
) -> Result<Vec<i64>, MemoryError> {
    let mut ids: Vec<i64> = Vec::new();
    if query.trim().is_empty() {
        return Ok(ids);
    }
    let all_words = sqlx::query(concat!(
        "SELECT ",
        fact_columns!(),
        ", c.importance
         FROM live_facts f
         LEFT JOIN clusters c ON c.id = f.cluster_id AND c.retired_at IS NULL,
              websearch_to_tsquery('english', $2) q
         WHERE f.user_id = $1
           AND f.tsv @@ q
         ORDER BY ts_rank_cd(f.tsv, q) DESC, f.id DESC
         LIMIT $3"
    ))
    .bind(user_id)
    .bind(query)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    collect(&all_words, &mut ids, facts)?;

    if (ids.len() as i64) < limit {
        let terms = weighted_terms(tx, query).await?;
        if !terms.is_empty() {
            let quoted: Vec<String> = terms.iter().map(|(l, _)| quoted_lexeme(l)).collect();
            let weights: Vec<f64> = terms.iter().map(|(_, w)| *w).collect();
            let any_word = sqlx::query(concat!(
                "WITH w AS MATERIALIZED (
                     SELECT t.term::tsquery AS term, t.weight
                     FROM unnest($3::text[], $4::float8[]) AS t(term, weight))
                 SELECT ",
                fact_columns!(),
                ", c.importance
                 FROM live_facts f
                 LEFT JOIN clusters c ON c.id = f.cluster_id AND c.retired_at IS NULL
                 WHERE f.user_id = $1
                   AND f.tsv @@ $2::tsquery AND f.id <> ALL($5)
                 ORDER BY (SELECT sum(w.weight) FROM w WHERE f.tsv @@ w.term) DESC, f.id DESC
                 LIMIT $6"
            ))
            .bind(user_id)
            .bind(quoted.join(" | "))
            .bind(&quoted)
            .bind(&weights)
            .bind(&ids)
            .bind(limit - ids.len() as i64)
            .fetch_all(&mut **tx)
            .await?;
            collect(&any_word, &mut ids, facts)?;
        }
    }
    Ok(ids)
}

/// The question's stemmed terms with their IDF weights ([`weigh_terms`]), from the
/// frequencies `ANALYZE` keeps for the `tsv` column (its most common lexemes). The
/// statistics cover every user's facts: a cheap, good-enough stand-in for the user's own.
async fn weighted_terms(
    tx: &mut Transaction<'_, Postgres>,
    query: &str,
) -> Result<Vec<(String, f64)>, MemoryError> {
    let words = question_words(query);
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "WITH common AS (
             SELECT e.lexeme, e.freq::float8 AS freq
             FROM pg_stats s,
                  unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS e(lexeme, freq)
             WHERE s.schemaname = current_schema() AND s.tablename = 'facts' AND s.attname = 'tsv'
               AND e.lexeme IS NOT NULL)
         SELECT t.lexeme, c.freq, (SELECT min(freq) FROM common) AS min_freq,
                (SELECT reltuples::float8 FROM pg_class WHERE oid = 'facts'::regclass) AS rows
         FROM unnest(to_tsvector('english', $1)) AS t
         LEFT JOIN common c ON c.lexeme = t.lexeme",
    )
    .bind(words.join(" "))
    .fetch_all(&mut **tx)
    .await?;
    let mut terms = Vec::with_capacity(rows.len());
    let mut stats = TermStats::default();
    for row in &rows {
        terms.push((
            row.try_get::<String, _>("lexeme")?,
            row.try_get::<Option<f64>, _>("freq")?,
        ));
        stats = TermStats {
            min_frequency: row.try_get("min_freq")?,
            rows: row.try_get::<Option<f64>, _>("rows")?.unwrap_or(0.0),
        };
    }
    Ok(weigh_terms(&terms, stats))
}

/// Vector candidates: the nearest embeddings (HNSW), at least [`MIN_VECTOR_SIMILARITY`].
async fn vector_candidates(
    tx: &mut Transaction<'_, Postgres>,
    user_id: &str,
    vector: &[f32],
    limit: i64,
    facts: &mut HashMap<i64, (Fact, Option<f32>)>,
    similarity: &mut HashMap<i64, f64>,
) -> Result<Vec<i64>, MemoryError> {
    // The HNSW scan must look at more entries than we want back (pgvector's default of 40
    // finds under half of the true neighbours of a noisy query among 100k random vectors,
    // 100 about 70%), and keep looking when the user filter rejects entries of other users
    // (pgvector ≥ 0.8 iterative scans). The outer query sorts again, as relaxed order
    // requires.
    sqlx::query(
        "SELECT set_config('hnsw.ef_search', $1, true),
                set_config('hnsw.iterative_scan', 'relaxed_order', true)",
    )
    .bind((limit * 2).max(HNSW_EF_SEARCH).to_string())
    .execute(&mut **tx)
    .await?;
    let rows = sqlx::query(concat!(
        "WITH near AS MATERIALIZED (
             SELECT f.id, f.embedding <=> $2 AS distance
             FROM live_facts f
             WHERE f.user_id = $1
               AND f.embedding IS NOT NULL
             ORDER BY f.embedding <=> $2
             LIMIT $3)
         SELECT ",
        fact_columns!(),
        ", c.importance, 1 - near.distance AS similarity
         FROM near
         JOIN facts f ON f.id = near.id
         LEFT JOIN clusters c ON c.id = f.cluster_id AND c.retired_at IS NULL
         ORDER BY near.distance, f.id"
    ))
    .bind(user_id)
    .bind(Vector::from(vector.to_vec()))
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    let mut ids = Vec::new();
    for row in &rows {
        let sim: f64 = row.try_get("similarity")?;
        if sim < MIN_VECTOR_SIMILARITY {
            continue;
        }
        let fact = fact_from_row(row)?;
        similarity.insert(fact.id, sim);
        ids.push(fact.id);
        facts
            .entry(fact.id)
            .or_insert((fact, row.try_get("importance")?));
    }
    Ok(ids)
}

fn collect(
    rows: &[sqlx::postgres::PgRow],
    ids: &mut Vec<i64>,
    facts: &mut HashMap<i64, (Fact, Option<f32>)>,
) -> Result<(), sqlx::Error> {
    for row in rows {
        let fact = fact_from_row(row)?;
        ids.push(fact.id);
        facts
            .entry(fact.id)
            .or_insert((fact, row.try_get("importance")?));
    }
    Ok(())
}

/// Records on the experience row of the turn answering `message_event_id` which facts its
/// prompt used, so 👍/👎 feedback can be traced to memories. Returns the rows updated (0 if
/// the row does not exist yet or is another user's).
pub async fn record_facts_used(
    pool: &PgPool,
    user_id: &str,
    message_event_id: &str,
    fact_ids: &[i64],
) -> Result<u64, MemoryError> {
    Ok(
        crate::store::feedback::record_facts_used(pool, user_id, message_event_id, fact_ids)
            .await?,
    )
}
