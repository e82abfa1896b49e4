//! The search query for a message: the message without the request around it ("can you look
//! up the opening hours of the Louvre?" → "the opening hours of the Louvre"). Pure.

/// Openings that ask for a search rather than say what to search for, longest first.
const REQUEST_OPENINGS: &[&str] = &[
    "search the web for",
    "search the internet for",
    "search online for",
    "do a web search for",
    "web search for",
    "search for",
    "look up online",
    "look up",
    "lookup",
    "google for",
    "google",
    "find out online",
    "find online",
    "check online",
    "search",
];

/// Politeness and addressing before the request.
const LEAD_IN: &[&str] = &[
    "please",
    "pls",
    "can you",
    "could you",
    "would you",
    "will you",
    "3am",
    "hey",
    "ok",
    "okay",
    "quickly",
    "just",
    "and",
];

/// Endings that ask for a search rather than say what to search for.
const REQUEST_ENDINGS: &[&str] = &[
    "on the web",
    "on the internet",
    "online",
    "for me",
    "please",
    "look it up",
    "look that up",
    "google it",
];

/// Longest query sent to the search engine, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// The query to search for `message`. Falls back to the whole message (trimmed) when
/// stripping would leave nothing.
pub fn search_query(message: &str) -> String {
    let original = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut q = original.as_str();
    loop {
        let before = q;
        q = q.trim_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ':' | ';' | '!' | '.'));
        for p in LEAD_IN.iter().chain(REQUEST_OPENINGS) {
            if let Some(rest) = strip_prefix_word(q, p) {
                q = rest;
                break;
            }
        }
        if q == before {
            break;
        }
    }
    loop {
        let before = q;
        q = q.trim_end_matches(|c: char| {
            c.is_whitespace() || matches!(c, '?' | '!' | '.' | ',' | ';' | ':')
        });
        for s in REQUEST_ENDINGS {
            if let Some(rest) = strip_suffix_word(q, s) {
                q = rest;
                break;
            }
        }
        if q == before {
            break;
        }
    }
    let q = if q.trim().is_empty() {
        original.as_str()
    } else {
        q.trim()
    };
    q.chars().take(MAX_QUERY_CHARS).collect()
}

/// `text` without the leading `word` (case-insensitive, whole words only).
fn strip_prefix_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    let rest = &text[word.len()..];
    (head.eq_ignore_ascii_case(word)
        && (rest.is_empty() || !rest.starts_with(char::is_alphanumeric)))
    .then_some(rest)
}

/// `text` without the trailing `word` (case-insensitive, whole words only).
fn strip_suffix_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let cut = text.len().checked_sub(word.len())?;
    let (rest, tail) = (text.get(..cut)?, &text[cut..]);
    (tail.eq_ignore_ascii_case(word) && (rest.is_empty() || !rest.ends_with(char::is_alphanumeric)))
        .then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_stripped_to_their_subject() {
        for (message, query) in [
            (
                "Can you look up the opening hours of the Louvre?",
                "the opening hours of the Louvre",
            ),
            (
                "please search the web for rust async traits",
                "rust async traits",
            ),
            (
                "3AM, google Debian 13 release date please",
                "Debian 13 release date",
            ),
            (
                "What's the weather in Paris tomorrow?",
                "What's the weather in Paris tomorrow",
            ),
            (
                "who won the match yesterday? look it up",
                "who won the match yesterday",
            ),
            ("bitcoin price online", "bitcoin price"),
            ("search", "search"),
            ("searching algorithms in C", "searching algorithms in C"),
        ] {
            assert_eq!(search_query(message), query, "{message}");
        }
        assert_eq!(search_query(&"x".repeat(500)).len(), MAX_QUERY_CHARS);
        assert_eq!(search_query("ünïcödé?"), "ünïcödé");
    }
}
