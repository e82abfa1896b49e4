//! Words as 3AM compares them, for the reply guard and for checking that a remembered fact
//! comes from what the user wrote. Pure.
//!
//! A word is a run of letters and digits, lower-cased, with apostrophes inside it dropped
//! ("I'm" is `im`, "O'Brien" is `obrien`), so punctuation, capitals and curly quotes never
//! hide a copy. Two words are [`close`] when they are equal, share their first five letters
//! ("biologist", "biology"), differ by a plural "s", or differ by one letter in a long word
//! ("laktose", "lactose", a typo): enough to see a fact's words in a message written with
//! typos or in another spelling, without matching unrelated words.

/// The words of `text` (see the module docs).
pub fn words(text: &str) -> Vec<String> {
    word_spans(text).into_iter().map(|(_, w)| w).collect()
}

/// Each word with the byte offset where it starts in `text`.
pub fn word_spans(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut cur = String::new();
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
            cur.extend(c.to_lowercase());
        } else if (c == '\'' || c == '’') && start.is_some() {
            // inside a word: "I'm" → "im"
        } else if let Some(s) = start.take() {
            out.push((s, std::mem::take(&mut cur)));
        }
    }
    if let Some(s) = start {
        out.push((s, cur));
    }
    out
}

/// `text` cut to its first `max` characters, with "…" when something was cut.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// Whether two (lower-case) words are the same word for our purposes: see the module docs.
pub fn close(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (la, lb) = (a.chars().count(), b.chars().count());
    let singular = |w: &str, n: usize| {
        if n > 3 && w.ends_with('s') {
            w[..w.len() - 1].to_owned()
        } else {
            w.to_owned()
        }
    };
    if singular(a, la) == singular(b, lb) {
        return true;
    }
    if la >= 5 && lb >= 5 {
        let prefix = |w: &str| w.chars().take(5).collect::<String>();
        if prefix(a) == prefix(b) {
            return true;
        }
        // One letter apart: a typo or another spelling, in a word long enough that this is
        // not a different word ("nurse", "purse").
        if la >= 6 && lb >= 6 && la.abs_diff(lb) <= 1 && a.chars().next() == b.chars().next() {
            return edit_distance_at_most_one(a, b);
        }
    }
    false
}

fn edit_distance_at_most_one(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len() == b.len() {
        return a.iter().zip(&b).filter(|(x, y)| x != y).count() <= 1;
    }
    let (short, long) = if a.len() < b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    long.len() == short.len() + 1
        && (0..long.len())
            .any(|skip| long[..skip] == short[..skip] && long[skip + 1..] == short[skip..])
}

/// Function words (English, and the commonest German ones) that carry no content of their own.
pub fn is_stop_word(w: &str) -> bool {
    const STOP: &[&str] = &[
        "a", "an", "the", "and", "or", "but", "so", "to", "of", "in", "on", "at", "for", "with",
        "by", "from", "as", "is", "are", "was", "were", "be", "been", "am", "im", "i", "me", "my",
        "mine", "you", "your", "youre", "we", "our", "us", "it", "its", "this", "that", "these",
        "those", "he", "she", "him", "her", "his", "they", "them", "their", "do", "does", "did",
        "have", "has", "had", "ive", "id", "ill", "not", "no", "yes", "if", "then", "than", "too",
        "very", "just", "also", "all", "any", "some", "what", "which", "who", "how", "when",
        "where", "why", "can", "could", "will", "would", "should", "there", "here", "about", "up",
        "out", "into", "over", "s", "t", "ich", "du", "und", "der", "die", "das", "ein", "eine",
        "mein", "meine", "ist", "bin", "mit", "zu", "den", "dem", "wir", "sind", "habe", "hast",
        "hat", "nicht", "auch",
    ];
    STOP.contains(&w)
}

/// Words of a first-person speaker.
pub fn is_first_person(w: &str) -> bool {
    matches!(
        w,
        "i" | "im" | "ive" | "id" | "ill" | "my" | "me" | "mine" | "ich" | "mein" | "meine"
    )
}

/// "we", "our": someone speaking for their household ("our dog Biscuit").
pub fn is_first_person_plural(w: &str) -> bool {
    matches!(
        w,
        "we" | "our" | "ours" | "us" | "wir" | "unser" | "unsere" | "uns"
    )
}

/// Words that address the listener.
pub fn is_second_person(w: &str) -> bool {
    matches!(
        w,
        "you"
            | "your"
            | "youre"
            | "yours"
            | "youve"
            | "youll"
            | "youd"
            | "du"
            | "dein"
            | "deine"
            | "dich"
            | "dir"
    )
}

