//! Local adaptation (docs/design.md, "Local adaptation"; off by default): per test batch, a copy of the routers
//! takes a few gradient steps on the memory examples nearest to the batch (cosine of frozen embeddings), predicts,
//! and is discarded.

use super::config::LocalAdaptation;
use super::fit::FitStep;
use super::network::RouterNetwork;
use crate::compose::Routed;
use crate::embedded::EmbeddedExamples;
use crate::error::Result;
use candle_core::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Indices (sorted, distinct) of the `k` rows of `references` most similar to each row of `queries` (both
/// unit-norm, the same representation).
pub fn nearest_memory(references: &Tensor, queries: &Tensor, k: usize) -> Result<Vec<usize>> {
    let similarity = queries.matmul(&references.t()?)?.to_vec2::<f32>()?;
    let mut chosen: Vec<usize> = similarity
        .iter()
        .flat_map(|row| {
            let mut order: Vec<usize> = (0..row.len()).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            order.truncate(k);
            order
        })
        .collect();
    chosen.sort_unstable();
    chosen.dedup();
    Ok(chosen)
}

/// A copy of `network` after `config.steps` steps on the memory examples nearest to `frozen` (the test
/// batch in the routers' representation).
pub fn adapt_router(
    network: &RouterNetwork,
    routed: &Routed,
    memory: &EmbeddedExamples,
    frozen: &Tensor,
    config: &LocalAdaptation,
    seed: u64,
) -> Result<RouterNetwork> {
    let copy = network.try_clone()?;
    let references = memory.features(network.config.input.representation());
    let neighbours = nearest_memory(references, frozen, config.neighbours)?;
    let mut optimizer = copy.optimizer(config.learning_rate)?;
    let offsets = routed.label_offsets();
    // The loaded ridge has no leave-one-out form; a few local steps can use its plain scores.
    let class_scores = copy.class_scores(references)?;
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..config.steps {
        let step = FitStep {
            routed,
            memory,
            network: &copy,
            offsets: &offsets,
            class_scores: class_scores.as_ref(),
            replay: None,
        };
        step.run(
            &neighbours,
            StdRng::seed_from_u64(rng.random()),
            &mut optimizer,
        )?;
    }
    Ok(copy)
}
