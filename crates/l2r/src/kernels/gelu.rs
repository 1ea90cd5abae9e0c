//! The exact (erf) GELU of BERT's feed-forward block. candle's `gelu_erf` calls a scalar erf per element
//! (9% of a training step) and its backward is a composition of several more elementwise ops; this uses the
//! vectorised erf of `math`, and a one-pass backward.
//!
//! Forward: y = x·Φ(x), Φ(x) = (1 + erf(x/√2))/2. Backward: dx = dy·(Φ(x) + x·φ(x)), φ(x) = e^{−x²/2}/√(2π).

use super::cpu::{contiguous, multiversion, par_rows, par_zeros, with_f32};
use super::math::{erf, exp};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use std::f32::consts::{FRAC_1_SQRT_2, PI};

const NAME: &str = "gelu-erf";

struct GeluErf;

/// Φ(x), the standard normal CDF.
#[inline(always)]
fn normal_cdf(x: f32) -> f32 {
    0.5 * (1.0 + erf(x * FRAC_1_SQRT_2))
}

multiversion! {
    fn forward_chunk(y: &mut [f32], x: &[f32]) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = x * normal_cdf(x);
        }
    }
}

multiversion! {
    fn backward_chunk(dx: &mut [f32], x: &[f32], dy: &[f32]) {
        let inv_sqrt_2pi = 1.0 / (2.0 * PI).sqrt();
        for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
            let density = inv_sqrt_2pi * exp(-0.5 * x * x);
            *dx = dy * x.mul_add(density, normal_cdf(x));
        }
    }
}

impl CustomOp1 for GeluErf {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(storage, layout, NAME)?;
        let mut y = par_zeros(x.len());
        // Elementwise: "rows" of one element, so each task gets a block of consecutive values.
        par_rows(&mut y, 1, |first, y| {
            forward_chunk(y, &x[first..first + y.len()])
        });
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        let mut dx = par_zeros(x.elem_count());
        with_f32(x, NAME, |x| {
            with_f32(dy, NAME, |dy| {
                par_rows(&mut dx, 1, |first, dx| {
                    let range = first..first + dx.len();
                    backward_chunk(dx, &x[range.clone()], &dy[range])
                });
                Ok(())
            })
        })?;
        Ok(Some(Tensor::from_vec(
            dx,
            x.shape(),
            &candle_core::Device::Cpu,
        )?))
    }
}

/// x·Φ(x) (the erf GELU), elementwise, with a backward pass.
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() {
        return super::composed::gelu_erf(x);
    }
    x.contiguous()?.apply_op1(GeluErf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, gradients};
    use candle_core::{Device, Var};

    #[test]
    fn matches_candle_gelu_erf_forward_and_backward() -> Result<()> {
        // Sizes around the 16 lanes and above one rayon task (16k elements); spread ±8 to reach the tails.
        for shape in [(1, 1), (3, 17), (16, 16), (7, 5000)] {
            let x = Var::from_tensor(&Tensor::randn(0f32, 3.0, shape, &Device::Cpu)?)?;
            let upstream = Tensor::randn(0f32, 1.0, shape, &Device::Cpu)?;
            let fused = gelu_erf(&x)?;
            let expected = crate::kernels::composed::gelu_erf(&x)?;
            assert_close(&fused, &expected, 2e-6)?;
            let gf = gradients(&fused, &upstream, &[&x])?;
            let gp = gradients(&expected, &upstream, &[&x])?;
            assert_close(&gf[0], &gp[0], 2e-6)?;
        }
        Ok(())
    }

    #[test]
    fn saturates_in_the_tails() -> Result<()> {
        let x = Tensor::new(&[-40f32, -9.0, 0.0, 9.0, 40.0], &Device::Cpu)?;
        let y = gelu_erf(&x)?.to_vec1::<f32>()?;
        assert_eq!(y[2], 0.0);
        assert!(y[0].abs() < 1e-6 && y[1].abs() < 1e-6);
        assert!((y[3] - 9.0).abs() < 1e-5 && (y[4] - 40.0).abs() < 1e-4);
        Ok(())
    }
}
