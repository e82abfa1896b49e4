//! `threeam client`: chat with the bot from a terminal, as a Matrix user with its own
//! device, in an encrypted DM. Replies are printed once complete (a "…" on stderr shows
//! progress while the bot streams), so the output stays clean in a pipe:
//! `echo hi | threeam client` prints the answer and exits.
//!
//! Stdout carries only the bot's messages; everything else (status, help, errors) goes to
//! stderr. When stdin is not a terminal, each line waits for the answer to the previous
//! one, so scripted input like `printf 'hi\n/up\n'` reacts to the answer to "hi".

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, UserId};
use tokio::io::AsyncBufReadExt;
use tokio::time::Instant;

use super::human::{Human, SESSION_FILE, SeenMessage};

/// How long the answer must stay still (complete, bot not typing) before a piped client
/// moves on: a long reply may come as several messages.
const QUIET: Duration = Duration::from_millis(1500);

/// After this long without news, a complete answer counts even if the bot still shows as
/// typing.
const STUCK_TYPING: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// Homeserver URL (falls back to .stack/env).
    #[arg(long, env = "THREEAM_MATRIX_HOMESERVER_URL")]
    pub homeserver: Option<String>,
    /// Matrix user to chat as (falls back to .stack/env, then @demo:localhost).
    #[arg(long, env = "THREEAM_DEMO_USER")]
    pub user: Option<String>,
    /// Password, needed only for the first login; later runs restore the saved device.
    #[arg(long, env = "THREEAM_DEMO_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// The bot's Matrix id (falls back to .stack/env, then @3am:localhost).
    #[arg(long, env = "THREEAM_MATRIX_USER_ID")]
    pub bot: Option<String>,
    /// Where this device's keys and session live [default: .stack/client-store/<user> when
    /// .stack exists, else data/client-store/<user>].
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Use (or create) an unencrypted DM instead of an encrypted one.
    #[arg(long)]
    pub no_encryption: bool,
    /// Seconds to wait for the bot to join or to finish an answer.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

const HELP: &str = "\
Type a message and press Enter to send it. Commands:
  /up, /down        👍 / 👎 on the bot's last message
  /react <emoji>    react to the bot's last message
  /thread <text>    reply in a thread on the bot's last message
  /reply <text>     reply to the bot's last message (e.g. to change a tool proposal)
  /help             this text
  /quit             leave (Ctrl-D also leaves, after the last answer arrives)";

/// Values from `.stack/env` (`KEY=value` lines), used when neither flags nor the
/// environment give them, so `threeam client` works in a checkout with the stack up.
fn stack_env(key: &str) -> Option<String> {
    let text = std::fs::read_to_string(".stack/env").ok()?;
    text.lines().find_map(|line| {
        let line = line.trim().trim_start_matches("export ").trim();
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').trim_matches('\'').to_owned())
    })
}

fn localpart(user: &str) -> &str {
    let user = user.trim_start_matches('@');
    user.split_once(':').map_or(user, |(l, _)| l)
}

struct Resolved {
    homeserver: String,
    user: String,
    password: Option<String>,
    bot: OwnedUserId,
    store: PathBuf,
}

fn resolve(args: &ClientArgs) -> anyhow::Result<Resolved> {
    let pick = |flag: &Option<String>, key: &str| {
        flag.clone()
            .filter(|s| !s.is_empty())
            .or_else(|| stack_env(key))
    };
    let homeserver = pick(&args.homeserver, "THREEAM_MATRIX_HOMESERVER_URL").context(
        "no homeserver: pass --homeserver or set THREEAM_MATRIX_HOMESERVER_URL \
         (or run from a checkout where `scripts/stack up` wrote .stack/env)",
    )?;
    let user = pick(&args.user, "THREEAM_DEMO_USER").unwrap_or_else(|| "@demo:localhost".into());
    let password = pick(&args.password, "THREEAM_DEMO_PASSWORD");
    let bot = pick(&args.bot, "THREEAM_MATRIX_USER_ID").unwrap_or_else(|| "@3am:localhost".into());
    let bot = UserId::parse(bot.as_str())
        .with_context(|| format!("--bot {bot:?} is not a Matrix user id"))?;
    let store = args.store.clone().unwrap_or_else(|| {
        let base = if Path::new(".stack").is_dir() {
            ".stack"
        } else {
            "data"
        };
        Path::new(base).join("client-store").join(localpart(&user))
    });
    Ok(Resolved {
        homeserver,
        user,
        password,
        bot,
        store,
    })
}

/// Prints the bot's messages as they complete, once each, and a progress mark meanwhile.
struct Printer {
    me: OwnedUserId,
    /// Messages before this index were history when we connected.
    start: usize,
    printed: HashSet<OwnedEventId>,
    /// The progress mark on screen now, if any.
    progress: Option<String>,
    progress_on_tty: bool,
    last_bot_message: Option<SeenMessage>,
}

