//! The adapters' hidden activations weighted per example, as the weighted-average composition needs them:
//! y[b, s, t, j] = relu(x[b, s, t, j]) · w[b, t], for x (batch, seq, modules, size) and w (batch, modules).
//! candle's composition (relu, then a broadcast multiply) reduces the weights' gradient with a serial strided
//! sum and adds relu's backward into a zero-filled buffer; here both directions run in parallel over rows.
//!
//! Backward: dx = dy · w · [x > 0], dw[b, t] = Σ_{s, j} dy[b, s, t, j] · relu(x[b, s, t, j]).

use super::cpu::{contiguous, multiversion, par_grouped_rows, par_zeros, with_f32};
use candle_core::{bail, CpuStorage, CustomOp2, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

const NAME: &str = "weighted-relu";

struct WeightedRelu {
    /// Values per module in a row (the adapter size).
    size: usize,
}

multiversion! {
    /// One row (modules × size) of y from x and its example's weights.
    fn forward_row(y: &mut [f32], x: &[f32], w: &[f32], size: usize) {
        for ((y, x), &w) in y.chunks_exact_mut(size).zip(x.chunks_exact(size)).zip(w) {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = x.max(0.0) * w;
            }
        }
    }
}

multiversion! {
    /// One row of dx, and the row's contribution added to its example's dw.
    fn backward_row(dx: &mut [f32], dw: &mut [f32], x: &[f32], dy: &[f32], w: &[f32], size: usize) {
        let rows = dx.chunks_exact_mut(size).zip(x.chunks_exact(size)).zip(dy.chunks_exact(size));
        for (((dx, x), dy), (&w, dw)) in rows.zip(w.iter().zip(dw.iter_mut())) {
            let mut acc = 0f32;
            for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
                let active = if x > 0.0 { 1.0 } else { 0.0 };
                *dx = dy * w * active;
                acc += dy * x.max(0.0);
            }
            *dw += acc;
        }
    }
}

/// (batch, row width, modules) of an input of shape (batch, …, modules, size).
fn dims(x: &Layout, w: &Layout, size: usize) -> Result<(usize, usize, usize)> {
    let (xd, wd) = (x.dims(), w.dims());
    let modules = match xd {
        [batch, .., modules, last] if *last == size && wd == [*batch, *modules] => *modules,
        _ => bail!("{NAME}: expected x (batch, …, modules, size) and w (batch, modules), got {xd:?} and {wd:?}"),
    };
    Ok((xd[0], modules * size, modules))
}

impl CustomOp2 for WeightedRelu {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        w: &CpuStorage,
        w_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (batch, width, modules) = dims(x_layout, w_layout, self.size)?;
        let (x, w) = (
            contiguous(x, x_layout, NAME)?,
            contiguous(w, w_layout, NAME)?,
        );
        let mut y = par_zeros(x.len());
        par_grouped_rows(&mut y, width, batch, |row, example, y| {
            let w = &w[example * modules..][..modules];
            forward_row(y, &x[row * width..][..width], w, self.size);
        });
        Ok((CpuStorage::F32(y), x_layout.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (batch, modules) = w.dims2()?;
        let example_len = x.elem_count() / batch.max(1);
        let mut dx = par_zeros(x.elem_count());
        let mut dw = vec![0f32; batch * modules];
        with_f32(x, NAME, |x| {
            with_f32(w, NAME, |w| {
                with_f32(dy, NAME, |dy| {
                    // One task per example: its rows' dx, and its dw summed without sharing.
                    dx.par_chunks_mut(example_len)
                        .zip(dw.par_chunks_mut(modules))
                        .enumerate()
                        .for_each(|(b, (dx, dw))| {
                            let at = b * example_len;
                            let (x, dy) = (&x[at..][..example_len], &dy[at..][..example_len]);
                            let w = &w[b * modules..][..modules];
                            let width = modules * self.size;
                            for ((dx, x), dy) in dx
                                .chunks_exact_mut(width)
                                .zip(x.chunks_exact(width))
                                .zip(dy.chunks_exact(width))
                            {
                                backward_row(dx, dw, x, dy, w, self.size);
                            }
                        });
                    Ok(())
                })
            })
        })?;
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), &Device::Cpu)?),
            Some(Tensor::from_vec(dw, w.shape(), &Device::Cpu)?),
        ))
    }
}

/// relu(x) · w per example and module: x (batch, …, modules, size), w (batch, modules); a backward to both.
pub fn weighted_relu(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() {
        return super::composed::weighted_relu(x, w);
    }
    let size = x.dims().last().copied().unwrap_or(0);
    x.contiguous()?
        .apply_op2(&w.contiguous()?, WeightedRelu { size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_same_op;
    use candle_core::Var;

    #[test]
    fn matches_relu_then_broadcast_mul_forward_and_backward() -> Result<()> {
        for (batch, seq, modules, size) in [(1, 1, 1, 1), (2, 5, 3, 17), (16, 9, 5, 64)] {
            let x = Var::from_tensor(&Tensor::randn(
                0f32,
                1.0,
                (batch, seq, modules, size),
                &Device::Cpu,
            )?)?;
            let w = Var::from_tensor(&Tensor::rand(0f32, 1.0, (batch, modules), &Device::Cpu)?)?;
            let upstream = Tensor::randn(0f32, 1.0, (batch, seq, modules, size), &Device::Cpu)?;
            let fused = weighted_relu(&x, &w)?;
            let plain = crate::kernels::composed::weighted_relu(&x, &w)?;
            assert_same_op(&fused, &plain, &upstream, &[&x, &w], (1e-6, &[1e-6, 1e-4]))?;
        }
        Ok(())
    }

    #[test]
    fn refuses_mismatched_weights() -> Result<()> {
        let x = Tensor::zeros((2, 3, 4, 5), candle_core::DType::F32, &Device::Cpu)?;
        let w = Tensor::zeros((2, 3), candle_core::DType::F32, &Device::Cpu)?;
        let err = weighted_relu(&x, &w).unwrap_err().to_string();
        assert!(err.contains("expected x (batch"), "{err}");
        Ok(())
    }
}
