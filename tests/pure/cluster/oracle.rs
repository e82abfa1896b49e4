//! The fast path (both spanning-tree methods) against the literal O(n^2) oracle, and the
//! invariances the method promises.

use proptest::prelude::*;
use threeam::cluster::{
    ClusterError, Clustering, Coordinate, Metric, Options, Points, TreeMethod, cluster_with, oracle,
};

/// The oracle's n x n matrix and per-layer scans are slow in unoptimised test builds;
/// larger published sets (a2, a3, s1-s4, unbalance, birch1-2, worms_2) are left to
/// `threeam bench cluster`.
pub const ORACLE_MAX_POINTS: usize = 4096;

fn all_methods<T: Coordinate>(
    points: &Points<T>,
    options: &Options,
) -> [Result<Clustering, ClusterError>; 3] {
    [TreeMethod::Prim, TreeMethod::KdTree, TreeMethod::Auto]
        .map(|method| cluster_with(points, options, method))
}

/// Prim is slow in unoptimised builds; above this size the published sets check the k-d tree
/// (which `Auto` picks for them) and leave Prim to the random and high-dimensional tests.
const PRIM_MAX_POINTS: usize = 2048;

pub fn assert_agree<T: Coordinate>(points: &Points<T>, options: &Options, what: &str) {
    let expected = oracle::cluster(points, options);
    for method in [TreeMethod::Prim, TreeMethod::KdTree, TreeMethod::Auto] {
        if method == TreeMethod::Prim && points.len() > PRIM_MAX_POINTS {
            continue;
        }
        let got = cluster_with(points, options, method);
        assert_eq!(
            got, expected,
            "{what}: {method:?} disagrees with the oracle"
        );
    }
}

/// Noise detection, a forced count with noise, and the cosine metric: the options the
/// default-only checks leave out.
pub fn unusual_options() -> [Options; 3] {
    [
        Options {
            noise: true,
            ..Options::default()
        },
        Options {
            k: Some(5),
            noise: true,
            ..Options::default()
        },
        Options {
            metric: Metric::Cosine,
            ..Options::default()
        },
    ]
}

#[test]
fn every_generated_set_agrees_with_the_oracle() {
    let sets = super::shapes::all();
    for set in &sets {
        assert!(set.points.len() <= ORACLE_MAX_POINTS, "{}", set.name);
        assert_agree(&set.points, &Options::default(), set.name);
    }
    assert_eq!(sets.len(), 11);
}

#[test]
fn noise_and_forced_counts_agree_with_the_oracle_on_generated_sets() {
    for set in [
        super::shapes::target(),
        super::shapes::moons(),
        super::shapes::rings(),
    ] {
        for options in unusual_options() {
            assert_agree(&set.points, &options, set.name);
        }
    }
}

/// Coarse grids are full of equal distances and duplicate points, which is where the
/// tie rules of the two constructions must coincide.
#[test]
fn larger_grids_with_ties_agree_with_the_oracle() {
    for (n, dim, side) in [(1500, 2, 30), (1200, 3, 6), (1100, 2, 4)] {
        let mut state = 0x2545_f491_4f6c_dd1d_u64 ^ n as u64;
        let data: Vec<f32> = (0..n * dim)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % side) as f32
            })
            .collect();
        let points = Points::new(data, dim).unwrap();
        assert_agree(
            &points,
            &Options::default(),
            &format!("grid n={n} dim={dim}"),
        );
    }
}

/// Big enough that Prim splits its scans across threads, in 64 dimensions (the AVX
/// kernel's full lanes) and 61 (its scalar tail).
#[test]
fn parallel_prim_agrees_with_the_oracle() {
    for (n, dim) in [(1200, 64), (900, 61)] {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ dim as u64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let centres: Vec<Vec<f64>> = (0..12)
            .map(|_| (0..dim).map(|_| uniform()).collect())
            .collect();
        let mut data = Vec::with_capacity(n * dim);
        for i in 0..n {
            let centre = &centres[i * 7 % centres.len()];
            data.extend(centre.iter().map(|c| (c + 0.15 * uniform()) as f32));
        }
        let points = Points::new(data, dim).unwrap();
        for metric in [Metric::Euclidean, Metric::Cosine] {
            let options = Options {
                metric,
                ..Options::default()
            };
            let fast = cluster_with(&points, &options, TreeMethod::Prim).unwrap();
            assert_eq!(
                Ok(&fast),
                oracle::cluster(&points, &options).as_ref(),
                "n={n} dim={dim} {metric:?}"
            );
            assert_eq!(fast.k, 12, "n={n} dim={dim} {metric:?}");
        }
    }
}

