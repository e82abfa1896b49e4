//! `!digest`: the latest morning digest, sent or not yet sent.

use super::Spec;
use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::night;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest;

impl Digest {
    pub const SPEC: Spec = Spec {
        name: "digest",
        aliases: &[],
        usage: "!digest",
        what: "show the latest morning digest",
    };

    pub fn parse(_args: &str) -> Option<Self> {
        Some(Digest)
    }

    pub async fn run(self, a: &Assistant, m: &IncomingMessage) -> anyhow::Result<()> {
        let text = match night::latest_digest(&a.db, &m.sender).await? {
            Some(d) => format!(
                "_Digest for {}{}:_\n\n{}",
                d.for_date,
                if d.sent_at.is_some() { "" } else { " (not yet sent)" },
                d.body
            ),
            None => "No digest yet: I write one after a night in which I learned something. `!night` runs a night now.".into(),
        };
        a.reply(m, &text).await
    }
}
