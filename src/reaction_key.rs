//! Reaction keys as clients send them. Pure.

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
