//! Writing facts: embed them, then insert each one or merge it into a near-duplicate the user
//! already has. One transaction per call, serialised per user by an advisory lock, so two
//! deliveries of the same exchange can never both insert.
//!
//! * **Merging.** A new fact whose embedding has cosine similarity ≥ [`MERGE_SIMILARITY`]
//!   with a valid fact of the same user updates that fact instead of adding a row: the newer
//!   wording is kept when it says more, the source ids are united, the priority is the
//!   higher one, and `updated_at` moves forward. A merged archived fact comes back to life
//!   (it was just mentioned again).
//! * **Idempotency.** The source event ids are the key: a fact whose (non-empty) source ids
//!   are all already on one of the user's facts is a redelivery and adds nothing.

use chrono::{DateTime, Utc};
use pgvector::Vector;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row, Transaction};

use super::MemoryError;
use super::fact::{Category, Fact, Kind, NewFact, prefer_new_wording, text_key, union_ids};
use crate::llm::LlmClient;

/// Cosine similarity at or above which a new fact is the same fact as a stored one.
pub const MERGE_SIMILARITY: f32 = 0.92;

/// Key of the per-user advisory lock that serialises memory writes (first half of the pair;
/// the second is a hash of the user id).
const LOCK_NAMESPACE: i32 = 0x3A3_0001;

/// What happened to each fact given to [`store_facts`], in the same order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Stored as a new fact.
    Inserted { id: i64 },
    /// Folded into the existing fact `id`; `reworded` when the new wording replaced the old.
    Merged { id: i64, reworded: bool },
    /// Its source events are already in memory: a redelivered exchange. Nothing changed.
    AlreadyStored,
    /// Not a usable fact (empty, too long…); nothing stored.
    Rejected { reason: String },
}

impl StoreOutcome {
    /// The id of the fact this outcome stored or updated.
    pub fn fact_id(&self) -> Option<i64> {
        match self {
            StoreOutcome::Inserted { id } | StoreOutcome::Merged { id, .. } => Some(*id),
            _ => None,
        }
    }
}

/// The columns of a [`Fact`], for `SELECT`s over `facts f`.
macro_rules! fact_columns {
    () => {
        "f.id, f.user_id, f.text, f.category, f.priority, f.kind, f.source_event_ids, \
         f.created_at, f.updated_at, f.valid_from, f.valid_to, f.superseded_by, f.archived_at, \
         f.access_count, f.last_accessed_at, f.cluster_id"
    };
}
pub(crate) use fact_columns;

/// Reads a [`Fact`] from a row selected with [`fact_columns!`].
pub(crate) fn fact_from_row(row: &PgRow) -> Result<Fact, sqlx::Error> {
    Ok(Fact {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        text: row.try_get("text")?,
        category: Category::parse_lenient(row.try_get::<&str, _>("category")?),
        priority: row.try_get::<i16, _>("priority")?.clamp(1, 5) as u8,
        kind: Kind::parse_lenient(row.try_get::<&str, _>("kind")?),
        source_event_ids: row.try_get("source_event_ids")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        valid_from: row.try_get("valid_from")?,
        valid_to: row.try_get("valid_to")?,
        superseded_by: row.try_get("superseded_by")?,
        archived_at: row.try_get("archived_at")?,
        access_count: row.try_get("access_count")?,
        last_accessed_at: row.try_get("last_accessed_at")?,
        cluster_id: row.try_get("cluster_id")?,
    })
}

/// Validates, embeds (one batched call) and stores `facts` for `user_id`. See the module
/// documentation for merging and idempotency. The embedding call happens before the
/// transaction opens, so no database lock is held while the embedding server works; if it
/// fails nothing is stored and the error says so (the night cycle will extract again).
pub async fn store_facts(
    pool: &PgPool,
    llm: &LlmClient,
    user_id: &str,
    facts: Vec<NewFact>,
) -> Result<Vec<StoreOutcome>, MemoryError> {
    let mut outcomes: Vec<Option<StoreOutcome>> = vec![None; facts.len()];
    let mut valid: Vec<(usize, NewFact)> = Vec::new();
    for (i, f) in facts.iter().enumerate() {
        match f.normalized() {
            Ok(n) => valid.push((i, n)),
            Err(reason) => outcomes[i] = Some(StoreOutcome::Rejected { reason }),
        }
    }
    // Cheap pre-check so a redelivery does not even call the embedding server.
    let known = known_sources(pool, user_id, valid.iter().map(|(_, f)| f)).await?;
    valid.retain(|(i, f)| {
        let seen = known.contains(&f.source_event_ids);
        if seen {
            outcomes[*i] = Some(StoreOutcome::AlreadyStored);
        }
        !seen
    });
    if !valid.is_empty() {
        let texts: Vec<String> = valid.iter().map(|(_, f)| f.text.clone()).collect();
        let vectors = llm.embed(&texts).await?;
        let embedded: Vec<(NewFact, Vec<f32>)> =
            valid.iter().map(|(_, f)| f.clone()).zip(vectors).collect();
        let stored = store_embedded(pool, user_id, embedded).await?;
        for ((i, _), outcome) in valid.iter().zip(stored) {
            outcomes[*i] = Some(outcome);
        }
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.expect("every fact has an outcome"))
        .collect())
}

