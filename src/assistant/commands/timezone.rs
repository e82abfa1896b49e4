//! `!timezone [Area/City]`: shows or sets the time zone the night (03:00) and the digest
//! (07:30) follow.

use chrono_tz::Tz;

use super::Spec;
use crate::assistant::Assistant;
use crate::chat::IncomingMessage;
use crate::night;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timezone {
    pub zone: Option<String>,
}

impl Timezone {
    pub const SPEC: Spec = Spec {
        name: "timezone",
        aliases: &["tz"],
        usage: "!timezone [Area/City]",
        what: "show or set your time zone (e.g. `!timezone Europe/Berlin`); nights run at 03:00 and digests arrive at 07:30 in it",
    };

    pub fn parse(args: &str) -> Option<Self> {
        Some(Timezone {
            zone: (!args.is_empty()).then(|| args.to_owned()),
        })
    }

    pub async fn run(self, a: &Assistant, m: &IncomingMessage) -> anyhow::Result<()> {
        let s = &a.cfg.schedule;
        let text = match self.zone.as_deref() {
            None => {
                let tz = night::user_timezone(&a.db, s, &m.sender).await?;
                format!(
                    "Your time zone is **{}**: my night runs at {} and your digest arrives at {} there. Change it with `!timezone Area/City`, e.g. `!timezone Europe/Berlin`.",
                    tz.name(),
                    s.night_time,
                    s.digest_time
                )
            }
            Some(zone) => match parse_zone(zone) {
                Some(tz) => {
                    crate::store::users::set_timezone(&a.db, &m.sender, tz.name()).await?;
                    let now = chrono::Utc::now().with_timezone(&tz);
                    format!(
                        "Time zone set to **{}** (it's {} there now). My night runs at {} and your digest arrives at {} in it.",
                        tz.name(),
                        now.format("%H:%M"),
                        s.night_time,
                        s.digest_time
                    )
                }
                None => format!(
                    "I don't know the time zone `{zone}`. Use an IANA name like `Europe/Berlin`, `America/New_York` or `Asia/Tokyo`: `!timezone Europe/Berlin`."
                ),
            },
        };
        a.reply(m, &text).await
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
