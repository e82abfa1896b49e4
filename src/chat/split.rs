//! Long replies split into messages a chat client can carry, at the best boundary available,
//! with code blocks closed and reopened so each part renders on its own. Pure.

/// Matrix events are capped at 64 KiB of bytes, and an edit carries the text twice with its
/// HTML each time: 12,000 bytes a part keeps even an edited part of CJK or emoji text (3 or 4
/// bytes a character) well below the cap. Counted in bytes, not characters, for that reason.
pub const MAX_PART_BYTES: usize = 12_000;

/// Splits a long reply into parts of at most `max` bytes (UTF-8), at the best boundary available
/// (paragraph, line, sentence, word); a code block cut in two is closed and reopened so each
/// part renders on its own.
pub fn split_reply(text: &str, max: usize) -> Vec<String> {
    assert!(max >= 64, "parts must have room for a fence");
    let mut parts = Vec::new();
    let mut rest = text.trim_end().to_owned();
    let mut reopen: Option<String> = None;
    while rest.len() + reopen.as_ref().map_or(0, |f| f.len() + 1) > max {
        let budget = max - reopen.as_ref().map_or(0, |f| f.len() + 1) - 4;
        let cut = best_cut(&rest, budget);
        let (head, tail) = rest.split_at(cut);
        let mut part = match &reopen {
            Some(fence) => format!("{fence}\n{head}"),
            None => head.to_owned(),
        };
        let open = open_fence(&part);
        if open.is_some() {
            part.push_str("\n```");
        }
        parts.push(part.trim_end().to_owned());
        reopen = open;
        rest = tail.trim_start_matches([' ']).to_owned();
        if reopen.is_none() {
            rest = rest.trim_start().to_owned();
        }
    }
    let last = match &reopen {
        Some(fence) => format!("{fence}\n{rest}"),
        None => rest,
    };
    if !last.trim().is_empty() {
        parts.push(last);
    }
    parts
}

/// Byte index to cut at, no further than `budget` bytes in, on a character boundary.
fn best_cut(text: &str, budget: usize) -> usize {
    let mut limit = budget.min(text.len());
    while !text.is_char_boundary(limit) {
        limit -= 1;
    }
    let window = &text[..limit];
    let floor = limit / 2;
    for sep in ["\n\n", "\n", ". ", "! ", "? ", " "] {
        if let Some(i) = window.rfind(sep)
            && i >= floor
        {
            return i + sep.len();
        }
    }
    limit
}

/// The opening fence line (e.g. "```rust") if `text` ends inside a code block.
fn open_fence(text: &str) -> Option<String> {
    let mut open: Option<String> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("```") {
            open = match open {
                Some(_) => None,
                None => Some(t.chars().take(32).collect()),
            };
        }
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split_reply("hello", 100), vec!["hello"]);
    }

    #[test]
    fn splits_at_paragraphs_and_keeps_code_blocks_whole() {
        let para = "word ".repeat(30);
        let text = format!(
            "{para}\n\n{para}\n\n```rust\n{}\n```\nafter",
            "let x = 1;\n".repeat(20)
        );
        let parts = split_reply(&text, 200);
        assert!(parts.len() > 2);
        for p in &parts {
            assert!(p.len() <= 200, "{} bytes", p.len());
            assert_eq!(p.matches("```").count() % 2, 0, "unbalanced fence in {p:?}");
        }
        let joined: String = parts.join(" ");
        assert_eq!(joined.matches("let x = 1;").count(), 20);
        assert!(joined.ends_with("after"));
    }

    proptest! {
        #[test]
        fn parts_fit_and_lose_no_words(words in proptest::collection::vec("[a-zé]{1,12}|[你好🦉]{1,6}|\n|\n```\n", 0..400), max in 64usize..300) {
            let text = words.join(" ");
            let parts = split_reply(&text, max);
            for p in &parts {
                prop_assert!(p.len() <= max);
            }
            let orig: Vec<&str> = text.split_whitespace().filter(|w| *w != "```" ).collect();
            let joined = parts.join(" ");
            let got: Vec<&str> = joined.split_whitespace().filter(|w| *w != "```").collect();
            prop_assert_eq!(orig, got);
        }
    }
}
