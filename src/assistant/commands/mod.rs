//! Chat commands, one file each (as in mini-redis's `src/cmd/`): a struct with its [`Spec`]
//! (name, aliases, usage and help line), a pure `parse` of the text after the name (`None`
//! when the command is used the wrong way), and `run`, which does the work and answers in the
//! room. The [`commands!`] list below is the registry: it makes the [`Command`] enum, the
//! [`COMMANDS`] table that `!help` and typo suggestions read, the parser's dispatch and
//! [`Command::run`]. Adding a command is its file plus one line there.
//!
//! Parsing is pure and tested here without a homeserver; a command that fails while running
//! is answered with one plain sentence naming it.

mod digest;
mod export;
pub mod forget;
mod help;
mod map;
mod memory;
mod night;
mod remember;
pub mod research;
mod stats;
mod status;
mod timezone;
pub mod tools;

pub use digest::Digest;
pub use export::Export;
pub use forget::{Forget, ForgetTarget};
pub use help::Help;
pub use map::Map;
pub use memory::Memory;
pub use night::Night;
pub use remember::Remember;
pub use research::{Research, ResearchAction};
pub use stats::Stats;
pub use status::Status;
pub use timezone::{Timezone, parse_zone};
pub use tools::{Tools, ToolsAction};

use crate::assistant::Assistant;
use crate::chat::IncomingMessage;

/// What `!help` shows of a command, and the names it answers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub usage: &'static str,
    /// One line, lower case, no full stop.
    pub what: &'static str,
}

impl Spec {
    fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }
}

/// The registry: `Variant: module::Type`, in the order `!help` lists them.
macro_rules! commands {
    ($($variant:ident: $module:ident::$ty:ident),* $(,)?) => {
        /// Everything a user can type with a leading `!`.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Command {
            $($variant($module::$ty),)*
            /// A known command used the wrong way: explain its usage.
            Usage { name: &'static str },
            Unknown {
                name: String,
                suggestion: Option<&'static str>,
            },
            /// A text reply to a tool's stage message (`approval_event`): revise that stage.
            Revise { approval_event: String },
        }

        /// Every command's [`Spec`], for `!help` and suggestions.
        pub const COMMANDS: &[Spec] = &[$($module::$ty::SPEC,)*];

        /// The command `name` (lower case) with its arguments, if there is one by that name.
        fn parse_named(name: &str, args: &str) -> Option<Command> {
            $(
                if $module::$ty::SPEC.answers_to(name) {
                    return Some(match $module::$ty::parse(args) {
                        Some(c) => Command::$variant(c),
                        None => Command::Usage { name: $module::$ty::SPEC.name },
                    });
                }
            )*
            None
        }

        impl Command {
            /// The command's name, for logs and error messages.
            pub fn name(&self) -> &str {
                match self {
                    $(Command::$variant(_) => $module::$ty::SPEC.name,)*
                    Command::Usage { name } => name,
                    Command::Unknown { name, .. } => name,
                    Command::Revise { .. } => "revise",
                }
            }

            /// Does the work and answers in the room; a failure is answered in plain words.
            pub(crate) async fn run(self, a: &Assistant, m: &IncomingMessage) -> anyhow::Result<()> {
                let name = self.name().to_owned();
                let done = match self {
                    $(Command::$variant(c) => c.run(a, m).await,)*
                    Command::Usage { name } => a.reply(m, &usage_text(name)).await,
                    Command::Unknown { name, suggestion } => {
                        a.reply(m, &unknown_text(&name, suggestion)).await
                    }
                    Command::Revise { approval_event } => revise(a, m, &approval_event).await,
                };
                match done {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        tracing::error!(error = format!("{e:#}"), command = %name, "command failed");
                        a.reply(m, &trouble_text(&name, &e)).await
                    }
                }
            }
        }
    };
}

commands! {
    Help: help::Help,
    Status: status::Status,
    Memory: memory::Memory,
    Map: map::Map,
    Remember: remember::Remember,
    Forget: forget::Forget,
    Export: export::Export,
    Stats: stats::Stats,
    Night: night::Night,
    Digest: digest::Digest,
    Timezone: timezone::Timezone,
    Tools: tools::Tools,
    Research: research::Research,
}

/// A reply to a tool's stage message that still waits for its ✅: revises that stage.
async fn revise(a: &Assistant, m: &IncomingMessage, approval_event: &str) -> anyhow::Result<()> {
    match crate::store::approvals::pending_for_event(&a.db, approval_event, &m.sender).await? {
        Some(approval) => a.revise_tool(&approval, m).await,
        None => {
            a.reply(
                m,
                "That step is decided already, so there is nothing to change. `!tools` shows where your tools stand.",
            )
            .await
        }
    }
}

