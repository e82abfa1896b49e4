//! The published benchmark sets (Gagolewski's clustering-data-v1: SIPU, FCPS and Graves
//! batteries, <https://github.com/gagolews/clustering-data-v1>, AGPL-3, so not copied into
//! this repository): the reference results of issue 4 (exact cluster counts in automatic
//! mode, the best NMI over each set's `labels*` files) and agreement with the oracle.
//! Ignored unless asked for: `THREEAM_CLUSTERING_DATA=/path/to/clustering cargo test
//! --test pure -- --ignored cluster::published::`; `scripts/test` runs them when it finds
//! the sets (see its THREEAM_CLUSTERING_DATA).

use std::path::{Path, PathBuf};

use threeam::cluster::{Options, cluster, io, metrics};

use super::datasets::assert_numbered;
use super::oracle::{ORACLE_MAX_POINTS, assert_agree, unusual_options};

fn data_root() -> PathBuf {
    let root = std::env::var_os("THREEAM_CLUSTERING_DATA")
        .map(PathBuf::from)
        .expect(
            "set THREEAM_CLUSTERING_DATA to a folder with sipu/, fcps/ and graves/ from \
             https://github.com/gagolews/clustering-data-v1",
        );
    assert!(root.is_dir(), "no clustering data at {}", root.display());
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
#[ignore = "needs the published clustering sets in THREEAM_CLUSTERING_DATA"]
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
#[ignore = "needs the published clustering sets in THREEAM_CLUSTERING_DATA"]
fn labels_are_numbered_by_smallest_member() {
    let root = data_root();
    for (group, name, _, _) in EXPECTED {
        let points = io::read_points(&root.join(group).join(format!("{name}.data.gz"))).unwrap();
        let result = cluster(&points, &Options::default()).unwrap();
        assert_numbered(name, &result, points.len());
    }
}

#[test]
#[ignore = "needs the published clustering sets in THREEAM_CLUSTERING_DATA"]
fn every_published_set_small_enough_agrees_with_the_oracle() {
    let root = data_root();
    let mut checked = 0;
    for group in ["sipu", "fcps", "graves"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(group))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".data.gz"))
            .collect();
        files.sort();
        for file in files {
            let points = io::read_points(&file).unwrap();
            if points.len() > ORACLE_MAX_POINTS {
                continue;
            }
            assert_agree(&points, &Options::default(), &file.display().to_string());
            checked += 1;
        }
    }
    assert_eq!(checked, 29, "published sets within the oracle limit");
}

#[test]
#[ignore = "needs the published clustering sets in THREEAM_CLUSTERING_DATA"]
fn noise_and_forced_counts_agree_with_the_oracle_on_published_sets() {
    let root = data_root();
    for name in ["sipu/compound", "fcps/target", "graves/ring_outliers"] {
        let points = io::read_points(&root.join(format!("{name}.data.gz"))).unwrap();
        for options in unusual_options() {
            assert_agree(&points, &options, name);
        }
    }
}
