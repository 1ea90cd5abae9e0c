//! Frozen building blocks whose every op has a backward pass.

use super::precision::Precision;
use super::weights::WeightMap;
use crate::error::Result;
use crate::kernels;
use candle_core::Tensor;

/// `y = x Wᵀ + b` with a frozen weight of shape (out, in).
#[derive(Clone)]
pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    /// The weight packed in bf16 when the backbone runs in bf16 (see [`Precision`]).
    bf16: Option<kernels::FrozenBf16Weight>,
}

impl Linear {
    pub fn load(weights: &WeightMap, prefix: &str, in_dim: usize, out_dim: usize) -> Result<Self> {
        Ok(Linear {
            weight: weights.get(&format!("{prefix}.weight"), &[out_dim, in_dim])?,
            bias: Some(weights.get(&format!("{prefix}.bias"), &[out_dim])?),
            bf16: None,
        })
    }

    /// Packs the weight in bf16 (or drops the packed copy for fp32). `precision` must be one the CPU supports.
    pub fn set_precision(&mut self, precision: Precision) -> Result<()> {
        self.bf16 = match precision {
            Precision::Fp32 => None,
            Precision::Bf16 => Some(kernels::FrozenBf16Weight::new(&self.weight)?),
        };
        Ok(())
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match &self.bf16 {
            Some(packed) => kernels::frozen_linear_bf16(x, packed, self.bias.as_ref()),
            None => kernels::frozen_linear(x, &self.weight, self.bias.as_ref()),
        }
    }
}

/// Layer normalisation over the last dimension with a frozen weight and bias (fused kernel with a backward
/// to its input, unlike candle's).
#[derive(Clone)]
pub struct LayerNorm {
    pub weight: Tensor,
    pub bias: Tensor,
    pub eps: f64,
}

impl LayerNorm {
    pub fn load(weights: &WeightMap, prefix: &str, dim: usize, eps: f64) -> Result<Self> {
        Ok(LayerNorm {
            weight: weights.get(&format!("{prefix}.weight"), &[dim])?,
            bias: weights.get(&format!("{prefix}.bias"), &[dim])?,
            eps,
        })
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        kernels::layer_norm(x, &self.weight, &self.bias, self.eps)
    }

    /// `forward(x + residual)` in one pass.
    pub fn forward_residual(&self, x: &Tensor, residual: &Tensor) -> candle_core::Result<Tensor> {
        kernels::add_layer_norm(x, residual, &self.weight, &self.bias, self.eps)
    }
}
