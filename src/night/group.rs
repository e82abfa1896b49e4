//! Stage 1's pure part: grouping the day's exchanges by topic so each extraction call sees
//! related talk together. Greedy and deterministic, in time order: an exchange joins the
//! group whose centroid is most similar (cosine ≥ [`JOIN_SIMILARITY`]) if it has room, else
//! starts a new group. A small day is one group, and groups too small to be worth a call of
//! their own are pooled, in time order, into shared groups.

/// At or below this many exchanges, the whole day is one group.
pub const SMALL_DAY: usize = 6;
/// Most exchanges in one group (one extraction call).
pub const MAX_GROUP: usize = 10;
/// Most characters of transcript in one group (the small model's prompt stays short).
pub const MAX_GROUP_CHARS: usize = 6000;
/// Cosine similarity to a group's centroid needed to join it.
pub const JOIN_SIMILARITY: f32 = 0.45;
/// Groups smaller than this are pooled with other small ones.
pub const MIN_GROUP: usize = 3;

/// Groups of indices into `vectors` (each group in time order; groups ordered by their first
/// exchange). `sizes[i]` is exchange i's transcript length in characters.
pub fn group_by_topic(vectors: &[Vec<f32>], sizes: &[usize]) -> Vec<Vec<usize>> {
    let n = vectors.len();
    if n == 0 {
        return Vec::new();
    }
    let total: usize = sizes.iter().sum();
    if n <= SMALL_DAY && total <= MAX_GROUP_CHARS {
        return vec![(0..n).collect()];
    }
    struct G {
        members: Vec<usize>,
        sum: Vec<f32>,
        chars: usize,
    }
    let mut groups: Vec<G> = Vec::new();
    for i in 0..n {
        let v = &vectors[i];
        let best = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.members.len() < MAX_GROUP && g.chars + sizes[i] <= MAX_GROUP_CHARS)
            .map(|(gi, g)| (gi, cosine(&g.sum, v)))
            .filter(|(_, s)| *s >= JOIN_SIMILARITY)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        match best {
            Some((gi, _)) => {
                let g = &mut groups[gi];
                g.members.push(i);
                g.chars += sizes[i];
                for (s, x) in g.sum.iter_mut().zip(v) {
                    *s += x;
                }
            }
            None => groups.push(G {
                members: vec![i],
                sum: v.clone(),
                chars: sizes[i],
            }),
        }
    }
    // Pool the small groups, in time order, into shared ones.
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut small: Vec<usize> = Vec::new();
    for g in groups {
        if g.members.len() >= MIN_GROUP {
            out.push(g.members);
        } else {
            small.extend(g.members);
        }
    }
    small.sort_unstable();
    let mut cur: Vec<usize> = Vec::new();
    let mut chars = 0;
    for i in small {
        if !cur.is_empty() && (cur.len() == MAX_GROUP || chars + sizes[i] > MAX_GROUP_CHARS) {
            out.push(std::mem::take(&mut cur));
            chars = 0;
        }
        cur.push(i);
        chars += sizes[i];
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.sort_by_key(|g| g[0]);
    out
}

/// Cosine similarity; 0 for a zero vector.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn axis(i: usize, noise: f32) -> Vec<f32> {
        let mut v = vec![noise; 8];
        v[i] = 1.0;
        v
    }

    #[test]
    fn a_small_day_is_one_group() {
        let v: Vec<Vec<f32>> = (0..5).map(|i| axis(i, 0.0)).collect();
        assert_eq!(group_by_topic(&v, &[100; 5]), vec![vec![0, 1, 2, 3, 4]]);
        assert!(group_by_topic(&[], &[]).is_empty());
    }

    #[test]
    fn topics_are_grouped_and_stragglers_pooled() {
        // Two topics of 6 exchanges each, interleaved, plus two one-off exchanges.
        let mut v = Vec::new();
        for k in 0..12 {
            v.push(axis(k % 2, 0.05));
        }
        v.push(axis(5, 0.0));
        v.push(axis(6, 0.0));
        let groups = group_by_topic(&v, &[100; 14]);
        assert_eq!(groups.len(), 3, "{groups:?}");
        assert_eq!(groups[0], vec![0, 2, 4, 6, 8, 10]);
        assert_eq!(groups[1], vec![1, 3, 5, 7, 9, 11]);
        assert_eq!(groups[2], vec![12, 13]);
    }

    #[test]
    fn groups_respect_the_size_limits() {
        let v: Vec<Vec<f32>> = (0..25).map(|_| axis(0, 0.0)).collect();
        let groups = group_by_topic(&v, &[100; 25]);
        assert!(groups.iter().all(|g| g.len() <= MAX_GROUP));
        let big = group_by_topic(&v, &[2500; 25]);
        assert!(big.iter().all(|g| g.len() <= 2), "{big:?}");
    }

    proptest! {
        #[test]
        fn every_exchange_lands_in_exactly_one_group(
            seeds in proptest::collection::vec((0usize..4, 1usize..900), 0..60)
        ) {
            let v: Vec<Vec<f32>> = seeds.iter().map(|(a, _)| axis(*a, 0.1)).collect();
            let sizes: Vec<usize> = seeds.iter().map(|(_, s)| *s).collect();
            let groups = group_by_topic(&v, &sizes);
            let mut seen: Vec<usize> = groups.iter().flatten().copied().collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..v.len()).collect::<Vec<_>>());
            for g in &groups {
                prop_assert!(g.len() <= MAX_GROUP);
                prop_assert!(g.len() == 1 || g.iter().map(|i| sizes[*i]).sum::<usize>() <= MAX_GROUP_CHARS);
            }
        }
    }
}
