//! Evidence recall on LoCoMo (Maharana et al., "Evaluating Very Long-Term Conversational
//! Memory of LLM Agents", ACL 2024): can retrieval find the turns that answer a question?
//!
//! The data set is read at run time from the file given (its licence is non-commercial;
//! nothing of it is kept in this repository). Its shape: a list of samples, each with
//! `sample_id`, `conversation` (`speaker_a`, `speaker_b`, `session_<n>` = list of turns
//! `{speaker, dia_id: "D<n>:<m>", text, blip_caption?}`, `session_<n>_date_time` like
//! "1:56 pm on 8 May, 2023") and `qa` (`question`, `evidence` = dia ids, `category` 1–5).
//!
//! Each conversation is replayed, session by session at its own date, into the memory of a
//! fresh user through the real write path ([`store_facts`]: embedding, near-duplicate
//! merging). The baseline stores one fact per turn, "Speaker: text (date)", with the turn's
//! dia id as its source id; `--extract` instead stores what [`extract_realtime`] finds in
//! each turn. Then every question is answered by [`retrieve_with_vector`] (embeddings
//! computed in batches beforehand), and for each k we count a question as found when
//! * **session (all)**: every evidence session `D<n>` is the session of one of the top k
//!   facts (strict: a question with evidence in three sessions needs all three);
//! * **session (any)**: at least one evidence session is;
//! * **turn (all)**: every evidence turn is a source of one of the top k facts;
//! * **turn (any)**: at least one evidence turn is.
//!
//! Questions without a readable evidence id are skipped and counted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::Value;

use super::TempDatabase;
use crate::llm::LlmClient;
use crate::memory::extract::extract_realtime;
use crate::memory::fact::{Category, MAX_FACT_CHARS, NewFact};
use crate::memory::retrieve::{RetrieveOptions, retrieve_with_vector};
use crate::memory::store::{StoreOutcome, store_facts};

/// One turn of a session.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub dia_id: String,
    pub speaker: String,
    pub text: String,
    /// The caption of a photo shared with the turn, if any.
    pub caption: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub number: u32,
    pub date: Option<DateTime<Utc>>,
    pub turns: Vec<Turn>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub text: String,
    pub category: u8,
    /// `(session, turn)` pairs.
    pub evidence: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: String,
    pub sessions: Vec<Session>,
    pub questions: Vec<Question>,
    /// Questions dropped because no evidence id could be read.
    pub unreadable: usize,
}

/// Reads the data set. Lenient about extras and odd evidence ids; strict about the shape.
pub fn parse_dataset(text: &str) -> anyhow::Result<Vec<Conversation>> {
    let samples: Vec<Value> =
        serde_json::from_str(text).context("a LoCoMo file is a JSON list of samples")?;
    samples
        .iter()
        .enumerate()
        .map(|(i, s)| parse_sample(s).with_context(|| format!("sample {i}")))
        .collect()
}

fn parse_sample(s: &Value) -> anyhow::Result<Conversation> {
    let id = match &s["sample_id"] {
        Value::String(x) => x.clone(),
        Value::Number(n) => n.to_string(),
        _ => anyhow::bail!("no sample_id"),
    };
    let conv = s["conversation"]
        .as_object()
        .context("no conversation object")?;
    let mut sessions = Vec::new();
    for (key, value) in conv {
        let Some(number) = key
            .strip_prefix("session_")
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let turns = value
            .as_array()
            .with_context(|| format!("{key} is not a list of turns"))?
            .iter()
            .filter_map(|t| {
                Some(Turn {
                    dia_id: t["dia_id"].as_str()?.trim().to_owned(),
                    speaker: t["speaker"].as_str().unwrap_or("Someone").to_owned(),
                    text: t["text"].as_str().unwrap_or_default().to_owned(),
                    caption: t["blip_caption"]
                        .as_str()
                        .map(str::to_owned)
                        .filter(|c| !c.trim().is_empty()),
                })
            })
            .collect();
        let date = conv
            .get(&format!("session_{number}_date_time"))
            .and_then(Value::as_str)
            .and_then(parse_session_date);
        sessions.push(Session {
            number,
            date,
            turns,
        });
    }
    sessions.sort_by_key(|s| s.number);

    let mut questions = Vec::new();
    let mut unreadable = 0;
    for q in s["qa"].as_array().context("no qa list")? {
        let evidence: Vec<(u32, u32)> = q["evidence"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .flat_map(parse_evidence)
                    .collect()
            })
            .unwrap_or_default();
        let category = q["category"].as_u64().filter(|c| (1..=9).contains(c));
        match (q["question"].as_str(), category) {
            (Some(text), Some(c)) if !evidence.is_empty() => questions.push(Question {
                text: text.to_owned(),
                category: c as u8,
                evidence,
            }),
            _ => unreadable += 1,
        }
    }
    Ok(Conversation {
        id,
        sessions,
        questions,
        unreadable,
    })
}

