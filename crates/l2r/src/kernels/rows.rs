//! Ops that act on every token alike (modules, a frozen linear's input gradient) run on the tokens flattened to
//! rows: one matmul over all batch × sequence rows instead of candle's broadcast matmul, which runs one small
//! product per batch entry and, in the backward, builds a weight gradient per batch entry before summing them.

use candle_core::{Result, Tensor, D};

/// `f` applied to `x` (…, width) viewed as (rows, width); the result (rows, width') back in `x`'s leading shape.
pub fn on_rows(x: &Tensor, f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
    let width = x.dim(D::Minus1)?;
    let rows = x.elem_count() / width.max(1);
    let out = f(&x.reshape((rows, width))?)?;
    let mut dims = x.dims().to_vec();
    dims.pop();
    dims.push(out.dim(D::Minus1)?);
    out.reshape(dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn keeps_the_leading_shape_and_matches_the_broadcast_product() -> Result<()> {
        let x = Tensor::randn(0f32, 1.0, (2, 3, 4), &Device::Cpu)?;
        let w = Tensor::randn(0f32, 1.0, (5, 4), &Device::Cpu)?;
        let flat = on_rows(&x, |rows| rows.matmul(&w.t()?))?;
        let broadcast = x.broadcast_matmul(&w.t()?)?;
        assert_eq!(flat.dims(), &[2, 3, 5]);
        let diff = (flat - broadcast)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-5, "{diff}");
        Ok(())
    }
}
