//! The memory commands: `!memory`, `!remember`, `!forget` (confirmed with ✅) and `!export`.
//! The data work is in [`crate::memory`]; this file words the answers and runs approvals.

use super::Assistant;
use super::commands::ForgetTarget;
use crate::chat::IncomingMessage;
use crate::memory::{self, Fact};
use crate::store::approvals::{self, Approval};

/// How many facts a listing shows before saying how many more there are.
const LIST_LIMIT: usize = 200;

fn line(f: &Fact) -> String {
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

impl Assistant {
    pub(crate) async fn memory_list(
        &self,
        m: &IncomingMessage,
        search: Option<&str>,
    ) -> anyhow::Result<String> {
        Ok(match search {
            None => {
                let groups = memory::list_grouped(&self.db, &m.sender).await?;
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
                    out.push_str(&format!("\n…and {} more. Use `!memory search <words>` or `!export` for everything.\n", total - shown));
                }
                out.push_str(
                    "\n`!forget <id>` erases one; `!export` gives you everything as a file.",
                );
                out
            }
            Some(words) => {
                let hits = memory::search(&self.db, &self.llm, &m.sender, words, 10).await?;
                if hits.is_empty() {
                    format!("Nothing in my memory matches “{words}”.")
                } else {
                    let mut out = format!("What I remember about “{words}”:\n\n");
                    for h in &hits {
                        out.push_str(&line(&h.fact));
                        out.push('\n');
                    }
                    out
                }
            }
        })
    }

    pub(crate) async fn memory_remember(
        &self,
        m: &IncomingMessage,
        text: &str,
    ) -> anyhow::Result<String> {
        let fact = memory::remember(&self.db, &self.llm, &m.sender, text, &m.event_id).await?;
        Ok(format!(
            "I'll remember that (`#{}`, {}).",
            fact.id,
            fact.category.as_str()
        ))
    }

    /// Shows what would be erased and asks for ✅; the approval runs in [`Self::decide`].
    pub(crate) async fn memory_forget(
        &self,
        m: &IncomingMessage,
        target: &ForgetTarget,
    ) -> anyhow::Result<()> {
        let (text, kind, payload) = match target {
            ForgetTarget::Everything => {
                let n = memory::live_count(&self.db, &m.sender).await?;
                if n == 0 {
                    let text = "There is nothing in my memory to erase.";
                    return self
                        .say(
                            &m.room_id,
                            &m.sender,
                            text,
                            m.thread_root.clone(),
                            Some(m.event_id.clone()),
                        )
                        .await;
                }
                (
                    format!(
                        "This erases **everything** I remember about you ({n} memories), for good. React ✅ to erase it all, or ❌ to keep it."
                    ),
                    "forget_everything",
                    serde_json::json!({}),
                )
            }
            ForgetTarget::Id(id) => self.forget_request(m, &id.to_string()).await?,
            ForgetTarget::Words(words) => self.forget_request(m, words).await?,
        };
        if kind.is_empty() {
            return self
                .say(
                    &m.room_id,
                    &m.sender,
                    &text,
                    m.thread_root.clone(),
                    Some(m.event_id.clone()),
                )
                .await;
        }
        let event_id = self
            .say_returning_id(
                &m.room_id,
                &m.sender,
                &text,
                m.thread_root.clone(),
                Some(m.event_id.clone()),
            )
            .await?;
        self.with_db_retry("store the approval", || {
            approvals::create(&self.db, &m.sender, &m.room_id, &event_id, kind, &payload)
        })
        .await?;
        // A newer request of the same kind replaces older unanswered ones.
        approvals::expire_older(&self.db, &m.sender, kind, &event_id).await?;
        Ok(())
    }

    async fn forget_request(
        &self,
        m: &IncomingMessage,
        what: &str,
    ) -> anyhow::Result<(String, &'static str, serde_json::Value)> {
        let facts = memory::find(&self.db, &m.sender, what).await?;
        if facts.is_empty() {
            return Ok((
                format!(
                    "I found no memory matching “{what}”. `!memory` lists them with their ids."
                ),
                "",
                serde_json::Value::Null,
            ));
        }
        let mut text = format!(
            "React ✅ to erase {} for good, or ❌ to keep {}:\n\n",
            plural(facts.len()),
            if facts.len() == 1 { "it" } else { "them" }
        );
        for f in facts.iter().take(LIST_LIMIT) {
            text.push_str(&line(f));
            text.push('\n');
        }
        let ids: Vec<i64> = facts.iter().map(|f| f.id).collect();
        Ok((text, "forget", serde_json::json!({ "ids": ids })))
    }

    pub(crate) async fn memory_export(&self, m: &IncomingMessage) -> anyhow::Result<()> {
        let data = memory::export(&self.db, &m.sender).await?;
        let bytes = serde_json::to_vec_pretty(&data)?;
        let name = format!("3am-memory-{}.json", chrono::Utc::now().format("%Y-%m-%d"));
        self.outbox
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
        self.say(
            &m.room_id,
            &m.sender,
            &text,
            m.thread_root.clone(),
            Some(m.event_id.clone()),
        )
        .await
    }

    /// Carries out (or drops) an approval the owner just decided.
    pub(crate) async fn decide(&self, a: Approval) -> anyhow::Result<()> {
        let text = match (a.kind.as_str(), a.approved) {
            ("forget", true) => {
                let ids: Vec<i64> =
                    serde_json::from_value(a.payload["ids"].clone()).unwrap_or_default();
                let n = memory::forget(&self.db, &a.user_id, &ids).await?;
                format!("Done: I erased {}. They are gone for good.", plural(n))
            }
            ("forget_everything", true) => {
                let n = memory::forget_everything(&self.db, &a.user_id).await?;
                format!(
                    "Done: I erased everything I remembered about you ({}).",
                    plural(n)
                )
            }
            ("forget" | "forget_everything", false) => "OK, I kept them.".to_owned(),
            (other, _) => {
                tracing::warn!(kind = other, "approval of an unknown kind");
                return Ok(());
            }
        };
        self.say(
            &a.room_id,
            &a.user_id,
            &text,
            None,
            Some(a.event_id.clone()),
        )
        .await
    }
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 memory".to_owned()
    } else {
        format!("{n} memories")
    }
}