/// The highest cosine similarity between `vector` and a live fact of the user (`None` when
/// the user has none): whether something is already known.
pub async fn nearest_similarity(
    pool: &PgPool,
    user_id: &str,
    vector: &[f32],
) -> Result<Option<f64>, MemoryError> {
    Ok(sqlx::query_scalar(
        "SELECT 1 - (embedding <=> $2) FROM facts
         WHERE user_id = $1 AND valid_to IS NULL AND superseded_by IS NULL AND embedding IS NOT NULL
         ORDER BY embedding <=> $2 LIMIT 1",
    )
    .bind(user_id)
    .bind(Vector::from(vector.to_vec()))
    .fetch_optional(pool)
    .await?)
}

/// Stores facts whose embeddings are already known (the night cycle, replays), with the same
/// merging and idempotency as [`store_facts`]. Texts are normalised here too.
pub async fn store_embedded(
    pool: &PgPool,
    user_id: &str,
    facts: Vec<(NewFact, Vec<f32>)>,
) -> Result<Vec<StoreOutcome>, MemoryError> {
    let mut tx = pool.begin().await?;
    lock_user(&mut tx, user_id).await?;
    crate::store::users::ensure(&mut *tx, user_id).await?;
    exact_vector_order(&mut tx).await?;
    // Decide redeliveries against the state before this call: the facts of one exchange all
    // share its source ids, and the first one inserted must not hide the others.
    let known = known_sources(&mut *tx, user_id, facts.iter().map(|(f, _)| f)).await?;
    let mut out = Vec::with_capacity(facts.len());
    for (fact, vector) in facts {
        let fact = match fact.normalized() {
            Ok(f) => f,
            Err(reason) => {
                out.push(StoreOutcome::Rejected { reason });
                continue;
            }
        };
        if known.contains(&fact.source_event_ids) {
            out.push(StoreOutcome::AlreadyStored);
            continue;
        }
        out.push(store_one(&mut tx, user_id, &fact, Vector::from(vector)).await?);
    }
    tx.commit().await?;
    Ok(out)
}

pub(crate) async fn store_one(
    tx: &mut Transaction<'_, Postgres>,
    user_id: &str,
    fact: &NewFact,
    vector: Vector,
) -> Result<StoreOutcome, MemoryError> {
    let nearest = sqlx::query(
        "SELECT id, text, priority, category, source_event_ids, 1 - (embedding <=> $2) AS similarity
         FROM facts
         WHERE user_id = $1 AND valid_to IS NULL AND superseded_by IS NULL AND embedding IS NOT NULL
         ORDER BY embedding <=> $2
         LIMIT 1",
    )
    .bind(user_id)
    .bind(&vector)
    .fetch_optional(&mut **tx)
    .await?;

    if let Some(row) = nearest {
        let similarity: f64 = row.try_get("similarity")?;
        let old_text: String = row.try_get("text")?;
        if similarity >= f64::from(MERGE_SIMILARITY) || text_key(&old_text) == text_key(&fact.text)
        {
            let id: i64 = row.try_get("id")?;
            let old_priority: i16 = row.try_get("priority")?;
            let old_category = Category::parse_lenient(row.try_get::<&str, _>("category")?);
            let old_sources: Vec<String> = row.try_get("source_event_ids")?;
            let reworded = prefer_new_wording(&old_text, &fact.text);
            let category = if old_category == Category::Other {
                fact.category
            } else {
                old_category
            };
            sqlx::query(
                "UPDATE facts SET
                    text = CASE WHEN $3 THEN $4 ELSE text END,
                    embedding = CASE WHEN $3 THEN $5 ELSE embedding END,
                    priority = $6, category = $7, source_event_ids = $8,
                    updated_at = GREATEST(updated_at, COALESCE($9, now())),
                    archived_at = NULL
                 WHERE id = $1 AND user_id = $2",
            )
            .bind(id)
            .bind(user_id)
            .bind(reworded)
            .bind(&fact.text)
            .bind(&vector)
            .bind(old_priority.max(i16::from(fact.priority)))
            .bind(category.as_str())
            .bind(union_ids(&old_sources, &fact.source_event_ids))
            .bind(fact.observed_at)
            .execute(&mut **tx)
            .await?;
            return Ok(StoreOutcome::Merged { id, reworded });
        }
    }

    let id: i64 = sqlx::query_scalar(
        "INSERT INTO facts (user_id, text, category, priority, kind, source_event_ids, embedding,
                            created_at, updated_at, valid_from)
         VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, now()), COALESCE($8, now()), COALESCE($8, now()))
         RETURNING id",
    )
    .bind(user_id)
    .bind(&fact.text)
    .bind(fact.category.as_str())
    .bind(i16::from(fact.priority))
    .bind(fact.kind.as_str())
    .bind(&fact.source_event_ids)
    .bind(&vector)
    .bind(fact.observed_at)
    .fetch_one(&mut **tx)
    .await?;
    Ok(StoreOutcome::Inserted { id })
}