/// Evidence ids: "D1:3"; several in one string ("D8:6; D9:17"); a stray colon ("D:11:26").
/// Unreadable parts are skipped.
pub fn parse_evidence(s: &str) -> Vec<(u32, u32)> {
    s.split(|c: char| c == ';' || c == ',' || c.is_whitespace())
        .filter_map(|part| {
            let rest = part.trim().strip_prefix('D')?.trim_start_matches(':');
            let (session, turn) = rest.split_once(':')?;
            Some((session.parse().ok()?, turn.parse().ok()?))
        })
        .collect()
}

/// Session dates look like "1:56 pm on 8 May, 2023" (taken as UTC).
pub fn parse_session_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim().to_ascii_lowercase();
    NaiveDateTime::parse_from_str(&s, "%I:%M %p on %d %B, %Y")
        .ok()
        .map(|d| Utc.from_utc_datetime(&d))
}

/// The session number of a dia id ("D3:7" → 3).
pub fn dia_session(dia_id: &str) -> Option<u32> {
    parse_evidence(dia_id).first().map(|(s, _)| *s)
}

/// The baseline fact of a turn: "Speaker: text [shares a photo of …] (8 May 2023)".
pub fn turn_fact_text(turn: &Turn, date: Option<DateTime<Utc>>) -> String {
    let mut s = format!("{}: {}", turn.speaker, turn.text.trim());
    if let Some(c) = &turn.caption {
        s.push_str(&format!(" [shares {}]", c.trim()));
    }
    let suffix = date
        .map(|d| format!(" ({})", d.format("%-d %B %Y")))
        .unwrap_or_default();
    let room = MAX_FACT_CHARS.saturating_sub(suffix.chars().count());
    if s.chars().count() > room {
        s = s.chars().take(room.saturating_sub(1)).collect::<String>();
        s.push('…');
    }
    s.push_str(&suffix);
    s
}

/// Whether the top facts (their source ids, best first) cover a question's evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Judgement {
    pub session: bool,
    pub session_any: bool,
    pub turn_all: bool,
    pub turn_any: bool,
}

pub fn judge(sources: &[Vec<String>], evidence: &[(u32, u32)]) -> Judgement {
    let turns: BTreeSet<(u32, u32)> = sources
        .iter()
        .flatten()
        .flat_map(|s| parse_evidence(s))
        .collect();
    let sessions: BTreeSet<u32> = turns.iter().map(|(s, _)| *s).collect();
    Judgement {
        session: evidence.iter().all(|(s, _)| sessions.contains(s)),
        session_any: evidence.iter().any(|(s, _)| sessions.contains(s)),
        turn_all: evidence.iter().all(|e| turns.contains(e)),
        turn_any: evidence.iter().any(|e| turns.contains(e)),
    }
}

/// Recall at one k.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RecallAt {
    pub k: usize,
    pub session: f64,
    pub session_any: f64,
    pub turn_all: f64,
    pub turn_any: f64,
}

/// One line of the report: a category (by number) or, with `category: None`, all questions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocomoRow {
    pub category: Option<u8>,
    pub questions: usize,
    pub recall: Vec<RecallAt>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocomoReport {
    pub conversations: usize,
    pub turns: usize,
    /// Facts that ended up in memory (after merging).
    pub facts: usize,
    /// Writes folded into an existing fact by near-duplicate merging.
    pub merged: usize,
    pub questions: usize,
    /// Questions skipped for unreadable evidence ids or category.
    pub skipped: usize,
    pub extract: bool,
    pub ks: Vec<usize>,
    /// Per category (ascending), then overall.
    pub rows: Vec<LocomoRow>,
    pub replay_seconds: f64,
    pub query_seconds: f64,
}

