//! A reply that goes round in a loop. A small model sometimes says a sentence, or a whole
//! paragraph, and then says it again and again until it reaches its length limit (tried with
//! Qwen2.5-0.5B: "how bread rises" came back as one paragraph repeated fourteen times, with
//! llama-server's repeat penalty and DRY sampler on). Penalties make that rarer, not
//! impossible, so the turn also watches the text: the first complete sentence that repeats
//! one said earlier in the same reply, word for word, is where the reply ends.
//!
//! Sentences end at `.`, `!`, `?` or a line break, and are compared after
//! [`crate::text::words`] (case and punctuation do not hide a copy). Short sentences ("Yes.",
//! "Thank you.") may recur in a good answer, so only sentences of [`LOOP_MIN_WORDS`] or more
//! count. Pure: no I/O.

use std::collections::HashSet;

/// A repeated sentence this long (in words) or longer is a loop.
pub const LOOP_MIN_WORDS: usize = 6;

/// The byte offset where `text` starts going round: the start of the first complete
/// sentence that repeats an earlier one. `None` while it does not.
pub fn loop_start(text: &str) -> Option<usize> {
    let mut seen: HashSet<Vec<String>> = HashSet::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if !matches!(c, '.' | '!' | '?' | '\n') {
            continue;
        }
        let end = i + c.len_utf8();
        let sentence = &text[start..end];
        let words = crate::text::words(sentence);
        if words.len() >= LOOP_MIN_WORDS && !seen.insert(words) {
            // Where the sentence's text begins, after the whitespace before it.
            let lead = sentence.len() - sentence.trim_start().len();
            return Some(start + lead);
        }
        start = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paragraph_said_again_ends_the_reply_before_its_second_time() {
        let para = "The dough rises because yeast makes gas. The gas is trapped by gluten, \
                    so the dough grows.";
        let text = format!("{para}\n\n{para}\n\n{para}");
        let cut = loop_start(&text).expect("a loop");
        assert_eq!(text[..cut].trim_end(), para);
    }

    #[test]
    fn a_sentence_repeated_with_other_case_and_punctuation_is_still_a_loop() {
        let text = "Bread needs flour, water and yeast to rise. Then you bake it. \
                    bread needs flour water and yeast to rise!";
        let cut = loop_start(text).unwrap();
        assert_eq!(
            &text[..cut],
            "Bread needs flour, water and yeast to rise. Then you bake it. "
        );
    }

    #[test]
    fn short_sentences_may_recur_and_different_sentences_are_no_loop() {
        assert_eq!(loop_start("Yes. It works. Yes. It works. Thank you."), None);
        let text = "First, mix the flour and the water well. Second, add the yeast and \
                    some salt. Third, wait an hour while the dough rises.";
        assert_eq!(loop_start(text), None);
    }

    #[test]
    fn an_unfinished_sentence_is_not_judged_yet() {
        let s = "The oven must be hot before the bread goes in.";
        assert_eq!(
            loop_start(&format!("{s} The oven must be hot before the bread")),
            None
        );
        assert!(loop_start(&format!("{s} {s}")).is_some());
    }

    proptest::proptest! {
        /// Any text: the cut is on a character boundary inside the text, and what is kept has
        /// no loop.
        #[test]
        fn the_cut_is_a_boundary_and_what_is_kept_does_not_loop(t in "([a-c]{1,3}[ .\n!?]){0,60}") {
            if let Some(cut) = loop_start(&t) {
                proptest::prop_assert!(t.is_char_boundary(cut) && cut < t.len());
                proptest::prop_assert_eq!(loop_start(&t[..cut]), None);
            }
        }
    }
}
