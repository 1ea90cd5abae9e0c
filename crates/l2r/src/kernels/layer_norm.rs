//! Layer normalisation over the last dimension with a frozen weight and bias, optionally of a residual sum `a + b`.
//! The broadcast-op composition makes ~8 passes and allocations over the activations, and candle's own fused layer
//! norm has no backward (docs/design.md, "Performance design"); this one makes one pass forward and one backward,
//! row by row in cache. The backward recomputes each row's mean and 1/σ rather than storing them.
//!
//! Forward: y = x̂·w + β with x̂ = (x − μ)·r, r = 1/√(σ² + ε).
//! Backward (w, β frozen): dx = r·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·w; a residual sum passes the
//! same dx to both terms.

use super::cpu::{contiguous, last_dim, multiversion, par_add, par_copy, par_rows, sum, with_f32};
use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, WithDType,
};

const NAME: &str = "layer-norm";

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

/// μ and 1/√(σ² + ε) of one row (two passes: the row is in L1 and this is exact where E[x²] − μ² is not).
#[inline(always)]
fn moments(x: &[f32], eps: f32) -> (f32, f32) {
    let n = x.len() as f32;
    let mean = sum(x) / n;
    let mut acc = [0f32; 16];
    let chunks = x.chunks_exact(16);
    let tail: f32 = chunks
        .remainder()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum();
    for chunk in chunks {
        for (a, v) in acc.iter_mut().zip(chunk) {
            *a = (v - mean).mul_add(v - mean, *a);
        }
    }
    let variance = (acc.iter().sum::<f32>() + tail) / n;
    (mean, 1.0 / (variance + eps).sqrt())
}

multiversion! {
    /// Rows of `out` hold x on entry and y on return.
    fn forward_rows(out: &mut [f32], weight: &[f32], bias: &[f32], eps: f32) {
        for row in out.chunks_exact_mut(weight.len()) {
            let (mean, rstd) = moments(row, eps);
            for ((y, w), b) in row.iter_mut().zip(weight).zip(bias) {
                *y = ((*y - mean) * rstd).mul_add(*w, *b);
            }
        }
    }
}

multiversion! {
    /// Rows of `dx` hold x on entry and the input gradient on return.
    fn backward_rows(dx: &mut [f32], dy: &[f32], weight: &[f32], eps: f32) {
        let width = weight.len();
        for (row, dy) in dx.chunks_exact_mut(width).zip(dy.chunks_exact(width)) {
            let (mean, rstd) = moments(row, eps);
            for v in row.iter_mut() {
                *v = (*v - mean) * rstd;
            }
            // Σg and Σg·x̂ with g = dy·w, in independent lanes (see `cpu::sum`).
            let (mut g_acc, mut gx_acc) = ([0f32; 16], [0f32; 16]);
            let (xc, dyc, wc) = (row.chunks_exact(16), dy.chunks_exact(16), weight.chunks_exact(16));
            let (mut g_tail, mut gx_tail) = (0f32, 0f32);
            for ((x, d), w) in xc.remainder().iter().zip(dyc.remainder()).zip(wc.remainder()) {
                g_tail += d * w;
                gx_tail += d * w * x;
            }
            for ((x, d), w) in xc.zip(dyc).zip(wc) {
                for i in 0..16 {
                    let g = d[i] * w[i];
                    g_acc[i] += g;
                    gx_acc[i] = g.mul_add(x[i], gx_acc[i]);
                }
            }
            let n = width as f32;
            let mean_g = (g_acc.iter().sum::<f32>() + g_tail) / n;
            let mean_gx = (gx_acc.iter().sum::<f32>() + gx_tail) / n;
            for ((v, d), w) in row.iter_mut().zip(dy).zip(weight) {
                *v = rstd * (d * w - mean_g - *v * mean_gx);
            }
        }
    }
}

impl LayerNorm {
    fn check(&self, layout: &Layout) -> Result<usize> {
        let width = last_dim(layout, NAME)?;
        if self.weight.dims() != [width] || self.bias.dims() != [width] {
            bail!(
                "{NAME}: weight {:?} and bias {:?} do not match the last dimension {width}",
                self.weight.dims(),
                self.bias.dims()
            );
        }
        Ok(width)
    }

    /// Normalises the rows of `x` (already holding the input, or the residual sum) in place.
    fn normalise(&self, x: &mut [f32], width: usize) -> Result<()> {
        with_f32(&self.weight, NAME, |weight| {
            with_f32(&self.bias, NAME, |bias| {
                par_rows(x, width, |_, rows| {
                    forward_rows(rows, weight, bias, self.eps)
                });
                Ok(())
            })
        })
    }

    /// The input gradient for input `x` (the residual sum, recomputed) and upstream gradient `dy`.
    fn input_grad(&self, mut x: Vec<f32>, dy: &Tensor, shape: &Shape) -> Result<Tensor> {
        let width = *shape.dims().last().unwrap_or(&1);
        with_f32(&self.weight, NAME, |weight| {
            with_f32(dy, NAME, |dy| {
                par_rows(&mut x, width, |first, rows| {
                    let dy = &dy[first * width..first * width + rows.len()];
                    backward_rows(rows, dy, weight, self.eps)
                });
                Ok(())
            })
        })?;
        Tensor::from_vec(x, shape, &candle_core::Device::Cpu)
    }
}

impl CustomOp1 for LayerNorm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let width = self.check(layout)?;
        let mut out = par_copy(contiguous(storage, layout, NAME)?);
        self.normalise(&mut out, width)?;
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        let x_data = with_f32(x, NAME, |x| Ok(par_copy(x)))?;
        Ok(Some(self.input_grad(x_data, dy, x.shape())?))
    }
}

