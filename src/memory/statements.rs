//! The statements people make when they introduce themselves, read without a model: their
//! name, the people and pets in their life by name, where they live, what they like doing.
//! Pure.
//!
//! The stack's 0.5B model extracts most facts well enough, but not these: asked about "I live
//! in Stockholm with my partner Jonas and our dog Biscuit", it writes "The user's name is
//! Jonas." (which grounding drops) and forgets the dog. They are also the facts a user tests
//! first ("What's my dog called?"). So they are read here, in English and German, and stored
//! beside whatever the model found (near-duplicates merge):
//!
//! * **name**: [`self_names`] ("I'm Mara Lindqvist", "teo here", "ich heiße Lena");
//! * **relations**: a possessive, a relation word and a name: "my partner Jonas", "our dog
//!   Biscuit", "my younger bruther arjun" (typos are matched), "mein Freund heißt Paul",
//!   "eine Katze namens Mimi", "I have a cat, her name is Mochi", "2 kids, lina (7) and max
//!   (4)";
//! * **home**: "I live in X", "we live in a small house in X", "i stay in X", "moved to X",
//!   "wohne in X", "nach X gezogen";
//! * **pastimes**: "I like also to play shogi with my father", "I love hiking".
//!
//! A name must look like one: capitalised, or, in a message written all in lower case, a
//! word that is not a common one and ends its phrase ("my dog barks at night" names no dog).

use super::fact::{Category, NewFact};
use crate::text::{close, is_stop_word, self_names, words};

/// Relation words, English and German, with the word a fact uses for them.
const RELATIONS: &[(&str, &str)] = &[
    ("partner", "partner"),
    ("wife", "wife"),
    ("husband", "husband"),
    ("boyfriend", "boyfriend"),
    ("girlfriend", "girlfriend"),
    ("fiancee", "fiancée"),
    ("fiance", "fiancé"),
    ("son", "son"),
    ("daughter", "daughter"),
    ("brother", "brother"),
    ("sister", "sister"),
    ("mother", "mother"),
    ("mum", "mother"),
    ("mom", "mother"),
    ("father", "father"),
    ("dad", "father"),
    ("grandson", "grandson"),
    ("granddaughter", "granddaughter"),
    ("friend", "friend"),
    ("boss", "boss"),
    ("dog", "dog"),
    ("cat", "cat"),
    ("puppy", "puppy"),
    ("kitten", "kitten"),
    ("freund", "boyfriend"),
    ("freundin", "girlfriend"),
    ("frau", "wife"),
    ("mann", "husband"),
    ("sohn", "son"),
    ("tochter", "daughter"),
    ("bruder", "brother"),
    ("schwester", "sister"),
    ("hund", "dog"),
    ("katze", "cat"),
    ("kater", "cat"),
];

/// Plural relation words that introduce a list of names ("2 kids, lina (7) and max (4)").
const GROUPS: &[(&str, &str)] = &[
    ("kids", "children"),
    ("children", "children"),
    ("grandchildren", "grandchildren"),
    ("sons", "sons"),
    ("daughters", "daughters"),
    ("cats", "cats"),
    ("dogs", "dogs"),
    ("kinder", "children"),
];

const POSSESSIVE: &[&str] = &["my", "our", "mein", "meine", "meinen", "unser", "unsere"];
const HAVE: &[&str] = &["have", "hav", "got", "haben", "habe", "has"];
const ARTICLE: &[&str] = &["a", "an", "one", "eine", "einen", "ein"];
const NAMING: &[&str] = &["called", "named", "namens", "heißt", "heisst"];

/// Words that never are a name, even in lower case.
const NOT_NAMES: &[&str] = &[
    "also",
    "too",
    "now",
    "again",
    "here",
    "there",
    "today",
    "yesterday",
    "tomorrow",
    "who",
    "which",
    "that",
    "loves",
    "likes",
    "is",
    "was",
    "has",
    "and",
    "or",
    "but",
    "says",
    "barks",
    "sleeps",
    "lives",
    "works",
    "new",
    "old",
    "little",
    "big",
    "younger",
    "older",
    "small",
    "little",
    "best",
    "dear",
    "sweet",
    "home",
    "house",
    "city",
    "town",
    "last",
    "next",
    "week",
    "weekend",
    "year",
    "month",
    "sea",
    "close",
    "near",
    "called",
    "named",
    "her",
    "his",
    "name",
];

