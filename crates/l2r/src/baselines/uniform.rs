//! The uniform average: every module weighted equally, whatever the input (the floor a router must beat).

use super::routing::{ModuleWeights, RoutingBaseline};
use crate::compose::Decision;
use crate::embedded::Features;
use crate::error::Result;
use crate::metrics::{Approach, Setup};
use candle_core::Tensor;

pub struct Uniform {
    pub num_tasks: usize,
}

impl RoutingBaseline for Uniform {
    fn setups(&self) -> Vec<(Setup, Decision)> {
        vec![(Setup::cil(Approach::Uniform), Decision::AllHeads)]
    }

    fn weights(&self, features: &Features) -> Result<ModuleWeights<'_>> {
        let shape = (features.final_layer.dim(0)?, self.num_tasks);
        Ok(ModuleWeights::PerExample {
            weights: Tensor::full(
                1.0 / self.num_tasks as f32,
                shape,
                features.final_layer.device(),
            )?,
            mode: None,
        })
    }
}
