//! The whole encoder: embeddings, then the stack of layers (and MPNet's shared relative-position bias).

use super::config::{Architecture, EncoderConfig};
use super::embeddings::Embeddings;
use super::hooks::EncoderHooks;
use super::layer::EncoderLayer;
use super::precision::Precision;
use super::tokenizer::TokenBatch;
use super::weights::WeightMap;
use crate::error::{Error, Result};
use candle_core::{Device, Tensor};

pub struct Encoder {
    pub config: EncoderConfig,
    pub architecture: Architecture,
    embeddings: Embeddings,
    layers: Vec<EncoderLayer>,
    relative_attention_bias: Option<Tensor>,
}

/// Hidden states of a forward pass: `states[l]` enters layer l; the last entry is the encoder's output.
pub struct EncoderOutput {
    pub states: Vec<Tensor>,
}

impl EncoderOutput {
    pub fn last(&self) -> &Tensor {
        self.states
            .last()
            .expect("an encoder output always holds the embedding state")
    }
}

impl Encoder {
    pub fn load(weights: &WeightMap, config: &EncoderConfig) -> Result<Self> {
        let architecture = config.architecture().map_err(Error::invalid)?;
        let layers = (0..config.num_hidden_layers)
            .map(|index| EncoderLayer::load(weights, config, index, architecture))
            .collect::<Result<Vec<_>>>()?;
        let relative_attention_bias = match architecture {
            Architecture::Bert => None,
            Architecture::MPNet => Some(weights.get(
                "encoder.relative_attention_bias.weight",
                &[
                    config.relative_attention_num_buckets,
                    config.num_attention_heads,
                ],
            )?),
        };
        Ok(Encoder {
            config: config.clone(),
            architecture,
            embeddings: Embeddings::load(weights, config, architecture)?,
            layers,
            relative_attention_bias,
        })
    }

    /// Runs every frozen linear layer in `precision` (one the CPU supports: see [`Precision::supported`]).
    pub fn set_precision(&mut self, precision: Precision) -> Result<()> {
        for linear in self.layers.iter_mut().flat_map(EncoderLayer::linears_mut) {
            linear.set_precision(precision)?;
        }
        Ok(())
    }

    pub fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }

    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Final hidden states (batch, seq, hidden).
    pub fn forward(&self, batch: &TokenBatch, hooks: &dyn EncoderHooks) -> Result<Tensor> {
        self.run(batch, hooks, None)
    }

    /// Every layer's input state plus the final output.
    pub fn forward_states(
        &self,
        batch: &TokenBatch,
        hooks: &dyn EncoderHooks,
    ) -> Result<EncoderOutput> {
        let mut states = Vec::with_capacity(self.layers.len() + 1);
        let last = self.run(batch, hooks, Some(&mut states))?;
        states.push(last);
        Ok(EncoderOutput { states })
    }

    /// The one forward loop of [`Encoder::forward`] and [`Encoder::forward_states`]: embeddings, then every
    /// layer, with `hooks.begin_layer` called on the state entering it. `states`, when given, receives each of
    /// those entering states; the final output is returned.
    fn run(
        &self,
        batch: &TokenBatch,
        hooks: &dyn EncoderHooks,
        mut states: Option<&mut Vec<Tensor>>,
    ) -> Result<Tensor> {
        let mut x = self.embeddings.forward(batch)?;
        let bias = self.attention_bias(batch)?;
        for (index, layer) in self.layers.iter().enumerate() {
            hooks.begin_layer(index, &x)?;
            let next = layer.forward(&x, &bias, hooks)?;
            if let Some(states) = states.as_deref_mut() {
                states.push(x);
            }
            x = next;
        }
        Ok(x)
    }

    /// The additive attention-score bias every layer shares: the padding mask (batch, 1, 1, seq), plus for
    /// MPNet the relative-position bias, summed once here into (batch, heads, seq, seq).
    fn attention_bias(&self, batch: &TokenBatch) -> Result<Tensor> {
        // Padded keys get a large negative score; -1e9 keeps softmax finite in f32.
        let mask_bias = ((batch.attention_mask.clone() - 1.0)? * 1e9)?
            .unsqueeze(1)?
            .unsqueeze(1)?;
        let seq = batch.attention_mask.dim(1)?;
        Ok(match &self.relative_attention_bias {
            Some(table) => {
                mask_bias.broadcast_add(&relative_position_bias(table, seq, table.device())?)?
            }
            None => mask_bias,
        })
    }
}

