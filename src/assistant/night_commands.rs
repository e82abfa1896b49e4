//! The night commands: `!night` (run the cycle now), `!digest` (the latest digest) and
//! `!timezone` (show or set the zone the schedule follows). The work is in [`crate::night`];
//! this file words the answers.

use chrono_tz::Tz;

use super::Assistant;
use crate::chat::IncomingMessage;
use crate::night::{self, RunOutcome};

impl Assistant {
    pub(crate) async fn night_now(&self, m: &IncomingMessage) -> anyhow::Result<String> {
        self.say(
            &m.room_id,
            &m.sender,
            "Starting my night cycle now; this can take a few minutes…",
            m.thread_root.clone(),
            Some(m.event_id.clone()),
        )
        .await?;
        let outcome = night::run_now(
            &self.db,
            &self.llm,
            &self.cfg.schedule,
            &m.sender,
            chrono::Utc::now(),
        )
        .await;
        Ok(match outcome {
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
        })
    }

    pub(crate) async fn digest_latest(&self, m: &IncomingMessage) -> anyhow::Result<String> {
        Ok(match night::latest_digest(&self.db, &m.sender).await? {
            Some(d) => format!(
                "_Digest for {}{}:_\n\n{}",
                d.for_date,
                if d.sent_at.is_some() { "" } else { " (not yet sent)" },
                d.body
            ),
            None => "No digest yet: I write one after a night in which I learned something. `!night` runs a night now.".into(),
        })
    }

    pub(crate) async fn timezone_command(
        &self,
        m: &IncomingMessage,
        zone: Option<&str>,
    ) -> anyhow::Result<String> {
        let s = &self.cfg.schedule;
        let Some(zone) = zone else {
            let tz = night::user_timezone(&self.db, s, &m.sender).await?;
            return Ok(format!(
                "Your time zone is **{}**: my night runs at {} and your digest arrives at {} there. Change it with `!timezone Area/City`, e.g. `!timezone Europe/Berlin`.",
                tz.name(),
                s.night_time,
                s.digest_time
            ));
        };
        match parse_zone(zone) {
            Some(tz) => {
                night::set_timezone(&self.db, &m.sender, tz).await?;
                let now = chrono::Utc::now().with_timezone(&tz);
                Ok(format!(
                    "Time zone set to **{}** (it's {} there now). My night runs at {} and your digest arrives at {} in it.",
                    tz.name(),
                    now.format("%H:%M"),
                    s.night_time,
                    s.digest_time
                ))
            }
            None => Ok(format!(
                "I don't know the time zone `{zone}`. Use an IANA name like `Europe/Berlin`, `America/New_York` or `Asia/Tokyo`: `!timezone Europe/Berlin`."
            )),
        }
    }
}

/// An IANA zone name, case-insensitively ("europe/berlin" works; "UTC" too).
pub fn parse_zone(s: &str) -> Option<Tz> {
    let s = s.trim();
    s.parse::<Tz>().ok().or_else(|| {
        chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(s))
            .copied()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_parse_case_insensitively_and_reject_nonsense() {
        assert_eq!(parse_zone("Europe/Berlin").unwrap().name(), "Europe/Berlin");
        assert_eq!(
            parse_zone(" europe/berlin ").unwrap().name(),
            "Europe/Berlin"
        );
        assert_eq!(parse_zone("UTC").unwrap().name(), "UTC");
        assert!(parse_zone("Mars/Olympus").is_none());
        assert!(parse_zone("").is_none());
    }
}