impl Printer {
    fn render(&mut self, messages: &[SeenMessage]) {
        let mut streaming = None;
        for m in messages.iter().skip(self.start) {
            if m.sender == self.me || self.printed.contains(&m.event_id) {
                continue;
            }
            if !m.is_final() {
                streaming.get_or_insert(m);
                continue;
            }
            self.clear_progress();
            print_message(m);
            self.printed.insert(m.event_id.clone());
            self.last_bot_message = Some(m.clone());
        }
        match streaming {
            Some(m) if self.progress_on_tty => {
                // One mark per edit, redrawn in place: shows life without spamming text
                // that will be replaced anyway.
                let mark = format!("{} {}", name(&m.sender), "…".repeat(1 + m.edits.min(20)));
                if self.progress.as_ref() != Some(&mark) {
                    eprint!("\r\x1b[K{mark}");
                    let _ = std::io::stderr().flush();
                    self.progress = Some(mark);
                }
            }
            _ => self.clear_progress(),
        }
    }

    fn clear_progress(&mut self) {
        if self.progress.take().is_some() {
            eprint!("\r\x1b[K");
            let _ = std::io::stderr().flush();
        }
    }
}

fn name(user: &UserId) -> String {
    format!("{}:", user.localpart())
}

fn print_message(m: &SeenMessage) {
    let who = name(&m.sender);
    let tag = if m.thread_root.is_some() {
        " [thread]"
    } else {
        ""
    };
    let indent = " ".repeat(who.chars().count() + tag.chars().count() + 1);
    let mut out = std::io::stdout().lock();
    for (i, line) in m.body.lines().enumerate() {
        let _ = if i == 0 {
            writeln!(out, "{who}{tag} {line}")
        } else {
            writeln!(out, "{indent}{line}")
        };
    }
    if m.body.is_empty() {
        let _ = writeln!(out, "{who}{tag}");
    }
    let _ = out.flush();
}

enum Input {
    Send(String),
    Thread(String),
    Reply(String),
    React(String),
    Help,
    Quit,
    Unknown(String),
}

fn parse_input(line: &str) -> Option<Input> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let Some(cmd) = line.strip_prefix('/') else {
        return Some(Input::Send(line.to_owned()));
    };
    let (word, rest) = cmd.split_once(char::is_whitespace).unwrap_or((cmd, ""));
    let rest = rest.trim();
    Some(match word {
        "up" => Input::React("👍".into()),
        "down" => Input::React("👎".into()),
        "react" if !rest.is_empty() => Input::React(rest.to_owned()),
        "thread" if !rest.is_empty() => Input::Thread(rest.to_owned()),
        "reply" if !rest.is_empty() => Input::Reply(rest.to_owned()),
        "help" => Input::Help,
        "quit" | "exit" => Input::Quit,
        _ => Input::Unknown(line.to_owned()),
    })
}

pub async fn run(args: ClientArgs) -> anyhow::Result<()> {
    let cfg = resolve(&args)?;
    let timeout = Duration::from_secs(args.timeout);
    let restoring = cfg.store.join(SESSION_FILE).exists();
    let password = match (&cfg.password, restoring) {
        (Some(p), _) => p.clone(),
        // Restoring never logs in, so no password is needed.
        (None, true) => String::new(),
        (None, false) => bail!(
            "no password for {}: pass --password or set THREEAM_DEMO_PASSWORD (only needed the first time)",
            cfg.user
        ),
    };
    let human = Human::login(&cfg.homeserver, &cfg.user, &password, &cfg.store).await?;
    let encrypted = !args.no_encryption;
    eprintln!(
        "connected as {} (device {}); opening {} DM with {}…",
        human.user_id(),
        human.device_id().map(|d| d.as_str()).unwrap_or("?"),
        if encrypted {
            "an encrypted"
        } else {
            "an unencrypted"
        },
        cfg.bot
    );
    let room = match human.ensure_dm(&cfg.bot, encrypted, timeout).await {
        Ok(room) => room,
        Err(e) => {
            human.close().await;
            return Err(e.context(format!("opening a DM with {}", cfg.bot)));
        }
    };
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        eprintln!("in {room}. /help lists commands.");
    }
    let result = chat(&human, &room, interactive, timeout).await;
    human.close().await;
    result
}

