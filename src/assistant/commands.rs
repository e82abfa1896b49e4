//! Chat commands: a pure parser (text → [`Command`]) kept apart from dispatching, so each new
//! command is added in one place and its parsing is tested without a homeserver.

/// Everything a user can type with a leading `!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForgetTarget {
    Id(i64),
    Words(String),
    Everything,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help {
        topic: Option<String>,
    },
    /// `!ping`: proves the bot is alive and shows what it is connected to.
    Status,
    /// `!memory` lists what is known, grouped by topic; `!memory search <words>` searches it.
    Memory {
        search: Option<String>,
    },
    /// `!remember <text>` stores a fact as given (priority 5).
    Remember {
        text: String,
    },
    /// `!forget <id>`, `!forget <words>` or `!forget everything`, confirmed with ✅.
    Forget {
        target: ForgetTarget,
    },
    /// `!export`: the whole memory as a JSON file in the chat.
    Export,
    /// `!stats`: feedback, confidence, gate actions and the behaviour profile.
    Stats,
    /// `!night`: run the night cycle now and report what it did.
    Night,
    /// `!digest`: show the latest morning digest.
    Digest,
    /// `!timezone [Area/City]`: show or set the time zone the night and digest follow.
    Timezone {
        zone: Option<String>,
    },
    /// A known command used the wrong way: explain its usage.
    Usage {
        name: &'static str,
    },
    Unknown {
        name: String,
        suggestion: Option<&'static str>,
    },
}

/// Name, usage and one-line description of each command, for `!help` and suggestions.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "help",
        "!help [command]",
        "list the commands, or explain one",
    ),
    (
        "status",
        "!status",
        "show whether my model and memory are reachable, and my version",
    ),
    (
        "memory",
        "!memory [search <words>]",
        "list what I remember about you by topic, or search it",
    ),
    (
        "remember",
        "!remember <text>",
        "store a fact exactly as you write it",
    ),
    (
        "forget",
        "!forget <id | words | everything>",
        "forget facts, after you confirm with ✅",
    ),
    (
        "export",
        "!export",
        "send my whole memory of you as a JSON file",
    ),
    (
        "stats",
        "!stats",
        "how my answers are rated, how sure I was, when I searched or asked back, and my current behaviour",
    ),
    (
        "night",
        "!night",
        "run my night cycle now (learn from today, tidy my memory) and report what it did",
    ),
    ("digest", "!digest", "show the latest morning digest"),
    (
        "timezone",
        "!timezone [Area/City]",
        "show or set your time zone (e.g. `!timezone Europe/Berlin`); nights run at 03:00 and digests arrive at 07:30 in it",
    ),
];

/// `None` when the text is an ordinary message.
pub fn parse(text: &str) -> Option<Command> {
    let text = text.trim();
    let rest = text.strip_prefix('!')?;
    // "!!" or "! " is punctuation, not a command.
    if rest.is_empty() || !rest.starts_with(|c: char| c.is_alphabetic()) {
        return None;
    }
    let (name, args) = match rest.split_once(char::is_whitespace) {
        Some((n, a)) => (n, a.trim()),
        None => (rest, ""),
    };
    let name = name.to_lowercase();
    Some(match name.as_str() {
        "help" | "h" | "?" => Command::Help {
            topic: (!args.is_empty()).then(|| args.trim_start_matches('!').to_lowercase()),
        },
        "status" | "ping" => Command::Status,
        "memory" | "memories" => {
            let (sub, rest) = match args.split_once(char::is_whitespace) {
                Some((a, b)) => (a.to_lowercase(), b.trim()),
                None => (args.to_lowercase(), ""),
            };
            match sub.as_str() {
                "" => Command::Memory { search: None },
                "search" | "find" if !rest.is_empty() => Command::Memory {
                    search: Some(rest.to_owned()),
                },
                "search" | "find" => Command::Usage { name: "memory" },
                // `!memory lyon` reads as a search too.
                _ => Command::Memory {
                    search: Some(args.to_owned()),
                },
            }
        }
        "remember" if !args.is_empty() => Command::Remember {
            text: args.to_owned(),
        },
        "remember" => Command::Usage { name: "remember" },
        "forget" => match args {
            "" => Command::Usage { name: "forget" },
            a if a.eq_ignore_ascii_case("everything") || a.eq_ignore_ascii_case("all") => {
                Command::Forget {
                    target: ForgetTarget::Everything,
                }
            }
            a => match a.trim_start_matches('#').parse::<i64>() {
                Ok(id) if id > 0 => Command::Forget {
                    target: ForgetTarget::Id(id),
                },
                _ => Command::Forget {
                    target: ForgetTarget::Words(a.to_owned()),
                },
            },
        },
        "export" => Command::Export,
        "stats" | "statistics" => Command::Stats,
        "night" => Command::Night,
        "digest" => Command::Digest,
        "timezone" | "tz" => Command::Timezone {
            zone: (!args.is_empty()).then(|| args.to_owned()),
        },
        _ => Command::Unknown {
            suggestion: closest(&name),
            name,
        },
    })
}

