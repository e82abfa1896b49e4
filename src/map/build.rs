//! Drawing a user's memory map from the database: read the topics and facts, project and
//! align them with the last map (whose positions are then replaced), place them and paint
//! the picture. [`draw`] is what `!map` and `threeam map` both call.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use sqlx::PgPool;

use super::draw::{self, Picture, Planet, Shade, Sun};
use super::layout::{self, Frame, Point, Sizes, SunSpot, TopicWeight, Xy};
use super::positions;
use crate::memory::control::{MapFact, MapTopic};
use crate::memory::{self, MemoryError};

/// Replaced and archived facts stay on the map (faint) this long.
const FADED_DAYS: i64 = 30;
/// At most this many facts get a label when zoomed (more would not fit a phone screen).
const MAX_LABELS: usize = 24;
/// At most this many planets around a zoomed sun (two rings of them stay apart).
const MAX_ZOOMED: usize = 48;

#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("could not read the memory for the map: {0}")]
    Memory(#[from] MemoryError),
    #[error("could not read or save the map's positions: {0}")]
    Positions(#[from] sqlx::Error),
    #[error(transparent)]
    Draw(#[from] draw::DrawError),
    #[error("the map's layout task failed: {0}")]
    Layout(String),
}

/// A drawn map.
#[derive(Debug, Clone)]
pub struct MapImage {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// Current (not replaced or archived) facts and the topics on the picture.
    pub facts: usize,
    pub topics: usize,
    /// The zoomed topic's name, if zoomed.
    pub topic: Option<String>,
}

/// What asking for a map gave.
#[derive(Debug, Clone)]
pub enum MapOutcome {
    Drawn(MapImage),
    /// Nothing remembered yet.
    Empty,
    /// No current topic by that name; the names there are.
    NoSuchTopic {
        topics: Vec<String>,
    },
}

/// The user's memory map (all topics, or the one named like `topic`), dated in `tz`.
pub async fn draw(
    pool: &PgPool,
    user_id: &str,
    topic: Option<&str>,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<MapOutcome, MapError> {
    let (topics, mut facts) =
        memory::control::map_data(pool, user_id, now - Duration::days(FADED_DAYS)).await?;
    if !facts.iter().any(|f| !f.faded) {
        return Ok(MapOutcome::Empty);
    }
    let zoom = match topic {
        None => None,
        Some(name) => match find_topic(&topics, name) {
            Some(t) => Some(t.clone()),
            None => {
                return Ok(MapOutcome::NoSuchTopic {
                    topics: topics.iter().map(|t| t.name.clone()).collect(),
                });
            }
        },
    };
    // Moved, not copied: only the projection reads the vectors.
    let embeddings: Vec<Vec<f32>> = facts
        .iter_mut()
        .map(|f| std::mem::take(&mut f.embedding))
        .collect();
    let projected = tokio::task::spawn_blocking(move || layout::project(&embeddings))
        .await
        .map_err(|e| MapError::Layout(e.to_string()))?;
    let new: Vec<(i64, Xy)> = facts.iter().map(|f| f.id).zip(projected).collect();
    let old = positions::load(pool, user_id).await?;
    let aligned = layout::align(&new, &old);
    positions::save(pool, user_id, &aligned).await?;
    let xy: HashMap<i64, Xy> = aligned.into_iter().collect();
    let date = now.with_timezone(&tz).format("%-d %B %Y").to_string();
    let picture = compose(
        &topics,
        &facts,
        &xy,
        now,
        zoom.as_ref(),
        &date,
        fnv(user_id),
    );
    let facts_drawn = live(&facts, zoom.as_ref().map(|t| t.id));
    let topics_drawn = picture.suns.len();
    let png = tokio::task::spawn_blocking(move || draw::render(&picture))
        .await
        .map_err(|e| MapError::Layout(e.to_string()))??;
    Ok(MapOutcome::Drawn(MapImage {
        png,
        width: draw::WIDTH,
        height: draw::HEIGHT,
        facts: facts_drawn,
        topics: topics_drawn,
        topic: zoom.map(|t| t.name),
    }))
}

/// The picture of `facts` at their aligned positions `xy` (every fact must have one): the
/// overview, or `zoom`'s topic. Pure; `date` is printed as given.
pub fn compose(
    topics: &[MapTopic],
    facts: &[MapFact],
    xy: &HashMap<i64, Xy>,
    now: DateTime<Utc>,
    zoom: Option<&MapTopic>,
    date: &str,
    seed: u64,
) -> Picture {
    let scene = Scene {
        topics,
        facts,
        xy,
        now,
    };
    match zoom {
        None => scene.overview(date, seed),
        Some(t) => scene.zoom(t, date, seed),
    }
}

/// The topic called `name` (any case), else the only one whose name contains it.
pub fn find_topic<'t>(topics: &'t [MapTopic], name: &str) -> Option<&'t MapTopic> {
    let want = name.trim().to_lowercase();
    if want.is_empty() {
        return None;
    }
    if let Some(t) = topics.iter().find(|t| t.name.to_lowercase() == want) {
        return Some(t);
    }
    let mut containing = topics
        .iter()
        .filter(|t| t.name.to_lowercase().contains(&want));
    match (containing.next(), containing.next()) {
        (Some(t), None) => Some(t),
        _ => None,
    }
}

/// Current (not replaced or archived) facts, of one topic or all.
fn live(facts: &[MapFact], topic: Option<i64>) -> usize {
    facts
        .iter()
        .filter(|f| !f.faded && topic.is_none_or(|t| f.topic == Some(t)))
        .count()
}

/// Most important first: current before faded, higher priority, newer, then by id. The
/// order labels are given room in.
fn importance(a: &&MapFact, b: &&MapFact) -> std::cmp::Ordering {
    a.faded
        .cmp(&b.faded)
        .then(b.priority.cmp(&a.priority))
        .then(b.created_at.cmp(&a.created_at))
        .then(a.id.cmp(&b.id))
}

/// A stable 64-bit hash (FNV-1a), so a user's sky is the same from build to build.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The data of one picture, before placing.
struct Scene<'a> {
    topics: &'a [MapTopic],
    facts: &'a [MapFact],
    xy: &'a HashMap<i64, Xy>,
    now: DateTime<Utc>,
}

