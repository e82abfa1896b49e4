//! `threeam bench gate`: what the decision gate costs per turn with the configured (real)
//! model. Over a fixed mix of everyday messages it counts how many turns the cheap rules
//! decide (no draft at all) and, for the others, times the draft (the answer's own first
//! [`gate::DRAFT_TOKENS`] tokens, held back until the gate decides) and whether the answer
//! goes on in the same generation or starts again with the decision's instruction. The
//! baseline, measured in the same run, is the answer alone for the same prompt, with no gate.

use std::time::Instant;

use futures::StreamExt;

use crate::assistant::gate_step;
use crate::assistant::prompt::{self, Notes, Standing};
use crate::behaviour::{BehaviourProfile, prompt_sentences};
use crate::config::Config;
use crate::gate::{self, GateAction, GateInput, MemoryCoverage};
use crate::llm::{ChatMessage, ChatRequest, LlmClient, StreamEvent, TokenLogprob};

/// A week of plausible messages: small talk, questions the model knows or does not, requests
/// for current information, and a couple of vague ones.
const MESSAGES: &[&str] = &[
    "Good morning!",
    "thanks, that helps",
    "What is the capital of Australia?",
    "How do I reverse a list in Python?",
    "Who wrote the novel Middlemarch?",
    "What's the weather in Lyon today?",
    "Explain what a hash map is in two sentences.",
    "What is the boiling point of water at 2000 metres altitude?",
    "Look up the latest Rust release notes",
    "Which year did the Berlin Wall fall?",
    "do that",
    "Give me a synonym for 'quick'.",
    "What did the Treaty of Westphalia settle?",
    "How many bones are in the human hand?",
    "What is the current price of bitcoin?",
    "Write a haiku about autumn rain.",
    "What's the difference between TCP and UDP?",
    "Who was the 14th prime minister of New Zealand?",
    "and then?",
    "What does the `?` operator do in Rust?",
];

/// Tokens of the answer timed: a typical short answer.
const ANSWER_TOKENS: u32 = 256;

/// A streamed answer: time to `stop_after` tokens (if it got there), the whole time, and the
/// logprobs read.
struct Streamed {
    to_draft_ms: f64,
    whole_ms: f64,
    logprobs: Vec<TokenLogprob>,
}

async fn stream(llm: &LlmClient, messages: Vec<ChatMessage>) -> anyhow::Result<Streamed> {
    let mut req = ChatRequest::new(messages);
    req.max_tokens = Some(ANSWER_TOKENS);
    req.temperature = Some(0.3);
    req.top_logprobs = gate::DRAFT_TOP_LOGPROBS;
    let t0 = Instant::now();
    let mut s = Box::pin(llm.chat_stream(&req).await?);
    let mut logprobs = Vec::new();
    let mut to_draft_ms = None;
    while let Some(ev) = s.next().await {
        match ev? {
            StreamEvent::Delta { logprobs: lp, .. } => {
                logprobs.extend(lp);
                if logprobs.len() >= gate::DRAFT_TOKENS && to_draft_ms.is_none() {
                    to_draft_ms = Some(t0.elapsed().as_secs_f64() * 1000.0);
                }
            }
            StreamEvent::Done { .. } => break,
        }
    }
    let whole_ms = t0.elapsed().as_secs_f64() * 1000.0;
    Ok(Streamed {
        to_draft_ms: to_draft_ms.unwrap_or(whole_ms),
        whole_ms,
        logprobs,
    })
}

