//! Stage 5: archive the facts whose retention fell below the threshold (see
//! [`crate::night::decay`] for the maths). Archived facts are kept and come back when
//! mentioned again.

use serde_json::json;
use sqlx::{Connection, PgConnection, Row};

use crate::memory::Kind;
use crate::memory::store::lock_user;
use crate::night::cycle::{Ctx, Stage};
use crate::night::decay::{Usage, fades};

pub(super) async fn run(conn: &mut PgConnection, cx: &Ctx<'_>) -> anyhow::Result<()> {
    let mut tx = conn.begin().await?;
    lock_user(&mut tx, cx.user_id).await?;
    let rows = sqlx::query(
        "SELECT id, text, priority, kind, created_at, updated_at, last_accessed_at, access_count
         FROM live_facts
         WHERE user_id = $1
           AND priority < 5",
    )
    .bind(cx.user_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut faded: Vec<(i64, String)> = Vec::new();
    for r in &rows {
        let u = Usage {
            priority: r.get::<i16, _>("priority").clamp(1, 5) as u8,
            kind: Kind::parse_lenient(r.get::<&str, _>("kind")),
            created_at: r.get("created_at"),
            updated_at: r.get("updated_at"),
            last_accessed_at: r.get("last_accessed_at"),
            access_count: r.get("access_count"),
        };
        if fades(&u, cx.now) {
            faded.push((r.get("id"), r.get("text")));
        }
    }
    let ids: Vec<i64> = faded.iter().map(|(id, _)| *id).collect();
    sqlx::query("UPDATE facts SET archived_at = $3 WHERE user_id = $1 AND id = ANY($2)")
        .bind(cx.user_id)
        .bind(&ids)
        .bind(cx.now)
        .execute(&mut *tx)
        .await?;
    let sample: Vec<&str> = faded.iter().take(10).map(|(_, t)| t.as_str()).collect();
    cx.checkpoint(
        &mut tx,
        Stage::Decay,
        json!({"checked": rows.len(), "archived": ids.len(), "archived_ids": ids, "archived_sample": sample}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
