//! Is a fact the model extracted really something the user said? Pure.
//!
//! A small model asked for facts about the user copies its prompt's worked examples ("The
//! user's name is Zoltan."), takes details from the assistant's answers, answers a question
//! instead of reading it ("Which city do I live in?" → "The user lives in Graz."), and pads
//! the list with inventions ("The user is a sailor." from "I started sea kayaking"). Memory
//! keeps a fact only when:
//!
//! 1. every name and number in it occurs in what the user wrote;
//! 2. at least two thirds of its content words (not function words, not the words every
//!    fact is phrased with: "user", "lives", "called"…) are [`close`] to words the user
//!    wrote, so typos and plurals still match, but "allergic to nuts" is not read into "What
//!    am I allergic to?";
//! 3. a fact naming the user ("The user's name is Paul.") names them as they named
//!    themselves ([`self_names`]): "Paul and I moved to Dresden" does not make the user Paul.
//!
//! Translations fail rule 2 ("Ich arbeite als Bäckerin" → "works as a baker"): for a message
//! in another language than English, names and numbers (rule 1) and one content word are
//! enough, so a German speaker's facts are kept when they carry a name, a place or the
//! user's own word.
//!
//! [`nothing_to_learn`] skips the model call for messages that only ask or greet.

use crate::text::{close, is_stop_word, self_names, words};

/// Words every fact is phrased with; they say nothing about the user in particular.
const PHRASING: &[&str] = &[
    "user",
    "users",
    "name",
    "named",
    "called",
    "known",
    "lives",
    "live",
    "living",
    "works",
    "work",
    "working",
    "job",
    "likes",
    "like",
    "loves",
    "love",
    "enjoys",
    "prefers",
    "wants",
    "currently",
    "recently",
    "now",
    "new",
    "person",
    "got",
    "gets",
    "based",
    "goes",
    "often",
    "usually",
    "cannot",
    "cant",
    "dont",
    "doesnt",
    "isnt",
    "never",
    "eat",
    "eats",
    "use",
    "uses",
    "one",
    "two",
    "three",
    "mostly",
    "also",
];

/// Whether `fact` keeps to what the user wrote in `user_said` (see the module docs).
pub fn grounded(fact: &str, user_said: &str) -> bool {
    // 0. About the user, as every prompt asks: a small model sometimes turns the assistant's
    // own reply into a "fact" ("You're Paul and we have a cat named Mimi.").
    let start = fact.trim_start().to_lowercase();
    if !(start.starts_with("the user") || start.starts_with("user")) {
        return false;
    }
    let said = words(user_said);
    let said_close = |w: &str| said.iter().any(|s| close(w, s));
    // 1. Names and numbers.
    let raw: Vec<&str> = fact
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .filter(|s| !s.is_empty())
        .collect();
    for (i, token) in raw.iter().enumerate() {
        let w = words(token).concat();
        let is_number = w.chars().any(|c| c.is_ascii_digit());
        let is_name = i > 0
            && token.chars().next().is_some_and(char::is_uppercase)
            && !matches!(w.as_str(), "the" | "user" | "users" | "i" | "you" | "your");
        if (is_name || is_number) && !w.is_empty() && !said_close(&w) {
            return false;
        }
    }
    // 2. Content words.
    let content: Vec<String> = words(fact)
        .into_iter()
        .filter(|w| !is_stop_word(w) && !PHRASING.contains(&w.as_str()))
        .collect();
    if content.is_empty() {
        return false;
    }
    let found = content.iter().filter(|w| said_close(w)).count();
    let enough = if is_english(user_said) {
        found * 3 >= content.len() * 2
    } else {
        found >= 1
    };
    // 3. The user's own name.
    enough && names_the_user_as_they_did(fact, user_said)
}

