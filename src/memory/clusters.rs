//! The topics' storage: the `clusters` table, its `cluster_members`, and each fact's
//! `cluster_id`. The night's clustering stage plans the topics (pure) and hands the plan to
//! [`replace`], which writes it in the caller's transaction; recall reads a topic's
//! importance through the facts' `cluster_id`. A topic that continues an old one keeps its
//! row (and so its id and creation date); topics no longer found are retired, not deleted,
//! so the digest can say what changed.

use chrono::{DateTime, Utc};
use pgvector::Vector;
use sqlx::{PgConnection, Row};

/// A topic as stored now: its id, name and member fact ids (sorted).
#[derive(Debug, Clone)]
pub struct StoredTopic {
    pub id: i64,
    pub name: String,
    pub members: Vec<i64>,
}

/// One topic of the new plan. `continues` is the id of the stored topic it carries on.
#[derive(Debug, Clone)]
pub struct PlannedTopic {
    pub continues: Option<i64>,
    pub name: String,
    pub importance: f32,
    pub centroid: Option<Vector>,
    pub members: Vec<i64>,
}

/// What [`replace`] did: the id of each planned topic (in plan order) and how many stored
/// topics were retired.
#[derive(Debug, Clone)]
pub struct Replaced {
    pub ids: Vec<i64>,
    pub retired: u64,
}

/// The user's current (not retired) topics with their members, oldest first.
pub async fn current(conn: &mut PgConnection, user_id: &str) -> sqlx::Result<Vec<StoredTopic>> {
    Ok(sqlx::query(
        "SELECT c.id, c.name, COALESCE(array_agg(m.fact_id ORDER BY m.fact_id) FILTER (WHERE m.fact_id IS NOT NULL), '{}') AS members
         FROM clusters c LEFT JOIN cluster_members m ON m.cluster_id = c.id
         WHERE c.user_id = $1 AND c.retired_at IS NULL
         GROUP BY c.id ORDER BY c.id",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| StoredTopic {
        id: r.get("id"),
        name: r.get("name"),
        members: r.get("members"),
    })
    .collect())
}

/// Makes `plan` the user's topics: continued topics are updated in place, new ones
/// inserted, the rest retired; memberships and the facts' `cluster_id` follow the plan (a
/// fact in no planned topic points at none). Run it in a transaction that holds the
/// user's lock.
pub async fn replace(
    conn: &mut PgConnection,
    user_id: &str,
    plan: &[PlannedTopic],
    now: DateTime<Utc>,
) -> sqlx::Result<Replaced> {
    sqlx::query("DELETE FROM cluster_members WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    let mut ids = Vec::with_capacity(plan.len());
    let (mut fact_ids, mut cluster_ids) = (Vec::new(), Vec::new());
    for (i, topic) in plan.iter().enumerate() {
        let id = save_topic(&mut *conn, user_id, i as i32 + 1, topic, now).await?;
        sqlx::query(
            "INSERT INTO cluster_members (cluster_id, fact_id, user_id) SELECT $1, unnest($2::bigint[]), $3",
        )
        .bind(id)
        .bind(&topic.members)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
        fact_ids.extend_from_slice(&topic.members);
        cluster_ids.extend(std::iter::repeat_n(id, topic.members.len()));
        ids.push(id);
    }
    let retired = sqlx::query(
        "UPDATE clusters SET retired_at = $3 WHERE user_id = $1 AND retired_at IS NULL AND NOT (id = ANY($2))",
    )
    .bind(user_id)
    .bind(&ids)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE facts SET cluster_id = NULL WHERE user_id = $1 AND cluster_id IS NOT NULL AND NOT (id = ANY($2))",
    )
    .bind(user_id)
    .bind(&fact_ids)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE facts f SET cluster_id = x.c FROM unnest($2::bigint[], $3::bigint[]) AS x(f, c)
         WHERE f.id = x.f AND f.user_id = $1",
    )
    .bind(user_id)
    .bind(&fact_ids)
    .bind(&cluster_ids)
    .execute(&mut *conn)
    .await?;
    Ok(Replaced { ids, retired })
}

/// Updates the continued topic or inserts a new one; returns its id.
async fn save_topic(
    conn: &mut PgConnection,
    user_id: &str,
    label: i32,
    topic: &PlannedTopic,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    let size = topic.members.len() as i32;
    match topic.continues {
        Some(id) => {
            sqlx::query(
                "UPDATE clusters SET label = $2, name = $3, importance = $4, size = $5, centroid = $6, updated_at = $7
                 WHERE id = $1 AND user_id = $8",
            )
            .bind(id)
            .bind(label)
            .bind(&topic.name)
            .bind(topic.importance)
            .bind(size)
            .bind(&topic.centroid)
            .bind(now)
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
            Ok(id)
        }
        None => {
            sqlx::query_scalar(
                "INSERT INTO clusters (user_id, label, name, importance, size, centroid, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
            )
            .bind(user_id)
            .bind(label)
            .bind(&topic.name)
            .bind(topic.importance)
            .bind(size)
            .bind(&topic.centroid)
            .bind(now)
            .fetch_one(&mut *conn)
            .await
        }
    }
}

/// A current topic with how much of it is about interests (not the person) and how much
/// of it was said lately: what research proposals are picked from.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicActivity {
    pub name: String,
    pub size: usize,
    /// Facts about preferences, work, plans, knowledge or procedures.
    pub interests: usize,
    /// Facts said or confirmed since the given time.
    pub recent: usize,
}

/// The user's current topics with their activity since `since`, counting only facts the
/// user's own words gave (not what research read).
pub async fn activity(
    pool: &sqlx::PgPool,
    user_id: &str,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<TopicActivity>> {
    Ok(sqlx::query(
        "SELECT c.name, count(f.id),
                count(f.id) FILTER (WHERE f.category IN ('preference', 'work', 'plan', 'knowledge', 'procedure')),
                count(f.id) FILTER (WHERE f.updated_at >= $2)
         FROM clusters c JOIN facts f ON f.cluster_id = c.id AND f.user_id = c.user_id
         WHERE c.user_id = $1 AND c.retired_at IS NULL AND f.valid_to IS NULL AND f.archived_at IS NULL
           AND NOT (cardinality(f.source_event_ids) > 0
                    AND NOT EXISTS (SELECT 1 FROM unnest(f.source_event_ids) s WHERE s NOT LIKE 'research:%'))
         GROUP BY c.id, c.name ORDER BY c.id",
    )
    .bind(user_id)
    .bind(since)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| TopicActivity {
        name: r.get(0),
        size: r.get::<i64, _>(1) as usize,
        interests: r.get::<i64, _>(2) as usize,
        recent: r.get::<i64, _>(3) as usize,
    })
    .collect())
}
