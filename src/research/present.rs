//! How research looks in the chat: `!research`, `!research show`, the question before a
//! deletion. Pure: plain data in, markdown out.

use chrono::{DateTime, NaiveDate, Utc};

/// A topic as the list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicLine {
    pub topic: String,
    pub status: String,
    pub query: String,
    pub last_researched: Option<DateTime<Utc>>,
    pub backoff_until: Option<DateTime<Utc>>,
    pub findings: usize,
}

/// A finding as the lists show it.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingLine {
    pub id: i64,
    pub topic: String,
    pub statement: String,
    pub url: Option<String>,
    pub page_date: Option<NaiveDate>,
    pub confidence: f32,
}

fn finding(f: &FindingLine, with_topic: bool) -> String {
    let mut s = format!("- #{} ", f.id);
    if with_topic {
        s.push_str(&format!("({}) ", f.topic));
    }
    s.push_str(&f.statement);
    if let Some(url) = &f.url {
        s.push_str(&format!(" [{}]({url})", super::findings::site_of(url)));
    }
    if let Some(d) = f.page_date {
        s.push_str(&format!(" · {d}"));
    }
    if f.confidence < 0.5 {
        s.push_str(" · unsure");
    }
    s
}

fn topic_state(t: &TopicLine, now: DateTime<Utc>) -> String {
    match t.status.as_str() {
        "proposed" => "waiting for your ✅".into(),
        "approved" => match (t.backoff_until, t.last_researched) {
            (Some(b), _) if b > now => format!(
                "nothing new last time; resting until {}",
                b.format("%-d %B")
            ),
            (_, Some(l)) => format!("last researched {}", l.format("%-d %B %H:%M UTC")),
            (_, None) => "not researched yet".into(),
        },
        other => other.to_owned(),
    }
}

/// `!research`: the topics, then the latest findings.
pub fn list(
    topics: &[TopicLine],
    latest: &[FindingLine],
    paused: bool,
    now: DateTime<Utc>,
) -> String {
    if topics.is_empty() {
        return "I'm not keeping an eye on any topic yet. `!research add <topic>` adds one; I \
                also suggest topics from what you ask me to look up."
            .into();
    }
    let mut s = String::from("**Research topics**");
    if paused {
        s.push_str(" (paused: `!research resume` to go on)");
    }
    for t in topics {
        s.push_str(&format!(
            "\n- **{}**: {} · {} finding{}",
            t.topic,
            topic_state(t, now),
            t.findings,
            if t.findings == 1 { "" } else { "s" }
        ));
    }
    if !latest.is_empty() {
        s.push_str("\n\n**Latest findings**");
        for f in latest {
            s.push('\n');
            s.push_str(&finding(f, true));
        }
    }
    s.push_str(
        "\n\n`!research show <topic>` · `!research now <topic>` · `!research delete <id|topic>` · `!research pause`",
    );
    s
}

/// `!research show <topic>`.
pub fn show(t: &TopicLine, findings: &[FindingLine], now: DateTime<Utc>) -> String {
    let mut s = format!(
        "**{}**: {}\nSearch: “{}”",
        t.topic,
        topic_state(t, now),
        t.query
    );
    if findings.is_empty() {
        s.push_str("\nNo findings yet.");
    } else {
        s.push_str(&format!("\n\n**Findings** ({})", findings.len()));
        for f in findings {
            s.push('\n');
            s.push_str(&finding(f, false));
        }
    }
    s
}

/// The question before deleting findings.
pub fn delete_question(findings: &[FindingLine], topic: Option<&str>) -> String {
    let mut s = match topic {
        Some(t) => format!(
            "Delete the topic **{t}** and its {} finding{}, and forget what I learned from them? \
             I won't research it again.",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" }
        ),
        None => format!(
            "Delete {} finding{} and forget what I learned from {}?",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            if findings.len() == 1 { "it" } else { "them" }
        ),
    };
    for f in findings.iter().take(10) {
        s.push('\n');
        s.push_str(&finding(f, topic.is_none()));
    }
    if findings.len() > 10 {
        s.push_str(&format!("\n- … and {} more", findings.len() - 10));
    }
    s.push_str("\nReact ✅ to delete or ❌ to keep.");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
    }

    fn f(id: i64) -> FindingLine {
        FindingLine {
            id,
            topic: "owls".into(),
            statement: "Barn owls hunt by sound.".into(),
            url: Some("https://www.example.org/owls".into()),
            page_date: NaiveDate::from_ymd_opt(2026, 11, 20),
            confidence: 0.9,
        }
    }

    fn topic(status: &str) -> TopicLine {
        TopicLine {
            topic: "owls".into(),
            status: status.into(),
            query: "owls latest news".into(),
            last_researched: None,
            backoff_until: Some(now() + chrono::Duration::days(3)),
            findings: 1,
        }
    }

    #[test]
    fn the_list_shows_states_and_sources() {
        let s = list(&[topic("approved")], &[f(7)], true, now());
        assert!(s.contains("(paused"), "{s}");
        assert!(
            s.contains("**owls**: nothing new last time; resting until 4 December · 1 finding"),
            "{s}"
        );
        assert!(s.contains("- #7 (owls) Barn owls hunt by sound. [example.org](https://www.example.org/owls) · 2026-11-20"), "{s}");
        assert!(list(&[], &[], false, now()).contains("`!research add <topic>`"));
        assert!(list(&[topic("proposed")], &[], false, now()).contains("waiting for your ✅"));
    }

    #[test]
    fn deleting_asks_with_what_goes() {
        let s = delete_question(&[f(1), f(2)], Some("owls"));
        assert!(
            s.starts_with("Delete the topic **owls** and its 2 findings"),
            "{s}"
        );
        assert!(s.ends_with("React ✅ to delete or ❌ to keep."), "{s}");
        let one = delete_question(&[f(1)], None);
        assert!(
            one.starts_with("Delete 1 finding and forget what I learned from it?"),
            "{one}"
        );
        assert!(show(&topic("approved"), &[], now()).contains("No findings yet."));
    }
}