/// For a fact that states the user's name, whether that name is one they gave themselves.
fn names_the_user_as_they_did(fact: &str, user_said: &str) -> bool {
    let w = words(fact);
    let claimed: Option<&[String]> = match w.as_slice() {
        [t, u, n, i, rest @ ..] if t == "the" && u == "users" && n == "name" && i == "is" => {
            Some(rest)
        }
        [t, u, c, rest @ ..]
            if t == "the" && u == "user" && matches!(c.as_str(), "is" | "goes") =>
        {
            match rest {
                [called, rest @ ..] if matches!(called.as_str(), "called" | "named" | "by") => {
                    Some(rest)
                }
                [known, as_, rest @ ..] if known == "known" && as_ == "as" => Some(rest),
                _ => None,
            }
        }
        _ => None,
    };
    let Some(claimed) = claimed else {
        return true;
    };
    let own = self_names(user_said);
    claimed
        .iter()
        .filter(|n| !is_stop_word(n))
        .all(|n| own.iter().any(|o| o == n))
}

/// Rough: does the text read as English? Enough English function words, or none of the
/// commonest German ones. (Only used to relax rule 2 for translated facts.)
fn is_english(text: &str) -> bool {
    const ENGLISH: &[&str] = &[
        "i", "im", "my", "the", "a", "and", "is", "are", "to", "in", "of", "with", "at", "for",
        "have", "got", "me", "we", "our",
    ];
    const OTHER: &[&str] = &[
        "ich", "und", "mein", "meine", "ist", "bin", "wir", "nicht", "keine", "kein", "habe", "je",
        "et", "est", "les", "yo", "soy", "mi", "tengo", "eu", "sou",
    ];
    let w = words(text);
    let en = w.iter().filter(|x| ENGLISH.contains(&x.as_str())).count();
    let other = w.iter().filter(|x| OTHER.contains(&x.as_str())).count();
    en >= other
}

