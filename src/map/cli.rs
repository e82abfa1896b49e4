//! `threeam map --user U [--topic T] --out FILE`: the same picture `!map` posts, written to
//! a file (and the positions saved, as after any map).

use std::path::Path;

use anyhow::Context;
use chrono::Utc;

use super::build::{MapOutcome, draw};
use crate::config::Config;

/// Draws the map and writes it to `out`; returns what to print.
pub async fn write(
    cfg: &Config,
    user: &str,
    topic: Option<&str>,
    out: &Path,
) -> anyhow::Result<String> {
    cfg.validate_database()?;
    let pool =
        crate::db::connect_migrated(&cfg.database.url, 4, std::time::Duration::from_secs(10))
            .await?;
    let tz = crate::night::user_timezone(&pool, &cfg.schedule, user).await?;
    match draw(&pool, user, topic, Utc::now(), tz).await? {
        MapOutcome::Drawn(map) => {
            std::fs::write(out, &map.png).with_context(|| format!("writing {}", out.display()))?;
            Ok(format!(
                "{}: {} facts, {} topic(s), {}×{} PNG",
                out.display(),
                map.facts,
                map.topics,
                map.width,
                map.height
            ))
        }
        MapOutcome::Empty => anyhow::bail!("{user} has no memories to map yet"),
        MapOutcome::NoSuchTopic { topics } => anyhow::bail!(
            "no current topic of {user} is called like that; the topics are: {}",
            topics.join(", ")
        ),
    }
}
