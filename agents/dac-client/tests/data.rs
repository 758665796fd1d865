//! The shards the simulated nodes hold, the single-machine answers over all of them, and the
//! check of each node's results against those answers.

use serde::{Deserialize, Serialize};

/// One node's data for every operation of the SPMD check (the Python script reads it as JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Shard {
    /// For `sum`.
    pub values: Vec<f64>,
    /// For `dot(a, b)`.
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    /// For `matvec(m, x)`: a block of columns of M and the matching part of x.
    pub m: Vec<Vec<f64>>,
    pub x: Vec<f64>,
    /// For `mean_rows`.
    pub rows: Vec<Vec<f64>>,
    /// For `lstsq(la, lb)`.
    pub la: Vec<Vec<f64>>,
    pub lb: Vec<f64>,
}

/// What one node reports (the Rust runner builds it; the Python script prints it as JSON).
#[derive(Debug, Clone, Deserialize)]
pub struct NodeResults {
    pub node: u32,
    pub nodes: u32,
    pub sum: VectorResult,
    pub dot: ScalarResult,
    pub matvec: VectorResult,
    pub mean_rows: VectorResult,
    pub lstsq: FitResult,
    pub agree: AgreeResult,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VectorResult {
    pub value: Vec<f64>,
    pub residual_bound: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ScalarResult {
    pub value: f64,
    pub residual_bound: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FitResult {
    pub beta: Vec<f64>,
    pub residual_bound: f64,
    pub rows: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AgreeResult {
    pub values: Vec<f64>,
    pub decimals: u8,
}

/// A small deterministic generator of values in [-1, 1) (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        bits as f64 / (1u64 << 52) as f64 - 1.0
    }

    pub fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// Regression rows `[1, u, v]` and b = 1.5 − 2u + 0.25v + noise.
pub fn regression_rows(rng: &mut Rng, count: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
    (0..count)
        .map(|_| {
            let (u, v) = (rng.next() * 3.0, rng.next() * 10.0);
            (vec![1.0, u, v], 1.5 - 2.0 * u + 0.25 * v + 0.1 * rng.next())
        })
        .unzip()
}

/// The shards of `nodes` nodes, of different sizes (so that row counts matter).
pub fn shards(nodes: u32) -> Vec<Shard> {
    (0..nodes as usize)
        .map(|i| {
            let mut rng = Rng::new(1000 + i as u64);
            let (la, lb) = regression_rows(&mut rng, 4 + 2 * i);
            Shard {
                values: rng.vec(4),
                a: rng.vec(3 + i),
                b: rng.vec(3 + i),
                m: (0..3).map(|_| rng.vec(2 + i)).collect(),
                x: rng.vec(2 + i),
                rows: (0..2 + 3 * i).map(|_| rng.vec(3)).collect(),
                la,
                lb,
            }
        })
        .collect()
}

/// Column means of stacked rows.
pub fn column_means(rows: &[Vec<f64>]) -> Vec<f64> {
    let mut means = vec![0.0; rows[0].len()];
    for row in rows {
        for (m, v) in means.iter_mut().zip(row) {
            *m += v;
        }
    }
    means.iter().map(|s| s / rows.len() as f64).collect()
}

/// Least squares on one machine by QR (modified Gram–Schmidt): independent of the normal
/// equations the client averages.
pub fn qr_lstsq(a: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let (m, p) = (a.len(), a[0].len());
    let mut q: Vec<Vec<f64>> = (0..p).map(|j| (0..m).map(|i| a[i][j]).collect()).collect();
    let mut r = vec![vec![0.0; p]; p];
    for j in 0..p {
        for k in 0..j {
            let d: f64 = (0..m).map(|i| q[k][i] * q[j][i]).sum();
            r[k][j] = d;
            let (done, rest) = q.split_at_mut(j);
            for (v, u) in rest[0].iter_mut().zip(&done[k]) {
                *v -= d * u;
            }
        }
        let norm = q[j].iter().map(|v| v * v).sum::<f64>().sqrt();
        r[j][j] = norm;
        q[j].iter_mut().for_each(|v| *v /= norm);
    }
    let qtb: Vec<f64> = (0..p)
        .map(|j| (0..m).map(|i| q[j][i] * b[i]).sum())
        .collect();
    let mut beta = vec![0.0; p];
    for j in (0..p).rev() {
        let s: f64 = (j + 1..p).map(|k| r[j][k] * beta[k]).sum();
        beta[j] = (qtb[j] - s) / r[j][j];
    }
    beta
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}: {got:?} vs single machine {want:?}"
        );
    }
}

