//! Multi-head self-attention and its output projection (`attention.self.*` / `attention.output.*` in BERT,
//! `attention.attn.{q,k,v,o}` / `attention.LayerNorm` in MPNet).

use super::config::{Architecture, EncoderConfig};
use super::hooks::{EncoderHooks, LinearSite};
use super::nn::{LayerNorm, Linear};
use super::weights::WeightMap;
use crate::error::Result;
use crate::kernels;
use candle_core::Tensor;

pub struct SelfAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    layer_norm: LayerNorm,
    num_heads: usize,
    head_dim: usize,
}

/// Weight prefixes of the attention block, per architecture.
struct Names {
    query: String,
    key: String,
    value: String,
    output: String,
    layer_norm: String,
}

fn names(layer: usize, architecture: Architecture) -> Names {
    let p = format!("encoder.layer.{layer}.attention");
    match architecture {
        Architecture::Bert => Names {
            query: format!("{p}.self.query"),
            key: format!("{p}.self.key"),
            value: format!("{p}.self.value"),
            output: format!("{p}.output.dense"),
            layer_norm: format!("{p}.output.LayerNorm"),
        },
        Architecture::MPNet => Names {
            query: format!("{p}.attn.q"),
            key: format!("{p}.attn.k"),
            value: format!("{p}.attn.v"),
            output: format!("{p}.attn.o"),
            layer_norm: format!("{p}.LayerNorm"),
        },
    }
}

impl SelfAttention {
    pub(super) fn linears_mut(&mut self) -> [&mut Linear; 4] {
        [
            &mut self.query,
            &mut self.key,
            &mut self.value,
            &mut self.output,
        ]
    }

    pub fn load(
        weights: &WeightMap,
        config: &EncoderConfig,
        layer: usize,
        architecture: Architecture,
    ) -> Result<Self> {
        let h = config.hidden_size;
        let n = names(layer, architecture);
        Ok(SelfAttention {
            query: Linear::load(weights, &n.query, h, h)?,
            key: Linear::load(weights, &n.key, h, h)?,
            value: Linear::load(weights, &n.value, h, h)?,
            output: Linear::load(weights, &n.output, h, h)?,
            layer_norm: LayerNorm::load(weights, &n.layer_norm, h, config.layer_norm_eps)?,
            num_heads: config.num_attention_heads,
            head_dim: config.head_dim(),
        })
    }

    /// `bias`: additive on the scores, broadcastable to (batch, heads, seq, seq).
    pub fn forward(
        &self,
        x: &Tensor,
        bias: &Tensor,
        layer: usize,
        hooks: &dyn EncoderHooks,
    ) -> Result<Tensor> {
        let q = hooked(&self.query, x, layer, LinearSite::Query, hooks)?;
        let k = hooked(&self.key, x, layer, LinearSite::Key, hooks)?;
        let v = hooked(&self.value, x, layer, LinearSite::Value, hooks)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let context = kernels::attention(&q, &k, &v, bias, self.num_heads, scale)?;
        let projected = hooked(
            &self.output,
            &context,
            layer,
            LinearSite::AttentionOutput,
            hooks,
        )?;
        Ok(self.layer_norm.forward_residual(&projected, x)?)
    }
}

/// A frozen linear plus whatever delta the hooks add at this site (LoRA).
pub fn hooked(
    linear: &Linear,
    x: &Tensor,
    layer: usize,
    site: LinearSite,
    hooks: &dyn EncoderHooks,
) -> Result<Tensor> {
    let y = linear.forward(x)?;
    Ok(match hooks.linear_delta(layer, site, x)? {
        Some(delta) => (y + delta)?,
        None => y,
    })
}
