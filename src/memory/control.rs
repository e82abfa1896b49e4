//! The user's control over their memory: the data layer behind `!memory`, `!memory search`,
//! `!remember`, `!forget` and `!export`. Parsing the commands, asking for ✅ and formatting
//! the answers belong to the chat layer; every function here is scoped by `user_id`, so one
//! user's ids, words or "everything" can never reach another user's facts.
//!
//! Erasure is the one real `DELETE` in the memory module, and it is thorough: the fact row
//! (with its embedding and full-text vector), the older versions it superseded, its cluster
//! memberships, its id in experience rows, and the user profile if that was written from it
//! (the night cycle writes a new one from what remains). Clusters left empty are deleted,
//! the others get their size and centroid recomputed. The conversation log is not touched:
//! messages are not memory.

use std::time::Duration;

use chrono::{DateTime, Utc};

use serde_json::{Value, json};
use sqlx::{PgPool, Postgres, Row, Transaction};

use super::MemoryError;
use super::fact::{Category, Fact, NewFact, Status, guess_category};
use super::retrieve::{ScoredFact, embed_query, rank};
use super::store::{StoreOutcome, fact_columns, fact_from_row, get_fact, lock_user, store_facts};
use crate::llm::LlmClient;

/// The group name of facts without a cluster.
pub const UNCLUSTERED: &str = "Unclustered";
/// The group name of archived (faded) facts.
pub const ARCHIVED: &str = "Archived";
/// `!memory search` may wait a little longer for the embedding than a chat turn does.
const SEARCH_EMBED_TIMEOUT: Duration = Duration::from_secs(5);
/// At most this many matches for `!forget <words>`.
const FIND_LIMIT: i64 = 20;

/// Everything the user's memory holds that is still valid, grouped by cluster (most
/// important cluster first, unnamed clusters as "Cluster <label>"), then
/// [`UNCLUSTERED`], then [`ARCHIVED`]. Within a group: priority, then most recent, first.
pub async fn list_grouped(
    pool: &PgPool,
    user_id: &str,
) -> Result<Vec<(String, Vec<Fact>)>, MemoryError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        fact_columns!(),
        ", c.id AS group_id, c.name AS cluster_name, c.label AS cluster_label
         FROM facts f
         LEFT JOIN clusters c ON c.id = f.cluster_id AND c.retired_at IS NULL AND c.user_id = f.user_id
         WHERE f.user_id = $1 AND f.valid_to IS NULL AND f.superseded_by IS NULL
         ORDER BY (f.archived_at IS NOT NULL), (c.id IS NULL), c.importance DESC, c.id,
                  f.priority DESC, f.updated_at DESC, f.id"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    let mut groups: Vec<(Option<i64>, String, Vec<Fact>)> = Vec::new();
    for row in &rows {
        let fact = fact_from_row(row)?;
        let (key, name) = if fact.archived_at.is_some() {
            (Some(-1), ARCHIVED.to_owned())
        } else {
            match row.try_get::<Option<i64>, _>("group_id")? {
                Some(id) => {
                    let name: String = row.try_get("cluster_name")?;
                    (Some(id), topic_name(&name, row.try_get("cluster_label")?))
                }
                None => (None, UNCLUSTERED.to_owned()),
            }
        };
        match groups.last_mut() {
            Some((k, _, facts)) if *k == key => facts.push(fact),
            _ => groups.push((key, name, vec![fact])),
        }
    }
    Ok(groups.into_iter().map(|(_, n, f)| (n, f)).collect())
}