/// Checks every node's results against the single-machine answers over `shards` (all alive):
/// 1e-12 for the sums and means, 1e-9 for least squares; the oracle's bounds are 0, and every
/// node agreed on node 0's rounded means.
pub fn check(results: &[NodeResults], shards: &[Shard]) {
    check_with(results, shards, None);
}

/// [`check`] against the real consensus: each value within its own residual bound of the
/// single-machine answer (and the bounds small: 1e-9 relative), agreement to `decimals`.
pub fn check_consensus(results: &[NodeResults], shards: &[Shard], decimals: u8) {
    check_with(results, shards, Some(decimals));
}

fn within_bound(what: &str, got: &[f64], want: &[f64], bound: f64) {
    assert!(bound < 1e-9, "{what}: bound {bound}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= bound + 1e-12 * (1.0 + w.abs()),
            "{what}: {got:?} vs single machine {want:?}, bound {bound}"
        );
    }
}

fn check_with(results: &[NodeResults], shards: &[Shard], consensus: Option<u8>) {
    let n = shards.len();
    let sum: Vec<f64> = (0..4)
        .map(|j| shards.iter().map(|s| s.values[j]).sum())
        .collect();
    let dot: f64 = shards
        .iter()
        .flat_map(|s| s.a.iter().zip(&s.b).map(|(x, y)| x * y))
        .sum();
    let matvec: Vec<f64> = (0..3)
        .map(|r| {
            shards
                .iter()
                .flat_map(|s| s.m[r].iter().zip(&s.x).map(|(m, x)| m * x))
                .sum()
        })
        .collect();
    let rows: Vec<Vec<f64>> = shards.iter().flat_map(|s| s.rows.clone()).collect();
    let means = column_means(&rows);
    let la: Vec<Vec<f64>> = shards.iter().flat_map(|s| s.la.clone()).collect();
    let lb: Vec<f64> = shards.iter().flat_map(|s| s.lb.clone()).collect();
    let beta = qr_lstsq(&la, &lb);
    assert!((beta[1] + 2.0).abs() < 0.1, "a sensible fit: {beta:?}");

    assert_eq!(results.len(), n);
    if let Some(decimals) = consensus {
        for (i, r) in results.iter().enumerate() {
            assert_eq!((r.node, r.nodes), (i as u32, n as u32));
            within_bound("sum", &r.sum.value, &sum, r.sum.residual_bound);
            within_bound("dot", &[r.dot.value], &[dot], r.dot.residual_bound);
            within_bound("matvec", &r.matvec.value, &matvec, r.matvec.residual_bound);
            within_bound(
                "mean_rows",
                &r.mean_rows.value,
                &means,
                r.mean_rows.residual_bound,
            );
            // The bound counts the consensus error, not the solver's rounding.
            assert_close("lstsq", &r.lstsq.beta, &beta, 1e-9);
            assert!(
                r.lstsq.residual_bound < 1e-6,
                "lstsq bound {}",
                r.lstsq.residual_bound
            );
            assert_eq!(r.lstsq.rows, la.len() as u64);
            assert_eq!(r.agree.decimals, decimals);
            assert_eq!(r.agree.values, results[0].agree.values, "node {i} agreed");
            assert_close(
                "agree",
                &r.agree.values,
                &means,
                10f64.powi(-i32::from(decimals)),
            );
        }
        return;
    }
    for (i, r) in results.iter().enumerate() {
        assert_eq!((r.node, r.nodes), (i as u32, n as u32));
        assert_close("sum", &r.sum.value, &sum, 1e-12);
        assert_close("dot", &[r.dot.value], &[dot], 1e-12);
        assert_close("matvec", &r.matvec.value, &matvec, 1e-12);
        assert_close("mean_rows", &r.mean_rows.value, &means, 1e-12);
        assert_close("lstsq", &r.lstsq.beta, &beta, 1e-9);
        assert_eq!(r.lstsq.rows, la.len() as u64);
        for bound in [
            r.sum.residual_bound,
            r.dot.residual_bound,
            r.matvec.residual_bound,
            r.mean_rows.residual_bound,
            r.lstsq.residual_bound,
        ] {
            assert_eq!(bound, 0.0, "the oracle is exact");
        }
        assert_eq!(r.agree.decimals, crate::fake::DECIMALS);
        assert_eq!(r.agree.values, results[0].agree.values, "node {i} agreed");
        assert_close("agree", &r.agree.values, &means, 1e-6);
    }
}