/// MPNet's (T5-style) bias: (1, heads, seq, seq) from a (buckets, heads) table.
fn relative_position_bias(table: &Tensor, seq: usize, device: &Device) -> Result<Tensor> {
    let buckets = table.dim(0)?;
    let mut ids = Vec::with_capacity(seq * seq);
    for query in 0..seq as i64 {
        for key in 0..seq as i64 {
            ids.push(relative_position_bucket(key - query, buckets, 128));
        }
    }
    let ids = Tensor::from_vec(ids, seq * seq, device)?;
    let heads = table.dim(1)?;
    let values = table.index_select(&ids, 0)?.reshape((seq, seq, heads))?;
    Ok(values.permute((2, 0, 1))?.unsqueeze(0)?.contiguous()?)
}

/// HF `MPNetEncoder.relative_position_bucket`: half the buckets per direction, exact for short distances,
/// logarithmic up to `max_distance`.
fn relative_position_bucket(relative_position: i64, num_buckets: usize, max_distance: i64) -> u32 {
    let half = (num_buckets / 2) as i64;
    let n = -relative_position;
    let mut bucket = if n < 0 { half } else { 0 };
    let n = n.abs();
    let max_exact = half / 2;
    if n < max_exact {
        bucket += n;
    } else {
        let scaled = ((n as f64 / max_exact as f64).ln()
            / (max_distance as f64 / max_exact as f64).ln()
            * (half - max_exact) as f64) as i64;
        bucket += (max_exact + scaled).min(half - 1);
    }
    bucket as u32
}

#[cfg(test)]
mod tests {
    use super::relative_position_bucket;
    use crate::backbone::tiny::tiny_backbone;
    use crate::backbone::{EncoderHooks, LinearSite};
    use crate::testing::max_diff;
    use candle_core::Tensor;
    use std::cell::RefCell;

    /// Records the state every `begin_layer` call sees, and adds a delta to the value projection that depends on
    /// it, as a router computing its gates in `begin_layer` would: a path that skipped the call would differ.
    #[derive(Default)]
    struct Recorder {
        seen: RefCell<Vec<(usize, Tensor)>>,
    }

    impl EncoderHooks for Recorder {
        fn begin_layer(&self, layer: usize, hidden: &Tensor) -> candle_core::Result<()> {
            self.seen.borrow_mut().push((layer, hidden.clone()));
            Ok(())
        }

        fn linear_delta(
            &self,
            layer: usize,
            site: LinearSite,
            input: &Tensor,
        ) -> candle_core::Result<Option<Tensor>> {
            let seen = self.seen.borrow();
            match seen.last() {
                Some((l, state)) if *l == layer && site == LinearSite::Value => Ok(Some(
                    (input.zeros_like()? + state.mean_all()?.to_scalar::<f32>()? as f64)?,
                )),
                _ => Ok(None),
            }
        }
    }

    #[test]
    fn forward_and_forward_states_run_the_same_hooked_loop() {
        let backbone = tiny_backbone(3).unwrap();
        let batch = backbone
            .tokenizer
            .encode(&["the movie was good", "a cat"])
            .unwrap();
        let (plain, with_states) = (Recorder::default(), Recorder::default());
        let last = backbone.encoder.forward(&batch, &plain).unwrap();
        let output = backbone
            .encoder
            .forward_states(&batch, &with_states)
            .unwrap();

        let layers = backbone.encoder.num_layers();
        for recorder in [&plain, &with_states] {
            let layers_seen: Vec<usize> = recorder.seen.borrow().iter().map(|(l, _)| *l).collect();
            assert_eq!(layers_seen, (0..layers).collect::<Vec<_>>());
        }
        assert_eq!(output.states.len(), layers + 1);
        for (l, (_, state)) in with_states.seen.borrow().iter().enumerate() {
            let diff = |other: &Tensor| max_diff(state, other).unwrap();
            assert_eq!(diff(&output.states[l]), 0.0, "layer {l}");
            assert_eq!(diff(&plain.seen.borrow()[l].1), 0.0, "layer {l}");
        }
        assert_eq!(max_diff(&last, output.last()).unwrap(), 0.0);
    }

    #[test]
    fn relative_buckets_match_hugging_face() {
        // Values computed with HF's formula: exact below 8, logarithmic above, split by direction.
        assert_eq!(relative_position_bucket(0, 32, 128), 0);
        assert_eq!(relative_position_bucket(-3, 32, 128), 3);
        assert_eq!(relative_position_bucket(3, 32, 128), 19);
        assert_eq!(relative_position_bucket(-8, 32, 128), 8);
        assert_eq!(relative_position_bucket(-20, 32, 128), 10);
        assert_eq!(relative_position_bucket(-500, 32, 128), 15);
        assert_eq!(relative_position_bucket(500, 32, 128), 31);
    }
}