/// The known command nearest to a typo, if it is near enough to be a likely intent.
fn closest(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .map(|(n, _, _)| (*n, edit_distance(name, n)))
        .filter(|(n, d)| *d <= 2.max(n.len() / 3))
        .min_by_key(|(_, d)| *d)
        .map(|(n, _)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The text of `!help` (markdown).
pub fn help_text(topic: Option<&str>) -> String {
    if let Some(t) = topic {
        if let Some((_, usage, what)) = COMMANDS.iter().find(|(n, _, _)| *n == t) {
            return format!("`{usage}`: {what}.");
        }
        return format!("I don't have a `!{t}` command. {}", help_text(None));
    }
    let mut s = String::from("Just write to me and I'll answer. Commands:\n\n");
    for (_, usage, what) in COMMANDS {
        s.push_str(&format!("- `{usage}`: {what}\n"));
    }
    s.push_str(
        "\nReact 👍 or 👎 to any of my answers to tell me how I did; after a 👎 you can tap \
         🤥 made things up, 📜 too long, 🎯 off-topic or ❌ wrong, or reply to my answer with a \
         comment.",
    );
    s
}

/// How to use a command, for `Command::Usage`.
pub fn usage_text(name: &str) -> String {
    match COMMANDS.iter().find(|(n, _, _)| *n == name) {
        Some((_, usage, what)) => format!("Usage: `{usage}`: {what}."),
        None => help_text(None),
    }
}

/// The answer to an unknown command.
pub fn unknown_text(name: &str, suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => {
            format!("I don't know `!{name}`. Did you mean `!{s}`? Type `!help` for the list.")
        }
        None => format!("I don't know `!{name}`. Type `!help` to see what I can do."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_text_is_not_a_command() {
        assert_eq!(parse("hello"), None);
        assert_eq!(parse("wow!"), None);
        assert_eq!(parse("!!!"), None);
        assert_eq!(parse("! not a command"), None);
        assert_eq!(parse("!"), None);
    }

    #[test]
    fn help_with_and_without_topic() {
        assert_eq!(parse("!help"), Some(Command::Help { topic: None }));
        assert_eq!(
            parse("  !HELP  !Status "),
            Some(Command::Help {
                topic: Some("status".into())
            })
        );
        assert!(help_text(Some("status")).contains("!status"));
        assert!(help_text(Some("nope")).contains("don't have"));
        assert!(help_text(None).contains("!help"));
        for name in ["memory", "remember", "forget", "export", "stats"] {
            assert!(help_text(None).contains(&format!("`!{name}")), "{name}");
            assert!(usage_text(name).starts_with("Usage:"), "{name}");
        }
        assert_eq!(parse("!stats"), Some(Command::Stats));
        assert_eq!(
            parse("!stat"),
            Some(Command::Unknown {
                name: "stat".into(),
                suggestion: Some("stats")
            })
        );
    }

    #[test]
    fn memory_commands() {
        assert_eq!(parse("!memory"), Some(Command::Memory { search: None }));
        assert_eq!(
            parse("!memory search Lyon trip"),
            Some(Command::Memory {
                search: Some("Lyon trip".into())
            })
        );
        assert_eq!(
            parse("!memory lyon"),
            Some(Command::Memory {
                search: Some("lyon".into())
            })
        );
        assert_eq!(
            parse("!memory search"),
            Some(Command::Usage { name: "memory" })
        );
        assert_eq!(
            parse("!remember my cat is Tom"),
            Some(Command::Remember {
                text: "my cat is Tom".into()
            })
        );
        assert_eq!(
            parse("!remember"),
            Some(Command::Usage { name: "remember" })
        );
        assert_eq!(
            parse("!forget 12"),
            Some(Command::Forget {
                target: ForgetTarget::Id(12)
            })
        );
        assert_eq!(
            parse("!forget #12"),
            Some(Command::Forget {
                target: ForgetTarget::Id(12)
            })
        );
        assert_eq!(
            parse("!forget my old job"),
            Some(Command::Forget {
                target: ForgetTarget::Words("my old job".into())
            })
        );
        assert_eq!(
            parse("!forget Everything"),
            Some(Command::Forget {
                target: ForgetTarget::Everything
            })
        );
        assert_eq!(parse("!forget"), Some(Command::Usage { name: "forget" }));
        assert_eq!(parse("!export"), Some(Command::Export));
    }

    #[test]
    fn night_commands() {
        assert_eq!(parse("!night"), Some(Command::Night));
        assert_eq!(parse("!digest"), Some(Command::Digest));
        assert_eq!(parse("!timezone"), Some(Command::Timezone { zone: None }));
        assert_eq!(
            parse("!timezone  Europe/Berlin "),
            Some(Command::Timezone {
                zone: Some("Europe/Berlin".into())
            })
        );
        assert!(help_text(Some("timezone")).contains("Europe/Berlin"));
        assert!(help_text(None).contains("!night"));
    }

    #[test]
    fn aliases_and_typos() {
        assert_eq!(parse("!ping"), Some(Command::Status));
        assert_eq!(
            parse("!hlep"),
            Some(Command::Unknown {
                name: "hlep".into(),
                suggestion: Some("help")
            })
        );
        assert_eq!(
            parse("!frobnicate x"),
            Some(Command::Unknown {
                name: "frobnicate".into(),
                suggestion: None
            })
        );
        assert!(unknown_text("hlep", Some("help")).contains("Did you mean `!help`"));
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in "\\PC{0,64}") {
            let _ = parse(&s);
        }
    }
}
