//! The symmetric eigendecomposition behind the shared covariance's pseudo-inverse and the ridge's regulariser
//! search: faer's, which runs on every core (the matrices are up to a few thousand wide, once per step).

use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
use faer::{Mat, Side};

/// A symmetric matrix as Q diag(values) Qᵀ.
pub struct SymmetricEigen {
    /// (n,) eigenvalues.
    pub values: Vec<f64>,
    /// (n, n) f64 tensor whose columns are the eigenvectors.
    pub vectors: Tensor,
}

/// The eigendecomposition of the symmetric (n, n) `matrix` (only its lower triangle is read).
pub fn symmetric_eigen(matrix: &Tensor) -> Result<SymmetricEigen> {
    let n = matrix.dim(0)?;
    let rows = matrix.to_dtype(DType::F64)?.to_vec2::<f64>()?;
    if rows.iter().flatten().any(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "a covariance or Gram matrix has non-finite entries; are the features finite?",
        ));
    }
    let evd = Mat::<f64>::from_fn(n, n, |i, j| rows[i][j])
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| Error::invalid(format!("symmetric eigendecomposition failed: {e:?}")))?;
    let values: Vec<f64> = (0..n).map(|i| evd.S().column_vector()[i]).collect();
    let u = evd.U();
    let flat: Vec<f64> = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .map(|(i, j)| u[(i, j)])
        .collect();
    Ok(SymmetricEigen {
        values,
        vectors: Tensor::from_vec(flat, (n, n), &Device::Cpu)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconstructs_the_matrix() {
        let m = Tensor::new(
            &[[4f64, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]],
            &Device::Cpu,
        )
        .unwrap();
        let e = symmetric_eigen(&m).unwrap();
        let d = Tensor::from_vec(e.values.clone(), 3, &Device::Cpu).unwrap();
        let back = e
            .vectors
            .broadcast_mul(&d.unsqueeze(0).unwrap())
            .unwrap()
            .matmul(&e.vectors.t().unwrap())
            .unwrap();
        let diff = (back - &m).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f64>().unwrap() < 1e-10);
    }
}
