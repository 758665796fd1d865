//! The operations built on [`Client::average`] (DAC-API.md, *Client operations*), each returning
//! its value and the residual bound it reached. `n` is the number of alive nodes the average
//! covers; the exact value is the one a single machine would compute from every alive node's
//! input.

use serde::{Deserialize, Serialize};

use crate::client::{Client, Outcome, Scalar, check_finite};
use crate::error::{Error, Result};
use crate::linalg::{Lu, norm_inf};

/// The least-squares solution of [`Client::lstsq`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Solution {
    /// β minimising ‖A·β − b‖ over every alive node's rows.
    pub beta: Vec<f64>,
    /// Bound on |βⱼ − exact βⱼ| per component, from the consensus error alone (the solve's own
    /// rounding is not counted); infinite when the consensus error could make the system
    /// singular.
    pub residual_bound: f64,
    /// Averaging rounds the consensus ran.
    pub rounds: u32,
    /// The nodes whose rows the solution covers.
    pub alive: Vec<u32>,
    /// Restarts after a peer dropped (0: none).
    pub epoch: u32,
    /// The number of rows over all alive nodes (from the averaged row count).
    pub rows: u64,
}

impl Client {
    /// Σ over the alive nodes of each node's `values`: n · average; bound × n.
    pub fn sum(&self, values: &[f64]) -> Result<Outcome> {
        let mut outcome = self.average(values)?;
        let n = outcome.alive.len() as f64;
        outcome.value.iter_mut().for_each(|v| *v *= n);
        outcome.residual_bound *= n;
        Ok(outcome)
    }

    /// The global dot product of two row-split vectors: Σ over nodes of the local `a · b`.
    pub fn dot(&self, a: &[f64], b: &[f64]) -> Result<Scalar> {
        if a.len() != b.len() {
            return Err(Error::Input(format!(
                "dot of vectors of lengths {} and {}",
                a.len(),
                b.len()
            )));
        }
        let local: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let outcome = self.sum(&[local])?;
        Ok(Scalar {
            value: outcome.value[0],
            residual_bound: outcome.residual_bound,
            rounds: outcome.rounds,
            alive: outcome.alive,
        })
    }

    /// Σᵢ Mᵢ·xᵢ over the nodes: each node holds a block of columns of M (`m`, its rows) and the
    /// matching slice of x. Every node's `m` must have the same number of rows.
    pub fn matvec(&self, m: &[Vec<f64>], x: &[f64]) -> Result<Outcome> {
        if let Some(i) = m.iter().position(|row| row.len() != x.len()) {
            return Err(Error::Input(format!(
                "row {i} of M has {} columns, x has {} components",
                m[i].len(),
                x.len()
            )));
        }
        let local: Vec<f64> = m
            .iter()
            .map(|row| row.iter().zip(x).map(|(a, b)| a * b).sum())
            .collect();
        self.sum(&local)
    }

    /// Column means over row-split data: the average of `[row count, column sums…]`, then the
    /// ratio (so every row counts once, whichever node holds it). The bound covers the error of
    /// both the numerator and the denominator: r·(|ŝ| + ĉ) / (ĉ·(ĉ − r)) for an averaged count
    /// ĉ and sum ŝ within r of theirs (infinite when ĉ ≤ r). `rows` must be non-empty and
    /// rectangular.
    pub fn mean_rows(&self, rows: &[Vec<f64>]) -> Result<Outcome> {
        let columns = rectangular(rows, "rows")?;
        let mut local = vec![0.0; columns + 1];
        local[0] = rows.len() as f64;
        for row in rows {
            for (sum, v) in local[1..].iter_mut().zip(row) {
                *sum += v;
            }
        }
        let mut outcome = self.average(&local)?;
        let (count, r) = (outcome.value[0], outcome.residual_bound);
        if count <= 0.0 {
            return Err(Error::Protocol(format!(
                "averaged row count {count} is not positive"
            )));
        }
        let means: Vec<f64> = outcome.value[1..].iter().map(|s| s / count).collect();
        outcome.residual_bound = outcome.value[1..]
            .iter()
            .map(|s| ratio_bound(*s, count, r))
            .fold(0.0, f64::max);
        outcome.value = means;
        Ok(outcome)
    }

