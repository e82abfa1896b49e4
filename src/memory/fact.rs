//! What a fact is: one short, self-contained statement about the user or their world
//! ("The user lives in Lyon"), with a category, a priority, a kind, the Matrix events it
//! came from and its lifecycle timestamps. Pure: types, parsing and validation only.
//!
//! A fact is *live* while `valid_to` and `superseded_by` are unset and it is not archived.
//! The system never deletes a fact: a newer contradicting fact supersedes it (`superseded_by`
//! plus a `valid_to`), decay archives it (`archived_at`). Only the user erases facts, and that
//! erasure is a real `DELETE` (see [`super::control`]).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest fact text the store accepts, in characters. Extraction keeps facts much shorter
/// ([`super::extract::MAX_EXTRACTED_CHARS`]); this bound is for `!remember` and replays.
pub const MAX_FACT_CHARS: usize = 600;
/// Shortest useful fact text, in characters.
pub const MIN_FACT_CHARS: usize = 3;

/// The fixed set of fact categories (also enforced by a CHECK constraint in the schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Identity,
    Preference,
    Relationship,
    Work,
    Health,
    Plan,
    Knowledge,
    Procedure,
    Other,
}

impl Category {
    pub const ALL: [Category; 9] = [
        Category::Identity,
        Category::Preference,
        Category::Relationship,
        Category::Work,
        Category::Health,
        Category::Plan,
        Category::Knowledge,
        Category::Procedure,
        Category::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Identity => "identity",
            Category::Preference => "preference",
            Category::Relationship => "relationship",
            Category::Work => "work",
            Category::Health => "health",
            Category::Plan => "plan",
            Category::Knowledge => "knowledge",
            Category::Procedure => "procedure",
            Category::Other => "other",
        }
    }

    /// Lenient parse for model output and stored rows: case and spacing are ignored, a few
    /// obvious synonyms are accepted, anything else is `Other` (never an error).
    pub fn parse_lenient(s: &str) -> Category {
        match s.trim().to_ascii_lowercase().as_str() {
            "identity" | "personal" | "bio" => Category::Identity,
            "preference" | "preferences" | "like" | "likes" | "hobby" => Category::Preference,
            "relationship" | "relationships" | "family" | "friend" => Category::Relationship,
            "work" | "job" | "career" | "education" => Category::Work,
            "health" | "medical" => Category::Health,
            "plan" | "plans" | "goal" | "event" => Category::Plan,
            "knowledge" | "fact" => Category::Knowledge,
            "procedure" | "howto" | "how-to" => Category::Procedure,
            _ => Category::Other,
        }
    }

    /// The kind a fact of this category has unless said otherwise.
    pub fn default_kind(self) -> Kind {
        match self {
            Category::Knowledge => Kind::Knowledge,
            Category::Procedure => Kind::Procedure,
            _ => Kind::Personal,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a fact is about: the user (personal), the world (knowledge), or how to do something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Personal,
    Knowledge,
    Procedure,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Personal => "personal",
            Kind::Knowledge => "knowledge",
            Kind::Procedure => "procedure",
        }
    }

    pub fn parse_lenient(s: &str) -> Kind {
        match s.trim().to_ascii_lowercase().as_str() {
            "knowledge" => Kind::Knowledge,
            "procedure" => Kind::Procedure,
            _ => Kind::Personal,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fact about to be stored (from extraction, `!remember`, or a replay).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewFact {
    pub text: String,
    pub category: Category,
    /// 1 (trivia) … 5 (identity: name, job, home, family).
    pub priority: u8,
    pub kind: Kind,
    /// Matrix event ids of the messages the fact came from. Storing is idempotent for them:
    /// facts whose source ids are already in memory are not stored again.
    pub source_event_ids: Vec<String>,
    /// When the fact was said; `None` means now. Replays set the original time.
    pub observed_at: Option<DateTime<Utc>>,
}

impl NewFact {
    /// A fact with the category's default kind, no sources, observed now.
    pub fn new(text: impl Into<String>, category: Category, priority: u8) -> Self {
        NewFact {
            text: text.into(),
            category,
            priority: priority.clamp(1, 5),
            kind: category.default_kind(),
            source_event_ids: Vec::new(),
            observed_at: None,
        }
    }

    pub fn with_sources<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.source_event_ids = ids.into_iter().map(Into::into).collect();
        self
    }

    pub fn observed_at(mut self, at: DateTime<Utc>) -> Self {
        self.observed_at = Some(at);
        self
    }

    /// The fact as it will be stored: whitespace collapsed, priority clamped to 1–5, source
    /// ids de-duplicated; or why it cannot be stored.
    pub fn normalized(&self) -> Result<NewFact, String> {
        let text = normalize_text(&self.text);
        let chars = text.chars().count();
        if chars < MIN_FACT_CHARS {
            return Err(format!(
                "the text is empty or too short ({chars} characters)"
            ));
        }
        if chars > MAX_FACT_CHARS {
            return Err(format!(
                "the text is too long ({chars} characters, at most {MAX_FACT_CHARS})"
            ));
        }
        Ok(NewFact {
            text,
            category: self.category,
            priority: self.priority.clamp(1, 5),
            kind: self.kind,
            source_event_ids: union_ids(&[], &self.source_event_ids),
            observed_at: self.observed_at,
        })
    }
}

/// A stored fact, as read back from the database (without its embedding).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact {
    pub id: i64,
    pub user_id: String,
    pub text: String,
    pub category: Category,
    pub priority: u8,
    pub kind: Kind,
    pub source_event_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
    pub superseded_by: Option<i64>,
    pub archived_at: Option<DateTime<Utc>>,
    pub access_count: i32,
    pub last_accessed_at: Option<DateTime<Utc>>,
    pub cluster_id: Option<i64>,
}

