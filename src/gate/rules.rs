//! The gate's cheap rules: what the words of a message alone say (English). Pure.
//!
//! Each rule errs on the side of *not* firing: a rule that misses only costs a draft (the
//! draft-based decision still runs), while a rule that fires wrongly sends a question to the
//! web, or answers a clarifying question to "thanks". So the search rule wants an imperative
//! ("look up…") or a question about something that changes ("what's the latest…?"), and
//! stands down when the words are about the user's own things or memory.

/// A cheap rule's verdict on the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextRule {
    /// "don't search", "without looking it up": answer from what you know.
    NoSearchRequested,
    /// Greetings, thanks, acknowledgements, farewells.
    SmallTalk,
    /// "search for…", "look up…", "google…", or a question about news, prices, weather…
    ExplicitSearch,
    /// Only pointers and function words ("what about it?", "do that", "and then?").
    Vague,
    /// The user tells something about themselves ("I moved to Gothenburg last weekend!"): a
    /// first-person statement with no question or request in it. There is nothing to look
    /// up or be unsure of; the answer acknowledges it.
    Telling,
}

impl TextRule {
    /// The rule's name in [`super::GateDecision::rule`].
    pub fn name(self) -> &'static str {
        match self {
            TextRule::NoSearchRequested => "no_search_requested",
            TextRule::SmallTalk => "small_talk",
            TextRule::ExplicitSearch => "explicit_search",
            TextRule::Vague => "vague",
            TextRule::Telling => "telling",
        }
    }
}

/// The first rule the text matches, in the order: no search requested, small talk, explicit
/// search, vague, telling. Whether a vague message is asked about also depends on memory and the
/// conversation; that is [`super::precheck`]'s business.
pub fn classify(text: &str) -> Option<TextRule> {
    let words = words(text);
    if words.is_empty() {
        // Only emoji ("👋", "🙏") is a pleasantry; only punctuation is nothing to go on.
        let emoji = text
            .chars()
            .any(|c| !c.is_ascii() && !c.is_whitespace() && !c.is_alphanumeric());
        return emoji.then_some(TextRule::SmallTalk);
    }
    if no_search_requested(&words) {
        Some(TextRule::NoSearchRequested)
    } else if is_small_talk(&words) {
        Some(TextRule::SmallTalk)
    } else if wants_web(&words, text) {
        Some(TextRule::ExplicitSearch)
    } else if is_vague(&words) {
        Some(TextRule::Vague)
    } else if is_telling(&words, text) {
        Some(TextRule::Telling)
    } else {
        None
    }
}

/// Words that make a first-person sentence a question or a request after all ("I wonder
/// who…", "I need a recipe", "I'd like to know…").
const ASKING: &[&str] = &[
    "wonder",
    "know",
    "need",
    "want",
    "wants",
    "looking",
    "question",
    "help",
    "please",
    "pls",
    "can",
    "could",
    "would",
    "should",
    "recommend",
    "suggest",
    "tell",
    "explain",
    "show",
    "give",
    "find",
    "search",
    "remind",
    "remember",
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "where",
    "when",
    "why",
    "how",
    "whether",
    "if",
    "idea",
    "ideas",
    "advice",
    "tips",
];

/// A statement about the speaker: no question mark, a first-person word, and nothing that
/// asks or requests (see [`ASKING`]).
fn is_telling(words: &[String], text: &str) -> bool {
    if text.contains('?') {
        return false;
    }
    let first_person = words.iter().any(|w| {
        matches!(
            w.as_str(),
            "i" | "i'm"
                | "im"
                | "i've"
                | "ive"
                | "i'd"
                | "my"
                | "me"
                | "we"
                | "we're"
                | "our"
                | "ich"
                | "mein"
                | "meine"
                | "wir"
        )
    });
    first_person && !words.iter().any(|w| ASKING.contains(&w.as_str()))
}