fn grid_points(
    max_n: usize,
    dims: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = Points> {
    dims.prop_flat_map(move |dim| {
        prop::collection::vec(prop::collection::vec(-3i8..4, dim), 0..max_n).prop_map(|rows| {
            let rows: Vec<Vec<f32>> = rows
                .into_iter()
                .map(|r| r.into_iter().map(f32::from).collect())
                .collect();
            Points::from_rows(&rows).unwrap()
        })
    })
}

fn continuous_points(
    max_n: usize,
    dims: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = Points<f64>> {
    dims.prop_flat_map(move |dim| {
        prop::collection::vec(prop::collection::vec(-100.0f64..100.0, dim), 2..max_n)
            .prop_map(|rows| Points::from_rows(&rows).unwrap())
    })
}

fn options() -> impl Strategy<Value = Options> {
    (
        prop_oneof![Just(Metric::Euclidean), Just(Metric::Cosine)],
        prop::option::of(0usize..6),
        any::<bool>(),
    )
        .prop_map(|(metric, k, noise)| Options { metric, k, noise })
}

/// True when all pairwise distances differ clearly enough that rounding cannot reorder
/// them.
fn distinct_distances(points: &Points<f64>) -> bool {
    let mut gaps = Vec::new();
    for a in 0..points.len() {
        for b in a + 1..points.len() {
            let g: f64 = points
                .row(a)
                .iter()
                .zip(points.row(b))
                .map(|(x, y)| (x - y) * (x - y))
                .sum();
            gaps.push(g);
        }
    }
    gaps.sort_by(f64::total_cmp);
    gaps.windows(2).all(|w| w[1] > w[0] * (1.0 + 1e-9)) && gaps.first().is_none_or(|&g| g > 0.0)
}

/// Labels renumbered by first appearance, so that partitions compare regardless of the
/// numbering; 0 (noise) stays 0.
fn canonical(labels: &[usize]) -> Vec<usize> {
    let mut names = std::collections::HashMap::new();
    labels
        .iter()
        .map(|&l| {
            if l == 0 {
                return 0;
            }
            let next = names.len() + 1;
            *names.entry(l).or_insert(next)
        })
        .collect()
}

/// What must survive reordering or rescaling the input: the partition, the cut, and the
/// torque profile of the hierarchy.
fn shape(result: &Clustering) -> (usize, usize, Vec<(usize, usize, usize)>) {
    let masses = result
        .connections
        .iter()
        .map(|c| (c.layer, c.mass_from, c.mass_to))
        .collect();
    (result.k, result.cut, masses)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn fast_matches_oracle_with_ties_and_duplicates(points in grid_points(48, 1..=3), options in options()) {
        let expected = oracle::cluster(&points, &options);
        for got in all_methods(&points, &options) {
            prop_assert_eq!(&got, &expected);
        }
    }

    #[test]
    fn fast_matches_oracle_in_high_dimensions(
        points in grid_points(40, 9..=40),
        options in options(),
    ) {
        prop_assert_eq!(cluster_with(&points, &options, TreeMethod::Auto), oracle::cluster(&points, &options));
    }

    #[test]
    fn fast_matches_oracle_on_continuous_data(points in continuous_points(60, 1..=20), options in options()) {
        let expected = oracle::cluster(&points, &options);
        for got in all_methods(&points, &options) {
            prop_assert_eq!(&got, &expected);
        }
    }

    #[test]
    fn labels_do_not_depend_on_input_order(
        (points, order) in continuous_points(60, 1..=4).prop_flat_map(|p| {
            let order: Vec<usize> = (0..p.len()).collect();
            (Just(p), Just(order).prop_shuffle())
        }),
    ) {
        prop_assume!(distinct_distances(&points));
        let permuted = points.permuted(&order);
        let unshuffle = |labels: &[usize]| {
            let mut back = vec![0; order.len()];
            for (position, &original) in order.iter().enumerate() {
                back[original] = labels[position];
            }
            back
        };
        let base = cluster_with(&points, &Options::default(), TreeMethod::Auto).unwrap();
        let shuffled = cluster_with(&permuted, &Options::default(), TreeMethod::Auto).unwrap();
        prop_assert_eq!(canonical(&unshuffle(&shuffled.labels)), canonical(&base.labels));
        prop_assert_eq!(shape(&shuffled), shape(&base));

        // With noise on, two equally large cores of one cluster can only be told apart by
        // index, so which one is kept may change; how many points each cluster keeps may not.
        let noisy = Options { noise: true, ..Options::default() };
        let kept = |clusters: &[usize], labels: &[usize]| {
            let mut kept = vec![0usize; clusters.len() + 1];
            for (&cluster, &label) in canonical(clusters).iter().zip(labels) {
                kept[cluster] += usize::from(label != 0);
            }
            kept
        };
        let base_noisy = cluster_with(&points, &noisy, TreeMethod::Auto).unwrap();
        let shuffled_noisy = cluster_with(&permuted, &noisy, TreeMethod::Auto).unwrap();
        prop_assert_eq!(
            kept(&base.labels, &base_noisy.labels),
            kept(&base.labels, &unshuffle(&shuffled_noisy.labels))
        );
    }

    #[test]
    fn uniform_scaling_changes_nothing(
        points in continuous_points(60, 1..=4),
        factor in prop_oneof![(-20i32..20).prop_map(|e| 2f64.powi(e)), 1e-3f64..1e3],
        (k, noise) in (prop::option::of(0usize..6), any::<bool>()),
    ) {
        // Cosine is left to the power-of-two test below: an arbitrary factor re-rounds the
        // normalised rows, and distinct Euclidean distances do not keep angles apart.
        prop_assume!(distinct_distances(&points));
        let options = Options { k, noise, ..Options::default() };
        let base = cluster_with(&points, &options, TreeMethod::Auto).unwrap();
        let scaled = cluster_with(&points.scaled(factor).unwrap(), &options, TreeMethod::Auto).unwrap();
        prop_assert_eq!(&scaled.labels, &base.labels);
        prop_assert_eq!(shape(&scaled), shape(&base));
    }

    #[test]
    fn powers_of_two_rescale_tied_data_exactly(points in grid_points(48, 1..=3), exponent in -30i32..30, options in options()) {
        let base = cluster_with(&points, &options, TreeMethod::Auto);
        let scaled = cluster_with(&points.scaled(2f64.powi(exponent)).unwrap(), &options, TreeMethod::Auto);
        match (base, scaled) {
            (Ok(base), Ok(scaled)) => {
                prop_assert_eq!(&scaled.labels, &base.labels);
                prop_assert_eq!(shape(&scaled), shape(&base));
            }
            (base, scaled) => prop_assert_eq!(base.err(), scaled.err()),
        }
    }
}
