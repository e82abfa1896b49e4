//! `!research now <topic>`: researches a topic at once (adding it if it is new), showing each
//! step in one message that is edited as it goes, and ending with what was found.

use chrono::Utc;

use crate::assistant::Assistant;
use crate::assistant::researcher::Progress;
use crate::chat::{IncomingMessage, OutMessage};
use crate::research::proposals;
use crate::store::research as rs;

pub(super) async fn run(a: &Assistant, m: &IncomingMessage, name: &str) -> anyhow::Result<()> {
    if a.web.is_none() {
        return a
            .reply(
                m,
                "Web search is off in my configuration (`web.enabled`), so I can't research anything.",
            )
            .await;
    }
    let topic = match rs::topic_named(&a.db, &m.sender, name).await? {
        Some(t) if t.status == "approved" => t,
        _ if !proposals::usable(name) => {
            return a
                .reply(
                    m,
                    "A topic is a few words about a subject, e.g. `!research now Rust releases`.",
                )
                .await;
        }
        // Asking for it now is approving it.
        _ => {
            rs::add_topic(
                &a.db,
                rs::NewTopic {
                    user_id: &m.sender,
                    room_id: &m.room_id,
                    topic: name,
                    query: &proposals::query_for(name),
                    reason: "you asked for it",
                    origin: rs::Origin::Added,
                },
                Utc::now(),
            )
            .await?
            .0
        }
    };
    // Sent as still in progress, so clients wait for the last edit (the report).
    let start = format!("🔎 Researching **{}**…", topic.topic);
    let event_id = a
        .outbox
        .send(
            &m.room_id,
            &OutMessage {
                markdown: start.clone(),
                complete: false,
                thread_root: m.thread_root.clone(),
                reply_to: Some(m.event_id.clone()),
                once: Some(format!("research now for {}", m.event_id)),
            },
        )
        .await?;
    crate::store::messages::record_bot_message(
        &a.db,
        &m.sender,
        &m.room_id,
        &event_id,
        &start,
        Some(&m.event_id),
    )
    .await?;
    let result = a
        .research_topic(
            &topic,
            "now",
            Utc::now(),
            Some(Progress {
                room_id: &m.room_id,
                event_id: &event_id,
            }),
        )
        .await;
    let text = match &result {
        Ok(report) => report.markdown(),
        // The message must not stay "in progress"; the pages read so far are kept.
        Err(e) => format!(
            "I could not finish researching **{}**: {e:#}. What I read so far is kept; the rest \
             follows in a quiet hour.",
            topic.topic
        ),
    };
    let done = OutMessage {
        markdown: text,
        complete: true,
        thread_root: m.thread_root.clone(),
        reply_to: Some(m.event_id.clone()),
        once: None,
    };
    a.outbox.edit(&m.room_id, &event_id, &done).await?;
    Ok(())
}