    /// Linear least squares over row-split data: node i holds rows Aᵢ (each of p columns) and
    /// bᵢ. The nodes average `[nᵢ, upper triangle of AᵢᵀAᵢ, Aᵢᵀbᵢ]`; the averages are AᵀA/n and
    /// Aᵀb/n of the stacked rows, so solving them (Gaussian elimination with partial pivoting)
    /// gives the single-machine β. The bound: with Ĝ, ĥ within r of the exact averages,
    /// ‖β̂ − β‖∞ ≤ κ·(r + p·r·‖β̂‖∞) / (1 − κ·p·r), κ = ‖Ĝ⁻¹‖∞ (infinite when κ·p·r ≥ 1).
    pub fn lstsq(&self, a: &[Vec<f64>], b: &[f64]) -> Result<Solution> {
        let p = rectangular(a, "A")?;
        if b.len() != a.len() {
            return Err(Error::Input(format!(
                "A has {} rows, b has {} components",
                a.len(),
                b.len()
            )));
        }
        check_finite(b)?;
        let outcome = self.average(&pack_normal_equations(a, b, p))?;
        let (count, g, h) = unpack_normal_equations(&outcome.value, p);
        let n = outcome.alive.len() as f64;
        let rows = (count * n).round().max(0.0) as u64;
        if rows < p as u64 {
            return Err(Error::Singular(format!(
                "{rows} rows over all nodes for {p} unknowns"
            )));
        }
        let lu = Lu::factor(&g, p)?;
        let beta = lu.solve(&h);
        let r = outcome.residual_bound;
        let residual_bound = if r == 0.0 {
            0.0
        } else {
            let kappa = lu.inverse_norm_inf();
            let pr = p as f64 * r;
            if kappa * pr >= 1.0 {
                f64::INFINITY
            } else {
                kappa * (r + pr * norm_inf(&beta)) / (1.0 - kappa * pr)
            }
        };
        Ok(Solution {
            beta,
            residual_bound,
            rounds: outcome.rounds,
            alive: outcome.alive,
            epoch: outcome.epoch,
            rows,
        })
    }
}

/// The number of columns of non-empty, rectangular, finite rows.
fn rectangular(rows: &[Vec<f64>], what: &str) -> Result<usize> {
    let Some(first) = rows.first() else {
        return Err(Error::Input(format!("{what} has no rows")));
    };
    let columns = first.len();
    if columns == 0 {
        return Err(Error::Input(format!("{what} has no columns")));
    }
    for (i, row) in rows.iter().enumerate() {
        if row.len() != columns {
            return Err(Error::Input(format!(
                "row {i} of {what} has {} values, row 0 has {columns}",
                row.len()
            )));
        }
        check_finite(row).map_err(|e| Error::Input(format!("row {i} of {what}: {e}")))?;
    }
    Ok(columns)
}

/// Bound on |ŝ/ĉ − s/c| when |ŝ − s| ≤ r and |ĉ − c| ≤ r.
fn ratio_bound(s: f64, c: f64, r: f64) -> f64 {
    if r == 0.0 {
        0.0
    } else if c <= r {
        f64::INFINITY
    } else {
        r * (s.abs() + c) / (c * (c - r))
    }
}

/// `[nᵢ, (AᵢᵀAᵢ)ⱼₖ for j ≤ k (row by row), Aᵢᵀbᵢ]`.
pub(crate) fn pack_normal_equations(a: &[Vec<f64>], b: &[f64], p: usize) -> Vec<f64> {
    let triangle = p * (p + 1) / 2;
    let mut v = vec![0.0; 1 + triangle + p];
    v[0] = a.len() as f64;
    for (row, y) in a.iter().zip(b) {
        let mut t = 1;
        for j in 0..p {
            for k in j..p {
                v[t] += row[j] * row[k];
                t += 1;
            }
            v[1 + triangle + j] += row[j] * y;
        }
    }
    v
}

