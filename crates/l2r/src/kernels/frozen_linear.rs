//! `x Wᵀ + b` for a frozen weight W and bias b. candle's matmul backward also computes the gradient of W, which a
//! frozen backbone never uses (+43 GFLOP and ~1.5 GB per MiniLM training step; docs/design.md, "Performance
//! design"); this op's backward returns only the input's gradient, `dy W`. The forward calls gemm directly so that
//! the bias is the initial value of the output (candle zero-fills it, then a broadcast add makes another pass).
//!
//! The bf16 variant packs W once, in both orientations, for the AVX-512 BF16 GEMM (`bf16_gemm`): the forward
//! multiplies by Wᵀ and the input gradient by W, each a custom op so the gradient is itself differentiable.

use super::bf16_gemm::{self, bf16_available, PackedB};
use super::cpu::{contiguous, par_repeat, par_zeros, with_f32};
use super::rows::on_rows;
use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use std::sync::Arc;

const NAME: &str = "frozen-linear";
const BF16_NAME: &str = "frozen-linear-bf16";
const BF16_GRAD_NAME: &str = "frozen-linear-bf16-input-grad";

struct FrozenLinear {
    /// (out, in), contiguous.
    weight: Tensor,
    /// (out), contiguous.
    bias: Option<Tensor>,
}

/// The number of rows of an input `dims` whose last dimension must be `width`.
fn rows_of(dims: &[usize], width: usize, op: &str) -> Result<usize> {
    if dims.last() != Some(&width) {
        bail!("{op}: input {dims:?} does not end in the weight's input width {width}");
    }
    Ok(dims[..dims.len() - 1].iter().product())
}

/// `dims` with the last dimension replaced by `width`.
fn with_last_dim(dims: &[usize], width: usize) -> Shape {
    let mut dims = dims.to_vec();
    if let Some(last) = dims.last_mut() {
        *last = width;
    }
    Shape::from(dims)
}

/// The output buffer, each row starting as the bias (or zero); the bias must have `width` values.
fn initial_output(bias: Option<&Tensor>, rows: usize, width: usize, op: &str) -> Result<Vec<f32>> {
    match bias {
        Some(bias) if bias.dims() != [width] => {
            bail!("{op}: the bias does not match the weight's output width {width}")
        }
        Some(bias) => with_f32(bias, op, |bias| Ok(par_repeat(bias, rows))),
        None => Ok(par_zeros(rows * width)),
    }
}

impl CustomOp1 for FrozenLinear {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, k) = self.weight.dims2()?;
        let m = rows_of(layout.dims(), k, NAME)?;
        let mut out = initial_output(self.bias.as_ref(), m, n, NAME)?;
        let x = contiguous(storage, layout, NAME)?;
        with_f32(&self.weight, NAME, |weight| {
            gemm_accumulate(&mut out, x, weight, (m, n, k))
        })?;
        Ok((CpuStorage::F32(out), with_last_dim(layout.dims(), n)))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(on_rows(grad_res, |rows| rows.matmul(&self.weight))?))
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
    if !x.device().is_cpu() {
        return super::composed::frozen_linear(x, weight, bias);
    }
    x.contiguous()?.apply_op1(FrozenLinear {
        weight: weight.contiguous()?,
        bias: bias.map(Tensor::contiguous).transpose()?,
    })
}

/// A frozen weight (out, in) packed once in bf16 for [`frozen_linear_bf16`]: Wᵀ for the forward and W for
/// the input gradient. Cloning shares the packing.
#[derive(Clone)]
pub struct FrozenBf16Weight {
    packed: Arc<Bf16Packing>,
}

struct Bf16Packing {
    /// B = Wᵀ: k = in, n = out.
    forward: PackedB,
    /// B = W: k = out, n = in.
    backward: PackedB,
}

impl FrozenBf16Weight {
    /// Packs an f32 `weight` of shape (out, in), rounding to bf16 (nearest even).
    pub fn new(weight: &Tensor) -> Result<Self> {
        let (out, input) = weight.dims2()?;
        let packed = with_f32(weight, BF16_NAME, |w| {
            Ok(Bf16Packing {
                forward: PackedB::from_transposed(w, input, out)?,
                backward: PackedB::from_rows(w, out, input)?,
            })
        })?;
        Ok(Self {
            packed: Arc::new(packed),
        })
    }