async fn chat(
    human: &Human,
    room: &OwnedRoomId,
    interactive: bool,
    timeout: Duration,
) -> anyhow::Result<()> {
    let mut printer = Printer {
        me: human.user_id().to_owned(),
        start: human.messages(room).len(),
        printed: HashSet::new(),
        progress: None,
        progress_on_tty: std::io::stderr().is_terminal(),
        last_bot_message: None,
    };
    let mut changes = human.subscribe();
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut eof = false;
    // The last message we sent whose answer is still coming, and since when.
    let mut awaiting: Option<(OwnedEventId, Instant)> = None;
    let mut last_change = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);

    loop {
        // A piped script waits for each answer before its next line; a person may type on.
        let may_read = !eof && (interactive || awaiting.is_none());
        tokio::select! {
            line = lines.next_line(), if may_read => {
                match line.context("reading stdin")? {
                    None => eof = true,
                    Some(line) => {
                        let Some(input) = parse_input(&line) else { continue };
                        match handle(human, room, &printer, input).await {
                            Ok(Some(sent)) => awaiting = Some((sent, Instant::now())),
                            Ok(None) => {}
                            Err(Quit) => break,
                        }
                    }
                }
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    bail!("the Matrix sync stopped");
                }
                last_change = Instant::now();
            }
            _ = tick.tick() => {}
            _ = &mut ctrl_c => break,
        }
        printer.render(&human.messages(room));

        if let Some((sent, since)) = &awaiting {
            let quiet = last_change.elapsed();
            let done = match answered(human, room, sent, &printer.me) {
                Answer::Pending => false,
                Answer::Complete { others_typing } => {
                    // Typing between the parts of a split reply means more is coming, but
                    // a typing flag left on by mistake must not hold us for minutes.
                    quiet >= QUIET && (!others_typing || quiet >= STUCK_TYPING)
                }
            };
            if done {
                awaiting = None;
            } else if since.elapsed() > timeout {
                printer.clear_progress();
                if !interactive {
                    bail!("no complete answer from the bot within {timeout:?}");
                }
                // A person can decide for themselves whether to wait or type on.
                eprintln!("(no complete answer from the bot within {timeout:?})");
                awaiting = None;
            }
        }
        if eof && awaiting.is_none() {
            break;
        }
    }
    printer.clear_progress();
    Ok(())
}

enum Answer {
    Pending,
    Complete { others_typing: bool },
}

/// Whether the answer to `sent` is in: something from someone else after it, all of it
/// final.
fn answered(human: &Human, room: &OwnedRoomId, sent: &OwnedEventId, me: &UserId) -> Answer {
    let messages = human.messages(room);
    let Some(i) = messages.iter().position(|m| &m.event_id == sent) else {
        return Answer::Pending;
    };
    let mut replies = messages[i + 1..]
        .iter()
        .filter(|m| m.sender != me)
        .peekable();
    if replies.peek().is_none() || !replies.all(|m| m.is_final()) {
        return Answer::Pending;
    }
    Answer::Complete {
        others_typing: human.typing(room).iter().any(|u| u != me),
    }
}

struct Quit;

/// Carries out one line of input; returns the id of a sent message that expects an answer.
async fn handle(
    human: &Human,
    room: &OwnedRoomId,
    printer: &Printer,
    input: Input,
) -> Result<Option<OwnedEventId>, Quit> {
    let last = printer.last_bot_message.as_ref();
    let outcome = match input {
        Input::Quit => return Err(Quit),
        Input::Help => {
            eprintln!("{HELP}");
            return Ok(None);
        }
        Input::Unknown(line) => {
            eprintln!("unknown command {line:?}.\n{HELP}");
            return Ok(None);
        }
        Input::Send(text) => human.send(room, &text).await.map(Some),
        Input::Thread(text) => match last {
            Some(m) => human
                .send_in_thread(room, &m.event_id, &text)
                .await
                .map(Some),
            None => Err(anyhow::anyhow!("no bot message yet to start a thread on")),
        },
        Input::Reply(text) => match last {
            Some(m) => human.reply_to(room, &m.event_id, &text).await.map(Some),
            None => Err(anyhow::anyhow!("no bot message yet to reply to")),
        },
        Input::React(key) => match last {
            Some(m) => human.react(room, &m.event_id, &key).await.map(|_| {
                let snippet: String = m
                    .body
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(40)
                    .collect();
                eprintln!("({key} on \"{snippet}\")");
                None
            }),
            None => Err(anyhow::anyhow!("no bot message yet to react to")),
        },
    };
    // A failed send is reported and the chat goes on, as in any chat client.
    Ok(outcome.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        None
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert!(parse_input("   ").is_none());
        assert!(matches!(parse_input(" hi there "), Some(Input::Send(s)) if s == "hi there"));
        assert!(matches!(parse_input("/up"), Some(Input::React(k)) if k == "👍"));
        assert!(matches!(parse_input("/down"), Some(Input::React(k)) if k == "👎"));
        assert!(matches!(parse_input("/react 🎉"), Some(Input::React(k)) if k == "🎉"));
        assert!(
            matches!(parse_input("/thread more please"), Some(Input::Thread(t)) if t == "more please")
        );
        assert!(matches!(parse_input("/thread"), Some(Input::Unknown(_))));
        assert!(
            matches!(parse_input("/reply call it x"), Some(Input::Reply(t)) if t == "call it x")
        );
        assert!(matches!(parse_input("/quit"), Some(Input::Quit)));
        assert!(matches!(parse_input("!help"), Some(Input::Send(s)) if s == "!help"));
    }

    #[test]
    fn localparts() {
        assert_eq!(localpart("@demo:localhost"), "demo");
        assert_eq!(localpart("demo"), "demo");
    }
}
