//! Similarity routing without training, the DAM-style baseline (docs/design.md, "Baselines"): each example's
//! weights are a softmax (temperature 0.01) over its cosine to each task's centroid of frozen embeddings, kept for
//! the top-2 tasks only and zero elsewhere. The same weights serve every layer; the modules are merged per example.

use super::routing::{ModuleWeights, RoutingBaseline};
use crate::compose::{CompositionMode, Decision};
use crate::embedded::{Features, Representation};
use crate::error::{Error, Result};
use crate::metrics::{Approach, Setup};
use candle_core::Tensor;

/// DAM's published choices: the two most similar tasks, a sharp softmax between them.
pub const DAM_TOP_K: usize = 2;
pub const DAM_TEMPERATURE: f64 = 0.01;

/// DAM-style routing to the memory's task centroids.
pub struct Dam {
    /// (T, d) unit-norm centroids of each task's memory embeddings in `representation`.
    centroids: Tensor,
    representation: Representation,
}

impl Dam {
    pub fn new(centroids: Tensor, representation: Representation) -> Self {
        Dam {
            centroids,
            representation,
        }
    }
}

impl RoutingBaseline for Dam {
    fn setups(&self) -> Vec<(Setup, Decision)> {
        let r = self.representation;
        vec![
            (Setup::til(Approach::Dam(r)), Decision::OwnHead),
            (Setup::cil(Approach::Dam(r)), Decision::AllHeads),
            (Setup::cil(Approach::DamTopTask(r)), Decision::TopModuleHead),
            (Setup::routing(Approach::Dam(r)), Decision::TopModule),
        ]
    }

    fn weights(&self, features: &Features) -> Result<ModuleWeights<'_>> {
        let frozen = features.get(self.representation);
        Ok(ModuleWeights::PerExample {
            weights: CentroidWeights::dam(frozen, &self.centroids)?.weights,
            mode: Some(CompositionMode::Merge),
        })
    }
}

/// Per-example module weights from centroid similarity, computed once per batch.
pub struct CentroidWeights {
    weights: Tensor,
}

impl CentroidWeights {
    /// `frozen` (batch, d) and `centroids` (T, d) are unit-norm; keeps the `top_k` most similar tasks.
    pub fn new(
        frozen: &Tensor,
        centroids: &Tensor,
        top_k: usize,
        temperature: f64,
    ) -> Result<Self> {
        if top_k == 0 || temperature <= 0.0 {
            return Err(Error::invalid(
                "centroid routing needs top_k >= 1 and a temperature > 0",
            ));
        }
        let cosine = frozen.matmul(&centroids.t()?)?.to_vec2::<f32>()?;
        let rows: Vec<Vec<f32>> = cosine
            .iter()
            .map(|row| top_k_softmax(row, top_k, temperature))
            .collect();
        let (batch, tasks) = (rows.len(), centroids.dim(0)?);
        let flat: Vec<f32> = rows.into_iter().flatten().collect();
        Ok(CentroidWeights {
            weights: Tensor::from_vec(flat, (batch, tasks), frozen.device())?,
        })
    }

    /// DAM-style weights.
    pub fn dam(frozen: &Tensor, centroids: &Tensor) -> Result<Self> {
        Self::new(frozen, centroids, DAM_TOP_K, DAM_TEMPERATURE)
    }

    /// (batch, T) weights, rows summing to one.
    pub fn weights(&self) -> &Tensor {
        &self.weights
    }
}

/// softmax(s / τ) over the `k` largest scores, zero for the others.
fn top_k_softmax(scores: &[f32], k: usize, temperature: f64) -> Vec<f32> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let kept = &order[..k.min(order.len())];
    let best = scores[kept[0]] as f64;
    let mut out = vec![0f32; scores.len()];
    let mut total = 0.0;
    for &i in kept {
        let e = ((scores[i] as f64 - best) / temperature).exp();
        out[i] = e as f32;
        total += e;
    }
    out.iter_mut().for_each(|v| *v = (*v as f64 / total) as f32);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn keeps_only_the_top_k_and_sums_to_one() {
        let w = top_k_softmax(&[0.1, 0.5, 0.49, -0.2], 2, 0.01);
        assert_eq!((w[0], w[3]), (0.0, 0.0));
        assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // exp(0.01 / 0.01) = e: the closer task gets e times the weight of the runner-up.
        assert!((w[1] / w[2] - std::f32::consts::E).abs() < 1e-3);
    }

    #[test]
    fn routes_each_example_to_its_nearest_centroid() -> Result<()> {
        let centroids = Tensor::new(&[[1f32, 0.0], [0.0, 1.0], [0.6, 0.8]], &Device::Cpu)?;
        let frozen = Tensor::new(&[[0.0f32, 1.0], [1.0, 0.0]], &Device::Cpu)?;
        let w = CentroidWeights::dam(&frozen, &centroids)?
            .weights()
            .to_vec2::<f32>()?;
        assert!(w[0][1] > 0.99 && w[0][0] == 0.0);
        assert!(w[1][0] > 0.99 && w[1][1] == 0.0);
        Ok(())
    }

    #[test]
    fn rejects_a_zero_top_k() {
        let t = Tensor::new(&[[1f32, 0.0]], &Device::Cpu).unwrap();
        assert!(CentroidWeights::new(&t, &t, 0, 0.01).is_err());
    }
}
