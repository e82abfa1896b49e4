//! `!status` (or `!ping`): proves the bot is alive and says whether its model server and
//! memory database answer.

use super::Spec;
use crate::assistant::Assistant;
use crate::chat::IncomingMessage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status;

impl Status {
    pub const SPEC: Spec = Spec {
        name: "status",
        aliases: &["ping"],
        usage: "!status",
        what: "show whether my model and memory are reachable, and my version",
    };

    pub fn parse(_args: &str) -> Option<Self> {
        Some(Status)
    }

    pub async fn run(self, a: &Assistant, m: &IncomingMessage) -> anyhow::Result<()> {
        let model = match a.llm.model(crate::llm::ServerKind::Chat).await {
            Ok(m) => format!("my model server is up (model `{m}`)"),
            Err(e) if e.is_transient() => "my model server isn't answering right now".to_owned(),
            Err(e) => format!("my model server has a problem: {e}"),
        };
        let db = if crate::db::ping(&a.db).await {
            "my memory database is reachable"
        } else {
            "my memory database is not reachable"
        };
        let text = format!("3AM {} — {model}; {db}.", env!("CARGO_PKG_VERSION"));
        a.reply(m, &text).await
    }
}
