//! `!stats`: how the user rated the replies, how sure 3AM was, when it searched or asked
//! back, and the current behaviour profile.

use super::Spec;
use crate::assistant::Assistant;
use crate::behaviour;
use crate::chat::IncomingMessage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats;

impl Stats {
    pub const SPEC: Spec = Spec {
        name: "stats",
        aliases: &["statistics"],
        usage: "!stats",
        what: "how my answers are rated, how sure I was, when I searched or asked back, and my current behaviour",
    };

    pub fn parse(_args: &str) -> Option<Self> {
        Some(Stats)
    }

    pub async fn run(self, a: &Assistant, m: &IncomingMessage) -> anyhow::Result<()> {
        let mut conn = a.db.acquire().await?;
        let samples = behaviour::store::samples(&mut conn, &m.sender, None).await?;
        let profile = behaviour::store::current(&mut conn, &m.sender).await?;
        drop(conn);
        let text = if samples.is_empty() {
            format!(
                "No answers to count yet: talk to me, and rate my answers with 👍 or 👎.\n\n**Behaviour (v{}):** {}",
                profile.version,
                profile.summary()
            )
        } else {
            crate::behaviour::stats(&samples).to_markdown(&profile)
        };
        a.reply(m, &text).await
    }
}
