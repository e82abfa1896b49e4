//! The reply guard: catches the three ways a small model fails a conversation before the user
//! sees them. Pure: no I/O, no async.
//!
//! * **Echo**: the reply copies 8 or more consecutive words of something the user wrote
//!   (earlier, or just now). Small models continue the conversation they see instead of
//!   answering it, and every echo left in the history invites the next one.
//! * **Repetition**: the reply is mostly an earlier reply again (most of its word triples occur
//!   in one earlier reply), the "same canned answer to every message" failure.
//! * **Impersonation**: the reply speaks as the user: it introduces itself with the user's name
//!   ("I'm Mara"), or restates one of the user's own first-person statements in the first
//!   person ("I'm allergic to peanuts"), or claims in the first person what memory holds about
//!   them ("I live in Pune, India" when a memory says the user lives in Pune, India).
//!
//! Words are compared after [`words`]: lower case, apostrophes dropped ("I'm" is `im`), any
//! other non-alphanumeric character a separator, so punctuation and capitals never hide a
//! copy. A message that asks for its own text back (translate, correct, quote…, or that holds
//! quoted or fenced text) may be echoed: copying it is the task.
//!
//! While a reply streams, [`visible_len`] says how much of it may be shown: everything except
//! a trailing run of words that could still grow into an echo, an impersonation, or a reply
//! that repeats an earlier one. The held words are shown once they turn out harmless, so
//! nothing flawed is ever on screen, and what is shown never has to be taken back.

use std::collections::HashSet;

use crate::text::{
    close, is_first_person, is_first_person_plural, is_second_person, is_stop_word, self_names,
    word_spans, words,
};

/// An echo is this many consecutive words (or more) copied from the user.
pub const ECHO_WORDS: usize = 8;

/// A reply with at least this many words is checked for repeating an earlier one; shorter
/// ones ("You're welcome!") may recur.
pub const REPEAT_MIN_WORDS: usize = 6;

/// Share of a reply's word triples found in one earlier reply that makes it a repetition.
pub const REPEAT_SHARE: f64 = 0.6;

/// A first-person statement of the user's, repeated in the reply, is this many words or more.
const FIRST_PERSON_WORDS: usize = 4;

/// Words after a first-person word that make up what the speaker claims ("I'm a marine
/// biologist", "my dog Biscuit").
const CLAIM_WINDOW: usize = 5;

/// What the guard found wrong with a reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Flaw {
    /// `words` consecutive words copied from what the user wrote.
    Echo { words: usize },
    /// `share` of the reply's word triples come from one earlier reply.
    Repetition { share: f64 },
    /// `words` consecutive words copied from 3AM's own instructions (its rules, the notes
    /// of a turn), which are not for the user's eyes.
    Leak { words: usize },
    /// The reply speaks as the user; `phrase` is the offending words.
    Impersonation { phrase: String },
}

impl Flaw {
    pub fn kind(&self) -> &'static str {
        match self {
            Flaw::Echo { .. } => "echo",
            Flaw::Repetition { .. } => "repetition",
            Flaw::Leak { .. } => "leak",
            Flaw::Impersonation { .. } => "impersonation",
        }
    }
}

impl std::fmt::Display for Flaw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Flaw::Echo { words } => write!(f, "echo of {words} words the user wrote"),
            Flaw::Repetition { share } => {
                write!(f, "repetition of an earlier reply ({:.0}%)", share * 100.0)
            }
            Flaw::Impersonation { phrase } => write!(f, "speaks as the user (\"{phrase}\")"),
            Flaw::Leak { words } => write!(f, "copies {words} words of its own instructions"),
        }
    }
}

