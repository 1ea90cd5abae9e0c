//! Attention probabilities: softmax over the last dimension of `scale · scores + bias`, in one op. The
//! composition (scale, broadcast add, candle's softmax of max/sub/exp/sum/div) makes six passes and
//! allocations over the largest tensor of the encoder (batch × heads × seq × seq) and runs libm's scalar
//! `expf`; this makes one pass forward and one backward, row by row in cache.
//!
//! Forward: y = softmax(scale · s + bias). Backward, to the scores only (the bias — padding mask, position
//! bias — is a constant of the frozen backbone): ds = scale · y ⊙ (dy − Σ dy ⊙ y).

use super::cpu::{contiguous, dot, last_dim, max, multiversion, par_rows, sum, with_f32};
use super::math::exp;
use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

const NAME: &str = "masked-softmax";

struct MaskedSoftmax {
    scale: f32,
}

multiversion! {
    /// Rows of `out` get softmax(scale · scores + bias); row r's bias starts at `bias[offsets[r]]`.
    fn forward_rows(
        out: &mut [f32],
        scores: &[f32],
        bias: &[f32],
        offsets: &[usize],
        width: usize,
        scale: f32,
    ) {
        let rows = out.chunks_exact_mut(width).zip(scores.chunks_exact(width));
        for ((y, s), &offset) in rows.zip(offsets) {
            for ((y, s), b) in y.iter_mut().zip(s).zip(&bias[offset..offset + width]) {
                *y = s.mul_add(scale, *b);
            }
            let top = max(y);
            for v in y.iter_mut() {
                *v = exp(*v - top);
            }
            let inverse = 1.0 / sum(y);
            for v in y.iter_mut() {
                *v *= inverse;
            }
        }
    }
}

multiversion! {
    /// Rows of `ds` get scale · y ⊙ (dy − Σ dy ⊙ y).
    fn backward_rows(ds: &mut [f32], y: &[f32], dy: &[f32], width: usize, scale: f32) {
        let rows = ds
            .chunks_exact_mut(width)
            .zip(y.chunks_exact(width))
            .zip(dy.chunks_exact(width));
        for ((ds, y), dy) in rows {
            let centre = dot(dy, y);
            for ((d, y), g) in ds.iter_mut().zip(y).zip(dy) {
                *d = scale * y * (g - centre);
            }
        }
    }
}

/// Where each row of a (possibly broadcast) layout starts in its storage; the last dimension must be
/// contiguous.
fn row_offsets(layout: &Layout) -> Result<Vec<usize>> {
    let (dims, strides) = (layout.dims(), layout.stride());
    let Some((&width_stride, outer_strides)) = strides.split_last() else {
        bail!("{NAME}: the bias must have at least one dimension");
    };
    if width_stride != 1 && dims.last() != Some(&1) {
        bail!("{NAME}: the bias's last dimension must be contiguous");
    }
    let outer_dims = &dims[..dims.len() - 1];
    let mut offsets = vec![layout.start_offset()];
    // Row-major over the outer dimensions: each dimension repeats the offsets so far at its stride.
    for (&dim, &stride) in outer_dims.iter().zip(outer_strides).rev() {
        let inner = offsets.clone();
        offsets = (0..dim)
            .flat_map(|i| inner.iter().map(move |o| o + i * stride))
            .collect();
    }
    Ok(offsets)
}

impl CustomOp2 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cpu_fwd(
        &self,
        scores: &CpuStorage,
        scores_layout: &Layout,
        bias: &CpuStorage,
        bias_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let width = last_dim(scores_layout, NAME)?;
        if bias_layout.shape() != scores_layout.shape() {
            bail!(
                "{NAME}: bias {:?} is not broadcast to the scores {:?}",
                bias_layout.dims(),
                scores_layout.dims()
            );
        }
        let scores = contiguous(scores, scores_layout, NAME)?;
        let CpuStorage::F32(bias) = bias else {
            bail!("{NAME}: only an f32 bias is supported");
        };
        let offsets = row_offsets(bias_layout)?;
        let mut out = vec![0f32; scores.len()];
        par_rows(&mut out, width, |first, rows| {
            let count = rows.len() / width;
            let scores = &scores[first * width..(first + count) * width];
            let offsets = &offsets[first..first + count];
            forward_rows(rows, scores, bias, offsets, width, self.scale)
        });
        Ok((CpuStorage::F32(out), scores_layout.shape().clone()))
    }

    fn bwd(
        &self,
        _scores: &Tensor,
        _bias: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let width = y.dims().last().copied().unwrap_or(1);
        let mut ds = vec![0f32; y.elem_count()];
        with_f32(y, NAME, |y| {
            with_f32(dy, NAME, |dy| {
                par_rows(&mut ds, width, |first, rows| {
                    let range = first * width..first * width + rows.len();
                    backward_rows(rows, &y[range.clone()], &dy[range], width, self.scale)
                });
                Ok(())
            })
        })?;
        let ds = Tensor::from_vec(ds, y.shape(), &candle_core::Device::Cpu)?;
        Ok((Some(ds), None))
    }
}