/// The count, the full symmetric p × p matrix (row-major) and the right-hand side.
pub(crate) fn unpack_normal_equations(v: &[f64], p: usize) -> (f64, Vec<f64>, Vec<f64>) {
    let triangle = p * (p + 1) / 2;
    debug_assert_eq!(v.len(), 1 + triangle + p);
    let mut g = vec![0.0; p * p];
    let mut t = 1;
    for j in 0..p {
        for k in j..p {
            g[j * p + k] = v[t];
            g[k * p + j] = v[t];
            t += 1;
        }
    }
    (v[0], g, v[1 + triangle..].to_vec())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::http::{Response, Transport};

    /// A consensus in which every one of `nodes` nodes holds this node's input, answered off by
    /// `error` per component (alternating signs) with that as its bound.
    struct Replicated {
        nodes: u32,
        error: f64,
        calls: Arc<Mutex<Vec<Vec<f64>>>>,
    }

    impl Replicated {
        fn client(nodes: u32, error: f64) -> Client {
            Replicated::recording(nodes, error).0
        }

        /// The client and the vectors it sent to be averaged.
        fn recording(nodes: u32, error: f64) -> (Client, Arc<Mutex<Vec<Vec<f64>>>>) {
            let calls = Arc::new(Mutex::new(Vec::new()));
            let transport = Replicated {
                nodes,
                error,
                calls: calls.clone(),
            };
            (Client::with_transport(transport), calls)
        }
    }

    impl Transport for Replicated {
        fn exchange(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Response> {
            assert_eq!((method, path), ("POST", "/v1/average"));
            let request: serde_json::Value = serde_json::from_slice(body.unwrap()).unwrap();
            let values: Vec<f64> = serde_json::from_value(request["values"].clone()).unwrap();
            self.calls.lock().unwrap().push(values.clone());
            let value: Vec<f64> = values
                .iter()
                .enumerate()
                .map(|(i, v)| v + if i % 2 == 0 { self.error } else { -self.error })
                .collect();
            let body = serde_json::json!({
                "value": value, "residual_bound": self.error, "rounds": 7,
                "alive": (0..self.nodes).collect::<Vec<u32>>(), "epoch": 0,
            });
            Ok(Response {
                status: 200,
                body: serde_json::to_vec(&body).unwrap(),
            })
        }
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    /// Rows of a well-conditioned regression: b = 2 − 3x + 0.5x² + noise.
    fn regression() -> (Vec<Vec<f64>>, Vec<f64>) {
        let a: Vec<Vec<f64>> = (0..20)
            .map(|i| {
                let x = i as f64 / 10.0;
                vec![1.0, x, x * x]
            })
            .collect();
        let b = a
            .iter()
            .enumerate()
            .map(|(i, r)| 2.0 - 3.0 * r[1] + 0.5 * r[2] + 0.01 * ((i * 7 % 5) as f64 - 2.0))
            .collect();
        (a, b)
    }

    /// β from the normal equations of one machine.
    fn local_lstsq(a: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
        let p = a[0].len();
        let (_, g, h) = unpack_normal_equations(&pack_normal_equations(a, b, p), p);
        Lu::factor(&g, p).unwrap().solve(&h)
    }

    #[test]
    fn sum_dot_and_matvec_scale_by_the_alive_nodes() {
        let client = Replicated::client(4, 0.0);
        let s = client.sum(&[1.0, -2.5]).unwrap();
        assert_eq!(s.value, [4.0, -10.0]);
        assert_eq!((s.rounds, s.alive.len()), (7, 4));
        let d = client.dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
        assert_eq!(d.value, 4.0 * 32.0);
        let m = client
            .matvec(
                &[vec![1.0, 2.0], vec![0.0, -1.0], vec![3.0, 0.5]],
                &[2.0, 4.0],
            )
            .unwrap();
        assert_eq!(m.value, [40.0, -16.0, 32.0]);

        let noisy = Replicated::client(4, 0.25);
        assert_eq!(noisy.sum(&[1.0]).unwrap().residual_bound, 1.0);
        assert_eq!(noisy.dot(&[1.0], &[1.0]).unwrap().residual_bound, 1.0);
    }

    #[test]
    fn mean_rows_averages_counts_and_sums() {
        let rows = vec![vec![1.0, 10.0], vec![2.0, 20.0], vec![6.0, -3.0]];
        let (client, calls) = Replicated::recording(3, 0.0);
        let m = client.mean_rows(&rows).unwrap();
        assert_eq!(m.value, [3.0, 9.0]);
        assert_eq!(m.residual_bound, 0.0);
        assert_eq!(
            *calls.lock().unwrap(),
            [[3.0, 9.0, 27.0]],
            "[count, column sums]"
        );
    }

    #[test]
    fn mean_rows_bound_covers_the_consensus_error() {
        let rows = vec![vec![1.0, 10.0], vec![2.0, 20.0], vec![6.0, -3.0]];
        for error in [1e-9, 1e-4, 0.1, 1.0] {
            let m = Replicated::client(3, error).mean_rows(&rows).unwrap();
            for (got, want) in m.value.iter().zip([3.0, 9.0]) {
                assert!(
                    (got - want).abs() <= m.residual_bound,
                    "error {error}: {m:?}"
                );
            }
            assert!(m.residual_bound.is_finite(), "{m:?}");
        }
        // An error as large as the averaged count: the ratio is unbounded.
        assert_eq!(ratio_bound(1.0, 0.5, 0.5), f64::INFINITY);
        assert_eq!(ratio_bound(1.0, 0.5, 0.0), 0.0);
    }

    #[test]
    fn lstsq_on_replicated_rows_is_the_local_solve() {
        let (a, b) = regression();
        let exact = local_lstsq(&a, &b);
        let s = Replicated::client(5, 0.0).lstsq(&a, &b).unwrap();
        assert_eq!(s.rows, 100);
        assert_eq!(s.residual_bound, 0.0);
        for (got, want) in s.beta.iter().zip(&exact) {
            assert!(close(*got, *want, 1e-12), "{:?} vs {exact:?}", s.beta);
        }
        assert!(
            close(exact[0], 2.0, 0.05) && close(exact[1], -3.0, 0.05),
            "{exact:?}"
        );
    }

    #[test]
    fn lstsq_packs_the_normal_equations() {
        let (client, calls) = Replicated::recording(1, 0.0);
        let a = vec![vec![1.0, 2.0], vec![3.0, 4.0], vec![0.0, 1.0]];
        let b = [1.0, 0.0, 2.0];
        client.lstsq(&a, &b).unwrap();
        // [n, g00, g01, g11, h0, h1]
        let packed = [3.0, 10.0, 14.0, 21.0, 1.0, 4.0];
        assert_eq!(*calls.lock().unwrap(), [packed]);
        let (count, g, h) = unpack_normal_equations(&packed, 2);
        assert_eq!(
            (count, g, h),
            (3.0, vec![10.0, 14.0, 14.0, 21.0], vec![1.0, 4.0])
        );
    }

    #[test]
    fn lstsq_bound_covers_the_consensus_error() {
        let (a, b) = regression();
        let exact = local_lstsq(&a, &b);
        for error in [1e-10, 1e-6, 1e-3] {
            let s = Replicated::client(2, error).lstsq(&a, &b).unwrap();
            assert!(s.residual_bound.is_finite(), "error {error}: {s:?}");
            for (got, want) in s.beta.iter().zip(&exact) {
                assert!(
                    (got - want).abs() <= s.residual_bound,
                    "error {error}: {s:?}"
                );
            }
        }
        let s = Replicated::client(2, 10.0).lstsq(&a, &b).unwrap();
        assert_eq!(s.residual_bound, f64::INFINITY);
    }

    #[test]
    fn invalid_inputs_are_refused_before_any_call() {
        let client = Replicated::client(2, 0.0);
        fn input<T>(r: Result<T>) -> bool {
            matches!(r, Err(Error::Input(_)))
        }
        assert!(input(client.dot(&[1.0], &[1.0, 2.0])));
        assert!(input(client.matvec(&[vec![1.0]], &[1.0, 2.0])));
        assert!(input(client.mean_rows(&[])));
        assert!(input(client.mean_rows(&[vec![1.0], vec![1.0, 2.0]])));
        assert!(input(client.mean_rows(&[vec![f64::NAN]])));
        assert!(input(client.lstsq(&[vec![1.0]], &[1.0, 2.0])));
        assert!(input(client.lstsq(&[vec![]], &[1.0])));
        assert!(input(client.average(&[f64::INFINITY])));
    }

    #[test]
    fn lstsq_refuses_dependent_columns_and_too_few_rows() {
        let client = Replicated::client(1, 0.0);
        let a = vec![vec![1.0, 2.0], vec![2.0, 4.0], vec![3.0, 6.0]];
        let r = client.lstsq(&a, &[1.0, 2.0, 3.0]);
        assert!(matches!(r, Err(Error::Singular(_))), "{r:?}");
        let r = client.lstsq(&[vec![1.0, 2.0, 3.0]], &[1.0]);
        assert!(matches!(r, Err(Error::Singular(_))), "{r:?}");
    }
}
