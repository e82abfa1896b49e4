//! The container files stay true to the code: every `THREEAM_*` key the compose file sets
//! is one the configuration reads and the README documents, and the Dockerfile copies every
//! directory the build pulls files from (`include_bytes!`, `include_str!`, migrations).

use std::collections::BTreeSet;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `THREEAM_*` keys set in the compose file's `environment:` mappings.
fn compose_keys(compose: &str) -> BTreeSet<String> {
    let key = regex::Regex::new(r"^\s+(THREEAM_[A-Z0-9_]+):").unwrap();
    compose
        .lines()
        .filter_map(|l| key.captures(l).map(|c| c[1].to_owned()))
        .collect()
}

#[test]
fn compose_sets_only_keys_the_configuration_reads() {
    let compose = read("docker/compose.yaml");
    let keys = compose_keys(&compose);
    assert!(
        keys.contains("THREEAM_DATABASE_URL") && keys.len() >= 3,
        "{keys:?}"
    );
    let config = read("src/config.rs");
    let readme = read("README.md");
    for k in &keys {
        assert!(
            config.contains(&format!("\"{k}\"")),
            "{k} is set in docker/compose.yaml but src/config.rs never reads it"
        );
        // The reference names keys as `section.key`: THREEAM_LLM_CHAT_URL is llm.chat_url.
        let rest = k.trim_start_matches("THREEAM_").to_lowercase();
        let dotted = rest.replacen('_', ".", 1);
        assert!(
            readme.contains(k.as_str()) || readme.contains(&format!("`{dotted}`")),
            "{k} is set in docker/compose.yaml but the README's configuration reference does not name it"
        );
    }
}

#[test]
fn the_dockerfile_copies_what_the_build_includes() {
    let dockerfile = read("docker/Dockerfile");
    let included = regex::Regex::new(r#"(?:include_bytes|include_str)!\("([^"]+)"\)"#).unwrap();
    let mut dirs = BTreeSet::from(["src".to_owned(), "migrations".to_owned()]);
    let mut stack = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for c in included.captures_iter(&text) {
                let target = path.parent().unwrap().join(&c[1]);
                let target = target.canonicalize().unwrap_or_else(|_| target.clone());
                let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .canonicalize()
                    .unwrap();
                if let Ok(rel) = target.strip_prefix(&root) {
                    let first = rel.components().next().unwrap();
                    dirs.insert(first.as_os_str().to_string_lossy().into_owned());
                }
            }
        }
    }
    assert!(dirs.contains("assets"), "{dirs:?}");
    for d in &dirs {
        let copied = dockerfile
            .lines()
            .any(|l| l.starts_with("COPY ") && l.split_whitespace().nth(1) == Some(d.as_str()));
        assert!(
            copied,
            "the build reads {d}/ but docker/Dockerfile does not COPY it"
        );
    }
}
