//! The message log. A user message moves `received → answering → answered`, or to `failed`
//! when the model could not answer (it is retried later); claiming it for an answer is one
//! conditional UPDATE, so however often an event is delivered, it is answered once.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::llm::Role;

/// A past message of the conversation, oldest first, as the prompt needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub role: Role,
    pub text: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub user_id: &'a str,
    pub room_id: &'a str,
    pub event_id: &'a str,
    pub body: &'a str,
    pub thread_root: Option<&'a str>,
    pub in_reply_to: Option<&'a str>,
    pub sent_at: DateTime<Utc>,
    /// Commands are logged but not part of the conversation the model sees.
    pub is_command: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    New(i64),
    /// Seen before; `state` says whether it still needs an answer.
    Duplicate {
        id: i64,
        state: String,
    },
}

/// A user message waiting for its answer.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: i64,
    pub user_id: String,
    pub room_id: String,
    pub event_id: String,
    pub body: String,
    pub thread_root: Option<String>,
    pub attempts: i32,
    /// A command (run again, not answered, when a crash caught it).
    pub is_command: bool,
    pub in_reply_to: Option<String>,
    pub sent_at: DateTime<Utc>,
    /// Which reply this is (see [`start_new_reply`]); part of the reply's transaction ids.
    pub reply_round: i32,
    /// The first message of a reply an earlier attempt began and never finished (the bot
    /// stopped mid-answer): the retry edits it instead of posting a second reply.
    pub started_reply: Option<String>,
}

pub async fn store_user_message(pool: &PgPool, m: &NewMessage<'_>) -> sqlx::Result<Stored> {
    let mut tx = pool.begin().await?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO messages (user_id, room_id, event_id, role, body, thread_root, in_reply_to, sent_at, reply_state, in_conversation, is_command)
         VALUES ($1, $2, $3, 'user', $4, $5, $6, $7, 'received', $8, $9)
         ON CONFLICT (event_id) DO NOTHING RETURNING id",
    )
    .bind(m.user_id)
    .bind(m.room_id)
    .bind(m.event_id)
    .bind(storable(m.body))
    .bind(m.thread_root)
    .bind(m.in_reply_to)
    .bind(m.sent_at)
    .bind(!m.is_command)
    .bind(m.is_command)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = inserted {
        // A reply to one of the bot's answers is also a comment on it, stored with the
        // message so a redelivered event cannot add it twice.
        if let (Some(target), false) = (m.in_reply_to, m.is_command) {
            super::feedback::add_comment(&mut tx, m.user_id, target, m.body).await?;
        }
        tx.commit().await?;
        return Ok(Stored::New(id));
    }
    drop(tx);
    let row =
        sqlx::query("SELECT id, reply_state FROM messages WHERE event_id = $1 AND user_id = $2")
            .bind(m.event_id)
            .bind(m.user_id)
            .fetch_one(pool)
            .await?;
    Ok(Stored::Duplicate {
        id: row.get(0),
        state: row.get(1),
    })
}

