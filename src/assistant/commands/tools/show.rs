//! `!tools show NAME`: a tool's concept, code, scan, approval history and latest runs.

use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::store;
use crate::tools::present;

/// Runs listed on a tool's page.
const RUNS: i64 = 5;

pub(super) async fn run(a: &Assistant, m: &IncomingMessage, name: &str) -> anyhow::Result<()> {
    let Some(tool) = store::tools::by_name(&a.db, &m.sender, name).await? else {
        return super::no_such_tool(a, m, name).await;
    };
    let history = store::tools::approvals(&a.db, tool.id).await?;
    let runs = store::tools::runs(&a.db, tool.id, RUNS).await?;
    a.reply(m, &present::show(&tool, &history, &runs)).await
}
