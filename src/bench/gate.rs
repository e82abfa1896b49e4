//! `threeam bench gate`: what the decision gate costs per turn with the configured (real)
//! model. Over a fixed mix of everyday messages it counts how many turns the cheap rules
//! decide (no model call) and how many need the draft (one extra, short, non-streamed call),
//! and times the draft against the streamed answer of the same prompt, measured in the same
//! run. A short draft the gate trusts is the answer itself (no second generation), so the
//! model time per turn with the gate is the draft, plus the answer when it is still needed.

use std::time::Instant;

use futures::StreamExt;

use crate::assistant::gate_step::{self, GateContext};
use crate::assistant::prompt::{self, PromptInput};
use crate::behaviour::{BehaviourProfile, prompt_sentences};
use crate::config::Config;
use crate::gate::{self, GateAction, MemoryCoverage};
use crate::llm::{ChatRequest, LlmClient, StreamEvent};

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

/// Tokens of the answer timed against the draft: a typical short answer.
const ANSWER_TOKENS: u32 = 256;

pub async fn run(cfg: &Config, rounds: usize) -> anyhow::Result<()> {
    let llm = LlmClient::new(&cfg.llm)?;
    let profile = BehaviourProfile::default();
    let tz = cfg.schedule.timezone();
    let mut by_rule = 0usize;
    let mut actions = [0usize; 3];
    let mut draft_ms = Vec::new();
    let mut answer_ms = Vec::new();
    // Model time of each turn with the gate: the draft, plus the answer unless the draft was
    // the answer.
    let mut with_gate_ms = Vec::new();
    let mut reused = 0usize;
    for _ in 0..rounds.max(1) {
        for text in MESSAGES {
            let sections = vec![prompt_sentences(&profile)];
            let messages = prompt::build(&PromptInput {
                now: chrono::Utc::now(),
                timezone: tz,
                user_name: None,
                context_sections: &sections,
                history: &[],
                message: text,
                budget: cfg
                    .llm
                    .context_tokens
                    .saturating_sub(ANSWER_TOKENS as usize),
            });
            let ctx = GateContext {
                message: text,
                memory: MemoryCoverage::NONE,
                profile: &profile,
                follows_conversation: false,
                clarified: false,
                prompt: &messages,
            };
            let t0 = Instant::now();
            let (decision, draft) = gate_step::decide(&llm, true, &ctx).await?;
            let this_draft_ms = if draft.is_some() {
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                draft_ms.push(ms);
                ms
            } else {
                0.0
            };
            by_rule += usize::from(decision.rule.is_some());
            let draft_is_answer = gate_step::reusable_draft(&decision, draft).is_some();
            reused += usize::from(draft_is_answer);
            actions[match decision.action {
                GateAction::Answer => 0,
                GateAction::Search => 1,
                GateAction::Ask => 2,
            }] += 1;
            // The answer the turn would stream, timed to its last token.
            let mut req = ChatRequest::new(messages);
            req.max_tokens = Some(ANSWER_TOKENS);
            req.temperature = Some(0.7);
            req.top_logprobs = 5;
            let t0 = Instant::now();
            let mut stream = Box::pin(llm.chat_stream(&req).await?);
            while let Some(ev) = stream.next().await {
                if matches!(ev?, StreamEvent::Done { .. }) {
                    break;
                }
            }
            let answer = t0.elapsed().as_secs_f64() * 1000.0;
            answer_ms.push(answer);
            with_gate_ms.push(this_draft_ms + if draft_is_answer { 0.0 } else { answer });
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
        "decided by rules (no model call): {by_rule} ({:.0}%) · drafted: {} ({:.0}%) → extra model calls per turn {:.2}",
        100.0 * by_rule as f64 / turns as f64,
        draft_ms.len(),
        100.0 * draft_ms.len() as f64 / turns as f64,
        draft_ms.len() as f64 / turns as f64
    );
    println!(
        "actions: answer {} · search {} · ask {}",
        actions[0], actions[1], actions[2]
    );
    println!(
        "{:<34} {:>9} {:>9} {:>9}",
        "", "p50 ms", "p95 ms", "mean ms"
    );
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "{:<34} {:>9.0} {:>9.0} {:>9.0}",
        format!("draft ({} tokens, greedy)", gate::DRAFT_MAX_TOKENS),
        q(&draft_ms, 0.5),
        q(&draft_ms, 0.95),
        mean(&draft_ms)
    );
    println!(
        "{:<34} {:>9.0} {:>9.0} {:>9.0}",
        format!("baseline: the answer (≤{ANSWER_TOKENS} tokens)"),
        q(&answer_ms, 0.5),
        q(&answer_ms, 0.95),
        mean(&answer_ms)
    );
    println!(
        "{:<34} {:>9.0} {:>9.0} {:>9.0}",
        "model time per turn with the gate",
        q(&with_gate_ms, 0.5),
        q(&with_gate_ms, 0.95),
        mean(&with_gate_ms)
    );
    println!(
        "drafts that were the whole answer (no second generation): {reused} of {}",
        draft_ms.len()
    );
    println!(
        "the gate changes the mean model time per turn by {:+.0} ms ({:+.0}%)",
        mean(&with_gate_ms) - mean(&answer_ms),
        100.0 * (mean(&with_gate_ms) / mean(&answer_ms) - 1.0)
    );
    Ok(())
}
