//! The `map_positions` table: where each fact sat on the last memory map (its aligned
//! projection, before it was fitted into a picture). Only the map reads and writes it.

use std::collections::HashMap;

use sqlx::{PgPool, Row};

use super::layout::Xy;

/// The user's last map positions, by fact id.
pub async fn load(pool: &PgPool, user_id: &str) -> sqlx::Result<HashMap<i64, Xy>> {
    Ok(
        sqlx::query("SELECT fact_id, x, y FROM map_positions WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| (r.get("fact_id"), [r.get("x"), r.get("y")]))
            .collect(),
    )
}

/// Makes `points` the user's map positions (the old ones go). If a fact was erased while
/// the map was drawn, nothing is saved (the next map aligns with the one before): the
/// positions only keep maps steady, they are never worth failing a map for.
pub async fn save(pool: &PgPool, user_id: &str, points: &[(i64, Xy)]) -> sqlx::Result<()> {
    match replace(pool, user_id, points).await {
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
            tracing::debug!("a fact was erased while the map was drawn; positions not saved");
            Ok(())
        }
        other => other,
    }
}

async fn replace(pool: &PgPool, user_id: &str, points: &[(i64, Xy)]) -> sqlx::Result<()> {
    let ids: Vec<i64> = points.iter().map(|p| p.0).collect();
    let xs: Vec<f64> = points.iter().map(|p| p.1[0]).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.1[1]).collect();
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM map_positions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO map_positions (user_id, fact_id, x, y)
         SELECT $1, p.id, p.x, p.y FROM unnest($2::bigint[], $3::float8[], $4::float8[]) AS p(id, x, y)",
    )
    .bind(user_id)
    .bind(&ids)
    .bind(&xs)
    .bind(&ys)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}