pub async fn run(cfg: &Config, rounds: usize) -> anyhow::Result<()> {
    let llm = LlmClient::new(&cfg.llm)?;
    let profile = BehaviourProfile::default();
    let tz = cfg.schedule.timezone();
    let mut by_rule = 0usize;
    let mut actions = [0usize; 3];
    let mut draft_ms = Vec::new();
    let mut answer_ms = Vec::new();
    let mut with_gate_ms = Vec::new();
    let mut restarted = 0usize;
    for _ in 0..rounds.max(1) {
        for text in MESSAGES {
            let now = chrono::Utc::now();
            let behaviour = prompt_sentences(&profile);
            let system = prompt::system_prompt(
                now,
                tz,
                &Standing {
                    user_name: None,
                    behaviour: &behaviour,
                    profile: None,
                    pinned: &[],
                },
            );
            let build = |sections: &[String]| {
                let notes = prompt::notes(
                    now,
                    tz,
                    &Notes {
                        memories: &[],
                        sections,
                    },
                );
                prompt::assemble(system.clone(), vec![], notes, (*text).to_owned(), true)
            };
            let mut input = GateInput {
                message: text,
                memory: MemoryCoverage::NONE,
                draft: None,
                web_enabled: true,
                clarified: false,
                follows_conversation: false,
            };
            // The baseline: the answer alone, no gate.
            let alone = stream(&llm, build(&[])).await?;
            answer_ms.push(alone.whole_ms);
            let decision = match gate::precheck(&input) {
                Some(d) => {
                    by_rule += 1;
                    d
                }
                None => {
                    // The same generation with the gate: it decides on the draft.
                    input.draft = crate::confidence::from_logprobs(&alone.logprobs);
                    draft_ms.push(alone.to_draft_ms);
                    gate::decide(&input, &profile.gate_policy())
                }
            };
            actions[match decision.action {
                GateAction::Answer => 0,
                GateAction::Search => 1,
                GateAction::Ask => 2,
            }] += 1;
            let drafted = decision.rule.is_none();
            let cost = if drafted && gate_step::needs_new_prompt(&decision) {
                // Dropped at the draft; the answer starts again with the instruction (the
                // search itself is not timed here).
                restarted += 1;
                let sections: Vec<String> = gate_step::without_search(&decision).sections;
                alone.to_draft_ms + stream(&llm, build(&sections)).await?.whole_ms
            } else if !drafted && gate_step::needs_new_prompt(&decision) {
                let sections: Vec<String> = gate_step::without_search(&decision).sections;
                stream(&llm, build(&sections)).await?.whole_ms
            } else {
                alone.whole_ms
            };
            with_gate_ms.push(cost);
        }
    }
    let turns = answer_ms.len();
    let q = super::quantile;
    println!(
        "decision gate with the model at {} ({turns} turns of {} everyday messages)",
        cfg.llm.chat_url,
        MESSAGES.len()
    );
    println!(
        "decided by rules (no draft): {by_rule} ({:.0}%) · drafted: {} ({:.0}%), of which {restarted} started again after the draft",
        100.0 * by_rule as f64 / turns as f64,
        draft_ms.len(),
        100.0 * draft_ms.len() as f64 / turns as f64,
    );
    println!(
        "actions: answer {} · search {} · ask {}",
        actions[0], actions[1], actions[2]
    );
    println!(
        "{:<42} {:>9} {:>9} {:>9}",
        "", "p50 ms", "p95 ms", "mean ms"
    );
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    for (label, v) in [
        (
            format!("draft (first {} tokens, held back)", gate::DRAFT_TOKENS),
            &draft_ms,
        ),
        (
            format!("baseline: the answer alone (≤{ANSWER_TOKENS} tokens)"),
            &answer_ms,
        ),
        (
            "model time per turn with the gate".to_owned(),
            &with_gate_ms,
        ),
    ] {
        println!(
            "{label:<42} {:>9.0} {:>9.0} {:>9.0}",
            q(v, 0.5),
            q(v, 0.95),
            mean(v)
        );
    }
    println!(
        "the gate changes the mean model time per turn by {:+.0} ms ({:+.0}%)",
        mean(&with_gate_ms) - mean(&answer_ms),
        100.0 * (mean(&with_gate_ms) / mean(&answer_ms) - 1.0)
    );
    Ok(())
}