/// Whether a message only asks or greets, so it tells nothing to remember: every sentence is
/// a question (ends with "?" or starts with a question word) or a short greeting or thanks.
/// A sentence that states something ("I'm Teo", "got 2 kids", "Suggest a snack for my run")
/// means the model is asked.
pub fn nothing_to_learn(message: &str) -> bool {
    const QUESTION: &[&str] = &[
        "what", "whats", "which", "who", "whos", "whom", "whose", "where", "wheres", "when", "why",
        "how", "hows", "is", "are", "am", "do", "does", "did", "can", "could", "would", "will",
        "should", "shall", "may", "might", "wat", "wats", "wie", "wo", "was", "wer", "wann",
        "warum", "welche", "welcher", "welches", "kannst", "hast", "bist",
    ];
    const SMALL_TALK: &[&str] = &[
        "hi", "hii", "hello", "hey", "thanks", "thank", "thx", "ok", "okay", "morning", "good",
        "hallo", "danke", "bye", "night", "evening", "cool", "great", "nice", "guten", "morgen",
    ];
    // Requests ("Explain how tides work") state nothing to keep, unless they speak of the
    // user's own life ("Suggest a snack for my long run on Saturday").
    const REQUEST: &[&str] = &[
        "suggest",
        "recommend",
        "tell",
        "give",
        "help",
        "explain",
        "list",
        "show",
        "write",
        "translate",
        "find",
        "remind",
        "summarise",
        "summarize",
        "describe",
        "name",
        "empfiehl",
        "erkläre",
        "erklär",
        "gib",
        "sag",
        "zeig",
        "hilf",
        "schreib",
        "nenne",
    ];
    for s in message.split_inclusive(['.', '!', '?', '\n', ';']) {
        let w = words(s);
        let w: Vec<String> = w
            .into_iter()
            .skip_while(|x| {
                matches!(
                    x.as_str(),
                    "please" | "pls" | "plz" | "bitte" | "so" | "now"
                )
            })
            .collect();
        let Some(first) = w.first() else { continue };
        let asks = s.trim_end().ends_with('?')
            || QUESTION.contains(&first.as_str())
            || (REQUEST.contains(&first.as_str())
                && !w.iter().any(|x| {
                    crate::text::is_first_person(x) || matches!(x.as_str(), "our" | "we")
                }));
        let greets = SMALL_TALK.contains(&first.as_str()) && w.len() <= 3;
        // "Which city do I live in?" asks; "I wonder, am I…" states nothing either, but a
        // question that also tells ("my dog Rex is ill, what should I do?") is handled by the
        // sentence before it.
        if !(asks || greets) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fact_is_about_the_user() {
        let said = "Mein Freund heißt Paul, und wir haben eine Katze namens Mimi.";
        assert!(!grounded("You're Paul and we have a cat named Mimi.", said));
        assert!(grounded("The user has a cat named Mimi.", said));
    }

    #[test]
    fn facts_the_user_said_are_grounded() {
        for (fact, said) in [
            (
                "The user's name is Mara Lindqvist.",
                "Hi! I'm Mara Lindqvist, I work as a marine biologist.",
            ),
            (
                "The user works as a marine biologist.",
                "Hi! I'm Mara Lindqvist, I work as a marine biologist.",
            ),
            (
                "The user has a dog called Biscuit.",
                "I live in Stockholm with my partner Jonas and our dog Biscuit.",
            ),
            (
                "The user is allergic to peanuts.",
                "I'm allergic to peanuts, so I always have to check labels.",
            ),
            (
                "The user has two kids, Lina (7) and Max (4).",
                "got 2 kids, lina (7) and max (4)",
            ),
            ("The user cannot eat gluten.", "cant eat gluten btw, celiac"),
            (
                "The user is vegitarian.",
                "im vegitarian, no meat or fish pls rember that",
            ),
            (
                "The user's cat's name is Mochi.",
                "i hav a cat also, her name is mochi",
            ),
            (
                "The user's name is Samuel O'Brien.",
                "My name is Samuel O'Brien, though everyone calls me Sam.",
            ),
            (
                "The user lives in Leipzig.",
                "Hallo! Ich heiße Lena Vogel und wohne in Leipzig.",
            ),
            ("The user has no lactose.", "Ich vertrage keine Laktose."),
        ] {
            assert!(grounded(fact, said), "{fact} ← {said}");
        }
    }

    #[test]
    fn copied_answered_and_invented_facts_are_not() {
        for (fact, said) in [
            ("The user's name is Zoltan.", "What is my dog called?"),
            ("The user lives in Graz.", "Which city do I live in?"),
            (
                "The user is a sailor.",
                "I also started sea kayaking on Sundays.",
            ),
            (
                "The user has two children.",
                "i stay in pune with my parnets and my younger bruther arjun",
            ),
            ("The user is 25 years old.", "how old is lina"),
            (
                "The user's name is Paul.",
                "Paul und ich sind letzte Woche nach Dresden gezogen.",
            ),
            (
                "The user's name is John D. Smith.",
                "Who was the 14th prime minister of New Zealand?",
            ),
            (
                "The user is called Jonas.",
                "Big news: Jonas and I moved to Gothenburg last weekend!",
            ),
        ] {
            assert!(!grounded(fact, said), "{fact} ← {said}");
        }
    }

    #[test]
    fn questions_and_greetings_tell_nothing() {
        for m in [
            "What is my dog called?",
            "kids names again?",
            "what cant i eat again",
            "where do i work",
            "Good morning!",
            "Could you explain in two sentences why the Baltic Sea is less salty than the ocean?",
            "Wie heißt meine Katze?",
            "thanks!",
            "Explain how tides work.",
            "Please translate 'good night' into Swedish.",
            "",
        ] {
            assert!(nothing_to_learn(m), "{m:?}");
        }
        for m in [
            "Hi! I'm Mara Lindqvist, I work as a marine biologist.",
            "got 2 kids, lina (7) and max (4)",
            "cant eat gluten btw, celiac",
            "Suggest a snack for my long run on Saturday.",
            "Thanks! I'm training for the Stockholm half marathon in May.",
            "My dog Rex is ill. What should I do?",
        ] {
            assert!(!nothing_to_learn(m), "{m:?}");
        }
    }
}
