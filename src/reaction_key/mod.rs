//! Reaction keys as clients send them, and what they mean: [`base`] compares keys the way
//! clients vary them; [`tags`] are the reactions that tag a reply after a 👎. Pure; the
//! behaviour rule and the feedback store both read it, so it sits below both.

pub mod tags;

pub use tags::{
    HALLUCINATED, OFF_TOPIC, TAG_REACTIONS, TOO_VERBOSE, WRONG, reaction_for_tag, tag_for_reaction,
};

/// The base symbol of a reaction key: clients append U+FE0F (emoji presentation), U+FE0E
/// (text presentation) or a skin tone to some keys, and a few pad them with spaces, so keys
/// are compared without those.
pub fn base(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(*c as u32, 0xFE0E | 0xFE0F | 0x1F3FB..=0x1F3FF))
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn presentation_selectors_skin_tones_and_spaces_go() {
        assert_eq!(super::base("👍\u{FE0F}"), "👍");
        assert_eq!(super::base("👍🏽"), "👍");
        assert_eq!(super::base(" ✅\u{FE0E} "), "✅");
        assert_eq!(super::base("❤️"), "❤");
    }
}
