//! `!export`: the whole memory of the user as a JSON file in the room (encrypted like any
//! attachment in an encrypted room).

use super::Spec;
use super::memory::plural;
use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::memory;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export;

impl Export {
    pub const SPEC: Spec = Spec {
        name: "export",
        aliases: &[],
        usage: "!export",
        what: "send my whole memory of you as a JSON file",
    };

    pub fn parse(_args: &str) -> Option<Self> {
        Some(Export)
    }

    pub async fn run(self, a: &Assistant, m: &IncomingMessage) -> anyhow::Result<()> {
        let data = memory::export(&a.db, &m.sender).await?;
        let bytes = serde_json::to_vec_pretty(&data)?;
        let name = format!("3am-memory-{}.json", chrono::Utc::now().format("%Y-%m-%d"));
        a.outbox
            .upload(&m.room_id, &name, "application/json", bytes)
            .await?;
        let n = data
            .get("facts")
            .and_then(|f| f.as_array())
            .map_or(0, Vec::len);
        let text = format!(
            "Here is everything I remember about you ({}), as JSON.",
            plural(n)
        );
        a.reply(m, &text).await
    }
}
