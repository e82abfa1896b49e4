//! Edge cases and documented behaviour of `threeam::cluster`.

use threeam::cluster::{ClusterError, Metric, Options, Points, cluster};

use super::shapes;

fn points(rows: &[&[f32]]) -> Points {
    Points::from_rows(rows).unwrap()
}

fn forced(k: usize) -> Options {
    Options {
        k: Some(k),
        ..Options::default()
    }
}

#[test]
fn empty_and_single_inputs() {
    let empty = cluster(&Points::<f32>::default(), &Options::default()).unwrap();
    assert_eq!((empty.k, empty.cut, empty.labels.len()), (0, 0, 0));
    assert!(empty.connections.is_empty());

    let one = cluster(&points(&[&[1.0, 2.0]]), &forced(3)).unwrap();
    assert_eq!((one.k, one.cut, one.labels), (1, 0, vec![1]));
}

#[test]
fn two_points_form_one_cluster_unless_forced() {
    let pair = points(&[&[0.0], &[5.0]]);
    // The only connection is first-layer, so nothing is a cut candidate.
    let auto = cluster(&pair, &Options::default()).unwrap();
    assert_eq!((auto.k, auto.labels), (1, vec![1, 1]));
    let split = cluster(&pair, &forced(2)).unwrap();
    assert_eq!((split.k, split.cut, split.labels), (2, 1, vec![1, 2]));
}

#[test]
fn separated_groups_are_found_and_numbered_by_smallest_member() {
    let rows: [&[f32]; 6] = [
        &[10.0, 0.0],
        &[0.0, 0.0],
        &[0.5, 0.0],
        &[10.5, 0.0],
        &[0.0, 0.4],
        &[10.0, 0.6],
    ];
    let result = cluster(&points(&rows), &Options::default()).unwrap();
    assert_eq!(result.k, 2);
    assert_eq!(result.labels, vec![1, 2, 2, 1, 2, 1]);
    // The cut connection is the one between the groups.
    let top = result.connections[0];
    assert!(top.layer > 1 && top.distance > 9.0);
}

#[test]
fn forced_counts_are_capped_by_the_number_of_points() {
    let rows: [&[f32]; 4] = [&[0.0], &[1.0], &[3.0], &[7.0]];
    let all = cluster(&points(&rows), &forced(10)).unwrap();
    assert_eq!((all.k, all.cut, all.labels), (4, 3, vec![1, 2, 3, 4]));
    let automatic = cluster(&points(&rows), &forced(0)).unwrap();
    assert_eq!(
        automatic,
        cluster(&points(&rows), &Options::default()).unwrap()
    );
}

#[test]
fn connections_carry_consistent_torque() {
    let result = cluster(&shapes::unbalanced().points, &Options::default()).unwrap();
    for pair in result.connections.windows(2) {
        assert!(pair[0].torque >= pair[1].torque, "sorted by torque");
    }
    for c in &result.connections {
        assert!(c.mass_from <= c.mass_to, "the lighter community links");
        assert_eq!(c.torque, c.mass() * c.r);
        assert!((c.r - c.distance * c.distance).abs() <= 1e-12 * c.r.max(1.0));
        if c.layer == 1 {
            assert_eq!((c.mass_from, c.mass_to), (1, 1));
        }
    }
}

#[test]
fn identical_points_are_one_cluster_with_zero_torque() {
    let rows = vec![vec![3.0f32, -1.0]; 12];
    let result = cluster(&Points::from_rows(&rows).unwrap(), &Options::default()).unwrap();
    assert_eq!((result.k, result.cut), (1, 0));
    assert!(
        result
            .connections
            .iter()
            .all(|c| c.torque == 0.0 && c.distance == 0.0)
    );
    // Ties at distance zero go to the lowest index: everyone links to point 0, and 0 to 1
    // (1's link back to 0 is the same pair and is dropped).
    for c in &result.connections {
        assert_eq!(c.layer, 1);
        assert_eq!(c.to, if c.from == 0 { 1 } else { 0 }, "{c:?}");
    }
    assert!(result.connections.iter().all(|c| c.from != 1));
}

