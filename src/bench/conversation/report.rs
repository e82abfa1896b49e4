//! What the conversation benchmark found, and how it is printed: one row per persona, a row
//! for all, one summary line, and the failed checks with what the user read. Pure.

use std::fmt::Write as _;

use super::score::Learn;
use crate::assistant::guard::Flaw;
use crate::bench::quantile;

/// Where the memory a recall question needs came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecallFrom {
    /// Said earlier the same day: realtime extraction only, no night yet.
    SameDay,
    /// After at least one night.
    AfterNight,
    /// A long-time user's memory, there before the first message.
    Seeded,
}

#[derive(Debug, Clone)]
pub struct TurnOutcome {
    pub day: usize,
    pub said: String,
    /// What the user read, all parts.
    pub reply: String,
    /// From the message reaching the assistant to the first words on screen.
    pub first_visible_ms: Option<f64>,
    /// To the complete reply.
    pub whole_ms: f64,
    pub facts_before: usize,
    pub exchanges_before: usize,
    /// A flaw in what was sent (the guard should have stopped it).
    pub flaw: Option<Flaw>,
    /// What the guard caught before sending, and what it did.
    pub guard: Option<(String, String)>,
    pub recall: Option<(RecallFrom, bool)>,
    /// `Some(violations)` for a care check.
    pub care: Option<Vec<String>>,
    /// Each statement to learn, and whether memory held it after the turn.
    pub learned: Vec<(Learn, bool)>,
}

#[derive(Debug, Clone)]
pub struct FactJudgement {
    pub text: String,
    pub supported: bool,
    /// Stored by a night rather than within a turn.
    pub by_night: bool,
}

#[derive(Debug, Clone)]
pub struct MemoryOutcome {
    pub day: usize,
    pub check: String,
    pub ok: bool,
}

#[derive(Debug, Clone)]
pub struct PersonaReport {
    pub name: String,
    pub style: String,
    pub turns: Vec<TurnOutcome>,
    pub facts: Vec<FactJudgement>,
    pub memory: Vec<MemoryOutcome>,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub model: String,
    pub personas: Vec<PersonaReport>,
    pub seconds: f64,
}

/// A count of passed checks out of all.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Score {
    pub ok: usize,
    pub of: usize,
}

impl Score {
    fn add(&mut self, ok: bool) {
        self.ok += usize::from(ok);
        self.of += 1;
    }

    /// The passed share, or `None` with nothing to count.
    pub fn rate(&self) -> Option<f64> {
        (self.of > 0).then(|| self.ok as f64 / self.of as f64)
    }

    fn cell(&self) -> String {
        if self.of == 0 {
            "–".into()
        } else {
            format!("{}/{}", self.ok, self.of)
        }
    }

    fn pct(&self) -> String {
        match self.rate() {
            Some(r) => format!("{:.0}% ({}/{})", r * 100.0, self.ok, self.of),
            None => "–".into(),
        }
    }
}

/// Everything counted over some turns.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub replies: usize,
    pub echo: usize,
    pub repetition: usize,
    pub impersonation: usize,
    /// Replies that copied 3AM's own instructions.
    pub leak: usize,
    pub regenerated: usize,
    pub fallback: usize,
    pub recall_same_day: Score,
    pub recall_after_night: Score,
    pub recall_seeded: Score,
    pub extraction: Score,
    pub extraction_other: Score,
    pub precision: Score,
    pub precision_night: Score,
    pub care: Score,
    pub memory: Score,
    pub first_visible_ms: Vec<f64>,
    pub whole_ms: Vec<f64>,
    /// First visible words with at least 50 facts and 20 exchanges behind the turn.
    pub first_visible_full_ms: Vec<f64>,
}

