//! MoCL-style routing (Wang et al., NAACL 2024, "Rehearsal-free modular and compositional continual learning for
//! language models"; docs/design.md, "Baselines"): each task owns a trainable key, fitted while its task is learned
//! with the matching loss `1 − cos(q, k_t)` on the task's own training inputs (q = frozen mean-pooled embedding);
//! at test time the modules are weighted by `softmax(scale · cos(q, k))` over all keys and their outputs averaged.

use super::routing::{ModuleWeights, RoutingBaseline};
use crate::compose::{CompositionMode, Decision};
use crate::embedded::{Features, Representation};
use crate::error::{Error, Result};
use crate::metrics::{Approach, Setup};
use candle_core::{DType, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// MoCL's matching scale: weights are `softmax(8 · cos(q, k))`.
pub const MOCL_SCALE: f64 = 8.0;

/// How a key is fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyTraining {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
}

impl Default for KeyTraining {
    fn default() -> Self {
        KeyTraining {
            epochs: 20,
            batch_size: 32,
            learning_rate: 1e-2,
        }
    }
}

/// Fits task `queries`' key (d,) from a seeded random start; returns the key and the final epoch's mean loss.
pub fn train_key(queries: &Tensor, training: &KeyTraining, seed: u64) -> Result<(Tensor, f64)> {
    let (n, d) = queries.dims2()?;
    if n == 0 || training.batch_size == 0 || training.epochs == 0 {
        return Err(Error::invalid(
            "a MoCL key needs training examples, epochs >= 1 and batch_size >= 1",
        ));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let start: Vec<f32> = (0..d)
        .map(|_| rand::Rng::random::<f32>(&mut rng) - 0.5)
        .collect();
    let key = Var::from_tensor(&Tensor::from_vec(start, d, queries.device())?)?;
    let params = ParamsAdamW {
        lr: training.learning_rate,
        weight_decay: 0.0,
        ..ParamsAdamW::default()
    };
    let mut optimizer = AdamW::new(vec![key.clone()], params)?;
    let unit_queries = crate::backbone::l2_normalize(&queries.to_dtype(DType::F32)?)?;
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut last_loss = f64::NAN;
    for _ in 0..training.epochs {
        order.shuffle(&mut rng);
        let mut total = 0.0;
        for chunk in order.chunks(training.batch_size) {
            let index = Tensor::new(chunk, queries.device())?;
            let batch = unit_queries.index_select(&index, 0)?;
            let loss = matching_loss(&batch, key.as_tensor())?;
            optimizer.backward_step(&loss)?;
            total += loss.to_scalar::<f32>()? as f64 * chunk.len() as f64;
        }
        last_loss = total / n as f64;
    }
    Ok((key.as_tensor().detach(), last_loss))
}

/// mean(1 − cos(q, k)) over unit-norm rows q.
fn matching_loss(unit_queries: &Tensor, key: &Tensor) -> Result<Tensor> {
    let norm = key.sqr()?.sum_all()?.sqrt()?;
    let cosine = unit_queries
        .matmul(&key.unsqueeze(1)?)?
        .squeeze(1)?
        .broadcast_div(&norm)?;
    Ok((1.0 - cosine.mean_all()?.to_dtype(DType::F32)?)?)
}

/// Per-example module weights `softmax(MOCL_SCALE · cos(q, k_t))`, the same at every layer.
pub struct MoclWeights {
    weights: Tensor,
}

impl MoclWeights {
    /// `queries` (batch, d) frozen embeddings, `keys` (T, d).
    pub fn new(queries: &Tensor, keys: &Tensor) -> Result<Self> {
        let q = crate::backbone::l2_normalize(queries)?;
        let k = crate::backbone::l2_normalize(keys)?;
        let cosine = q.matmul(&k.t()?)?;
        Ok(MoclWeights {
            weights: candle_nn::ops::softmax(&(cosine * MOCL_SCALE)?, D::Minus1)?,
        })
    }

    /// (batch, T), rows summing to one.
    pub fn weights(&self) -> &Tensor {
        &self.weights
    }
}

/// MoCL-style routing with every finished task's key.
pub struct Mocl {
    /// (T, d)
    keys: Tensor,
    representation: Representation,
}

impl Mocl {
    /// With every finished task's key in `representation` stacked: (T, d).
    pub fn new(keys: Tensor, representation: Representation) -> Self {
        Mocl {
            keys,
            representation,
        }
    }
}

impl RoutingBaseline for Mocl {
    fn setups(&self) -> Vec<(Setup, Decision)> {
        let r = self.representation;
        vec![
            (Setup::til(Approach::Mocl(r)), Decision::OwnHead),
            (Setup::cil(Approach::Mocl(r)), Decision::AllHeads),
            (Setup::routing(Approach::Mocl(r)), Decision::TopModule),
        ]
    }

    fn weights(&self, features: &Features) -> Result<ModuleWeights<'_>> {
        let frozen = features.get(self.representation);
        Ok(ModuleWeights::PerExample {
            weights: MoclWeights::new(frozen, &self.keys)?.weights,
            mode: Some(CompositionMode::Wavg),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn the_matching_loss_pulls_the_key_to_its_queries_mean_direction() {
        let queries = Tensor::new(
            &[[1f32, 0.2, 0.0], [0.9, -0.1, 0.1], [1.1, 0.0, -0.1]],
            &Device::Cpu,
        )
        .unwrap();
        let training = KeyTraining {
            epochs: 200,
            batch_size: 2,
            learning_rate: 0.05,
        };
        let (key, loss) = train_key(&queries, &training, 3).unwrap();
        let key = key.to_vec1::<f32>().unwrap();
        let norm = key.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!(key[0] / norm > 0.98, "{key:?}");
        assert!(loss < 0.02, "loss {loss}");
    }

    #[test]
    fn weights_favour_the_closest_key_softly() {
        let keys = Tensor::new(&[[1f32, 0.0], [0.0, 1.0]], &Device::Cpu).unwrap();
        let q = Tensor::new(&[[2f32, 0.0], [1.0, 1.0]], &Device::Cpu).unwrap();
        let w = MoclWeights::new(&q, &keys).unwrap();
        let w = w.weights().to_vec2::<f32>().unwrap();
        let expected = 1.0 / (1.0 + (-8.0f32).exp());
        assert!((w[0][0] - expected).abs() < 1e-5, "{w:?}");
        assert!((w[1][0] - 0.5).abs() < 1e-5, "{w:?}");
    }
}
