//! Facts that fill the same "slot" of a person's life: where they live, where or as what they
//! work, what they are called. A person has one of each at a time, so a newer fact in a slot
//! may replace an older one even when the two are worded far apart. Pure.
//!
//! Used twice: realtime learning supersedes at once (so "Where do I live now?" right after "we
//! moved to Dresden" finds Dresden), and the night's conflict stage checks what realtime
//! learning did not see.
//!
//! Why: the night's conflict check compares facts by embedding similarity, and MiniLM puts
//! "The user lives in Paris." and "The user lives in Lyon." at cosine 0.68, "lives in
//! Stockholm" and "moved to Gothenburg last weekend" at 0.67, and two jobs at 0.5: below any
//! band that keeps unrelated facts apart. And asked whether the newer of such a pair replaces
//! the older, the stack's 0.5B model said no to every move and job change we tried. So two
//! facts in the same slot are decided here ([`replaces`]): the newer replaces the older when
//! it names another place, employer or name, and is not a plan ("will move next month").

use crate::text::words;

/// A part of a person's life that holds one value at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    Home,
    Job,
    Name,
}

impl Slot {
    pub fn as_str(self) -> &'static str {
        match self {
            Slot::Home => "home",
            Slot::Job => "job",
            Slot::Name => "name",
        }
    }
}

/// The slot a fact about the user fills, if any. Only facts about the user themselves count
/// ("The user lives in…"), not about their people ("The user's sister lives in…").
pub fn slot(fact: &str) -> Option<Slot> {
    let w = words(fact);
    let (first, second) = (w.first()?.as_str(), w.get(1).map(String::as_str));
    if first != "the" {
        return None;
    }
    let phrase = |p: &str| {
        let p: Vec<&str> = p.split(' ').collect();
        w.windows(p.len())
            .any(|x| x.iter().zip(&p).all(|(a, b)| a == b))
    };
    // "The user's name is…", "The user is called…"
    if phrase("the users name is") || phrase("the user is called") || phrase("the user goes by") {
        return Some(Slot::Name);
    }
    // Everything else must be about the user, not their people ("The user's sister…").
    if second != Some("user") {
        return None;
    }
    const HOME: &[&str] = &[
        "lives",
        "live",
        "living",
        "moved",
        "move",
        "moving",
        "resides",
        "relocated",
        "stays",
        "based",
    ];
    if w.iter().any(|x| HOME.contains(&x.as_str())) {
        return Some(Slot::Home);
    }
    const JOB: &[&str] = &[
        "works as",
        "works at",
        "works for",
        "working as",
        "working at",
        "worked as",
        "joined",
        "new job",
        "employed by",
        "employed at",
        "hired by",
        "hired at",
        "started at",
        "started as",
        "switched to",
        "teaches",
    ];
    if JOB.iter().any(|p| phrase(p)) {
        return Some(Slot::Job);
    }
    None
}

/// For two facts in the same slot, whether the newer replaces the older: it names something
/// (a place, an employer, a name: capitalised words) the older does not, shares none of the
/// older's, and states what is (not a plan). `None` when they are not in one slot (the model
/// decides those).
pub fn replaces(old: &str, new: &str) -> Option<bool> {
    let filled = slot(new)?;
    if slot(old) != Some(filled) {
        return None;
    }
    let w = words(new);
    let plan = [
        "will", "plans", "planning", "wants", "going", "soon", "next", "future",
    ]
    .iter()
    .any(|p| w.iter().any(|x| x == p));
    if plan {
        return Some(false);
    }
    let (old_names, new_names) = (names(old), names(new));
    if new_names.is_empty() {
        return Some(false);
    }
    Some(new_names.iter().all(|n| !old_names.contains(n)))
}

/// The capitalised words after the first, lower case: places, employers, names.
fn names(fact: &str) -> Vec<String> {
    fact.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .filter(|t| !t.is_empty())
        .skip(1)
        .filter(|t| t.chars().next().is_some_and(char::is_uppercase))
        .map(|t| words(t).concat())
        .filter(|t| !matches!(t.as_str(), "the" | "user" | "users" | "i"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_home_or_job_replaces_the_older_but_a_plan_does_not() {
        for (old, new, want) in [
            (
                "The user lives in Stockholm.",
                "The user moved to Gothenburg last weekend.",
                Some(true),
            ),
            (
                "The user lives in Paris.",
                "The user lives in Lyon.",
                Some(true),
            ),
            (
                "The user works as a softwere enginer at Infosys.",
                "The user joined Google as a backend dev.",
                Some(true),
            ),
            (
                "The user lives in Osaka.",
                "The user will move to Kyoto next month.",
                Some(false),
            ),
            (
                "The user lives in Stockholm.",
                "The user lives in Stockholm with a dog called Biscuit.",
                Some(false),
            ),
            (
                "The user works as a nurse at the Kantonsspital in Basel.",
                "The user works night shifts this week.",
                None,
            ),
            (
                "The user works as a marine biologist.",
                "The user uses Python and R at work.",
                None,
            ),
            (
                "The user's name is Mara Lindqvist.",
                "The user is called Mara.",
                Some(false),
            ),
            ("The user plays tennis.", "The user plays the piano.", None),
            (
                "The user lives in Lyon.",
                "The user works at Renault.",
                None,
            ),
        ] {
            assert_eq!(replaces(old, new), want, "{old} → {new}");
        }
    }

    #[test]
    fn homes_jobs_and_names_are_slots() {
        for (fact, want) in [
            ("The user lives in Stockholm.", Some(Slot::Home)),
            (
                "The user moved to Gothenburg last weekend.",
                Some(Slot::Home),
            ),
            ("The user is based in Lyon.", Some(Slot::Home)),
            (
                "The user works as a softwere enginer at Infosys.",
                Some(Slot::Job),
            ),
            (
                "The user joined Google as a backend developer.",
                Some(Slot::Job),
            ),
            ("The user got a new job at Google.", Some(Slot::Job)),
            ("The user will move to Kyoto next month.", Some(Slot::Home)),
            ("The user uses Python and R at work.", None),
            ("The user teaches maths in Leeds.", Some(Slot::Job)),
            ("The user's name is Mara Lindqvist.", Some(Slot::Name)),
            ("The user is called Teo.", Some(Slot::Name)),
            ("The user's sister lives in Oslo.", None),
            ("The user's dog is called Biscuit.", None),
            ("The user is allergic to peanuts.", None),
            ("The user plays tennis.", None),
            ("Jonas works as a sound engineer.", None),
        ] {
            assert_eq!(slot(fact), want, "{fact}");
        }
    }
}
