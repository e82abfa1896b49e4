//! Reference results on the generated shapes: the cluster count found in automatic mode and
//! its NMI against the groups the points were drawn from, frozen to three decimals so any
//! change to the method shows; and the numbering every result keeps.

use threeam::cluster::{Clustering, Options, cluster, metrics};

use super::shapes;

/// (set, clusters found, NMI): measured once with the method as specified in
/// `torque-clustering.md`; a change here is a change of behaviour.
const EXPECTED: [(&str, usize, f64); 11] = [
    ("hepta", 7, 1.000),
    ("tetra", 4, 1.000),
    ("target", 2, 0.901),
    ("atom", 2, 1.000),
    ("moons", 2, 1.000),
    ("rings", 2, 1.000),
    ("spiral", 2, 1.000),
    ("unbalanced", 3, 1.000),
    ("r15", 15, 1.000),
    ("overlap", 15, 0.396),
    ("density", 2, 0.977),
];

#[test]
fn reference_counts_and_nmi() {
    let sets = shapes::all();
    assert_eq!(sets.len(), EXPECTED.len());
    let mut failures = Vec::new();
    for (set, (name, want_k, want_nmi)) in sets.iter().zip(EXPECTED) {
        assert_eq!(set.name, name);
        let result = cluster(&set.points, &Options::default()).unwrap();
        let nmi = metrics::nmi(&set.truth, &result.labels).unwrap();
        if result.k != want_k || format!("{nmi:.3}") != format!("{want_nmi:.3}") {
            failures.push(format!(
                "(\"{name}\", {}, {nmi:.3}), // want k {want_k}, nmi {want_nmi:.3}",
                result.k
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn labels_are_numbered_by_smallest_member() {
    for set in shapes::all() {
        let name = set.name;
        let result = cluster(&set.points, &Options::default()).unwrap();
        assert_numbered(name, &result, set.points.len());
    }
}

/// Labels 1..=k first appear in order, the hierarchy has n - 1 connections, and the cut
/// leaves k clusters. Shared with the published sets' test.
pub fn assert_numbered(name: &str, result: &Clustering, n: usize) {
    let mut next = 1;
    for &label in &result.labels {
        assert!(label <= next, "{name}: label {label} before {next}");
        if label == next {
            next += 1;
        }
    }
    assert_eq!(next - 1, result.k, "{name}");
    assert_eq!(result.connections.len(), n - 1, "{name}");
    assert_eq!(result.cut, result.k - 1, "{name}");
}
