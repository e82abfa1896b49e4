//! Stage 7: the behaviour profile update from the day's experience log. A hook for the
//! decision-gate work, which fills it in; until then it changes nothing.
//!
//! It runs inside the stage's transaction (`conn` is that transaction), after the memory
//! stages and before the user profile. The returned sentences are plain-language behaviour
//! changes ("I'll search the web sooner when I'm unsure"); the cycle stores them in the run's
//! statistics and the morning digest shows them under "How I'll behave".

/// Updates the user's behaviour profile; returns what changed, in plain words.
pub async fn run(
    conn: &mut sqlx::PgConnection,
    user_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Vec<String>> {
    let _ = (conn, user_id, now);
    Ok(Vec::new())
}
