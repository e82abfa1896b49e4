//! Stage 9: prepare the morning digest. Its items are what happened since the last digest:
//! facts with ids above the user's mark (learned tonight or in realtime since), the facts
//! this night superseded, topics that formed or grew, behaviour changes, research findings
//! and tool proposals above their marks. A night with nothing to tell stores no digest. The
//! marks advance in the same transaction, so nothing is told twice.

use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, Row};

use crate::night::cycle::{Ctx, Stage};
use crate::night::digest::{
    ClusterItem, DigestContent, NewFactItem, ResearchItem, SupersededItem, ToolItem, render,
};

pub(super) async fn run(conn: &mut PgConnection, cx: &Ctx<'_>) -> anyhow::Result<()> {
    let mut tx = conn.begin().await?;
    let marks = sqlx::query(
        "SELECT COALESCE(max(fact_id), 0) AS f, COALESCE(max(finding_id), 0) AS r, COALESCE(max(tool_id), 0) AS t
         FROM night_marks WHERE user_id = $1",
    )
    .bind(cx.user_id)
    .fetch_one(&mut *tx)
    .await?;
    let (fact_mark, finding_mark, tool_mark): (i64, i64, i64) =
        (marks.get("f"), marks.get("r"), marks.get("t"));
    let stats: Value = sqlx::query_scalar("SELECT stats FROM night_runs WHERE id = $1")
        .bind(cx.run_id)
        .fetch_one(&mut *tx)
        .await?;

    let mut content = DigestContent::default();
    let mut max_fact = fact_mark;
    for r in sqlx::query(
        "SELECT id, text, category, priority, (valid_to IS NULL AND superseded_by IS NULL AND archived_at IS NULL) AS live
         FROM facts WHERE user_id = $1 AND id > $2 ORDER BY id",
    )
    .bind(cx.user_id)
    .bind(fact_mark)
    .fetch_all(&mut *tx)
    .await?
    {
        let id: i64 = r.get("id");
        max_fact = max_fact.max(id);
        if r.get::<bool, _>("live") {
            content.new_facts.push(NewFactItem {
                id,
                text: r.get("text"),
                category: r.get("category"),
                priority: r.get::<i16, _>("priority").clamp(1, 5) as u8,
            });
        }
    }
    content.superseded =
        serde_json::from_value::<Vec<SupersededItem>>(stats["conflicts"]["superseded"].clone())
            .unwrap_or_default();
    content.clusters =
        serde_json::from_value::<Vec<ClusterItem>>(stats["cluster"]["changes"].clone())
            .unwrap_or_default();
    content.behaviour =
        serde_json::from_value::<Vec<String>>(stats["behaviour"]["changes"].clone())
            .unwrap_or_default();
    content.archived = stats["decay"]["archived"].as_u64().unwrap_or(0) as usize;
    let mut max_finding = finding_mark;
    for r in sqlx::query(
        "SELECT id, title, url, summary FROM research_findings WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT 20",
    )
    .bind(cx.user_id)
    .bind(finding_mark)
    .fetch_all(&mut *tx)
    .await?
    {
        let id: i64 = r.get("id");
        max_finding = max_finding.max(id);
        content.research.push(ResearchItem {
            id,
            title: r.get("title"),
            url: r.get("url"),
            summary: r.get("summary"),
        });
    }
    let mut max_tool = tool_mark;
    for r in sqlx::query(
        "SELECT id, name, description FROM tools WHERE user_id = $1 AND id > $2 AND stage = 'proposed' ORDER BY id",
    )
    .bind(cx.user_id)
    .bind(tool_mark)
    .fetch_all(&mut *tx)
    .await?
    {
        let id: i64 = r.get("id");
        max_tool = max_tool.max(id);
        content.tools.push(ToolItem {
            id,
            name: r.get("name"),
            description: r.get("description"),
        });
    }

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
         ON CONFLICT (user_id) DO UPDATE SET fact_id = EXCLUDED.fact_id, finding_id = EXCLUDED.finding_id,
                                             tool_id = EXCLUDED.tool_id, updated_at = EXCLUDED.updated_at",
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