/// The distinct non-empty source-id sets among `facts` that some fact of the user already
/// carries in full.
async fn known_sources<'a, 'e, E>(
    exec: E,
    user_id: &str,
    facts: impl Iterator<Item = &'a NewFact>,
) -> Result<Vec<Vec<String>>, sqlx::Error>
where
    E: sqlx::PgExecutor<'e>,
{
    let mut sets: Vec<Vec<String>> = Vec::new();
    for f in facts {
        let ids = union_ids(&[], &f.source_event_ids);
        if !ids.is_empty() && !sets.contains(&ids) {
            sets.push(ids);
        }
    }
    if sets.is_empty() {
        return Ok(Vec::new());
    }
    // Each set travels as one `text[]` element of a JSON array, checked with `@>`.
    let json = serde_json::to_value(&sets).expect("strings serialise");
    let hits: Vec<i32> = sqlx::query_scalar(
        "SELECT s.ord::int FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS s(ids, ord)
         WHERE EXISTS (
             SELECT 1 FROM facts
             WHERE user_id = $1
               AND source_event_ids @> ARRAY(SELECT jsonb_array_elements_text(s.ids)))",
    )
    .bind(user_id)
    .bind(json)
    .fetch_all(exec)
    .await?;
    Ok(hits
        .into_iter()
        .filter_map(|ord| sets.get(ord as usize - 1).cloned())
        .collect())
}

/// Serialises memory writes of one user until the transaction ends.
pub(crate) async fn lock_user(
    tx: &mut Transaction<'_, Postgres>,
    user_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(LOCK_NAMESPACE)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Marks fact `old` as replaced by `new` from `at` on: it gets `valid_to` and `superseded_by`
/// and stays as history. Only a live fact of the user is replaced, and only by one of theirs.
/// Returns whether it was.
pub(crate) async fn supersede(
    tx: &mut Transaction<'_, Postgres>,
    user_id: &str,
    old: i64,
    new: i64,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE facts SET valid_to = GREATEST(valid_from, $3), superseded_by = $4, updated_at = now()
         WHERE id = $1 AND user_id = $2 AND valid_to IS NULL AND superseded_by IS NULL
           AND EXISTS (SELECT 1 FROM facts n WHERE n.id = $4 AND n.user_id = $2)",
    )
    .bind(old)
    .bind(user_id)
    .bind(at)
    .bind(new)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Right after new facts are stored: each one that fills a slot of the user's life (home,
/// job, name) replaces the user's live older facts in that slot that it contradicts (see
/// [`super::slots::replaces`]), at once rather than at night, so the next question already
/// gets the new home. Returns `(old, new)` for each replacement.
pub async fn supersede_by_slot(
    pool: &PgPool,
    user_id: &str,
    new: &[(i64, String)],
    at: DateTime<Utc>,
) -> Result<Vec<(i64, i64)>, MemoryError> {
    let slotted: Vec<&(i64, String)> = new
        .iter()
        .filter(|(_, t)| super::slots::slot(t).is_some())
        .collect();
    if slotted.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    lock_user(&mut tx, user_id).await?;
    let live: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, text FROM live_facts
         WHERE user_id = $1
         ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut done = Vec::new();
    for (new_id, new_text) in slotted {
        for (old_id, old_text) in live.iter().filter(|(id, _)| id < new_id) {
            if super::slots::replaces(old_text, new_text) == Some(true)
                && supersede(&mut tx, user_id, *old_id, *new_id, at).await?
            {
                done.push((*old_id, *new_id));
            }
        }
    }
    tx.commit().await?;
    Ok(done)
}

/// Makes HNSW scans in this transaction keep going until the `LIMIT` is met in exact
/// distance order, even when most index entries belong to other users (pgvector ≥ 0.8).
pub(crate) async fn exact_vector_order(
    tx: &mut Transaction<'_, Postgres>,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('hnsw.iterative_scan', 'strict_order', true)")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// One of the user's facts by id, in any state; `None` if it is not theirs or does not exist.
pub async fn get_fact(pool: &PgPool, user_id: &str, id: i64) -> Result<Option<Fact>, MemoryError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        fact_columns!(),
        " FROM facts f WHERE f.user_id = $1 AND f.id = $2"
    ))
    .bind(user_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(fact_from_row).transpose()?)
}