/// Names a person gives themselves in `text`, lower case: "my name is X", "call me X",
/// "ich heiße X", "X here" / "hi, X here" at the start, and "I'm X" / "I am X" when X is
/// capitalised and not a common word ("I'm Training" is not a name). Up to two name words.
pub fn self_names(text: &str) -> Vec<String> {
    let raw: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .filter(|s| !s.is_empty())
        .collect();
    let norm: Vec<String> = raw.iter().map(|s| words(s).concat()).collect();
    // Where a clause ends: a name does not run over a comma or a full stop.
    let mut clause_end = vec![false; raw.len()];
    {
        let mut pos = 0usize;
        for (i, r) in raw.iter().enumerate() {
            let at = text[pos..].find(r).map(|o| pos + o).unwrap_or(pos);
            pos = at + r.len();
            let rest = &text[pos..];
            let next = rest.trim_start_matches([' ', '\t']).chars().next();
            clause_end[i] = matches!(next, Some(',' | '.' | '!' | '?' | ';' | ':' | '\n') | None);
        }
    }
    let mut out = Vec::new();
    let take = |i: usize, need_capital: bool, out: &mut Vec<String>| {
        for j in i..(i + 2).min(raw.len()) {
            let w = &norm[j];
            let capital = raw[j].chars().next().is_some_and(char::is_uppercase);
            if w.is_empty()
                || is_stop_word(w)
                || is_common_after_im(w)
                || (need_capital && !capital)
            {
                break;
            }
            if w.chars().count() >= 2 && w.chars().all(char::is_alphabetic) {
                out.push(w.clone());
            }
            if clause_end[j] {
                break;
            }
        }
    };
    for i in 0..norm.len() {
        let w = |k: usize| norm.get(k).map(String::as_str);
        match (w(i), w(i + 1), w(i + 2)) {
            (Some("my"), Some("name"), Some("is" | "s")) => take(i + 3, false, &mut out),
            (Some("call"), Some("me"), _) => take(i + 2, false, &mut out),
            (Some("heiße" | "heisse"), _, _) => take(i + 1, false, &mut out),
            (Some("im"), _, _) => take(i + 1, true, &mut out),
            (Some("i"), Some("am"), _) => take(i + 2, true, &mut out),
            _ => {}
        }
    }
    let greeting = |w: &str| matches!(w, "hey" | "hi" | "hello" | "hallo" | "hii");
    match norm.as_slice() {
        [name, here, ..] if here == "here" && !is_stop_word(name) && !greeting(name) => {
            out.push(name.clone())
        }
        [g, name, here, ..] if greeting(g) && here == "here" && !is_stop_word(name) => {
            out.push(name.clone())
        }
        _ => {}
    }
    out.sort();
    out.dedup();
    out
}

/// Words that follow "I'm" without being a name.
fn is_common_after_im(w: &str) -> bool {
    const COMMON: &[&str] = &[
        "allergic",
        "training",
        "trying",
        "going",
        "looking",
        "working",
        "sorry",
        "fine",
        "good",
        "great",
        "happy",
        "glad",
        "here",
        "back",
        "new",
        "just",
        "still",
        "also",
        "really",
        "very",
        "sure",
        "tired",
        "home",
        "busy",
        "done",
        "ready",
        "married",
        "single",
        "from",
        "retired",
        "vegetarian",
        "vegan",
        "not",
        "so",
        "a",
        "an",
        "the",
        "in",
        "at",
        "on",
    ];
    COMMON.contains(&w)
}

/// Adverbs that may stand between "the user" and the verb.
const ADVERBS: [&str; 14] = [
    "always",
    "never",
    "often",
    "usually",
    "also",
    "still",
    "just",
    "really",
    "only",
    "sometimes",
    "already",
    "rarely",
    "mostly",
    "currently",
];

