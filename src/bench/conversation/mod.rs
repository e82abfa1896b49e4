//! `threeam bench conversation`: scripted people talk to 3AM over several days, through the
//! real turn pipeline (the configured chat and embedding servers, a throwaway database on the
//! configured PostgreSQL; a recorder stands in for Matrix), with the real night cycle between
//! days, and what they read is scored ([`score`], [`report`]):
//!
//! * replies that echo the user, repeat an earlier reply or speak as the user, as sent;
//! * recall questions answered correctly, the same day (realtime memory), after a night, and
//!   from a long-time user's memory;
//! * realtime extraction: each statement stored within its turn (recall), and every stored
//!   fact said by the user (precision); the night's facts are judged the same way;
//! * care: a later suggestion respects an allergy or dislike;
//! * memory after the nights: a move supersedes the old home (kept as history), compatible
//!   facts both stay;
//! * latency: first visible words and the whole reply, as memory and history grow.
//!
//! The personas are in `personas.toml` ([`persona`]). The live test
//! (`tests/conversation_live.rs`) runs the `live = true` subset and asserts floors.

pub mod persona;
pub mod report;
pub mod score;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::Utc;
use serde_json::Value;

use crate::assistant::guard::{Guard, GuardInput};
use crate::assistant::{Assistant, Incoming, Timing};
use crate::bench::TempDatabase;
use crate::bench::recorder::Recorder;
use crate::chat::IncomingMessage;
use crate::config::Config;
use crate::llm::{LlmClient, ServerKind};
use crate::memory::{Category, NewFact};
use crate::store;

use persona::Persona;
pub use report::Report;
use report::{FactJudgement, MemoryOutcome, PersonaReport, RecallFrom, TurnOutcome};

/// Which personas to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only these (names, any case); all when empty.
    pub only: Vec<String>,
    /// Only the live test's subset.
    pub live_subset: bool,
    /// Print each exchange as it happens.
    pub verbose: bool,
}

