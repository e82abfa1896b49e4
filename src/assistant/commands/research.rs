//! `!research`: topics the bot keeps an eye on in idle hours, and what it found. `!research`
//! lists them with the latest findings; the subcommands, one file each under `research/`:
//! `add <topic>`, `show <topic>`, `delete <id…|topic>` (after ✅), `pause` / `resume`, and
//! `now <topic>` (researches it at once, showing progress in one edited message).

mod add;
mod delete;
mod list;
mod now;
mod pause;
mod show;

use super::Spec;
use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::research::present::{FindingLine, TopicLine};
use crate::store::research as rs;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResearchAction {
    List,
    Add(String),
    Show(String),
    /// Finding ids, or a topic's name.
    Delete(DeleteTarget),
    Pause(bool),
    Now(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteTarget {
    Findings(Vec<i64>),
    Topic(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Research {
    pub action: ResearchAction,
}

impl Research {
    pub const SPEC: Spec = Spec {
        name: "research",
        aliases: &[],
        usage: "!research [add <topic> | show <topic> | delete <id…|topic> | pause | resume | now <topic>]",
        what: "topics I keep an eye on in quiet hours, and what I found",
    };

    pub fn parse(args: &str) -> Option<Self> {
        let (sub, rest) = match args.split_once(char::is_whitespace) {
            Some((s, r)) => (s, r.trim()),
            None => (args, ""),
        };
        let topic = |r: &str| {
            let t = r.trim().trim_matches(['"', '“', '”', '`']).trim();
            (!t.is_empty()).then(|| t.to_owned())
        };
        let action = match sub.to_lowercase().as_str() {
            "" | "list" => ResearchAction::List,
            "add" => ResearchAction::Add(topic(rest)?),
            "show" => ResearchAction::Show(topic(rest)?),
            "now" => ResearchAction::Now(topic(rest)?),
            "pause" | "stop" if rest.is_empty() => ResearchAction::Pause(true),
            "resume" | "start" if rest.is_empty() => ResearchAction::Pause(false),
            "delete" | "remove" | "forget" => {
                let t = topic(rest)?;
                ResearchAction::Delete(match crate::memory::control::parse_ids(&t) {
                    Some(ids) => DeleteTarget::Findings(ids),
                    None => DeleteTarget::Topic(t),
                })
            }
            _ => return None,
        };
        Some(Research { action })
    }

    pub async fn run(self, a: &Assistant, m: &IncomingMessage) -> anyhow::Result<()> {
        match self.action {
            ResearchAction::List => list::run(a, m).await,
            ResearchAction::Add(t) => add::run(a, m, &t).await,
            ResearchAction::Show(t) => show::run(a, m, &t).await,
            ResearchAction::Delete(target) => delete::run(a, m, target).await,
            ResearchAction::Pause(on) => pause::run(a, m, on).await,
            ResearchAction::Now(t) => now::run(a, m, &t).await,
        }
    }
}

fn topic_line(t: &rs::Topic, findings: usize) -> TopicLine {
    TopicLine {
        topic: t.topic.clone(),
        status: t.status.clone(),
        query: t.query.clone(),
        last_researched: t.last_researched_at,
        backoff_until: t.backoff_until,
        findings,
    }
}

fn finding_line(f: &rs::Finding) -> FindingLine {
    FindingLine {
        id: f.id,
        topic: f.topic.clone(),
        statement: f.statement.clone(),
        url: f.url.clone(),
        page_date: f.page_date,
        confidence: f.confidence,
    }
}

/// "I have no research topic called …".
async fn no_such_topic(a: &Assistant, m: &IncomingMessage, name: &str) -> anyhow::Result<()> {
    a.reply(
        m,
        &format!("I have no research topic called “{name}”. `!research` lists yours."),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommands_parse() {
        let p = |s: &str| Research::parse(s).map(|r| r.action);
        assert_eq!(p(""), Some(ResearchAction::List));
        assert_eq!(
            p("add Rust releases"),
            Some(ResearchAction::Add("Rust releases".into()))
        );
        assert_eq!(p("add"), None);
        assert_eq!(p("show “owls”"), Some(ResearchAction::Show("owls".into())));
        assert_eq!(p("now owls"), Some(ResearchAction::Now("owls".into())));
        assert_eq!(p("pause"), Some(ResearchAction::Pause(true)));
        assert_eq!(p("resume"), Some(ResearchAction::Pause(false)));
        assert_eq!(p("pause owls"), None);
        assert_eq!(
            p("delete 3, #5"),
            Some(ResearchAction::Delete(DeleteTarget::Findings(vec![3, 5])))
        );
        assert_eq!(
            p("delete owls"),
            Some(ResearchAction::Delete(DeleteTarget::Topic("owls".into())))
        );
        assert_eq!(p("dance"), None);
    }
}
