//! Stage 7: the behaviour profile update from the experience log
//! ([`crate::behaviour::store::nightly_update`], with the pure rule in
//! [`crate::behaviour::update`]): the last 14 days of rated replies, only evidence newer than
//! the current version, bounded steps.
//!
//! It runs inside the stage's transaction (`conn` is that transaction), after the memory
//! stages and before the user profile, so a crash before the checkpoint leaves no new version
//! behind and the rerun decides again from the same evidence. The returned sentences are the
//! changes in plain words ("When I'm unsure I'll search the web first: …"); the cycle stores
//! them in the run's statistics and the morning digest shows them under "How I'll behave".

/// Updates the user's behaviour profile; returns what changed, in plain words.
pub async fn run(
    conn: &mut sqlx::PgConnection,
    user_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Vec<String>> {
    Ok(crate::behaviour::store::nightly_update(conn, user_id, now).await?)
}