/// `a + b` into a fresh buffer.
fn residual_sum(a: &[f32], b: &[f32]) -> Vec<f32> {
    par_add(a, b)
}

impl CustomOp2 for LayerNorm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cpu_fwd(
        &self,
        a: &CpuStorage,
        a_layout: &Layout,
        b: &CpuStorage,
        b_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let width = self.check(a_layout)?;
        if a_layout.shape() != b_layout.shape() {
            bail!(
                "{NAME}: residual terms differ in shape, {:?} and {:?}",
                a_layout.dims(),
                b_layout.dims()
            );
        }
        let a = contiguous(a, a_layout, NAME)?;
        let b = contiguous(b, b_layout, NAME)?;
        let mut out = residual_sum(a, b);
        self.normalise(&mut out, width)?;
        Ok((CpuStorage::F32(out), a_layout.shape().clone()))
    }

    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let x = with_f32(a, NAME, |a| with_f32(b, NAME, |b| Ok(residual_sum(a, b))))?;
        let dx = self.input_grad(x, dy, a.shape())?;
        Ok((Some(dx.clone()), Some(dx)))
    }
}

fn op(weight: &Tensor, bias: &Tensor, eps: f64) -> Result<LayerNorm> {
    Ok(LayerNorm {
        weight: weight.contiguous()?,
        bias: bias.contiguous()?,
        eps: f32::from_f64(eps),
    })
}

/// Layer norm of `x` over its last dimension; `weight` and `bias` are frozen (no gradient).
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    if !x.device().is_cpu() {
        return super::composed::layer_norm(x, weight, bias, eps);
    }
    x.contiguous()?.apply_op1(op(weight, bias, eps)?)
}

/// `layer_norm(a + b)` in one pass (the residual connections); both terms get the same gradient.
pub fn add_layer_norm(
    a: &Tensor,
    b: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f64,
) -> Result<Tensor> {
    if !a.device().is_cpu() {
        return super::composed::add_layer_norm(a, b, weight, bias, eps);
    }
    a.contiguous()?
        .apply_op2(&b.contiguous()?, op(weight, bias, eps)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::composed::layer_norm as plain;
    use crate::testing::{assert_close, gradients};
    use candle_core::{Device, Var};

    /// Shapes with widths below, at and above the 16 lanes, not multiples of them, and many rows (several
    /// rayon tasks).
    const SHAPES: [(usize, usize, usize); 5] = [
        (1, 1, 7),
        (2, 3, 16),
        (3, 5, 37),
        (2, 64, 384),
        (4, 300, 100),
    ];

    #[test]
    fn matches_the_plain_composition_forward_and_backward() -> Result<()> {
        let device = Device::Cpu;
        for shape in SHAPES {
            let width = shape.2;
            let weight = Tensor::randn(1f32, 0.5, width, &device)?;
            let bias = Tensor::randn(0f32, 0.5, width, &device)?;
            // An offset mean checks that the variance does not cancel catastrophically.
            let x = Var::from_tensor(&(Tensor::randn(0f32, 2.0, shape, &device)? + 3.0)?)?;
            let upstream = Tensor::randn(0f32, 1.0, shape, &device)?;

            let fused = layer_norm(&x, &weight, &bias, 1e-12)?;
            let expected = plain(&x, &weight, &bias, 1e-12)?;
            assert_close(&fused, &expected, 1e-5)?;
            let (gf, gp) = (
                gradients(&fused, &upstream, &[&x])?,
                gradients(&expected, &upstream, &[&x])?,
            );
            assert_close(&gf[0], &gp[0], 1e-4)?;
        }
        Ok(())
    }

    #[test]
    fn residual_form_matches_and_passes_the_gradient_to_both_terms() -> Result<()> {
        let device = Device::Cpu;
        for shape in SHAPES {
            let width = shape.2;
            let weight = Tensor::randn(1f32, 0.5, width, &device)?;
            let bias = Tensor::randn(0f32, 0.5, width, &device)?;
            let a = Var::from_tensor(&Tensor::randn(0f32, 1.0, shape, &device)?)?;
            let b = Var::from_tensor(&Tensor::randn(0f32, 1.0, shape, &device)?)?;
            let upstream = Tensor::randn(0f32, 1.0, shape, &device)?;

            let fused = add_layer_norm(&a, &b, &weight, &bias, 1e-5)?;
            let expected = plain(&(a.as_tensor() + b.as_tensor())?, &weight, &bias, 1e-5)?;
            assert_close(&fused, &expected, 1e-5)?;
            let gf = gradients(&fused, &upstream, &[&a, &b])?;
            let gp = gradients(&expected, &upstream, &[&a, &b])?;
            assert_close(&gf[0], &gp[0], 1e-4)?;
            assert_close(&gf[1], &gp[1], 1e-4)?;
        }
        Ok(())
    }

    #[test]
    fn refuses_mismatched_shapes() -> Result<()> {
        let device = Device::Cpu;
        let weight = Tensor::ones(4, candle_core::DType::F32, &device)?;
        let x = Tensor::zeros((2, 5), candle_core::DType::F32, &device)?;
        assert!(layer_norm(&x, &weight, &weight, 1e-5).is_err());
        let a = Tensor::zeros((2, 4), candle_core::DType::F32, &device)?;
        let b = Tensor::zeros((4, 2), candle_core::DType::F32, &device)?;
        assert!(add_layer_norm(&a, &b, &weight, &weight, 1e-5).is_err());
        Ok(())
    }
}