/// What the reply is checked against, prepared once per turn.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// Every run of [`ECHO_WORDS`] words the user wrote (the current message's only when it
    /// may not be echoed).
    echo_grams: HashSet<Vec<String>>,
    /// Every shorter run (1..ECHO_WORDS words) of those texts, for holding back a reply's tail
    /// while it might still become an echo.
    partial_grams: HashSet<Vec<String>>,
    /// The user's first-person statements: runs of [`FIRST_PERSON_WORDS`] words that start
    /// with a first-person word and hold two content words.
    first_person: HashSet<Vec<String>>,
    /// What the user says about themselves: the content words after each first-person word
    /// of theirs, clause by clause ("I work as a marine biologist" → work, marine, biologist).
    claims: Vec<HashSet<String>>,
    /// What memory says about the user: each remembered fact's content words ("The user
    /// lives in Pune, India." → lives, pune, india).
    memory_claims: Vec<HashSet<String>>,
    /// What the user says they are, in one word ("im vegitarian" → vegitarian): the reply
    /// may not say "I'm vegetarian".
    identities: HashSet<String>,
    /// Names the user goes by, lower case.
    names: HashSet<String>,
    /// Word triples of each earlier reply.
    earlier: Vec<HashSet<[String; 3]>>,
    /// Every run of [`ECHO_WORDS`] words of the instructions.
    hidden_grams: HashSet<Vec<String>>,
}

/// Everything a turn knows about what was said before.
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardInput<'a> {
    /// The user's earlier messages in this conversation, oldest first.
    pub earlier_messages: &'a [&'a str],
    /// The message being answered.
    pub message: &'a str,
    /// The bot's earlier replies in this conversation.
    pub earlier_replies: &'a [&'a str],
    /// Names the user is known by (their Matrix name, names from memory); more are read from
    /// what they wrote ("I'm Mara", "teo here").
    pub known_names: &'a [&'a str],
    /// 3AM's own instructions (its rules, the turn's notes other than memories), which a
    /// reply must not copy either.
    pub hidden: &'a [&'a str],
    /// The memories this turn's prompt holds about the user, as stored ("The user lives in
    /// Pune."): a reply may say them to the user, never as its own.
    pub memories: &'a [&'a str],
    /// The message is small talk ("Good morning!", "thanks"): the same reply as last time is
    /// fine; repetition is the same reply to a different message.
    pub small_talk: bool,
}

impl Guard {
    pub fn new(input: &GuardInput<'_>) -> Self {
        let mut g = Guard::default();
        let mut texts: Vec<&str> = input.earlier_messages.to_vec();
        let current_may_be_echoed = asks_for_its_own_text(input.message);
        if !current_may_be_echoed {
            texts.push(input.message);
        }
        for text in &texts {
            let w = words(text);
            for n in 1..=ECHO_WORDS.min(w.len()) {
                for gram in w.windows(n) {
                    if n == ECHO_WORDS {
                        g.echo_grams.insert(gram.to_vec());
                    } else {
                        g.partial_grams.insert(gram.to_vec());
                    }
                }
            }
        }
        // The user's own statements; a message that asks for its own text back (a correction,
        // a translation) is the one text the reply may restate in the first person.
        let own: Vec<&str> = input
            .earlier_messages
            .iter()
            .copied()
            .chain((!current_may_be_echoed).then_some(input.message))
            .collect();
        for text in input.earlier_messages.iter().chain([&input.message]) {
            g.names.extend(self_names(text));
        }
        for text in &own {
            let w = words(text);
            for gram in w.windows(FIRST_PERSON_WORDS) {
                if is_first_person(&gram[0]) && content_words(gram) >= 2 {
                    g.first_person.insert(gram.to_vec());
                }
            }
            for clause in clauses(text) {
                for (i, w) in clause.iter().enumerate() {
                    // "our dog Biscuit" is the user's too.
                    if is_first_person(w) || is_first_person_plural(w) {
                        let claim = after_first_person(&clause, i);
                        if claim.len() >= 2 {
                            g.claims.push(claim);
                        }
                    }
                    if let Some(what) = identity_after(&clause, i) {
                        g.identities.insert(what.to_owned());
                    }
                }
            }
        }
        let fact_claim = |fact: &str| -> HashSet<String> {
            words(fact)
                .into_iter()
                .filter(|w| is_claim_word(w) && !matches!(w.as_str(), "user" | "users"))
                .collect()
        };
        for fact in input.memories {
            let claim = fact_claim(fact);
            if claim.len() >= 2 {
                g.memory_claims.push(claim);
            }
        }

        for name in input.known_names {
            for w in words(name) {
                if w.chars().count() >= 2 && !is_stop_word(&w) {
                    g.names.insert(w);
                }
            }
        }
        for text in input.hidden {
            let w = words(text);
            for n in 1..=ECHO_WORDS.min(w.len()) {
                for gram in w.windows(n) {
                    if n == ECHO_WORDS {
                        g.hidden_grams.insert(gram.to_vec());
                    } else {
                        g.partial_grams.insert(gram.to_vec());
                    }
                }
            }
        }
        g.earlier = input
            .earlier_replies
            .iter()
            .filter(|_| !input.small_talk)
            .map(|r| triples(&words(r)))
            .filter(|t| !t.is_empty())
            .collect();
        g
    }

