//! Reactions on the bot's replies. Each reaction event is recorded once; 👍/👎 set the feedback
//! of the experience row behind the reply (any part of it), the tag reactions (🤥 📜 🎯 ❌) add
//! a tag, and redacting a reaction takes back what it gave. A text reply to the bot's reply is
//! kept as a comment on it.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Row};

use crate::reaction_key::tag_for_reaction;

/// What a reaction key means as feedback.
pub fn feedback_value(key: &str) -> Option<i16> {
    match crate::reaction_key::base(key).as_str() {
        "👍" | "+1" | ":+1:" => Some(1),
        "👎" | "-1" | ":-1:" => Some(-1),
        _ => None,
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum ReactionOutcome {
    /// The feedback of an experience row was set.
    Feedback { experience_id: i64, value: i16 },
    /// A tag (see [`crate::reaction_key::TAG_REACTIONS`]) was added to an experience row.
    Tagged {
        experience_id: i64,
        tag: &'static str,
    },
    /// Recorded, but not feedback on a reply (other emoji, or on a non-reply message).
    Recorded,
    /// This reaction event was handled before.
    Duplicate,
}

pub async fn record_reaction(
    pool: &PgPool,
    event_id: &str,
    user_id: &str,
    room_id: &str,
    target_event_id: &str,
    key: &str,
) -> sqlx::Result<ReactionOutcome> {
    let mut tx = pool.begin().await?;
    let new: Option<String> = sqlx::query_scalar(
        "INSERT INTO reactions (event_id, user_id, room_id, target_event_id, key) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
    )
    .bind(event_id)
    .bind(user_id)
    .bind(room_id)
    .bind(target_event_id)
    .bind(key)
    .fetch_optional(&mut *tx)
    .await?;
    if new.is_none() {
        return Ok(ReactionOutcome::Duplicate);
    }
    let outcome = match feedback_value(key) {
        Some(value) => match experience_for(&mut tx, user_id, target_event_id).await? {
            Some(experience_id) => {
                sqlx::query(
                    "UPDATE experience SET feedback = $2, feedback_at = now() WHERE id = $1",
                )
                .bind(experience_id)
                .bind(value)
                .execute(&mut *tx)
                .await?;
                ReactionOutcome::Feedback {
                    experience_id,
                    value,
                }
            }
            None => ReactionOutcome::Recorded,
        },
        None => match tag_for_reaction(key) {
            Some(tag) => match experience_for(&mut tx, user_id, target_event_id).await? {
                Some(experience_id) => {
                    sqlx::query(
                        "UPDATE experience SET tags = array_append(tags, $2), feedback_at = now()
                         WHERE id = $1 AND NOT ($2 = ANY(tags))",
                    )
                    .bind(experience_id)
                    .bind(tag)
                    .execute(&mut *tx)
                    .await?;
                    ReactionOutcome::Tagged { experience_id, tag }
                }
                None => ReactionOutcome::Recorded,
            },
            None => ReactionOutcome::Recorded,
        },
    };
    tx.commit().await?;
    Ok(outcome)
}

/// A redaction of a reaction we recorded: the feedback it gave is withdrawn, unless a later
/// 👍/👎 from the same user on that reply still stands.
pub async fn redact_reaction(
    pool: &PgPool,
    reaction_event_id: &str,
    user_id: &str,
) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query(
        "UPDATE reactions SET redacted_at = now() WHERE event_id = $1 AND user_id = $2 AND redacted_at IS NULL
         RETURNING target_event_id, key",
    )
    .bind(reaction_event_id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    let target: String = row.get(0);
    if let Some(experience_id) = experience_for(&mut tx, user_id, &target).await? {
        // Any part of the reply may carry the user's other reactions.
        let standing: Vec<String> = sqlx::query_scalar(
            "SELECT r.key FROM reactions r JOIN messages m ON m.event_id = r.target_event_id
             WHERE r.user_id = $1 AND r.redacted_at IS NULL AND m.role = 'assistant'
               AND m.in_reply_to = (SELECT in_reply_to FROM messages WHERE event_id = $2)
             ORDER BY r.created_at DESC",
        )
        .bind(user_id)
        .bind(&target)
        .fetch_all(&mut *tx)
        .await?;
        let value = standing.iter().find_map(|k| feedback_value(k));
        let mut tags: Vec<&str> = Vec::new();
        for tag in standing.iter().filter_map(|k| tag_for_reaction(k)) {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        sqlx::query(
            "UPDATE experience SET feedback = $2, tags = $3, feedback_at = now() WHERE id = $1",
        )
        .bind(experience_id)
        .bind(value)
        .bind(&tags)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

async fn experience_for(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    user_id: &str,
    reply_part_event_id: &str,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT e.id FROM messages m JOIN experience e ON e.message_event_id = m.in_reply_to AND e.user_id = m.user_id
         WHERE m.event_id = $1 AND m.role = 'assistant' AND m.user_id = $2",
    )
    .bind(reply_part_event_id)
    .bind(user_id)
    .fetch_optional(&mut **tx)
    .await
}

/// Marks the tag reactions as offered under the reply; true only the first time, so a 👎
/// taken back and given again does not offer them twice.
pub async fn offer_tags_once(pool: &PgPool, experience_id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query_scalar::<_, i64>(
        "UPDATE experience SET tags_offered_at = now() WHERE id = $1 AND tags_offered_at IS NULL RETURNING id",
    )
    .bind(experience_id)
    .fetch_optional(pool)
    .await?
    .is_some())
}

/// A text reply by `user_id` to a part of one of the bot's replies: kept as a comment on that
/// reply's experience row (several comments are kept in order, one per line). Returns the row,
/// or `None` when the replied-to message is not one of the bot's answers to this user.
pub(crate) async fn add_comment(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    user_id: &str,
    reply_part_event_id: &str,
    text: &str,
) -> sqlx::Result<Option<i64>> {
    let Some(experience_id) = experience_for(tx, user_id, reply_part_event_id).await? else {
        return Ok(None);
    };
    sqlx::query(
        "UPDATE experience SET comment = CASE WHEN comment IS NULL OR comment = '' THEN $2
                                              ELSE comment || E'\\n' || $2 END
         WHERE id = $1",
    )
    .bind(experience_id)
    .bind(text.trim())
    .execute(&mut **tx)
    .await?;
    Ok(Some(experience_id))
}

/// The tags and comment on the reply to `message_event_id` (tests and `!stats`).
pub async fn tags_and_comment(
    pool: &PgPool,
    user_id: &str,
    message_event_id: &str,
) -> sqlx::Result<Option<(Vec<String>, Option<String>)>> {
    let row = sqlx::query(
        "SELECT tags, comment FROM experience WHERE user_id = $1 AND message_event_id = $2",
    )
    .bind(user_id)
    .bind(message_event_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// The feedback currently on the reply to `message_event_id` (tests and `!stats`).
pub async fn feedback_for_message(
    pool: &PgPool,
    user_id: &str,
    message_event_id: &str,
) -> sqlx::Result<Option<i16>> {
    Ok(sqlx::query_scalar::<_, Option<i16>>(
        "SELECT feedback FROM experience WHERE user_id = $1 AND message_event_id = $2",
    )
    .bind(user_id)
    .bind(message_event_id)
    .fetch_optional(pool)
    .await?
    .flatten())
}

#[cfg(test)]
mod tests {
    use super::feedback_value;

    #[test]
    fn thumbs_with_variation_selectors_and_skin_tones() {
        assert_eq!(feedback_value("👍"), Some(1));
        assert_eq!(feedback_value("👍\u{FE0F}"), Some(1));
        assert_eq!(feedback_value("👍🏽"), Some(1));
        assert_eq!(feedback_value("👎"), Some(-1));
        assert_eq!(feedback_value("❤️"), None);
    }
}

/// Records on the experience row of the turn answering `message_event_id` which facts its
/// prompt used. Returns how many rows changed (0 when there is no such row).
pub async fn record_facts_used(
    pool: &PgPool,
    user_id: &str,
    message_event_id: &str,
    fact_ids: &[i64],
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE experience SET facts_used = $3 WHERE user_id = $1 AND message_event_id = $2",
    )
    .bind(user_id)
    .bind(message_event_id)
    .bind(fact_ids)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Removes erased fact ids (all of them when `ids` is `None`) from the user's experience
/// rows, so nothing keeps pointing at a forgotten fact.
pub async fn forget_facts_used(
    conn: &mut PgConnection,
    user_id: &str,
    ids: Option<&[i64]>,
) -> sqlx::Result<()> {
    match ids {
        Some(ids) => sqlx::query(
            "UPDATE experience
             SET facts_used = ARRAY(SELECT x FROM unnest(facts_used) AS x WHERE x <> ALL($2))
             WHERE user_id = $1 AND facts_used && $2",
        )
        .bind(user_id)
        .bind(ids),
        None => sqlx::query(
            "UPDATE experience SET facts_used = '{}' WHERE user_id = $1 AND facts_used <> '{}'",
        )
        .bind(user_id),
    }
    .execute(conn)
    .await?;
    Ok(())
}

/// An experience row as the behaviour rule and `!stats` read it.
#[derive(Debug, Clone)]
pub struct ExperienceRow {
    pub created_at: DateTime<Utc>,
    /// `answer`, `search` or `ask`, as the gate named it.
    pub gate_action: String,
    pub confidence: Option<f32>,
    pub feedback: Option<i16>,
    pub feedback_at: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    pub searched: bool,
}

/// The user's experience rows created since `since` (all of them when `None`), oldest first.
pub async fn experience_since(
    conn: &mut PgConnection,
    user_id: &str,
    since: Option<DateTime<Utc>>,
) -> sqlx::Result<Vec<ExperienceRow>> {
    Ok(sqlx::query(
        "SELECT created_at, gate_action, confidence, feedback, feedback_at, tags, searched
         FROM experience WHERE user_id = $1 AND ($2::timestamptz IS NULL OR created_at >= $2)
         ORDER BY created_at",
    )
    .bind(user_id)
    .bind(since)
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| ExperienceRow {
        created_at: r.get(0),
        gate_action: r.get(1),
        confidence: r.get(2),
        feedback: r.get(3),
        feedback_at: r.get(4),
        tags: r.get(5),
        searched: r.get(6),
    })
    .collect())
}

/// What the reply guard recorded on the experience row of the reply to `message_event_id`:
/// the flaw it caught and what it did, when it caught one.
pub async fn guard_record(
    pool: &PgPool,
    message_event_id: &str,
) -> sqlx::Result<Option<(Option<String>, Option<String>)>> {
    sqlx::query_as("SELECT guard_flaw, guard_action FROM experience WHERE message_event_id = $1")
        .bind(message_event_id)
        .fetch_optional(pool)
        .await
}

/// What the user asked that the gate looked up on the web, since `since`, oldest first: the
/// message text and when (forgotten messages are left out).
pub async fn searched_requests(
    pool: &PgPool,
    user_id: &str,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<(String, DateTime<Utc>)>> {
    sqlx::query_as(
        "SELECT m.body, e.created_at FROM experience e
         JOIN messages m ON m.event_id = e.message_event_id AND m.user_id = e.user_id
         WHERE e.user_id = $1 AND e.created_at >= $2 AND (e.searched OR e.gate_action = 'search')
           AND m.forgotten_at IS NULL
         ORDER BY e.created_at",
    )
    .bind(user_id)
    .bind(since)
    .fetch_all(pool)
    .await
}

/// An answer the hourly self-review looks at: one the user gave 👎, or one the bot itself
/// could not give.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewItem {
    /// The experience row's id.
    pub id: i64,
    pub room_id: String,
    pub message_event_id: String,
    pub request: String,
    pub reply: String,
    pub feedback: Option<i16>,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// Answers since `since` that got 👎 or whose text may be a refusal, with what was asked
/// (forgotten messages are left out), oldest first. `reviewed` are skipped.
pub async fn review_items(
    pool: &PgPool,
    user_id: &str,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<ReviewItem>> {
    Ok(sqlx::query(
        "SELECT e.id, e.room_id, e.message_event_id, m.body, COALESCE(r.body, ''), e.feedback, e.tags, e.created_at
         FROM experience e
         JOIN messages m ON m.event_id = e.message_event_id AND m.user_id = e.user_id
         LEFT JOIN messages r ON r.event_id = e.reply_event_id AND r.user_id = e.user_id
         WHERE e.user_id = $1 AND e.created_at >= $2 AND m.forgotten_at IS NULL
           AND (e.feedback = -1 OR r.body ~* '(i can''t|i cannot|i am unable|i''m unable|i am not able|i''m not able|i don''t have (the ability|access)|not possible for me)')
           AND NOT EXISTS (SELECT 1 FROM self_reviews s WHERE s.user_id = e.user_id AND s.source = 'answer' AND s.source_id = e.id)
         ORDER BY e.created_at",
    )
    .bind(user_id)
    .bind(since)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| ReviewItem {
        id: r.get(0),
        room_id: r.get(1),
        message_event_id: r.get(2),
        request: r.get(3),
        reply: r.get(4),
        feedback: r.get(5),
        tags: r.get(6),
        created_at: r.get(7),
    })
    .collect())
}

/// Records that the self-review looked at answer `experience_id` and what came of it.
/// Returns false when it had already been reviewed.
pub async fn mark_reviewed(
    pool: &PgPool,
    user_id: &str,
    experience_id: i64,
    outcome: &str,
) -> sqlx::Result<bool> {
    mark_source_reviewed(pool, user_id, "answer", experience_id, outcome).await
}

/// Records that the self-review looked at `source_id` of `source` (`answer`: an experience
/// row; `tool_run`: a failed tool run). Returns false when it had already been reviewed.
pub async fn mark_source_reviewed(
    pool: &PgPool,
    user_id: &str,
    source: &str,
    source_id: i64,
    outcome: &str,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "INSERT INTO self_reviews (user_id, source, source_id, outcome) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(source)
    .bind(source_id)
    .bind(outcome)
    .execute(pool)
    .await?
    .rows_affected()
        > 0)
}

/// What the self-review proposed since `since` (outcomes other than "nothing").
pub async fn reviews_since(
    pool: &PgPool,
    user_id: &str,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT outcome FROM self_reviews WHERE user_id = $1 AND created_at >= $2 AND outcome <> 'nothing' ORDER BY id",
    )
    .bind(user_id)
    .bind(since)
    .fetch_all(pool)
    .await
}

/// The tags of the user's answers given 👎 since `since` (one list per answer).
pub async fn thumbs_down_tags(
    pool: &PgPool,
    user_id: &str,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<Vec<String>>> {
    sqlx::query_scalar(
        "SELECT tags FROM experience WHERE user_id = $1 AND created_at >= $2 AND feedback = -1 ORDER BY id",
    )
    .bind(user_id)
    .bind(since)
    .fetch_all(pool)
    .await
}
