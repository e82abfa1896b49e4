//! The night's view of the message log: which exchanges (a user's message and the bot's
//! replies to it) wait to be consolidated, their text, and marking them done. The night
//! decides what to group and extract; the rows are read and marked here, the one owner of
//! `messages`. A message is done once `night_processed_at` is set; an exchange whose
//! extraction failed stays pending for the next night.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

/// A user's message waiting for the night, with the length of the replies to it.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: i64,
    pub body: String,
    pub reply_chars: usize,
}

/// The user's conversation messages no night has processed yet, in the order sent.
pub async fn pending(conn: &mut PgConnection, user_id: &str) -> sqlx::Result<Vec<Pending>> {
    Ok(sqlx::query(
        "SELECT m.id, m.body,
                COALESCE((SELECT sum(length(r.body)) FROM messages r
                          WHERE r.user_id = m.user_id AND r.role = 'assistant' AND r.in_reply_to = m.event_id), 0)::bigint AS reply_chars
         FROM messages m
         WHERE m.user_id = $1 AND m.role = 'user' AND m.in_conversation AND m.night_processed_at IS NULL
           AND m.forgotten_at IS NULL
         ORDER BY m.sent_at, m.id",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| Pending {
        id: r.get("id"),
        body: r.get("body"),
        reply_chars: r.get::<i64, _>("reply_chars").max(0) as usize,
    })
    .collect())
}

/// The id of the user's newest logged message, if any.
pub async fn newest_id(conn: &mut PgConnection, user_id: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT max(id) FROM messages WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await
}

/// One exchange as the extraction reads it.
#[derive(Debug, Clone)]
pub struct LoggedExchange {
    /// The user's event id, then the replies'.
    pub event_ids: Vec<String>,
    pub body: String,
    /// The replies, joined by newlines (empty when there was none).
    pub reply: String,
    pub sent_at: DateTime<Utc>,
}

/// The exchanges opened by the user's messages `ids`, in the order sent.
pub async fn exchanges(
    conn: &mut PgConnection,
    user_id: &str,
    ids: &[i64],
) -> sqlx::Result<Vec<LoggedExchange>> {
    Ok(sqlx::query(
        "SELECT m.event_id, m.body, m.sent_at,
                COALESCE(array_agg(r.event_id ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}') AS reply_ids,
                COALESCE(string_agg(r.body, E'\\n' ORDER BY r.id), '') AS reply
         FROM messages m
         LEFT JOIN messages r ON r.user_id = m.user_id AND r.role = 'assistant' AND r.in_reply_to = m.event_id
                                AND r.forgotten_at IS NULL
         WHERE m.user_id = $1 AND m.id = ANY($2) AND m.forgotten_at IS NULL
         GROUP BY m.id ORDER BY m.sent_at, m.id",
    )
    .bind(user_id)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| {
        let mut event_ids = vec![r.get::<String, _>("event_id")];
        event_ids.extend(r.get::<Vec<String>, _>("reply_ids"));
        LoggedExchange {
            event_ids,
            body: r.get("body"),
            reply: r.get("reply"),
            sent_at: r.get("sent_at"),
        }
    })
    .collect())
}

/// What [`mark_processed`] marked.
#[derive(Debug, Clone, Copy)]
pub struct Marked {
    /// Users' conversation messages marked now.
    pub exchanges: u64,
    /// Replies, commands and notices marked now.
    pub others: u64,
}

/// Marks the user's messages `done` processed at `at`, with the replies to them, the
/// commands and notices up to `others_up_to`, and late replies to messages an earlier
/// night processed.
pub async fn mark_processed(
    conn: &mut PgConnection,
    user_id: &str,
    done: &[i64],
    others_up_to: i64,
    at: DateTime<Utc>,
) -> sqlx::Result<Marked> {
    let exchanges = sqlx::query(
        "UPDATE messages SET night_processed_at = $3
         WHERE user_id = $1 AND id = ANY($2) AND night_processed_at IS NULL
           AND role = 'user' AND in_conversation",
    )
    .bind(user_id)
    .bind(done)
    .bind(at)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let others = sqlx::query(
        "UPDATE messages r SET night_processed_at = $2
         WHERE r.user_id = $1 AND r.night_processed_at IS NULL
           AND ((r.role = 'assistant' AND r.in_reply_to IN (SELECT event_id FROM messages u
                                  WHERE u.user_id = $1 AND u.role = 'user' AND u.night_processed_at IS NOT NULL))
                OR (NOT r.in_conversation AND r.id <= $3))",
    )
    .bind(user_id)
    .bind(at)
    .bind(others_up_to)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(Marked { exchanges, others })
}
