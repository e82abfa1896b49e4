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

/// Makes `points` the user's map positions (the old ones go). A fact erased meanwhile is
/// skipped rather than failing the map.
pub async fn save(pool: &PgPool, user_id: &str, points: &[(i64, Xy)]) -> sqlx::Result<()> {
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
         SELECT $1, p.id, p.x, p.y FROM unnest($2::bigint[], $3::float8[], $4::float8[]) AS p(id, x, y)
         JOIN facts f ON f.id = p.id AND f.user_id = $1",
    )
    .bind(user_id)
    .bind(&ids)
    .bind(&xs)
    .bind(&ys)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}
