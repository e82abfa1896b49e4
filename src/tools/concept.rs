//! Stage 1 of a self-made tool, the concept: what the tool is called, what it does in one
//! sentence, its parameters as a JSON schema, and one example call with the result it should
//! give. The model writes it through a `json_schema`-constrained request ([`SCHEMA`]); what
//! it writes is checked and tidied here ([`Concept::checked`]) before anyone sees it. Pure.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::llm::ChatMessage;

/// A tool's concept, as shown to the owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concept {
    pub name: String,
    pub description: String,
    /// A JSON schema of type `object`.
    pub parameters: Value,
    /// `{"input": {…}, "expected": …}`
    pub example: Value,
}

/// The schema the model's answer is held to.
pub fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": { "type": "string" },
            "description": { "type": "string" },
            "parameters": {
                "type": "object",
                "properties": {
                    "type": { "const": "object" },
                    "properties": { "type": "object" },
                    "required": { "type": "array", "items": { "type": "string" } }
                },
                "required": ["type", "properties", "required"]
            },
            "example": {
                "type": "object",
                "properties": {
                    "input": { "type": "object" },
                    "expected": {}
                },
                "required": ["input", "expected"]
            }
        },
        "required": ["name", "description", "parameters", "example"]
    })
}

/// The longest name and description kept.
const NAME_CHARS: usize = 40;
const DESCRIPTION_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConceptError {
    #[error("the proposal has no usable name")]
    NoName,
    #[error("the proposal has no description")]
    NoDescription,
    #[error("the proposal's parameters are not a JSON schema of an object")]
    BadParameters,
    #[error("the proposal's example is not an object with an input and an expected result")]
    BadExample,
}

impl Concept {
    /// The concept with its name in snake_case, its texts trimmed to size, and its schema and
    /// example checked.
    pub fn checked(mut self) -> Result<Self, ConceptError> {
        self.name = snake_case(&self.name);
        if self.name.len() < 3 {
            return Err(ConceptError::NoName);
        }
        self.description = one_line(&self.description, DESCRIPTION_CHARS);
        if self.description.is_empty() {
            return Err(ConceptError::NoDescription);
        }
        if !self.description.ends_with(['.', '!', '?', '…']) {
            self.description.push('.');
        }
        let p = &self.parameters;
        if p.get("type").and_then(Value::as_str) != Some("object")
            || !p.get("properties").is_some_and(Value::is_object)
        {
            return Err(ConceptError::BadParameters);
        }
        if !self.example.get("input").is_some_and(Value::is_object)
            || self.example.get("expected").is_none()
        {
            return Err(ConceptError::BadExample);
        }
        Ok(self)
    }
}

/// A schema's parameters in one line.
pub fn parameter_line(parameters: &Value) -> String {
    let Some(props) = parameters.get("properties").and_then(Value::as_object) else {
        return "none".into();
    };
    if props.is_empty() {
        return "none".into();
    }
    props
        .iter()
        .map(|(name, p)| {
            let ty = p.get("type").and_then(Value::as_str).unwrap_or("any");
            match p.get("description").and_then(Value::as_str) {
                Some(d) if !d.trim().is_empty() => format!("`{name}` ({ty}): {}", d.trim()),
                _ => format!("`{name}` ({ty})"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `name` as a Python identifier in snake_case: "Days Between" → `days_between`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    let out = out.trim_matches('_');
    let out = out.trim_start_matches(|c: char| c.is_ascii_digit() || c == '_');
    out.chars()
        .take(NAME_CHARS)
        .collect::<String>()
        .trim_end_matches('_')
        .to_owned()
}

fn one_line(text: &str, max: usize) -> String {
    let t = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().count() <= max {
        return t;
    }
    let cut: String = t.chars().take(max - 1).collect();
    format!("{}…", cut.trim_end())
}

const INSTRUCTIONS: &str = "You design small, single-purpose Python tools for a personal \
assistant. A tool is a function run(args) that takes a JSON object and returns a JSON value; \
it may use only Python's standard library (no files, no network, no other programs). Given \
what the user needs, answer with the tool's concept: a short snake_case name, one sentence \
saying what it does, its parameters as a JSON schema of an object (each property with a \
type and a short description), and one example call with the exact result it must return.";

/// The request for a concept: what the user needs, and, when revising, the concept so far and
/// what the user asked to change.
pub fn prompt(request: &str, revise: Option<(&Concept, &str)>) -> Vec<ChatMessage> {
    let mut user = format!("What the user needs: {}", request.trim());
    if let Some((before, change)) = revise {
        user.push_str(&format!(
            "\n\nThe concept so far:\n{}\n\nThe user asked for this change: {}\nAnswer with \
             the changed concept.",
            serde_json::to_string_pretty(before).unwrap_or_default(),
            change.trim()
        ));
    }
    vec![ChatMessage::system(INSTRUCTIONS), ChatMessage::user(user)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concept() -> Concept {
        Concept {
            name: "Days Between".into(),
            description: "  Counts the days\n between two dates. ".into(),
            parameters: json!({"type": "object", "properties": {
                "start": {"type": "string", "description": "first date, YYYY-MM-DD"},
                "end": {"type": "string"}
            }, "required": ["start", "end"]}),
            example: json!({"input": {"start": "2026-01-01", "end": "2026-03-01"}, "expected": 59}),
        }
    }

    #[test]
    fn a_concept_is_tidied_and_checked() {
        let c = concept().checked().unwrap();
        assert_eq!(c.name, "days_between");
        assert_eq!(c.description, "Counts the days between two dates.");
        assert_eq!(
            parameter_line(&c.parameters),
            "`end` (string); `start` (string): first date, YYYY-MM-DD"
        );
        let mut bad = concept();
        bad.parameters = json!({"type": "string"});
        assert_eq!(bad.checked(), Err(ConceptError::BadParameters));
        let mut bad = concept();
        bad.example = json!({"expected": 1});
        assert_eq!(bad.checked(), Err(ConceptError::BadExample));
        let mut bad = concept();
        bad.name = "!!".into();
        assert_eq!(bad.checked(), Err(ConceptError::NoName));
    }

    #[test]
    fn names_become_python_identifiers() {
        for (raw, want) in [
            ("days_between", "days_between"),
            ("CsvToJson", "csv_to_json"),
            ("csv to JSON!", "csv_to_json"),
            ("2nd try", "nd_try"),
            ("__init__", "init"),
            ("weiß-tool", "wei_tool"),
        ] {
            assert_eq!(snake_case(raw), want, "{raw}");
        }
    }

    #[test]
    fn the_schema_asks_for_every_part() {
        let s = schema();
        assert_eq!(
            s["required"],
            json!(["name", "description", "parameters", "example"])
        );
    }
}
