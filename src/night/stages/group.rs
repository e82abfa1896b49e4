//! Stage 1: the user's pending exchanges (a message and the bot's reply to it), embedded and
//! grouped by topic into `night_groups`.

use serde_json::json;
use sqlx::{Connection, PgConnection, Row};

use crate::night::cycle::{Ctx, Stage};
use crate::night::group::group_by_topic;

pub(super) async fn run(conn: &mut PgConnection, cx: &Ctx<'_>) -> anyhow::Result<()> {
    let rows = sqlx::query(
        "SELECT m.id, m.body,
                COALESCE((SELECT sum(length(r.body)) FROM messages r
                          WHERE r.user_id = m.user_id AND r.role = 'assistant' AND r.in_reply_to = m.event_id), 0)::bigint AS reply_chars
         FROM messages m
         WHERE m.user_id = $1 AND m.role = 'user' AND m.in_conversation AND m.night_processed_at IS NULL
         ORDER BY m.sent_at, m.id",
    )
    .bind(cx.user_id)
    .fetch_all(&mut *conn)
    .await?;
    let max_message_id: Option<i64> =
        sqlx::query_scalar("SELECT max(id) FROM messages WHERE user_id = $1")
            .bind(cx.user_id)
            .fetch_one(&mut *conn)
            .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.get("id")).collect();
    let bodies: Vec<String> = rows
        .iter()
        .map(|r| {
            let b: String = r.get("body");
            b.chars().take(500).collect()
        })
        .collect();
    // What the extraction prompt will show of each exchange (clipped like the transcript).
    let sizes: Vec<usize> = rows
        .iter()
        .map(|r| {
            let b: String = r.get("body");
            let reply: i64 = r.get("reply_chars");
            b.chars().count().min(600) + (reply as usize).min(300) + 40
        })
        .collect();
    let groups = if ids.len() <= crate::night::group::SMALL_DAY {
        // One group anyway: no need to embed.
        group_by_topic(&vec![vec![1.0]; ids.len()], &sizes)
    } else {
        let vectors = cx.embed(&bodies).await?;
        group_by_topic(&vectors, &sizes)
    };

    let mut tx = conn.begin().await?;
    sqlx::query("DELETE FROM night_groups WHERE run_id = $1")
        .bind(cx.run_id)
        .execute(&mut *tx)
        .await?;
    for (no, g) in groups.iter().enumerate() {
        let message_ids: Vec<i64> = g.iter().map(|i| ids[*i]).collect();
        sqlx::query(
            "INSERT INTO night_groups (run_id, group_no, user_id, message_ids) VALUES ($1, $2, $3, $4)",
        )
        .bind(cx.run_id)
        .bind(no as i32 + 1)
        .bind(cx.user_id)
        .bind(&message_ids)
        .execute(&mut *tx)
        .await?;
    }
    let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
    cx.checkpoint(
        &mut tx,
        Stage::Group,
        json!({
            "exchanges": ids.len(),
            "groups": groups.len(),
            "group_sizes": sizes,
            "max_message_id": max_message_id.unwrap_or(0),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
