//! `threeam bench tools`: what the sandbox costs. A trivial tool (`run(args)` returning its
//! argument) run in the full sandbox (bubblewrap, seccomp, Landlock, limits, the harness),
//! against the baseline of a bare `python3 -I -S -c pass` started the same way from the same
//! process, interleaved so both see the same machine.

use std::time::{Duration, Instant};

use anyhow::Context;

use super::quantile;
use crate::tools::sandbox::{Limits, Outcome, Sandbox};

const TRIVIAL: &str = "def run(args):\n    return args\n";

/// What one run of the benchmark measured, in milliseconds.
#[derive(Debug, Clone)]
pub struct ToolsReport {
    pub runs: usize,
    pub bare: (f64, f64),
    pub sandboxed: (f64, f64),
}

impl ToolsReport {
    pub fn table(&self) -> String {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        format!(
            "| start | p50 ms | p95 ms |\n|---|---|---|\n\
             | bare `python3 -I -S -c pass` (baseline) | {:.1} | {:.1} |\n\
             | trivial tool in the sandbox | {:.1} | {:.1} |\n\
             | ratio | {:.2}× | {:.2}× |\n\n{} runs of each, interleaved.",
            self.bare.0,
            self.bare.1,
            self.sandboxed.0,
            self.sandboxed.1,
            ratio(self.sandboxed.0, self.bare.0),
            ratio(self.sandboxed.1, self.bare.1),
            self.runs
        )
    }
}

pub async fn run(runs: usize) -> anyhow::Result<ToolsReport> {
    let sandbox = Sandbox::locate(Limits::default())?;
    let mut bare = Vec::with_capacity(runs);
    let mut sandboxed = Vec::with_capacity(runs);
    let input = serde_json::json!({"x": 1});
    for _ in 0..runs {
        let t = Instant::now();
        let status = tokio::process::Command::new("/usr/bin/python3")
            .args(["-I", "-S", "-c", "pass"])
            .status()
            .await
            .context("running python3")?;
        anyhow::ensure!(status.success(), "python3 -c pass failed");
        bare.push(ms(t.elapsed()));
        let r = sandbox.run(TRIVIAL, &input).await?;
        anyhow::ensure!(
            r.outcome == Outcome::Returned(input.clone()),
            "the trivial tool did not return its input: {:?}",
            r.outcome
        );
        sandboxed.push(ms(r.duration));
    }
    let q = |s: &[f64]| (quantile(s, 0.5), quantile(s, 0.95));
    Ok(ToolsReport {
        runs,
        bare: q(&bare),
        sandboxed: q(&sandboxed),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