impl Totals {
    pub fn of(personas: &[&PersonaReport]) -> Totals {
        let mut t = Totals::default();
        for p in personas {
            for turn in &p.turns {
                t.replies += 1;
                match &turn.flaw {
                    Some(Flaw::Echo { .. }) => t.echo += 1,
                    Some(Flaw::Repetition { .. }) => t.repetition += 1,
                    Some(Flaw::Impersonation { .. }) => t.impersonation += 1,
                    Some(Flaw::Leak { .. }) => t.leak += 1,
                    None => {}
                }
                if let Some((_, action)) = &turn.guard {
                    if action == "fallback" {
                        t.fallback += 1;
                    } else {
                        t.regenerated += 1;
                    }
                }
                if let Some((from, ok)) = turn.recall {
                    match from {
                        RecallFrom::SameDay => t.recall_same_day.add(ok),
                        RecallFrom::AfterNight => t.recall_after_night.add(ok),
                        RecallFrom::Seeded => t.recall_seeded.add(ok),
                    }
                }
                if let Some(v) = &turn.care {
                    t.care.add(v.is_empty());
                }
                for (learn, ok) in &turn.learned {
                    if learn.is_target() {
                        t.extraction.add(*ok);
                    } else {
                        t.extraction_other.add(*ok);
                    }
                }
                if let Some(ms) = turn.first_visible_ms {
                    t.first_visible_ms.push(ms);
                    if turn.facts_before >= 50 && turn.exchanges_before >= 20 {
                        t.first_visible_full_ms.push(ms);
                    }
                }
                t.whole_ms.push(turn.whole_ms);
            }
            for f in &p.facts {
                if f.by_night {
                    t.precision_night.add(f.supported);
                } else {
                    t.precision.add(f.supported);
                }
            }
            for m in &p.memory {
                t.memory.add(m.ok);
            }
        }
        t
    }

    pub fn flaws_sent(&self) -> usize {
        self.echo + self.repetition + self.impersonation + self.leak
    }

    /// All recall questions together.
    pub fn recall(&self) -> Score {
        let mut s = Score::default();
        for x in [
            self.recall_same_day,
            self.recall_after_night,
            self.recall_seeded,
        ] {
            s.ok += x.ok;
            s.of += x.of;
        }
        s
    }
}

fn secs(v: &[f64], q: f64) -> String {
    if v.is_empty() {
        "–".into()
    } else {
        format!("{:.1}", quantile(v, q) / 1000.0)
    }
}

impl Report {
    pub fn totals(&self) -> Totals {
        Totals::of(&self.personas.iter().collect::<Vec<_>>())
    }

