//! `!night`: runs the night cycle now for the user and reports what it did, with the digest
//! it wrote. The work is in [`crate::night`].

use super::Spec;
use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::night::{self, RunOutcome};

/// Runs of the night a database outage may cut before `!night` reports the failure.
const DB_TRIES: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Night;

impl Night {
    pub const SPEC: Spec = Spec {
        name: "night",
        aliases: &[],
        usage: "!night",
        what: "run my night cycle now (learn from today, tidy my memory) and report what it did",
    };

    pub fn parse(_args: &str) -> Option<Self> {
        Some(Night)
    }

    pub async fn run(self, a: &Assistant, m: &IncomingMessage) -> anyhow::Result<()> {
        a.reply(
            m,
            "Starting my night cycle now; this can take a few minutes…",
        )
        .await?;
        // A database restart mid-night fails the stage it hit; the run resumes at that
        // stage, so the user who asked still gets the report once the database is back.
        let mut outcome;
        let mut tries = 0;
        loop {
            outcome = night::run_now(
                &a.db,
                &a.llm,
                &a.cfg.schedule,
                &m.sender,
                chrono::Utc::now(),
            )
            .await;
            tries += 1;
            match &outcome {
                Err(e) if tries < DB_TRIES && crate::assistant::is_unavailable(e) => {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "the database went away during the night; resuming it"
                    );
                    tokio::time::sleep(a.timing.db_patience / 4).await;
                }
                _ => break,
            }
        }
        let text = match outcome {
            Ok(RunOutcome::Done(report)) => {
                let mut s = night::summary(&report);
                if let Some(d) = &report.digest {
                    s.push_str("\n\n");
                    s.push_str(d);
                } else {
                    s.push_str("\n\nNothing new for a digest.");
                }
                s
            }
            Ok(RunOutcome::Busy) => {
                "My night cycle is already running for you; try `!night` again in a while.".into()
            }
            Ok(RunOutcome::AlreadyDone | RunOutcome::Stopped { .. }) => {
                "The night cycle stopped before finishing (I'm shutting down?); it resumes where it stopped next time.".into()
            }
            Err(e) => format!(
                "The night cycle failed: {e:#}. Nothing is lost: your conversations stay pending and the next run resumes where this one stopped."
            ),
        };
        a.reply(m, &text).await
    }
}
