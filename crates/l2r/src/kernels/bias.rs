//! A bias added to every row, y = x + b with x (…, width): one bias b (width) for all rows, or one per example,
//! b (batch, width) for x (batch, …, width). candle's `broadcast_add` sums the bias gradient over the broadcast
//! dimensions with a serial reduction that divides per element (5% of an adapter training step for the
//! adapters' two biases); here the rows are summed in parallel blocks.
//!
//! Backward: dx = dy, db = Σ dy over the rows each bias row was added to.

use super::cpu::{contiguous, last_dim, multiversion, par_grouped_rows, par_zeros, with_f32};
use candle_core::{bail, CpuStorage, CustomOp2, Device, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;

const NAME: &str = "add-bias";

/// Rows summed by one task of the bias gradient: enough to amortise the hand-off, few partial sums to add.
const ROWS_PER_TASK: usize = 128;

struct AddBias {
    /// Bias rows: 1, or the batch size (each applies to `rows / groups` consecutive rows of x).
    groups: usize,
}

multiversion! {
    fn add_rows(y: &mut [f32], x: &[f32], bias: &[f32]) {
        for (y, x) in y.chunks_exact_mut(bias.len()).zip(x.chunks_exact(bias.len())) {
            for ((y, x), b) in y.iter_mut().zip(x).zip(bias) {
                *y = x + b;
            }
        }
    }
}

multiversion! {
    fn sum_rows_into(acc: &mut [f32], rows: &[f32]) {
        for row in rows.chunks_exact(acc.len()) {
            for (a, r) in acc.iter_mut().zip(row) {
                *a += r;
            }
        }
    }
}

/// Σ over the rows of each of `groups` equal groups of consecutive rows of `dy` (rows of `width`): (groups,
/// width), in parallel over groups and, for one group, over blocks of rows.
fn group_sums(dy: &[f32], width: usize, groups: usize) -> Vec<f32> {
    if groups == 1 {
        return column_sums(dy, width);
    }
    let mut sums = vec![0f32; groups * width];
    let group_len = dy.len() / groups;
    sums.par_chunks_mut(width)
        .zip(dy.par_chunks(group_len))
        .for_each(|(acc, rows)| sum_rows_into(acc, rows));
    sums
}

/// Σ over the rows of `dy` (rows of `width`), in parallel blocks of rows.
fn column_sums(dy: &[f32], width: usize) -> Vec<f32> {
    dy.par_chunks(ROWS_PER_TASK * width)
        .map(|block| {
            let mut acc = vec![0f32; width];
            sum_rows_into(&mut acc, block);
            acc
        })
        .reduce(
            || vec![0f32; width],
            |mut total, part| {
                sum_rows_into(&mut total, &part);
                total
            },
        )
}

impl CustomOp2 for AddBias {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        bias: &CpuStorage,
        bias_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let width = last_dim(x_layout, NAME)?;
        let bias_dims = bias_layout.dims();
        if bias_dims.last() != Some(&width)
            || bias_layout.shape().elem_count() != self.groups * width
        {
            bail!(
                "{NAME}: the bias has shape {bias_dims:?}, expected [{width}] or [batch, {width}] for an input of \
                 shape {:?}",
                x_layout.dims()
            );
        }
        let (x, bias) = (
            contiguous(x, x_layout, NAME)?,
            contiguous(bias, bias_layout, NAME)?,
        );
        let mut y = par_zeros(x.len());
        par_grouped_rows(&mut y, width, self.groups, |row, group, y| {
            add_rows(
                y,
                &x[row * width..][..width],
                &bias[group * width..][..width],
            );
        });
        Ok((CpuStorage::F32(y), x_layout.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        bias: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let width = bias.dim(D::Minus1)?;
        let db = with_f32(dy, NAME, |dy| Ok(group_sums(dy, width, self.groups)))?;
        let db = Tensor::from_vec(db, bias.shape(), &Device::Cpu)?;
        Ok((Some(dy.clone()), Some(db)))
    }
}

/// `x + bias` on every row of `x` (…, width), with a backward to both: `bias` (width) is added to every row,
/// `bias` (batch, width) to the rows of each example of `x` (batch, …, width).
pub fn add_bias(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() {
        return super::composed::add_bias(x, bias);
    }
    let groups = match bias.rank() {
        1 => 1,
        2 if x.rank() >= 2 && x.dim(0)? == bias.dim(0)? => bias.dim(0)?,
        _ => bail!(
            "{NAME}: a bias of shape {:?} fits neither every row nor each example of an input of shape {:?}",
            bias.dims(),
            x.dims()
        ),
    };
    x.contiguous()?
        .apply_op2(&bias.contiguous()?, AddBias { groups })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_same_op;
    use candle_core::Var;

    #[test]
    fn matches_broadcast_add_forward_and_backward() -> Result<()> {
        // One row, rows around one task's 128, and a 3-d input (the encoder's batch × sequence × hidden).
        let shapes: [&[usize]; 4] = [&[1, 5], &[127, 16], &[300, 33], &[4, 70, 24]];
        for dims in shapes {
            let width = *dims.last().unwrap();
            let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, dims, &Device::Cpu)?)?;
            let bias = Var::from_tensor(&Tensor::randn(0f32, 1.0, width, &Device::Cpu)?)?;
            let upstream = Tensor::randn(0f32, 1.0, dims, &Device::Cpu)?;
            let fused = add_bias(&x, &bias)?;
            let plain = crate::kernels::composed::add_bias(&x, &bias)?;
            assert_same_op(
                &fused,
                &plain,
                &upstream,
                &[&x, &bias],
                (1e-6, &[1e-6, 1e-4]),
            )?;
        }
        Ok(())
    }

    #[test]
    fn matches_a_per_example_broadcast_add() -> Result<()> {
        // The composition's Σₜ wₜ cₜ: one bias row per example, broadcast over its tokens.
        for (batch, seq, width) in [(1, 3, 4), (5, 130, 16), (16, 7, 33)] {
            let x = Var::from_tensor(&Tensor::randn(
                0f32,
                1.0,
                (batch, seq, width),
                &Device::Cpu,
            )?)?;
            let bias = Var::from_tensor(&Tensor::randn(0f32, 1.0, (batch, width), &Device::Cpu)?)?;
            let upstream = Tensor::randn(0f32, 1.0, (batch, seq, width), &Device::Cpu)?;
            let fused = add_bias(&x, &bias)?;
            let plain = crate::kernels::composed::add_bias(&x, &bias)?;
            assert_same_op(
                &fused,
                &plain,
                &upstream,
                &[&x, &bias],
                (1e-6, &[1e-6, 1e-4]),
            )?;
        }
        Ok(())
    }

    #[test]
    fn refuses_a_bias_of_the_wrong_width() -> Result<()> {
        let x = Tensor::zeros((3, 4), candle_core::DType::F32, &Device::Cpu)?;
        let bias = Tensor::zeros(5, candle_core::DType::F32, &Device::Cpu)?;
        let err = add_bias(&x, &bias).unwrap_err().to_string();
        assert!(err.contains("expected [4]"), "{err}");
        let per_example = Tensor::zeros((2, 4), candle_core::DType::F32, &Device::Cpu)?;
        let err = add_bias(&x, &per_example).unwrap_err().to_string();
        assert!(err.contains("fits neither"), "{err}");
        Ok(())
    }
}
