//! `embeddings.*`: word + position (+ token type) embeddings, then layer norm.

use super::config::{Architecture, EncoderConfig};
use super::nn::LayerNorm;
use super::tokenizer::TokenBatch;
use super::weights::WeightMap;
use crate::error::Result;
use candle_core::Tensor;

pub struct Embeddings {
    word_embeddings: Tensor,
    position_embeddings: Tensor,
    token_type_embeddings: Option<Tensor>,
    layer_norm: LayerNorm,
    architecture: Architecture,
    pad_id: u32,
}

impl Embeddings {
    pub fn load(
        weights: &WeightMap,
        config: &EncoderConfig,
        architecture: Architecture,
    ) -> Result<Self> {
        let hidden = config.hidden_size;
        let token_type_embeddings = match architecture {
            Architecture::Bert => {
                Some(weights.get("embeddings.token_type_embeddings.weight", &[2, hidden])?)
            }
            Architecture::MPNet => None,
        };
        Ok(Embeddings {
            word_embeddings: weights.get(
                "embeddings.word_embeddings.weight",
                &[config.vocab_size, hidden],
            )?,
            position_embeddings: weights.get(
                "embeddings.position_embeddings.weight",
                &[config.max_position_embeddings, hidden],
            )?,
            token_type_embeddings,
            layer_norm: LayerNorm::load(
                weights,
                "embeddings.LayerNorm",
                hidden,
                config.layer_norm_eps,
            )?,
            architecture,
            pad_id: config.pad_token_id,
        })
    }

    pub fn forward(&self, batch: &TokenBatch) -> Result<Tensor> {
        let (rows, seq) = batch.input_ids.dims2()?;
        let mut x = lookup(&self.word_embeddings, &batch.input_ids)?;
        x = x.broadcast_add(&lookup(
            &self.position_embeddings,
            &self.position_ids(batch, rows, seq)?,
        )?)?;
        if let Some(types) = &self.token_type_embeddings {
            x = x.broadcast_add(&lookup(types, &batch.token_type_ids)?)?;
        }
        Ok(self.layer_norm.forward(&x)?)
    }

    /// BERT: 0..seq. MPNet (fairseq style): real tokens count from pad_id + 1, padding sits at pad_id.
    fn position_ids(&self, batch: &TokenBatch, rows: usize, seq: usize) -> Result<Tensor> {
        let device = batch.input_ids.device();
        match self.architecture {
            Architecture::Bert => Ok(Tensor::arange(0u32, seq as u32, device)?.unsqueeze(0)?),
            Architecture::MPNet => {
                let mut ids = vec![self.pad_id; rows * seq];
                for (row, &len) in batch.lengths.iter().enumerate() {
                    for (pos, id) in ids[row * seq..row * seq + len].iter_mut().enumerate() {
                        *id = self.pad_id + 1 + pos as u32;
                    }
                }
                Ok(Tensor::from_vec(ids, (rows, seq), device)?)
            }
        }
    }
}

/// Rows of `table` for integer `ids` of shape (rows, seq): (rows, seq, dim).
fn lookup(table: &Tensor, ids: &Tensor) -> Result<Tensor> {
    let (rows, seq) = ids.dims2()?;
    let dim = table.dim(1)?;
    Ok(table
        .index_select(&ids.flatten_all()?, 0)?
        .reshape((rows, seq, dim))?)
}
