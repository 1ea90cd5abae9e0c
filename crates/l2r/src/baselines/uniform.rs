//! The uniform average: every module weighted equally, whatever the input (the floor a router must beat).

use super::routing::{ModuleWeights, RoutingBaseline};
use crate::compose::Decision;
use crate::error::Result;
use crate::metrics::{Approach, Setup};
use candle_core::{Device, Tensor};

pub struct Uniform {
    pub num_tasks: usize,
}

impl RoutingBaseline for Uniform {
    fn setups(&self) -> &'static [(Setup, Decision)] {
        const SETUPS: &[(Setup, Decision)] = &[(Setup::cil(Approach::Uniform), Decision::AllHeads)];
        SETUPS
    }

    fn weights(&self, frozen: &Tensor) -> Result<ModuleWeights<'_>> {
        let shape = (frozen.dim(0)?, self.num_tasks);
        Ok(ModuleWeights::PerExample {
            weights: Tensor::full(1.0 / self.num_tasks as f32, shape, &Device::Cpu)?,
            mode: None,
        })
    }
}
