//! Retrieval latency at 1k, 10k and 100k facts of one user, on the stack's PostgreSQL.
//!
//! A fresh temporary database is created, migrated and dropped afterwards. Synthetic facts
//! ("The user's sister Mia lives in Porto.") are bulk-inserted with `UNNEST` in batches,
//! each with a random unit 384-d vector; the HNSW index is rebuilt once per size, as after a
//! night's bulk load. Every query is a natural question about one target fact, and its
//! vector is that fact's vector plus noise, so vector search has a right answer to find
//! (reported as "target found").
//!
//! Timed: the whole database half of retrieval ([`retrieve_with_vector`]: both candidate
//! queries, fusion, packing, the access-count update), once hybrid and once full-text only,
//! interleaved; the embedding call is excluded and measured separately against the real
//! embedding server. Random vectors have no structure, which is the hard case for HNSW, so
//! the vector numbers are on the pessimistic side.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use pgvector::Vector;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::PgPool;

use super::TempDatabase;
use crate::db::EMBEDDING_DIM;
use crate::llm::LlmClient;
use crate::memory::fact::Category;
use crate::memory::retrieve::{RetrieveOptions, retrieve_with_vector};
use crate::memory::score::percentile;
use crate::memory::store::{Embedded, insert_embedded, search_indexes};

const USER: &str = "@bench:localhost";
const QUERIES: usize = 200;
const WARMUP: usize = 20;
const BATCH: usize = 2000;
const SEED: u64 = 0x3A4D;

/// Runs the benchmark for each size in `sizes` (ascending; facts are added, not reloaded)
/// and prints a table. `pool_url` is any database on the server; a temporary one is used.
pub async fn bench_retrieval(
    pool_url: &str,
    llm: &LlmClient,
    sizes: &[usize],
) -> anyhow::Result<()> {
    let mut sizes: Vec<usize> = sizes.iter().copied().filter(|s| *s > 0).collect();
    sizes.sort_unstable();
    sizes.dedup();
    anyhow::ensure!(!sizes.is_empty(), "no fact counts to benchmark");

    let db = TempDatabase::create(pool_url, "bench").await?;
    let result = run(&db.pool, &sizes).await;
    db.remove().await;
    let rows = result?;

    println!();
    println!(
        "Retrieval latency, one user, {QUERIES} queries per size, k = 8, embedding excluded (ms):"
    );
    println!(
        "{:>7} {:>8} | {:>7} {:>7} | {:>7} {:>7} | {:>7} {:>7} | {:>8} | {:>6} {:>6}",
        "facts",
        "load s",
        "hybrid",
        "p95",
        "text",
        "p95",
        "vector",
        "p95",
        "vs first",
        "found",
        "vec"
    );
    let base = rows[0].hybrid.0;
    for r in &rows {
        println!(
            "{:>7} {:>8.1} | {:>7.2} {:>7.2} | {:>7.2} {:>7.2} | {:>7.2} {:>7.2} | {:>7.2}x | {:>5.0}% {:>5.0}%",
            r.facts,
            r.load.as_secs_f64(),
            r.hybrid.0,
            r.hybrid.1,
            r.text.0,
            r.text.1,
            r.vector.0,
            r.vector.1,
            r.hybrid.0 / base.max(1e-9),
            r.found_hybrid * 100.0,
            r.found_vector * 100.0,
        );
    }
    println!(
        "(p50 and p95 of the database half of retrieve: hybrid = full-text + vector, text = full-text only\n \
         (the embedding-failure fall-back), vector = vector only; load = insert, index builds, VACUUM ANALYZE;\n \
         vs first = hybrid p50 over the smallest size's; found = queries whose target fact is retrieved,\n \
         hybrid and vector only: random vectors are HNSW's hardest case)"
    );

    let texts: Vec<String> = (0..QUERIES)
        .map(|i| synthetic(i as u64 * 7919 % 100_000).1)
        .collect();
    let mut embed_ms = Vec::with_capacity(texts.len());
    for (i, t) in texts.iter().enumerate() {
        let start = Instant::now();
        llm.embed_one(t)
            .await
            .with_context(|| format!("embedding a query with {}", llm.embedding_url()))?;
        if i >= WARMUP / 4 {
            embed_ms.push(ms(start.elapsed()));
        }
    }
    println!(
        "Query embedding ({}, one text per call): p50 {:.2} ms, p95 {:.2} ms over {} calls",
        llm.embedding_url(),
        percentile(&embed_ms, 50.0),
        percentile(&embed_ms, 95.0),
        embed_ms.len()
    );
    Ok(())
}

