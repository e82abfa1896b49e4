//! `!forget <id | words | everything>`: shows what would be erased and asks for ✅; the
//! owner's ✅ erases for good ([`decided`]), ❌ keeps everything.

use super::Spec;
use super::memory::{LIST_LIMIT, line, plural};
use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::memory;
use crate::store::approvals::{self, Approval};

/// The approval kinds this command creates.
pub const KINDS: [&str; 2] = [FORGET, FORGET_EVERYTHING];
const FORGET: &str = "forget";
const FORGET_EVERYTHING: &str = "forget_everything";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForgetTarget {
    Id(i64),
    Words(String),
    Everything,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forget {
    pub target: ForgetTarget,
}

impl Forget {
    pub const SPEC: Spec = Spec {
        name: "forget",
        aliases: &[],
        usage: "!forget <id | words | everything>",
        what: "forget facts, after you confirm with ✅",
    };

    pub fn parse(args: &str) -> Option<Self> {
        let target = match args {
            "" => return None,
            a if a.eq_ignore_ascii_case("everything") || a.eq_ignore_ascii_case("all") => {
                ForgetTarget::Everything
            }
            a => match a.trim_start_matches('#').parse::<i64>() {
                Ok(id) if id > 0 => ForgetTarget::Id(id),
                _ => ForgetTarget::Words(a.to_owned()),
            },
        };
        Some(Forget { target })
    }

    pub async fn run(self, a: &Assistant, m: &IncomingMessage) -> anyhow::Result<()> {
        let request = match &self.target {
            ForgetTarget::Everything => everything(a, m).await?,
            ForgetTarget::Id(id) => matching(a, m, &id.to_string()).await?,
            ForgetTarget::Words(words) => matching(a, m, words).await?,
        };
        let (text, kind, payload) = match request {
            Request::Nothing(text) => return a.reply(m, &text).await,
            Request::Confirm {
                text,
                kind,
                payload,
            } => (text, kind, payload),
        };
        let event_id = a.reply_returning_id(m, &text).await?;
        a.with_db_retry("store the approval", || {
            approvals::create(&a.db, &m.sender, &m.room_id, &event_id, kind, &payload)
        })
        .await?;
        // A newer request of the same kind replaces older unanswered ones.
        approvals::expire_older(&a.db, &m.sender, kind, &event_id).await?;
        Ok(())
    }
}

enum Request {
    /// Nothing to erase: just say so.
    Nothing(String),
    /// Ask for ✅ with this text; on approval, erase what `payload` names.
    Confirm {
        text: String,
        kind: &'static str,
        payload: serde_json::Value,
    },
}

async fn everything(a: &Assistant, m: &IncomingMessage) -> anyhow::Result<Request> {
    let n = memory::live_count(&a.db, &m.sender).await?;
    if n == 0 {
        return Ok(Request::Nothing(
            "There is nothing in my memory to erase.".into(),
        ));
    }
    Ok(Request::Confirm {
        text: format!(
            "This erases **everything** I remember about you ({n} memories), for good. React ✅ to erase it all, or ❌ to keep it."
        ),
        kind: FORGET_EVERYTHING,
        payload: serde_json::json!({}),
    })
}

async fn matching(a: &Assistant, m: &IncomingMessage, what: &str) -> anyhow::Result<Request> {
    let facts = memory::find(&a.db, &m.sender, what).await?;
    if facts.is_empty() {
        return Ok(Request::Nothing(format!(
            "I found no memory matching “{what}”. `!memory` lists them with their ids."
        )));
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
    Ok(Request::Confirm {
        text,
        kind: FORGET,
        payload: serde_json::json!({ "ids": ids }),
    })
}

/// Carries out (or drops) a forget request the owner just decided; the answer to post.
pub async fn decided(a: &Assistant, approval: &Approval) -> anyhow::Result<String> {
    Ok(match (approval.kind.as_str(), approval.approved) {
        (FORGET, true) => {
            let ids: Vec<i64> =
                serde_json::from_value(approval.payload["ids"].clone()).unwrap_or_default();
            let n = memory::forget(&a.db, &approval.user_id, &ids).await?;
            format!("Done: I erased {}. They are gone for good.", plural(n))
        }
        (FORGET_EVERYTHING, true) => {
            let n = memory::forget_everything(&a.db, &approval.user_id).await?;
            format!(
                "Done: I erased everything I remembered about you ({}).",
                plural(n)
            )
        }
        _ => "OK, I kept them.".to_owned(),
    })
}