    /// The first flaw of a whole reply, if any.
    pub fn check(&self, reply: &str) -> Option<Flaw> {
        self.flaw_in(reply, &words(reply))
    }

    /// How many bytes of a reply still streaming may be shown now, or the flaw that rules the
    /// reply out. `finished` replies are shown whole unless flawed.
    pub fn visible_len(&self, partial: &str, finished: bool) -> Result<usize, Flaw> {
        let spans = word_spans(partial);
        let w: Vec<String> = spans.iter().map(|(_, s)| s.clone()).collect();
        if let Some(flaw) = self.flaw_in(partial, &w) {
            return Err(flaw);
        }
        if finished {
            return Ok(partial.len());
        }
        // A reply that so far reads like an earlier one is held until it is long enough to
        // tell (then it is a repetition) or it goes its own way.
        if !self.earlier.is_empty()
            && w.len() < REPEAT_MIN_WORDS
            && w.len() >= 3
            && self.repeat_share(&w) >= REPEAT_SHARE
        {
            return Ok(0);
        }
        // The last word may still be growing ("Lind" → "Lindqvist"): hold it, and judge the
        // tail before it.
        let growing = usize::from(!partial.ends_with(|c: char| !c.is_alphanumeric()));
        let held = self.held_words(&w[..w.len() - growing.min(w.len())]) + growing;
        // A clause in the first person may still turn into the user's own statement: held
        // until it ends.
        let held = held.max(open_first_person_clause(partial));
        let keep = w.len().saturating_sub(held);
        Ok(if keep == 0 {
            0
        } else if keep == w.len() {
            partial.len()
        } else {
            // Up to the start of the first held word.
            spans[keep].0
        })
    }

    fn flaw_in(&self, text: &str, w: &[String]) -> Option<Flaw> {
        if let Some(words) = longest_copy(w, &self.echo_grams) {
            return Some(Flaw::Echo { words });
        }
        if let Some(words) = longest_copy(w, &self.hidden_grams) {
            return Some(Flaw::Leak { words });
        }
        if let Some(words) = marker(w) {
            return Some(Flaw::Leak { words });
        }
        if let Some(phrase) = self.impersonation(w).or_else(|| self.claims_as_own(text)) {
            return Some(Flaw::Impersonation { phrase });
        }
        if w.len() >= REPEAT_MIN_WORDS {
            let share = self.repeat_share(w);
            if share >= REPEAT_SHARE {
                return Some(Flaw::Repetition { share });
            }
        }
        None
    }