/// Adjectives allowed between the possessive and the relation word.
const ADJECTIVES: &[&str] = &[
    "younger", "older", "little", "big", "new", "best", "dear", "old", "kleine", "kleiner",
    "große", "großer", "neue", "neuer", "liebe", "lieber", "elder", "baby",
];

/// The facts these statements make, as "The user…" sentences of priority 5 (4 for pets and
/// friends), in the order found.
pub fn self_statements(message: &str) -> Vec<NewFact> {
    let mut out: Vec<NewFact> = Vec::new();
    let mut add = |text: String, category: Category, priority: u8| {
        if !out.iter().any(|f| f.text.eq_ignore_ascii_case(&text)) {
            out.push(NewFact::new(text, category, priority));
        }
    };
    let lower_case_writer = !message.chars().any(char::is_uppercase);

    let names = self_names(message);
    if !names.is_empty() {
        let full: Vec<String> = names_in_order(message, &names);
        add(
            format!("The user's name is {}.", full.join(" ")),
            Category::Identity,
            5,
        );
    }

    let all = clauses(message);
    for (ci, clause) in all.iter().enumerate() {
        let w: Vec<String> = clause.iter().map(|(_, n)| n.clone()).collect();
        // A name or a list may follow in the next clause: "one daughter, Hana, …",
        // "two grandchildren, Cian and Niamh, …".
        let next = all.get(ci + 1);
        for i in 0..w.len() {
            let ends_clause = i + 1 == w.len();
            // "my partner Jonas", "our dog Biscuit"
            if let Some(rel) = relation(&w[i])
                && owned_at(&w, i)
            {
                let name = name_after(clause, i + 1, lower_case_writer).or_else(|| {
                    next.filter(|n| ends_clause && n.len() == 1)
                        .and_then(|n| name_after(n, 0, lower_case_writer))
                });
                if let Some(name) = name {
                    let pet = matches!(rel, "dog" | "cat" | "puppy" | "kitten");
                    add(
                        format!("The user's {rel} is called {name}."),
                        Category::Relationship,
                        if pet || rel == "friend" || rel == "boss" {
                            4
                        } else {
                            5
                        },
                    );
                }
            }
            // "2 kids, lina (7) and max (4)"
            if let Some(group) = GROUPS.iter().find(|(g, _)| *g == w[i]).map(|(_, f)| *f) {
                let mut listed = list_after(clause, i + 1, message, lower_case_writer);
                if listed.is_empty()
                    && ends_clause
                    && let Some(n) = next
                {
                    listed = list_after(n, 0, message, lower_case_writer);
                }
                if listed.len() >= 2 {
                    add(
                        format!("The user's {group} are {}.", join_names(&listed)),
                        Category::Relationship,
                        5,
                    );
                }
            }
        }
        if let Some(place) = home(clause, lower_case_writer) {
            add(format!("The user lives in {place}."), Category::Identity, 5);
        }
        if let Some(pastime) = pastime(clause) {
            add(
                format!("The user likes {pastime}."),
                Category::Preference,
                3,
            );
        }
    }
    // "I have a cat also, her name is mochi": the naming is a clause of its own.
    for (k, clause) in all.iter().enumerate() {
        let w: Vec<&str> = clause.iter().map(|(_, n)| n.as_str()).collect();
        let named = match w.as_slice() {
            [her, name, is, rest @ ..]
                if matches!(*her, "her" | "his" | "its")
                    && *name == "name"
                    && matches!(*is, "is" | "s") =>
            {
                rest.first().copied()
            }
            _ => None,
        };
        let (Some(_), Some(prev)) = (named, k.checked_sub(1).map(|p| &all[p])) else {
            continue;
        };
        let pw: Vec<String> = prev.iter().map(|(_, n)| n.clone()).collect();
        let Some((i, rel)) = pw
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, x)| relation(x).map(|r| (i, r)))
        else {
            continue;
        };
        if owned_at(&pw, i)
            && let Some(name) = name_after(clause, 3, lower_case_writer)
        {
            add(
                format!("The user's {rel} is called {name}."),
                Category::Relationship,
                4,
            );
        }
    }
    out
}

