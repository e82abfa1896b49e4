//! Building the prompt for a chat turn: a system prompt with the user's local date and time,
//! then as much of the recent conversation as fits the token budget, with roles alternating
//! (llama.cpp chat templates reject or garble two turns of the same role in a row). Pure.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::llm::{ChatMessage, Role};

/// A past message of the conversation, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub role: Role,
    pub text: String,
}

/// Rough token count for budgeting: ~3.5 characters a token for English and code, and at least
/// one token per word-ish piece; errs on the high side so the server's context is never exceeded.
pub fn estimate_tokens(text: &str) -> usize {
    let chars = text.chars().count();
    let words = text.split_whitespace().count();
    (chars * 2).div_ceil(7).max(words) + 4
}

pub struct PromptInput<'a> {
    pub now: DateTime<Utc>,
    pub timezone: Tz,
    pub user_name: Option<&'a str>,
    /// Extra system sections (behaviour profile, user profile, memories), already worded.
    pub context_sections: &'a [String],
    /// Earlier turns, oldest first, not including the current message.
    pub history: &'a [Turn],
    pub message: &'a str,
    /// Tokens available for the prompt (context size minus the reply's reserve).
    pub budget: usize,
}

pub fn system_prompt(input: &PromptInput<'_>) -> String {
    let local = input.now.with_timezone(&input.timezone);
    let mut s = format!(
        "You are 3AM, a personal assistant chatting with {} in a private Matrix chat. \
         It is {} ({}) for them. Answer helpfully, in the user's language. \
         Use Markdown when it helps. If you don't know something, say so instead of guessing.",
        input.user_name.unwrap_or("your user"),
        local.format("%A %-d %B %Y, %H:%M"),
        input.timezone.name(),
    );
    for section in input.context_sections {
        s.push_str("\n\n");
        s.push_str(section);
    }
    s
}

/// The messages to send. The current message is always included (truncated if it alone would
/// not fit); older turns are added newest first while they fit.
pub fn build(input: &PromptInput<'_>) -> Vec<ChatMessage> {
    let system = system_prompt(input);
    let mut remaining = input.budget.saturating_sub(estimate_tokens(&system));
    let message = truncate_to_tokens(input.message, remaining.saturating_sub(8).max(64));
    remaining = remaining.saturating_sub(estimate_tokens(&message));

    let mut kept: Vec<Turn> = Vec::new();
    for turn in input.history.iter().rev() {
        let cost = estimate_tokens(&turn.text);
        if cost > remaining {
            break;
        }
        remaining -= cost;
        kept.push(turn.clone());
    }
    kept.reverse();
    kept.push(Turn {
        role: Role::User,
        text: message,
    });

    let mut out = vec![ChatMessage::system(system)];
    out.extend(alternate(kept).into_iter().map(|t| ChatMessage {
        role: t.role,
        content: t.text,
    }));
    out
}

/// Merges consecutive turns of one role and drops leading assistant turns, so the history
/// starts with the user and alternates.
pub fn alternate(turns: Vec<Turn>) -> Vec<Turn> {
    let mut out: Vec<Turn> = Vec::new();
    for t in turns {
        if t.role == Role::System || t.text.trim().is_empty() {
            continue;
        }
        if out.is_empty() && t.role == Role::Assistant {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.role == t.role => {
                last.text.push_str("\n\n");
                last.text.push_str(&t.text);
            }
            _ => out.push(t),
        }
    }
    out
}

fn truncate_to_tokens(text: &str, tokens: usize) -> String {
    if estimate_tokens(text) <= tokens {
        return text.to_owned();
    }
    let keep_chars = tokens.saturating_sub(16) * 7 / 2;
    let cut: String = text.chars().take(keep_chars).collect();
    format!("{cut}\n[… message truncated: it was too long to read in full]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn input<'a>(history: &'a [Turn], message: &'a str, budget: usize) -> PromptInput<'a> {
        PromptInput {
            now: Utc.with_ymd_and_hms(2026, 11, 23, 22, 30, 0).unwrap(),
            timezone: "Europe/Berlin".parse().unwrap(),
            user_name: Some("Ada"),
            context_sections: &[],
            history,
            message,
            budget,
        }
    }

    fn t(role: Role, text: &str) -> Turn {
        Turn {
            role,
            text: text.into(),
        }
    }

    #[test]
    fn system_prompt_has_local_time() {
        let s = system_prompt(&input(&[], "hi", 1000));
        assert!(s.contains("Monday 23 November 2026, 23:30"), "{s}");
        assert!(s.contains("Europe/Berlin") && s.contains("Ada"));
    }

    #[test]
    fn history_is_cut_oldest_first_and_alternates() {
        let history = vec![
            t(Role::Assistant, "welcome"),
            t(Role::User, "old question ".repeat(50).as_str()),
            t(Role::Assistant, "old answer"),
            t(Role::User, "unanswered one"),
            t(Role::User, "unanswered two"),
            t(Role::Assistant, "recent answer"),
        ];
        let msgs = build(&input(&history, "now", 200));
        assert_eq!(msgs[0].role, Role::System);
        assert_eq!(msgs.last().unwrap().content, "now");
        assert!(
            !msgs.iter().any(|m| m.content.contains("old question")),
            "the oldest long turn does not fit"
        );
        for w in msgs[1..].windows(2) {
            assert_ne!(w[0].role, w[1].role);
        }
        assert_eq!(msgs[1].role, Role::User);
        assert!(
            msgs.iter()
                .any(|m| m.content == "unanswered one\n\nunanswered two")
        );
    }

    #[test]
    fn huge_message_is_truncated_to_fit() {
        let huge = "x".repeat(100_000);
        let msgs = build(&input(&[], &huge, 2000));
        let total: usize = msgs.iter().map(|m| estimate_tokens(&m.content)).sum();
        assert!(total <= 2100, "{total}");
        assert!(msgs.last().unwrap().content.contains("truncated"));
    }

    proptest! {
        #[test]
        fn always_alternates_and_ends_with_the_message(roles in proptest::collection::vec(0u8..3, 0..30), budget in 100usize..3000) {
            let history: Vec<Turn> = roles.iter().enumerate().map(|(i, r)| t(match r { 0 => Role::User, 1 => Role::Assistant, _ => Role::System }, &format!("turn {i}"))).collect();
            let msgs = build(&input(&history, "question", budget));
            prop_assert_eq!(msgs[0].role, Role::System);
            prop_assert_eq!(msgs[1].role, Role::User);
            prop_assert_eq!(msgs.last().unwrap().role, Role::User);
            prop_assert!(msgs.last().unwrap().content.ends_with("question"));
            for w in msgs[1..].windows(2) {
                prop_assert_ne!(w[0].role, w[1].role);
            }
        }
    }
}