/// Takes the message for answering; false if another task has it or it was answered already.
pub async fn claim(pool: &PgPool, id: i64) -> sqlx::Result<bool> {
    let claimed: Option<i64> = sqlx::query_scalar(
        "UPDATE messages SET reply_state = 'answering', reply_attempts = reply_attempts + 1, claimed_at = now()
         WHERE id = $1 AND reply_state IN ('received', 'failed') RETURNING id",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(claimed.is_some())
}

pub async fn mark_failed(pool: &PgPool, id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE messages SET reply_state = 'failed' WHERE id = $1 AND reply_state = 'answering'",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// The reply to message `id` has begun as event `reply_event_id`. Written as soon as the
/// first part is on screen, so a bot stopped mid-answer edits that message on its retry
/// instead of posting a second reply.
pub async fn set_started_reply(pool: &PgPool, id: i64, reply_event_id: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE messages SET reply_event_id = $2 WHERE id = $1 AND reply_state <> 'answered'",
    )
    .bind(id)
    .bind(reply_event_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Gives up on answering the message: it leaves the retry queue for good.
pub async fn abandon(pool: &PgPool, id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE messages SET reply_state = 'abandoned' WHERE id = $1 AND reply_state = 'answering'",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// After a crash nothing the last process claimed is really being answered: hand those
/// messages back for retry. `running_for` is how long this process has run: its own claims
/// (messages that arrived during the first sync) are younger and stay with it.
pub async fn release_interrupted(
    pool: &PgPool,
    running_for: std::time::Duration,
) -> sqlx::Result<u64> {
    Ok(release_claims_older_than(pool, running_for, false).await?
        + release_claims_older_than(pool, running_for, true).await?)
}

/// Hands back the claims on answers (or on commands) older than `age`: the task that took
/// them died without a restart, or could not note how it ended.
pub async fn release_claims_older_than(
    pool: &PgPool,
    age: std::time::Duration,
    commands: bool,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE messages SET reply_state = 'failed'
         WHERE reply_state = 'answering' AND is_command = $2
           AND (claimed_at IS NULL OR claimed_at <= now() - make_interval(secs => $1))",
    )
    .bind(age.as_secs_f64())
    .bind(commands)
    .execute(pool)
    .await?
    .rows_affected())
}

/// A command ran to its end (its answer is in the room).
pub async fn mark_done(pool: &PgPool, id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE messages SET reply_state = 'answered' WHERE id = $1 AND reply_state = 'answering'",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// The interrupted reply stays as it is and the retry answers in a new message: a new
/// round, so the new message gets transaction ids of its own.
pub async fn start_new_reply(pool: &PgPool, id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE messages SET reply_event_id = NULL, reply_round = reply_round + 1
         WHERE id = $1 AND reply_state <> 'answered'",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// The columns [`pending_from_row`] reads, in its order.
macro_rules! pending_columns {
    () => {
        "id, user_id, room_id, event_id, body, thread_root, reply_attempts, reply_event_id, \
         is_command, in_reply_to, sent_at, reply_round"
    };
}

/// Messages that still need an answer, oldest first, except in rooms the bot has left.
pub async fn pending(pool: &PgPool, limit: i64) -> sqlx::Result<Vec<Pending>> {
    let rows = sqlx::query(
        concat!(
            "SELECT ",
            pending_columns!(),
            " FROM messages m
             WHERE role = 'user' AND reply_state IN ('received', 'failed')
               AND NOT EXISTS (SELECT 1 FROM rooms r WHERE r.room_id = m.room_id AND r.left_at IS NOT NULL)
             ORDER BY sent_at, id LIMIT $1"
        ),
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(pending_from_row).collect())
}

pub async fn get_pending(pool: &PgPool, id: i64) -> sqlx::Result<Option<Pending>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        pending_columns!(),
        " FROM messages WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(pending_from_row))
}

fn pending_from_row(r: &sqlx::postgres::PgRow) -> Pending {
    Pending {
        id: r.get(0),
        user_id: r.get(1),
        room_id: r.get(2),
        event_id: r.get(3),
        body: r.get(4),
        thread_root: r.get(5),
        attempts: r.get(6),
        started_reply: r.get(7),
        is_command: r.get(8),
        in_reply_to: r.get(9),
        sent_at: r.get(10),
        reply_round: r.get(11),
    }
}

/// The conversation before message `before_id` in the room (or thread), oldest first;
/// forgotten and abandoned messages are not part of it (an abandoned one would make every
/// later prompt fail the same way).
pub async fn history(
    pool: &PgPool,
    user_id: &str,
    room_id: &str,
    thread_root: Option<&str>,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<Turn>> {
    let rows = sqlx::query(
        "SELECT role, body, sent_at FROM messages
         WHERE user_id = $1 AND room_id = $2 AND id < $3 AND in_conversation AND forgotten_at IS NULL
           AND reply_state <> 'abandoned'
           AND ($4::text IS NULL OR thread_root = $4 OR event_id = $4)
         ORDER BY id DESC LIMIT $5",
    )
    .bind(user_id)
    .bind(room_id)
    .bind(before_id)
    .bind(thread_root)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut turns: Vec<Turn> = rows
        .iter()
        .map(|r| Turn {
            role: if r.get::<String, _>(0) == "assistant" {
                Role::Assistant
            } else {
                Role::User
            },
            text: r.get(1),
            at: r.get(2),
        })
        .collect();
    turns.reverse();
    Ok(turns)
}

/// Moves a user's messages `by` into the past: benchmarks that play several days in minutes
/// end each day with it, so the next one starts a new conversation as it would a day later.
pub async fn move_back(pool: &PgPool, user_id: &str, by: chrono::Duration) -> sqlx::Result<()> {
    sqlx::query("UPDATE messages SET sent_at = sent_at - $2 WHERE user_id = $1")
        .bind(user_id)
        .bind(by)
        .execute(pool)
        .await?;
    Ok(())
}

/// Where a user message stands (`received`, `answering`, `answered`, `failed`…), if it exists.
pub async fn reply_state(pool: &PgPool, id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT reply_state FROM messages WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The thread a stored message belongs to, if any.
pub async fn thread_of(pool: &PgPool, event_id: &str) -> sqlx::Result<Option<String>> {
    Ok(sqlx::query_scalar::<_, Option<String>>(
        "SELECT thread_root FROM messages WHERE event_id = $1",
    )
    .bind(event_id)
    .fetch_optional(pool)
    .await?
    .flatten())
}

/// The gate action and time of the bot's latest reply in the room, so the gate knows whether
/// a conversation is in progress and whether the bot just asked a clarifying question.
pub async fn last_reply(
    pool: &PgPool,
    user_id: &str,
    room_id: &str,
) -> sqlx::Result<Option<(String, DateTime<Utc>)>> {
    let row = sqlx::query(
        "SELECT gate_action, created_at FROM experience WHERE user_id = $1 AND room_id = $2
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(user_id)
    .bind(room_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// What a finished reply records, in one transaction.
#[derive(Debug, Clone, Default)]
pub struct ReplyRecord {
    pub message_id: i64,
    pub user_id: String,
    pub room_id: String,
    pub message_event_id: String,
    pub thread_root: Option<String>,
    /// Event ids of the reply's parts (a long reply is several messages).
    pub part_event_ids: Vec<String>,
    pub parts: Vec<String>,
    pub confidence: Option<f32>,
    pub mean_logprob: Option<f32>,
    pub min_token_prob: Option<f32>,
    pub mean_entropy: Option<f32>,
    pub latency_ms: i32,
    /// Facts the prompt carried, so feedback can be traced to memories.
    pub facts_used: Vec<i64>,
    /// The gate's decision (`answer`, `search`, `ask`) and why.
    pub gate_action: String,
    pub gate_reason: String,
    /// A web search ran and its sources went into the answer.
    pub searched: bool,
    /// Time the gate took before the answer started: the draft, and the search if any.
    pub gate_ms: i32,
    /// What the reply guard caught before the user saw it (`echo`, `repetition`,
    /// `impersonation`), and what it did (`regenerated`, `fallback`).
    pub guard_flaw: Option<String>,
    pub guard_action: Option<String>,
}

pub async fn record_reply(pool: &PgPool, r: &ReplyRecord) -> sqlx::Result<()> {
    let mut tx: Transaction<'_, Postgres> = pool.begin().await?;
    for (event_id, body) in r.part_event_ids.iter().zip(&r.parts) {
        sqlx::query(
            "INSERT INTO messages (user_id, room_id, event_id, role, body, thread_root, in_reply_to, sent_at, reply_state)
             VALUES ($1, $2, $3, 'assistant', $4, $5, $6, now(), 'none') ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&r.user_id)
        .bind(&r.room_id)
        .bind(event_id)
        .bind(storable(body))
        .bind(&r.thread_root)
        .bind(&r.message_event_id)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO experience (user_id, room_id, message_event_id, reply_event_id, confidence, mean_logprob,
                                 min_token_prob, mean_entropy, latency_ms, facts_used,
                                 gate_action, gate_reason, searched, gate_ms, guard_flaw, guard_action)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT (reply_event_id) DO NOTHING",
    )
    .bind(&r.user_id)
    .bind(&r.room_id)
    .bind(&r.message_event_id)
    .bind(r.part_event_ids.first())
    .bind(r.confidence)
    .bind(r.mean_logprob)
    .bind(r.min_token_prob)
    .bind(r.mean_entropy)
    .bind(r.latency_ms)
    .bind(&r.facts_used)
    .bind(if r.gate_action.is_empty() {
        "answer"
    } else {
        &r.gate_action
    })
    .bind(&r.gate_reason)
    .bind(r.searched)
    .bind(r.gate_ms)
    .bind(&r.guard_flaw)
    .bind(&r.guard_action)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE messages SET reply_state = 'answered', reply_event_id = $2 WHERE id = $1")
        .bind(r.message_id)
        .bind(r.part_event_ids.first())
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Logs a bot message that is not an answer to a conversation turn (command output, notices).
pub async fn record_bot_message(
    pool: &PgPool,
    user_id: &str,
    room_id: &str,
    event_id: &str,
    body: &str,
    in_reply_to: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO messages (user_id, room_id, event_id, role, body, in_reply_to, sent_at, reply_state, in_conversation)
         VALUES ($1, $2, $3, 'assistant', $4, $5, now(), 'none', false) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(room_id)
    .bind(event_id)
    .bind(storable(body))
    .bind(in_reply_to)
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets the user's messages `event_ids` (all of the user's messages when `None`) and the
/// bot's replies to them: the bodies are scrubbed, they count as done for the night, and
/// neither prompts nor the night read them again. What `!forget` does to the sources of the
/// facts it erases, so they are never learned again. Returns how many messages it scrubbed.
pub async fn forget(
    conn: &mut sqlx::PgConnection,
    user_id: &str,
    event_ids: Option<&[String]>,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE messages SET body = '', forgotten_at = now(),
                             night_processed_at = COALESCE(night_processed_at, now())
         WHERE user_id = $1 AND forgotten_at IS NULL
           AND ($2::text[] IS NULL OR event_id = ANY($2) OR (role = 'assistant' AND in_reply_to = ANY($2)))",
    )
    .bind(user_id)
    .bind(event_ids)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Which of `event_ids` belong to messages the user had forgotten.
pub async fn forgotten_among(
    conn: &mut sqlx::PgConnection,
    user_id: &str,
    event_ids: &[String],
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT event_id FROM messages WHERE user_id = $1 AND event_id = ANY($2) AND forgotten_at IS NOT NULL",
    )
    .bind(user_id)
    .bind(event_ids)
    .fetch_all(conn)
    .await
}

/// Event ids of the bot's replies to the user's message `event_id`.
pub async fn replies_to(
    conn: &mut sqlx::PgConnection,
    user_id: &str,
    event_id: &str,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT event_id FROM messages WHERE user_id = $1 AND role = 'assistant' AND in_reply_to = $2",
    )
    .bind(user_id)
    .bind(event_id)
    .fetch_all(conn)
    .await
}

/// The user edited message `event_id`: the stored text becomes `body`, so later prompts and
/// the night read what they meant. Returns whether a message of theirs was changed
/// (forgotten messages stay scrubbed).
pub async fn replace_body(
    pool: &PgPool,
    user_id: &str,
    event_id: &str,
    body: &str,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE messages SET body = $3
         WHERE user_id = $1 AND event_id = $2 AND role = 'user' AND forgotten_at IS NULL",
    )
    .bind(user_id)
    .bind(event_id)
    .bind(storable(body))
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// Scrubs the bot's own notices (command answers, approval requests) that quote any of
/// `texts`: after `!forget`, the request that showed the fact should not keep it.
pub async fn forget_quotes(
    conn: &mut sqlx::PgConnection,
    user_id: &str,
    texts: &[String],
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE messages SET body = '', forgotten_at = now()
         WHERE user_id = $1 AND role = 'assistant' AND NOT in_conversation AND forgotten_at IS NULL
           AND EXISTS (SELECT 1 FROM unnest($2::text[]) AS t(x) WHERE length(x) > 0 AND strpos(body, x) > 0)",
    )
    .bind(user_id)
    .bind(texts)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Text PostgreSQL can store: a NUL character (which a client can send) would fail the
/// insert and lose the message, so it becomes U+FFFD.
fn storable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}").into()
    } else {
        text.into()
    }
}

/// Every user message, oldest first, as (sender, text, reply state): what a load benchmark
/// checks against what was sent (nothing lost, nothing filed under someone else).
pub async fn all_user_messages(pool: &PgPool) -> sqlx::Result<Vec<(String, String, String)>> {
    sqlx::query_as(
        "SELECT user_id, body, reply_state FROM messages WHERE role = 'user' ORDER BY id",
    )
    .fetch_all(pool)
    .await
}

/// When the user last wrote to the bot (any room), if ever.
pub async fn last_user_message_at(
    pool: &PgPool,
    user_id: &str,
) -> sqlx::Result<Option<chrono::DateTime<chrono::Utc>>> {
    sqlx::query_scalar("SELECT max(sent_at) FROM messages WHERE user_id = $1 AND role = 'user'")
        .bind(user_id)
        .fetch_one(pool)
        .await
}

/// Messages of users waiting for an answer: received, failed and queued for a retry, or
/// being answered now.
pub async fn queue_depth(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM messages
         WHERE role = 'user' AND reply_state IN ('received', 'failed', 'answering')",
    )
    .fetch_one(pool)
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn nul_characters_are_replaced_and_the_rest_kept() {
        assert_eq!(super::storable("a\0b"), "a\u{FFFD}b");
        assert_eq!(super::storable("plain"), "plain");
    }
}