/// What the speaker likes doing, from "I like (also) to play shogi with my father",
/// "I love hiking", "we enjoy sailing on weekends": the verb phrase after the liking word,
/// up to the first word that starts a circumstance (with, on, at, every…). Said in passing,
/// in non-native English especially, these were lost by the model.
fn pastime(clause: &Clause) -> Option<String> {
    const LIKING: &[&str] = &["like", "love", "enjoy", "adore"];
    const FILLER: &[&str] = &["also", "really", "too", "very", "much", "so", "to"];
    const STOP: &[&str] = &[
        "with",
        "on",
        "at",
        "in",
        "every",
        "each",
        "when",
        "because",
        "and",
        "but",
        "for",
        "after",
        "before",
        "during",
        "since",
        "sometimes",
        "often",
        "usually",
        "together",
    ];
    let w: Vec<&str> = clause.iter().map(|(_, n)| n.as_str()).collect();
    let at = w.iter().position(|x| LIKING.contains(x))?;
    // Spoken by the user: "I like", "we love", "I also enjoy", "I really like".
    let speaker = w[..at]
        .iter()
        .rev()
        .find(|x| !FILLER.contains(x) && !matches!(**x, "do" | "dont" | "don't"))?;
    if !matches!(*speaker, "i" | "we")
        || w[..at]
            .iter()
            .any(|x| matches!(*x, "dont" | "not" | "never"))
    {
        return None;
    }
    let mut words: Vec<&str> = Vec::new();
    for (raw, norm) in &clause[at + 1..] {
        if words.is_empty() && FILLER.contains(&norm.as_str()) {
            continue;
        }
        if STOP.contains(&norm.as_str()) || words.len() == 4 {
            break;
        }
        words.push(raw.as_str());
    }
    // "I like it", "I love you", "I'd like that": no pastime.
    let content = words
        .iter()
        .filter(|x| !is_stop_word(&x.to_lowercase()))
        .count();
    if content == 0
        || matches!(
            words.first().map(|x| x.to_lowercase()).as_deref(),
            Some("it" | "that" | "this" | "you" | "them" | "him" | "her")
        )
    {
        return None;
    }
    let phrase = words
        .iter()
        .map(|x| match x.to_lowercase().as_str() {
            "my" | "our" => "their".to_owned(),
            other => other.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ");
    // "to play shogi" reads "playing shogi" after "likes"
    Some(match phrase.split_once(' ') {
        Some(("play", rest)) => format!("playing {rest}"),
        Some(("go", rest)) => format!("going {rest}"),
        _ => phrase,
    })
}

/// The relation a word names, as a fact says it: the word itself, its possessive ("wife's"
/// is `wifes`), or a typo of one letter in a long word ("bruther").
fn relation(word: &str) -> Option<&'static str> {
    let possessive = word.strip_suffix('s').filter(|w| w.len() >= 3);
    RELATIONS
        .iter()
        .find(|(r, _)| {
            *r == word
                || possessive == Some(*r)
                || (r.len() >= 6 && word.len() >= 6 && close(r, word))
        })
        .map(|(_, f)| *f)
}

/// Whether the relation word at `i` belongs to the speaker: "my (younger) brother", "our
/// dog", "I have a cat", "wir haben eine Katze".
fn owned_at(w: &[String], i: usize) -> bool {
    let mut j = i;
    while j > 0 && ADJECTIVES.contains(&w[j - 1].as_str()) {
        j -= 1;
    }
    if j > 0 && POSSESSIVE.contains(&w[j - 1].as_str()) {
        return true;
    }
    j > 1 && ARTICLE.contains(&w[j - 1].as_str()) && HAVE.contains(&w[j - 2].as_str())
}

/// A clause: its words as `(raw, normalised)` pairs.
type Clause = Vec<(String, String)>;

fn clauses(text: &str) -> Vec<Clause> {
    text.split([',', '.', ';', ':', '!', '?', '\n'])
        .map(|c| {
            c.split(|ch: char| !(ch.is_alphanumeric() || ch == '\'' || ch == '’'))
                .filter(|t| !t.is_empty())
                .map(|t| (t.to_owned(), words(t).concat()))
                .filter(|(_, n)| !n.is_empty())
                .collect::<Clause>()
        })
        .filter(|c: &Clause| !c.is_empty())
        .collect()
}

/// The name at `at` in the clause ("Jonas"), or after a naming word ("called Biscuit",
/// "heißt Paul", "namens Mimi"): capitalised, or, for a lower-case writer, an uncommon word
/// that ends its phrase. Returned capitalised.
fn name_after(clause: &Clause, at: usize, lower_case_writer: bool) -> Option<String> {
    let mut k = at;
    // "called Biscuit", "is called Biscuit", "heißt Paul", "(wife) name is Yuki"
    while k < clause.len()
        && (NAMING.contains(&clause[k].1.as_str())
            || matches!(clause[k].1.as_str(), "is" | "name" | "s"))
    {
        k += 1;
    }
    let (raw, norm) = clause.get(k)?;
    let looks_like_name = raw.chars().next().is_some_and(char::is_uppercase)
        || (lower_case_writer && {
            let next = clause.get(k + 1).map(|(_, n)| n.as_str());
            matches!(next, None | Some("and" | "who" | "und"))
        });
    let plain = norm.chars().all(char::is_alphabetic) && norm.chars().count() >= 2;
    (looks_like_name && plain && !is_stop_word(norm) && !NOT_NAMES.contains(&norm.as_str()))
        .then(|| capitalised(raw))
}

/// Names listed after a group word: "lina (7) and max (4)", "Cian and Niamh".
fn list_after(clause: &Clause, at: usize, message: &str, lower_case_writer: bool) -> Vec<String> {
    let mut names = Vec::new();
    let mut k = at;
    while k < clause.len() {
        let (raw, norm) = &clause[k];
        if norm == "and" || norm == "und" || norm.chars().all(|c| c.is_ascii_digit()) {
            k += 1;
            continue;
        }
        let capital = raw.chars().next().is_some_and(char::is_uppercase);
        if (capital || lower_case_writer)
            && norm.chars().all(char::is_alphabetic)
            && !is_stop_word(norm)
            && !NOT_NAMES.contains(&norm.as_str())
        {
            let age = age_after(message, raw);
            names.push(match age {
                Some(a) => format!("{} ({a})", capitalised(raw)),
                None => capitalised(raw),
            });
            k += 1;
        } else {
            break;
        }
    }
    names
}

/// "lina (7)": the number in brackets right after a name.
fn age_after(message: &str, name: &str) -> Option<u32> {
    let at = message.find(name)? + name.len();
    let rest = message[at..].trim_start().strip_prefix('(')?;
    rest.split(')').next()?.trim().parse().ok()
}

/// Where the speaker lives, from a first-person clause with a home verb.
fn home(clause: &Clause, lower_case_writer: bool) -> Option<String> {
    let w: Vec<&str> = clause.iter().map(|(_, n)| n.as_str()).collect();
    let first_person = w
        .iter()
        .any(|x| matches!(*x, "i" | "we" | "ich" | "wir" | "im"));
    if !first_person {
        return None;
    }
    // "nach Dresden gezogen"
    if let Some(g) = w.iter().position(|x| *x == "gezogen")
        && let Some(n) = w[..g].iter().rposition(|x| *x == "nach")
    {
        return place(clause, n + 1, lower_case_writer);
    }
    let verb = w.iter().position(|x| {
        matches!(
            *x,
            "live" | "lives" | "living" | "stay" | "moved" | "wohne" | "wohnen" | "relocated"
        )
    })?;
    // The first place after a preposition of place that follows the verb.
    // "in a small house in Galway": the first preposition followed by a name.
    w.iter()
        .enumerate()
        .skip(verb + 1)
        .filter(|(_, x)| matches!(**x, "in" | "to" | "nach"))
        .find_map(|(k, _)| place(clause, k + 1, lower_case_writer))
}

fn place(clause: &Clause, at: usize, lower_case_writer: bool) -> Option<String> {
    let (raw, norm) = clause.get(at)?;
    let capital = raw.chars().next().is_some_and(char::is_uppercase);
    let ok = (capital || lower_case_writer)
        && norm.chars().all(char::is_alphabetic)
        && !is_stop_word(norm)
        && !NOT_NAMES.contains(&norm.as_str())
        && !ARTICLE.contains(&norm.as_str());
    ok.then(|| capitalised(raw))
}

/// The self-names in the order the message has them ("Mara Lindqvist").
fn names_in_order(message: &str, names: &[String]) -> Vec<String> {
    let mut found: Vec<(usize, String)> = Vec::new();
    let lower = message.to_lowercase();
    for n in names {
        if let Some(at) = lower.find(n.as_str()) {
            let raw: String = message[at..].chars().take(n.chars().count()).collect();
            found.push((at, capitalised(&raw)));
        }
    }
    found.sort();
    found.dedup_by(|a, b| a.1 == b.1);
    found.into_iter().map(|(_, n)| n).collect()
}

fn capitalised(raw: &str) -> String {
    let mut c = raw.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn join_names(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(message: &str) -> Vec<String> {
        self_statements(message)
            .into_iter()
            .map(|f| f.text)
            .collect()
    }

    #[test]
    fn pastimes_said_in_passing() {
        assert_eq!(
            texts("I like also to play shogi with my father on Sunday."),
            ["The user likes playing shogi."]
        );
        assert_eq!(
            texts("I love hiking in the Alps."),
            ["The user likes hiking."]
        );
        assert_eq!(
            texts("We really enjoy sailing on weekends."),
            ["The user likes sailing."]
        );
        assert_eq!(
            texts("I like my coffee black."),
            ["The user likes their coffee black."]
        );
        assert!(texts("I like it.").is_empty());
        assert!(texts("I don't like mushrooms.").is_empty());
        assert!(texts("Would you like to help me?").is_empty());
        assert!(texts("My sister loves jazz.").is_empty());
    }

    #[test]
    fn introductions_in_the_ways_people_write() {
        assert_eq!(
            texts("Hi! I'm Mara Lindqvist, I work as a marine biologist."),
            ["The user's name is Mara Lindqvist."]
        );
        assert_eq!(
            texts("I live in Stockholm with my partner Jonas and our dog Biscuit."),
            [
                "The user's partner is called Jonas.",
                "The user's dog is called Biscuit.",
                "The user lives in Stockholm."
            ]
        );
        assert_eq!(
            texts("hey. teo here, im a nurse at the kantonsspital in basel"),
            ["The user's name is Teo."]
        );
        assert_eq!(
            texts("got 2 kids, lina (7) and max (4)"),
            ["The user's children are Lina (7) and Max (4)."]
        );
        assert_eq!(
            texts("i stay in pune with my parnets and my younger bruther arjun"),
            [
                "The user's brother is called Arjun.",
                "The user lives in Pune."
            ]
        );
        assert_eq!(
            texts("i hav a cat also, her name is mochi"),
            ["The user's cat is called Mochi."]
        );
        assert_eq!(
            texts("Mein Freund heißt Paul, und wir haben eine Katze namens Mimi."),
            [
                "The user's boyfriend is called Paul.",
                "The user's cat is called Mimi."
            ]
        );
        assert_eq!(
            texts("Hallo! Ich heiße Lena Vogel und wohne in Leipzig."),
            [
                "The user's name is Lena Vogel.",
                "The user lives in Leipzig."
            ]
        );
        assert_eq!(
            texts(
                "My wife Aoife and I live in a small house in Galway, close to the sea. We have two grandchildren, Cian and Niamh, who visit us on Sundays."
            ),
            [
                "The user's wife is called Aoife.",
                "The user lives in Galway.",
                "The user's grandchildren are Cian and Niamh."
            ]
        );
        assert_eq!(
            texts("Paul und ich sind letzte Woche nach Dresden gezogen."),
            ["The user lives in Dresden."]
        );
        assert_eq!(
            texts("Big news: Jonas and I moved to Gothenburg last weekend!"),
            ["The user lives in Gothenburg."]
        );
        assert_eq!(
            texts("I just got a puppy! His name is Bolacha."),
            ["The user's puppy is called Bolacha."]
        );
        assert_eq!(
            texts(
                "My wife name is Yuki, she is doctor. We have one daughter, Hana, she is 5 years."
            ),
            [
                "The user's wife is called Yuki.",
                "The user's daughter is called Hana."
            ]
        );
    }

    #[test]
    fn nothing_is_read_into_other_sentences() {
        for m in [
            "What is my dog called?",
            "my dog barks at night",
            "Could you explain why the Baltic Sea is less salty than the ocean?",
            "Suggest a snack for my long run on Saturday.",
            "I'm allergic to peanuts, so I always have to check labels.",
            "My sister's birthday is next week.",
            "Where do Aoife and I live?",
            "I live in a small flat.",
        ] {
            assert!(texts(m).is_empty(), "{m}: {:?}", texts(m));
        }
    }

    #[test]
    fn what_it_reads_passes_the_grounding_check() {
        for m in [
            "I live in Stockholm with my partner Jonas and our dog Biscuit.",
            "got 2 kids, lina (7) and max (4)",
            "i stay in pune with my parnets and my younger bruther arjun",
            "Mein Freund heißt Paul, und wir haben eine Katze namens Mimi.",
            "Hi! I'm Mara Lindqvist, I work as a marine biologist.",
        ] {
            for f in self_statements(m) {
                assert!(
                    super::super::grounding::grounded(&f.text, m),
                    "{} ← {m}",
                    f.text
                );
            }
        }
    }
}