/// Where a fact is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Used in retrieval.
    Live,
    /// Faded by decay; kept, shown in `!memory`, not retrieved.
    Archived,
    /// Replaced by a newer fact (`superseded_by`) or no longer true (`valid_to`).
    Superseded,
}

impl Fact {
    pub fn status(&self) -> Status {
        if self.valid_to.is_some() || self.superseded_by.is_some() {
            Status::Superseded
        } else if self.archived_at.is_some() {
            Status::Archived
        } else {
            Status::Live
        }
    }

    pub fn is_live(&self) -> bool {
        self.status() == Status::Live
    }
}

/// Collapses runs of whitespace to one space and trims.
pub fn normalize_text(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lower-case alphanumeric words: the key for "same text" comparisons.
pub fn text_key(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `old` followed by the ids of `new` it lacks, in order, without duplicates or blanks.
pub fn union_ids(old: &[String], new: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(old.len() + new.len());
    for id in old.iter().chain(new) {
        let id = id.trim();
        if !id.is_empty() && !out.iter().any(|o| o == id) {
            out.push(id.to_owned());
        }
    }
    out
}

/// When two wordings of one fact meet, keep the newer one if it says more: more distinct
/// words, or as many and longer ("lives in Lyon" → "lives in Lyon, near the old town").
pub fn prefer_new_wording(old: &str, new: &str) -> bool {
    let words = |s: &str| {
        let mut w: Vec<String> = text_key(s).split(' ').map(str::to_owned).collect();
        w.sort();
        w.dedup();
        w.len()
    };
    let (wo, wn) = (words(old), words(new));
    wn > wo || (wn == wo && new.chars().count() > old.chars().count())
}

/// A cheap keyword guess of a category for `!remember` texts; `Other` when unsure.
pub fn guess_category(text: &str) -> Category {
    let key = format!(" {} ", text_key(text));
    let has = |words: &[&str]| words.iter().any(|w| key.contains(&format!(" {w} ")));
    if has(&[
        "wife",
        "husband",
        "partner",
        "son",
        "daughter",
        "mother",
        "father",
        "mom",
        "dad",
        "brother",
        "sister",
        "friend",
        "girlfriend",
        "boyfriend",
        "kids",
        "children",
        "family",
    ]) {
        Category::Relationship
    } else if has(&[
        "name",
        "named",
        "born",
        "live",
        "lives",
        "living",
        "age",
        "birthday",
        "nationality",
    ]) {
        Category::Identity
    } else if has(&[
        "work",
        "works",
        "job",
        "boss",
        "colleague",
        "office",
        "company",
        "employer",
        "engineer",
        "teacher",
        "career",
        "project",
    ]) {
        Category::Work
    } else if has(&[
        "allergic",
        "allergy",
        "diet",
        "doctor",
        "medication",
        "sick",
        "health",
        "vegetarian",
        "vegan",
        "asthma",
        "diabetes",
    ]) {
        Category::Health
    } else if has(&[
        "tomorrow",
        "next",
        "plan",
        "plans",
        "planning",
        "going",
        "will",
        "trip",
        "meeting",
        "appointment",
        "deadline",
    ]) {
        Category::Plan
    } else if has(&[
        "like",
        "likes",
        "love",
        "loves",
        "prefer",
        "prefers",
        "favourite",
        "favorite",
        "hate",
        "hates",
        "enjoy",
        "enjoys",
    ]) {
        Category::Preference
    } else if has(&[
        "how",
        "steps",
        "step",
        "recipe",
        "procedure",
        "first",
        "then",
    ]) {
        Category::Procedure
    } else {
        Category::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_round_trip_and_parse_leniently() {
        for c in Category::ALL {
            assert_eq!(Category::parse_lenient(c.as_str()), c);
            assert_eq!(Category::parse_lenient(&c.as_str().to_uppercase()), c);
        }
        assert_eq!(Category::parse_lenient(" Family "), Category::Relationship);
        assert_eq!(Category::parse_lenient("astrology"), Category::Other);
        assert_eq!(Category::Knowledge.default_kind(), Kind::Knowledge);
        assert_eq!(Category::Plan.default_kind(), Kind::Personal);
    }

    #[test]
    fn normalising_collapses_space_clamps_priority_and_rejects_bad_text() {
        let f = NewFact::new("  The user\n lives   in Lyon ", Category::Identity, 5)
            .with_sources(["$a", "$a", " ", "$b"]);
        let mut g = f.clone();
        g.priority = 9;
        let n = g.normalized().unwrap();
        assert_eq!(n.text, "The user lives in Lyon");
        assert_eq!(n.priority, 5);
        assert_eq!(n.source_event_ids, vec!["$a", "$b"]);
        assert!(NewFact::new("  ", Category::Other, 3).normalized().is_err());
        let long = "x".repeat(MAX_FACT_CHARS + 1);
        assert!(NewFact::new(long, Category::Other, 3).normalized().is_err());
    }

    #[test]
    fn newer_wording_wins_only_when_it_says_more() {
        assert!(prefer_new_wording(
            "The user lives in Lyon",
            "The user lives in Lyon, near the old town"
        ));
        assert!(!prefer_new_wording(
            "The user lives in Lyon, near the old town",
            "The user lives in Lyon"
        ));
        assert!(!prefer_new_wording(
            "The user likes tea",
            "the user likes tea"
        ));
    }

    #[test]
    fn categories_are_guessed_from_keywords() {
        assert_eq!(guess_category("My name is Ada"), Category::Identity);
        assert_eq!(
            guess_category("My sister Eve is a nurse"),
            Category::Relationship
        );
        assert_eq!(guess_category("I am allergic to peanuts"), Category::Health);
        assert_eq!(
            guess_category("I prefer tea to coffee"),
            Category::Preference
        );
        assert_eq!(guess_category("The sky is blue"), Category::Other);
    }

    #[test]
    fn status_follows_the_lifecycle_columns() {
        let now = Utc::now();
        let mut f = Fact {
            id: 1,
            user_id: "@u:x".into(),
            text: "t".into(),
            category: Category::Other,
            priority: 3,
            kind: Kind::Personal,
            source_event_ids: vec![],
            created_at: now,
            updated_at: now,
            valid_from: now,
            valid_to: None,
            superseded_by: None,
            archived_at: None,
            access_count: 0,
            last_accessed_at: None,
            cluster_id: None,
        };
        assert_eq!(f.status(), Status::Live);
        f.archived_at = Some(now);
        assert_eq!(f.status(), Status::Archived);
        f.superseded_by = Some(2);
        assert_eq!(f.status(), Status::Superseded);
    }
}