    fn impersonation(&self, w: &[String]) -> Option<String> {
        for gram in w.windows(FIRST_PERSON_WORDS) {
            if self.first_person.contains(gram) {
                return Some(gram.join(" "));
            }
        }
        for i in 0..w.len() {
            if let Some(what) = identity_after(w, i)
                && self.identities.iter().any(|x| close(x, what))
            {
                return Some(format!("{} {what}", w[i]));
            }
        }
        for (i, word) in w.iter().enumerate() {
            if !self.names.contains(word) {
                continue;
            }
            // "i am mara", "im mara", "my name is mara", "call me mara", "this is mara"
            let before = &w[..i];
            let intro = match before {
                [.., a, b, c] if (a == "my" && b == "name" && c == "is") => Some(3),
                [.., a, b] if (a == "i" && b == "am") || (a == "call" && b == "me") => Some(2),
                [.., a] if a == "im" || a == "heiße" || a == "heisse" => Some(1),
                _ => None,
            };
            if let Some(n) = intro {
                return Some(w[i - n..=i].join(" "));
            }
            // "mara here" as the reply's opening words
            if i == 0 && w.get(1).is_some_and(|n| n == "here") {
                return Some(format!("{word} here"));
            }
        }
        None
    }

    /// A clause of the reply that claims, in the first person and without addressing the user,
    /// two or more of the things the user said about themselves ("I'm a marine biologist").
    fn claims_as_own(&self, text: &str) -> Option<String> {
        for clause in clauses(text) {
            if clause.iter().any(|w| is_second_person(w)) {
                continue;
            }
            for (i, w) in clause.iter().enumerate() {
                if !is_first_person(w) {
                    continue;
                }
                let mine = after_first_person(&clause, i);
                let shared = |c: &HashSet<String>| {
                    c.iter()
                        .filter(|x| mine.iter().any(|m| close(x, m)))
                        .count()
                };
                if self.claims.iter().any(|c| shared(c) >= 2) {
                    let end = (i + 1 + CLAIM_WINDOW).min(clause.len());
                    return Some(clause[i..end].join(" "));
                }
                // A memory is matched against the whole rest of the clause: "I am currently
                // working as a backend developer at Google" puts its content far from the "I".
                let rest: Vec<&String> = clause[i + 1..]
                    .iter()
                    .filter(|w| is_claim_word(w))
                    .collect();
                let from_memory = |c: &HashSet<String>| {
                    c.iter()
                        .filter(|x| rest.iter().any(|m| close(x, m)))
                        .count()
                };
                if self.memory_claims.iter().any(|c| from_memory(c) >= 2) {
                    let end = (i + 1 + CLAIM_WINDOW).min(clause.len());
                    return Some(clause[i..end].join(" "));
                }
            }
        }
        None
    }

    /// The largest share of the reply's word triples found in one earlier reply.
    fn repeat_share(&self, w: &[String]) -> f64 {
        let mine = triples(w);
        if mine.is_empty() {
            return 0.0;
        }
        self.earlier
            .iter()
            .map(|e| mine.iter().filter(|t| e.contains(*t)).count() as f64 / mine.len() as f64)
            .fold(0.0, f64::max)
    }

    /// How many trailing words to hold back: the longest tail that the user wrote word for
    /// word (it may grow into an echo), or an introduction waiting for its name.
    fn held_words(&self, w: &[String]) -> usize {
        let mut held = 0;
        for n in (1..ECHO_WORDS.min(w.len() + 1)).rev() {
            if self.partial_grams.contains(&w[w.len() - n..]) {
                held = n;
                break;
            }
        }
        let intro_tail = match w {
            [.., a, b, c] if a == "my" && b == "name" && c == "is" => 3,
            [.., a, b] if a == "my" && b == "name" => 2,
            [.., a, b] if (a == "i" && b == "am") || (a == "call" && b == "me") => 2,
            [.., a] if matches!(a.as_str(), "i" | "im" | "my" | "call" | "heiße" | "heisse") => 1,
            _ => 0,
        };
        held.max(intro_tail)
    }
}

