//! `!tools`: installed tools and the ones being built, and whether tools work on this machine.

use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::store;
use crate::tools::present;

pub(super) async fn run(a: &Assistant, m: &IncomingMessage) -> anyhow::Result<()> {
    let tools = store::tools::list(&a.db, &m.sender).await?;
    let disabled = a.sandbox().await.err();
    a.reply(m, &present::list(&tools, disabled.as_deref()))
        .await
}
