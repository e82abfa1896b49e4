//! The scripted people of the conversation benchmark, read from `personas.toml` (shipped in
//! the binary): who they are, how they write, what they say day by day, and what each turn
//! checks (see the file's header for the check syntax).

use serde::Deserialize;

use super::score::{Learn, Pattern};

const PERSONAS: &str = include_str!("personas.toml");

#[derive(Debug, Clone)]
pub struct Persona {
    pub name: String,
    pub full_name: String,
    pub style: String,
    pub timezone: String,
    /// Part of the live test's subset.
    pub live: bool,
    pub also_said: Vec<String>,
    pub never: Vec<String>,
    /// Memories the user already has before the first day: `(category, text)`.
    pub seed_facts: Vec<(String, String)>,
    pub days: Vec<Day>,
}

#[derive(Debug, Clone)]
pub struct Day {
    pub turns: Vec<Turn>,
    /// Checks on memory after the day's night.
    pub memory: Vec<MemoryCheck>,
}

#[derive(Debug, Clone)]
pub struct Turn {
    pub say: String,
    pub learn: Vec<Learn>,
    pub expect: Vec<Pattern>,
    pub avoid: Vec<Pattern>,
}

#[derive(Debug, Clone)]
pub struct MemoryCheck {
    /// Each matches a live fact.
    pub live: Vec<Pattern>,
    /// Each matches a fact kept as history (superseded or ended) and no live fact.
    pub history: Vec<Pattern>,
}

impl Persona {
    /// Number of checks: learned statements, recall questions, care checks, memory checks.
    pub fn checks(&self) -> usize {
        self.days
            .iter()
            .map(|d| {
                d.turns
                    .iter()
                    .map(|t| {
                        t.learn.len()
                            + usize::from(!t.expect.is_empty())
                            + usize::from(!t.avoid.is_empty())
                    })
                    .sum::<usize>()
                    + d.memory
                        .iter()
                        .map(|m| m.live.len() + m.history.len())
                        .sum::<usize>()
            })
            .sum()
    }

    /// The Matrix id the benchmark gives the persona.
    pub fn user_id(&self) -> String {
        format!("@{}:bench.localhost", self.name.to_lowercase())
    }
}

#[derive(Deserialize)]
struct File {
    persona: Vec<RawPersona>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPersona {
    name: String,
    full_name: String,
    style: String,
    timezone: String,
    #[serde(default)]
    live: bool,
    #[serde(default)]
    also_said: Vec<String>,
    #[serde(default)]
    never: Vec<String>,
    #[serde(default)]
    seed_facts: Vec<String>,
    day: Vec<RawDay>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDay {
    turn: Vec<RawTurn>,
    #[serde(default)]
    memory: Vec<RawMemory>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTurn {
    say: String,
    #[serde(default)]
    learn: Vec<String>,
    #[serde(default)]
    expect: Vec<String>,
    #[serde(default)]
    avoid: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMemory {
    #[serde(default)]
    live: Vec<String>,
    #[serde(default)]
    history: Vec<String>,
}

/// Every persona of the benchmark.
pub fn all() -> Vec<Persona> {
    parse(PERSONAS).expect("personas.toml is checked by a unit test")
}

fn parse(text: &str) -> Result<Vec<Persona>, toml::de::Error> {
    let file: File = toml::from_str(text)?;
    let pats = |v: &[String]| v.iter().map(|s| Pattern::parse(s)).collect::<Vec<_>>();
    Ok(file
        .persona
        .into_iter()
        .map(|p| Persona {
            name: p.name,
            full_name: p.full_name,
            style: p.style,
            timezone: p.timezone,
            live: p.live,
            also_said: p.also_said,
            never: p.never,
            seed_facts: p
                .seed_facts
                .iter()
                .map(|s| match s.split_once(':') {
                    Some((c, t)) => (c.trim().to_owned(), t.trim().to_owned()),
                    None => ("other".to_owned(), s.trim().to_owned()),
                })
                .collect(),
            days: p
                .day
                .into_iter()
                .map(|d| Day {
                    turns: d
                        .turn
                        .into_iter()
                        .map(|t| Turn {
                            learn: t.learn.iter().map(|s| Learn::parse(s)).collect(),
                            expect: pats(&t.expect),
                            avoid: pats(&t.avoid),
                            say: t.say,
                        })
                        .collect(),
                    memory: d
                        .memory
                        .into_iter()
                        .map(|m| MemoryCheck {
                            live: pats(&m.live),
                            history: pats(&m.history),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_personas_meet_the_benchmarks_brief() {
        let all = parse(PERSONAS).unwrap();
        let multi_day: Vec<&Persona> = all.iter().filter(|p| p.days.len() >= 3).collect();
        assert!(multi_day.len() >= 6, "at least 6 personas of 3+ days");
        let checks: usize = all.iter().map(Persona::checks).sum();
        assert!(checks >= 40, "{checks} checks");
        assert!(all.iter().any(|p| p.live), "a live subset");
        let ids: std::collections::HashSet<String> = all.iter().map(Persona::user_id).collect();
        assert_eq!(ids.len(), all.len(), "one user per persona");
        for p in &all {
            assert!(
                p.timezone.parse::<chrono_tz::Tz>().is_ok(),
                "{}: {}",
                p.name,
                p.timezone
            );
            for d in &p.days {
                for t in &d.turns {
                    assert!(!t.say.trim().is_empty());
                    for l in &t.learn {
                        assert!(
                            l.pattern.matches(&t.say),
                            "{}: learn {:?} is not in {:?}",
                            p.name,
                            l.pattern.as_str(),
                            t.say
                        );
                    }
                }
            }
        }
        // The long-time user has the memory and conversation the latency target names: 50
        // facts, and 20 exchanges before the first check.
        let seeded = all.iter().find(|p| !p.seed_facts.is_empty()).unwrap();
        assert_eq!(seeded.seed_facts.len(), 50);
        let before_checks = seeded.days[0]
            .turns
            .iter()
            .take_while(|t| t.learn.is_empty() && t.expect.is_empty() && t.avoid.is_empty())
            .count();
        assert!(before_checks >= 20, "{before_checks}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let bad =
            "[[persona]]\nname='x'\nfull_name='x'\nstyle='x'\ntimezone='UTC'\nhobby='x'\nday=[]\n";
        assert!(parse(bad).is_err());
    }
}