    /// (out, in) of the weight.
    pub fn dims(&self) -> (usize, usize) {
        (self.packed.forward.n(), self.packed.forward.k())
    }

    /// out (rows × out_width) += x (rows × in_width) · Wᵀ on row-major slices, with x rounded to bf16; the
    /// slice-level form of the forward, for callers that own their buffers.
    pub fn forward_into(&self, x: &[f32], out: &mut [f32]) -> Result<()> {
        let (out_width, in_width) = self.dims();
        // The GEMM checks both lengths against this row count.
        let rows = match in_width {
            0 => out.len() / out_width.max(1),
            _ => x.len() / in_width,
        };
        bf16_gemm::gemm(out, x, &self.packed.forward, rows)
    }
}

impl std::fmt::Debug for FrozenBf16Weight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (out, input) = self.dims();
        write!(f, "FrozenBf16Weight({out} × {input}, bf16)")
    }
}

struct FrozenLinearBf16 {
    weight: FrozenBf16Weight,
    /// (out), contiguous.
    bias: Option<Tensor>,
}

impl CustomOp1 for FrozenLinearBf16 {
    fn name(&self) -> &'static str {
        BF16_NAME
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, k) = self.weight.dims();
        let m = rows_of(layout.dims(), k, BF16_NAME)?;
        let mut out = initial_output(self.bias.as_ref(), m, n, BF16_NAME)?;
        let x = contiguous(storage, layout, BF16_NAME)?;
        bf16_gemm::gemm(&mut out, x, &self.weight.packed.forward, m)?;
        Ok((CpuStorage::F32(out), with_last_dim(layout.dims(), n)))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad_res.contiguous()?.apply_op1(Bf16InputGradient {
            weight: self.weight.clone(),
        })?;
        Ok(Some(grad))
    }
}

/// dy (…, out) ↦ dy · W (…, in): the input gradient of [`FrozenLinearBf16`].
struct Bf16InputGradient {
    weight: FrozenBf16Weight,
}

impl CustomOp1 for Bf16InputGradient {
    fn name(&self) -> &'static str {
        BF16_GRAD_NAME
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n_out, n_in) = self.weight.dims();
        let m = rows_of(layout.dims(), n_out, BF16_GRAD_NAME)?;
        let mut dx = par_zeros(m * n_in);
        let dy = contiguous(storage, layout, BF16_GRAD_NAME)?;
        bf16_gemm::gemm(&mut dx, dy, &self.weight.packed.backward, m)?;
        Ok((CpuStorage::F32(dx), with_last_dim(layout.dims(), n_in)))
    }

    /// The map is linear in dy, so its own gradient is g · Wᵀ: the forward without bias.
    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad_res.contiguous()?.apply_op1(FrozenLinearBf16 {
            weight: self.weight.clone(),
            bias: None,
        })?;
        Ok(Some(grad))
    }
}

