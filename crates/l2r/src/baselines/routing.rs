//! The one interface of every routing baseline evaluated beside L2R on the same modules and heads: per example,
//! weights over the modules (or a per-token routing inside the encoder), and the setups it fills, each with the
//! decision rule that turns the composed representation's logits into predictions.

use crate::backbone::EncoderHooks;
use crate::compose::{CompositionMode, Decision};
use crate::embedded::Features;
use crate::error::Result;
use crate::metrics::Setup;
use candle_core::Tensor;

/// How a baseline composes the modules for a batch.
pub enum ModuleWeights<'a> {
    /// (batch, T) weights, rows summing to one, the same at every layer, composed in `mode` (the run's own
    /// composition when `None`).
    PerExample {
        weights: Tensor,
        mode: Option<CompositionMode>,
    },
    /// Weights chosen inside the encoder, per token and site.
    PerToken(&'a dyn EncoderHooks),
}

pub trait RoutingBaseline {
    /// The setups it fills, each with the decision rule that makes its predictions.
    fn setups(&self) -> Vec<(Setup, Decision)>;

    /// The module weights for a batch whose frozen representations are `features`.
    fn weights(&self, features: &Features) -> Result<ModuleWeights<'_>>;
}
