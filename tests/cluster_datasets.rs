//! The reference results of issue 4 on the shared benchmark sets: exact cluster counts in
//! automatic mode and the best NMI over each set's `labels*` files.

use std::path::{Path, PathBuf};

use threeam::cluster::{Options, cluster, io, metrics};

fn data_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/clustering");
    assert!(
        root.is_dir(),
        "the shared clustering data is missing at {} (clone shared/ beside the repository)",
        root.display()
    );
    root
}

/// Every `NAME.labels*` file of a set.
fn truth_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let prefix = format!("{name}.labels");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .is_some_and(|f| f.starts_with(&prefix))
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no labels for {name} in {}",
        dir.display()
    );
    files
}

const EXPECTED: [(&str, &str, usize, f64); 17] = [
    ("sipu", "flame", 2, 1.000),
    ("sipu", "spiral", 3, 1.000),
    ("sipu", "jain", 7, 0.553),
    ("sipu", "pathbased", 6, 0.757),
    ("sipu", "aggregation", 4, 0.847),
    ("sipu", "compound", 3, 0.942),
    ("sipu", "r15", 15, 0.989),
    ("sipu", "d31", 31, 0.957),
    ("fcps", "hepta", 7, 1.000),
    ("fcps", "lsun", 3, 1.000),
    ("fcps", "target", 2, 0.954),
    ("fcps", "tetra", 4, 1.000),
    ("fcps", "wingnut", 2, 1.000),
    ("fcps", "twodiamonds", 12, 0.525),
    ("fcps", "chainlink", 2, 1.000),
    ("fcps", "atom", 2, 1.000),
    ("fcps", "engytime", 35, 0.419),
];

#[test]
fn reference_counts_and_nmi() {
    let root = data_root();
    let mut failures = Vec::new();
    for (group, name, want_k, want_nmi) in EXPECTED {
        let dir = root.join(group);
        let points = io::read_points(&dir.join(format!("{name}.data.gz"))).unwrap();
        let result = cluster(&points, &Options::default()).unwrap();
        let best = truth_files(&dir, name)
            .iter()
            .map(|f| metrics::nmi(&io::read_labels(f).unwrap(), &result.labels).unwrap())
            .fold(f64::NEG_INFINITY, f64::max);
        if result.k != want_k || format!("{best:.3}") != format!("{want_nmi:.3}") {
            failures.push(format!(
                "{name}: k {} (want {want_k}), nmi {best:.4} (want {want_nmi:.3})",
                result.k
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn labels_are_numbered_by_smallest_member() {
    let root = data_root();
    for (group, name, _, _) in EXPECTED {
        let points = io::read_points(&root.join(group).join(format!("{name}.data.gz"))).unwrap();
        let result = cluster(&points, &Options::default()).unwrap();
        let mut next = 1;
        for &label in &result.labels {
            assert!(label <= next, "{name}: label {label} before {next}");
            if label == next {
                next += 1;
            }
        }
        assert_eq!(next - 1, result.k, "{name}");
        assert_eq!(result.connections.len(), points.len() - 1, "{name}");
        assert_eq!(result.cut, result.k - 1, "{name}");
    }
}
