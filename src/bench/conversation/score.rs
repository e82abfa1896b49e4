//! How the conversation benchmark judges what a user reads. Pure: the runner collects replies
//! and stored facts, this decides what passed.
//!
//! * **Patterns** ([`Pattern`]): `"a|b"` (either) of `"a&b"` (both), matched case-insensitively
//!   as substrings, so `"biolog"` accepts "biologist" and "biology".
//! * **Recall**: a reply answers a recall question when it matches every expected pattern.
//! * **Care**: a suggestion respects what the user cannot or will not have when every
//!   sentence mentioning an avoided thing also says it is avoided ("peanut-free", "since
//!   you're allergic to peanuts", "ohne Käse"); a plain suggestion of it fails.
//! * **Precision**: a stored fact is supported when it holds none of the persona's `never`
//!   words and at least three quarters of its content words were said by the user (compared
//!   by their first five letters, so "biologist" matches "biology"; translations and spelling
//!   fixes a persona allows are listed in its `also_said`). This catches facts taken from the
//!   assistant's replies, from general-knowledge questions and from the prompt's examples; it
//!   cannot tell a wrong pairing of words the user did say ("lives in Oslo" when the sister
//!   does), which the persona checks do instead.

use crate::text::{close, is_stop_word, words};

/// A disjunction of conjunctions of lower-case substrings.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    alternatives: Vec<Vec<String>>,
    source: String,
}

impl Pattern {
    pub fn parse(s: &str) -> Pattern {
        let alternatives = s
            .split('|')
            .map(|alt| {
                alt.split('&')
                    .map(|p| p.trim().to_lowercase())
                    .filter(|p| !p.is_empty())
                    .collect::<Vec<_>>()
            })
            .filter(|a| !a.is_empty())
            .collect();
        Pattern {
            alternatives,
            source: s.trim().to_owned(),
        }
    }

