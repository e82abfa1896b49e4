//! How a reply looks in a Matrix client: markdown rendered to sanitised HTML, and the event
//! content of a message and of its edits. Pure.

use std::collections::HashSet;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}

/// The custom content key that tells clients (and our tests) whether a message is still
/// being streamed: `"streaming"` or `"final"`.
pub const STATUS_KEY: &str = "io.threeam.status";

/// The `m.room.message` content for a message of the assistant.
pub fn message_content(msg: &crate::chat::OutMessage) -> serde_json::Value {
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
/// The transaction id of a named message ([`crate::chat::OutMessage::once`]): a digest of
/// the name, so any name (event ids, text) makes a short id of safe characters, the same in
/// every run.
pub fn transaction_id(name: &str) -> matrix_sdk::ruma::OwnedTransactionId {
    use sha1::Digest;
    format!("3am-{}", hex::encode(sha1::Sha1::digest(name.as_bytes()))).into()
}

pub fn edit_content(original: &str, msg: &crate::chat::OutMessage) -> serde_json::Value {
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

fn base_content(msg: &crate::chat::OutMessage) -> serde_json::Value {
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
    use crate::chat::OutMessage;

    #[test]
    fn thread_reply_and_edit_shapes() {
        let msg = OutMessage {
            markdown: "**hi**".into(),
            complete: false,
            thread_root: Some("$root".into()),
            reply_to: None,
            once: None,
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
            once: None,
        });
        assert_eq!(plain["m.relates_to"]["m.in_reply_to"]["event_id"], "$q");
        assert!(plain.get("formatted_body").is_none());
    }

    #[test]
    fn a_named_message_has_one_transaction_id_of_safe_characters() {
        let a = transaction_id("reply to $ev:x round 0 part 0");
        assert_eq!(a, transaction_id("reply to $ev:x round 0 part 0"));
        assert_ne!(a, transaction_id("reply to $ev:x round 1 part 0"));
        assert!(
            a.as_str()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        );
    }

    proptest::proptest! {
        /// Any markdown becomes sanitised HTML without a panic, and never carries a script.
        #[test]
        fn any_markdown_renders_safely(md in "([*_`#>\\[\\]()!<>a-z \n-]|<script>|javascript:){0,80}") {
            let html = super::markdown_to_html(&md);
            proptest::prop_assert!(!html.to_lowercase().contains("<script"));
            let _ = super::needs_html(&md);
        }
    }
}
