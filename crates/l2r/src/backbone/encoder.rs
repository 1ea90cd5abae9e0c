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
        let mut x = self.embeddings.forward(batch)?;
        let bias = self.attention_bias(batch)?;
        for (index, layer) in self.layers.iter().enumerate() {
            hooks.begin_layer(index, &x)?;
            x = layer.forward(&x, &bias, hooks)?;
        }
        Ok(x)
    }

    /// Every layer's input state plus the final output.
    pub fn forward_states(
        &self,
        batch: &TokenBatch,
        hooks: &dyn EncoderHooks,
    ) -> Result<EncoderOutput> {
        let mut states = vec![self.embeddings.forward(batch)?];
        let bias = self.attention_bias(batch)?;
        for layer in &self.layers {
            let next = layer.forward(states.last().expect("non-empty"), &bias, hooks)?;
            states.push(next);
        }
        Ok(EncoderOutput { states })
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