impl fmt::Display for LocomoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "LoCoMo evidence recall: {} conversations, {} turns -> {} facts ({} merged), {} questions ({} skipped), {}",
            self.conversations,
            self.turns,
            self.facts,
            self.merged,
            self.questions,
            self.skipped,
            if self.extract {
                "extracted facts"
            } else {
                "one fact per turn"
            }
        )?;
        write!(f, "{:>9} {:>5}", "category", "n")?;
        for k in &self.ks {
            write!(
                f,
                "  {:>7} {:>5} {:>7} {:>5}",
                format!("sess@{k}"),
                "any",
                format!("turn@{k}"),
                "any"
            )?;
        }
        writeln!(f)?;
        for row in &self.rows {
            let name = row
                .category
                .map(|c| c.to_string())
                .unwrap_or_else(|| "all".into());
            write!(f, "{:>9} {:>5}", name, row.questions)?;
            for r in &row.recall {
                write!(
                    f,
                    "  {:>7.3} {:>5.3} {:>7.3} {:>5.3}",
                    r.session, r.session_any, r.turn_all, r.turn_any
                )?;
            }
            writeln!(f)?;
        }
        write!(
            f,
            "(sess = every evidence session among the top-k facts' sessions; turn = every evidence turn among their sources; any = at least one)\nreplay {:.1} s, questions {:.1} s",
            self.replay_seconds, self.query_seconds
        )
    }
}

/// Counts per category and k.
#[derive(Debug, Default)]
struct Tally {
    /// category → (questions, per k: hits as [session, session_any, turn_all, turn_any])
    by_category: BTreeMap<u8, (usize, Vec<[usize; 4]>)>,
}

impl Tally {
    fn add(&mut self, category: u8, per_k: &[Judgement]) {
        let e = self
            .by_category
            .entry(category)
            .or_insert_with(|| (0, vec![[0; 4]; per_k.len()]));
        e.0 += 1;
        for (acc, j) in e.1.iter_mut().zip(per_k) {
            let hits = [j.session, j.session_any, j.turn_all, j.turn_any];
            for (a, hit) in acc.iter_mut().zip(hits) {
                *a += usize::from(hit);
            }
        }
    }

    fn rows(&self, ks: &[usize]) -> Vec<LocomoRow> {
        let row = |category, n: usize, hits: &[[usize; 4]]| LocomoRow {
            category,
            questions: n,
            recall: ks
                .iter()
                .zip(hits)
                .map(|(&k, h)| {
                    let d = n.max(1) as f64;
                    RecallAt {
                        k,
                        session: h[0] as f64 / d,
                        session_any: h[1] as f64 / d,
                        turn_all: h[2] as f64 / d,
                        turn_any: h[3] as f64 / d,
                    }
                })
                .collect(),
        };
        let mut rows: Vec<LocomoRow> = self
            .by_category
            .iter()
            .map(|(c, (n, hits))| row(Some(*c), *n, hits))
            .collect();
        let mut total = vec![[0; 4]; ks.len()];
        let mut n = 0;
        for (m, hits) in self.by_category.values() {
            n += m;
            for (t, h) in total.iter_mut().zip(hits) {
                for (a, b) in t.iter_mut().zip(h) {
                    *a += b;
                }
            }
        }
        rows.push(row(None, n, &total));
        rows
    }
}

/// Runs the benchmark on the LoCoMo file `data` in a temporary database on the server of
/// `pool_url`, prints the report and returns it.
pub async fn bench_locomo(
    pool_url: &str,
    llm: &LlmClient,
    data: &Path,
    ks: &[usize],
    extract: bool,
) -> anyhow::Result<LocomoReport> {
    let text = std::fs::read_to_string(data)
        .with_context(|| format!("reading the LoCoMo file {}", data.display()))?;
    let conversations = parse_dataset(&text)
        .with_context(|| format!("{} is not in the LoCoMo format", data.display()))?;
    let mut ks: Vec<usize> = ks.iter().copied().filter(|k| *k > 0).collect();
    ks.sort_unstable();
    ks.dedup();
    anyhow::ensure!(!ks.is_empty(), "give at least one k (e.g. --k 5,10)");

    let db = TempDatabase::create(pool_url, "locomo").await?;
    let result = run(&db.pool, llm, &conversations, &ks, extract).await;
    db.remove().await;
    let report = result?;
    println!("{report}");
    Ok(report)
}

