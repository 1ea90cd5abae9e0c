//! `x Wᵀ + b` for a frozen weight W and bias b. candle's matmul backward also computes the gradient of W,
//! which a frozen backbone never uses (+43 GFLOP and ~1.5 GB per MiniLM training step, design.md §3); this
//! op's backward returns only the input's gradient, `dy W`. The forward calls gemm directly so that the bias
//! is the initial value of the output (candle zero-fills it, then a broadcast add makes another pass).

use super::cpu::{contiguous, with_f32};
use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

const NAME: &str = "frozen-linear";

struct FrozenLinear {
    /// (out, in), contiguous.
    weight: Tensor,
    /// (out), contiguous.
    bias: Option<Tensor>,
}

impl FrozenLinear {
    /// The output buffer, each row starting as the bias (or zero).
    fn initial_output(&self, rows: usize, width: usize) -> Result<Vec<f32>> {
        match &self.bias {
            Some(bias) => with_f32(bias, NAME, |bias| Ok(bias.repeat(rows))),
            None => Ok(vec![0f32; rows * width]),
        }
    }
}

impl CustomOp1 for FrozenLinear {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = layout.dims();
        let (n, k) = self.weight.dims2()?;
        if dims.last() != Some(&k) {
            bail!("{NAME}: input {dims:?} does not end in the weight's input width {k}");
        }
        if self.bias.as_ref().is_some_and(|b| b.dims() != [n]) {
            bail!("{NAME}: the bias does not match the weight's output width {n}");
        }
        let x = contiguous(storage, layout, NAME)?;
        let m = x.len() / k;
        let mut out = self.initial_output(m, n)?;
        with_f32(&self.weight, NAME, |weight| {
            gemm_accumulate(&mut out, x, weight, (m, n, k))
        })?;
        let mut out_dims = dims.to_vec();
        *out_dims.last_mut().expect("checked non-empty") = n;
        Ok((CpuStorage::F32(out), Shape::from(out_dims)))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad_res.broadcast_matmul(&self.weight)?))
    }
}

/// out (m, n) += x (m, k) · Wᵀ for W (n, k), all row-major.
fn gemm_accumulate(
    out: &mut [f32],
    x: &[f32],
    weight: &[f32],
    (m, n, k): (usize, usize, usize),
) -> Result<()> {
    if out.len() != m * n || x.len() != m * k || weight.len() != n * k {
        bail!("{NAME}: buffer lengths do not match ({m}, {n}, {k})");
    }
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the lengths checked above cover every element the strides below address: out[i·n + j],
    // x[i·k + p] and W[j·k + p] (Wᵀ read in place: row stride 1, column stride k) for i < m, j < n, p < k.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            true,
            x.as_ptr(),
            1,
            k as isize,
            weight.as_ptr(),
            k as isize,
            1,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
    Ok(())
}

/// `x Wᵀ + b` over the last dimension of `x` for a frozen `weight` (out, in) and optional `bias` (out);
/// gradients flow to `x` only.
pub fn frozen_linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    x.contiguous()?.apply_op1(FrozenLinear {
        weight: weight.contiguous()?,
        bias: bias.map(Tensor::contiguous).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::{assert_close, gradients};
    use candle_core::{Device, Var};

    #[test]
    fn matches_plain_linear_forward_and_input_gradient() -> Result<()> {
        let device = Device::Cpu;
        for (rows, k, n) in [(1, 1, 1), (3, 5, 7), (37, 384, 96)] {
            let weight = Tensor::randn(0f32, 1.0, (n, k), &device)?;
            let bias = Tensor::randn(0f32, 1.0, n, &device)?;
            let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, rows, k), &device)?)?;
            let upstream = Tensor::randn(0f32, 1.0, (2, rows, n), &device)?;
            for bias in [None, Some(&bias)] {
                let fused = frozen_linear(&x, &weight, bias)?;
                let mut plain = x.broadcast_matmul(&weight.t()?)?;
                if let Some(bias) = bias {
                    plain = plain.broadcast_add(bias)?;
                }
                assert_close(&fused, &plain, 1e-5)?;
                let gf = gradients(&fused, &upstream, &[&x])?;
                let gp = gradients(&plain, &upstream, &[&x])?;
                assert_close(&gf[0], &gp[0], 1e-5)?;
            }
        }
        Ok(())
    }

    #[test]
    fn computes_no_gradient_for_the_frozen_weight_and_bias() -> Result<()> {
        let device = Device::Cpu;
        let weight = Var::from_tensor(&Tensor::randn(0f32, 1.0, (4, 3), &device)?)?;
        let bias = Var::from_tensor(&Tensor::randn(0f32, 1.0, 4, &device)?)?;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 3), &device)?)?;
        let grads = frozen_linear(&x, &weight, Some(&bias))?
            .sum_all()?
            .backward()?;
        assert!(grads.get(&x).is_some());
        assert!(grads.get(&weight).is_none() && grads.get(&bias).is_none());
        Ok(())
    }

    #[test]
    fn handles_offset_inputs_and_refuses_mismatched_widths() -> Result<()> {
        let device = Device::Cpu;
        let weight = Tensor::randn(0f32, 1.0, (4, 3), &device)?;
        let big = Tensor::randn(0f32, 1.0, (5, 3), &device)?;
        let slice = big.narrow(0, 2, 3)?;
        let expected = slice.matmul(&weight.t()?)?;
        assert_close(&frozen_linear(&slice, &weight, None)?, &expected, 1e-5)?;
        let x = Tensor::zeros((2, 4), candle_core::DType::F32, &device)?;
        assert!(frozen_linear(&x, &weight, None).is_err());
        let bias = Tensor::zeros(3, candle_core::DType::F32, &device)?;
        assert!(frozen_linear(&big, &weight, Some(&bias)).is_err());
        Ok(())
    }
}
