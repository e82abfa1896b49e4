//! `!map [topic]`: the memory map as a picture in the room (encrypted like any attachment),
//! or one topic zoomed in with its facts written out. The drawing is in [`crate::map`].

use super::Spec;
use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::map::build::plural;
use crate::map::{self, MapOutcome};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Map {
    pub topic: Option<String>,
}

impl Map {
    pub const SPEC: Spec = Spec {
        name: "map",
        aliases: &["starmap"],
        usage: "!map [topic]",
        what: "draw my memory of you as a star map, or zoom into one topic",
    };

    pub fn parse(args: &str) -> Option<Self> {
        let topic = args.trim();
        Some(Map {
            topic: (!topic.is_empty()).then(|| topic.to_owned()),
        })
    }

    pub async fn run(self, a: &Assistant, m: &IncomingMessage) -> anyhow::Result<()> {
        let tz = crate::night::user_timezone(&a.db, &a.cfg.schedule, &m.sender).await?;
        let now = chrono::Utc::now();
        let outcome = map::draw_map(&a.db, &m.sender, self.topic.as_deref(), now, tz).await?;
        let text = match outcome {
            MapOutcome::Empty => {
                "I don't remember anything about you yet, so there is no map to draw. Tell me about yourself, or use `!remember <text>`.".to_owned()
            }
            MapOutcome::NoSuchTopic { topics } if topics.is_empty() => {
                "I have not sorted your memories into topics yet (that happens at night); `!map` shows them all.".to_owned()
            }
            MapOutcome::NoSuchTopic { topics } => format!(
                "I have no topic called “{}”. Your topics: {}.",
                self.topic.as_deref().unwrap_or_default(),
                topics.join(", ")
            ),
            MapOutcome::Drawn(image) => {
                let name = format!("3am-map-{}.png", now.with_timezone(&tz).format("%Y-%m-%d"));
                a.outbox
                    .upload(&m.room_id, &name, "image/png", image.png)
                    .await?;
                match image.topic {
                    Some(t) => format!(
                        "**{t}** up close: {} around its sun.",
                        plural(image.facts, "memory", "memories")
                    ),
                    None if image.topics == 0 => format!(
                        "Your memory map: {}, not sorted into topics yet (that happens during my night at 03:00; `!night` runs it now). Bright dots are new this week.",
                        plural(image.facts, "memory", "memories"),
                    ),
                    None => format!(
                        "Your memory map: {} in {}. Bright planets are new this week, hollow ones were replaced. `!map <topic>` zooms in.",
                        plural(image.facts, "memory", "memories"),
                        plural(image.topics, "topic", "topics")
                    ),
                }
            }
        };
        a.reply(m, &text).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_optional_topic() {
        assert_eq!(Map::parse(""), Some(Map { topic: None }));
        assert_eq!(
            Map::parse("  running shoes "),
            Some(Map {
                topic: Some("running shoes".into())
            })
        );
    }
}
