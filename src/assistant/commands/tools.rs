//! `!tools`: the self-made tools. `!tools` lists them (installed, and being built), and the
//! subcommands, one file each under `tools/`: `show NAME` (code, schema, history, runs),
//! `run NAME {json}` (runs it in the sandbox), `remove NAME` (after ✅), `propose <what it
//! should do>` (stage 1 of [`crate::assistant::toolsmith`]).

mod list;
mod propose;
mod remove;
mod run;
mod show;

use serde_json::Value;

use super::Spec;
use crate::assistant::Assistant;
use crate::chat::IncomingMessage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolsAction {
    List,
    Show(String),
    Run { name: String, input: Value },
    Remove(String),
    Propose(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    pub action: ToolsAction,
}

impl Tools {
    pub const SPEC: Spec = Spec {
        name: "tools",
        aliases: &["tool"],
        usage: "!tools [show NAME | run NAME {json} | remove NAME | propose <what it should do>]",
        what: "self-made tools: list, show, run, remove, or propose a new one",
    };

    pub fn parse(args: &str) -> Option<Self> {
        let (sub, rest) = match args.split_once(char::is_whitespace) {
            Some((s, r)) => (s, r.trim()),
            None => (args, ""),
        };
        let name = |r: &str| {
            let n = r.trim().trim_matches('`');
            (!n.is_empty() && !n.contains(char::is_whitespace)).then(|| n.to_lowercase())
        };
        let action = match sub.to_lowercase().as_str() {
            "" | "list" => ToolsAction::List,
            "show" => ToolsAction::Show(name(rest)?),
            "remove" | "delete" => ToolsAction::Remove(name(rest)?),
            "propose" | "new" if !rest.is_empty() => ToolsAction::Propose(rest.to_owned()),
            "run" => {
                let (n, json) = match rest.split_once(char::is_whitespace) {
                    Some((n, j)) => (n, j.trim()),
                    None => (rest, ""),
                };
                let input = if json.is_empty() {
                    Value::Object(Default::default())
                } else {
                    let j = json.trim_matches('`');
                    serde_json::from_str::<Value>(j)
                        .ok()
                        .filter(Value::is_object)?
                };
                ToolsAction::Run {
                    name: name(n)?,
                    input,
                }
            }
            _ => return None,
        };
        Some(Tools { action })
    }

    pub async fn run(self, a: &Assistant, m: &IncomingMessage) -> anyhow::Result<()> {
        match self.action {
            ToolsAction::List => list::run(a, m).await,
            ToolsAction::Show(name) => show::run(a, m, &name).await,
            ToolsAction::Run { name, input } => run::run(a, m, &name, &input).await,
            ToolsAction::Remove(name) => remove::run(a, m, &name).await,
            ToolsAction::Propose(what) => propose::run(a, m, &what).await,
        }
    }
}

/// "I have no tool called …", with what there is.
async fn no_such_tool(a: &Assistant, m: &IncomingMessage, name: &str) -> anyhow::Result<()> {
    a.reply(
        m,
        &format!("I have no tool called `{name}`. `!tools` lists yours."),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subcommands_parse() {
        let p = |s: &str| Tools::parse(s).map(|t| t.action);
        assert_eq!(p(""), Some(ToolsAction::List));
        assert_eq!(
            p("show Days_Between"),
            Some(ToolsAction::Show("days_between".into()))
        );
        assert_eq!(p("show"), None);
        assert_eq!(p("remove x y"), None);
        assert_eq!(
            p("run add {\"a\": 1, \"b\": 2}"),
            Some(ToolsAction::Run {
                name: "add".into(),
                input: json!({"a": 1, "b": 2})
            })
        );
        assert_eq!(
            p("run add `{\"a\": 1}`"),
            Some(ToolsAction::Run {
                name: "add".into(),
                input: json!({"a": 1})
            })
        );
        assert_eq!(
            p("run add"),
            Some(ToolsAction::Run {
                name: "add".into(),
                input: json!({})
            })
        );
        assert_eq!(p("run add [1]"), None);
        assert_eq!(p("run add {oops"), None);
        assert_eq!(
            p("propose count the days between two dates"),
            Some(ToolsAction::Propose(
                "count the days between two dates".into()
            ))
        );
        assert_eq!(p("propose"), None);
        assert_eq!(p("dance"), None);
    }
}
