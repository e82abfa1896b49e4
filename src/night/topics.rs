//! Stage 6's pure part: carrying cluster identity over a rebuild, importance, and the health
//! line. A rebuilt cluster keeps the id and name of the old cluster it overlaps most
//! (Jaccard ≥ [`KEEP_IDENTITY`], each old cluster used once, best overlaps first), so topics
//! stay stable from night to night and only new or much-changed ones are named again.

use std::collections::HashSet;

/// Jaccard overlap needed to count as the same topic.
pub const KEEP_IDENTITY: f64 = 0.3;
/// Below this overlap with its old self, a topic is named again.
pub const RENAME_BELOW: f64 = 0.6;

/// For each new cluster (a list of fact ids), the index of the old cluster it continues and
/// their Jaccard overlap.
pub fn match_clusters(new: &[Vec<i64>], old: &[Vec<i64>]) -> Vec<Option<(usize, f64)>> {
    let old_sets: Vec<HashSet<i64>> = old.iter().map(|o| o.iter().copied().collect()).collect();
    let mut scored: Vec<(f64, usize, usize)> = Vec::new();
    for (ni, n) in new.iter().enumerate() {
        let ns: HashSet<i64> = n.iter().copied().collect();
        for (oi, os) in old_sets.iter().enumerate() {
            let inter = ns.intersection(os).count();
            if inter == 0 {
                continue;
            }
            let union = ns.union(os).count();
            scored.push((inter as f64 / union as f64, ni, oi));
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut out = vec![None; new.len()];
    let mut used = vec![false; old.len()];
    for (j, ni, oi) in scored {
        if j < KEEP_IDENTITY || out[ni].is_some() || used[oi] {
            continue;
        }
        out[ni] = Some((oi, j));
        used[oi] = true;
    }
    out
}

/// A member as importance sees it.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    pub priority: u8,
    /// Used (recalled or said again) in the last 30 days.
    pub recently_used: bool,
}

/// Importance in [0, 1]: mostly the members' mean priority, then how many were used lately,
/// then size (a topic with many memories matters more, with diminishing returns).
pub fn importance(members: &[Member]) -> f32 {
    if members.is_empty() {
        return 0.0;
    }
    let n = members.len() as f64;
    let priority = members.iter().map(|m| f64::from(m.priority)).sum::<f64>() / n / 5.0;
    let recent = members.iter().filter(|m| m.recently_used).count() as f64 / n;
    let size = (n.ln_1p() / 30f64.ln_1p()).min(1.0);
    (0.5 * priority + 0.3 * recent + 0.2 * size).clamp(0.0, 1.0) as f32
}

/// `[clustering] 200 facts → 18 clusters | avg 11.1/cluster | min 3, max 26`
pub fn health_line(facts: usize, sizes: &[usize]) -> String {
    if sizes.is_empty() {
        return format!("[clustering] {facts} facts → 0 clusters");
    }
    let avg = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    format!(
        "[clustering] {facts} facts → {} cluster{} | avg {avg:.1}/cluster | min {}, max {}",
        sizes.len(),
        if sizes.len() == 1 { "" } else { "s" },
        sizes.iter().min().unwrap(),
        sizes.iter().max().unwrap()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_follows_the_largest_overlap() {
        let old = vec![vec![1, 2, 3, 4], vec![10, 11]];
        let new = vec![vec![10, 11, 12], vec![1, 2, 3], vec![4, 20, 21, 22, 23]];
        let m = match_clusters(&new, &old);
        assert_eq!(m[0].map(|x| x.0), Some(1));
        assert_eq!(m[1].map(|x| x.0), Some(0));
        assert_eq!(
            m[2], None,
            "old cluster 0 is taken, and the overlap is small anyway"
        );
        assert!((m[1].unwrap().1 - 0.75).abs() < 1e-9);
        assert!(match_clusters(&new, &[]).iter().all(Option::is_none));
    }

    #[test]
    fn importance_rises_with_priority_use_and_size() {
        let m = |p, r| Member {
            priority: p,
            recently_used: r,
        };
        let low = importance(&[m(2, false), m(2, false)]);
        let high = importance(&[m(5, false), m(5, false)]);
        let used = importance(&[m(2, true), m(2, true)]);
        assert!(high > low && used > low);
        assert!(importance(&[m(3, false); 20]) > importance(&[m(3, false)]));
        assert!(importance(&[m(5, true); 100]) <= 1.0);
        assert_eq!(importance(&[]), 0.0);
    }

    #[test]
    fn the_health_line() {
        assert_eq!(
            health_line(200, &[3, 26, 11]),
            "[clustering] 200 facts → 3 clusters | avg 13.3/cluster | min 3, max 26"
        );
        assert_eq!(health_line(0, &[]), "[clustering] 0 facts → 0 clusters");
    }
}