impl Scene<'_> {
    /// Topic colours by age of the topic (its id), so a topic keeps its colour.
    fn colours(&self) -> HashMap<i64, usize> {
        let mut ids: Vec<i64> = self.topics.iter().map(|t| t.id).collect();
        ids.sort_unstable();
        ids.into_iter().enumerate().map(|(i, id)| (id, i)).collect()
    }

    fn shade(&self, f: &MapFact) -> Shade {
        let age = (self.now - f.created_at).num_seconds() as f64 / 86_400.0;
        Shade::of(age, f.faded)
    }

    fn points(&self, facts: &[&MapFact]) -> Vec<Point> {
        facts
            .iter()
            .map(|f| Point {
                id: f.id,
                topic: f.topic,
                xy: self.xy[&f.id],
            })
            .collect()
    }

    fn overview(&self, date: &str, seed: u64) -> Picture {
        let all: Vec<&MapFact> = self.facts.iter().collect();
        let frame = Frame {
            left: 24.0,
            top: 160.0,
            right: f64::from(draw::WIDTH) - 24.0,
            bottom: f64::from(draw::HEIGHT) - 190.0,
        };
        let weights: Vec<TopicWeight> = self
            .topics
            .iter()
            .map(|t| TopicWeight {
                id: t.id,
                importance: t.importance,
            })
            .collect();
        let sizes = Sizes {
            sun_min: 12.0,
            sun_max: 40.0,
            label_room: 36.0,
        };
        // Before the first night nothing is in a topic: the facts sit in a middle band and
        // are written out beside it, so a new user's map shows what it holds.
        let unsorted = !self.facts.iter().any(|f| f.topic.is_some());
        let frame = if unsorted {
            Frame {
                left: 370.0,
                right: f64::from(draw::WIDTH) - 370.0,
                ..frame
            }
        } else {
            frame
        };
        let (spots, mut planets) =
            layout::place_overview(&self.points(&all), &weights, frame, sizes);
        // Labelled facts (most important first, the order labels are given room in), then
        // the rest.
        let labelled: HashMap<i64, usize> = if unsorted {
            let mut order: Vec<&MapFact> = self.facts.iter().collect();
            order.sort_by(importance);
            order
                .iter()
                .take(MAX_LABELS)
                .enumerate()
                .map(|(i, f)| (f.id, i))
                .collect()
        } else {
            HashMap::new()
        };
        planets.sort_by_key(|p| labelled.get(&p.fact).copied().unwrap_or(usize::MAX));
        let colours = self.colours();
        let by_id: HashMap<i64, &MapFact> = self.facts.iter().map(|f| (f.id, f)).collect();
        let suns: Vec<Sun> = spots
            .iter()
            .map(|s| {
                let t = self.topics.iter().find(|t| t.id == s.topic);
                Sun {
                    at: s.at,
                    radius: s.radius,
                    orbit: s.orbit,
                    name: t.map_or_else(String::new, |t| t.name.clone()),
                    facts: live(self.facts, Some(s.topic)),
                    colour: colours[&s.topic],
                }
            })
            .collect();
        let planets: Vec<Planet> = planets
            .iter()
            .map(|p| Planet {
                at: p.at,
                shade: self.shade(by_id[&p.fact]),
                colour: p.topic.map(|t| colours[&t]),
                label: labelled
                    .contains_key(&p.fact)
                    .then(|| by_id[&p.fact].text.clone()),
            })
            .collect();
        let live = live(self.facts, None);
        let footnote = if suns.is_empty() {
            // A new user's memories are all dust until the first night sorts them.
            "No topics yet: they form during my night (!night runs it now)"
        } else {
            "!map <topic> zooms into one topic"
        };
        Picture {
            title: "Your memory map".into(),
            subtitle: format!(
                "{date} · {} in {}",
                plural(live, "memory", "memories"),
                plural(suns.len(), "topic", "topics")
            ),
            suns,
            planets,
            footnote: Some(footnote.into()),
            seed,
            planet_radius: match live {
                0..100 => 6.5,
                100..1000 => 5.0,
                _ => 4.0,
            },
        }
    }

    fn zoom(&self, topic: &MapTopic, date: &str, seed: u64) -> Picture {
        let mut members: Vec<&MapFact> = self
            .facts
            .iter()
            .filter(|f| f.topic == Some(topic.id))
            .collect();
        // What gets a label when not all fit.
        members.sort_by(importance);
        let all = members.len();
        members.truncate(MAX_ZOOMED);
        let sun = SunSpot {
            topic: topic.id,
            at: [f64::from(draw::WIDTH) / 2.0, 650.0],
            radius: 52.0,
            orbit: 185.0,
        };
        let spots = layout::place_zoom(&self.points(&members), sun);
        let colour = self.colours()[&topic.id];
        // One spot per member, in the members' order (most important first).
        let planets: Vec<Planet> = spots
            .iter()
            .zip(&members)
            .enumerate()
            .map(|(i, (s, f))| Planet {
                at: s.at,
                shade: self.shade(f),
                colour: Some(colour),
                label: (i < MAX_LABELS).then(|| f.text.clone()),
            })
            .collect();
        let live = live(self.facts, Some(topic.id));
        let unlabelled = all.saturating_sub(MAX_LABELS);
        Picture {
            title: topic.name.clone(),
            subtitle: format!("{} · {date}", plural(live, "memory", "memories")),
            suns: vec![Sun {
                at: sun.at,
                radius: sun.radius,
                orbit: sun.orbit,
                name: topic.name.clone(),
                facts: live,
                colour,
            }],
            planets,
            footnote: (unlabelled > 0).then(|| {
                format!(
                    "{} more without a label: !memory search {} lists them",
                    unlabelled, topic.name
                )
            }),
            seed,
            planet_radius: 9.0,
        }
    }
}

