//! `!tools run NAME {json}`: runs an installed tool in the sandbox and shows its result.

use serde_json::Value;

use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::store;

pub(super) async fn run(
    a: &Assistant,
    m: &IncomingMessage,
    name: &str,
    input: &Value,
) -> anyhow::Result<()> {
    let tool = store::tools::by_name(&a.db, &m.sender, name).await?;
    let Some(tool) = tool.filter(|t| t.stage == "installed") else {
        return super::no_such_tool(a, m, name).await;
    };
    if let Err(why) = crate::tools::call::check_input(&tool.parameters, input) {
        return a
            .reply(
                m,
                &format!(
                    "`{name}` needs {}: {why}.",
                    crate::tools::concept::parameter_line(&tool.parameters)
                ),
            )
            .await;
    }
    let result = a.run_tool(&tool, input, "command").await?;
    a.reply(
        m,
        &format!(
            "🔧 `{name}({input})` → `{}` ({} ms, in the sandbox)",
            crate::text::clip(&result.text(), 1500),
            result.millis
        ),
    )
    .await
}
