//! Row kernels of the attention softmax: softmax over each row of `scale · scores + bias`, and its backward,
//! in place and in cache. The composition (scale, broadcast add, candle's softmax of max/sub/exp/sum/div)
//! made six passes and allocations over the largest tensor of the encoder (batch × heads × seq × seq) and ran
//! libm's scalar `expf`.
//!
//! Forward: y = softmax(scale · s + bias). Backward, to the scores only (the bias — padding mask, position
//! bias — is a constant of the frozen backbone): ds = scale · y ⊙ (dy − Σ dy ⊙ y).

use super::cpu::{dot, max, multiversion, sum};
use super::math::exp;
use candle_core::{bail, Layout, Result};

multiversion! {
    /// Rows of `rows` hold scores on entry and softmax(scale · scores + bias) on return; row r's bias
    /// starts at `bias[offsets[r]]`.
    pub(super) fn forward_rows(
        rows: &mut [f32],
        bias: &[f32],
        offsets: &[usize],
        width: usize,
        scale: f32,
    ) {
        for (y, &offset) in rows.chunks_exact_mut(width).zip(offsets) {
            for (y, b) in y.iter_mut().zip(&bias[offset..offset + width]) {
                *y = y.mul_add(scale, *b);
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
    /// Rows of `grad` hold dy on entry and ds = scale · y ⊙ (dy − Σ dy ⊙ y) on return.
    pub(super) fn backward_rows(grad: &mut [f32], y: &[f32], width: usize, scale: f32) {
        for (g, y) in grad.chunks_exact_mut(width).zip(y.chunks_exact(width)) {
            let centre = dot(g, y);
            for (g, y) in g.iter_mut().zip(y) {
                *g = scale * y * (*g - centre);
            }
        }
    }
}

/// Where each row of a (possibly broadcast) layout starts in its storage; the last dimension must be
/// contiguous.
pub(super) fn row_offsets(layout: &Layout) -> Result<Vec<usize>> {
    let (dims, strides) = (layout.dims(), layout.stride());
    let Some((&width_stride, outer_strides)) = strides.split_last() else {
        bail!("attention: the bias must have at least one dimension");
    };
    if width_stride != 1 && dims.last() != Some(&1) {
        bail!("attention: the bias's last dimension must be contiguous");
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