struct Row {
    facts: usize,
    load: Duration,
    /// (p50, p95) in ms.
    hybrid: (f64, f64),
    text: (f64, f64),
    vector: (f64, f64),
    found_hybrid: f64,
    found_vector: f64,
}

/// Loads each size and times the queries (the embedding half is timed by the caller).
async fn run(pool: &PgPool, sizes: &[usize]) -> anyhow::Result<Vec<Row>> {
    crate::store::users::ensure(pool, USER).await?;
    let mut loaded = 0usize;
    let mut rows = Vec::new();
    for &size in sizes {
        let start = Instant::now();
        // Load like a restore: indexes dropped, rows in, indexes built once.
        search_indexes::drop(pool).await?;
        while loaded < size {
            let n = BATCH.min(size - loaded);
            insert_batch(pool, loaded as u64, n).await?;
            loaded += n;
        }
        search_indexes::build(pool).await?;
        let load = start.elapsed();
        eprintln!("loaded {size} facts in {:.1} s", load.as_secs_f64());

        let opts = RetrieveOptions {
            k: 8,
            token_budget: 2000,
            embed_timeout: Duration::from_secs(5),
            now: Utc::now(),
        };
        let mut rng = StdRng::seed_from_u64(SEED ^ size as u64);
        let mut ms_by_mode: [Vec<f64>; 3] = Default::default();
        let mut found = [0usize; 3];
        for q in 0..(WARMUP + QUERIES) {
            let target = rng.random_range(0..size as u64);
            let (_, question) = synthetic(target);
            let vector = noisy(&unit_vector(target), &mut rng);
            // Hybrid, full-text only, vector only (an empty question has no text candidates).
            let modes: [(&str, Option<&[f32]>); 3] = [
                (&question, Some(&vector)),
                (&question, None),
                ("", Some(&vector)),
            ];
            // Rotate the order so no mode always finds the cache warmed by another.
            for i in 0..modes.len() {
                let m = (i + q) % modes.len();
                let (text, vec) = modes[m];
                let t = Instant::now();
                let got = retrieve_with_vector(pool, USER, text, vec, &opts).await?;
                let elapsed = ms(t.elapsed());
                if q >= WARMUP {
                    ms_by_mode[m].push(elapsed);
                    // Fact ids follow insertion order in a fresh database.
                    found[m] +=
                        usize::from(got.facts.iter().any(|f| f.fact.id == target as i64 + 1));
                }
            }
        }
        let p = |v: &Vec<f64>| (percentile(v, 50.0), percentile(v, 95.0));
        rows.push(Row {
            facts: size,
            load,
            hybrid: p(&ms_by_mode[0]),
            text: p(&ms_by_mode[1]),
            vector: p(&ms_by_mode[2]),
            found_hybrid: found[0] as f64 / QUERIES as f64,
            found_vector: found[2] as f64 / QUERIES as f64,
        });
    }
    Ok(rows)
}

/// Inserts synthetic facts `first .. first + n` in one statement.
async fn insert_batch(pool: &PgPool, first: u64, n: usize) -> anyhow::Result<()> {
    let now = Utc::now();
    let facts: Vec<Embedded> = (first..first + n as u64)
        .map(|i| Embedded {
            text: synthetic(i).0,
            category: Category::parse_lenient(CATEGORIES[(i % CATEGORIES.len() as u64) as usize]),
            priority: 1 + (i % 5) as u8,
            embedding: Vector::from(unit_vector(i)),
            at: now - chrono::Duration::days((i % 400) as i64),
        })
        .collect();
    insert_embedded(pool, USER, &facts).await?;
    Ok(())
}

