//! Stage 9: prepare the morning digest. Its items are what happened since the last digest:
//! facts with ids above the user's mark (learned tonight or in realtime since), the facts
//! this night superseded, topics that formed or grew, behaviour changes, research findings
//! and tools proposed (in chat or by the hourly self-review) above their marks (each finding
//! with its topic and source link; the facts made from findings are told
//! there, not as things about the user). A night with nothing to tell stores no digest. The
//! marks advance in the same transaction, so nothing is told twice.

use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, Row};

use crate::memory::upkeep;
use crate::night::cycle::{Ctx, Stage};
use crate::night::digest::{
    ClusterItem, DigestContent, NewFactItem, ResearchItem, SupersededItem, ToolItem, render,
};

pub(super) async fn run(conn: &mut PgConnection, cx: &Ctx<'_>) -> anyhow::Result<()> {
    let mut tx = conn.begin().await?;
    let fact_mark = cx.fact_mark(&mut tx).await?;
    let stats: Value = sqlx::query_scalar("SELECT stats FROM night_runs WHERE id = $1")
        .bind(cx.run_id)
        .fetch_one(&mut *tx)
        .await?;

    let facts = upkeep::stored_after(&mut tx, cx.user_id, fact_mark).await?;
    let max_fact = facts.iter().map(|f| f.id).fold(fact_mark, i64::max);
    let finding_mark: i64 = sqlx::query_scalar(
        "SELECT COALESCE((SELECT finding_id FROM night_marks WHERE user_id = $1), 0)",
    )
    .bind(cx.user_id)
    .fetch_one(&mut *tx)
    .await?;
    let tool_mark: i64 = sqlx::query_scalar(
        "SELECT COALESCE((SELECT tool_id FROM night_marks WHERE user_id = $1), 0)",
    )
    .bind(cx.user_id)
    .fetch_one(&mut *tx)
    .await?;
    let tools = crate::store::tools::proposed_after(&mut *tx, cx.user_id, tool_mark).await?;
    let max_tool = tools.iter().map(|t| t.0).fold(tool_mark, i64::max);
    let findings =
        crate::store::research::findings_after(&mut *tx, cx.user_id, finding_mark).await?;
    let max_finding = findings.iter().map(|f| f.id).fold(finding_mark, i64::max);
    let mut content = content(facts, &stats);
    content.research = findings
        .into_iter()
        .map(|f| ResearchItem {
            id: f.id,
            title: f.topic,
            url: f.url,
            summary: f.statement,
        })
        .collect();
    content.tools = tools
        .into_iter()
        .map(|(id, name, description)| ToolItem {
            id,
            name,
            description,
        })
        .collect();
    // Join an unsent digest of the same night (a second pass); leave a sent one alone.
    let existing = sqlx::query(
        "SELECT content, sent_at IS NOT NULL AS sent FROM digests WHERE user_id = $1 AND for_date = $2 FOR UPDATE",
    )
    .bind(cx.user_id)
    .bind(cx.night_date)
    .fetch_optional(&mut *tx)
    .await?;
    let pass_body = (!content.is_empty()).then(|| render(&content));
    let (stored, body) = match existing {
        Some(row) if !row.get::<bool, _>("sent") => {
            let mut merged: DigestContent =
                serde_json::from_value(row.get("content")).unwrap_or_default();
            merged.merge(content.clone());
            let body = render(&merged);
            sqlx::query(
                "UPDATE digests SET content = $3, body = $4, created_at = $5 WHERE user_id = $1 AND for_date = $2",
            )
            .bind(cx.user_id)
            .bind(cx.night_date)
            .bind(serde_json::to_value(&merged)?)
            .bind(&body)
            .bind(cx.now)
            .execute(&mut *tx)
            .await?;
            ("merged", Some(body))
        }
        Some(_) => ("already sent", pass_body),
        None if content.is_empty() => ("nothing to tell", None),
        None => {
            let body = pass_body.clone().expect("content is not empty");
            sqlx::query(
                "INSERT INTO digests (user_id, for_date, body, content, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(cx.user_id)
            .bind(cx.night_date)
            .bind(&body)
            .bind(serde_json::to_value(&content)?)
            .bind(cx.now)
            .execute(&mut *tx)
            .await?;
            ("stored", Some(body))
        }
    };
    sqlx::query(
        "INSERT INTO night_marks (user_id, fact_id, finding_id, tool_id, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE SET fact_id = EXCLUDED.fact_id,
             finding_id = EXCLUDED.finding_id, tool_id = EXCLUDED.tool_id, updated_at = EXCLUDED.updated_at",
    )
    .bind(cx.user_id)
    .bind(max_fact)
    .bind(max_finding)
    .bind(max_tool)
    .bind(cx.now)
    .execute(&mut *tx)
    .await?;
    cx.checkpoint(
        &mut tx,
        Stage::Digest,
        json!({
            "digest": stored,
            "new_facts": content.new_facts.len(),
            "superseded": content.superseded.len(),
            "topics": content.clusters.len(),
            "body": body,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What tonight's digest tells: the live facts stored since the mark, and what the night's
/// stages recorded in their statistics (replacements, topics, behaviour, archived facts).
fn content(facts: Vec<upkeep::LaterFact>, stats: &Value) -> DigestContent {
    DigestContent {
        new_facts: facts
            .into_iter()
            .filter(|f| f.live && !f.from_research)
            .map(|f| NewFactItem {
                id: f.id,
                text: f.text,
                category: f.category,
                priority: f.priority,
            })
            .collect(),
        superseded: serde_json::from_value::<Vec<SupersededItem>>(
            stats["conflicts"]["superseded"].clone(),
        )
        .unwrap_or_default(),
        clusters: serde_json::from_value::<Vec<ClusterItem>>(stats["cluster"]["changes"].clone())
            .unwrap_or_default(),
        behaviour: serde_json::from_value::<Vec<String>>(stats["behaviour"]["changes"].clone())
            .unwrap_or_default(),
        archived: stats["decay"]["archived"].as_u64().unwrap_or(0) as usize,
        ..DigestContent::default()
    }
}
