//! Stage 5: archive the facts whose retention fell below the threshold (see
//! [`crate::night::decay`] for the maths). Archived facts are kept and come back when
//! mentioned again.

use serde_json::json;
use sqlx::{Connection, PgConnection};

use crate::memory::store::lock_user;
use crate::memory::upkeep;
use crate::night::cycle::{Ctx, Stage};
use crate::night::decay::fades;

pub(super) async fn run(conn: &mut PgConnection, cx: &Ctx<'_>) -> anyhow::Result<()> {
    let mut tx = conn.begin().await?;
    lock_user(&mut tx, cx.user_id).await?;
    let candidates = upkeep::fading_candidates(&mut tx, cx.user_id).await?;
    let faded: Vec<(i64, &str)> = candidates
        .iter()
        .filter(|(_, _, usage)| fades(usage, cx.now))
        .map(|(id, text, _)| (*id, text.as_str()))
        .collect();
    let ids: Vec<i64> = faded.iter().map(|(id, _)| *id).collect();
    upkeep::archive(&mut tx, cx.user_id, &ids, cx.now).await?;
    let sample: Vec<&str> = faded.iter().take(10).map(|(_, t)| *t).collect();
    cx.checkpoint(
        &mut tx,
        Stage::Decay,
        json!({"checked": candidates.len(), "archived": ids.len(), "archived_ids": ids, "archived_sample": sample}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
