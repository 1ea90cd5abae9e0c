//! Local adaptation (design.md §1, off by default): per test batch, a copy of the routers takes a few gradient
//! steps on the memory examples nearest to the batch (cosine of frozen embeddings), predicts, and is discarded.

use super::fit::{FitStep, MemoryBatch};
use super::network::RouterNetwork;
use crate::compose::Routed;
use crate::error::{Error, Result};
use candle_core::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalAdaptation {
    /// Memory examples taken per test example (their union over the batch is the adaptation set).
    pub neighbours: usize,
    /// Gradient steps of the copied routers per test batch.
    pub steps: usize,
    pub learning_rate: f64,
    /// Test examples that share one adapted copy.
    pub batch_size: usize,
}

impl Default for LocalAdaptation {
    fn default() -> Self {
        LocalAdaptation {
            neighbours: 8,
            steps: 3,
            learning_rate: 1e-2,
            batch_size: 16,
        }
    }
}

impl LocalAdaptation {
    pub fn validate(&self) -> Result<()> {
        if self.neighbours == 0 || self.steps == 0 || self.batch_size == 0 {
            return Err(Error::invalid(
                "router.local_adaptation: neighbours, steps and batch_size must be at least 1",
            ));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(Error::invalid(
                "router.local_adaptation: learning_rate must be > 0",
            ));
        }
        Ok(())
    }
}

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
    memory: &MemoryBatch,
    frozen: &Tensor,
    config: &LocalAdaptation,
    seed: u64,
) -> Result<RouterNetwork> {
    let copy = network.try_clone()?;
    let references = memory.routing(network.config.input);
    let neighbours = nearest_memory(references, frozen, config.neighbours)?;
    let mut optimizer = copy.optimizer(config.learning_rate)?;
    let offsets = routed.label_offsets();
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..config.steps {
        let step = FitStep {
            routed,
            memory,
            network: &copy,
            offsets: &offsets,
        };
        step.run(
            &neighbours,
            StdRng::seed_from_u64(rng.random()),
            &mut optimizer,
        )?;
    }
    Ok(copy)
}
