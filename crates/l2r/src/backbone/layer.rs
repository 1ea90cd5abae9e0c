//! `encoder.layer.N`: attention, then the feed-forward block (`intermediate.dense`, GELU, `output.dense`),
//! with the bottleneck-adapter insertion point before the feed-forward residual.

use super::attention::{hooked, SelfAttention};
use super::config::{Architecture, EncoderConfig};
use super::hooks::{EncoderHooks, LinearSite};
use super::nn::{LayerNorm, Linear};
use super::weights::WeightMap;
use crate::error::Result;
use crate::kernels;
use candle_core::Tensor;

pub struct EncoderLayer {
    index: usize,
    attention: SelfAttention,
    intermediate: Linear,
    output: Linear,
    output_layer_norm: LayerNorm,
}

impl EncoderLayer {
    /// Every frozen linear layer of this encoder layer.
    pub(super) fn linears_mut(&mut self) -> impl Iterator<Item = &mut Linear> {
        self.attention
            .linears_mut()
            .into_iter()
            .chain([&mut self.intermediate, &mut self.output])
    }

    pub fn load(
        weights: &WeightMap,
        config: &EncoderConfig,
        index: usize,
        architecture: Architecture,
    ) -> Result<Self> {
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let p = format!("encoder.layer.{index}");
        Ok(EncoderLayer {
            index,
            attention: SelfAttention::load(weights, config, index, architecture)?,
            intermediate: Linear::load(weights, &format!("{p}.intermediate.dense"), h, i)?,
            output: Linear::load(weights, &format!("{p}.output.dense"), i, h)?,
            output_layer_norm: LayerNorm::load(
                weights,
                &format!("{p}.output.LayerNorm"),
                h,
                config.layer_norm_eps,
            )?,
        })
    }

    pub fn forward(
        &self,
        x: &Tensor,
        attention_bias: &Tensor,
        hooks: &dyn EncoderHooks,
    ) -> Result<Tensor> {
        let attended = self
            .attention
            .forward(x, attention_bias, self.index, hooks)?;
        let inner = hooked(
            &self.intermediate,
            &attended,
            self.index,
            LinearSite::Intermediate,
            hooks,
        )?;
        let inner = kernels::gelu_erf(&inner)?;
        let ffn = hooked(&self.output, &inner, self.index, LinearSite::Output, hooks)?;
        let ffn = hooks.after_feed_forward(self.index, &ffn)?;
        Ok(self.output_layer_norm.forward_residual(&ffn, &attended)?)
    }
}