/// Lowercased words; apostrophes are kept inside words ("what's"), typographic ones unified.
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace(['\u{2019}', '\u{2018}', '`'], "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Does `words` contain `phrase` (space-separated words) starting at any position?
fn contains_phrase(words: &[String], phrase: &str) -> bool {
    find_phrase(words, phrase).is_some()
}

/// Position of the first occurrence of `phrase` in `words`.
fn find_phrase(words: &[String], phrase: &str) -> Option<usize> {
    let p: Vec<&str> = phrase.split(' ').collect();
    if p.len() > words.len() {
        return None;
    }
    (0..=words.len() - p.len()).find(|&i| p.iter().enumerate().all(|(j, w)| words[i + j] == *w))
}

/// Does `words` start with `phrase` at position `at`? Returns the position after it.
fn phrase_at(words: &[String], at: usize, phrase: &str) -> Option<usize> {
    let p: Vec<&str> = phrase.split(' ').collect();
    if at + p.len() > words.len() {
        return None;
    }
    p.iter()
        .enumerate()
        .all(|(j, w)| words[at + j] == *w)
        .then_some(at + p.len())
}

const NO_SEARCH: &[&str] = &[
    "don't search",
    "dont search",
    "do not search",
    "no need to search",
    "without searching",
    "don't look it up",
    "dont look it up",
    "do not look it up",
    "don't look that up",
    "without looking it up",
    "don't google",
    "dont google",
    "do not google",
    "no web search",
    "without the web",
    "without the internet",
];

fn no_search_requested(words: &[String]) -> bool {
    NO_SEARCH.iter().any(|p| contains_phrase(words, p))
}

/// Phrases that make up small talk on their own. Longest first, so "thank you" is consumed
/// whole before "thank" could be tried.
const SMALL_TALK: &[&str] = &[
    "thank you very much",
    "thank you so much",
    "thanks so much",
    "thanks a lot",
    "much appreciated",
    "how are you doing",
    "how's it going",
    "how is it going",
    "how are you",
    "how r u",
    "what's up",
    "whats up",
    "good morning",
    "good afternoon",
    "good evening",
    "good night",
    "sounds good",
    "see you later",
    "see you",
    "see ya",
    "talk later",
    "got it",
    "thank you",
    "hey there",
    "hi there",
    "hello there",
    "nice one",
    "well done",
    "good job",
    "no worries",
    "all good",
    "hi",
    "hello",
    "hey",
    "hiya",
    "howdy",
    "yo",
    "morning",
    "evening",
    "gm",
    "gn",
    "thanks",
    "thx",
    "ty",
    "cheers",
    "ok",
    "okay",
    "k",
    "cool",
    "nice",
    "great",
    "awesome",
    "perfect",
    "lovely",
    "excellent",
    "brilliant",
    "lol",
    "haha",
    "hahaha",
    "bye",
    "goodbye",
    "later",
    "night",
    "sup",
];

/// Words that may accompany small talk without making it a request ("thanks, that helped!").
const SMALL_TALK_FILLER: &[&str] = &[
    "3am", "bot", "again", "so", "much", "very", "really", "a", "lot", "friend", "buddy", "mate",
    "and", "oh", "well", "that", "it", "helped", "helps", "works", "worked", "man", "dude",
    "today", "all", "you", "too", "for", "the", "help", "info", "answer", "yes", "yeah", "yep",
    "sure", "indeed", "then", "now",
];

/// Every word is consumed by small-talk phrases or filler, and at least one phrase matched.
fn is_small_talk(words: &[String]) -> bool {
    // A whole paragraph of pleasantries is rare; a long message is a request.
    if words.len() > 8 {
        return false;
    }
    let mut at = 0;
    let mut phrases = 0;
    'outer: while at < words.len() {
        for p in SMALL_TALK {
            if let Some(next) = phrase_at(words, at, p) {
                at = next;
                phrases += 1;
                continue 'outer;
            }
        }
        if SMALL_TALK_FILLER.contains(&words[at].as_str()) {
            at += 1;
            continue;
        }
        return false;
    }
    phrases > 0
}

/// Politeness and addressing before an imperative ("please", "can you", "3am,").
const LEAD_IN: &[&str] = &[
    "please", "pls", "plz", "can", "could", "would", "will", "you", "u", "3am", "hey", "ok",
    "okay", "so", "now", "quickly", "quick", "just", "go", "and",
];

/// Imperatives asking for the web; they count at the start of the message (after lead-in).
const SEARCH_VERBS: &[&str] = &[
    "search",
    "google",
    "lookup",
    "look up",
    "bing",
    "browse",
    "websearch",
    "web search",
];

/// Words after a search verb that make it a noun ("search is broken", "google's results").
const NOT_AN_IMPERATIVE: &[&str] = &[
    "is", "was", "are", "were", "isn't", "doesn't", "engine", "engines", "results", "result",
    "bar", "box", "history", "term", "terms", "console", "maps", "docs", "drive", "table",
];

/// Phrases asking for the web anywhere in the message.
const WEB_PHRASES: &[&str] = &[
    "search the web",
    "search online",
    "search the internet",
    "search the net",
    "look it up",
    "look that up",
    "look this up",
    "look them up",
    "look up online",
    "look online",
    "google it",
    "google that",
    "check online",
    "check the web",
    "check the internet",
    "find online",
    "find out online",
    "on the internet",
    "on the web",
    "web search",
    "search for",
];

