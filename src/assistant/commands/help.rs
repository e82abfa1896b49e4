//! `!help [command]`: the list of commands, or how to use one.

use super::{COMMANDS, Spec, help_text};
use crate::assistant::Assistant;
use crate::chat::IncomingMessage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Help {
    /// A command's name, without the `!`.
    pub topic: Option<String>,
}

impl Help {
    pub const SPEC: Spec = Spec {
        name: "help",
        aliases: &["h", "?"],
        usage: "!help [command]",
        what: "list the commands, or explain one",
    };

    pub fn parse(args: &str) -> Option<Self> {
        Some(Help {
            topic: (!args.is_empty()).then(|| args.trim_start_matches('!').to_lowercase()),
        })
    }

    pub async fn run(self, a: &Assistant, m: &IncomingMessage) -> anyhow::Result<()> {
        debug_assert!(!COMMANDS.is_empty());
        a.reply(m, &help_text(self.topic.as_deref())).await
    }
}
