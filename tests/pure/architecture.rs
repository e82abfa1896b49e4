//! The shape of the code, checked: no two top-level modules of `src/` import each other,
//! directly or round a longer loop; the chat boundary (`chat`) depends on no other module;
//! only `matrix` knows Matrix, and it reaches the database only through the core.
//! A module's imports are read from its source (`crate::name` paths outside comments).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without `//` comments (doc comments name modules without importing them).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `crate::a` and `crate::{a, b::c}` references.
fn referenced(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found.insert(name);
            }
        } else {
            found.insert(
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    found
}

/// Top-level module → the top-level modules it refers to.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let top = |p: &Path| {
        let first = p.strip_prefix(&src).unwrap().components().next().unwrap();
        first
            .as_os_str()
            .to_str()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned()
    };
    let modules: BTreeSet<String> = files.iter().map(|f| top(f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = top(file);
        if from == "lib" || from == "main" {
            continue;
        }
        let text = code(&std::fs::read_to_string(file).unwrap());
        let deps = graph.entry(from.clone()).or_default();
        deps.extend(
            referenced(&text)
                .into_iter()
                .filter(|m| *m != from && modules.contains(m)),
        );
    }
    graph
}

fn reaches(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
) -> Option<Vec<String>> {
    let mut stack = vec![vec![from.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().unwrap();
        for next in graph.get(last).into_iter().flatten() {
            let mut longer = path.clone();
            longer.push(next.clone());
            if next == to {
                return Some(longer);
            }
            if seen.insert(next.clone()) {
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let graph = graph();
    assert!(graph.len() > 10, "read the modules: {graph:?}");
    let mut loops = Vec::new();
    for from in graph.keys() {
        if let Some(path) = reaches(&graph, from, from) {
            loops.push(path.join(" → "));
        }
    }
    assert!(loops.is_empty(), "module loops:\n{}", loops.join("\n"));
}

#[test]
fn the_chat_boundary_depends_on_nothing_and_matrix_stays_out_of_the_core() {
    let graph = graph();
    assert_eq!(graph["chat"], BTreeSet::new(), "chat imports");
    for (module, deps) in &graph {
        // The edges: the binary's wiring, the health check and the benchmarks.
        if !["matrix", "app", "doctor", "bench"].contains(&module.as_str()) {
            assert!(!deps.contains("matrix"), "{module} imports matrix");
        }
    }
    for forbidden in ["store", "db", "memory", "night"] {
        assert!(
            !graph["matrix"].contains(forbidden),
            "matrix reaches {forbidden} directly"
        );
    }
}

#[test]
fn the_checker_sees_imports_and_ignores_comments() {
    let text = "use crate::{gate::GateAction, store};\n// crate::night in a comment\nlet x = crate::llm::X;";
    let found = referenced(&code(text));
    assert_eq!(
        found,
        ["gate", "llm", "store"]
            .map(String::from)
            .into_iter()
            .collect()
    );
}

/// Table (or view) names created by the migrations; a view counts as its table's.
fn tables() -> BTreeMap<String, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let words: Vec<&str> = text.split_whitespace().collect();
        for w in words.windows(3) {
            if w[0].eq_ignore_ascii_case("CREATE")
                && (w[1].eq_ignore_ascii_case("TABLE") || w[1].eq_ignore_ascii_case("VIEW"))
            {
                let name = w[2].trim_matches(|c: char| !c.is_alphanumeric() && c != '_');
                let owner = name.strip_prefix("live_").unwrap_or(name);
                out.insert(name.to_owned(), owner.to_owned());
            }
        }
    }
    out
}

/// Whether `code` has SQL that names `table` after a keyword that reads or writes it.
fn names_table(code: &str, table: &str) -> bool {
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(2).any(|w| {
        ["FROM", "INTO", "UPDATE", "JOIN", "TABLE", "ANALYZE"].contains(&w[0]) && w[1] == table
    })
}

#[test]
fn each_table_is_queried_by_one_module() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let tables = tables();
    assert!(tables.contains_key("facts") && tables.contains_key("live_facts"));
    let mut owners: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        let module = module.trim_end_matches(".rs").to_owned();
        let text = code(&std::fs::read_to_string(file).unwrap());
        for (table, owner) in &tables {
            if names_table(&text, table) {
                owners
                    .entry(owner.clone())
                    .or_default()
                    .insert(format!("{module} ({})", rel.display()));
            }
        }
    }
    let shared: Vec<String> = owners
        .iter()
        .filter(|(_, files)| {
            let modules: BTreeSet<&str> =
                files.iter().map(|f| f.split(' ').next().unwrap()).collect();
            modules.len() > 1
        })
        .map(|(t, files)| {
            format!(
                "{t}: {}",
                files.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    assert!(
        shared.is_empty(),
        "tables queried by more than one module:\n{}",
        shared.join("\n")
    );
    assert!(owners.contains_key("facts") && owners.contains_key("messages"));
}

#[test]
fn the_table_check_sees_sql_and_not_prose() {
    assert!(names_table("\"SELECT id FROM facts WHERE x\"", "facts"));
    assert!(names_table("\"UPDATE facts f SET\"", "facts"));
    assert!(!names_table("\"SELECT id FROM facts_archive\"", "facts"));
    assert!(!names_table("the facts from the night", "facts"));
}

#[test]
fn the_store_imports_no_domain_module() {
    let graph = graph();
    let allowed: BTreeSet<String> = ["db", "reaction_key", "llm", "text", "chat"]
        .map(String::from)
        .into();
    let extra: Vec<&String> = graph["store"].difference(&allowed).collect();
    assert!(extra.is_empty(), "store imports {extra:?}");
}
