//! The tag reactions the bot offers after a 👎, and the tags they stand for in
//! `experience.tags`.

/// The answer made things up.
pub const HALLUCINATED: &str = "hallucinated";
/// The answer was too long.
pub const TOO_VERBOSE: &str = "too_verbose";
/// The answer missed what was asked.
pub const OFF_TOPIC: &str = "off_topic";
/// The answer was wrong.
pub const WRONG: &str = "wrong";

/// Reaction key → tag, in the order the bot offers them after a 👎.
///
/// ❌ also rejects a pending approval: only treat it as a tag on a reply that has an
/// experience row, never on an approval message.
pub const TAG_REACTIONS: [(&str, &str); 4] = [
    ("🤥", HALLUCINATED),
    ("📜", TOO_VERBOSE),
    ("🎯", OFF_TOPIC),
    ("❌", WRONG),
];

/// The tag a reaction key stands for, if any (compared by [`super::base`]).
pub fn tag_for_reaction(key: &str) -> Option<&'static str> {
    let base = super::base(key);
    let base = base.as_str();
    TAG_REACTIONS
        .iter()
        .find(|(k, _)| *k == base)
        .map(|(_, tag)| *tag)
        .or(match base {
            // Shortcodes some clients send instead of the emoji.
            ":lying_face:" => Some(HALLUCINATED),
            ":scroll:" => Some(TOO_VERBOSE),
            ":dart:" => Some(OFF_TOPIC),
            ":x:" => Some(WRONG),
            _ => None,
        })
}

/// The reaction that stands for a tag (for rendering `!stats`).
pub fn reaction_for_tag(tag: &str) -> Option<&'static str> {
    TAG_REACTIONS
        .iter()
        .find(|(_, t)| *t == tag)
        .map(|(k, _)| *k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactions_map_to_tags_and_back() {
        assert_eq!(tag_for_reaction("🤥"), Some(HALLUCINATED));
        assert_eq!(tag_for_reaction("📜"), Some(TOO_VERBOSE));
        assert_eq!(tag_for_reaction("🎯"), Some(OFF_TOPIC));
        assert_eq!(tag_for_reaction("❌"), Some(WRONG));
        assert_eq!(tag_for_reaction("❌\u{FE0F}"), Some(WRONG));
        assert_eq!(tag_for_reaction(":dart:"), Some(OFF_TOPIC));
        assert_eq!(tag_for_reaction("👍"), None);
        assert_eq!(tag_for_reaction(""), None);
        for (key, tag) in TAG_REACTIONS {
            assert_eq!(reaction_for_tag(tag), Some(key));
        }
        assert_eq!(reaction_for_tag("nope"), None);
    }
}
