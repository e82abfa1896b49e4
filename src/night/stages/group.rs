//! Stage 1: the user's pending exchanges (a message and the bot's reply to it), embedded and
//! grouped by topic into `night_groups`.

use serde_json::json;
use sqlx::{Connection, PgConnection};

use crate::night::cycle::{Ctx, Stage};
use crate::night::group::group_by_topic;
use crate::store::night_log;

pub(super) async fn run(conn: &mut PgConnection, cx: &Ctx<'_>) -> anyhow::Result<()> {
    let pending = night_log::pending(&mut *conn, cx.user_id).await?;
    let max_message_id = night_log::newest_id(&mut *conn, cx.user_id).await?;
    let ids: Vec<i64> = pending.iter().map(|p| p.id).collect();
    let bodies: Vec<String> = pending
        .iter()
        .map(|p| p.body.chars().take(500).collect())
        .collect();
    // What the extraction prompt will show of each exchange (clipped like the transcript).
    let sizes: Vec<usize> = pending
        .iter()
        .map(|p| p.body.chars().count().min(600) + p.reply_chars.min(300) + 40)
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
