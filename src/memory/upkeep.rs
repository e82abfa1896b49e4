//! The facts' side of the night's upkeep: the reads and writes the night stages need
//! (clustering input, decay, conflicts, the profile, the digest's new facts). The stages
//! decide (pure, in `night`); this module is the only place their SQL on `facts` and
//! `user_profile` lives. Every query is scoped by `user_id`.

use chrono::{DateTime, Utc};
use pgvector::Vector;
use sqlx::{PgConnection, Row};

use super::fact::Kind;

/// A live fact with its embedding, as clustering reads it.
#[derive(Debug, Clone)]
pub struct EmbeddedFact {
    pub id: i64,
    pub text: String,
    pub priority: u8,
    /// Updated or recalled since the `recent_since` given to [`embedded_live`].
    pub recently_used: bool,
    pub vector: Vec<f32>,
}

/// The user's live facts that have a (non-zero) embedding, by id.
pub async fn embedded_live(
    conn: &mut PgConnection,
    user_id: &str,
    recent_since: DateTime<Utc>,
) -> sqlx::Result<Vec<EmbeddedFact>> {
    Ok(sqlx::query(
        "SELECT id, text, priority, embedding,
                (GREATEST(updated_at, COALESCE(last_accessed_at, updated_at)) >= $2) AS recent
         FROM live_facts
         WHERE user_id = $1
           AND embedding IS NOT NULL
         ORDER BY id",
    )
    .bind(user_id)
    .bind(recent_since)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| EmbeddedFact {
        id: r.get("id"),
        text: r.get("text"),
        priority: priority(r.get("priority")),
        recently_used: r.get("recent"),
        vector: r.get::<Vector, _>("embedding").to_vec(),
    })
    .filter(|f| f.vector.iter().any(|x| *x != 0.0))
    .collect())
}

/// How a fact has been used: what decay reads.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub priority: u8,
    pub kind: Kind,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_accessed_at: Option<DateTime<Utc>>,
    pub access_count: i32,
}

/// The user's live facts that can fade (priority below 5): id, text and usage.
pub async fn fading_candidates(
    conn: &mut PgConnection,
    user_id: &str,
) -> sqlx::Result<Vec<(i64, String, Usage)>> {
    Ok(sqlx::query(
        "SELECT id, text, priority, kind, created_at, updated_at, last_accessed_at, access_count
         FROM live_facts
         WHERE user_id = $1
           AND priority < 5",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        let usage = Usage {
            priority: priority(r.get("priority")),
            kind: Kind::parse_lenient(r.get::<&str, _>("kind")),
            created_at: r.get("created_at"),
            updated_at: r.get("updated_at"),
            last_accessed_at: r.get("last_accessed_at"),
            access_count: r.get("access_count"),
        };
        (r.get("id"), r.get("text"), usage)
    })
    .collect())
}

/// Archives the user's facts `ids` as of `at` (kept, no longer recalled).
pub async fn archive(
    conn: &mut PgConnection,
    user_id: &str,
    ids: &[i64],
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE facts SET archived_at = $3 WHERE user_id = $1 AND id = ANY($2)")
        .bind(user_id)
        .bind(ids)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A live fact as the conflict check reads it.
#[derive(Debug, Clone)]
pub struct LiveFact {
    pub id: i64,
    pub text: String,
    pub category: String,
    pub valid_from: DateTime<Utc>,
    pub embedding: Vector,
}

/// The user's live embedded facts with an id above `mark` or in `also`, oldest first.
pub async fn live_since(
    conn: &mut PgConnection,
    user_id: &str,
    mark: i64,
    also: &[i64],
) -> sqlx::Result<Vec<LiveFact>> {
    Ok(sqlx::query(
        "SELECT id, text, category, valid_from, embedding FROM live_facts
         WHERE user_id = $1
           AND embedding IS NOT NULL
           AND (id > $2 OR id = ANY($3))
         ORDER BY valid_from, id",
    )
    .bind(user_id)
    .bind(mark)
    .bind(also)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| LiveFact {
        id: r.get("id"),
        text: r.get("text"),
        category: r.get("category"),
        valid_from: r.get("valid_from"),
        embedding: r.get("embedding"),
    })
    .collect())
}

