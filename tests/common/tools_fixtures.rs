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

/// CSV text with a header row to a list of objects (no imports outside the allow-list).
pub const CSV_TO_JSON: &str = "import csv\n\ndef run(args):\n    rows = csv.DictReader(args[\"csv\"].splitlines())\n    return [dict(r) for r in rows]\n";
/// Degrees Celsius to Fahrenheit.
pub const CELSIUS: &str = "def run(args):\n    return args[\"celsius\"] * 9 / 5 + 32\n";

/// The scripted model for the two other benign tools of the end-to-end test: CSV to JSON
/// and a unit conversion, told apart by what is asked.
pub fn script_csv_and_units(stub: &StubLlm) {
    stub.set_structured_responder(|name, body| {
        let asked = body["messages"].to_string();
        let csv = asked.contains("CSV") || asked.contains("csv");
        Some(Reply::json(&match name {
            "tool_concept" if csv => json!({
                "name": "csv_to_json",
                "description": "Turns CSV text with a header row into a list of JSON objects.",
                "parameters": {"type": "object", "properties": {
                    "csv": {"type": "string", "description": "the CSV text"}
                }, "required": ["csv"]},
                "example": {"input": {"csv": "name,age\nAda,36"}, "expected": [{"name": "Ada", "age": "36"}]}
            }),
            "tool_concept" => json!({
                "name": "celsius_to_fahrenheit",
                "description": "Converts a temperature in degrees Celsius to Fahrenheit.",
                "parameters": {"type": "object", "properties": {
                    "celsius": {"type": "number", "description": "degrees Celsius"}
                }, "required": ["celsius"]},
                "example": {"input": {"celsius": 100}, "expected": 212.0}
            }),
            "tool_code_notes" if csv => json!({
                "examples": [{"input": {"csv": "a,b\n1,2\n3,4"}, "expected": [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]}],
                "explanation": "Reads the rows under the header and returns one object per row."
            }),
            "tool_code_notes" => json!({
                "examples": [{"input": {"celsius": 0}, "expected": 32.0}],
                "explanation": "Multiplies by 9/5 and adds 32."
            }),
            "tool_action" => json!({"tool": "celsius_to_fahrenheit", "arguments": {"celsius": 37}}),
            _ => return None,
        }))
    });
    writes_code(stub, |asked| {
        if asked.contains("csv_to_json") || asked.contains("CSV") {
            CSV_TO_JSON
        } else {
            CELSIUS
        }
    });
    stub.set_default_chat(Reply::text("That is about 98.6 degrees.", -0.05));
}
