//! Pending approvals: a bot message that waits for the room owner's ✅ or ❌ (erasing
//! memories now; tool stages and research topics later). Deciding is one conditional UPDATE,
//! so a reaction delivered twice, or a ✅ and a ❌ racing, decide once. The decision's effect
//! is marked (`applied_at`) once it has run; a decision left unapplied by a stop is finished
//! at start-up (the effects are idempotent: erasing what is gone erases nothing).

use sqlx::{PgPool, Row};

/// What a reaction key says about a pending approval.
pub fn decision(key: &str) -> Option<bool> {
    match crate::reaction_key::base(key).as_str() {
        // Not 👌: in many places it is a casual "ok", or worse, and erasing is for good.
        "✅" | "✔" | "☑" => Some(true),
        "❌" | "✖" | "🚫" | "❎" => Some(false),
        _ => None,
    }
}

/// The columns [`from_row`] reads, in its order.
macro_rules! approval_columns {
    () => {
        "id, user_id, room_id, event_id, kind, payload, status = 'approved'"
    };
}

fn from_row(r: &sqlx::postgres::PgRow) -> Approval {
    Approval {
        id: r.get(0),
        user_id: r.get(1),
        room_id: r.get(2),
        event_id: r.get(3),
        kind: r.get(4),
        payload: r.get(5),
        approved: r.get(6),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub id: i64,
    pub user_id: String,
    pub room_id: String,
    pub event_id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub approved: bool,
}

pub async fn create(
    pool: &PgPool,
    user_id: &str,
    room_id: &str,
    event_id: &str,
    kind: &str,
    payload: &serde_json::Value,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO approvals (user_id, room_id, event_id, kind, payload) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (event_id) DO UPDATE SET kind = EXCLUDED.kind RETURNING id",
    )
    .bind(user_id)
    .bind(room_id)
    .bind(event_id)
    .bind(kind)
    .bind(payload)
    .fetch_one(pool)
    .await
}

/// How long a request waits for its ✅ or ❌: a reaction days later, on a message scrolled
/// out of sight, is more likely a slip than a decision.
pub const APPROVAL_HOURS: i32 = 24;

/// Decides the approval behind `event_id` if `user_id` owns it, it is still pending and it
/// is younger than [`APPROVAL_HOURS`] (an older one is marked expired instead).
pub async fn decide(
    pool: &PgPool,
    event_id: &str,
    user_id: &str,
    approve: bool,
) -> sqlx::Result<Option<Approval>> {
    sqlx::query(
        "UPDATE approvals SET status = 'expired', decided_at = now()
         WHERE event_id = $1 AND user_id = $2 AND status = 'pending'
           AND created_at < now() - make_interval(hours => $3)",
    )
    .bind(event_id)
    .bind(user_id)
    .bind(APPROVAL_HOURS)
    .execute(pool)
    .await?;
    let row = sqlx::query(concat!(
        "UPDATE approvals SET status = $3, decided_at = now()
         WHERE event_id = $1 AND user_id = $2 AND status = 'pending'
         RETURNING ",
        approval_columns!()
    ))
    .bind(event_id)
    .bind(user_id)
    .bind(if approve { "approved" } else { "rejected" })
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(from_row))
}

/// What approval `id` decided has run (and the owner was told).
pub async fn mark_applied(pool: &PgPool, id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE approvals SET applied_at = now() WHERE id = $1 AND status IN ('approved', 'rejected')",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Decisions whose effect has not run yet (the bot stopped in between), oldest first.
pub async fn unapplied(pool: &PgPool) -> sqlx::Result<Vec<Approval>> {
    Ok(sqlx::query(concat!(
        "SELECT ",
        approval_columns!(),
        " FROM approvals WHERE status IN ('approved', 'rejected') AND applied_at IS NULL
             ORDER BY decided_at, id"
    ))
    .fetch_all(pool)
    .await?
    .iter()
    .map(from_row)
    .collect())
}

/// Pending approvals of one kind older than the newest: a new request supersedes them.
pub async fn expire_older(
    pool: &PgPool,
    user_id: &str,
    kind: &str,
    keep_event_id: &str,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE approvals SET status = 'expired', decided_at = now()
         WHERE user_id = $1 AND kind = $2 AND status = 'pending' AND event_id <> $3",
    )
    .bind(user_id)
    .bind(kind)
    .bind(keep_event_id)
    .execute(pool)
    .await?
    .rows_affected())
}

/// The pending approval behind `event_id` that `user_id` may answer, if any (a text reply to
/// it may revise what it asks about).
pub async fn pending_for_event(
    pool: &PgPool,
    event_id: &str,
    user_id: &str,
) -> sqlx::Result<Option<Approval>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        approval_columns!(),
        " FROM approvals WHERE event_id = $1 AND user_id = $2 AND status = 'pending'"
    ))
    .bind(event_id)
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(from_row))
}

/// Pending approvals of `kinds` about the same subject (`payload.key = value`) other than
/// the newest: a revision supersedes them.
pub async fn expire_about(
    pool: &PgPool,
    user_id: &str,
    kinds: &[&str],
    key: &str,
    value: i64,
    keep_event_id: &str,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE approvals SET status = 'expired', decided_at = now()
         WHERE user_id = $1 AND kind = ANY($2) AND status = 'pending'
           AND (payload ->> $3) = $4::text AND event_id <> $5",
    )
    .bind(user_id)
    .bind(kinds)
    .bind(key)
    .bind(value.to_string())
    .bind(keep_event_id)
    .execute(pool)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::decision;

    #[test]
    fn approval_keys() {
        assert_eq!(decision("✅"), Some(true));
        assert_eq!(decision("✔️"), Some(true));
        assert_eq!(decision("❌"), Some(false));
        assert_eq!(decision("👍"), None);
        assert_eq!(decision("👌"), None);
    }
}
