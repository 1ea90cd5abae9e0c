//! Frozen building blocks whose every op has a backward pass.

use super::weights::WeightMap;
use crate::error::Result;
use crate::kernels;
use candle_core::Tensor;

/// `y = x Wᵀ + b` with a frozen weight of shape (out, in).
#[derive(Clone)]
pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

impl Linear {
    pub fn load(weights: &WeightMap, prefix: &str, in_dim: usize, out_dim: usize) -> Result<Self> {
        Ok(Linear {
            weight: weights.get(&format!("{prefix}.weight"), &[out_dim, in_dim])?,
            bias: Some(weights.get(&format!("{prefix}.bias"), &[out_dim])?),
        })
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        kernels::frozen_linear(x, &self.weight, self.bias.as_ref())
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