const CATEGORIES: [&str; 6] = [
    "identity",
    "preference",
    "relationship",
    "work",
    "health",
    "plan",
];
const NAMES: [&str; 24] = [
    "Mia", "Noah", "Lena", "Omar", "Sofia", "Jonas", "Aiko", "Luca", "Priya", "Mateo", "Ines",
    "Tom", "Yara", "Felix", "Nora", "Kenji", "Elif", "Hugo", "Zara", "Ravi", "Clara", "Malik",
    "Ada", "Pablo",
];
const RELATIONS: [&str; 8] = [
    "sister",
    "brother",
    "mother",
    "father",
    "friend",
    "colleague",
    "neighbour",
    "cousin",
];
const CITIES: [&str; 20] = [
    "Porto", "Lyon", "Berlin", "Osaka", "Toronto", "Nairobi", "Lima", "Krakow", "Seville",
    "Dublin", "Hanoi", "Austin", "Bergen", "Turin", "Quito", "Leeds", "Perth", "Ghent", "Bilbao",
    "Tartu",
];
const THINGS: [&str; 20] = [
    "green tea",
    "jazz records",
    "trail running",
    "sourdough bread",
    "chess openings",
    "vintage cameras",
    "spicy ramen",
    "board games",
    "watercolour painting",
    "sea kayaking",
    "science fiction novels",
    "Italian opera",
    "rock climbing",
    "home brewing",
    "bird watching",
    "salsa dancing",
    "mechanical keyboards",
    "urban gardening",
    "podcasts about history",
    "pottery classes",
];
const JOBS: [&str; 12] = [
    "nurse",
    "data engineer",
    "teacher",
    "architect",
    "chef",
    "pilot",
    "lawyer",
    "designer",
    "electrician",
    "pharmacist",
    "journalist",
    "carpenter",
];
const EVENTS: [&str; 10] = [
    "dentist appointment",
    "job interview",
    "flight",
    "wedding",
    "concert",
    "team offsite",
    "marathon",
    "exam",
    "birthday dinner",
    "house viewing",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Synthetic fact `i` and a natural question whose answer it is. Deterministic.
pub(crate) fn synthetic(i: u64) -> (String, String) {
    let pick = |list: &[&'static str], salt: u64| -> &'static str {
        list[(i
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(salt as u32 * 7)
            % list.len() as u64) as usize]
    };
    let (name, rel, city, thing) = (
        pick(&NAMES, 1),
        pick(&RELATIONS, 2),
        pick(&CITIES, 3),
        pick(&THINGS, 4),
    );
    let (job, event, month) = (pick(&JOBS, 5), pick(&EVENTS, 6), pick(&MONTHS, 7));
    let day = 1 + i % 28;
    match i % 6 {
        0 => (
            format!("The user's {rel} {name} lives in {city}."),
            format!("Where does my {rel} {name} live?"),
        ),
        1 => (
            format!("The user enjoys {thing} and does it most weekends with {name}."),
            format!("What do I like doing with {name}?"),
        ),
        2 => (
            format!("The user's {rel} {name} works as a {job} in {city}."),
            format!("What is {name}'s job?"),
        ),
        3 => (
            format!("The user has a {event} in {city} on {day} {month}."),
            format!("When is my {event}?"),
        ),
        4 => (
            format!("The user does not like {thing}; {name} keeps suggesting it."),
            format!("Is there something I dislike that {name} suggests?"),
        ),
        _ => (
            format!("The user worked as a {job} in {city} before moving, and met {name} there."),
            format!("Where did I work as a {job}?"),
        ),
    }
}

/// A random unit vector, the same for the same `i`.
pub(crate) fn unit_vector(i: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(SEED.wrapping_add(i.wrapping_mul(0x2545_F491)));
    normalise((0..EMBEDDING_DIM).map(|_| gaussian(&mut rng)).collect())
}

/// `v` plus Gaussian noise of about the same norm, normalised: cosine ≈ 0.7 to `v`.
fn noisy(v: &[f32], rng: &mut StdRng) -> Vec<f32> {
    let scale = 1.0 / (EMBEDDING_DIM as f32).sqrt();
    normalise(v.iter().map(|x| x + gaussian(rng) * scale).collect())
}

fn gaussian(rng: &mut StdRng) -> f32 {
    // Box–Muller.
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let n = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_data_is_deterministic_and_sensible() {
        assert_eq!(synthetic(42), synthetic(42));
        let (fact, question) = synthetic(0);
        assert!(fact.starts_with("The user's ") && question.ends_with('?'));
        let v = unit_vector(7);
        assert_eq!(v, unit_vector(7));
        assert_eq!(v.len(), EMBEDDING_DIM);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
        let mut rng = StdRng::seed_from_u64(1);
        let q = noisy(&v, &mut rng);
        let cos: f32 = q.iter().zip(&v).map(|(a, b)| a * b).sum();
        assert!(cos > 0.5 && cos < 0.9, "{cos}");
        let other: f32 = unit_vector(8).iter().zip(&v).map(|(a, b)| a * b).sum();
        assert!(other.abs() < 0.3, "{other}");
    }
}
