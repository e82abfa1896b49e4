//! `!memory [search <words>]`: what 3AM remembers about the user, grouped by topic, or the
//! memories matching some words. The data work is in [`crate::memory`].

use super::Spec;
use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::memory::{self, Fact};

/// How many facts a listing shows before saying how many more there are.
pub(super) const LIST_LIMIT: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memory {
    pub search: Option<String>,
}

impl Memory {
    pub const SPEC: Spec = Spec {
        name: "memory",
        aliases: &["memories"],
        usage: "!memory [search <words>]",
        what: "list what I remember about you by topic, or search it",
    };

    pub fn parse(args: &str) -> Option<Self> {
        let (sub, rest) = match args.split_once(char::is_whitespace) {
            Some((a, b)) => (a.to_lowercase(), b.trim()),
            None => (args.to_lowercase(), ""),
        };
        match sub.as_str() {
            "" => Some(Memory { search: None }),
            "search" | "find" if !rest.is_empty() => Some(Memory {
                search: Some(rest.to_owned()),
            }),
            "search" | "find" => None,
            // `!memory lyon` reads as a search too.
            _ => Some(Memory {
                search: Some(args.to_owned()),
            }),
        }
    }

    pub async fn run(self, a: &Assistant, m: &IncomingMessage) -> anyhow::Result<()> {
        let text = match self.search {
            None => listing(a, m).await?,
            Some(words) => found(a, m, &words).await?,
        };
        a.reply(m, &text).await
    }
}

async fn listing(a: &Assistant, m: &IncomingMessage) -> anyhow::Result<String> {
    let groups = memory::list_grouped(&a.db, &m.sender).await?;
    let total: usize = groups.iter().map(|(_, f)| f.len()).sum();
    if total == 0 {
        return Ok("I don't remember anything about you yet. Tell me about yourself, or use `!remember <text>`.".into());
    }
    let mut out = format!(
        "I remember {total} thing{} about you:\n",
        if total == 1 { "" } else { "s" }
    );
    let mut shown = 0;
    for (name, facts) in &groups {
        out.push_str(&format!("\n**{name}**\n"));
        for f in facts {
            if shown == LIST_LIMIT {
                break;
            }
            out.push_str(&line(f));
            out.push('\n');
            shown += 1;
        }
    }
    if shown < total {
        out.push_str(&format!(
            "\n…and {} more. Use `!memory search <words>` or `!export` for everything.\n",
            total - shown
        ));
    }
    out.push_str("\n`!forget <id>` erases one; `!export` gives you everything as a file.");
    Ok(out)
}

async fn found(a: &Assistant, m: &IncomingMessage, words: &str) -> anyhow::Result<String> {
    let hits = memory::search(&a.db, &a.llm, &m.sender, words, 10).await?;
    if hits.is_empty() {
        return Ok(format!("Nothing in my memory matches “{words}”."));
    }
    let mut out = format!("What I remember about “{words}”:\n\n");
    for h in &hits {
        out.push_str(&line(&h.fact));
        out.push('\n');
    }
    Ok(out)
}

/// One fact as a list item: id, text, category, priority, and whether it is outdated.
pub(super) fn line(f: &Fact) -> String {
    let mut s = format!(
        "- `#{}` {} _({}, priority {})_",
        f.id,
        f.text.replace('\n', " "),
        f.category.as_str(),
        f.priority
    );
    if f.valid_to.is_some() || f.superseded_by.is_some() {
        s.push_str(" _(outdated)_");
    }
    s
}

/// "1 memory", "3 memories".
pub(super) fn plural(n: usize) -> String {
    if n == 1 {
        "1 memory".to_owned()
    } else {
        format!("{n} memories")
    }
}
