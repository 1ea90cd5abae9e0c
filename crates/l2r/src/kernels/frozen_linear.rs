//! `x Wᵀ` for a frozen weight W. candle's matmul backward also computes the gradient of W, which a frozen
//! backbone never uses (+43 GFLOP and ~1.5 GB per MiniLM training step, design.md §3); this op's backward
//! returns only the input's gradient, `dy W`.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Storage, Tensor};

struct FrozenMatmul {
    /// (out, in), contiguous.
    weight: Tensor,
}

impl CustomOp1 for FrozenMatmul {
    fn name(&self) -> &'static str {
        "frozen-matmul"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = layout.dims();
        let (n, k) = self.weight.dims2()?;
        if dims.last() != Some(&k) {
            candle_core::bail!(
                "frozen matmul: input {dims:?} does not end in the weight's input width {k}"
            );
        }
        let Some((start, _)) = layout.contiguous_offsets() else {
            candle_core::bail!("frozen matmul: the input must be contiguous");
        };
        let m = layout.shape().elem_count() / k;
        let (weight_storage, weight_layout) = self.weight.storage_and_layout();
        let Storage::Cpu(weight) = &*weight_storage else {
            candle_core::bail!("frozen matmul: the weight is not on the CPU");
        };
        // W is (n, k) row-major; read as Wᵀ (1, k, n) its strides are [n·k, 1, k]: no copy.
        let lhs = Layout::contiguous_with_offset((1, m, k), start);
        let rhs = Layout::new(
            Shape::from((1, k, n)),
            vec![n * k, 1, k],
            weight_layout.start_offset(),
        );
        let out = storage.matmul(weight, (1, m, n, k), &lhs, &rhs)?;
        let mut out_dims = dims.to_vec();
        *out_dims.last_mut().expect("checked non-empty") = n;
        Ok((out, Shape::from(out_dims)))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad_res.broadcast_matmul(&self.weight)?))
    }
}

/// `x Wᵀ` over the last dimension of `x` for a frozen `weight` (out, in); gradients flow to `x` only.
pub fn frozen_matmul(x: &Tensor, weight: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(FrozenMatmul {
        weight: weight.contiguous()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    #[test]
    fn matches_plain_matmul_forward_and_input_gradient() {
        let device = Device::Cpu;
        let weight = Tensor::randn(0f32, 1.0, (7, 5), &device).unwrap();
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 3, 5), &device).unwrap()).unwrap();
        let upstream = Tensor::randn(0f32, 1.0, (2, 3, 7), &device).unwrap();

        let fused = frozen_matmul(x.as_tensor(), &weight).unwrap();
        let plain = x
            .as_tensor()
            .broadcast_matmul(&weight.t().unwrap())
            .unwrap();
        assert!(max_diff(&fused, &plain) < 1e-5);

        let grad_fused = (fused * &upstream)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let grad_plain = (plain * &upstream)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let (gf, gp) = (
            grad_fused.get(x.as_tensor()).unwrap(),
            grad_plain.get(x.as_tensor()).unwrap(),
        );
        assert!(max_diff(gf, gp) < 1e-5);
        assert!(
            grad_fused.get(&weight).is_none(),
            "no gradient is computed for the frozen weight"
        );
    }

    #[test]
    fn handles_offset_inputs_and_refuses_mismatched_widths() {
        let device = Device::Cpu;
        let weight = Tensor::randn(0f32, 1.0, (4, 3), &device).unwrap();
        let big = Tensor::randn(0f32, 1.0, (5, 3), &device).unwrap();
        let slice = big.narrow(0, 2, 3).unwrap();
        let expected = slice.matmul(&weight.t().unwrap()).unwrap();
        assert!(max_diff(&frozen_matmul(&slice, &weight).unwrap(), &expected) < 1e-5);
        assert!(frozen_matmul(
            &Tensor::zeros((2, 4), candle_core::DType::F32, &device).unwrap(),
            &weight
        )
        .is_err());
    }
}
