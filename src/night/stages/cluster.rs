//! Stage 6: Torque Clustering over the user's live fact embeddings (cosine), rebuilt from
//! scratch each night. Clusters that continue an old one keep its id and name; new and
//! much-changed ones are named by the model from their members. Importance comes from the
//! members' priorities and recent use. Logs one health line.

use std::collections::HashMap;

use chrono::Duration;
use pgvector::Vector;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, Row};

use crate::cluster::{self, Metric, Options, Points};
use crate::llm::LlmError;
use crate::memory::store::lock_user;
use crate::night::cycle::{Ctx, Stage};
use crate::night::digest::ClusterItem;
use crate::night::prompts;
use crate::night::topics::{self, Member};

/// Fewer live facts than this form a single topic.
const MIN_TO_SPLIT: usize = 4;
/// Members shown to the model when naming a cluster.
const NAME_SAMPLE: usize = 12;

struct F {
    id: i64,
    text: String,
    priority: u8,
    recently_used: bool,
    vector: Vec<f32>,
}

struct Old {
    id: i64,
    name: String,
    members: Vec<i64>,
}

pub(super) async fn run(conn: &mut PgConnection, cx: &Ctx<'_>) -> anyhow::Result<()> {
    let recent = cx.now - Duration::days(30);
    let facts: Vec<F> = sqlx::query(
        "SELECT id, text, priority, embedding,
                (GREATEST(updated_at, COALESCE(last_accessed_at, updated_at)) >= $2) AS recent
         FROM live_facts
         WHERE user_id = $1
           AND embedding IS NOT NULL
         ORDER BY id",
    )
    .bind(cx.user_id)
    .bind(recent)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| F {
        id: r.get("id"),
        text: r.get("text"),
        priority: r.get::<i16, _>("priority").clamp(1, 5) as u8,
        recently_used: r.get("recent"),
        vector: r.get::<Vector, _>("embedding").to_vec(),
    })
    .filter(|f| f.vector.iter().any(|x| *x != 0.0))
    .collect();
    let old: Vec<Old> = sqlx::query(
        "SELECT c.id, c.name, COALESCE(array_agg(m.fact_id ORDER BY m.fact_id) FILTER (WHERE m.fact_id IS NOT NULL), '{}') AS members
         FROM clusters c LEFT JOIN cluster_members m ON m.cluster_id = c.id
         WHERE c.user_id = $1 AND c.retired_at IS NULL
         GROUP BY c.id ORDER BY c.id",
    )
    .bind(cx.user_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| Old {
        id: r.get("id"),
        name: r.get("name"),
        members: r.get("members"),
    })
    .collect();

    // Labels 1..=k per fact.
    let labels: Vec<usize> = if facts.len() < MIN_TO_SPLIT {
        vec![1; facts.len()]
    } else {
        let rows: Vec<&[f32]> = facts.iter().map(|f| f.vector.as_slice()).collect();
        let points =
            Points::from_rows(&rows).map_err(|e| anyhow::anyhow!("clustering input: {e}"))?;
        let options = Options {
            metric: Metric::Cosine,
            k: None,
            noise: false,
        };
        cluster::cluster(&points, &options)
            .map_err(|e| anyhow::anyhow!("clustering: {e}"))?
            .labels
    };
    let k = labels.iter().copied().max().unwrap_or(0);
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, l) in labels.iter().enumerate() {
        groups[l - 1].push(i);
    }
    groups.retain(|g| !g.is_empty());
    let member_ids: Vec<Vec<i64>> = groups
        .iter()
        .map(|g| g.iter().map(|i| facts[*i].id).collect())
        .collect();
    let old_members: Vec<Vec<i64>> = old.iter().map(|o| o.members.clone()).collect();
    let matches = topics::match_clusters(&member_ids, &old_members);

    // Names: kept for continuing topics, asked for new or much-changed ones.
    let mut names: Vec<String> = Vec::with_capacity(groups.len());
    let mut named_by_model = 0usize;
    for (gi, g) in groups.iter().enumerate() {
        let keep = matches[gi]
            .filter(|(oi, j)| *j >= topics::RENAME_BELOW && !old[*oi].name.trim().is_empty())
            .map(|(oi, _)| old[oi].name.clone());
        if let Some(name) = keep {
            names.push(name);
            continue;
        }
        let mut sample: Vec<&F> = g.iter().map(|i| &facts[*i]).collect();
        sample.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
        let texts: Vec<String> = sample
            .iter()
            .take(NAME_SAMPLE)
            .map(|f| f.text.clone())
            .collect();
        let answer: Result<Value, LlmError> = cx
            .chat_json(
                prompts::cluster_messages(&texts),
                prompts::CLUSTER_SCHEMA_NAME,
                prompts::cluster_schema(),
                24,
            )
            .await;
        let name = match answer {
            Ok(v) => prompts::read_cluster_name(&v),
            Err(LlmError::MalformedOutput { .. }) => None,
            Err(e) => return Err(anyhow::Error::new(e).context("naming a topic")),
        };
        named_by_model += 1;
        names.push(name.unwrap_or_else(|| {
            matches[gi]
                .map(|(oi, _)| old[oi].name.clone())
                .filter(|n| !n.trim().is_empty())
                .or_else(|| prompts::fallback_cluster_name(&texts))
                .unwrap_or_else(|| format!("Topic {}", gi + 1))
        }));
    }

    unique_names(&mut names);

    let mut tx = conn.begin().await?;
    lock_user(&mut tx, cx.user_id).await?;
    let mut changes: Vec<ClusterItem> = Vec::new();
    let mut kept: Vec<i64> = Vec::new();
    let mut fact_cluster: HashMap<i64, i64> = HashMap::new();
    sqlx::query("DELETE FROM cluster_members WHERE user_id = $1")
        .bind(cx.user_id)
        .execute(&mut *tx)
        .await?;
    for (gi, g) in groups.iter().enumerate() {
        let members: Vec<&F> = g.iter().map(|i| &facts[*i]).collect();
        let imp = topics::importance(
            &members
                .iter()
                .map(|f| Member {
                    priority: f.priority,
                    recently_used: f.recently_used,
                })
                .collect::<Vec<_>>(),
        );
        let centroid = centroid(&members);
        let size = members.len();
        let id: i64 = match matches[gi] {
            Some((oi, _)) => {
                let o = &old[oi];
                sqlx::query(
                    "UPDATE clusters SET label = $2, name = $3, importance = $4, size = $5, centroid = $6, updated_at = $7
                     WHERE id = $1",
                )
                .bind(o.id)
                .bind(gi as i32 + 1)
                .bind(&names[gi])
                .bind(imp)
                .bind(size as i32)
                .bind(&centroid)
                .bind(cx.now)
                .execute(&mut *tx)
                .await?;
                kept.push(o.id);
                let before = o.members.len();
                if size > before {
                    changes.push(ClusterItem {
                        id: o.id,
                        name: names[gi].clone(),
                        size,
                        previous_size: before,
                    });
                }
                o.id
            }
            None => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO clusters (user_id, label, name, importance, size, centroid, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
                )
                .bind(cx.user_id)
                .bind(gi as i32 + 1)
                .bind(&names[gi])
                .bind(imp)
                .bind(size as i32)
                .bind(&centroid)
                .bind(cx.now)
                .fetch_one(&mut *tx)
                .await?;
                changes.push(ClusterItem {
                    id,
                    name: names[gi].clone(),
                    size,
                    previous_size: 0,
                });
                kept.push(id);
                id
            }
        };
        let ids: Vec<i64> = members.iter().map(|f| f.id).collect();
        sqlx::query(
            "INSERT INTO cluster_members (cluster_id, fact_id, user_id) SELECT $1, unnest($2::bigint[]), $3",
        )
        .bind(id)
        .bind(&ids)
        .bind(cx.user_id)
        .execute(&mut *tx)
        .await?;
        for f in ids {
            fact_cluster.insert(f, id);
        }
    }
    let retired = sqlx::query(
        "UPDATE clusters SET retired_at = $3 WHERE user_id = $1 AND retired_at IS NULL AND NOT (id = ANY($2))",
    )
    .bind(cx.user_id)
    .bind(&kept)
    .bind(cx.now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // Only clustered facts point at a cluster.
    let (fids, cids): (Vec<i64>, Vec<i64>) = fact_cluster.into_iter().unzip();
    sqlx::query(
        "UPDATE facts SET cluster_id = NULL WHERE user_id = $1 AND cluster_id IS NOT NULL AND NOT (id = ANY($2))",
    )
    .bind(cx.user_id)
    .bind(&fids)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE facts f SET cluster_id = x.c FROM unnest($2::bigint[], $3::bigint[]) AS x(f, c)
         WHERE f.id = x.f AND f.user_id = $1",
    )
    .bind(cx.user_id)
    .bind(&fids)
    .bind(&cids)
    .execute(&mut *tx)
    .await?;

    let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
    let line = topics::health_line(facts.len(), &sizes);
    tracing::info!(user = cx.user_id, "{line}");
    cx.checkpoint(
        &mut tx,
        Stage::Cluster,
        json!({
            "facts": facts.len(),
            "clusters": groups.len(),
            "sizes": sizes,
            "named": named_by_model,
            "retired": retired,
            "changes": changes,
            "health": line,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn centroid(members: &[&F]) -> Option<Vector> {
    let dim = members.first()?.vector.len();
    let mut c = vec![0f32; dim];
    for m in members {
        for (s, x) in c.iter_mut().zip(&m.vector) {
            *s += x;
        }
    }
    let norm = c.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        return None;
    }
    c.iter_mut().for_each(|x| *x /= norm);
    Some(Vector::from(c))
}

/// Two topics never share a name: later ones get " 2", " 3"…
fn unique_names(names: &mut [String]) {
    for i in 1..names.len() {
        let base = names[i].clone();
        let mut n = 2;
        while names[..i].iter().any(|m| m.eq_ignore_ascii_case(&names[i])) {
            names[i] = format!("{base} {n}");
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn topic_names_are_made_unique() {
        let mut n: Vec<String> = ["Work", "work", "Home", "Work"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        super::unique_names(&mut n);
        assert_eq!(n, ["Work", "work 2", "Home", "Work 3"]);
    }
}