/// `!memory search <words>`: the user's live facts ranked like retrieval does (full-text and
/// vector, fused), at most `k`. Falls back to full-text only if the embedding server is
/// unavailable. Browsing does not count as use: access counts are not bumped.
pub async fn search(
    pool: &PgPool,
    llm: &LlmClient,
    user_id: &str,
    words: &str,
    k: usize,
) -> Result<Vec<ScoredFact>, MemoryError> {
    if words.trim().is_empty() || k == 0 {
        return Ok(Vec::new());
    }
    let vector = embed_query(llm, user_id, words, SEARCH_EMBED_TIMEOUT).await;
    let mut tx = pool.begin().await?;
    let mut ranked = rank(
        &mut tx,
        user_id,
        words,
        vector.as_deref(),
        (k as i64 * 4).clamp(20, 200),
        chrono::Utc::now(),
    )
    .await?;
    tx.commit().await?;
    ranked.truncate(k);
    Ok(ranked)
}

/// `!remember <text>`: stores the text as a priority-5 fact from `source_event_id`, with a
/// keyword-guessed category (no model call). A near-duplicate is merged instead (and raised
/// to priority 5); a redelivered command returns the fact it stored the first time.
pub async fn remember(
    pool: &PgPool,
    llm: &LlmClient,
    user_id: &str,
    text: &str,
    source_event_id: &str,
) -> Result<Fact, MemoryError> {
    let category = guess_category(text);
    let fact = NewFact::new(text, category, 5).with_sources([source_event_id]);
    let outcome = store_facts(pool, llm, user_id, vec![fact])
        .await?
        .pop()
        .expect("one outcome per fact");
    let id = match outcome {
        // Merging keeps the higher priority, so a merged fact is at 5 too.
        StoreOutcome::Inserted { id } | StoreOutcome::Merged { id, .. } => Some(id),
        StoreOutcome::AlreadyStored => sqlx::query_scalar(
            "SELECT id FROM facts WHERE user_id = $1 AND $2 = ANY(source_event_ids) ORDER BY id LIMIT 1",
        )
        .bind(user_id)
        .bind(source_event_id)
        .fetch_optional(pool)
        .await?,
        StoreOutcome::Rejected { reason } => return Err(MemoryError::InvalidFact(reason)),
    };
    match id {
        Some(id) => get_fact(pool, user_id, id)
            .await?
            .ok_or_else(|| MemoryError::InvalidFact("the fact vanished while storing".into())),
        None => Err(MemoryError::InvalidFact(
            "this command was handled before, but its fact has since been forgotten".into(),
        )),
    }
}

