//! `!tools remove NAME`: asks for ✅, then removes the tool (its history stays).

use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::store;

pub(super) async fn run(a: &Assistant, m: &IncomingMessage, name: &str) -> anyhow::Result<()> {
    let tool = store::tools::by_name(&a.db, &m.sender, name).await?;
    match tool {
        Some(t) if t.stage == "installed" => a.ask_removal(&t, m).await,
        Some(t) if t.stage != "removed" && t.stage != "rejected" => {
            // Not installed yet: dropping it needs no ✅ of its own (❌ on its message does
            // the same).
            store::tools::remove(&a.db, t.id).await?;
            a.reply(
                m,
                &format!("Dropped `{name}`, which was not installed yet."),
            )
            .await
        }
        _ => super::no_such_tool(a, m, name).await,
    }
}