/// `x Wᵀ + b` like [`frozen_linear`], with x and W rounded to bf16 and f32 accumulation, forward and input
/// gradient on the AVX-512 BF16 GEMM. Fails on CPUs without it (see [`bf16_available`]): the caller then
/// uses [`frozen_linear`].
pub fn frozen_linear_bf16(
    x: &Tensor,
    weight: &FrozenBf16Weight,
    bias: Option<&Tensor>,
) -> Result<Tensor> {
    if !bf16_available() {
        bail!("{BF16_NAME}: this CPU lacks AVX-512 BF16 (avx512f + avx512bf16); use frozen_linear");
    }
    x.contiguous()?.apply_op1(FrozenLinearBf16 {
        weight: weight.clone(),
        bias: bias.map(Tensor::contiguous).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, gradients};
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
                let plain = crate::kernels::composed::frozen_linear(&x, &weight, bias)?;
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
        // Nor does the composition another device runs.
        let grads = crate::kernels::composed::frozen_linear(&x, &weight, Some(&bias))?
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

    /// Skips (with a note) where the CPU has no AVX-512 BF16.
    fn bf16_missing() -> bool {
        let missing = !bf16_available();
        if missing {
            println!("skipped: no AVX-512 BF16 on this CPU");
        }
        missing
    }

    #[test]
    fn bf16_matches_fp32_forward_and_input_gradient() -> Result<()> {
        if bf16_missing() {
            return Ok(());
        }
        let device = Device::Cpu;
        for (rows, k, n) in [(1, 1, 1), (3, 5, 7), (37, 384, 96), (65, 1537, 383)] {
            let weight = Tensor::randn(0f32, 1.0, (n, k), &device)?;
            let packed = FrozenBf16Weight::new(&weight)?;
            assert_eq!(packed.dims(), (n, k));
            let bias = Tensor::randn(0f32, 1.0, n, &device)?;
            let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, rows, k), &device)?)?;
            let upstream = Tensor::randn(0f32, 1.0, (2, rows, n), &device)?;
            for bias in [None, Some(&bias)] {
                let bf16 = frozen_linear_bf16(&x, &packed, bias)?;
                let fp32 = frozen_linear(&x, &weight, bias)?;
                assert_eq!(bf16.dims(), fp32.dims());
                assert_close(&bf16, &fp32, 2e-2)?;
                let gb = gradients(&bf16, &upstream, &[&x])?;
                let gf = gradients(&fp32, &upstream, &[&x])?;
                assert_eq!(gb[0].dims(), x.dims());
                assert_close(&gb[0], &gf[0], 2e-2)?;
            }
        }
        Ok(())
    }

    #[test]
    fn bf16_is_exact_on_bf16_values_and_slices_agree_with_the_op() -> Result<()> {
        if bf16_missing() {
            return Ok(());
        }
        let device = Device::Cpu;
        // Small integers are exact in bf16 and their sums exact in f32: both paths must agree bit for bit.
        let weight = Tensor::arange(0f32, 35.0, &device)?
            .affine(1.0, -17.0)?
            .reshape((7, 5))?;
        let x = Tensor::arange(0f32, 15.0, &device)?
            .affine(0.5, -3.0)?
            .reshape((3, 5))?;
        let packed = FrozenBf16Weight::new(&weight)?;
        assert_close(
            &frozen_linear_bf16(&x, &packed, None)?,
            &frozen_linear(&x, &weight, None)?,
            0.0,
        )?;
        let mut out = vec![1f32; 3 * 7];
        packed.forward_into(&x.flatten_all()?.to_vec1()?, &mut out)?;
        let expected = (frozen_linear(&x, &weight, None)? + 1.0)?;
        assert_close(&Tensor::from_vec(out, (3, 7), &device)?, &expected, 0.0)?;
        assert!(packed.forward_into(&[0.0; 4], &mut [0.0; 7]).is_err());
        Ok(())
    }

    #[test]
    fn bf16_input_gradient_has_its_own_gradient() -> Result<()> {
        if bf16_missing() {
            return Ok(());
        }
        // dx = dy·W is linear in dy, so the gradient of Σ u ⊙ dx with respect to dy is u·Wᵀ: the path a
        // second-order gradient takes through the input-gradient op.
        let device = Device::Cpu;
        let weight = Tensor::randn(0f32, 1.0, (6, 4), &device)?;
        let packed = FrozenBf16Weight::new(&weight)?;
        let dy = Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 6), &device)?)?;
        let dx = dy.apply_op1(Bf16InputGradient { weight: packed })?;
        let upstream = Tensor::randn(0f32, 1.0, (3, 4), &device)?;
        let got = gradients(&dx, &upstream, &[&dy])?;
        assert_close(&got[0], &upstream.matmul(&weight.t()?)?, 2e-2)?;
        Ok(())
    }

    #[test]
    fn bf16_refuses_mismatched_shapes() -> Result<()> {
        if bf16_missing() {
            return Ok(());
        }
        let device = Device::Cpu;
        let weight = Tensor::randn(0f32, 1.0, (4, 3), &device)?;
        assert!(FrozenBf16Weight::new(&weight.flatten_all()?).is_err());
        let packed = FrozenBf16Weight::new(&weight)?;
        let x = Tensor::zeros((2, 4), candle_core::DType::F32, &device)?;
        assert!(frozen_linear_bf16(&x, &packed, None).is_err());
        let x = Tensor::zeros((2, 3), candle_core::DType::F32, &device)?;
        let bias = Tensor::zeros(3, candle_core::DType::F32, &device)?;
        assert!(frozen_linear_bf16(&x, &packed, Some(&bias)).is_err());
        Ok(())
    }
}