/// The user's name in a remembered fact ("The user's name is Mara Lindqvist." → mara,
/// lindqvist; "The user is called Teo."), lower case; nothing for other facts.
pub fn name_in_fact(fact: &str) -> Vec<String> {
    let w = words(fact);
    let rest: &[String] = match w.as_slice() {
        [t, u, n, i, rest @ ..] if t == "the" && u == "users" && n == "name" && i == "is" => rest,
        [t, u, i, c, rest @ ..]
            if t == "the"
                && u == "user"
                && i == "is"
                && matches!(c.as_str(), "called" | "named") =>
        {
            rest
        }
        _ => &[],
    };
    rest.iter()
        .take(3)
        .filter(|n| !is_stop_word(n) && n.chars().count() >= 2)
        .cloned()
        .collect()
}

/// Whether the message asks for work on its own text (so copying it is the answer): it holds
/// fenced or quoted text, or asks to translate, correct, rewrite, quote or repeat.
pub fn asks_for_its_own_text(message: &str) -> bool {
    if message.contains("```") || message.lines().any(|l| l.trim_start().starts_with('>')) {
        return true;
    }
    let quoted = ['"', '“', '”', '«', '»', '„']
        .iter()
        .map(|q| message.matches(*q).count())
        .sum::<usize>()
        >= 2;
    if quoted {
        return true;
    }
    const ASKS: &[&str] = &[
        "translat",
        "übersetz",
        "correct",
        "korrigier",
        "proofread",
        "rewrite",
        "rephrase",
        "paraphrase",
        "fix the",
        "fix my",
        "spell",
        "grammar",
        "repeat",
        "quote",
        "say back",
        "echo",
        "summar",
        "tl;dr",
    ];
    let lower = message.to_lowercase();
    ASKS.iter().any(|a| lower.contains(a))
}

/// Length of the longest run of words of `w` copied from the texts whose
/// [`ECHO_WORDS`]-grams are `grams`, if there is one. Overlapping copied windows count as one
/// run.
fn longest_copy(w: &[String], grams: &HashSet<Vec<String>>) -> Option<usize> {
    let mut longest = 0;
    let mut run = 0;
    for gram in w.windows(ECHO_WORDS) {
        if grams.contains(gram) {
            run += 1;
            longest = longest.max(run + ECHO_WORDS - 1);
        } else {
            run = 0;
        }
    }
    (longest >= ECHO_WORDS).then_some(longest)
}

/// Headings of 3AM's own prompt that no reply has a reason to say, in a small model's
/// paraphrases: a reply that starts listing "What you remember about your user:" is reading
/// its notes out.
const MARKERS: &[&[&str]] = &[
    &["what", "you", "remember", "about"],
    &["notes", "for", "your", "reply"],
    &["the", "user", "did", "not", "write"],
    &["what", "you", "know", "about", "the", "user"],
];

/// The length of a heading marker in `w`, if there is one.
fn marker(w: &[String]) -> Option<usize> {
    MARKERS
        .iter()
        .find(|m| {
            w.windows(m.len())
                .any(|x| x.iter().zip(m.iter()).all(|(a, b)| a == b))
        })
        .map(|m| m.len())
}

/// The clauses of a text (split at , . ; : ! ? and line breaks), as words.
fn clauses(text: &str) -> Vec<Vec<String>> {
    text.split([',', '.', ';', ':', '!', '?', '\n'])
        .map(words)
        .filter(|c| !c.is_empty())
        .collect()
}

/// The content words in the [`CLAIM_WINDOW`] words after the first-person word at `i`.
fn after_first_person(clause: &[String], i: usize) -> HashSet<String> {
    clause[i + 1..(i + 1 + CLAIM_WINDOW).min(clause.len())]
        .iter()
        .filter(|w| is_claim_word(w))
        .cloned()
        .collect()
}

/// The one word after "im" / "i am" at `i` ("im vegitarian" → vegitarian), when it is a
/// content word long enough to say who someone is.
fn identity_after(w: &[String], i: usize) -> Option<&str> {
    let what = match (w[i].as_str(), w.get(i + 1).map(String::as_str)) {
        ("im", Some(x)) => x,
        ("i", Some("am")) => w.get(i + 2)?.as_str(),
        _ => return None,
    };
    (is_claim_word(what) && what.chars().count() >= 5 && !is_second_person(what)).then_some(what)
}

