//! `!remember <text>`: stores a fact exactly as the user wrote it (priority 5).

use super::Spec;
use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::memory;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remember {
    pub text: String,
}

impl Remember {
    pub const SPEC: Spec = Spec {
        name: "remember",
        aliases: &[],
        usage: "!remember <text>",
        what: "store a fact exactly as you write it",
    };

    pub fn parse(args: &str) -> Option<Self> {
        (!args.is_empty()).then(|| Remember {
            text: args.to_owned(),
        })
    }

    pub async fn run(self, a: &Assistant, m: &IncomingMessage) -> anyhow::Result<()> {
        let fact = memory::remember(&a.db, &a.llm, &m.sender, &self.text, &m.event_id).await?;
        let text = format!(
            "I'll remember that (`#{}`, {}).",
            fact.id,
            fact.category.as_str()
        );
        a.reply(m, &text).await
    }
}