/// `n` with the noun in the number it needs ("1 memory", "3 memories").
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(id: i64, name: &str) -> MapTopic {
        MapTopic {
            id,
            name: name.into(),
            importance: 1.0,
        }
    }

    #[test]
    fn topics_are_found_by_name_or_a_unique_part_of_it() {
        let t = [
            topic(1, "Running"),
            topic(2, "Running shoes"),
            topic(3, "Work"),
        ];
        assert_eq!(find_topic(&t, "running").unwrap().id, 1);
        assert_eq!(find_topic(&t, "WORK").unwrap().id, 3);
        assert_eq!(find_topic(&t, "shoes").unwrap().id, 2);
        assert!(find_topic(&t, "runn").is_none(), "two topics contain it");
        assert!(find_topic(&t, "cooking").is_none());
        assert!(find_topic(&t, " ").is_none());
    }

    fn fact(id: i64, topic: Option<i64>) -> MapFact {
        MapFact {
            id,
            topic,
            text: format!("fact {id}"),
            priority: 3,
            embedding: vec![],
            created_at: Utc::now(),
            faded: false,
        }
    }

    #[test]
    fn before_the_first_night_the_map_says_topics_come_at_night() {
        let xy: HashMap<i64, Xy> = (1..=3).map(|i| (i, [i as f64, (i * i) as f64])).collect();
        let dust: Vec<MapFact> = (1..=3).map(|i| fact(i, None)).collect();
        let p = compose(&[], &dust, &xy, Utc::now(), None, "today", 1);
        assert!(p.suns.is_empty() && p.planets.len() == 3);
        assert!(
            p.planets.iter().all(|pl| pl.label.is_some()),
            "unsorted facts are written out"
        );
        assert!(p.footnote.unwrap().contains("during my night"));
        assert!(
            p.subtitle.ends_with("3 memories in 0 topics"),
            "{}",
            p.subtitle
        );

        let sorted: Vec<MapFact> = (1..=3).map(|i| fact(i, Some(7))).collect();
        let p = compose(
            &[topic(7, "Garden")],
            &sorted,
            &xy,
            Utc::now(),
            None,
            "today",
            1,
        );
        assert_eq!(p.suns.len(), 1);
        assert!(p.planets.iter().all(|pl| pl.label.is_none()));
        assert!(p.footnote.unwrap().contains("zooms into one topic"));
    }

    #[test]
    fn the_sky_seed_is_stable() {
        assert_eq!(fnv("@ada:localhost"), fnv("@ada:localhost"));
        assert_ne!(fnv("@ada:localhost"), fnv("@bob:localhost"));
        assert_eq!(fnv(""), 0xcbf2_9ce4_8422_2325);
    }
}
