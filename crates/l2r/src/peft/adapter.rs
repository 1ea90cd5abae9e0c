//! Bottleneck adapter (Houlsby/Pfeiffer): down-projection, ReLU, up-projection, residual.
//! The up-projection starts at zero, so an untrained adapter is exactly the identity.

use crate::kernels::{add_bias, on_rows};
use candle_core::{Result, Tensor};
use candle_nn::{Init, VarBuilder};

pub struct BottleneckAdapter {
    pub down_weight: Tensor,
    pub down_bias: Tensor,
    pub up_weight: Tensor,
    pub up_bias: Tensor,
}

impl BottleneckAdapter {
    /// Creates (or, when `vb` is backed by loaded weights, fetches) `down.{weight,bias}` and `up.{weight,bias}`.
    pub fn new(vb: VarBuilder, hidden: usize, size: usize) -> Result<Self> {
        // down.weight is drawn by `PeftModule::new` from the run's seed (see `initial_bound`).
        Ok(BottleneckAdapter {
            down_weight: vb.get_with_hints((size, hidden), "down.weight", Init::Const(0.0))?,
            down_bias: vb.get_with_hints(size, "down.bias", Init::Const(0.0))?,
            up_weight: vb.get_with_hints((hidden, size), "up.weight", Init::Const(0.0))?,
            up_bias: vb.get_with_hints(hidden, "up.bias", Init::Const(0.0))?,
        })
    }

    pub fn forward(&self, h: &Tensor) -> Result<Tensor> {
        let up = on_rows(h, |rows| {
            let down = add_bias(&rows.matmul(&self.down_weight.t()?)?, &self.down_bias)?;
            add_bias(&down.relu()?.matmul(&self.up_weight.t()?)?, &self.up_bias)
        })?;
        h + up
    }
}