/// Which older facts [`older_neighbours`] returns.
#[derive(Debug, Clone, Copy)]
pub struct Band<'a> {
    /// Only facts of this category; any when `None`.
    pub category: Option<&'a str>,
    /// Cosine similarity in `[min, max)`.
    pub min: f64,
    pub max: f64,
    pub limit: i64,
}

/// The user's live facts older than `fact` (earlier `valid_from`, or the same and a lower
/// id) whose similarity to it lies in the band, nearest first: `(id, text)`.
pub async fn older_neighbours(
    conn: &mut PgConnection,
    user_id: &str,
    fact: &LiveFact,
    band: Band<'_>,
) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT id, text FROM live_facts
         WHERE user_id = $1 AND ($2::text IS NULL OR category = $2) AND id <> $4
           AND embedding IS NOT NULL
           AND (valid_from < $5 OR (valid_from = $5 AND id < $4))
           AND 1 - (embedding <=> $3) >= $6 AND 1 - (embedding <=> $3) < $7
         ORDER BY embedding <=> $3 LIMIT $8",
    )
    .bind(user_id)
    .bind(band.category)
    .bind(&fact.embedding)
    .bind(fact.id)
    .bind(fact.valid_from)
    .bind(band.min)
    .bind(band.max)
    .bind(band.limit)
    .fetch_all(&mut *conn)
    .await
}

/// The facts the profile is written from: live, priority ≥ 4, highest priority then most
/// recent first, at most `limit`: `(id, text)`.
pub async fn profile_sources(
    conn: &mut PgConnection,
    user_id: &str,
    limit: i64,
) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT id, text FROM live_facts
         WHERE user_id = $1
           AND priority >= 4
         ORDER BY priority DESC, updated_at DESC, id LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// The fact ids the stored profile was written from; `None` when there is no profile.
pub async fn profile_written_from(
    conn: &mut PgConnection,
    user_id: &str,
) -> sqlx::Result<Option<Vec<i64>>> {
    sqlx::query_scalar("SELECT source_fact_ids FROM user_profile WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await
}

/// Stores the user's profile, written from the facts `from`.
pub async fn set_profile(
    conn: &mut PgConnection,
    user_id: &str,
    text: &str,
    from: &[i64],
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO user_profile (user_id, text, source_fact_ids, generated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO UPDATE SET text = EXCLUDED.text, source_fact_ids = EXCLUDED.source_fact_ids,
                                             generated_at = EXCLUDED.generated_at",
    )
    .bind(user_id)
    .bind(text)
    .bind(from)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes the user's profile (nothing is left to write it from).
pub async fn remove_profile(conn: &mut PgConnection, user_id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM user_profile WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A fact stored after the digest's mark, in any state.
#[derive(Debug, Clone)]
pub struct LaterFact {
    pub id: i64,
    pub text: String,
    pub category: String,
    pub priority: u8,
    /// Not replaced, ended or archived since.
    pub live: bool,
    /// Learned from web research only (its sources are all research findings): told in the
    /// digest's research section, not as something about the user.
    pub from_research: bool,
}

/// The user's facts with an id above `mark`, by id.
pub async fn stored_after(
    conn: &mut PgConnection,
    user_id: &str,
    mark: i64,
) -> sqlx::Result<Vec<LaterFact>> {
    Ok(sqlx::query(
        "SELECT f.id, f.text, f.category, f.priority, (l.id IS NOT NULL) AS live,
                (cardinality(f.source_event_ids) > 0
                 AND NOT EXISTS (SELECT 1 FROM unnest(f.source_event_ids) s WHERE s NOT LIKE 'research:%')) AS from_research
         FROM facts f LEFT JOIN live_facts l ON l.id = f.id
         WHERE f.user_id = $1 AND f.id > $2 ORDER BY f.id",
    )
    .bind(user_id)
    .bind(mark)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| LaterFact {
        id: r.get("id"),
        text: r.get("text"),
        category: r.get("category"),
        priority: priority(r.get("priority")),
        live: r.get("live"),
        from_research: r.get("from_research"),
    })
    .collect())
}

/// The highest fact id stored so far (of any user), 0 when there is none: a mark that
/// makes everything before it count as told.
pub async fn highest_id(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(max(id), 0) FROM facts")
        .fetch_one(&mut *conn)
        .await
}

fn priority(raw: i16) -> u8 {
    raw.clamp(1, 5) as u8
}