/// A word that can carry a claim: not a function word, not "I"/"my", three letters or more.
fn is_claim_word(w: &str) -> bool {
    !is_stop_word(w) && !is_first_person(w) && w.chars().count() >= 3
}

/// Words at the end of `partial` to hold back because its last clause, still open, speaks in
/// the first person without addressing the user: counted from its first-person word.
fn open_first_person_clause(partial: &str) -> usize {
    let tail_start = partial
        .rfind([',', '.', ';', ':', '!', '?', '\n'])
        .map_or(0, |i| i + 1);
    let tail = words(&partial[tail_start..]);
    if tail.iter().any(|w| is_second_person(w)) {
        return 0;
    }
    match tail.iter().position(|w| is_first_person(w)) {
        Some(i) => tail.len() - i,
        None => 0,
    }
}

fn content_words(gram: &[String]) -> usize {
    gram.iter().filter(|w| !is_stop_word(w)).count()
}

fn triples(w: &[String]) -> HashSet<[String; 3]> {
    w.windows(3)
        .map(|t| [t[0].clone(), t[1].clone(), t[2].clone()])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn guard(earlier: &[&str], message: &str, replies: &[&str]) -> Guard {
        Guard::new(&GuardInput {
            earlier_messages: earlier,
            message,
            earlier_replies: replies,
            known_names: &[],
            hidden: &[
                "Your previous reply was not used because it repeated the user's words or spoke as the user.",
            ],
            memories: &[],
            small_talk: false,
        })
    }

    #[test]
    fn claiming_a_remembered_fact_as_its_own_is_caught() {
        let g = Guard::new(&GuardInput {
            message: "where do i work now",
            memories: &[
                "The user works as a backend developer at Google.",
                "The user lives in Pune, India.",
            ],
            ..Default::default()
        });
        // Both measured with the stack's model, answering "where do i work now" (2026-12-01).
        for reply in [
            "I am currently working as a Backend Developer at Google.",
            "I live in Pune, India.",
        ] {
            assert!(
                matches!(g.check(reply), Some(Flaw::Impersonation { .. })),
                "{reply}"
            );
        }
        let g = guard(&[], "im vegitarian, no meat or fish pls rember that", &[]);
        assert!(matches!(
            g.check("I'm vegetarian, but I don't eat meat or fish."),
            Some(Flaw::Impersonation { .. })
        ));
        assert_eq!(g.check("Noted: you're vegetarian. I'm glad to help."), None);
        let g = Guard::new(&GuardInput {
            message: "where do i work now",
            memories: &[
                "The user works as a backend developer at Google.",
                "The user lives in Pune, India.",
            ],
            ..Default::default()
        });
        for reply in [
            "You work as a backend developer at Google.",
            "At Google, as a backend developer.",
            "I remember that you live in Pune, India.",
            "I think Pune is lovely in winter.",
            "I'm not sure where you work now.",
        ] {
            assert_eq!(g.check(reply), None, "{reply}");
        }
    }

    #[test]
    fn the_reports_echo_is_caught() {
        let earlier = [
            "Hi! I'm Mara Lindqvist, I work as a marine biologist.",
            "I'm training for the Stockholm half marathon in May, and I'm allergic to peanuts.",
        ];
        let g = guard(&earlier, "What is my dog called?", &[]);
        let reply = "Hi Mara Lindqvist! I'm training for the Stockholm half marathon in May.";
        assert!(matches!(g.check(reply), Some(Flaw::Echo { words }) if words >= 8));
        assert_eq!(g.check("Your dog is called Biscuit."), None);
    }

    #[test]
    fn the_users_dog_is_not_the_assistants() {
        // Seen with a third-party client: "What is my dog called?" → "My dog's name is Biscuit."
        let g = guard(
            &["I live in Stockholm with my partner Jonas and our dog Biscuit."],
            "What is my dog called?",
            &[],
        );
        assert!(matches!(
            g.check("My dog's name is Biscuit."),
            Some(Flaw::Impersonation { .. })
        ));
        assert_eq!(g.check("Your dog's name is Biscuit."), None);
        assert_eq!(g.check("Biscuit! Is he a good walker?"), None);
    }

    #[test]
    fn speaking_as_the_user_is_caught() {
        let g = guard(
            &[],
            "Hi! I'm Mara Lindqvist, I work as a marine biologist.",
            &[],
        );
        assert!(matches!(
            g.check("Hi Mara Lindqvist! I'm Mara Lindqvist, a marine biologist."),
            Some(Flaw::Impersonation { .. })
        ));
        assert_eq!(
            g.check("Hi Mara! Nice to meet you. Marine biology sounds fascinating."),
            None
        );
        let g = guard(&["I'm allergic to peanuts."], "Suggest a snack", &[]);
        assert!(matches!(
            g.check("Sure! Since I'm allergic to peanuts, I'd pick a banana."),
            Some(Flaw::Impersonation { .. })
        ));
        assert_eq!(
            g.check("Since you're allergic to peanuts, try a banana with oat bars."),
            None
        );
        // The real model's "Hi Mara Lindqvist! I'm a marine biologist."
        let g = guard(
            &[],
            "Hi! I'm Mara Lindqvist, I work as a marine biologist.",
            &[],
        );
        assert!(matches!(
            g.check("Hi there! I'm a marine biologist. How can I assist you today?"),
            Some(Flaw::Impersonation { .. })
        ));
        assert_eq!(
            g.check("I'm happy to help with your marine biology questions."),
            None,
            "addressing the user is not speaking as them"
        );
        let g = guard(
            &[],
            "hey. teo here, im a nurse at the kantonsspital in basel",
            &[],
        );
        assert!(matches!(
            g.check("Teo here! Nice."),
            Some(Flaw::Impersonation { .. })
        ));
        assert!(matches!(
            g.check("Hello, I am Teo."),
            Some(Flaw::Impersonation { .. })
        ));
    }

    #[test]
    fn copying_its_own_instructions_is_caught() {
        let g = guard(&[], "Where do I live now?", &[]);
        assert!(matches!(
            g.check("You live in Gothenburg. Your previous reply was not used because it repeated the user's words."),
            Some(Flaw::Leak { .. })
        ));
        assert_eq!(g.check("You live in Gothenburg now."), None);
        assert!(matches!(
            g.check("Sure! What you remember about your user: - You live in Osaka."),
            Some(Flaw::Leak { .. })
        ));
    }

    #[test]
    fn names_in_remembered_facts() {
        assert_eq!(
            name_in_fact("The user's name is Mara Lindqvist."),
            vec!["mara", "lindqvist"]
        );
        assert_eq!(name_in_fact("The user is called Teo."), vec!["teo"]);
        assert!(name_in_fact("The user's dog is called Biscuit.").is_empty());
    }

    #[test]
    fn a_canned_reply_is_a_repetition_but_short_courtesies_are_not() {
        let canned = "Hello! I'm here to help you with your nurse appointment at the Kantonsspital in Basel. Let me know what you need.";
        let g = guard(
            &[],
            "got 2 kids, lina (7) and max (4)",
            &[canned, "You're welcome!"],
        );
        assert!(matches!(g.check(canned), Some(Flaw::Repetition { .. })));
        assert_eq!(g.check("You're welcome!"), None);
        let g = guard(
            &[],
            "I live in Stockholm",
            &["Hello Mara! How can I help you today?"],
        );
        assert!(
            matches!(
                g.check("Hello Mara! How can I help you today?"),
                Some(Flaw::Repetition { .. })
            ),
            "the same greeting again, whatever the user said"
        );
        let g = Guard::new(&GuardInput {
            message: "Good morning!",
            earlier_replies: &["Hello Mara! How can I help you today?"],
            small_talk: true,
            ..GuardInput::default()
        });
        assert_eq!(
            g.check("Hello Mara! How can I help you today?"),
            None,
            "a greeting may get the same greeting"
        );
        assert_eq!(
            g.check("Lina and Max sound lovely. Seven and four are fun ages; what are they into these days?"),
            None
        );
    }

    #[test]
    fn text_the_user_asks_about_may_be_echoed() {
        let msg = "Please correct my grammar: yesterday I have went to the store with my brother and his dog";
        let g = guard(&[], msg, &[]);
        assert_eq!(
            g.check("Yesterday I went to the store with my brother and his dog."),
            None
        );
        // …but an earlier message may not.
        let g = guard(&[msg], "thanks! what now?", &[]);
        assert!(
            g.check("Yesterday I have went to the store with my brother and his dog")
                .is_some()
        );
    }

    #[test]
    fn streaming_holds_back_what_might_become_an_echo() {
        let g = guard(
            &[],
            "Hi! I'm Mara Lindqvist, I work as a marine biologist.",
            &[],
        );
        // "I'm" waits for its next word, and "Mara" (which the user wrote) for what follows.
        let partial = "Hi Mara! I'm";
        let n = g.visible_len(partial, false).unwrap();
        assert_eq!(&partial[..n], "Hi ");
        let partial = "Hi Mara! I'm glad you";
        let n = g.visible_len(partial, false).unwrap();
        assert_eq!(&partial[..n], "Hi Mara! I'm glad ");
        // The name arrives: the reply is ruled out before the phrase is shown.
        assert!(g.visible_len("Hi Mara! I'm Mara", false).is_err());
        // An unfinished last word is held; a harmless reply is shown whole at the end.
        let partial = "Nice to meet you, Mara. Marine biol";
        let n = g.visible_len(partial, false).unwrap();
        assert!(partial[..n].ends_with("Mara. "), "{:?}", &partial[..n]);
        let whole = "Nice to meet you, Mara. Marine biology is fascinating.";
        assert_eq!(g.visible_len(whole, true).unwrap(), whole.len());
    }

    #[test]
    fn streaming_holds_a_reply_that_starts_like_an_earlier_one() {
        let canned = "Hello! I'm here to help you with your nurse appointment at the Kantonsspital in Basel.";
        let g = guard(&[], "got 2 kids", &[canned]);
        assert_eq!(g.visible_len("Hello! I'm here to", false).unwrap(), 0);
        assert!(g.visible_len("Hello! I'm here to help you", false).is_err());
        let other = "Two kids! What are their names and ages? I'd love";
        assert!(g.visible_len(other, false).unwrap() > 0);
    }

    proptest! {
        #[test]
        fn shown_text_is_a_prefix_on_char_boundaries_and_never_flawed(
            reply in "[a-zA-Z' .!,äö]{0,120}",
            msg in "[a-zA-Z' .!,]{0,80}",
        ) {
            let g = guard(&["I'm Mara and I love the sea very much indeed"], &msg, &["the same old reply about the sea and the boats again"]);
            if let Ok(n) = g.visible_len(&reply, false) {
                prop_assert!(reply.is_char_boundary(n));
                let shown = &reply[..n];
                // A repetition is judged on the whole reply; echoes and impersonations
                // must never be on screen, even in part.
                prop_assert!(
                    !matches!(g.check(shown), Some(Flaw::Echo { .. } | Flaw::Impersonation { .. })),
                    "shown {:?}", shown
                );
            }
        }

        #[test]
        fn a_copy_of_eight_words_is_always_an_echo(start in 0usize..6) {
            let msg = "one two three four five six seven eight nine ten eleven twelve thirteen";
            let g = guard(&[msg], "next", &[]);
            let copy: Vec<&str> = msg.split(' ').skip(start).take(8).collect();
            let reply = format!("Well, {} indeed.", copy.join(" "));
            prop_assert!(
                matches!(g.check(&reply), Some(Flaw::Echo { .. })),
                "expected an echo in {:?}", reply
            );
        }
    }
}