/// A fact about "the user" said to the assistant about "you": "The user's dog is called
/// Biscuit." → "Your dog is called Biscuit."; "The user lives in Lyon." → "You live in
/// Lyon."; "Marta is the user's best friend." → "Marta is your best friend.". Other facts
/// are kept as they are. Used wherever 3AM speaks to the user about a fact (the turn's notes,
/// the digest).
pub fn second_person(fact: &str) -> String {
    let fact = fact.trim();
    let lower = fact.to_lowercase();
    let rest = |n: usize| fact[n..].trim_start();
    let converted = if lower.starts_with("the user's ") || lower.starts_with("the user’s ") {
        let n = fact.find(' ').unwrap() + 1;
        let n = n + fact[n..].find(' ').unwrap() + 1;
        format!("Your {}", rest(n))
    } else if lower.starts_with("the user ") {
        let tail = rest("the user ".len());
        // "The user always has…": the adverb stays, the verb after it changes.
        let (adverb, tail) = match tail.split_once(' ') {
            Some((a, t)) if ADVERBS.contains(&a.to_lowercase().as_str()) => (Some(a), t),
            _ => (None, tail),
        };
        let (verb, after) = tail.split_once(' ').unwrap_or((tail, ""));
        let you_verb = match verb.to_lowercase().as_str() {
            "is" => "are".to_owned(),
            "was" => "were".to_owned(),
            "has" => "have".to_owned(),
            "does" => "do".to_owned(),
            "doesn't" | "doesn’t" => "don't".to_owned(),
            v if v.ends_with("ies") && v.len() > 4 => format!("{}y", &verb[..verb.len() - 3]),
            v if v.ends_with("ches")
                || v.ends_with("shes")
                || v.ends_with("sses")
                || v.ends_with("xes")
                || v == "goes" =>
            {
                verb[..verb.len() - 2].to_owned()
            }
            v if v.ends_with('s') && !v.ends_with("ss") && v.len() > 2 => {
                verb[..verb.len() - 1].to_owned()
            }
            _ => verb.to_owned(),
        };
        let verb_phrase = match adverb {
            Some(a) => format!("{a} {you_verb}"),
            None => you_verb,
        };
        if after.is_empty() {
            format!("You {verb_phrase}")
        } else {
            format!("You {verb_phrase} {after}")
        }
    } else {
        fact.to_owned()
    };
    converted
        .replace(" the user's ", " your ")
        .replace(" the user’s ", " your ")
        .replace(" the user.", " you.")
        .replace(" the user ", " you ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_said_to_the_user() {
        assert_eq!(
            second_person("The user lives in Lyon."),
            "You live in Lyon."
        );
        assert_eq!(
            second_person("The user always has to check labels."),
            "You always have to check labels."
        );
        assert_eq!(
            second_person("The user's dog is Biscuit."),
            "Your dog is Biscuit."
        );
        assert_eq!(second_person("The user goes running."), "You go running.");
        assert_eq!(second_person("Ana likes jazz."), "Ana likes jazz.");
    }
    use proptest::prelude::*;

    #[test]
    fn words_ignore_case_punctuation_and_apostrophes() {
        assert_eq!(
            words("Hi! I'm Mara—a *marine* biologist."),
            vec!["hi", "im", "mara", "a", "marine", "biologist"]
        );
        assert_eq!(words("Samuel O'Brien"), vec!["samuel", "obrien"]);
        assert_eq!(words("Ich heiße Lena"), vec!["ich", "heiße", "lena"]);
    }

    #[test]
    fn clipping_counts_characters_and_marks_the_cut() {
        assert_eq!(clip("héllo", 5), "héllo");
        assert_eq!(clip("héllo world", 5), "héllo…");
        assert_eq!(clip("", 3), "");
    }

    #[test]
    fn close_words() {
        for (a, b) in [
            ("biologist", "biology"),
            ("peanuts", "peanut"),
            ("cats", "cat"),
            ("laktose", "lactose"),
            ("vegitarian", "vegetarian"),
            ("softwere", "software"),
        ] {
            assert!(close(a, b) && close(b, a), "{a} {b}");
        }
        for (a, b) in [
            ("cat", "car"),
            ("nurse", "purse"),
            ("baker", "bäckerin"),
            ("is", "it"),
        ] {
            assert!(!close(a, b), "{a} {b}");
        }
    }

    #[test]
    fn names_people_give_themselves() {
        assert_eq!(
            self_names("Hi! I'm Mara Lindqvist, I work as a marine biologist."),
            vec!["lindqvist", "mara"]
        );
        assert_eq!(self_names("hey. teo here, im a nurse"), vec!["teo"]);
        assert_eq!(
            self_names("hii, my name is priya nair, im a dev"),
            vec!["nair", "priya"]
        );
        assert_eq!(
            self_names("Hallo! Ich heiße Lena Vogel und wohne in Leipzig."),
            vec!["lena", "vogel"]
        );
        assert_eq!(
            self_names("My name is Samuel O'Brien, though everyone calls me Sam."),
            vec!["obrien", "samuel"]
        );
        assert!(self_names("I'm allergic to peanuts and I'm Training hard").is_empty());
        assert!(self_names("I am so tired").is_empty());
        assert!(self_names("Paul und ich sind nach Dresden gezogen.").is_empty());
    }

    proptest! {
        #[test]
        fn close_is_symmetric_and_total(a in "[a-zäö]{0,12}", b in "[a-zäö]{0,12}") {
            prop_assert_eq!(close(&a, &b), close(&b, &a));
            prop_assert!(close(&a, &a));
        }

        #[test]
        fn spans_point_at_their_words(s in "\\PC{0,60}") {
            for (at, w) in word_spans(&s) {
                prop_assert!(s.is_char_boundary(at));
                let first = s[at..].chars().next().unwrap();
                prop_assert!(first.is_alphanumeric());
                prop_assert!(w.starts_with(&first.to_lowercase().collect::<String>()) || w.is_empty() || !first.is_lowercase());
            }
        }
    }
}