/// Objects that make a search about memory, not the web ("search your memory").
const MEMORY_OBJECTS: &[&str] = &[
    "my",
    "your",
    "our",
    "memory",
    "memories",
    "notes",
    "conversation",
    "chat",
    "history",
    "messages",
];

/// Phrases that make a question about the conversation or memory, not the world.
const CONVERSATION_REFERENCES: &[&str] = &[
    "did we",
    "we talked",
    "we discussed",
    "you said",
    "you told",
    "i told you",
    "i mentioned",
    "remember",
    "do you recall",
];

/// Words asking about something that changes over time.
const FRESH_WORDS: &[&str] = &[
    "latest",
    "news",
    "headlines",
    "price",
    "prices",
    "weather",
    "forecast",
    "today's",
    "tonight's",
    "current",
    "currently",
    "recent",
    "newest",
    "breaking",
    "stock",
    "score",
    "scores",
    "exchange rate",
    "right now",
    "this week",
    "at the moment",
];

/// Words that mark a question or a request for information.
const QUESTION_OPENERS: &[&str] = &[
    "what", "what's", "whats", "who", "who's", "when", "where", "which", "how", "how's", "is",
    "are", "was", "will", "does", "do", "did", "can", "could", "any", "tell", "give", "show",
    "find", "check", "get", "fetch", "list",
];

/// Owners that make a fresh word personal ("my current job", "your latest reply").
const OWNERS: &[&str] = &["my", "our", "your", "i", "me", "we", "his", "her", "their"];

fn wants_web(words: &[String], text: &str) -> bool {
    // Imperative at the start: "please look up…", "can you google…".
    let mut at = 0;
    while at < words.len() && LEAD_IN.contains(&words[at].as_str()) {
        at += 1;
    }
    for verb in SEARCH_VERBS {
        if let Some(next) = phrase_at(words, at, verb) {
            let noun = words
                .get(next)
                .is_some_and(|w| NOT_AN_IMPERATIVE.contains(&w.as_str()));
            if !noun {
                return !about_memory(&words[next..]);
            }
        }
    }
    // A web phrase anywhere: "…, look it up", "what does the web say, search online".
    for p in WEB_PHRASES {
        if let Some(i) = find_phrase(words, p) {
            let after = i + p.split(' ').count();
            if *p == "search for" && !is_question_or_request(words, text) {
                continue;
            }
            if !about_memory(&words[after..]) {
                return true;
            }
        }
    }
    // Something that changes, asked about: "what's the latest on…", "bitcoin price?". Not
    // when the user's own things are involved ("the latest on my visa application").
    is_question_or_request(words, text)
        && !words.iter().any(|w| matches!(w.as_str(), "my" | "our"))
        && !CONVERSATION_REFERENCES
            .iter()
            .any(|p| contains_phrase(words, p))
        && FRESH_WORDS.iter().any(|f| {
            find_all(words, f).into_iter().any(|i| {
                let end = i + f.split(' ').count();
                !owned(words, i) && !refers_back(words, end) && !date_or_time(words, end)
            })
        })
}

/// All positions of `phrase` in `words`.
fn find_all(words: &[String], phrase: &str) -> Vec<usize> {
    let n = phrase.split(' ').count();
    (0..words.len().saturating_sub(n - 1))
        .filter(|&i| phrase_at(words, i, phrase).is_some())
        .collect()
}

/// The search's object is the user's memory or the conversation ("search my notes for…",
/// "look up what I said about…").
fn about_memory(rest: &[String]) -> bool {
    let object: Vec<&str> = rest
        .iter()
        .map(String::as_str)
        .skip_while(|w| matches!(*w, "in" | "through" | "the" | "for"))
        .take(2)
        .collect();
    match object.as_slice() {
        [first, ..] if MEMORY_OBJECTS.contains(first) => true,
        ["what", "i" | "we" | "you" | "i've" | "we've"] => true,
        _ => rest
            .iter()
            .take(4)
            .any(|w| matches!(w.as_str(), "memory" | "memories" | "notes")),
    }
}

/// The fresh word at `i` has an owner within two words before it ("my current job").
fn owned(words: &[String], i: usize) -> bool {
    words[i.saturating_sub(2)..i]
        .iter()
        .any(|w| OWNERS.contains(&w.as_str()))
}

