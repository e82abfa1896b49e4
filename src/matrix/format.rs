//! How a reply looks in a Matrix client: markdown rendered to sanitised HTML, and long replies
//! split into messages a client can carry. Pure.

use std::collections::HashSet;

/// Matrix events are capped at 64 KiB; text and its HTML both travel, so parts stay well below.
pub const MAX_PART_CHARS: usize = 12_000;

/// Markdown to HTML limited to the tags the Matrix spec recommends clients render.
pub fn markdown_to_html(markdown: &str) -> String {
    use pulldown_cmark::{Options, Parser, html};
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TABLES);
    let mut raw = String::new();
    html::push_html(&mut raw, Parser::new_ext(markdown, opts));
    let tags: HashSet<&str> = [
        "del",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "p",
        "a",
        "ul",
        "ol",
        "sup",
        "sub",
        "li",
        "b",
        "i",
        "u",
        "strong",
        "em",
        "strike",
        "code",
        "hr",
        "br",
        "div",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "caption",
        "pre",
        "span",
    ]
    .into_iter()
    .collect();
    ammonia::Builder::default()
        .tags(tags)
        .url_schemes(["http", "https", "mailto", "matrix"].into_iter().collect())
        .link_rel(Some("noopener noreferrer"))
        .clean(&raw)
        .to_string()
        .trim_end()
        .to_owned()
}

/// Whether the markdown needs HTML at all (plain sentences are sent as plain text).
pub fn needs_html(markdown: &str) -> bool {
    let html = markdown_to_html(markdown);
    let inner = html
        .strip_prefix("<p>")
        .and_then(|s| s.strip_suffix("</p>"));
    match inner {
        Some(inner) => inner.contains('<') || inner != escape(markdown.trim()),
        None => true,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Splits a long reply into parts of at most `max` characters, at the best boundary available
/// (paragraph, line, sentence, word); a code block cut in two is closed and reopened so each
/// part renders on its own.
pub fn split_reply(text: &str, max: usize) -> Vec<String> {
    assert!(max >= 64, "parts must have room for a fence");
    let mut parts = Vec::new();
    let mut rest = text.trim_end().to_owned();
    let mut reopen: Option<String> = None;
    while rest.chars().count() + reopen.as_ref().map_or(0, |f| f.chars().count() + 1) > max {
        let budget = max - reopen.as_ref().map_or(0, |f| f.chars().count() + 1) - 4;
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

/// Byte index to cut at, no further than `budget` characters in.
fn best_cut(text: &str, budget: usize) -> usize {
    let limit = text
        .char_indices()
        .nth(budget)
        .map_or(text.len(), |(i, _)| i);
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
    fn renders_markdown_and_strips_scripts() {
        let html = markdown_to_html(
            "**bold** <script>alert(1)</script> [x](javascript:alert(1)) [y](https://e.org)",
        );
        assert!(html.contains("<strong>bold</strong>"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("javascript:"));
        assert!(html.contains("href=\"https://e.org\""));
        assert!(!needs_html("Just a plain sentence."));
        assert!(needs_html("A *little* emphasis."));
    }

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
            assert!(p.chars().count() <= 200, "{} chars", p.chars().count());
            assert_eq!(p.matches("```").count() % 2, 0, "unbalanced fence in {p:?}");
        }
        let joined: String = parts.join(" ");
        assert_eq!(joined.matches("let x = 1;").count(), 20);
        assert!(joined.ends_with("after"));
    }

    proptest! {
        #[test]
        fn parts_fit_and_lose_no_words(words in proptest::collection::vec("[a-zé]{1,12}|\n|\n```\n", 0..400), max in 64usize..300) {
            let text = words.join(" ");
            let parts = split_reply(&text, max);
            for p in &parts {
                prop_assert!(p.chars().count() <= max);
            }
            let orig: Vec<&str> = text.split_whitespace().filter(|w| *w != "```" ).collect();
            let joined = parts.join(" ");
            let got: Vec<&str> = joined.split_whitespace().filter(|w| *w != "```").collect();
            prop_assert_eq!(orig, got);
        }
    }
}

/// The custom content key that tells clients (and our tests) whether a message is still
/// being streamed: `"streaming"` or `"final"`.
pub const STATUS_KEY: &str = "io.threeam.status";

/// The `m.room.message` content for a message of the assistant.
pub fn message_content(msg: &crate::assistant::OutMessage) -> serde_json::Value {
    let mut content = base_content(msg);
    if let Some(root) = &msg.thread_root {
        let latest = msg.reply_to.as_deref().unwrap_or(root);
        content["m.relates_to"] = serde_json::json!({
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": msg.reply_to.is_none(),
            "m.in_reply_to": {"event_id": latest},
        });
    } else if let Some(reply_to) = &msg.reply_to {
        content["m.relates_to"] = serde_json::json!({"m.in_reply_to": {"event_id": reply_to}});
    }
    content
}

/// The content of an edit (`m.replace`) of `original` to show `msg`.
pub fn edit_content(original: &str, msg: &crate::assistant::OutMessage) -> serde_json::Value {
    let new_content = base_content(msg);
    let mut content = new_content.clone();
    content["body"] = serde_json::Value::String(format!("* {}", msg.markdown));
    if let Some(html) = new_content.get("formatted_body").and_then(|h| h.as_str()) {
        content["formatted_body"] = serde_json::Value::String(format!("* {html}"));
    }
    content["m.new_content"] = new_content;
    content["m.relates_to"] = serde_json::json!({"rel_type": "m.replace", "event_id": original});
    content
}

fn base_content(msg: &crate::assistant::OutMessage) -> serde_json::Value {
    let mut content = serde_json::json!({
        "msgtype": "m.text",
        "body": msg.markdown,
        STATUS_KEY: if msg.complete { "final" } else { "streaming" },
    });
    if needs_html(&msg.markdown) {
        content["format"] = "org.matrix.custom.html".into();
        content["formatted_body"] = markdown_to_html(&msg.markdown).into();
    }
    content
}

#[cfg(test)]
mod content_tests {
    use super::*;
    use crate::assistant::OutMessage;

    #[test]
    fn thread_reply_and_edit_shapes() {
        let msg = OutMessage {
            markdown: "**hi**".into(),
            complete: false,
            thread_root: Some("$root".into()),
            reply_to: None,
        };
        let c = message_content(&msg);
        assert_eq!(c["m.relates_to"]["rel_type"], "m.thread");
        assert_eq!(c["m.relates_to"]["event_id"], "$root");
        assert_eq!(c[STATUS_KEY], "streaming");
        assert_eq!(c["formatted_body"], "<p><strong>hi</strong></p>");
        let e = edit_content(
            "$orig",
            &OutMessage {
                complete: true,
                ..msg
            },
        );
        assert_eq!(e["m.relates_to"]["rel_type"], "m.replace");
        assert_eq!(e["m.new_content"][STATUS_KEY], "final");
        assert_eq!(e[STATUS_KEY], "final");
        assert!(e["m.new_content"].get("m.relates_to").is_none());
        assert_eq!(e["body"], "* **hi**");
        let plain = message_content(&OutMessage {
            markdown: "ok".into(),
            complete: true,
            thread_root: None,
            reply_to: Some("$q".into()),
        });
        assert_eq!(plain["m.relates_to"]["m.in_reply_to"]["event_id"], "$q");
        assert!(plain.get("formatted_body").is_none());
    }
}
