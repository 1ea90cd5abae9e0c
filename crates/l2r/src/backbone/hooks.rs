//! Insertion points where PEFT modules (and, later, routed compositions of them) act on the frozen encoder.

use candle_core::{Result, Tensor};

/// The frozen linear layers of a transformer layer, by role (named as in HF PEFT's `target_modules`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinearSite {
    Query,
    Key,
    Value,
    AttentionOutput,
    Intermediate,
    Output,
}

/// Callbacks the encoder makes during its forward pass. The defaults leave the encoder untouched.
pub trait EncoderHooks {
    /// Called with the hidden state entering `layer` (batch, seq, hidden), before the layer runs. Routers that
    /// read a layer's [CLS] state compute their gates here.
    fn begin_layer(&self, _layer: usize, _hidden: &Tensor) -> Result<()> {
        Ok(())
    }

    /// A term added to the output of the frozen linear `site` of `layer` given its input (LoRA's `B A x`).
    fn linear_delta(
        &self,
        _layer: usize,
        _site: LinearSite,
        _input: &Tensor,
    ) -> Result<Option<Tensor>> {
        Ok(None)
    }

    /// Maps the feed-forward block's output of `layer`, before its residual and layer norm (bottleneck adapter).
    fn after_feed_forward(&self, _layer: usize, hidden: &Tensor) -> Result<Tensor> {
        Ok(hidden.clone())
    }
}

/// The plain frozen encoder.
pub struct NoHooks;

impl EncoderHooks for NoHooks {}