/// The fresh word ending before `end` opens a relative clause about someone's own doings
/// ("the news I told you about", "the price we paid").
fn refers_back(words: &[String], end: usize) -> bool {
    words.get(end).is_some_and(|w| {
        matches!(
            w.as_str(),
            "i" | "we" | "you" | "i've" | "we've" | "you've" | "i'd" | "you'd"
        )
    })
}

/// "today's date", "current time": the system prompt already has the user's date and time;
/// "today's plan", "current task": memory has the user's plans, the web does not.
fn date_or_time(words: &[String], end: usize) -> bool {
    words.get(end).is_some_and(|w| {
        matches!(
            w.as_str(),
            "date"
                | "time"
                | "day"
                | "year"
                | "month"
                | "week"
                | "plan"
                | "plans"
                | "agenda"
                | "schedule"
                | "task"
                | "tasks"
                | "todo"
                | "goal"
                | "goals"
                | "focus"
                | "mood"
        )
    })
}

/// A question mark, or a question/request word first (after lead-in).
fn is_question_or_request(words: &[String], text: &str) -> bool {
    if text.contains('?') {
        return true;
    }
    let first = words.iter().find(|w| {
        !matches!(
            w.as_str(),
            "please" | "pls" | "hey" | "3am" | "so" | "ok" | "and"
        )
    });
    first.is_some_and(|w| QUESTION_OPENERS.contains(&w.as_str()))
}

/// Words that point at something without naming it, and the glue around them.
const POINTER_WORDS: &[&str] = &[
    "what", "what's", "whats", "about", "it", "it's", "that", "that's", "this", "those", "these",
    "them", "they", "he", "she", "him", "her", "there", "then", "and", "so", "do", "does", "did",
    "how", "why", "when", "where", "who", "which", "more", "again", "same", "one", "ok", "okay",
    "please", "pls", "also", "too", "the", "a", "an", "is", "was", "are", "thing", "things",
    "stuff", "mean", "you", "me", "with", "for", "to", "of", "on", "in", "else", "now", "next",
    "other", "another", "tell", "explain", "continue", "go", "keep", "going", "really", "yes",
    "no", "not", "can", "could", "would", "should", "will", "why's", "how's", "like", "meaning",
    "huh", "hm", "hmm", "eh", "well", "but", "or", "if", "just", "try",
];

/// At most four words, none of which names anything.
fn is_vague(words: &[String]) -> bool {
    words.len() <= 4 && words.iter().all(|w| POINTER_WORDS.contains(&w.as_str()))
}

/// Can the message be understood on its own? Long enough, or it names something: a
/// capitalised word after the first, a number, a quotation, a URL. Used by the draft
/// decision: asking back about a clear question would not help.
pub fn is_specific(text: &str) -> bool {
    let ws = words(text);
    if ws.len() >= 7 {
        return true;
    }
    if text.contains("://") || text.chars().filter(|c| *c == '"').count() >= 2 {
        return true;
    }
    if ws.iter().any(|w| w.chars().any(|c| c.is_ascii_digit())) {
        return true;
    }
    // A capitalised word that is not the first word nor "I" is probably a name.
    text.split_whitespace()
        .skip(1)
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .any(|w| {
            w.len() > 1 && w.chars().next().is_some_and(char::is_uppercase) && !w.starts_with("I'")
        })
}

