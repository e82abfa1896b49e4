//! `!research add <topic>`: a topic to keep an eye on, approved at once (the owner asked).

use chrono::Utc;

use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::research::proposals;
use crate::store::research as rs;

pub(super) async fn run(a: &Assistant, m: &IncomingMessage, topic: &str) -> anyhow::Result<()> {
    if !proposals::usable(topic) {
        return a
            .reply(
                m,
                "A topic is a few words about a subject (not about a person), e.g. `!research add Rust releases`.",
            )
            .await;
    }
    let (t, new) = rs::add_topic(
        &a.db,
        rs::NewTopic {
            user_id: &m.sender,
            room_id: &m.room_id,
            topic,
            query: &proposals::query_for(topic),
            reason: "you added it",
            origin: rs::Origin::Added,
        },
        Utc::now(),
    )
    .await?;
    let per_day = a.cfg.research.topics_per_day;
    a.reply(
        m,
        &format!(
            "{} **{}**: in quiet hours I'll search the web for “{}” (up to {per_day} topics a day) \
             and tell you what is new in the morning digest. `!research now {}` does it right away.",
            if new { "Added" } else { "Keeping an eye on" },
            t.topic,
            t.query,
            t.topic
        ),
    )
    .await
}