    pub fn matches(&self, text: &str) -> bool {
        let lower = text.to_lowercase();
        self.alternatives
            .iter()
            .any(|all| all.iter().all(|p| lower.contains(p.as_str())))
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// The kinds of statement the extraction-recall target counts.
pub const TARGET_KINDS: [&str; 5] = ["identity", "home", "work", "family", "health"];

/// A statement the user makes that memory should hold after the turn: `"kind: pattern"`.
#[derive(Debug, Clone, PartialEq)]
pub struct Learn {
    pub kind: String,
    pub pattern: Pattern,
}

impl Learn {
    pub fn parse(s: &str) -> Learn {
        match s.split_once(':') {
            Some((kind, pattern)) => Learn {
                kind: kind.trim().to_lowercase(),
                pattern: Pattern::parse(pattern),
            },
            None => Learn {
                kind: "other".into(),
                pattern: Pattern::parse(s),
            },
        }
    }

    pub fn is_target(&self) -> bool {
        TARGET_KINDS.contains(&self.kind.as_str())
    }
}

/// Whether a reply answers a recall question: it matches every expected pattern.
pub fn recalled(reply: &str, expect: &[Pattern]) -> bool {
    !expect.is_empty() && expect.iter().all(|p| p.matches(reply))
}

/// Words that, in the same sentence as an avoided thing, say it is being avoided.
const CAUTION: &[&str] = &[
    "allerg",
    "avoid",
    "without",
    "instead",
    "free",
    "skip",
    "leave out",
    "leave it out",
    "no ",
    "not ",
    "n't",
    "never",
    "cannot",
    "replace",
    "substitut",
    "swap",
    "intoleran",
    "dislike",
    "safe",
    "careful",
    "check",
    "ohne",
    "statt",
    "kein",
    "frei",
    "vermeid",
    "verträgst",
    "magst",
];

/// The avoided things a suggestion mentions without saying they are avoided.
pub fn care_violations(reply: &str, avoid: &[Pattern]) -> Vec<String> {
    let mut out = Vec::new();
    for sentence in reply.split(['.', '!', '?', '\n', ';']) {
        let lower = sentence.to_lowercase();
        for p in avoid {
            if p.matches(sentence) && !CAUTION.iter().any(|c| lower.contains(c)) {
                out.push(p.as_str().to_owned());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Words in a fact that say nothing about the user in particular: how facts are phrased
/// ("The user lives in…", "…is called…", "…does not eat…").
const GENERIC: &[&str] = &[
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
    "enjoy",
    "prefers",
    "wants",
    "plans",
    "planning",
    "currently",
    "recently",
    "new",
    "now",
    "person",
    "people",
    "years",
    "year",
    "old",
    "aged",
    "age",
    "got",
    "gets",
    "based",
    "located",
    "resides",
    "goes",
    "going",
    "often",
    "usually",
    "mentioned",
    "said",
    "says",
    "told",
    "stated",
    "states",
    "member",
    "family",
    "together",
    "one",
    "two",
    "three",
    "home",
    "house",
    "city",
    "place",
    "partner",
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
    "mostly",
    "primarily",
    "favourite",
    "favorite",
    "consume",
    "consumes",
];

/// Whether `fact` says only what the user said (see the module docs). `said` is everything
/// the user wrote so far; `also_said` and `never` come from the persona.
pub fn supported(fact: &str, said: &str, also_said: &[String], never: &[String]) -> bool {
    let lower = fact.to_lowercase();
    if never.iter().any(|n| lower.contains(&n.to_lowercase())) {
        return false;
    }
    let mut said_words: Vec<String> = words(said);
    for extra in also_said {
        said_words.extend(words(extra));
    }
    let content: Vec<String> = words(fact)
        .into_iter()
        .filter(|w| !is_stop_word(w) && !GENERIC.contains(&w.as_str()))
        .collect();
    if content.is_empty() {
        return true;
    }
    let found = content
        .iter()
        .filter(|w| said_words.iter().any(|s| close(w, s)))
        .count();
    found * 4 >= content.len() * 3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(v: &[&str]) -> Vec<Pattern> {
        v.iter().map(|s| Pattern::parse(s)).collect()
    }

    #[test]
    fn patterns_are_alternatives_of_conjunctions() {
        let p = Pattern::parse("stockholm&live|home&stockholm");
        assert!(p.matches("The user lives in Stockholm."));
        assert!(p.matches("Stockholm is the user's home"));
        assert!(!p.matches("The user runs the Stockholm half marathon."));
        assert!(Pattern::parse("marine biolog").matches("a Marine Biologist"));
        let l = Learn::parse("family: jonas");
        assert_eq!(l.kind, "family");
        assert!(l.is_target());
        assert!(!Learn::parse("plan: marathon").is_target());
    }

    #[test]
    fn recall_needs_every_expected_pattern() {
        assert!(recalled("Your dog is called Biscuit.", &pats(&["biscuit"])));
        assert!(!recalled(
            "I don't know your dog's name.",
            &pats(&["biscuit"])
        ));
        assert!(recalled("Lina and Max.", &pats(&["lina", "max"])));
        assert!(!recalled("Lina.", &pats(&["lina", "max"])));
        assert!(!recalled("anything", &[]));
    }

    #[test]
    fn care_accepts_mentions_that_avoid() {
        let avoid = pats(&["peanut"]);
        assert_eq!(
            care_violations("Try a banana with a peanut butter wrap.", &avoid),
            vec!["peanut"]
        );
        assert!(
            care_violations("Since you're allergic to peanuts, try a banana.", &avoid).is_empty()
        );
        assert!(care_violations("Oat bars (peanut-free) and a banana.", &avoid).is_empty());
        assert!(care_violations("Banana and dates, and skip the peanuts.", &avoid).is_empty());
        let avoid = pats(&["käse", "cheese"]);
        assert_eq!(
            care_violations("Nudeln mit Käse und Tomaten.", &avoid),
            vec!["käse"]
        );
        assert!(care_violations("Nudeln mit Tomaten, ohne Käse.", &avoid).is_empty());
    }

    #[test]
    fn facts_must_come_from_the_user() {
        let said = "Hi! I'm Mara Lindqvist, I work as a marine biologist. I live in Stockholm with my partner Jonas and our dog Biscuit.";
        let never = vec!["tom".to_owned(), "leeds".to_owned(), "baltic".to_owned()];
        for ok in [
            "The user's name is Mara Lindqvist.",
            "The user is a marine biologist.",
            "The user lives in Stockholm.",
            "The user's partner is Jonas.",
            "The user has a dog called Biscuit.",
        ] {
            assert!(supported(ok, said, &[], &never), "{ok}");
        }
        for bad in [
            "The user's name is Tom.",
            "The user teaches maths in Leeds.",
            "The user is a software engineer at Google.",
            "The Baltic Sea is less salty than the ocean.",
            "The user enjoys reading crime novels.",
        ] {
            assert!(!supported(bad, said, &[], &never), "{bad}");
        }
        // Translations the persona allows.
        let said = "Ich arbeite als Bäckerin in einer kleinen Bäckerei.";
        assert!(!supported("The user works as a baker.", said, &[], &[]));
        assert!(supported(
            "The user works as a baker.",
            said,
            &["baker".to_owned()],
            &[]
        ));
    }
}