/// How many live facts the user has.
pub async fn live_count(pool: &PgPool, user_id: &str) -> Result<i64, MemoryError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM live_facts
         WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await?)
}

/// The user's profile text (written by the night cycle), if any.
pub async fn profile(pool: &PgPool, user_id: &str) -> Result<Option<String>, MemoryError> {
    Ok(
        sqlx::query_scalar("SELECT text FROM user_profile WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(pool)
            .await?
            .filter(|t: &String| !t.trim().is_empty()),
    )
}

/// Refreshes the planner's statistics of `facts` (what autovacuum does in a running system;
/// the full-text term weights come from them). For bulk loads such as imports and benchmarks.
pub async fn refresh_statistics(pool: &PgPool) -> Result<(), MemoryError> {
    sqlx::query("ANALYZE facts").execute(pool).await?;
    Ok(())
}

/// How many facts are stored, of every user and in any state.
pub async fn total(pool: &PgPool) -> Result<i64, MemoryError> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM facts")
        .fetch_one(pool)
        .await?)
}

/// A fact with its embedding ready, for bulk loading.
#[derive(Debug, Clone)]
pub struct Embedded {
    pub text: String,
    pub category: Category,
    pub priority: u8,
    pub embedding: Vector,
    /// When it was learned (created, updated and valid from).
    pub at: DateTime<Utc>,
}

/// Inserts ready-embedded facts for the user in one statement, without merging or the
/// source-id check [`store_facts`] does: for bulk loads whose rows are known to be distinct.
pub async fn insert_embedded(
    pool: &PgPool,
    user_id: &str,
    facts: &[Embedded],
) -> Result<u64, MemoryError> {
    let texts: Vec<&str> = facts.iter().map(|f| f.text.as_str()).collect();
    let categories: Vec<&str> = facts.iter().map(|f| f.category.as_str()).collect();
    let priorities: Vec<i16> = facts.iter().map(|f| f.priority as i16).collect();
    let vectors: Vec<&Vector> = facts.iter().map(|f| &f.embedding).collect();
    let ats: Vec<DateTime<Utc>> = facts.iter().map(|f| f.at).collect();
    Ok(sqlx::query(
        "INSERT INTO facts (user_id, text, category, priority, embedding, created_at, updated_at, valid_from)
         SELECT $1, t, c, p, e, a, a, a
         FROM UNNEST($2::text[], $3::text[], $4::int2[], $5::vector[], $6::timestamptz[]) AS u(t, c, p, e, a)",
    )
    .bind(user_id)
    .bind(&texts)
    .bind(&categories)
    .bind(&priorities)
    .bind(&vectors)
    .bind(&ats)
    .execute(pool)
    .await?
    .rows_affected())
}

/// The indexes recall searches `facts` with (vector and full text). A bulk load (a restore,
/// a benchmark) drops them, inserts, and builds them once: several times faster than
/// updating them row by row. The definitions match the migrations'.
pub mod search_indexes {
    use sqlx::{Executor, PgPool};

    /// Drops both indexes (if present).
    pub async fn drop(pool: &PgPool) -> sqlx::Result<()> {
        sqlx::query("DROP INDEX IF EXISTS facts_embedding_hnsw, facts_tsv_gin")
            .execute(pool)
            .await?;
        Ok(())
    }

    /// Builds both indexes and refreshes the statistics (what autovacuum would have done by
    /// now; the full-text term weights use them).
    pub async fn build(pool: &PgPool) -> sqlx::Result<()> {
        let mut conn = pool.acquire().await?;
        // More memory makes the HNSW build much faster; a server that refuses keeps its own.
        conn.execute("SET maintenance_work_mem = '512MB'")
            .await
            .ok();
        conn.execute(
            "CREATE INDEX IF NOT EXISTS facts_embedding_hnsw ON facts USING hnsw (embedding vector_cosine_ops)",
        )
        .await?;
        conn.execute(
            "CREATE INDEX IF NOT EXISTS facts_tsv_gin ON facts USING gin (tsv) WITH (fastupdate = off)",
        )
        .await?;
        conn.execute("VACUUM ANALYZE facts").await?;
        Ok(())
    }
}