/// softmax(scale · scores + bias) over the last dimension; `bias` broadcasts to the scores' shape (e.g. a
/// (batch, 1, 1, seq) padding mask) and gets no gradient.
pub fn masked_softmax(scores: &Tensor, bias: &Tensor, scale: f64) -> Result<Tensor> {
    let bias = bias.broadcast_as(scores.shape())?;
    scores.contiguous()?.apply_op2(
        &bias,
        MaskedSoftmax {
            scale: scale as f32,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::{assert_close, gradients};
    use candle_core::{Device, Var, D};

    fn plain(scores: &Tensor, bias: &Tensor, scale: f64) -> Result<Tensor> {
        candle_nn::ops::softmax(&(scores * scale)?.broadcast_add(bias)?, D::Minus1)
    }

    /// A (batch, 1, 1, seq) padding mask with `padded` keys masked in each row, as the encoder builds it.
    fn mask(batch: usize, seq: usize, padded: usize) -> Result<Tensor> {
        let keep: Vec<f32> = (0..batch * seq)
            .map(|i| if i % seq < seq - padded { 0.0 } else { -1e9 })
            .collect();
        Tensor::from_vec(keep, (batch, 1, 1, seq), &Device::Cpu)
    }

    fn check(scores_shape: (usize, usize, usize, usize), bias: &Tensor) -> Result<()> {
        let scores = Var::from_tensor(&Tensor::randn(0f32, 3.0, scores_shape, &Device::Cpu)?)?;
        let upstream = Tensor::randn(0f32, 1.0, scores_shape, &Device::Cpu)?;
        let scale = 0.17;
        let fused = masked_softmax(&scores, bias, scale)?;
        let expected = plain(&scores, bias, scale)?;
        assert_close(&fused, &expected, 1e-6)?;
        let gf = gradients(&fused, &upstream, &[&scores])?;
        let gp = gradients(&expected, &upstream, &[&scores])?;
        assert_close(&gf[0], &gp[0], 1e-5)
    }

    #[test]
    fn matches_the_plain_composition_with_a_padding_mask() -> Result<()> {
        for (batch, heads, seq, padded) in
            [(1, 1, 1, 0), (2, 3, 7, 2), (3, 2, 33, 5), (4, 12, 128, 40)]
        {
            check((batch, heads, seq, seq), &mask(batch, seq, padded)?)?;
        }
        Ok(())
    }

    #[test]
    fn matches_with_a_mask_plus_position_bias_and_a_non_contiguous_bias() -> Result<()> {
        let (batch, heads, seq) = (2, 3, 19);
        let position = Tensor::randn(0f32, 1.0, (1, heads, seq, seq), &Device::Cpu)?;
        let combined = mask(batch, seq, 4)?.broadcast_add(&position)?;
        check((batch, heads, seq, seq), &combined)?;
        // A bias whose query rows are a strided view of a wider tensor.
        let wide = Tensor::randn(0f32, 1.0, (batch, heads, 2 * seq, seq), &Device::Cpu)?;
        check((batch, heads, seq, seq), &wide.narrow(2, 3, seq)?)
    }

    #[test]
    fn refuses_a_bias_that_does_not_broadcast() -> Result<()> {
        let scores = Tensor::zeros((2, 3, 4, 4), candle_core::DType::F32, &Device::Cpu)?;
        assert!(masked_softmax(&scores, &mask(3, 4, 0)?, 1.0).is_err());
        Ok(())
    }
}
