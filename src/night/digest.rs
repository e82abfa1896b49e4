//! The morning digest's content and wording. Pure: the digest stage gathers the items, this
//! merges and renders them; delivery is in [`super::deliver`].

use serde::{Deserialize, Serialize};

use crate::text::second_person;

/// Most new facts listed by name (the rest are counted).
const MAX_NEW_FACTS: usize = 12;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DigestContent {
    #[serde(default)]
    pub new_facts: Vec<NewFactItem>,
    #[serde(default)]
    pub superseded: Vec<SupersededItem>,
    #[serde(default)]
    pub clusters: Vec<ClusterItem>,
    #[serde(default)]
    pub archived: usize,
    #[serde(default)]
    pub behaviour: Vec<String>,
    #[serde(default)]
    pub research: Vec<ResearchItem>,
    #[serde(default)]
    pub tools: Vec<ToolItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewFactItem {
    pub id: i64,
    pub text: String,
    pub category: String,
    pub priority: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupersededItem {
    pub old_id: i64,
    pub old_text: String,
    pub new_id: i64,
    pub new_text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterItem {
    pub id: i64,
    pub name: String,
    pub size: usize,
    /// Members before this night; 0 for a topic that just formed.
    pub previous_size: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResearchItem {
    pub id: i64,
    pub title: String,
    pub url: Option<String>,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolItem {
    pub id: i64,
    pub name: String,
    pub description: String,
}

impl DigestContent {
    /// Nothing worth a message.
    pub fn is_empty(&self) -> bool {
        self.new_facts.is_empty()
            && self.superseded.is_empty()
            && self.clusters.is_empty()
            && self.behaviour.is_empty()
            && self.research.is_empty()
            && self.tools.is_empty()
    }

    /// Adds a later pass's items (same night): by id, the later version wins.
    pub fn merge(&mut self, later: DigestContent) {
        fn upsert<T, K: PartialEq>(into: &mut Vec<T>, from: Vec<T>, key: impl Fn(&T) -> K) {
            for item in from {
                match into.iter_mut().find(|x| key(x) == key(&item)) {
                    Some(slot) => *slot = item,
                    None => into.push(item),
                }
            }
        }
        upsert(&mut self.new_facts, later.new_facts, |x| x.id);
        upsert(&mut self.superseded, later.superseded, |x| x.old_id);
        upsert(&mut self.clusters, later.clusters, |x| x.id);
        upsert(&mut self.research, later.research, |x| x.id);
        upsert(&mut self.tools, later.tools, |x| x.id);
        upsert(&mut self.behaviour, later.behaviour, |x| x.clone());
        self.archived += later.archived;
        // A fact that was new and then replaced in the same morning is not news any more.
        let gone: Vec<i64> = self.superseded.iter().map(|s| s.old_id).collect();
        self.new_facts.retain(|f| !gone.contains(&f.id));
    }
}

/// The digest as markdown.
pub fn render(c: &DigestContent) -> String {
    let mut s = String::from("**Good morning! Here is what I worked out overnight.**\n");
    if !c.new_facts.is_empty() {
        let n = c.new_facts.len();
        s.push_str(&format!("\n**New things I know about you** ({n})\n"));
        let mut facts: Vec<&NewFactItem> = c.new_facts.iter().collect();
        facts.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
        facts.truncate(MAX_NEW_FACTS);
        // Grouped by category, in the order of each category's most important fact.
        let mut cats: Vec<&str> = Vec::new();
        for f in &facts {
            if !cats.contains(&f.category.as_str()) {
                cats.push(&f.category);
            }
        }
        for cat in cats {
            let items: Vec<String> = facts
                .iter()
                .filter(|f| f.category == cat)
                .map(|f| format!("{} `#{}`", second_person(&f.text), f.id))
                .collect();
            s.push_str(&format!("- _{}_: {}\n", capitalise(cat), items.join(" · ")));
        }
        if n > MAX_NEW_FACTS {
            s.push_str(&format!("- …and {} more (`!memory`)\n", n - MAX_NEW_FACTS));
        }
    }
    if !c.superseded.is_empty() {
        s.push_str("\n**Updated**\n");
        for u in &c.superseded {
            s.push_str(&format!(
                "- {} (was: “{}”): updated; the old memory is kept as history.\n",
                second_person(&u.new_text),
                strip_period(&second_person(&u.old_text))
            ));
        }
    }
    if !c.clusters.is_empty() {
        s.push_str("\n**Topics**\n");
        for t in &c.clusters {
            if t.previous_size == 0 {
                s.push_str(&format!(
                    "- New topic: **{}** ({} memor{})\n",
                    t.name,
                    t.size,
                    if t.size == 1 { "y" } else { "ies" }
                ));
            } else {
                s.push_str(&format!(
                    "- **{}** grew to {} memories (+{})\n",
                    t.name,
                    t.size,
                    t.size.saturating_sub(t.previous_size)
                ));
            }
        }
    }
    if !c.research.is_empty() {
        s.push_str("\n**Research findings**\n");
        for r in &c.research {
            // The title is the topic; the link names the page the statement is from.
            match &r.url {
                Some(u) => s.push_str(&format!(
                    "- **{}**: {} ([source]({u}))\n",
                    r.title, r.summary
                )),
                None => s.push_str(&format!("- **{}**: {}\n", r.title, r.summary)),
            }
        }
    }
    if !c.behaviour.is_empty() {
        s.push_str("\n**How I'll behave**\n");
        for b in &c.behaviour {
            s.push_str(&format!("- {b}\n"));
        }
    }
    if !c.tools.is_empty() {
        s.push_str("\n**Tool proposals**\n");
        for t in &c.tools {
            s.push_str(&format!("- `{}`: {}\n", t.name, t.description));
        }
    }
    if c.archived > 0 {
        s.push_str(&format!(
            "\n{} old memor{} faded and {} archived (still in `!memory`).\n",
            c.archived,
            if c.archived == 1 { "y" } else { "ies" },
            if c.archived == 1 { "was" } else { "were" }
        ));
    }
    s.push_str("\n`!memory` shows everything I remember; `!forget <id>` erases a memory.");
    s
}

fn strip_period(s: &str) -> &str {
    s.trim_end_matches('.')
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(id: i64, text: &str, category: &str, priority: u8) -> NewFactItem {
        NewFactItem {
            id,
            text: text.into(),
            category: category.into(),
            priority,
        }
    }

    #[test]
    fn second_person_rewrites_simple_sentences() {
        assert_eq!(
            second_person("The user lives in Lyon."),
            "You live in Lyon."
        );
        assert_eq!(second_person("The user is a nurse."), "You are a nurse.");
        assert_eq!(
            second_person("The user's wife is Ana."),
            "Your wife is Ana."
        );
        assert_eq!(second_person("The user watches films."), "You watch films.");
        assert_eq!(second_person("The user studies law."), "You study law.");
        assert_eq!(second_person("The user goes running."), "You go running.");
        assert_eq!(
            second_person("The user has two cats."),
            "You have two cats."
        );
        assert_eq!(second_person("Ana likes jazz."), "Ana likes jazz.");
    }

    #[test]
    fn empty_content_is_empty_and_archiving_alone_is_not_news() {
        let mut c = DigestContent::default();
        assert!(c.is_empty());
        c.archived = 3;
        assert!(c.is_empty());
    }

    #[test]
    fn render_names_facts_updates_and_topics() {
        let c = DigestContent {
            new_facts: vec![
                fact(3, "The user plays chess on weekends.", "preference", 3),
                fact(2, "The user lives in Lyon.", "identity", 5),
            ],
            superseded: vec![SupersededItem {
                old_id: 1,
                old_text: "The user lives in Paris.".into(),
                new_id: 2,
                new_text: "The user lives in Lyon.".into(),
            }],
            clusters: vec![
                ClusterItem {
                    id: 7,
                    name: "Home".into(),
                    size: 2,
                    previous_size: 0,
                },
                ClusterItem {
                    id: 8,
                    name: "Hobbies".into(),
                    size: 5,
                    previous_size: 3,
                },
            ],
            behaviour: vec!["I'll keep answers shorter.".into()],
            ..Default::default()
        };
        let s = render(&c);
        assert!(s.contains("- _Identity_: You live in Lyon. `#2`"), "{s}");
        assert!(s.find("Identity").unwrap() < s.find("Preference").unwrap());
        assert!(
            s.contains("You live in Lyon. (was: “You live in Paris”): updated"),
            "{s}"
        );
        assert!(s.contains("New topic: **Home** (2 memories)"));
        assert!(s.contains("**Hobbies** grew to 5 memories (+2)"));
        assert!(s.contains("I'll keep answers shorter."));
        assert!(!s.contains("Tool proposals"));
    }

    #[test]
    fn merging_a_second_pass() {
        let mut a = DigestContent {
            new_facts: vec![fact(1, "The user lives in Paris.", "identity", 5)],
            ..Default::default()
        };
        a.merge(DigestContent {
            new_facts: vec![fact(2, "The user lives in Lyon.", "identity", 5)],
            superseded: vec![SupersededItem {
                old_id: 1,
                old_text: "The user lives in Paris.".into(),
                new_id: 2,
                new_text: "The user lives in Lyon.".into(),
            }],
            archived: 1,
            ..Default::default()
        });
        assert_eq!(a.new_facts.len(), 1);
        assert_eq!(a.new_facts[0].id, 2);
        assert_eq!(a.archived, 1);
        let many = DigestContent {
            new_facts: (0..20)
                .map(|i| fact(i, "The user owns a boat.", "other", 3))
                .collect(),
            ..Default::default()
        };
        assert!(render(&many).contains("…and 8 more"));
    }
}
