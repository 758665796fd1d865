//! Dense linear algebra for the small systems [`crate::Client::lstsq`] solves: an LU
//! factorisation with partial pivoting (Gaussian elimination), its solves, and the ∞-norm of the
//! inverse that bounds how consensus errors propagate into the solution.

use crate::error::{Error, Result};

/// `P·A = L·U` of a square matrix, stored row-major in one vector (L below the diagonal with a
/// unit diagonal, U on and above it).
#[derive(Debug, Clone)]
pub struct Lu {
    n: usize,
    lu: Vec<f64>,
    perm: Vec<usize>,
}

impl Lu {
    /// Factors the `n × n` row-major matrix `a`. A pivot below `n · ε · max|aᵢⱼ|` makes the
    /// matrix numerically singular: [`Error::Singular`].
    pub fn factor(a: &[f64], n: usize) -> Result<Lu> {
        assert_eq!(a.len(), n * n, "an n × n matrix");
        let mut lu = a.to_vec();
        let mut perm: Vec<usize> = (0..n).collect();
        let scale = lu.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let tiny = scale * f64::EPSILON * n.max(1) as f64;
        if lu.iter().any(|v| !v.is_finite()) || (n > 0 && scale == 0.0) {
            return Err(Error::Singular("the matrix is zero or not finite".into()));
        }
        for k in 0..n {
            let pivot_row = (k..n)
                .max_by(|&i, &j| lu[i * n + k].abs().total_cmp(&lu[j * n + k].abs()))
                .expect("k < n");
            let pivot = lu[pivot_row * n + k];
            if pivot.abs() <= tiny {
                return Err(Error::Singular(format!(
                    "pivot {pivot:e} in column {k} (largest entry {scale:e}): \
                     the columns are (nearly) linearly dependent"
                )));
            }
            if pivot_row != k {
                for j in 0..n {
                    lu.swap(k * n + j, pivot_row * n + j);
                }
                perm.swap(k, pivot_row);
            }
            for i in k + 1..n {
                let factor = lu[i * n + k] / pivot;
                lu[i * n + k] = factor;
                for j in k + 1..n {
                    lu[i * n + j] -= factor * lu[k * n + j];
                }
            }
        }
        Ok(Lu { n, lu, perm })
    }

    /// Solves `A·x = b`.
    pub fn solve(&self, b: &[f64]) -> Vec<f64> {
        let n = self.n;
        assert_eq!(b.len(), n, "a right-hand side of the matrix's size");
        let mut x: Vec<f64> = self.perm.iter().map(|&p| b[p]).collect();
        for i in 0..n {
            let s: f64 = (0..i).map(|j| self.lu[i * n + j] * x[j]).sum();
            x[i] -= s;
        }
        for i in (0..n).rev() {
            let s: f64 = (i + 1..n).map(|j| self.lu[i * n + j] * x[j]).sum();
            x[i] = (x[i] - s) / self.lu[i * n + i];
        }
        x
    }

    /// ‖A⁻¹‖∞, the largest absolute row sum of the inverse (computed column by column).
    pub fn inverse_norm_inf(&self) -> f64 {
        let n = self.n;
        let mut row_sums = vec![0.0; n];
        let mut e = vec![0.0; n];
        for j in 0..n {
            e.iter_mut().for_each(|v| *v = 0.0);
            e[j] = 1.0;
            for (sum, v) in row_sums.iter_mut().zip(self.solve(&e)) {
                *sum += v.abs();
            }
        }
        row_sums.into_iter().fold(0.0, f64::max)
    }
}

/// ‖v‖∞.
pub fn norm_inf(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_system_that_needs_pivoting() {
        // A zero in the first pivot position: elimination without pivoting divides by zero.
        let a = [0.0, 2.0, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0, 3.0];
        let x = [1.0, -2.0, 0.5];
        let b: Vec<f64> = (0..3)
            .map(|i| (0..3).map(|j| a[i * 3 + j] * x[j]).sum())
            .collect();
        let lu = Lu::factor(&a, 3).unwrap();
        for (got, want) in lu.solve(&b).iter().zip(x) {
            assert!((got - want).abs() < 1e-14, "{got} vs {want}");
        }
    }

    #[test]
    fn inverse_norm_of_a_diagonal_matrix() {
        let lu = Lu::factor(&[4.0, 0.0, 0.0, 0.5], 2).unwrap();
        assert!((lu.inverse_norm_inf() - 2.0).abs() < 1e-15);
        // [[2, 1], [1, 1]]⁻¹ = [[1, −1], [−1, 2]]: row sums 2 and 3.
        let lu = Lu::factor(&[2.0, 1.0, 1.0, 1.0], 2).unwrap();
        assert!((lu.inverse_norm_inf() - 3.0).abs() < 1e-14);
    }

    #[test]
    fn singular_matrices_are_refused() {
        for a in [
            vec![1.0, 2.0, 2.0, 4.0],
            vec![0.0; 4],
            vec![1.0, f64::NAN, 0.0, 1.0],
        ] {
            assert!(
                matches!(Lu::factor(&a, 2), Err(Error::Singular(_))),
                "{a:?}"
            );
        }
    }

    #[test]
    fn norm_inf_is_the_largest_magnitude() {
        assert_eq!(norm_inf(&[1.0, -3.0, 2.0]), 3.0);
        assert_eq!(norm_inf(&[]), 0.0);
    }
}
