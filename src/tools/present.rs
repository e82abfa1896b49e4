//! What the owner reads at each stage of a tool and in `!tools`: the concept, the code with
//! its scan and example results, the install summary, the list and one tool's page. Pure.

use serde_json::Value;

use super::concept::parameter_line;
use crate::store::tools::{ApprovalRecord, RunRecord, Tool};
use crate::text::clip;

/// The first characters of a code hash, as shown.
pub fn short_hash(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

fn example_line(example: &Value) -> String {
    format!(
        "`{}({})` → `{}`",
        "run",
        example.get("input").unwrap_or(&Value::Null),
        example.get("expected").unwrap_or(&Value::Null)
    )
}

/// Stage 1: the concept, with how to go on.
pub fn concept_message(t: &Tool) -> String {
    format!(
        "🔧 **Tool proposal: `{}`** (version {})\n\n{}\n\n**Parameters:** {}\n**Example:** {}\n\n\
         React ✅ and I write the code, ❌ to drop it, or reply to this message to change it.",
        t.name,
        t.version,
        t.description,
        parameter_line(&t.parameters),
        example_line(&t.example),
    )
}

/// Stage 2: the code, what the scan found and how the examples did in the sandbox.
pub fn code_message(t: &Tool) -> String {
    format!(
        "🔧 **Code for `{}`** (version {}, sha256 `{}`)\n\n{}\n\n```python\n{}```\n\n\
         **Scan:** {}\n\n**Examples, run in the sandbox:**\n{}\n\n\
         React ✅ to get it ready to install, ❌ to drop it, or reply to this message to change the code.",
        t.name,
        t.version,
        short_hash(t.code_hash.as_deref().unwrap_or_default()),
        t.explanation,
        t.code.as_deref().unwrap_or_default(),
        indent_report(t.scan_report.as_deref().unwrap_or("not run")),
        t.example_report,
    )
}

/// Stage 3: scanned and tested again, ready to install.
pub fn install_message(t: &Tool) -> String {
    format!(
        "🔧 **Install `{}`?** (version {}, sha256 `{}`)\n\nScanned again: {}\n\nExamples run again in the sandbox:\n{}\n\n\
         React ✅ to install it now, or ❌ to drop it.",
        t.name,
        t.version,
        short_hash(t.code_hash.as_deref().unwrap_or_default()),
        indent_report(t.scan_report.as_deref().unwrap_or("not run")),
        t.example_report,
    )
}

fn indent_report(report: &str) -> String {
    if report.contains('\n') || report.starts_with("line ") {
        format!(
            "\n{}",
            report
                .lines()
                .map(|l| format!("- ⚠ {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    } else {
        report.to_owned()
    }
}

/// How a stage is named to the owner.
pub fn stage_words(stage: &str) -> &'static str {
    match stage {
        "proposed" => "proposed, waiting for your ✅",
        "code_shown" => "code shown, waiting for your ✅",
        "ready" => "ready to install, waiting for your ✅",
        "installed" => "installed",
        "rejected" => "dropped",
        "removed" => "removed",
        _ => "unknown",
    }
}

/// `!tools`: installed tools, then the ones being built; or how to start.
pub fn list(tools: &[Tool], disabled: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(why) = disabled {
        out.push_str(&format!(
            "⚠ Tools are disabled on this machine: {why}. Fix: {}.\n\n",
            super::probe::FIX
        ));
    }
    if tools.is_empty() {
        out.push_str(
            "You have no tools yet. `!tools propose <what it should do>` starts one, e.g. \
             `!tools propose count the days between two dates`.",
        );
        return out;
    }
    let (installed, building): (Vec<&Tool>, Vec<&Tool>) =
        tools.iter().partition(|t| t.stage == "installed");
    if !installed.is_empty() {
        out.push_str("**Installed tools:**\n");
        for t in &installed {
            out.push_str(&format!("- `{}`: {}\n", t.name, t.description));
        }
    }
    if !building.is_empty() {
        if !installed.is_empty() {
            out.push('\n');
        }
        out.push_str("**Being built:**\n");
        for t in &building {
            out.push_str(&format!(
                "- `{}` (version {}): {}\n",
                t.name,
                t.version,
                stage_words(&t.stage)
            ));
        }
    }
    out.push_str("\n`!tools show NAME` shows one; `!tools run NAME {json}` runs it.");
    out
}

/// `!tools show NAME`: everything about one tool.
pub fn show(t: &Tool, history: &[ApprovalRecord], runs: &[RunRecord]) -> String {
    let mut out = format!(
        "🔧 **`{}`** (version {}, {})\n\n{}\n\n**Parameters:** {}\n**Example:** {}\n",
        t.name,
        t.version,
        stage_words(&t.stage),
        t.description,
        parameter_line(&t.parameters),
        example_line(&t.example),
    );
    if let Some(code) = &t.code {
        out.push_str(&format!(
            "\n**Code** (sha256 `{}`):\n```python\n{code}```\n**Scan:** {}\n",
            short_hash(t.code_hash.as_deref().unwrap_or_default()),
            indent_report(t.scan_report.as_deref().unwrap_or("not run")),
        ));
    }
    if !history.is_empty() {
        out.push_str("\n**History:**\n");
        for h in history {
            out.push_str(&format!(
                "- {} {} {} (version {}{}) by {}\n",
                h.decided_at.format("%Y-%m-%d %H:%M UTC"),
                if h.approved { "✅" } else { "❌" },
                stage_name(&h.stage),
                h.version,
                h.code_hash
                    .as_deref()
                    .map(|c| format!(", sha256 {}", short_hash(c)))
                    .unwrap_or_default(),
                h.user_id
            ));
        }
    }
    if !runs.is_empty() {
        out.push_str("\n**Latest runs:**\n");
        for r in runs {
            out.push_str(&format!(
                "- {} {} `{}` → {} ({} ms)\n",
                r.created_at.format("%Y-%m-%d %H:%M"),
                r.origin,
                r.input,
                clip(r.output.as_deref().unwrap_or(""), 120),
                r.duration_ms
            ));
        }
    }
    out
}

/// An approval kind's stage, in words.
pub fn stage_name(stage: &str) -> &'static str {
    match stage {
        "concept" => "the concept",
        "code" => "the code",
        "install" => "the install",
        "remove" => "removing it",
        _ => "a step",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(stage: &str) -> Tool {
        Tool {
            id: 1,
            user_id: "@a:x".into(),
            room_id: "!r:x".into(),
            name: "days_between".into(),
            description: "Counts the days between two dates.".into(),
            stage: stage.into(),
            version: 2,
            parameters: json!({"type": "object", "properties": {"start": {"type": "string"}}}),
            example: json!({"input": {"start": "2026-01-01"}, "expected": 3}),
            request: "count days".into(),
            code: Some("def run(args):\n    return 3\n".into()),
            code_hash: Some("abcdef0123456789".into()),
            examples: json!([]),
            explanation: "Returns three.".into(),
            scan_report: Some("line 1: imports os".into()),
            example_report: "- ✓ ok".into(),
            installed_at: None,
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn each_stage_says_what_a_reaction_does() {
        let c = concept_message(&tool("proposed"));
        assert!(c.contains("`days_between`") && c.contains("React ✅ and I write the code"));
        assert!(c.contains("`run({\"start\":\"2026-01-01\"})` → `3`"));
        let code = code_message(&tool("code_shown"));
        assert!(code.contains("```python\ndef run(args):\n    return 3\n```"));
        assert!(code.contains("sha256 `abcdef012345`"));
        assert!(code.contains("- ⚠ line 1: imports os"));
        assert!(install_message(&tool("ready")).contains("React ✅ to install it now"));
    }

    #[test]
    fn the_list_separates_installed_from_building_and_says_when_tools_are_off() {
        let l = list(&[tool("installed"), tool("code_shown")], None);
        assert!(l.contains("**Installed tools:**\n- `days_between`"));
        assert!(l.contains("**Being built:**\n- `days_between` (version 2): code shown"));
        let off = list(&[], Some("bubblewrap is missing"));
        assert!(off.starts_with("⚠ Tools are disabled on this machine: bubblewrap is missing"));
        assert!(off.contains("!tools propose"));
    }
}
