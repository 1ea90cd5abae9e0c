//! The one interface of every routing baseline evaluated beside L2R on the same modules and heads: per example,
//! weights over the modules (or a per-token routing inside the encoder), and the setups it fills, each with the
//! decision rule that turns the composed representation's logits into predictions.

use super::{
    stacked_keys, ArrowRouting, Dam, EpiIdentifier, Mocl, TaskStatistics, Uniform, ARROW_TOP_K,
};
use crate::backbone::EncoderHooks;
use crate::compose::{CompositionMode, Decision, Routed};
use crate::embedded::EmbeddedExamples;
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
    fn setups(&self) -> &'static [(Setup, Decision)];

    /// The module weights for a batch whose frozen sentence embeddings are `frozen` (batch, d).
    fn weights(&self, frozen: &Tensor) -> Result<ModuleWeights<'_>>;
}

/// Every routing baseline on the modules of `routed`, built once per step from what each finished task left:
/// its statistics, and the memory's centroids. Arrow only where the modules are LoRA.
pub fn step_baselines<'a>(
    routed: &Routed<'a>,
    statistics: &[&TaskStatistics],
    memory: &EmbeddedExamples,
) -> Result<Vec<Box<dyn RoutingBaseline + 'a>>> {
    let num_tasks = routed.num_tasks();
    let mut baselines: Vec<Box<dyn RoutingBaseline + 'a>> = vec![
        Box::new(Uniform { num_tasks }),
        Box::new(Dam::new(memory.centroids(num_tasks)?)),
        Box::new(EpiIdentifier::new(
            &statistics.iter().map(|s| &s.epi).collect::<Vec<_>>(),
        )?),
        Box::new(Mocl::new(stacked_keys(statistics)?)),
    ];
    if !routed.stack.loras.is_empty() {
        baselines.push(Box::new(ArrowRouting::new(routed.stack, ARROW_TOP_K)?));
    }
    Ok(baselines)
}