/// Reads `!forget` arguments that are fact ids: "12", "#12", "12, 15 #20". `None` if any
/// part is not an id (then they are words to search for).
pub fn parse_ids(arg: &str) -> Option<Vec<i64>> {
    let parts: Vec<&str> = arg
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return None;
    }
    let mut ids = Vec::new();
    for p in parts {
        let id: i64 = p.strip_prefix('#').unwrap_or(p).parse().ok()?;
        if id <= 0 {
            return None;
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Some(ids)
}

/// The facts `!forget <id_or_words>` would erase, for the confirmation message: by id (see
/// [`parse_ids`]) or by words (all words, or a phrase, else any word). Includes archived and
/// superseded facts, since erasure reaches them too; live ones come first.
pub async fn find(
    pool: &PgPool,
    user_id: &str,
    id_or_words: &str,
) -> Result<Vec<Fact>, MemoryError> {
    if let Some(ids) = parse_ids(id_or_words) {
        let rows = sqlx::query(concat!(
            "SELECT ",
            fact_columns!(),
            " FROM facts f WHERE f.user_id = $1 AND f.id = ANY($2) ORDER BY f.id"
        ))
        .bind(user_id)
        .bind(&ids)
        .fetch_all(pool)
        .await?;
        return Ok(rows.iter().map(fact_from_row).collect::<Result<_, _>>()?);
    }
    let words = id_or_words.trim();
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let strict = sqlx::query(concat!(
        "SELECT ",
        fact_columns!(),
        " FROM facts f, websearch_to_tsquery('english', $2) q
         WHERE f.user_id = $1
           AND (f.tsv @@ q OR f.text ILIKE '%' || replace(replace(replace($2, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%')
         ORDER BY (f.valid_to IS NULL AND f.superseded_by IS NULL AND f.archived_at IS NULL) DESC,
                  ts_rank_cd(f.tsv, q) DESC, f.id
         LIMIT $3"
    ))
    .bind(user_id)
    .bind(words)
    .bind(FIND_LIMIT)
    .fetch_all(pool)
    .await?;
    if !strict.is_empty() {
        return Ok(strict.iter().map(fact_from_row).collect::<Result<_, _>>()?);
    }
    let Some(any) = super::score::or_tsquery(words) else {
        return Ok(Vec::new());
    };
    let loose = sqlx::query(concat!(
        "SELECT ",
        fact_columns!(),
        " FROM facts f, to_tsquery('english', $2) q
         WHERE f.user_id = $1 AND f.tsv @@ q
         ORDER BY (f.valid_to IS NULL AND f.superseded_by IS NULL AND f.archived_at IS NULL) DESC,
                  ts_rank(f.tsv, q) DESC, f.id
         LIMIT $3"
    ))
    .bind(user_id)
    .bind(any)
    .bind(FIND_LIMIT)
    .fetch_all(pool)
    .await?;
    Ok(loose.iter().map(fact_from_row).collect::<Result<_, _>>()?)
}

/// Erases the user's facts `ids` (and the older versions they superseded) for real; ids of
/// other users' facts, or unknown ids, erase nothing. The messages they were learned from
/// are scrubbed in the same transaction, so no night learns them again. Returns how many
/// facts were deleted.
pub async fn forget(pool: &PgPool, user_id: &str, ids: &[i64]) -> Result<usize, MemoryError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    lock_user(&mut tx, user_id).await?;
    let deleted = erase(&mut tx, user_id, ids).await?;
    tx.commit().await?;
    Ok(deleted)
}

/// The user took message `event_id` back (a Matrix redaction, say of a pasted secret): its
/// text and the bot's replies to it are scrubbed, and the facts learned from nothing else
/// are erased, in one transaction. Returns how many facts were erased.
pub async fn forget_message(
    pool: &PgPool,
    user_id: &str,
    event_id: &str,
) -> Result<usize, MemoryError> {
    let mut tx = pool.begin().await?;
    lock_user(&mut tx, user_id).await?;
    let mut scope = crate::store::messages::replies_to(&mut tx, user_id, event_id).await?;
    scope.push(event_id.to_owned());
    let only_from_it: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM facts WHERE user_id = $1 AND $2 = ANY(source_event_ids) AND source_event_ids <@ $3",
    )
    .bind(user_id)
    .bind(event_id)
    .bind(&scope)
    .fetch_all(&mut *tx)
    .await?;
    let deleted = erase(&mut tx, user_id, &only_from_it).await?;
    crate::store::messages::forget(&mut tx, user_id, Some(&[event_id.to_owned()])).await?;
    tx.commit().await?;
    Ok(deleted)
}

/// Facts learned from `sources` (research findings, say) are erased when they came from
/// nothing else; a fact that the user's own words also support only loses those source ids,
/// and a fact one of them replaced is live again.
/// One transaction. Returns how many facts were erased.
pub async fn forget_sources(
    pool: &PgPool,
    user_id: &str,
    sources: &[String],
) -> Result<usize, MemoryError> {
    if sources.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    lock_user(&mut tx, user_id).await?;
    let only_from_them: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM facts WHERE user_id = $1 AND source_event_ids && $2 AND source_event_ids <@ $2",
    )
    .bind(user_id)
    .bind(sources)
    .fetch_all(&mut *tx)
    .await?;
    // What those facts replaced (a fact the user stated, superseded at night by a web
    // finding) is the user's again, not erased with them.
    sqlx::query(
        "UPDATE facts SET superseded_by = NULL, valid_to = NULL
         WHERE user_id = $1 AND superseded_by = ANY($2)",
    )
    .bind(user_id)
    .bind(&only_from_them)
    .execute(&mut *tx)
    .await?;
    let deleted = erase(&mut tx, user_id, &only_from_them).await?;
    sqlx::query(
        "UPDATE facts SET source_event_ids = ARRAY(SELECT s FROM unnest(source_event_ids) s WHERE s <> ALL($2))
         WHERE user_id = $1 AND source_event_ids && $2",
    )
    .bind(user_id)
    .bind(sources)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(deleted)
}

/// Erases facts `ids` of the user, and what [`forget`] says goes with them, inside the
/// caller's transaction (which holds the user's lock).
async fn erase(
    tx: &mut Transaction<'_, Postgres>,
    user_id: &str,
    ids: &[i64],
) -> Result<usize, MemoryError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let doomed: Vec<i64> = sqlx::query_scalar(
        "WITH RECURSIVE doomed(id) AS (
             SELECT id FROM facts WHERE user_id = $1 AND id = ANY($2)
             UNION
             SELECT f.id FROM facts f JOIN doomed d ON f.superseded_by = d.id WHERE f.user_id = $1)
         SELECT id FROM doomed ORDER BY id",
    )
    .bind(user_id)
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    if doomed.is_empty() {
        return Ok(0);
    }
    let clusters: Vec<i64> = sqlx::query_scalar(
        "SELECT cluster_id FROM cluster_members WHERE user_id = $1 AND fact_id = ANY($2)
         UNION
         SELECT cluster_id FROM facts WHERE user_id = $1 AND id = ANY($2) AND cluster_id IS NOT NULL",
    )
    .bind(user_id)
    .bind(&doomed)
    .fetch_all(&mut **tx)
    .await?;
    unlink(tx, user_id, Some(&doomed)).await?;
    // Deleted in one statement that returns what must go with them: the messages they were
    // learned from (or the night would learn them again) and their text (the bot's notices
    // that quote it).
    let gone: Vec<(String, Vec<String>)> = sqlx::query_as(
        "DELETE FROM facts WHERE user_id = $1 AND id = ANY($2) RETURNING text, source_event_ids",
    )
    .bind(user_id)
    .bind(&doomed)
    .fetch_all(&mut **tx)
    .await?;
    let (texts, sources): (Vec<String>, Vec<Vec<String>>) = gone.into_iter().unzip();
    let sources: Vec<String> = sources.concat();
    crate::store::messages::forget(tx, user_id, Some(&sources)).await?;
    crate::store::messages::forget_quotes(tx, user_id, &texts).await?;
    let deleted = texts.len();
    refresh_clusters(tx, user_id, &clusters).await?;
    Ok(deleted)
}

