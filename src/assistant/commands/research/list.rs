//! `!research`: the topics (approved, proposed) with their state, then the latest findings.

use chrono::Utc;

use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::research::present;
use crate::store::research as rs;

pub(super) async fn run(a: &Assistant, m: &IncomingMessage) -> anyhow::Result<()> {
    let topics = rs::topics(&a.db, &m.sender, &["approved", "proposed"]).await?;
    let counts = rs::finding_counts(&a.db, &m.sender).await?;
    let lines: Vec<_> = topics
        .iter()
        .map(|t| super::topic_line(t, counts.get(&t.id).copied().unwrap_or(0) as usize))
        .collect();
    let latest: Vec<_> = rs::findings(&a.db, &m.sender, None, 8)
        .await?
        .iter()
        .map(super::finding_line)
        .collect();
    let paused = rs::paused(&a.db, &m.sender).await?;
    let mut text = present::list(&lines, &latest, paused, Utc::now());
    if a.web.is_none() {
        text.push_str("\n\n⚠️ Web search is off in my configuration (`web.enabled`), so I can't research anything.");
    }
    a.reply(m, &text).await
}
