//! Options of the baselines that have any.

use super::mocl::KeyTraining;
use crate::embedded::Representation;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaselinesConfig {
    /// Evaluate every baseline beside L2R after each step. Off: L2R and the TIL oracle only, and the tasks'
    /// statistics are not loaded unless the routers use them (a task library's default: its adds then cost a
    /// fraction, and `l2r compare` is where baselines are compared).
    pub evaluate: bool,
    /// How each task's MoCL key is fitted to its training inputs.
    pub mocl_key: KeyTraining,
    /// The frozen representations every similarity baseline (DAM, EPI, MoCL) and training-free classifier (nearest
    /// mean, LDA, ridge) is evaluated at, each as its own setup: the routers' choice of input is a baseline's too.
    pub representations: Vec<Representation>,
    /// Width M of the ridge classifier's random ReLU projection. Its Gram matrix costs M² floats per task.
    pub ridge_dim: usize,
}

impl Default for BaselinesConfig {
    fn default() -> Self {
        BaselinesConfig {
            evaluate: true,
            mocl_key: KeyTraining::default(),
            representations: Representation::ALL.to_vec(),
            ridge_dim: 2048,
        }
    }
}

impl BaselinesConfig {
    /// A task library's default: no baselines evaluated on each add.
    pub fn library_default() -> Self {
        BaselinesConfig {
            evaluate: false,
            ..Self::default()
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.representations.is_empty() {
            return Err(Error::invalid(
                "[baselines] representations is empty; list at least one of \"final_layer\", \"all_layers\"",
            ));
        }
        if self.ridge_dim == 0 {
            return Err(Error::invalid("[baselines] ridge_dim must be at least 1"));
        }
        Ok(())
    }
}
