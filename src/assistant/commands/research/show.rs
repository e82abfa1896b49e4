//! `!research show <topic>`: a topic's state, its search and all its findings with sources.

use chrono::Utc;

use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::research::present;
use crate::store::research as rs;

pub(super) async fn run(a: &Assistant, m: &IncomingMessage, name: &str) -> anyhow::Result<()> {
    let Some(t) = rs::topic_named(&a.db, &m.sender, name).await? else {
        return super::no_such_topic(a, m, name).await;
    };
    let findings: Vec<_> = rs::findings(&a.db, &m.sender, Some(t.id), 50)
        .await?
        .iter()
        .map(super::finding_line)
        .collect();
    let line = super::topic_line(&t, findings.len());
    a.reply(m, &present::show(&line, &findings, Utc::now()))
        .await
}
