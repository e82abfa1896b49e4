//! The behaviour profile's storage (the `behaviour_profile` table, versioned) and the
//! experience samples the learning rule and `!stats` read (through the message store, which
//! owns `experience`). The rule itself is pure ([`crate::behaviour::update`]); this is the
//! behaviour module's only I/O.

use chrono::{DateTime, Duration, Utc};
use sqlx::{PgConnection, PgPool, Row};

use crate::behaviour::{self, BehaviourProfile, ExperienceSample};
use crate::gate::GateAction;
use crate::gate::UnsureAction;
use crate::store::feedback;

/// The user's current profile: the newest version, or the built-in default.
pub async fn current(conn: &mut PgConnection, user_id: &str) -> sqlx::Result<BehaviourProfile> {
    let row = sqlx::query(
        "SELECT version, verbosity, unsure_action, search_threshold, ask_threshold, reason, created_at
         FROM behaviour_profile WHERE user_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        None => BehaviourProfile::default(),
        Some(r) => BehaviourProfile {
            version: r.get(0),
            verbosity: r.get(1),
            unsure_action: r.get::<String, _>(2).parse().unwrap_or(UnsureAction::Hedge),
            search_threshold: r.get(3),
            ask_threshold: r.get(4),
            reason: r.get(5),
            updated_at: Some(r.get(6)),
        },
    })
}

/// [`current`] from the pool.
pub async fn current_profile(pool: &PgPool, user_id: &str) -> sqlx::Result<BehaviourProfile> {
    let mut conn = pool.acquire().await?;
    current(&mut conn, user_id).await
}

/// Writes `profile` as the user's next version (its `version` field is ignored).
pub async fn save(
    conn: &mut PgConnection,
    user_id: &str,
    profile: &BehaviourProfile,
    at: DateTime<Utc>,
) -> sqlx::Result<i32> {
    sqlx::query_scalar(
        "INSERT INTO behaviour_profile (user_id, version, verbosity, unsure_action, search_threshold,
                                        ask_threshold, reason, created_at)
         VALUES ($1, COALESCE((SELECT max(version) FROM behaviour_profile WHERE user_id = $1), 0) + 1,
                 $2, $3, $4, $5, $6, $7)
         RETURNING version",
    )
    .bind(user_id)
    .bind(profile.verbosity)
    .bind(profile.unsure_action.as_str())
    .bind(profile.search_threshold)
    .bind(profile.ask_threshold)
    .bind(&profile.reason)
    .bind(at)
    .fetch_one(conn)
    .await
}

/// The user's replies created since `since` (all of them when `None`), oldest first.
pub async fn samples(
    conn: &mut PgConnection,
    user_id: &str,
    since: Option<DateTime<Utc>>,
) -> sqlx::Result<Vec<ExperienceSample>> {
    Ok(feedback::experience_since(conn, user_id, since)
        .await?
        .into_iter()
        .map(|r| ExperienceSample {
            created_at: r.created_at,
            gate_action: r.gate_action.parse().unwrap_or(GateAction::Answer),
            confidence: r.confidence,
            feedback: r.feedback,
            feedback_at: r.feedback_at,
            tags: r.tags,
            searched: r.searched,
        })
        .collect())
}

/// The night's behaviour stage: applies [`behaviour::update`] to the last
/// [`behaviour::WINDOW_DAYS`] days and stores the new version when it changes anything.
/// Returns the changes in words for the digest (empty when nothing changed). Running it again
/// without new evidence changes nothing: the rule only acts on evidence newer than the
/// current version.
pub async fn nightly_update(
    conn: &mut PgConnection,
    user_id: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<String>> {
    let current = current(&mut *conn, user_id).await?;
    let since = now - Duration::days(behaviour::WINDOW_DAYS);
    let rows = samples(&mut *conn, user_id, Some(since)).await?;
    let Some((next, reasons)) = behaviour::update(&current, &rows, now) else {
        return Ok(Vec::new());
    };
    let version = save(&mut *conn, user_id, &next, now).await?;
    tracing::info!(%user_id, version, profile = %next.summary(), "behaviour profile updated");
    Ok(reasons)
}
