//! `!research delete <id…|topic>`: asks for ✅, then deletes the findings and erases the
//! memories made from them (a topic is deleted with all its findings and not researched or
//! proposed again; its pages stay marked read, so what was deleted does not come back).

use serde_json::json;

use super::DeleteTarget;
use crate::assistant::Assistant;
use crate::assistant::researcher::DELETE;
use crate::chat::IncomingMessage;
use crate::research::present;
use crate::store::{approvals, research as rs};

pub(super) async fn run(
    a: &Assistant,
    m: &IncomingMessage,
    target: DeleteTarget,
) -> anyhow::Result<()> {
    let (findings, topic) = match &target {
        DeleteTarget::Findings(ids) => (rs::findings_by_id(&a.db, &m.sender, ids).await?, None),
        DeleteTarget::Topic(name) => {
            let Some(t) = rs::topic_named(&a.db, &m.sender, name).await? else {
                return super::no_such_topic(a, m, name).await;
            };
            (
                rs::findings(&a.db, &m.sender, Some(t.id), 10_000).await?,
                Some(t),
            )
        }
    };
    if findings.is_empty() && topic.is_none() {
        return a
            .reply(
                m,
                "I have no findings with those numbers. `!research` lists them.",
            )
            .await;
    }
    let lines: Vec<_> = findings.iter().map(super::finding_line).collect();
    let text = present::delete_question(&lines, topic.as_ref().map(|t| t.topic.as_str()));
    let event_id = a.reply_returning_id(m, &text).await?;
    let ids: Vec<i64> = findings.iter().map(|f| f.id).collect();
    approvals::create(
        &a.db,
        &m.sender,
        &m.room_id,
        &event_id,
        DELETE,
        &json!({"finding_ids": ids, "topic_id": topic.map(|t| t.id)}),
    )
    .await?;
    Ok(())
}
