//! The scripted model for self-made tools: a concept, the code (a plain answer with the
//! module in a fence, revised when asked about reversed dates), its examples and explanation,
//! and the chat's choice of the installed tool.

use serde_json::{Value, json};

use super::stub_llm::{Reply, StubLlm};

pub const DAYS: &str = "import datetime\n\ndef run(args):\n    a = datetime.date.fromisoformat(args[\"start\"])\n    b = datetime.date.fromisoformat(args[\"end\"])\n    return (b - a).days\n";
pub const DAYS_ABS: &str = "import datetime\n\ndef run(args):\n    a = datetime.date.fromisoformat(args[\"start\"])\n    b = datetime.date.fromisoformat(args[\"end\"])\n    return abs((b - a).days)\n";

pub fn concept(name: &str) -> Value {
    json!({
        "name": name,
        "description": "Counts the days between two dates.",
        "parameters": {"type": "object", "properties": {
            "start": {"type": "string", "description": "first date, YYYY-MM-DD"},
            "end": {"type": "string", "description": "second date, YYYY-MM-DD"}
        }, "required": ["start", "end"]},
        "example": {"input": {"start": "2026-01-01", "end": "2026-03-01"}, "expected": 59}
    })
}

pub fn notes() -> Value {
    json!({
        "examples": [{"input": {"start": "2026-01-01", "end": "2026-01-31"}, "expected": 30}],
        "explanation": "Reads both dates and subtracts them."
    })
}

/// The model writing code: a plain answer with the module in a fence.
pub fn writes_code(stub: &StubLlm, pick: fn(&str) -> &'static str) {
    stub.set_chat_responder(move |body| {
        let asked = body["messages"].to_string();
        asked.contains("You write small Python 3 tools").then(|| {
            Reply::text(
                &format!("Here it is:\n```python\n{}```", pick(&asked)),
                -0.1,
            )
        })
    });
}

/// The scripted model: concepts, code, its notes and the chat's tool choice; code revised
/// when the request asks for a change.
pub fn script(stub: &StubLlm) {
    stub.set_structured_responder(|name, body| {
        let asked = body["messages"].to_string();
        Some(Reply::json(&match name {
            "tool_concept" if asked.contains("day_count") => concept("day_count"),
            "tool_concept" => concept("Days Between"),
            "tool_code_notes" => notes(),
            "tool_action" => json!({"tool": "days_between", "arguments": {"start": "2026-01-01", "end": "2026-03-01"}}),
            _ => return None,
        }))
    });
    writes_code(stub, |asked| {
        if asked.contains("reversed") {
            DAYS_ABS
        } else {
            DAYS
        }
    });
    stub.set_default_chat(Reply::text("That is 59 days.", -0.05));
}