/// The command behind a stored message: a `!` command, or a text reply to a tool stage that
/// waits for the owner (a revision).
pub(crate) async fn for_message(
    db: &sqlx::PgPool,
    body: &str,
    in_reply_to: Option<&str>,
    sender: &str,
) -> sqlx::Result<Option<Command>> {
    if let Some(c) = parse(body) {
        return Ok(Some(c));
    }
    let Some(target) = in_reply_to else {
        // "Can you make a tool that …": a proposal, like `!tools propose`.
        return Ok(match crate::tools::gaps::detect(body) {
            Some(crate::tools::gaps::Gap::Asked(what)) => Some(Command::Tools(Tools {
                action: ToolsAction::Propose(what),
            })),
            _ => None,
        });
    };
    let pending = crate::store::approvals::pending_for_event(db, target, sender).await?;
    Ok(pending
        .filter(|p| crate::assistant::toolsmith::KINDS.contains(&p.kind.as_str()))
        .map(|p| Command::Revise {
            approval_event: p.event_id,
        }))
}

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
    Some(
        parse_named(&name, args).unwrap_or_else(|| Command::Unknown {
            suggestion: closest(&name),
            name,
        }),
    )
}

/// A command failed while running: say so plainly, and that trying again may help.
fn trouble_text(name: &str, e: &anyhow::Error) -> String {
    format!("Sorry, `!{name}` didn't work just now ({e}). Please try again in a moment.")
}

/// The known command nearest to a typo, if it is near enough to be a likely intent.
fn closest(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .map(|c| (c.name, edit_distance(name, c.name)))
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
        if let Some(c) = COMMANDS.iter().find(|c| c.answers_to(t)) {
            return format!("`{}`: {}.", c.usage, c.what);
        }
        return format!("I don't have a `!{t}` command. {}", help_text(None));
    }
    let mut s = String::from("Just write to me and I'll answer. Commands:\n\n");
    for c in COMMANDS {
        s.push_str(&format!("- `{}`: {}\n", c.usage, c.what));
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
    match COMMANDS.iter().find(|c| c.name == name) {
        Some(c) => format!("Usage: `{}`: {}.", c.usage, c.what),
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
        assert_eq!(parse("!help"), Some(Command::Help(Help { topic: None })));
        assert_eq!(
            parse("  !HELP  !Status "),
            Some(Command::Help(Help {
                topic: Some("status".into())
            }))
        );
        assert!(help_text(Some("status")).contains("!status"));
        assert!(help_text(Some("nope")).contains("don't have"));
        assert!(help_text(None).contains("!help"));
        for name in ["memory", "remember", "forget", "export", "stats"] {
            assert!(help_text(None).contains(&format!("`!{name}")), "{name}");
            assert!(usage_text(name).starts_with("Usage:"), "{name}");
        }
        assert_eq!(parse("!stats"), Some(Command::Stats(Stats)));
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
        assert_eq!(
            parse("!memory"),
            Some(Command::Memory(Memory { search: None }))
        );
        assert_eq!(
            parse("!memory search Lyon trip"),
            Some(Command::Memory(Memory {
                search: Some("Lyon trip".into())
            }))
        );
        assert_eq!(
            parse("!memory lyon"),
            Some(Command::Memory(Memory {
                search: Some("lyon".into())
            }))
        );
        assert_eq!(
            parse("!memory search"),
            Some(Command::Usage { name: "memory" })
        );
        assert_eq!(
            parse("!remember my cat is Tom"),
            Some(Command::Remember(Remember {
                text: "my cat is Tom".into()
            }))
        );
        assert_eq!(
            parse("!remember"),
            Some(Command::Usage { name: "remember" })
        );
        assert_eq!(
            parse("!forget 12"),
            Some(Command::Forget(Forget {
                target: ForgetTarget::Id(12)
            }))
        );
        assert_eq!(
            parse("!forget #12"),
            Some(Command::Forget(Forget {
                target: ForgetTarget::Id(12)
            }))
        );
        assert_eq!(
            parse("!forget my old job"),
            Some(Command::Forget(Forget {
                target: ForgetTarget::Words("my old job".into())
            }))
        );
        assert_eq!(
            parse("!forget Everything"),
            Some(Command::Forget(Forget {
                target: ForgetTarget::Everything
            }))
        );
        assert_eq!(parse("!forget"), Some(Command::Usage { name: "forget" }));
        assert_eq!(parse("!export"), Some(Command::Export(Export)));
    }

    #[test]
    fn night_commands() {
        assert_eq!(parse("!night"), Some(Command::Night(Night)));
        assert_eq!(parse("!digest"), Some(Command::Digest(Digest)));
        assert_eq!(
            parse("!timezone"),
            Some(Command::Timezone(Timezone { zone: None }))
        );
        assert_eq!(
            parse("!timezone  Europe/Berlin "),
            Some(Command::Timezone(Timezone {
                zone: Some("Europe/Berlin".into())
            }))
        );
        assert!(help_text(Some("timezone")).contains("Europe/Berlin"));
        assert!(help_text(None).contains("!night"));
    }

    #[test]
    fn aliases_and_typos() {
        assert_eq!(parse("!ping"), Some(Command::Status(Status)));
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
