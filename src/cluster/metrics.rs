//! Agreement between two labellings: normalised and adjusted mutual information.
//!
//! Both use natural logarithms and the geometric mean of the two entropies as the
//! normaliser (scikit-learn's `average_method="geometric"`), the convention of the
//! reference results in issue 4. Every label value is a class of
//! its own, including 0: ground-truth files use 0 for their noise class, and it is scored
//! like any other class.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("the labellings have different lengths ({left} and {right})")]
pub struct LengthMismatch {
    pub left: usize,
    pub right: usize,
}

/// Normalised mutual information, in [0, 1]; identical partitions score exactly 1.
pub fn nmi<A: Ord + Copy, B: Ord + Copy>(a: &[A], b: &[B]) -> Result<f64, LengthMismatch> {
    let table = Contingency::new(a, b)?;
    if table.is_trivial() {
        return Ok(1.0);
    }
    let mean_entropy = table.mean_entropy();
    let mi = table.mutual_information();
    Ok(if mean_entropy > 0.0 {
        (mi / mean_entropy).clamp(0.0, 1.0)
    } else {
        0.0
    })
}

/// Mutual information adjusted for chance: 0 is the expected score of a random labelling
/// with the same class sizes, 1 is a perfect match. Uses the exact expected mutual
/// information under the hypergeometric model. Identical partitions score exactly 1.
pub fn ami<A: Ord + Copy, B: Ord + Copy>(a: &[A], b: &[B]) -> Result<f64, LengthMismatch> {
    let table = Contingency::new(a, b)?;
    if table.is_trivial() {
        return Ok(1.0);
    }
    let mean_entropy = table.mean_entropy();
    let mi = table.mutual_information();
    let emi = expected_mutual_information(&table.rows, &table.cols, table.n);
    let denominator = mean_entropy - emi;
    // The numerator and denominator vanish together for degenerate tables; keep the sign
    // and avoid dividing by an exact zero.
    let denominator = if denominator < 0.0 {
        denominator.min(-f64::EPSILON)
    } else {
        denominator.max(f64::EPSILON)
    };
    Ok((mi - emi) / denominator)
}

struct Contingency {
    n: usize,
    rows: Vec<usize>,
    cols: Vec<usize>,
    /// Non-zero cells as (row, column, count).
    cells: Vec<(usize, usize, usize)>,
}

impl Contingency {
    fn new<A: Ord + Copy, B: Ord + Copy>(a: &[A], b: &[B]) -> Result<Self, LengthMismatch> {
        if a.len() != b.len() {
            return Err(LengthMismatch {
                left: a.len(),
                right: b.len(),
            });
        }
        let a = dense(a);
        let b = dense(b);
        let rows = counts(&a);
        let cols = counts(&b);
        let mut pairs: Vec<(usize, usize)> = a.into_iter().zip(b).collect();
        pairs.sort_unstable();
        let mut cells: Vec<(usize, usize, usize)> = Vec::new();
        for (i, j) in pairs {
            match cells.last_mut() {
                Some((li, lj, count)) if *li == i && *lj == j => *count += 1,
                _ => cells.push((i, j, 1)),
            }
        }
        Ok(Self {
            n: rows.iter().sum(),
            rows,
            cols,
            cells,
        })
    }

    /// The two labellings are the same partition (including the case of no data), so
    /// both scores are exactly 1 rather than a ratio that rounds to just below it.
    fn is_trivial(&self) -> bool {
        self.cells.len() == self.rows.len() && self.cells.len() == self.cols.len()
    }

    fn mean_entropy(&self) -> f64 {
        (entropy(&self.rows, self.n) * entropy(&self.cols, self.n)).sqrt()
    }

    fn mutual_information(&self) -> f64 {
        let n = self.n as f64;
        let mi: f64 = self
            .cells
            .iter()
            .map(|&(i, j, count)| {
                let c = count as f64;
                let expected = self.rows[i] as f64 * self.cols[j] as f64;
                c / n * (n.ln() + c.ln() - expected.ln())
            })
            .sum();
        mi.max(0.0)
    }
}

/// Maps labels to 0..classes in sorted order.
fn dense<T: Ord + Copy>(labels: &[T]) -> Vec<usize> {
    let mut classes = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    labels
        .iter()
        .map(|l| {
            classes
                .binary_search(l)
                .expect("label is among the classes")
        })
        .collect()
}

fn counts(dense: &[usize]) -> Vec<usize> {
    let mut counts = vec![0usize; dense.iter().map(|&x| x + 1).max().unwrap_or(0)];
    for &x in dense {
        counts[x] += 1;
    }
    counts
}

fn entropy(sizes: &[usize], n: usize) -> f64 {
    let n = n as f64;
    -sizes
        .iter()
        .filter(|&&s| s > 0)
        .map(|&s| {
            let p = s as f64 / n;
            p * p.ln()
        })
        .sum::<f64>()
}

/// E[MI] over all labellings with the given class sizes (Vinh, Epps & Bailey 2010):
/// the sum over cells and over every feasible cell count `c` of
/// `c/n * ln(n c / (a b)) * P(c)`, with `P` the hypergeometric probability, evaluated in
/// log space through ln-factorials to stay finite for large `n`.
fn expected_mutual_information(rows: &[usize], cols: &[usize], n: usize) -> f64 {
    let ln_fact = ln_factorials(n);
    let nf = n as f64;
    let mut emi = 0.0;
    for &a in rows {
        for &b in cols {
            let start = (a + b).saturating_sub(n).max(1);
            let end = a.min(b);
            let fixed = ln_fact[a] + ln_fact[b] + ln_fact[n - a] + ln_fact[n - b] - ln_fact[n];
            let ln_ab = (a as f64).ln() + (b as f64).ln();
            for c in start..=end {
                let cf = c as f64;
                let ln_p =
                    fixed - ln_fact[c] - ln_fact[a - c] - ln_fact[b - c] - ln_fact[n + c - a - b];
                emi += cf / nf * (nf.ln() + cf.ln() - ln_ab) * ln_p.exp();
            }
        }
    }
    emi
}

/// `ln k!` for k in 0..=n, each computed on its own rather than as a running sum of logs,
/// so that the error does not grow with k.
fn ln_factorials(n: usize) -> Vec<f64> {
    (0..=n).map(ln_factorial).collect()
}

/// `ln k! = ln Γ(k + 1)`: the exact product while it fits in an `f64` mantissa (k <= 18),
/// Stirling's series for ln Γ beyond (terms to x^-9; relative error below 1e-16 for
/// x >= 20).
fn ln_factorial(k: usize) -> f64 {
    const EXACT_UP_TO: usize = 18;
    const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
    if k <= EXACT_UP_TO {
        return (1..=k).map(|i| i as f64).product::<f64>().ln();
    }
    let x = k as f64 + 1.0;
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    let series = inv
        * (1.0 / 12.0
            - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 * (1.0 / 1680.0 - inv2 / 1188.0))));
    (x - 0.5) * x.ln() - x + LN_SQRT_2PI + series
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_factorial_matches_summed_logs() {
        assert_eq!(ln_factorial(0), 0.0);
        assert_eq!(ln_factorial(1), 0.0);
        let mut summed = 0.0f64;
        for k in 1..=200usize {
            summed += (k as f64).ln();
            let got = ln_factorial(k);
            assert!(
                (got - summed).abs() <= 1e-13 * summed,
                "{k}: {got} vs {summed}"
            );
        }
    }
}
