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

/// Makes sure the user's row exists: memory can be written before the chat layer saw the
/// user (a replay, a benchmark, a night started from the command line).
pub async fn ensure<'e, E>(exec: E, user_id: &str) -> sqlx::Result<()>
where
    E: sqlx::PgExecutor<'e>,
{
    sqlx::query("INSERT INTO users (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING")
        .bind(user_id)
        .execute(exec)
        .await?;
    Ok(())
}

/// Every user id, sorted.
pub async fn all(pool: &PgPool) -> sqlx::Result<Vec<String>> {
    all_in(pool).await
}

/// Every user id, sorted, read with `exec` (a transaction's snapshot, say).
pub async fn all_in<'e, E>(exec: E) -> sqlx::Result<Vec<String>>
where
    E: sqlx::PgExecutor<'e>,
{
    sqlx::query_scalar("SELECT user_id FROM users ORDER BY user_id")
        .fetch_all(exec)
        .await
}

/// A user the scheduler looks after.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScheduledUser {
    pub user_id: String,
    pub timezone: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Users with at least one room they have not left, sorted by id.
pub async fn with_rooms(pool: &PgPool) -> sqlx::Result<Vec<ScheduledUser>> {
    sqlx::query_as(
        "SELECT u.user_id, u.timezone, u.created_at FROM users u
         WHERE EXISTS (SELECT 1 FROM rooms r WHERE r.user_id = u.user_id AND r.left_at IS NULL)
         ORDER BY u.user_id",
    )
    .fetch_all(pool)
    .await
}

/// The room the user talks to the bot in (the most recently joined one they have not left).
pub async fn current_room(pool: &PgPool, user_id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT room_id FROM rooms WHERE user_id = $1 AND left_at IS NULL ORDER BY joined_at DESC LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await
}

pub async fn timezone(pool: &PgPool, user_id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT timezone FROM users WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(pool)
        .await
}

/// Sets the user's time zone (an IANA name, already validated).
pub async fn set_timezone(pool: &PgPool, user_id: &str, zone: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO users (user_id, timezone) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET timezone = EXCLUDED.timezone",
    )
    .bind(user_id)
    .bind(zone)
    .execute(pool)
    .await?;
    Ok(())
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

/// How many users the bot has served.
pub async fn count(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(pool)
        .await
}

/// Those of `ids` that are users here, sorted.
pub async fn existing<'e, E>(exec: E, ids: &[String]) -> sqlx::Result<Vec<String>>
where
    E: sqlx::PgExecutor<'e>,
{
    sqlx::query_scalar("SELECT user_id FROM users WHERE user_id = ANY($1) ORDER BY user_id")
        .bind(ids)
        .fetch_all(exec)
        .await
}

/// Erases these users and, through the schema's cascades, every row of theirs.
pub async fn erase<'e, E>(exec: E, ids: &[String]) -> sqlx::Result<u64>
where
    E: sqlx::PgExecutor<'e>,
{
    Ok(sqlx::query("DELETE FROM users WHERE user_id = ANY($1)")
        .bind(ids)
        .execute(exec)
        .await?
        .rows_affected())
}
