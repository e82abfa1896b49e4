//! Stage 6: Torque Clustering over the user's live fact embeddings (cosine), rebuilt from
//! scratch each night. Clusters that continue an old one keep its id and name; new and
//! much-changed ones are named by the model from their members. Importance comes from the
//! members' priorities and recent use. Logs one health line.

use chrono::Duration;
use pgvector::Vector;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

use crate::cluster::{self, Metric, Options, Points};
use crate::llm::LlmError;
use crate::memory::clusters::{self as stored, PlannedTopic, StoredTopic};
use crate::memory::store::lock_user;
use crate::memory::upkeep::{self, EmbeddedFact as F};
use crate::night::cycle::{Ctx, Stage};
use crate::night::digest::ClusterItem;
use crate::night::prompts;
use crate::night::topics::{self, Member};

/// Fewer live facts than this form a single topic.
const MIN_TO_SPLIT: usize = 4;
/// Members shown to the model when naming a cluster.
const NAME_SAMPLE: usize = 12;

/// Each new group and the stored topic it continues, with their Jaccard overlap.
type Matches = Vec<Option<(usize, f64)>>;

pub(super) async fn run(conn: &mut PgConnection, cx: &Ctx<'_>) -> anyhow::Result<()> {
    let facts = upkeep::embedded_live(&mut *conn, cx.user_id, cx.now - Duration::days(30)).await?;
    let old = stored::current(&mut *conn, cx.user_id).await?;

    let groups = group(&facts)?;
    let member_ids: Vec<Vec<i64>> = groups
        .iter()
        .map(|g| g.iter().map(|i| facts[*i].id).collect())
        .collect();
    let old_members: Vec<Vec<i64>> = old.iter().map(|o| o.members.clone()).collect();
    let matches = topics::match_clusters(&member_ids, &old_members);
    let (mut names, named_by_model) = name_groups(cx, &facts, &groups, &old, &matches).await?;
    unique_names(&mut names);
    let plan = plan(&facts, &groups, &old, &matches, names);

    let mut tx = conn.begin().await?;
    lock_user(&mut tx, cx.user_id).await?;
    let done = stored::replace(&mut tx, cx.user_id, &plan, cx.now).await?;
    let changes = changes(&plan, &done.ids, &old);
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
            "retired": done.retired,
            "changes": changes,
            "health": line,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Torque Clustering (cosine) of the facts: groups of indexes into `facts`, none empty.
fn group(facts: &[F]) -> anyhow::Result<Vec<Vec<usize>>> {
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
    Ok(groups)
}

/// Names: kept for continuing topics, asked of the model for new or much-changed ones.
/// Returns the names and how many the model gave.
async fn name_groups(
    cx: &Ctx<'_>,
    facts: &[F],
    groups: &[Vec<usize>],
    old: &[StoredTopic],
    matches: &Matches,
) -> anyhow::Result<(Vec<String>, usize)> {
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
    Ok((names, named_by_model))
}

/// The topics to store: each group with its name, importance, centroid and the stored
/// topic it continues.
fn plan(
    facts: &[F],
    groups: &[Vec<usize>],
    old: &[StoredTopic],
    matches: &Matches,
    names: Vec<String>,
) -> Vec<PlannedTopic> {
    groups
        .iter()
        .zip(names)
        .enumerate()
        .map(|(gi, (g, name))| {
            let members: Vec<&F> = g.iter().map(|i| &facts[*i]).collect();
            let importance = topics::importance(
                &members
                    .iter()
                    .map(|f| Member {
                        priority: f.priority,
                        recently_used: f.recently_used,
                    })
                    .collect::<Vec<_>>(),
            );
            PlannedTopic {
                continues: matches[gi].map(|(oi, _)| old[oi].id),
                name,
                importance,
                centroid: centroid(&members),
                members: members.iter().map(|f| f.id).collect(),
            }
        })
        .collect()
}

/// The topics the digest tells of: new ones, and continued ones that grew.
fn changes(plan: &[PlannedTopic], ids: &[i64], old: &[StoredTopic]) -> Vec<ClusterItem> {
    plan.iter()
        .zip(ids)
        .filter_map(|(topic, id)| {
            let before = topic
                .continues
                .and_then(|c| old.iter().find(|o| o.id == c))
                .map_or(0, |o| o.members.len());
            (topic.members.len() > before).then(|| ClusterItem {
                id: *id,
                name: topic.name.clone(),
                size: topic.members.len(),
                previous_size: before,
            })
        })
        .collect()
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
