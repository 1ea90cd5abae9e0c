//! The model's own `tokenizer.json`, with its baked-in fixed padding and truncation turned off:
//! we truncate to our own maximum length and pad each batch only to its longest text.

use crate::error::{Error, Result};
use candle_core::{Device, Tensor};
use std::path::Path;
use tokenizers::{Tokenizer, TruncationParams};

pub struct TextTokenizer {
    inner: Tokenizer,
    pad_id: u32,
    max_len: usize,
    /// Where padded batches are made: the backbone's device.
    device: Device,
}

/// A padded batch: ids and token types (batch, seq) as u32, attention mask (batch, seq) as f32 1/0.
pub struct TokenBatch {
    pub input_ids: Tensor,
    pub token_type_ids: Tensor,
    pub attention_mask: Tensor,
    /// Real (unpadded) length of each text, special tokens included.
    pub lengths: Vec<usize>,
}

impl TokenBatch {
    pub fn num_tokens(&self) -> usize {
        self.lengths.iter().sum()
    }
}

impl TextTokenizer {
    pub fn from_file(path: &Path, max_len: usize) -> Result<Self> {
        crate::assets::require_file(path, "tokenizer.json")?;
        let inner = Tokenizer::from_file(path)
            .map_err(|e| Error::Tokenizer(format!("cannot load {}: {e}", path.display())))?;
        Self::from_tokenizer(inner, max_len)
    }

    /// Wraps a tokenizer built in code (tests, custom vocabularies).
    pub fn from_tokenizer(mut inner: Tokenizer, max_len: usize) -> Result<Self> {
        if max_len < 2 {
            return Err(Error::invalid(format!(
                "max length {max_len} leaves no room for a token"
            )));
        }
        let pad_id = inner.get_padding().map(|p| p.pad_id).unwrap_or(0);
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                ..Default::default()
            }))
            .map_err(|e| Error::Tokenizer(format!("cannot set truncation to {max_len}: {e}")))?;
        Ok(TextTokenizer {
            inner,
            pad_id,
            max_len,
            device: Device::Cpu,
        })
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The same tokenizer making its batches on `device`.
    pub fn on_device(mut self, device: &Device) -> Self {
        self.device = device.clone();
        self
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Token ids of one text, special tokens included, truncated to the maximum length.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>> {
        check_not_empty(0, text)?;
        let encoding = self
            .inner
            .encode(text, true)
            .map_err(|e| Error::Tokenizer(format!("cannot tokenize text: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Token ids of each text (special tokens included, truncated). Empty texts are an error.
    pub fn encode_ids(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        for (index, text) in texts.iter().enumerate() {
            check_not_empty(index, text)?;
        }
        let encodings = self
            .inner
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| Error::Tokenizer(format!("cannot tokenize batch: {e}")))?;
        Ok(encodings
            .into_iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    /// Tokenizes `texts` and pads them to the longest one.
    pub fn encode(&self, texts: &[&str]) -> Result<TokenBatch> {
        let ids = self.encode_ids(texts)?;
        self.pad(&ids.iter().map(Vec::as_slice).collect::<Vec<_>>())
    }

    /// Pads single-segment id sequences to the longest one.
    pub fn pad(&self, sequences: &[&[u32]]) -> Result<TokenBatch> {
        if sequences.is_empty() {
            return Err(Error::invalid("no texts to encode"));
        }
        let seq = sequences.iter().map(|s| s.len()).max().unwrap_or(0);
        let rows = sequences.len();
        let mut ids = vec![self.pad_id; rows * seq];
        let mut mask = vec![0f32; rows * seq];
        for (row, sequence) in sequences.iter().enumerate() {
            let start = row * seq;
            ids[start..start + sequence.len()].copy_from_slice(sequence);
            mask[start..start + sequence.len()].fill(1.0);
        }
        let device = &self.device;
        Ok(TokenBatch {
            input_ids: Tensor::from_vec(ids, (rows, seq), device)?,
            token_type_ids: Tensor::zeros((rows, seq), candle_core::DType::U32, device)?,
            attention_mask: Tensor::from_vec(mask, (rows, seq), device)?,
            lengths: sequences.iter().map(|s| s.len()).collect(),
        })
    }
}

fn check_not_empty(index: usize, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::invalid(format!(
            "text #{} is empty; every text needs at least one word",
            index + 1
        )));
    }
    Ok(())
}