    /// The table: one row per persona and one for all.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let header = [
            "persona",
            "style",
            "replies",
            "echo",
            "rep",
            "imp",
            "guard",
            "recall d1",
            "recall later",
            "extract",
            "other",
            "precision",
            "care",
            "memory",
            "first p50/p95 s",
            "whole p50/p95 s",
        ];
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(
            out,
            "|{}|",
            header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
        );
        let row = |name: &str, style: &str, t: &Totals| {
            let mut later = t.recall_after_night;
            later.ok += t.recall_seeded.ok;
            later.of += t.recall_seeded.of;
            let mut prec = t.precision;
            prec.ok += t.precision_night.ok;
            prec.of += t.precision_night.of;
            format!(
                "| {name} | {style} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} | {}/{} |",
                t.replies,
                t.echo,
                t.repetition,
                t.impersonation,
                t.regenerated + t.fallback,
                t.recall_same_day.cell(),
                later.cell(),
                t.extraction.cell(),
                t.extraction_other.cell(),
                prec.cell(),
                t.care.cell(),
                t.memory.cell(),
                secs(&t.first_visible_ms, 0.5),
                secs(&t.first_visible_ms, 0.95),
                secs(&t.whole_ms, 0.5),
                secs(&t.whole_ms, 0.95),
            )
        };
        for p in &self.personas {
            let _ = writeln!(out, "{}", row(&p.name, &p.style, &Totals::of(&[p])));
        }
        let _ = writeln!(out, "{}", row("**all**", "", &self.totals()));
        out
    }

    /// One line with the numbers the targets are about.
    pub fn summary(&self) -> String {
        let t = self.totals();
        format!(
            "{} replies by {}: {} flawed sent (echo {}, repetition {}, impersonation {}; guard regenerated {}, fell back {}) · recall {} (same day {}, after a night {}, long-time memory {}) · realtime extraction recall {} (other statements {}), precision {} (night {}) · care {} · memory after nights {} · first words p50 {} s p95 {} s (with ≥50 facts and ≥20 exchanges: p50 {} s p95 {} s) · whole reply p50 {} s p95 {} s · {:.0} s",
            t.replies,
            self.model,
            t.flaws_sent(),
            t.echo,
            t.repetition,
            t.impersonation,
            t.regenerated,
            t.fallback,
            t.recall().pct(),
            t.recall_same_day.cell(),
            t.recall_after_night.cell(),
            t.recall_seeded.cell(),
            t.extraction.pct(),
            t.extraction_other.cell(),
            t.precision.pct(),
            t.precision_night.pct(),
            t.care.cell(),
            t.memory.cell(),
            secs(&t.first_visible_ms, 0.5),
            secs(&t.first_visible_ms, 0.95),
            secs(&t.first_visible_full_ms, 0.5),
            secs(&t.first_visible_full_ms, 0.95),
            secs(&t.whole_ms, 0.5),
            secs(&t.whole_ms, 0.95),
            self.seconds,
        )
    }

    /// Every failed check, with what the user said and read.
    pub fn failures(&self) -> String {
        let mut out = String::new();
        let clip = |s: &str| {
            let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
            if one_line.chars().count() > 220 {
                format!("{}…", one_line.chars().take(220).collect::<String>())
            } else {
                one_line
            }
        };
        for p in &self.personas {
            for t in &p.turns {
                let mut why = Vec::new();
                if let Some(f) = &t.flaw {
                    why.push(format!("sent a flawed reply: {f}"));
                }
                if let Some((_, false)) = t.recall {
                    why.push("did not recall".into());
                }
                if let Some(v) = t.care.as_ref().filter(|v| !v.is_empty()) {
                    why.push(format!("suggested {}", v.join(", ")));
                }
                for (l, ok) in &t.learned {
                    if !ok {
                        why.push(format!("did not learn {}: {}", l.kind, l.pattern.as_str()));
                    }
                }
                if !why.is_empty() {
                    let _ = writeln!(
                        out,
                        "- {} day {}: {}\n  > {}\n  < {}",
                        p.name,
                        t.day + 1,
                        why.join("; "),
                        clip(&t.said),
                        clip(&t.reply)
                    );
                }
            }
            for f in p.facts.iter().filter(|f| !f.supported) {
                let _ = writeln!(
                    out,
                    "- {}: stored a fact the user did not say ({}): {}",
                    p.name,
                    if f.by_night { "night" } else { "realtime" },
                    f.text
                );
            }
            for m in p.memory.iter().filter(|m| !m.ok) {
                let _ = writeln!(
                    out,
                    "- {} after night {}: memory check failed: {}",
                    p.name,
                    m.day + 1,
                    m.check
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(recall: Option<(RecallFrom, bool)>, flaw: Option<Flaw>, first: f64) -> TurnOutcome {
        TurnOutcome {
            day: 0,
            said: "What is my dog called?".into(),
            reply: "Biscuit.".into(),
            first_visible_ms: Some(first),
            whole_ms: first * 2.0,
            facts_before: 50,
            exchanges_before: 20,
            flaw,
            guard: None,
            recall,
            care: Some(vec![]),
            learned: vec![(Learn::parse("family: biscuit"), true)],
        }
    }

    #[test]
    fn totals_count_what_the_user_read() {
        let p = PersonaReport {
            name: "Mara".into(),
            style: "chatty".into(),
            turns: vec![
                turn(Some((RecallFrom::SameDay, true)), None, 1000.0),
                turn(
                    Some((RecallFrom::AfterNight, false)),
                    Some(Flaw::Echo { words: 9 }),
                    3000.0,
                ),
            ],
            facts: vec![
                FactJudgement {
                    text: "a".into(),
                    supported: true,
                    by_night: false,
                },
                FactJudgement {
                    text: "b".into(),
                    supported: false,
                    by_night: true,
                },
            ],
            memory: vec![MemoryOutcome {
                day: 2,
                check: "live gothenburg".into(),
                ok: true,
            }],
        };
        let r = Report {
            model: "qwen".into(),
            personas: vec![p],
            seconds: 10.0,
        };
        let t = r.totals();
        assert_eq!((t.replies, t.echo, t.flaws_sent()), (2, 1, 1));
        assert_eq!(t.recall(), Score { ok: 1, of: 2 });
        assert_eq!(t.extraction, Score { ok: 2, of: 2 });
        assert_eq!(t.precision, Score { ok: 1, of: 1 });
        assert_eq!(t.precision_night, Score { ok: 0, of: 1 });
        assert_eq!(t.first_visible_full_ms.len(), 2);
        let table = r.table();
        assert!(table.contains("| Mara | chatty | 2 | 1 |"), "{table}");
        assert!(table.lines().count() == 4, "{table}");
        assert!(r.summary().contains("1 flawed sent"));
        let failures = r.failures();
        assert!(failures.contains("did not recall") && failures.contains("echo of 9 words"));
        assert!(failures.contains("stored a fact the user did not say (night): b"));
    }
}