/// `!forget everything`: erases all of the user's facts, clusters and profile, and scrubs
/// every message they wrote so far (see [`crate::store::messages::forget`]). Returns how
/// many facts were deleted.
pub async fn forget_everything(pool: &PgPool, user_id: &str) -> Result<usize, MemoryError> {
    let mut tx = pool.begin().await?;
    lock_user(&mut tx, user_id).await?;
    unlink(&mut tx, user_id, None).await?;
    // Everything said so far goes too, or the night and the next prompts would bring it back.
    crate::store::messages::forget(&mut tx, user_id, None).await?;
    let deleted = sqlx::query("DELETE FROM facts WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM clusters WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(deleted as usize)
}

/// Removes what points at the facts about to be deleted (all of the user's when `ids` is
/// `None`): their ids in experience rows, and a profile written from them.
async fn unlink(
    tx: &mut Transaction<'_, Postgres>,
    user_id: &str,
    ids: Option<&[i64]>,
) -> Result<(), sqlx::Error> {
    match ids {
        Some(ids) => {
            crate::store::feedback::forget_facts_used(tx, user_id, Some(ids)).await?;
            sqlx::query("DELETE FROM user_profile WHERE user_id = $1 AND source_fact_ids && $2")
                .bind(user_id)
                .bind(ids)
                .execute(&mut **tx)
                .await?;
        }
        None => {
            crate::store::feedback::forget_facts_used(tx, user_id, None).await?;
            sqlx::query("DELETE FROM user_profile WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

/// After an erasure: clusters with no fact left are deleted (their name was about erased
/// facts); the others get their size and centroid recomputed from what remains.
async fn refresh_clusters(
    tx: &mut Transaction<'_, Postgres>,
    user_id: &str,
    clusters: &[i64],
) -> Result<(), sqlx::Error> {
    if clusters.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "WITH members AS (
             SELECT c.id AS cluster_id, f.id AS fact_id, f.embedding
             FROM clusters c
             JOIN facts f ON f.user_id = c.user_id
                 AND (f.cluster_id = c.id
                      OR EXISTS (SELECT 1 FROM cluster_members m WHERE m.cluster_id = c.id AND m.fact_id = f.id))
             WHERE c.user_id = $1 AND c.id = ANY($2))
         UPDATE clusters c SET
             size = (SELECT count(*) FROM members m WHERE m.cluster_id = c.id),
             centroid = (SELECT avg(m.embedding) FROM members m WHERE m.cluster_id = c.id),
             updated_at = now()
         WHERE c.user_id = $1 AND c.id = ANY($2)",
    )
    .bind(user_id)
    .bind(clusters)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM clusters WHERE user_id = $1 AND id = ANY($2) AND size = 0")
        .bind(user_id)
        .bind(clusters)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// `!export`: the user's whole memory as readable JSON: every fact in every state with its
/// metadata and status, the clusters, and the profile. Embeddings are left out on purpose:
/// 384 numbers per fact mean nothing to a person and are recomputed from the text.
pub async fn export(pool: &PgPool, user_id: &str) -> Result<Value, MemoryError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        fact_columns!(),
        ", c.name AS cluster_name FROM facts f
         LEFT JOIN clusters c ON c.id = f.cluster_id AND c.user_id = f.user_id
         WHERE f.user_id = $1 ORDER BY f.id"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    let mut facts = Vec::with_capacity(rows.len());
    for row in &rows {
        let f = fact_from_row(row)?;
        let cluster: Option<String> = row.try_get("cluster_name")?;
        facts.push(json!({
            "id": f.id,
            "text": f.text,
            "status": f.status(),
            "category": f.category,
            "priority": f.priority,
            "kind": f.kind,
            "cluster_id": f.cluster_id,
            "cluster": cluster.filter(|n| !n.trim().is_empty()),
            "source_event_ids": f.source_event_ids,
            "created_at": f.created_at,
            "updated_at": f.updated_at,
            "valid_from": f.valid_from,
            "valid_to": f.valid_to,
            "superseded_by": f.superseded_by,
            "archived_at": f.archived_at,
            "access_count": f.access_count,
            "last_accessed_at": f.last_accessed_at,
        }));
    }
    let clusters: Vec<Value> = sqlx::query(
        "SELECT id, label, name, importance, size, created_at, updated_at, retired_at
         FROM clusters WHERE user_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok::<_, sqlx::Error>(json!({
            "id": r.try_get::<i64, _>("id")?,
            "label": r.try_get::<i32, _>("label")?,
            "name": r.try_get::<String, _>("name")?,
            "importance": r.try_get::<f32, _>("importance")?,
            "size": r.try_get::<i32, _>("size")?,
            "created_at": r.try_get::<chrono::DateTime<chrono::Utc>, _>("created_at")?,
            "updated_at": r.try_get::<chrono::DateTime<chrono::Utc>, _>("updated_at")?,
            "retired_at": r.try_get::<Option<chrono::DateTime<chrono::Utc>>, _>("retired_at")?,
        }))
    })
    .collect::<Result<_, _>>()?;
    let profile = sqlx::query(
        "SELECT text, source_fact_ids, generated_at FROM user_profile WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await?
    .map(|r| {
        Ok::<_, sqlx::Error>(json!({
            "text": r.try_get::<String, _>("text")?,
            "source_fact_ids": r.try_get::<Vec<i64>, _>("source_fact_ids")?,
            "generated_at": r.try_get::<chrono::DateTime<chrono::Utc>, _>("generated_at")?,
        }))
    })
    .transpose()?;
    let counts = |s: Status| facts.iter().filter(|f| f["status"] == json!(s)).count();
    Ok(json!({
        "format": "3am-memory-export/1",
        "user_id": user_id,
        "exported_at": chrono::Utc::now(),
        "note": "Everything 3AM remembers about you. Embeddings (the 384 numbers per fact used for search) are left out: they are computed from each fact's text. Statuses: live = used in answers; archived = faded, kept; superseded = replaced by a newer fact or no longer true.",
        "categories": Category::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        "counts": {
            "live": counts(Status::Live),
            "archived": counts(Status::Archived),
            "superseded": counts(Status::Superseded),
        },
        "profile": profile,
        "clusters": clusters,
        "facts": facts,
    }))
}

/// A topic's name as the user sees it: its name, or "Cluster N" before the night named it.
fn topic_name(name: &str, label: i32) -> String {
    if name.trim().is_empty() {
        format!("Cluster {label}")
    } else {
        name.trim().to_owned()
    }
}

/// A fact as the memory map draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct MapFact {
    pub id: i64,
    /// Its current topic (a replaced fact takes its successor's).
    pub topic: Option<i64>,
    pub text: String,
    pub priority: i16,
    pub embedding: Vec<f32>,
    pub created_at: DateTime<Utc>,
    /// Replaced or archived.
    pub faded: bool,
}

/// A current topic as the memory map draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct MapTopic {
    pub id: i64,
    pub name: String,
    pub importance: f64,
}

/// What the memory map shows of the user: current topics, live facts, and replaced or
/// archived facts changed since `faded_since`. Only facts with an embedding.
pub async fn map_data(
    pool: &PgPool,
    user_id: &str,
    faded_since: DateTime<Utc>,
) -> Result<(Vec<MapTopic>, Vec<MapFact>), MemoryError> {
    let topics = sqlx::query(
        "SELECT id, name, label, importance FROM clusters
         WHERE user_id = $1 AND retired_at IS NULL ORDER BY importance DESC, id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| MapTopic {
        id: r.get("id"),
        name: topic_name(r.get("name"), r.get("label")),
        importance: f64::from(r.get::<f32, _>("importance")),
    })
    .collect();
    let facts = sqlx::query(
        "SELECT f.id, f.text, f.priority, f.embedding, f.created_at, c.id AS topic,
                (f.valid_to IS NOT NULL OR f.superseded_by IS NOT NULL OR f.archived_at IS NOT NULL) AS faded
         FROM facts f
         LEFT JOIN facts s ON s.id = f.superseded_by AND s.user_id = f.user_id
         LEFT JOIN clusters c ON c.id = COALESCE(f.cluster_id, s.cluster_id)
                             AND c.retired_at IS NULL AND c.user_id = f.user_id
         WHERE f.user_id = $1 AND f.embedding IS NOT NULL
           AND ((f.valid_to IS NULL AND f.superseded_by IS NULL AND f.archived_at IS NULL)
                OR f.updated_at >= $2)
         ORDER BY f.id",
    )
    .bind(user_id)
    .bind(faded_since)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| MapFact {
        id: r.get("id"),
        topic: r.get("topic"),
        text: r.get("text"),
        priority: r.get("priority"),
        embedding: r.get::<pgvector::Vector, _>("embedding").to_vec(),
        created_at: r.get("created_at"),
        faded: r.get("faded"),
    })
    .collect();
    Ok((topics, facts))
}

#[cfg(test)]
mod tests {
    use super::parse_ids;

    #[test]
    fn ids_are_numbers_with_optional_hashes() {
        assert_eq!(parse_ids("12"), Some(vec![12]));
        assert_eq!(parse_ids(" #12, 15  #12 "), Some(vec![12, 15]));
        assert_eq!(parse_ids("12 cats"), None);
        assert_eq!(parse_ids("my address"), None);
        assert_eq!(parse_ids(""), None);
        assert_eq!(parse_ids("-3"), None);
        assert_eq!(parse_ids("99999999999999999999"), None);
    }
}
