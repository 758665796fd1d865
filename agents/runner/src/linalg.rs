//! Least squares with the Moore–Penrose pseudo-inverse, computed from a singular value
//! decomposition (one-sided Jacobi). Small dense matrices only (pricing has a handful of rows
//! and three columns); no external linear-algebra crate.

/// A dense row-major matrix.
pub type Matrix = Vec<Vec<f64>>;

/// A thin SVD `A = U · diag(s) · Vᵀ` of an m×n matrix with m ≥ n.
#[derive(Debug, Clone)]
pub struct Svd {
    /// m×n, orthonormal columns (zero columns for zero singular values).
    pub u: Matrix,
    /// n singular values (not sorted).
    pub s: Vec<f64>,
    /// n×n orthogonal.
    pub v: Matrix,
}

fn transpose(a: &Matrix) -> Matrix {
    let (m, n) = (a.len(), a.first().map_or(0, Vec::len));
    (0..n).map(|j| (0..m).map(|i| a[i][j]).collect()).collect()
}

/// The SVD of `a` (m×n, m ≥ n) by one-sided Jacobi rotations.
///
/// # Panics
/// If the rows have different lengths or m < n.
pub fn svd(a: &Matrix) -> Svd {
    let m = a.len();
    let n = a.first().map_or(0, Vec::len);
    assert!(a.iter().all(|r| r.len() == n), "ragged matrix");
    assert!(m >= n, "svd needs at least as many rows as columns");
    let mut u = a.clone();
    let mut v: Matrix = (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    for _sweep in 0..100 {
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
                for row in &u {
                    alpha += row[p] * row[p];
                    beta += row[q] * row[q];
                    gamma += row[p] * row[q];
                }
                if gamma == 0.0 || gamma.abs() <= 1e-15 * (alpha * beta).sqrt() {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for row in u.iter_mut().chain(v.iter_mut()) {
                    let (x, y) = (row[p], row[q]);
                    row[p] = c * x - s * y;
                    row[q] = s * x + c * y;
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let mut s = vec![0.0; n];
    for (j, sj) in s.iter_mut().enumerate() {
        *sj = u.iter().map(|r| r[j] * r[j]).sum::<f64>().sqrt();
        if *sj > 0.0 {
            for row in u.iter_mut() {
                row[j] /= *sj;
            }
        }
    }
    Svd { u, s, v }
}

/// The default cut-off below which singular values count as zero.
fn tolerance(s: &[f64], m: usize, n: usize) -> f64 {
    let max = s.iter().cloned().fold(0.0, f64::max);
    m.max(n) as f64 * f64::EPSILON * max
}

/// The numerical rank of `a`.
pub fn rank(a: &Matrix) -> usize {
    let (m, n) = (a.len(), a.first().map_or(0, Vec::len));
    let d = if m >= n { svd(a) } else { svd(&transpose(a)) };
    let tol = tolerance(&d.s, m, n);
    d.s.iter().filter(|&&x| x > tol).count()
}

/// The Moore–Penrose pseudo-inverse (n×m) of an m×n matrix: `V · Σ⁺ · Uᵀ`, singular values
/// under `max(m, n) · ε · σ_max` treated as zero.
pub fn pinv(a: &Matrix) -> Matrix {
    let (m, n) = (a.len(), a.first().map_or(0, Vec::len));
    if m < n {
        return transpose(&pinv(&transpose(a)));
    }
    let d = svd(a);
    let tol = tolerance(&d.s, m, n);
    let mut out = vec![vec![0.0; m]; n];
    for (k, &sk) in d.s.iter().enumerate() {
        if sk <= tol {
            continue;
        }
        for (i, out_row) in out.iter_mut().enumerate() {
            let vik = d.v[i][k] / sk;
            for (j, o) in out_row.iter_mut().enumerate() {
                *o += vik * d.u[j][k];
            }
        }
    }
    out
}

/// `a · x`.
pub fn mul_vec(a: &Matrix, x: &[f64]) -> Vec<f64> {
    a.iter()
        .map(|r| r.iter().zip(x).map(|(p, q)| p * q).sum())
        .collect()
}

/// The minimum-norm least-squares solution of `a · x ≈ b`: `pinv(a) · b`.
pub fn lstsq(a: &Matrix, b: &[f64]) -> Vec<f64> {
    mul_vec(&pinv(a), b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    fn matmul(a: &Matrix, b: &Matrix) -> Matrix {
        let bt = transpose(b);
        a.iter().map(|r| mul_vec(&bt, r)).collect()
    }

    #[test]
    fn exact_square_system() {
        let a = vec![
            vec![2.0, 1.0, 0.0],
            vec![1.0, 3.0, 1.0],
            vec![0.0, 1.0, 4.0],
        ];
        let x = vec![1.0, -2.0, 0.5];
        let b = mul_vec(&a, &x);
        assert!(close(&lstsq(&a, &b), &x, 1e-10));
        assert_eq!(rank(&a), 3);
    }

    #[test]
    fn overdetermined_with_noise_matches_normal_equations() {
        // y = 3 a + 0.5 b + 2 c plus small deterministic noise.
        let rows: Matrix = (0..8)
            .map(|i| {
                let i = i as f64;
                vec![
                    1.0 + i,
                    (i * 1.7).sin() * 4.0 + 5.0,
                    (i * 0.3).cos() * 2.0 + i * i * 0.1,
                ]
            })
            .collect();
        let truth = [3.0, 0.5, 2.0];
        let noise = [0.01, -0.02, 0.015, 0.0, -0.01, 0.02, -0.005, 0.01];
        let b: Vec<f64> = mul_vec(&rows, &truth)
            .iter()
            .zip(noise)
            .map(|(y, e)| y + e)
            .collect();
        let x = lstsq(&rows, &b);
        assert!(close(&x, &truth, 0.05), "{x:?}");
        // The residual is orthogonal to the columns (the least-squares condition).
        let r: Vec<f64> = mul_vec(&rows, &x)
            .iter()
            .zip(&b)
            .map(|(p, y)| y - p)
            .collect();
        for j in 0..3 {
            let dot: f64 = rows.iter().zip(&r).map(|(row, ri)| row[j] * ri).sum();
            assert!(dot.abs() < 1e-9, "column {j}: {dot}");
        }
    }

    #[test]
    fn rank_deficient_column_gets_zero_weight() {
        // The third column is all zeros (e.g. no I/O was measured): minimum-norm gives it 0.
        let a = vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 2.0, 0.0],
            vec![1.0, 1.0, 0.0],
            vec![2.0, 1.0, 0.0],
        ];
        let b = mul_vec(&a, &[4.0, 3.0, 0.0]);
        let x = lstsq(&a, &b);
        assert!(close(&x, &[4.0, 3.0, 0.0], 1e-10), "{x:?}");
        assert_eq!(rank(&a), 2);
        // Duplicate columns: the weight is shared equally (minimum norm).
        let a = vec![vec![1.0, 1.0], vec![2.0, 2.0], vec![3.0, 3.0]];
        let x = lstsq(&a, &[2.0, 4.0, 6.0]);
        assert!(close(&x, &[1.0, 1.0], 1e-10), "{x:?}");
    }

    #[test]
    fn pinv_satisfies_penrose_conditions() {
        let a = vec![
            vec![1.0, 2.0],
            vec![3.0, 4.0],
            vec![5.0, 6.0],
            vec![0.0, 1.0],
        ];
        let p = pinv(&a);
        let apa = matmul(&matmul(&a, &p), &a);
        let pap = matmul(&matmul(&p, &a), &p);
        for (x, y) in apa.iter().flatten().zip(a.iter().flatten()) {
            assert!((x - y).abs() < 1e-10);
        }
        for (x, y) in pap.iter().flatten().zip(p.iter().flatten()) {
            assert!((x - y).abs() < 1e-10);
        }
        // A wide matrix goes through the transpose.
        let w = transpose(&a);
        let pw = pinv(&w);
        assert_eq!((pw.len(), pw[0].len()), (4, 2));
        let wpw = matmul(&matmul(&w, &pw), &w);
        for (x, y) in wpw.iter().flatten().zip(w.iter().flatten()) {
            assert!((x - y).abs() < 1e-10);
        }
    }
}
