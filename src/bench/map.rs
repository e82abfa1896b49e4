//! `threeam bench map`: how long the memory map takes to draw at growing fact counts, next
//! to a blank picture (sky, title and legend only) drawn in the same process.
//!
//! The memory is synthetic: 384-d unit vectors in topics (one random centre per topic, each
//! fact its centre plus noise), dates spread over a year, a tenth replaced. Timed apart: the
//! projection (PCA), the alignment with a previous map (the same facts, slightly moved), the
//! placement and the painting with PNG encoding. The database reads are not included (one
//! query each, measured by `bench retrieval`'s kind of numbers).

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use chrono::{Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::map::build::compose;
use crate::map::draw::{self, Picture};
use crate::map::layout::{self, Xy};
use crate::memory::control::{MapFact, MapTopic};

const DIM: usize = 384;

/// Synthetic topics and facts: `n` facts in about `sqrt(n)/2` topics (at least 3, at most 40).
pub fn synthetic(n: usize, seed: u64) -> (Vec<MapTopic>, Vec<MapFact>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let k = ((n as f64).sqrt() / 2.0).round().clamp(3.0, 40.0) as usize;
    let names = [
        "Running",
        "Work at the lab",
        "Family",
        "Cooking",
        "Travel plans",
        "Books",
        "Health",
        "Music",
        "Garden",
        "Money",
        "Friends",
        "Languages",
        "Home",
        "Cycling",
        "Photography",
    ];
    let topics: Vec<MapTopic> = (0..k)
        .map(|i| MapTopic {
            id: i as i64 + 1,
            name: match names.get(i) {
                Some(n) => (*n).to_owned(),
                None => format!("Topic {}", i + 1),
            },
            importance: rng.random_range(0.1..1.0),
        })
        .collect();
    let centres: Vec<Vec<f32>> = (0..k).map(|_| unit(&mut rng, None, 0.0)).collect();
    let now = Utc::now();
    let facts = (0..n)
        .map(|i| {
            let t = i % k;
            let in_topic = i % 17 != 0;
            MapFact {
                id: i as i64 + 1,
                topic: in_topic.then_some(topics[t].id),
                text: format!("Synthetic memory number {i} about {}", topics[t].name),
                priority: rng.random_range(1..=5),
                embedding: unit(&mut rng, Some(&centres[t]), 0.35),
                created_at: now - Duration::hours(rng.random_range(0..24 * 365)),
                faded: i % 10 == 3,
            }
        })
        .collect();
    (topics, facts)
}

fn unit(rng: &mut StdRng, around: Option<&[f32]>, noise: f32) -> Vec<f32> {
    let mut v: Vec<f32> = (0..DIM)
        .map(|j| {
            let r: f32 = rng.random_range(-1.0..1.0);
            match around {
                Some(c) => c[j] + noise * r / (DIM as f32).sqrt(),
                None => r,
            }
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Runs the benchmark and prints a table; writes the largest map to `out` if given.
pub fn run(sizes: &[usize], out: Option<&Path>) -> anyhow::Result<()> {
    let blank = Picture {
        title: "Your memory map".into(),
        subtitle: "blank".into(),
        suns: vec![],
        planets: vec![],
        footnote: None,
        seed: 1,
        planet_radius: 4.5,
    };
    let t = Instant::now();
    let rounds = 3;
    for _ in 0..rounds {
        draw::render(&blank)?;
    }
    let baseline = ms(t) / rounds as f64;
    println!("Memory map drawing (a blank picture: {baseline:.0} ms)\n");
    println!(
        "{:>7} {:>7} {:>11} {:>9} {:>9} {:>9} {:>9} {:>8} {:>9}",
        "facts", "topics", "projection", "align", "place", "paint", "total", "× blank", "PNG KiB"
    );
    let mut last = None;
    for &n in sizes {
        let (topics, facts) = synthetic(n, 0x3A3 + n as u64);
        let embeddings: Vec<Vec<f32>> = facts.iter().map(|f| f.embedding.clone()).collect();
        let t0 = Instant::now();
        let projected = layout::project(&embeddings);
        let projection = ms(t0);
        let new: Vec<(i64, Xy)> = facts.iter().map(|f| f.id).zip(projected).collect();
        // The previous map: the same facts, turned and nudged.
        let old: HashMap<i64, Xy> = new
            .iter()
            .map(|(id, p)| (*id, [-p[1] * 2.0 + 0.01 * (*id as f64).sin(), p[0] * 2.0]))
            .collect();
        let t1 = Instant::now();
        let aligned = layout::align(&new, &old);
        let align = ms(t1);
        let xy: HashMap<i64, Xy> = aligned.into_iter().collect();
        let t2 = Instant::now();
        let picture = compose(&topics, &facts, &xy, Utc::now(), None, "bench", 7);
        let place = ms(t2);
        let t3 = Instant::now();
        let png = draw::render(&picture)?;
        let paint = ms(t3);
        let total = projection + align + place + paint;
        println!(
            "{:>7} {:>7} {:>9.0}ms {:>7.1}ms {:>7.0}ms {:>7.0}ms {:>7.0}ms {:>8.1} {:>9}",
            n,
            topics.len(),
            projection,
            align,
            place,
            paint,
            total,
            total / baseline,
            png.len() / 1024
        );
        let zoom = compose(&topics, &facts, &xy, Utc::now(), topics.first(), "bench", 7);
        last = Some((png, draw::render(&zoom)?));
    }
    if let (Some(path), Some((png, zoom))) = (out, last) {
        std::fs::write(path, png)?;
        let zoomed = path.with_extension("zoom.png");
        std::fs::write(&zoomed, zoom)?;
        println!(
            "\nThe largest map: {}, zoomed into its first topic: {}",
            path.display(),
            zoomed.display()
        );
    }
    Ok(())
}
