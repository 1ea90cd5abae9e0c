//! EPI-style task identification (Wang et al., ACL 2023, "Rehearsal-free continual language learning via efficient
//! parameter isolation"; docs/design.md, "Baselines"): the task of the class at minimum Mahalanobis distance under
//! the covariance every class shares ([`SharedGaussian`]), then that task's module and head.

use super::routing::{ModuleWeights, RoutingBaseline};
use crate::compose::{CompositionMode, Decision};
use crate::embedded::{Features, Representation};
use crate::error::Result;
use crate::metrics::{Approach, Setup};
use crate::statistics::SharedGaussian;
use candle_core::Tensor;
use std::sync::Arc;

/// Task identification over every task seen so far, in one representation.
pub struct EpiIdentifier {
    gaussian: Arc<SharedGaussian>,
    representation: Representation,
}

impl EpiIdentifier {
    pub fn new(gaussian: Arc<SharedGaussian>, representation: Representation) -> Self {
        EpiIdentifier {
            gaussian,
            representation,
        }
    }
}

impl RoutingBaseline for EpiIdentifier {
    /// The identified task's module and head: its TIL accuracy is the oracle's, so it has no TIL setup.
    fn setups(&self) -> Vec<(Setup, Decision)> {
        let approach = Approach::Epi(self.representation);
        vec![
            (Setup::cil(approach), Decision::TopModuleHead),
            (Setup::routing(approach), Decision::TopModule),
        ]
    }

    fn weights(&self, features: &Features) -> Result<ModuleWeights<'_>> {
        let x = features.get(self.representation);
        let tasks = self.gaussian.nearest_task(x)?;
        let one_hot = candle_nn::encoding::one_hot(
            Tensor::new(
                tasks.iter().map(|&t| t as u32).collect::<Vec<_>>(),
                x.device(),
            )?,
            self.gaussian.num_tasks(),
            1f32,
            0f32,
        )?;
        Ok(ModuleWeights::PerExample {
            weights: one_hot,
            mode: Some(CompositionMode::Wavg),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statistics::tests::task;
    use candle_core::Device;

    #[test]
    fn identifies_the_task_a_euclidean_rule_would_miss() {
        // Both tasks spread widely along axis 2 and narrowly along axis 1. The query is Euclidean-closer to task 1
        // (0.8 away along axis 1 against 3 along axis 2) but, in units of the shared covariance, far closer to task 0.
        let a = task([0.0, 0.0, 0.0], [0.2, 0.2, 8.0], 2);
        let b = task([0.0, 1.0, 3.0], [0.2, 0.2, 8.0], 3);
        let gaussian = Arc::new(SharedGaussian::new(&[&a, &b]).unwrap());
        let x = Tensor::new(&[[0.0f32, 0.2, 3.0], [0.5, 0.9, 0.0]], &Device::Cpu).unwrap();
        let features = Features {
            final_layer: x.clone(),
            all_layers: x,
        };
        let identifier = EpiIdentifier::new(gaussian, Representation::FinalLayer);
        let ModuleWeights::PerExample { weights, .. } = identifier.weights(&features).unwrap()
        else {
            panic!("EPI weights are per example");
        };
        assert_eq!(
            weights.to_vec2::<f32>().unwrap(),
            vec![vec![1.0, 0.0], vec![0.0, 1.0]]
        );
    }
}
