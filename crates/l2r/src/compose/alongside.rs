//! A module trained with the earlier tasks' modules active (the ablation of isolated training, like Progressive
//! Prompts keeping earlier prompts in the input): the frozen earlier modules' outputs add to the new one's.

use super::composition::{Composition, LayerWeights};
use super::{CompositionMode, ModuleStack};
use crate::backbone::{EncoderHooks, LinearSite};
use crate::peft::PeftModule;
use candle_core::{DType, Result, Tensor};

/// Weight one for every earlier module: their outputs are summed, not averaged.
struct Ones(usize);

impl LayerWeights for Ones {
    fn weights(&self, _layer: usize, hidden: &Tensor) -> Result<Tensor> {
        Tensor::ones((hidden.dim(0)?, self.0), DType::F32, hidden.device())
    }
}

/// Hooks of `module` with the frozen `previous` modules active beside it.
pub struct AlongsidePrevious<'a> {
    module: &'a PeftModule,
    previous: &'a ModuleStack,
    ones: Ones,
}

impl<'a> AlongsidePrevious<'a> {
    pub fn new(module: &'a PeftModule, previous: &'a ModuleStack) -> Self {
        AlongsidePrevious {
            module,
            previous,
            ones: Ones(previous.num_modules),
        }
    }

    /// The earlier modules' composition, ready at `layer` for inputs shaped like `x`.
    fn previous_at(&self, layer: usize, x: &Tensor) -> Result<Composition<'_>> {
        let composition = Composition::new(self.previous, CompositionMode::Wavg, &self.ones);
        composition.begin_layer(layer, x)?;
        Ok(composition)
    }
}

impl EncoderHooks for AlongsidePrevious<'_> {
    fn linear_delta(
        &self,
        layer: usize,
        site: LinearSite,
        input: &Tensor,
    ) -> Result<Option<Tensor>> {
        let own = self.module.linear_delta(layer, site, input)?;
        let earlier = self
            .previous_at(layer, input)?
            .linear_delta(layer, site, input)?;
        Ok(match (own, earlier) {
            (Some(a), Some(b)) => Some((a + b)?),
            (a, b) => a.or(b),
        })
    }

    fn after_feed_forward(&self, layer: usize, hidden: &Tensor) -> Result<Tensor> {
        let own = self.module.after_feed_forward(layer, hidden)?;
        let earlier = self
            .previous_at(layer, hidden)?
            .after_feed_forward(layer, hidden)?;
        // Both include the input once; the sum keeps it once.
        (own + earlier)? - hidden
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backbone::tiny::tiny_config;
    use crate::peft::PeftConfig;

    #[test]
    fn earlier_modules_add_their_outputs_to_the_new_ones() {
        let encoder = tiny_config();
        let config = PeftConfig::Adapter { size: 4 };
        let new = PeftModule::new(&config, &encoder, 1).unwrap();
        let old = [
            PeftModule::new(&config, &encoder, 2).unwrap(),
            PeftModule::new(&config, &encoder, 3).unwrap(),
        ];
        for m in old.iter().chain([&new]) {
            // Non-zero up-projections, as after training.
            for var in m.varmap().all_vars() {
                var.set(&(var.as_tensor().ones_like().unwrap() * 0.01).unwrap())
                    .unwrap();
            }
        }
        let stack = ModuleStack::new(&[&old[0], &old[1]], encoder.num_hidden_layers).unwrap();
        let hooks = AlongsidePrevious::new(&new, &stack);
        let h = Tensor::randn(
            0f32,
            1.0,
            (2, 3, encoder.hidden_size),
            &candle_core::Device::Cpu,
        )
        .unwrap();
        let got = hooks.after_feed_forward(0, &h).unwrap();
        let residual = |m: &PeftModule| (m.after_feed_forward(0, &h).unwrap() - &h).unwrap();
        let expected = ((&h + residual(&new)).unwrap() + residual(&old[0]))
            .unwrap()
            .add(&residual(&old[1]))
            .unwrap();
        let diff = crate::testing::max_diff(&got, &expected).unwrap();
        assert!(diff < 1e-5, "{diff}");
    }
}
