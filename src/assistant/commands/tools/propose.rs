//! `!tools propose <what it should do>`: stage 1 of a new tool (see
//! [`crate::assistant::toolsmith`]).

use crate::assistant::Assistant;
use crate::chat::IncomingMessage;

pub(super) async fn run(a: &Assistant, m: &IncomingMessage, what: &str) -> anyhow::Result<()> {
    a.propose_tool(m, what, None).await
}
