//! The static scan of a tool's code: advice for the person approving it, never the boundary
//! (that is the [`super::sandbox`]). A Python `ast` walk ([`SCANNER`]), itself run in the
//! sandbox as a tool whose argument is the code, reports:
//!
//! * imports outside [`ALLOWED_IMPORTS`];
//! * calls of `eval`, `exec`, `compile`, `open`, `__import__`, `getattr`, `setattr`,
//!   `delattr`, `globals`, `locals`, `vars`, `breakpoint`, `input`;
//! * any dunder attribute (`x.__class__`, `__subclasses__`, `__globals__`…) or dunder name
//!   other than `__name__`;
//! * format strings whose fields reach attributes or items (`"{0.__class__}"`);
//! * code that does not parse.
//!
//! The findings come back as `[{"line": n, "what": "…"}]`; [`report`] words them.

use serde::Deserialize;

/// Standard library modules a tool may import without a finding.
pub const ALLOWED_IMPORTS: &[&str] = &[
    "json",
    "re",
    "math",
    "cmath",
    "statistics",
    "datetime",
    "calendar",
    "csv",
    "io",
    "itertools",
    "functools",
    "operator",
    "collections",
    "decimal",
    "fractions",
    "textwrap",
    "string",
    "unicodedata",
    "random",
    "bisect",
    "heapq",
    "dataclasses",
    "typing",
    "enum",
    "zoneinfo",
    "html",
    "difflib",
];

/// The scanner, a tool module like any other (`run(args)` with `args = {"code": …,
/// "allowed": […]}`).
pub const SCANNER: &str = r#"import ast, string

CALLS = {"eval", "exec", "compile", "open", "__import__", "getattr", "setattr", "delattr",
         "globals", "locals", "vars", "breakpoint", "input", "memoryview"}

def fields_reach(fmt):
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError:
        return False
    return any(f and ("." in f or "[" in f) for _, f, _, _ in parsed)

def run(args):
    code, allowed = args["code"], set(args["allowed"])
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        return [{"line": e.lineno or 0, "what": "the code does not parse: " + str(e.msg)}]
    out = []
    def note(node, what):
        out.append({"line": getattr(node, "lineno", 0), "what": what})
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] not in allowed:
                    note(node, "imports " + a.name)
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level or mod.split(".")[0] not in allowed:
                note(node, "imports from " + ("." * node.level) + mod)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CALLS:
            note(node, "calls " + node.func.id + "()")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr.endswith("__"):
            note(node, "reaches the attribute " + node.attr)
        elif isinstance(node, ast.Name) and node.id.startswith("__") and node.id.endswith("__") and node.id != "__name__":
            note(node, "uses the name " + node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "{" in node.value and fields_reach(node.value):
            note(node, "a format string reaches attributes or items")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "format_map"):
            if isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str) and fields_reach(node.func.value.value):
                note(node, "a format string reaches attributes or items")
    seen, unique = set(), []
    for f in sorted(out, key=lambda f: (f["line"], f["what"])):
        key = (f["line"], f["what"])
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique[:50]
"#;

/// One finding.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Finding {
    pub line: u32,
    pub what: String,
}

/// The scanner's arguments for `code`.
pub fn input(code: &str) -> serde_json::Value {
    serde_json::json!({ "code": code, "allowed": ALLOWED_IMPORTS })
}

/// The findings in words, one per line, or that there were none.
pub fn report(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "no findings (imports from the allowed list only, no dynamic code, no dunder access)"
            .into();
    }
    findings
        .iter()
        .map(|f| format!("line {}: {}", f.line, f.what))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_worded_one_per_line() {
        assert!(report(&[]).starts_with("no findings"));
        let f = [
            Finding {
                line: 1,
                what: "imports os".into(),
            },
            Finding {
                line: 4,
                what: "calls eval()".into(),
            },
        ];
        assert_eq!(report(&f), "line 1: imports os\nline 4: calls eval()");
    }

    #[test]
    fn the_scanner_is_a_tool() {
        assert!(SCANNER.contains("\ndef run(args):"));
        assert_eq!(input("x = 1")["allowed"][0], "json");
    }
}
