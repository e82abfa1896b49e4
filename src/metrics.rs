//! What the running bot counts, for Prometheus: turns and how long they took, the gate's
//! decisions, model errors, night stages, tool runs, messages received. Everything here is
//! a count or a duration, never a user id or a word anybody wrote, so a scrape cannot leak
//! personal data.
//!
//! The numbers live in one process-wide registry (`prometheus-client`), so any module can
//! count without a handle being passed through every layer; this module imports nothing
//! from the rest of the crate. [`render`] writes the text exposition format that the
//! `/metrics` endpoint (`crate::observe`) serves, with the current queue depth, which is
//! read from the database at scrape time rather than tracked.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabel {
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelErrorLabel {
    server: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabel {
    stage: String,
    outcome: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Seconds from 50 ms to about 7 minutes: a turn, a stage, a tool run.
fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.05, 2.0, 14))
}

struct Metrics {
    registry: Registry,
    messages: Counter,
    turns: Family<OutcomeLabel, Counter>,
    turn_seconds: Histograms<OutcomeLabel>,
    gate: Family<ActionLabel, Counter>,
    gate_seconds: Histogram,
    model_errors: Family<ModelErrorLabel, Counter>,
    night_stage_seconds: Histograms<StageLabel>,
    tool_runs: Family<OutcomeLabel, Counter>,
    tool_seconds: Histogram,
    queue: Gauge,
    users: Gauge,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("threeam");
    let m = Metrics {
        messages: Counter::default(),
        turns: Family::default(),
        turn_seconds: Family::new_with_constructor(seconds_histogram),
        gate: Family::default(),
        gate_seconds: seconds_histogram(),
        model_errors: Family::default(),
        night_stage_seconds: Family::new_with_constructor(seconds_histogram),
        tool_runs: Family::default(),
        tool_seconds: seconds_histogram(),
        queue: Gauge::default(),
        users: Gauge::default(),
        registry: Registry::default(),
    };
    registry.register(
        "messages_received",
        "Chat messages and commands accepted from allow-listed users",
        m.messages.clone(),
    );
    registry.register(
        "turns",
        "Chat turns by outcome: answered, model_away (queued for retry), refused (the model rejected it), gave_up, failed",
        m.turns.clone(),
    );
    registry.register(
        "turn_duration_seconds",
        "From taking a message up to its last reply part, by outcome",
        m.turn_seconds.clone(),
    );
    registry.register(
        "gate_decisions",
        "What the gate decided before answering: answer, search, ask",
        m.gate.clone(),
    );
    registry.register(
        "gate_duration_seconds",
        "Time the gate took before the answer started (draft and search)",
        m.gate_seconds.clone(),
    );
    registry.register(
        "model_errors",
        "Failed requests to the model servers after retries, by server and kind",
        m.model_errors.clone(),
    );
    registry.register(
        "night_stage_duration_seconds",
        "Night cycle stages by name and outcome (done or failed)",
        m.night_stage_seconds.clone(),
    );
    registry.register(
        "tool_runs",
        "Self-made tool runs in the sandbox by outcome: returned, raised, stopped",
        m.tool_runs.clone(),
    );
    registry.register(
        "tool_run_duration_seconds",
        "Self-made tool runs in the sandbox",
        m.tool_seconds.clone(),
    );
    registry.register(
        "queue_depth",
        "Messages waiting for an answer (received, failed and queued for retry, or being answered)",
        m.queue.clone(),
    );
    registry.register("users", "Users the bot has served", m.users.clone());
    Metrics { registry, ..m }
});

fn label(s: &str) -> String {
    s.to_owned()
}

/// A message or command from an allow-listed user was accepted.
pub fn message_received() {
    METRICS.messages.inc();
}

/// A chat turn ended with `outcome` after `seconds`.
pub fn turn(outcome: &str, seconds: f64) {
    let l = OutcomeLabel {
        outcome: label(outcome),
    };
    METRICS.turns.get_or_create(&l).inc();
    METRICS.turn_seconds.get_or_create(&l).observe(seconds);
}

/// The gate decided `action` (answer, search, ask) in `seconds`.
pub fn gate(action: &str, seconds: f64) {
    METRICS
        .gate
        .get_or_create(&ActionLabel {
            action: label(action),
        })
        .inc();
    METRICS.gate_seconds.observe(seconds);
}

/// A request to the `server` (chat, embedding) failed for good with an error of `kind`.
pub fn model_error(server: &str, kind: &str) {
    METRICS
        .model_errors
        .get_or_create(&ModelErrorLabel {
            server: label(server),
            kind: label(kind),
        })
        .inc();
}

/// A night stage finished (`ok`) or failed after `seconds`.
pub fn night_stage(stage: &str, seconds: f64, ok: bool) {
    METRICS
        .night_stage_seconds
        .get_or_create(&StageLabel {
            stage: label(stage),
            outcome: label(if ok { "done" } else { "failed" }),
        })
        .observe(seconds);
}

/// A tool run ended with `outcome` (returned, raised, stopped) after `seconds`.
pub fn tool_run(outcome: &str, seconds: f64) {
    METRICS
        .tool_runs
        .get_or_create(&OutcomeLabel {
            outcome: label(outcome),
        })
        .inc();
    METRICS.tool_seconds.observe(seconds);
}

/// The text exposition of every metric, with the queue depth and user count as read now.
pub fn render(queue_depth: i64, users: i64) -> String {
    METRICS.queue.set(queue_depth);
    METRICS.users.set(users);
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &METRICS.registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_carries_what_was_counted() {
        message_received();
        turn("answered", 1.2);
        gate("search", 0.3);
        model_error("chat", "timeout");
        night_stage("extract", 4.0, true);
        tool_run("returned", 0.1);
        let text = render(3, 2);
        for line in [
            "threeam_messages_received_total ",
            "threeam_turns_total{outcome=\"answered\"} ",
            "threeam_turn_duration_seconds_bucket{le=\"1.6\",outcome=\"answered\"} ",
            "threeam_gate_decisions_total{action=\"search\"} ",
            "threeam_model_errors_total{server=\"chat\",kind=\"timeout\"} ",
            "threeam_night_stage_duration_seconds_count{stage=\"extract\",outcome=\"done\"} ",
            "threeam_tool_runs_total{outcome=\"returned\"} ",
            "threeam_queue_depth 3",
            "threeam_users 2",
            "# EOF",
        ] {
            assert!(text.contains(line), "{line} missing in:\n{text}");
        }
    }
}
