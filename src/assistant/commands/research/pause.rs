//! `!research pause` / `!research resume`: stops and restarts research and topic proposals
//! (findings and topics stay).

use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::store::research as rs;

pub(super) async fn run(a: &Assistant, m: &IncomingMessage, pause: bool) -> anyhow::Result<()> {
    rs::set_paused(&a.db, &m.sender, pause).await?;
    a.reply(
        m,
        if pause {
            "⏸️ Research paused: no searches and no topic suggestions until `!research resume`. Your topics and findings stay."
        } else {
            "▶️ Research resumed: I'll look into your topics in quiet hours again."
        },
    )
    .await
}
