//! Reading and delivering digests. Delivery is at most once: the row is claimed
//! (`sent_at` set) before sending, released again if the send fails, and the event id is
//! recorded after. A crash between sending and recording cannot cause a second digest.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgPool, Row};

use crate::chat::{OutMessage, Outbox};

/// A stored digest.
#[derive(Debug, Clone)]
pub struct StoredDigest {
    pub id: i64,
    pub user_id: String,
    pub for_date: NaiveDate,
    pub body: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub event_id: Option<String>,
}

fn from_row(r: &sqlx::postgres::PgRow) -> StoredDigest {
    StoredDigest {
        id: r.get("id"),
        user_id: r.get("user_id"),
        for_date: r.get("for_date"),
        body: r.get("body"),
        sent_at: r.get("sent_at"),
        event_id: r.get("event_id"),
    }
}

/// The user's most recent digest, sent or not.
pub async fn latest_digest(db: &PgPool, user_id: &str) -> sqlx::Result<Option<StoredDigest>> {
    Ok(sqlx::query(
        "SELECT id, user_id, for_date, body, sent_at, event_id FROM digests
         WHERE user_id = $1 ORDER BY for_date DESC LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(db)
    .await?
    .as_ref()
    .map(from_row))
}

/// Unsent digests of recent nights (the scheduler checks which are due in each user's zone).
pub async fn unsent(db: &PgPool, since: NaiveDate) -> sqlx::Result<Vec<StoredDigest>> {
    Ok(sqlx::query(
        "SELECT id, user_id, for_date, body, sent_at, event_id FROM digests
         WHERE sent_at IS NULL AND for_date >= $1 ORDER BY id",
    )
    .bind(since)
    .fetch_all(db)
    .await?
    .iter()
    .map(from_row)
    .collect())
}

/// What happened to a digest handed to [`deliver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent { event_id: String },
    AlreadySent,
    NoRoom,
}

/// Sends digest `id` into the user's room, once.
pub async fn deliver(
    db: &PgPool,
    outbox: &dyn Outbox,
    d: &StoredDigest,
    now: DateTime<Utc>,
) -> anyhow::Result<Delivery> {
    let Some(room) = crate::store::users::current_room(db, &d.user_id).await? else {
        return Ok(Delivery::NoRoom);
    };
    let claimed = sqlx::query("UPDATE digests SET sent_at = $2 WHERE id = $1 AND sent_at IS NULL")
        .bind(d.id)
        .bind(now)
        .execute(db)
        .await?
        .rows_affected();
    if claimed == 0 {
        return Ok(Delivery::AlreadySent);
    }
    let mut first: Option<String> = None;
    let parts = crate::chat::split_reply(&d.body, crate::chat::MAX_PART_BYTES);
    for (i, part) in parts.into_iter().enumerate() {
        let msg = OutMessage {
            markdown: part.clone(),
            complete: true,
            thread_root: None,
            reply_to: None,
            once: Some(format!("digest {} part {i}", d.id)),
        };
        match outbox.send(&room, &msg).await {
            Ok(event_id) => {
                crate::store::messages::record_bot_message(
                    db, &d.user_id, &room, &event_id, &part, None,
                )
                .await?;
                first.get_or_insert(event_id);
            }
            Err(e) if first.is_none() => {
                // Nothing went out: release the claim so the next tick tries again.
                sqlx::query("UPDATE digests SET sent_at = NULL WHERE id = $1")
                    .bind(d.id)
                    .execute(db)
                    .await?;
                return Err(anyhow::Error::new(e).context("sending the digest"));
            }
            Err(e) => {
                tracing::warn!(error = %e, user = %d.user_id, "part of the digest could not be sent");
                break;
            }
        }
    }
    let event_id = first.unwrap_or_default();
    sqlx::query("UPDATE digests SET event_id = $2 WHERE id = $1")
        .bind(d.id)
        .bind(&event_id)
        .execute(db)
        .await?;
    tracing::info!(user = %d.user_id, for_date = %d.for_date, %event_id, "digest delivered");
    Ok(Delivery::Sent { event_id })
}

/// Counts every fact the user has now as told, so the next digest tells only of later ones
/// (for a user whose earlier facts an earlier digest, or an import, already covered).
pub async fn mark_facts_told(db: &PgPool, user_id: &str) -> sqlx::Result<()> {
    let mut conn = db.acquire().await?;
    let up_to = crate::memory::upkeep::highest_id(&mut conn).await?;
    sqlx::query(
        "INSERT INTO night_marks (user_id, fact_id) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET fact_id = GREATEST(night_marks.fact_id, EXCLUDED.fact_id)",
    )
    .bind(user_id)
    .bind(up_to)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