async fn run(
    pool: &sqlx::PgPool,
    llm: &LlmClient,
    conversations: &[Conversation],
    ks: &[usize],
    extract: bool,
) -> anyhow::Result<LocomoReport> {
    let max_k = *ks.last().expect("ks is not empty");
    let mut tally = Tally::default();
    let (mut turns, mut merged, mut questions, mut skipped) = (0, 0, 0, 0);
    let (mut replay, mut query) = (Duration::ZERO, Duration::ZERO);
    for conv in conversations {
        let user = format!("@locomo-{}:bench", conv.id);
        let start = Instant::now();
        let mut last_date = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
        for session in &conv.sessions {
            let date = session
                .date
                .unwrap_or(last_date + chrono::Duration::days(1));
            last_date = date;
            let mut facts = Vec::new();
            for (i, turn) in session.turns.iter().enumerate() {
                turns += 1;
                let at = date + chrono::Duration::seconds(i as i64 * 30);
                if extract {
                    let said = format!("{}: {}", turn.speaker, turn.text);
                    let found = extract_realtime(llm, &said, at)
                        .await
                        .with_context(|| format!("extracting facts from {}", turn.dia_id))?;
                    facts.extend(found.into_iter().map(|f| f.with_sources([&turn.dia_id])));
                } else {
                    facts.push(
                        NewFact::new(turn_fact_text(turn, session.date), Category::Other, 3)
                            .with_sources([&turn.dia_id])
                            .observed_at(at),
                    );
                }
            }
            let outcomes = store_facts(pool, llm, &user, facts)
                .await
                .with_context(|| format!("storing session {} of {}", session.number, conv.id))?;
            merged += outcomes
                .iter()
                .filter(|o| matches!(o, StoreOutcome::Merged { .. }))
                .count();
        }
        // What autovacuum does in a running system: fresh statistics, which the full-text
        // term weights come from.
        crate::memory::store::refresh_statistics(pool).await?;
        replay += start.elapsed();

        let start = Instant::now();
        let texts: Vec<String> = conv.questions.iter().map(|q| q.text.clone()).collect();
        let vectors = llm.embed(&texts).await.context("embedding the questions")?;
        let opts = RetrieveOptions {
            k: max_k,
            token_budget: 1_000_000,
            embed_timeout: Duration::from_secs(30),
            now: last_date + chrono::Duration::days(1),
        };
        for (q, v) in conv.questions.iter().zip(&vectors) {
            let got = retrieve_with_vector(pool, &user, &q.text, Some(v), &opts).await?;
            let sources: Vec<Vec<String>> = got
                .facts
                .iter()
                .map(|f| f.fact.source_event_ids.clone())
                .collect();
            let per_k: Vec<Judgement> = ks
                .iter()
                .map(|&k| judge(&sources[..k.min(sources.len())], &q.evidence))
                .collect();
            tally.add(q.category, &per_k);
        }
        questions += conv.questions.len();
        skipped += conv.unreadable;
        query += start.elapsed();
    }
    let facts = crate::memory::store::total(pool).await?;
    Ok(LocomoReport {
        conversations: conversations.len(),
        turns,
        facts: facts as usize,
        merged,
        questions,
        skipped,
        extract,
        ks: ks.to_vec(),
        rows: tally.rows(ks),
        replay_seconds: replay.as_secs_f64(),
        query_seconds: query.as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A made-up conversation in LoCoMo's shape (none of the real data).
    const FIXTURE: &str = r#"[{
        "sample_id": "toy-1",
        "conversation": {
            "speaker_a": "Ana", "speaker_b": "Ben",
            "session_1_date_time": "9:05 am on 3 March, 2024",
            "session_1": [
                {"speaker": "Ana", "dia_id": "D1:1", "text": "I adopted a grey kitten called Pixel."},
                {"speaker": "Ben", "dia_id": "D1:2", "text": "Lovely! I started learning the cello.", "blip_caption": "a photo of a cello", "img_url": ["x"]}
            ],
            "session_2_date_time": "7:40 pm on 12 April, 2024",
            "session_2": [
                {"speaker": "Ana", "dia_id": "D2:1", "text": "We hiked up Mount Vesper on Sunday."}
            ]
        },
        "qa": [
            {"question": "What is the name of Ana's kitten?", "answer": "Pixel", "evidence": ["D1:1"], "category": 1},
            {"question": "Which instrument is Ben learning?", "answer": "cello", "evidence": ["D1:2; D2:1"], "category": 4},
            {"question": "Where did Ana hike?", "adversarial_answer": "x", "evidence": ["D:2:1"], "category": 5},
            {"question": "Broken", "evidence": ["D"], "category": 2},
            {"question": "No evidence", "evidence": [], "category": 3}
        ],
        "event_summary": {}
    }]"#;

    #[test]
    fn parses_the_shape_and_odd_evidence() {
        let convs = parse_dataset(FIXTURE).unwrap();
        assert_eq!(convs.len(), 1);
        let c = &convs[0];
        assert_eq!(c.id, "toy-1");
        assert_eq!(c.sessions.len(), 2);
        assert_eq!(
            c.sessions[0].turns[1].caption.as_deref(),
            Some("a photo of a cello")
        );
        assert_eq!(
            c.sessions[1].date,
            Some(Utc.with_ymd_and_hms(2024, 4, 12, 19, 40, 0).unwrap())
        );
        assert_eq!(c.questions.len(), 3);
        assert_eq!(c.unreadable, 2);
        assert_eq!(c.questions[1].evidence, vec![(1, 2), (2, 1)]);
        assert_eq!(c.questions[2].evidence, vec![(2, 1)]);
    }

    #[test]
    fn session_dates_parse_with_one_digit_hours_and_days() {
        assert_eq!(
            parse_session_date("1:56 pm on 8 May, 2023"),
            Some(Utc.with_ymd_and_hms(2023, 5, 8, 13, 56, 0).unwrap())
        );
        assert_eq!(
            parse_session_date("12:48 am on 1 February, 2023"),
            Some(Utc.with_ymd_and_hms(2023, 2, 1, 0, 48, 0).unwrap())
        );
        assert_eq!(parse_session_date("yesterday"), None);
    }

    #[test]
    fn turn_facts_carry_speaker_caption_and_date() {
        let t = Turn {
            dia_id: "D1:2".into(),
            speaker: "Ben".into(),
            text: "Look at this.".into(),
            caption: Some("a photo of a cello".into()),
        };
        let d = Utc.with_ymd_and_hms(2024, 3, 3, 9, 5, 0).unwrap();
        assert_eq!(
            turn_fact_text(&t, Some(d)),
            "Ben: Look at this. [shares a photo of a cello] (3 March 2024)"
        );
        let long = Turn {
            text: "word ".repeat(300),
            ..t
        };
        let s = turn_fact_text(&long, Some(d));
        assert!(s.chars().count() <= MAX_FACT_CHARS && s.ends_with("(3 March 2024)"));
    }

    #[test]
    fn judging_needs_all_sessions_and_turns() {
        let src = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let top = vec![src(&["D1:4"]), src(&["D3:1", "D3:2"])];
        assert_eq!(
            judge(&top, &[(1, 4)]),
            Judgement {
                session: true,
                session_any: true,
                turn_all: true,
                turn_any: true
            }
        );
        assert_eq!(
            judge(&top, &[(1, 5), (3, 2)]),
            Judgement {
                session: true,
                session_any: true,
                turn_all: false,
                turn_any: true
            }
        );
        assert_eq!(
            judge(&top, &[(2, 1), (3, 9)]),
            Judgement {
                session_any: true,
                ..Judgement::default()
            }
        );
        assert_eq!(judge(&top, &[(2, 1)]), Judgement::default());
        assert_eq!(judge(&[], &[(1, 1)]), Judgement::default());
    }

    #[test]
    fn tally_reports_categories_then_overall() {
        let mut t = Tally::default();
        let hit = Judgement {
            session: true,
            session_any: true,
            turn_all: true,
            turn_any: true,
        };
        t.add(2, &[Judgement::default(), hit]);
        t.add(1, &[hit, hit]);
        let rows = t.rows(&[5, 10]);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].category, Some(1));
        assert_eq!(rows[2].category, None);
        assert_eq!(rows[2].questions, 2);
        assert_eq!(rows[2].recall[0].session, 0.5);
        assert_eq!(rows[2].recall[1].turn_all, 1.0);
    }
}