#[test]
fn a_few_duplicates_do_not_change_the_clusters() {
    let original = shapes::hepta().points;
    let base = cluster(&original, &Options::default()).unwrap();
    let mut rows: Vec<Vec<f64>> = (0..original.len())
        .map(|i| original.row(i).to_vec())
        .collect();
    rows.extend(
        (0..original.len())
            .step_by(10)
            .map(|i| original.row(i).to_vec()),
    );
    let with_duplicates = cluster(&Points::from_rows(&rows).unwrap(), &Options::default()).unwrap();
    assert_eq!(with_duplicates.k, base.k);
    assert_eq!(with_duplicates.labels[..original.len()], base.labels[..]);
}

#[test]
fn noise_marks_points_outside_cluster_cores() {
    let set = shapes::target().points;
    let plain = cluster(&set, &Options::default()).unwrap();
    let noisy = cluster(
        &set,
        &Options {
            noise: true,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!((noisy.k, noisy.cut), (plain.k, plain.cut));
    let noise = noisy.labels.iter().filter(|&&l| l == 0).count();
    assert!(noise > 0 && noise < set.len() / 2, "{noise} noise points");
    for (with, without) in noisy.labels.iter().zip(&plain.labels) {
        assert!(*with == 0 || with == without);
    }
    for cluster in 1..=noisy.k {
        assert!(
            noisy.labels.contains(&cluster),
            "cluster {cluster} keeps a core"
        );
    }
}

#[test]
fn cosine_ignores_row_lengths_and_rejects_zero_rows() {
    let set = shapes::atom().points;
    let cosine = Options {
        metric: Metric::Cosine,
        ..Options::default()
    };
    let base = cluster(&set, &cosine).unwrap();
    // Powers of two rescale exactly, so the normalised rows are identical.
    let rows: Vec<Vec<f64>> = (0..set.len())
        .map(|i| {
            set.row(i)
                .iter()
                .map(|x| x * 2f64.powi(i as i32 % 7 - 3))
                .collect()
        })
        .collect();
    let stretched = cluster(&Points::from_rows(&rows).unwrap(), &cosine).unwrap();
    assert_eq!(stretched, base);

    let with_zero = points(&[&[1.0, 0.0], &[0.0, 0.0], &[0.0, 1.0]]);
    assert_eq!(
        cluster(&with_zero, &cosine),
        Err(ClusterError::ZeroVector { row: 1 })
    );
    assert!(cluster(&with_zero, &Options::default()).is_ok());
}

#[test]
fn invalid_points_are_rejected() {
    assert_eq!(
        Points::new(vec![1.0f32, f32::NAN, 0.0, 0.0], 2),
        Err(ClusterError::NotFinite { row: 0 })
    );
    assert_eq!(
        Points::new(vec![1.0f32, 2.0, 3.0], 2),
        Err(ClusterError::Ragged { len: 3, dim: 2 })
    );
    assert_eq!(
        Points::from_rows(&[vec![1.0f64, 2.0], vec![3.0]]),
        Err(ClusterError::RowLength {
            row: 1,
            got: 1,
            expected: 2
        })
    );
}

#[test]
fn single_and_double_precision_agree_on_exact_values() {
    let set = shapes::tetra().points;
    // Multiples of 1/64 within range are exact in both types.
    let round = |x: f64| (x * 64.0).round() / 64.0;
    let wide: Vec<f64> = set.as_slice().iter().map(|&x| round(x)).collect();
    let narrow: Vec<f32> = wide.iter().map(|&x| x as f32).collect();
    let wide = cluster(&Points::new(wide, set.dim()).unwrap(), &Options::default()).unwrap();
    let narrow = cluster(
        &Points::new(narrow, set.dim()).unwrap(),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(wide, narrow);
}

#[test]
fn metric_parses_from_text() {
    assert_eq!("cosine".parse::<Metric>(), Ok(Metric::Cosine));
    assert_eq!("Euclidean".parse::<Metric>(), Ok(Metric::Euclidean));
    assert!("manhattan".parse::<Metric>().is_err());
}