/// Plays the chosen personas and scores them. The throwaway database is dropped afterwards,
/// also when a persona fails.
pub async fn run(cfg: &Config, opts: &Options) -> anyhow::Result<Report> {
    let mut cfg = cfg.clone();
    // The personas need no web, and a search would make the numbers depend on the internet.
    cfg.web.enabled = false;
    let llm = Arc::new(LlmClient::new(&cfg.llm)?);
    let model = llm
        .model(ServerKind::Chat)
        .await
        .context("asking the chat server for its model")?;
    let chosen: Vec<Persona> = persona::all()
        .into_iter()
        .filter(|p| !opts.live_subset || p.live)
        .filter(|p| {
            opts.only.is_empty() || opts.only.iter().any(|n| n.eq_ignore_ascii_case(&p.name))
        })
        .collect();
    anyhow::ensure!(!chosen.is_empty(), "no persona matches {:?}", opts.only);
    let db = TempDatabase::create(&cfg.database.url, "conversation").await?;
    let started = Instant::now();
    let result = async {
        let mut personas = Vec::new();
        for p in &chosen {
            personas.push(
                play(&db.pool, &llm, &cfg, p, opts.verbose)
                    .await
                    .with_context(|| format!("persona {}", p.name))?,
            );
        }
        Ok::<_, anyhow::Error>(personas)
    }
    .await;
    db.remove().await;
    Ok(Report {
        model: short_model_name(&model),
        personas: result?,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// What a persona has said and read so far.
#[derive(Default)]
struct Transcript {
    said: Vec<String>,
    read: Vec<String>,
}

async fn play(
    pool: &sqlx::PgPool,
    llm: &Arc<LlmClient>,
    cfg: &Config,
    p: &Persona,
    verbose: bool,
) -> anyhow::Result<PersonaReport> {
    let user = p.user_id();
    let room = format!("!{}:bench.localhost", p.name.to_lowercase());
    let recorder = Arc::new(Recorder::default());
    let assistant = Assistant::new(
        pool.clone(),
        llm.clone(),
        Arc::new(cfg.clone()),
        recorder.clone(),
        Timing::default(),
    );
    store::users::upsert_user(pool, &user, &p.timezone).await?;
    store::users::claim_room(pool, &room, &user, true).await?;
    crate::store::users::set_timezone(
        pool,
        &user,
        p.timezone
            .parse::<chrono_tz::Tz>()
            .map_err(anyhow::Error::msg)?
            .name(),
    )
    .await?;

    let mut transcript = Transcript::default();
    let mut judged: HashSet<i64> = HashSet::new();
    seed(pool, llm, &user, p).await?;
    judged.extend(fact_ids(&crate::memory::export(pool, &user).await?));
    let seeded = !p.seed_facts.is_empty();

    let mut report = PersonaReport {
        name: p.name.clone(),
        style: p.style.clone(),
        turns: Vec::new(),
        facts: Vec::new(),
        memory: Vec::new(),
    };
    let names = [p.name.as_str(), p.full_name.as_str()];
    for (d, day) in p.days.iter().enumerate() {
        for (t, turn) in day.turns.iter().enumerate() {
            let event_id = format!("$bench-{}-d{d}-t{t}", p.name.to_lowercase());
            let facts_before = crate::memory::live_count(pool, &user).await? as usize;
            let exchanges_before = transcript.read.len();
            let t0 = Instant::now();
            assistant
                .handle(Incoming::Message(IncomingMessage {
                    event_id: event_id.clone(),
                    room_id: room.clone(),
                    sender: user.clone(),
                    body: turn.say.clone(),
                    thread_root: None,
                    in_reply_to: None,
                    sent_at: Utc::now(),
                    encrypted: true,
                }))
                .await?;
            let whole_ms = t0.elapsed().as_secs_f64() * 1000.0;
            let shown = recorder.shown_since(&room, t0);
            let first_visible_ms = shown
                .iter()
                .filter(|s| !s.text.trim().is_empty())
                .map(|s| (s.first_shown - t0).as_secs_f64() * 1000.0)
                .reduce(f64::min);
            let reply = shown
                .iter()
                .map(|s| s.text.as_str())
                .collect::<Vec<_>>()
                .join("\n\n");
            // 3AM's own "not sure" line comes before many hedged replies; it is not the
            // model repeating itself.
            let model_words = crate::assistant::gate_step::PREFACES
                .iter()
                .fold(reply.clone(), |r, p| r.replace(p, ""));
            assistant.settle().await;

            let earlier_messages: Vec<&str> = transcript.said.iter().map(String::as_str).collect();
            let earlier_replies: Vec<&str> = transcript.read.iter().map(String::as_str).collect();
            let flaw = Guard::new(&GuardInput {
                earlier_messages: &earlier_messages,
                message: &turn.say,
                earlier_replies: &earlier_replies,
                known_names: &names,
                hidden: &[],
                // Impersonation is judged on what the user said, not on memory: the scorer
                // does not know which facts were in the prompt (see the README).
                memories: &[],
                small_talk: crate::gate::rules::classify(&turn.say)
                    == Some(crate::gate::rules::TextRule::SmallTalk),
            })
            .check(model_words.trim());
            let guard = guard_record(pool, &event_id).await?;
            let export = crate::memory::export(pool, &user).await?;

            let learned = turn
                .learn
                .iter()
                .map(|l| {
                    let ok = facts(&export).any(|f| {
                        f.live && f.sources.contains(&event_id) && l.pattern.matches(&f.text)
                    });
                    (l.clone(), ok)
                })
                .collect();
            transcript.said.push(turn.say.clone());
            transcript.read.push(model_words.trim().to_owned());
            judge_new_facts(
                &export,
                p,
                &transcript,
                &mut judged,
                false,
                &mut report.facts,
            );

            let recall = (!turn.expect.is_empty()).then(|| {
                let from = if d > 0 {
                    RecallFrom::AfterNight
                } else if seeded {
                    RecallFrom::Seeded
                } else {
                    RecallFrom::SameDay
                };
                (from, score::recalled(&reply, &turn.expect))
            });
            let care =
                (!turn.avoid.is_empty()).then(|| score::care_violations(&reply, &turn.avoid));
            let outcome = TurnOutcome {
                day: d,
                said: turn.say.clone(),
                reply,
                first_visible_ms,
                whole_ms,
                facts_before,
                exchanges_before,
                flaw,
                guard,
                recall,
                care,
                learned,
            };
            if verbose {
                print_turn(&p.name, &outcome);
            }
            report.turns.push(outcome);
        }

        // The night after the day.
        let night_date = Utc::now().date_naive() + chrono::Duration::days(d as i64);
        let t0 = Instant::now();
        let outcome = crate::night::run_night(
            pool,
            llm,
            &user,
            night_date,
            Utc::now(),
            &crate::night::RunOptions {
                trigger: crate::night::Trigger::Manual,
                ..Default::default()
            },
        )
        .await
        .context("the night cycle")?;
        if verbose {
            match &outcome {
                crate::night::RunOutcome::Done(r) => println!(
                    "  [{} night {}] {} ({:.0} s)",
                    p.name,
                    d + 1,
                    crate::night::summary(r),
                    t0.elapsed().as_secs_f64()
                ),
                other => println!("  [{} night {}] {other:?}", p.name, d + 1),
            }
        }
        let export = crate::memory::export(pool, &user).await?;
        judge_new_facts(
            &export,
            p,
            &transcript,
            &mut judged,
            true,
            &mut report.facts,
        );
        for check in &day.memory {
            for pat in &check.live {
                report.memory.push(MemoryOutcome {
                    day: d,
                    check: format!("a live fact matches {:?}", pat.as_str()),
                    ok: facts(&export).any(|f| f.live && pat.matches(&f.text)),
                });
            }
            for pat in &check.history {
                let kept = facts(&export).any(|f| !f.live && f.superseded && pat.matches(&f.text));
                let live = facts(&export).any(|f| f.live && pat.matches(&f.text));
                report.memory.push(MemoryOutcome {
                    day: d,
                    check: format!("{:?} is history, kept but no longer live", pat.as_str()),
                    ok: kept && !live,
                });
            }
        }
        // The next day is a new session: what was said today is older than the session gap,
        // so only memory carries it.
        crate::store::messages::move_back(pool, &user, chrono::Duration::hours(20))
            .await
            .context("moving the day's messages back")?;
    }
    Ok(report)
}

/// The long-time user's memories.
async fn seed(pool: &sqlx::PgPool, llm: &LlmClient, user: &str, p: &Persona) -> anyhow::Result<()> {
    if !p.seed_facts.is_empty() {
        let facts: Vec<NewFact> = p
            .seed_facts
            .iter()
            .map(|(c, t)| NewFact::new(t.clone(), Category::parse_lenient(c), 4))
            .collect();
        crate::memory::store_facts(pool, llm, user, facts).await?;
    }
    Ok(())
}

/// What the reply guard recorded for the reply to `event_id`.
async fn guard_record(
    pool: &sqlx::PgPool,
    event_id: &str,
) -> anyhow::Result<Option<(String, String)>> {
    let row = crate::store::feedback::guard_record(pool, event_id).await?;
    Ok(match row {
        Some((Some(flaw), Some(action))) => Some((flaw, action)),
        _ => None,
    })
}

/// A fact as the export shows it.
struct SeenFact {
    id: i64,
    text: String,
    live: bool,
    superseded: bool,
    sources: Vec<String>,
}

fn facts(export: &Value) -> impl Iterator<Item = SeenFact> + '_ {
    export["facts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| SeenFact {
            id: f["id"].as_i64().unwrap_or_default(),
            text: f["text"].as_str().unwrap_or_default().to_owned(),
            live: f["status"] == "live",
            superseded: f["status"] == "superseded",
            sources: f["source_event_ids"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
        })
}

fn fact_ids(export: &Value) -> Vec<i64> {
    facts(export).map(|f| f.id).collect()
}

fn judge_new_facts(
    export: &Value,
    p: &Persona,
    transcript: &Transcript,
    judged: &mut HashSet<i64>,
    by_night: bool,
    out: &mut Vec<FactJudgement>,
) {
    let said = transcript.said.join("\n");
    for f in facts(export) {
        if judged.insert(f.id) {
            out.push(FactJudgement {
                supported: score::supported(&f.text, &said, &p.also_said, &p.never),
                text: f.text,
                by_night,
            });
        }
    }
}

fn print_turn(name: &str, t: &TurnOutcome) {
    let mut marks = Vec::new();
    if let Some(f) = &t.flaw {
        marks.push(format!("FLAW {f}"));
    }
    if let Some((flaw, action)) = &t.guard {
        marks.push(format!("guard: {flaw} → {action}"));
    }
    if let Some((_, ok)) = t.recall {
        marks.push(if ok { "recall ok" } else { "RECALL MISSED" }.into());
    }
    if let Some(v) = &t.care {
        marks.push(if v.is_empty() {
            "care ok".into()
        } else {
            format!("CARE: {}", v.join(", "))
        });
    }
    for (l, ok) in &t.learned {
        marks.push(format!(
            "{} {}",
            if *ok { "learned" } else { "NOT LEARNED" },
            l.pattern.as_str()
        ));
    }
    println!(
        "[{name} d{}] > {}\n    < {}\n    ({} first words, {:.1} s whole; {} facts, {} exchanges before) {}",
        t.day + 1,
        t.said,
        t.reply.replace('\n', "\n      "),
        t.first_visible_ms
            .map(|ms| format!("{:.1} s", ms / 1000.0))
            .unwrap_or_else(|| "no".into()),
        t.whole_ms / 1000.0,
        t.facts_before,
        t.exchanges_before,
        marks.join(" · ")
    );
}

/// The model's file name without directories and extension, for the table.
pub(crate) fn short_model_name(model: &str) -> String {
    let base = model.rsplit('/').next().unwrap_or(model);
    base.strip_suffix(".gguf").unwrap_or(base).to_owned()
}
