//! Users and their rooms.

use sqlx::PgPool;

pub async fn upsert_user(pool: &PgPool, user_id: &str, default_tz: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO users (user_id, timezone, last_seen_at) VALUES ($1, $2, now())
         ON CONFLICT (user_id) DO UPDATE SET last_seen_at = now()",
    )
    .bind(user_id)
    .bind(default_tz)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn timezone(pool: &PgPool, user_id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT timezone FROM users WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(pool)
        .await
}

/// Records `room_id` as `owner`'s room. A room already owned by someone else keeps its owner:
/// ownership decides whose reactions approve things, so it never moves.
pub async fn claim_room(
    pool: &PgPool,
    room_id: &str,
    owner: &str,
    encrypted: bool,
) -> sqlx::Result<String> {
    sqlx::query_scalar(
        "INSERT INTO rooms (room_id, user_id, encrypted) VALUES ($1, $2, $3)
         ON CONFLICT (room_id) DO UPDATE SET encrypted = rooms.encrypted OR EXCLUDED.encrypted, left_at = NULL
         RETURNING user_id",
    )
    .bind(room_id)
    .bind(owner)
    .bind(encrypted)
    .fetch_one(pool)
    .await
}

pub async fn room_owner(pool: &PgPool, room_id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT user_id FROM rooms WHERE room_id = $1")
        .bind(room_id)
        .fetch_optional(pool)
        .await
}

pub async fn mark_room_left(pool: &PgPool, room_id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE rooms SET left_at = now() WHERE room_id = $1")
        .bind(room_id)
        .execute(pool)
        .await?;
    Ok(())
}
