//! Capability gaps: messages that call for a tool. Either the user asks for one in words
//! ("can you make a tool that converts CSV to JSON?"), which becomes a proposal at once, or
//! the message is a kind of work a small model gets wrong and a few lines of Python get
//! right: arithmetic on dates, converting CSV to JSON. Then the question is answered as usual
//! and a proposal follows, once (no second proposal while a tool for the same need exists,
//! was dropped, or is being built). Pure.

use std::sync::LazyLock;

use regex::Regex;

/// What a message says about a missing tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gap {
    /// The user asked for a tool that does this (their words).
    Asked(String),
    /// The message is work a tool does better; the need, worded for a proposal.
    Implicit {
        need: &'static str,
        why: &'static str,
    },
}

pub const DATE_NEED: &str = "count the days between two dates given as YYYY-MM-DD";
pub const CSV_NEED: &str = "convert CSV text with a header row into a list of JSON objects";

static ASKED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:hey[, ]+)?(?:can you |could you |would you |please |pls |i need you to |i want you to )?(?:make|build|create|write|code)(?: me| us)? (?:a|an|some)? ?(?:small |little |new |python )?(?:tool|function|script|helper)s? (?:that|which|to|for|so it|that can|to help me) (.{6,300}?)[?.!]*$",
    )
    .expect("valid")
});

static NEED_A_TOOL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^i (?:need|want|would like) a (?:tool|script|function) (?:that|which|to|for) (.{6,300}?)[?.!]*$")
        .expect("valid")
});

static ISO_DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d{4}-\d{1,2}-\d{1,2}\b").expect("valid"));

static SPAN_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(days?|weeks?|between|until|since|how long|how many)\b").expect("valid")
});

/// The gap in `message`, if it shows one.
pub fn detect(message: &str) -> Option<Gap> {
    let m = message.trim();
    if let Some(c) = ASKED.captures(m).or_else(|| NEED_A_TOOL.captures(m)) {
        return Some(Gap::Asked(c[1].trim().to_owned()));
    }
    if ISO_DATE.find_iter(m).count() >= 2 && SPAN_WORDS.is_match(m) {
        return Some(Gap::Implicit {
            need: DATE_NEED,
            why: "Counting days between dates is easy for me to get wrong.",
        });
    }
    let csv_lines = m
        .lines()
        .filter(|l| l.matches(',').count() >= 1 && l.len() < 500)
        .count();
    if csv_lines >= 3 && m.to_lowercase().contains("json") {
        return Some(Gap::Implicit {
            need: CSV_NEED,
            why: "Converting CSV by hand is easy for me to get wrong.",
        });
    }
    None
}

static WORK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(calculate|compute|convert|count|sum|total|average|mean|percent(age)?|how many|how much|sort|format|parse|extract|round|multiply|divide|add up|subtract|weekday|timezone|time zone|units?)\b",
    )
    .expect("valid")
});

/// What the hourly self-review makes of an answer that got 👎 or said "I can't": the need
/// a tool could meet, if the request was work a few lines of Python do reliably (a gap
/// [`detect`] knows, or a request to compute or convert something given in the message),
/// worded for a proposal. `None`: not a tool's job (a wrong fact, a tone the user disliked;
/// the night's behaviour update learns from those).
pub fn review_need(request: &str, thumbs_down: bool, refused: bool) -> Option<String> {
    if !thumbs_down && !refused {
        return None;
    }
    match detect(request) {
        Some(Gap::Asked(what)) => return Some(what),
        Some(Gap::Implicit { need, .. }) => return Some(need.to_owned()),
        None => {}
    }
    let r = request.trim();
    let has_data = r.chars().any(|c| c.is_ascii_digit()) || r.lines().count() >= 3;
    if WORK.is_match(r) && has_data && (12..=400).contains(&r.chars().count()) {
        let what = r.trim_end_matches(['?', '.', '!']).replace('\n', " ");
        return Some(format!(
            "do what this request asks, for any input like it: {}",
            crate::text::clip(&what, 200)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asking_for_a_tool_in_words_is_a_proposal() {
        for (m, want) in [
            (
                "Can you make a tool that converts CSV to JSON?",
                "converts CSV to JSON",
            ),
            (
                "please build me a small tool to count words in a text",
                "count words in a text",
            ),
            (
                "I need a tool that tells me the weekday of a date.",
                "tells me the weekday of a date",
            ),
            (
                "write a function to convert celsius to fahrenheit",
                "convert celsius to fahrenheit",
            ),
        ] {
            assert_eq!(detect(m), Some(Gap::Asked(want.into())), "{m}");
        }
        for m in [
            "What tools do you have?",
            "Can you make a cake recipe for me?",
            "I built a tool shed yesterday",
            "My tool that converts things broke",
        ] {
            assert_eq!(detect(m), None, "{m}");
        }
    }

    #[test]
    fn date_spans_and_csv_conversions_are_implicit_gaps() {
        assert!(matches!(
            detect("How many days are there between 2026-03-14 and 2026-12-25?"),
            Some(Gap::Implicit {
                need: DATE_NEED,
                ..
            })
        ));
        assert!(matches!(
            detect("turn this into json:\nname,age\nAda,36\nBob,41"),
            Some(Gap::Implicit { need: CSV_NEED, .. })
        ));
        assert_eq!(detect("My birthday is 1990-04-02."), None);
        assert_eq!(
            detect("I moved on 2024-01-02 and started on 2024-02-01"),
            None
        );
        assert_eq!(detect("name,age\nAda,36\nBob,41"), None);
    }

    #[test]
    fn the_self_review_proposes_tools_for_work_not_for_opinions() {
        assert_eq!(
            review_need(
                "How many days between 2026-03-14 and 2026-12-25?",
                true,
                false
            ),
            Some(DATE_NEED.to_owned())
        );
        let need = review_need("convert 72 fahrenheit to celsius", false, true).unwrap();
        assert!(need.ends_with("convert 72 fahrenheit to celsius"), "{need}");
        // Not given 👎 and not refused: nothing to review.
        assert_eq!(
            review_need("convert 72 fahrenheit to celsius", false, false),
            None
        );
        // A dislike of an answer that is not work for a tool.
        assert_eq!(review_need("tell me a joke about owls", true, false), None);
        assert_eq!(
            review_need("how many moons does Mars have", true, false),
            None
        );
    }
}
