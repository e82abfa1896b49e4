//! NMI and AMI against values computed by scikit-learn 1.9.1
//! (`normalized_mutual_info_score` / `adjusted_mutual_info_score`,
//! `average_method="geometric"`).

use threeam::cluster::metrics::{ami, nmi};

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() < 1e-10
}

#[test]
fn small_tables_match_reference_values() {
    let cases: [(&[i64], &[usize], f64, f64); 3] = [
        (
            &[0, 0, 0, 1, 1, 1],
            &[0, 0, 1, 1, 2, 2],
            0.5295405780575618,
            0.3104555031977022,
        ),
        // Noise class 0 in the truth counts as a class of its own.
        (
            &[0, 1, 1, 2, 2, 0, 1, 2, 2, 1],
            &[1, 1, 1, 2, 2, 2, 3, 3, 3, 3],
            0.36924974060301224,
            0.13754246419687735,
        ),
        (&[1, 1, 2, 2, 3, 3], &[7, 7, 5, 5, 9, 9], 1.0, 1.0),
    ];
    for (truth, found, want_nmi, want_ami) in cases {
        let (n, a) = (nmi(truth, found).unwrap(), ami(truth, found).unwrap());
        assert!(close(n, want_nmi), "nmi {n} vs {want_nmi} for {truth:?}");
        assert!(close(a, want_ami), "ami {a} vs {want_ami} for {truth:?}");
    }
}

/// Labels from a fixed linear congruential generator (the reference values were computed
/// from the same sequence).
fn generated(n: usize, ka: u64, kb: u64, seed: u64) -> (Vec<u64>, Vec<u64>) {
    let mut x = seed;
    let mut next = move || {
        x = (x * 1_103_515_245 + 12_345) % (1 << 31);
        x >> 16
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let ai = next() % ka;
        a.push(ai);
        let bi = if next() % 10 < 6 {
            ai % kb
        } else {
            next() % kb
        };
        b.push(bi);
    }
    (a, b)
}

#[test]
fn larger_tables_match_reference_values() {
    let cases = [
        (300, 5, 8, 1, 0.3836714120313365, 0.36594839800797396),
        (5000, 40, 35, 2, 0.4628559326688305, 0.4406092429323742),
        (2000, 3, 60, 3, 0.3730630891321987, 0.36151511061226543),
    ];
    for (n, ka, kb, seed, want_nmi, want_ami) in cases {
        let (a, b) = generated(n, ka, kb, seed);
        let (got_nmi, got_ami) = (nmi(&a, &b).unwrap(), ami(&a, &b).unwrap());
        assert!(
            close(got_nmi, want_nmi),
            "n={n}: nmi {got_nmi} vs {want_nmi}"
        );
        assert!(
            close(got_ami, want_ami),
            "n={n}: ami {got_ami} vs {want_ami}"
        );
    }
}

#[test]
fn scores_are_symmetric_and_ignore_label_names() {
    let (a, b) = generated(500, 6, 9, 11);
    let renamed: Vec<u64> = b.iter().map(|x| 100 - x).collect();
    for score in [nmi::<u64, u64>, ami::<u64, u64>] {
        let base = score(&a, &b).unwrap();
        assert!(close(base, score(&b, &a).unwrap()));
        assert!(close(base, score(&a, &renamed).unwrap()));
    }
}

#[test]
fn degenerate_labellings() {
    let one = [5; 8];
    let split = [1, 1, 1, 1, 2, 2, 2, 2];
    assert_eq!(nmi(&one, &one).unwrap(), 1.0);
    assert_eq!(ami(&one, &one).unwrap(), 1.0);
    assert_eq!(nmi(&one, &split).unwrap(), 0.0);
    assert!(ami(&one, &split).unwrap().abs() < 1e-12);
    let empty: [u8; 0] = [];
    assert_eq!(nmi(&empty, &empty).unwrap(), 1.0);
    assert!(nmi(&one, &split[..3]).is_err());
    assert!(ami(&one, &split[..3]).is_err());
}