/// Is the message a question about a fact of the user's own life ("when is my sister's
/// birthday?", "where did I park?")? The web cannot answer that; memory or the user can.
/// How-to questions ("how do I reset my router?") are not: the web helps with those.
pub fn is_personal(text: &str) -> bool {
    let ws = words(text);
    let fact_question = ws.first().is_some_and(|w| {
        matches!(
            w.as_str(),
            "what"
                | "what's"
                | "whats"
                | "when"
                | "when's"
                | "where"
                | "where's"
                | "who"
                | "who's"
                | "which"
                | "whose"
        )
    });
    let first_person = ws
        .iter()
        .any(|w| matches!(w.as_str(), "my" | "mine" | "myself" | "our"))
        || ws.windows(2).any(|p| {
            matches!(
                (p[0].as_str(), p[1].as_str()),
                ("did" | "am" | "was" | "have", "i") | ("i", "told" | "mentioned" | "said")
            )
        });
    let recalls = ws.windows(3).any(|p| {
        matches!(
            (p[0].as_str(), p[1].as_str(), p[2].as_str()),
            ("did", "i", "tell") | ("do", "you", "remember") | ("have", "i", "told")
        )
    });
    (fact_question && first_person) || recalls
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> Option<TextRule> {
        classify(text)
    }

    #[test]
    fn telling_about_oneself_is_recognised() {
        for t in [
            "I also started sea kayaking on Sundays.",
            "Big news: Jonas and I moved to Gothenburg last weekend!",
            "I'm allergic to peanuts, so I always have to check labels.",
            "im vegitarian, no meat or fish",
            "Ich vertrage keine Laktose.",
        ] {
            assert_eq!(classify(t), Some(TextRule::Telling), "{t}");
        }
        for t in [
            "I wonder who won the 1998 World Cup",
            "I need a recipe for dinner",
            "Which city do I live in?",
            "Suggest a snack for my long run on Saturday.",
            "I'd like to know how tides work",
            "The Baltic Sea is less salty than the ocean",
        ] {
            assert_ne!(classify(t), Some(TextRule::Telling), "{t}");
        }
    }

    #[test]
    fn small_talk_is_recognised() {
        for t in [
            "hi",
            "Hello!",
            "hey there 👋",
            "Good morning",
            "thanks",
            "Thank you so much!",
            "thanks, that helped",
            "ok cool",
            "bye",
            "how are you?",
            "hi 3am, how's it going?",
            "Thanks a lot, really",
        ] {
            assert_eq!(rule(t), Some(TextRule::SmallTalk), "{t}");
        }
    }

    #[test]
    fn requests_with_a_greeting_are_not_small_talk() {
        for t in [
            "hi, what's the capital of France?",
            "thanks! can you also summarise my week",
            "ok so what should I cook tonight",
        ] {
            assert_ne!(rule(t), Some(TextRule::SmallTalk), "{t}");
        }
    }

    #[test]
    fn explicit_web_requests_search() {
        for t in [
            "search for rust async traits",
            "Please look up the opening hours of the Louvre",
            "can you google the release date of Debian 13",
            "What's the weather in Paris?",
            "latest news about the Mars mission?",
            "bitcoin price?",
            "what's the current exchange rate for EUR to USD",
            "who won the match today? look it up",
            "find online reviews of the Framework laptop",
            "today's top headlines?",
            "can you search what time the Louvre opens",
        ] {
            assert_eq!(rule(t), Some(TextRule::ExplicitSearch), "{t}");
        }
    }

    #[test]
    fn search_words_that_are_not_web_requests() {
        for t in [
            "I searched my memory but can't recall it",
            "I googled it yesterday and found nothing",
            "what's my current job?",
            "search your memory for my sister's name",
            "look up my notes about the trip",
            "I have news: I got the job!",
            "remember the news I told you about?",
            "the latest version of my essay is attached",
            "what did we say about the price I paid?",
            "search is broken on my site, any idea why?",
            "what's today's date?",
            "look up what I said about the trip",
            "did we talk about the latest episode?",
            "what's today's plan?",
            "any news on my visa application?",
            "what's the current state of our project?",
        ] {
            assert_ne!(rule(t), Some(TextRule::ExplicitSearch), "{t}");
        }
    }

    #[test]
    fn asking_not_to_search_wins() {
        assert_eq!(
            rule("what's the latest rust version? don't look it up"),
            Some(TextRule::NoSearchRequested)
        );
        assert_eq!(
            rule("without searching, who wrote Dune?"),
            Some(TextRule::NoSearchRequested)
        );
    }

    #[test]
    fn vague_requests() {
        for t in [
            "what about it?",
            "do that",
            "and then?",
            "why?",
            "tell me more",
            "that one",
        ] {
            assert_eq!(rule(t), Some(TextRule::Vague), "{t}");
        }
        for t in [
            "why is the sky blue?",
            "do the dishes list",
            "Paris?",
            "and Berlin?",
        ] {
            assert_ne!(rule(t), Some(TextRule::Vague), "{t}");
        }
    }

    #[test]
    fn specific_and_personal_messages() {
        assert!(is_specific(
            "what is the boiling point of ethanol at sea level"
        ));
        assert!(is_specific("who is Ada Lovelace"));
        assert!(is_specific("explain RFC 9110"));
        assert!(!is_specific("what about it?"));
        assert!(!is_specific("why?"));
        assert!(is_personal("when is my sister's birthday?"));
        assert!(is_personal("did I tell you about the trip?"));
        assert!(is_personal("where did I park the car?"));
        assert!(!is_personal("how tall is the Eiffel tower?"));
        assert!(!is_personal("how do I reset my router?"));
    }

    #[test]
    fn empty_and_odd_input() {
        assert_eq!(rule(""), None);
        assert_eq!(rule("   ?!  "), None);
        assert_eq!(rule("'''"), None);
        assert_eq!(rule("👋"), Some(TextRule::SmallTalk));
        assert_eq!(rule("🙏 🙏"), Some(TextRule::SmallTalk));
    }
}
