//! The frozen pre-trained encoder: BERT (all-MiniLM-L6-v2) and MPNet (all-mpnet-base-v2) behind one interface.
//!
//! One struct per sub-module, named like the weights it loads (candle-transformers style). Every op used here has a
//! backward pass, so gradients reach PEFT modules inserted at any layer (candle's fused layer norm and softmax
//! have none and would silently cut them off).

mod attention;
mod config;
mod embeddings;
mod encoder;
mod hooks;
mod layer;
mod nn;
mod pooling;
mod precision;
#[cfg(any(test, feature = "test-support"))]
pub mod tiny;
mod tokenizer;
mod weights;

pub use config::{Architecture, EncoderConfig};
pub use encoder::{Encoder, EncoderOutput};
pub use hooks::{EncoderHooks, LinearSite, NoHooks};
pub use nn::{LayerNorm, Linear};
pub use pooling::{cosine_similarity, l2_normalize, mean_pool, pooled_states};
pub use precision::Precision;
pub use tokenizer::{TextTokenizer, TokenBatch};
pub use weights::WeightMap;

use crate::error::Result;
use candle_core::Device;
use std::path::{Path, PathBuf};

/// The backbones that ship with the set-up script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackboneName {
    /// all-MiniLM-L6-v2: 6 layers, hidden 384 (default).
    Minilm,
    /// all-mpnet-base-v2: 12 layers, hidden 768, relative-position attention bias.
    Mpnet,
}

impl BackboneName {
    pub fn asset(self) -> &'static str {
        match self {
            BackboneName::Minilm => "minilm",
            BackboneName::Mpnet => "mpnet",
        }
    }

    pub fn dir(self) -> Result<PathBuf> {
        crate::assets::asset_dir(self.asset())
    }
}

impl std::str::FromStr for BackboneName {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "minilm" | "all-minilm-l6-v2" => Ok(BackboneName::Minilm),
            "mpnet" | "all-mpnet-base-v2" => Ok(BackboneName::Mpnet),
            other => Err(crate::Error::invalid(format!(
                "unknown backbone '{other}' (known: minilm, mpnet)"
            ))),
        }
    }
}

/// Frozen encoder plus its tokenizer: everything needed to turn texts into hidden states.
pub struct Backbone {
    pub name: BackboneName,
    pub encoder: Encoder,
    pub tokenizer: TextTokenizer,
    /// What the frozen linear layers run in (fp32 unless [`Backbone::with_precision`] chose bf16).
    pub precision: Precision,
}

/// Default maximum sequence length (tokens, special tokens included).
pub const DEFAULT_MAX_LEN: usize = 128;

impl Backbone {
    /// Loads a shipped backbone from the assets folder onto the CPU.
    pub fn load(name: BackboneName, max_len: usize) -> Result<Self> {
        Self::load_on(name, max_len, &Device::Cpu)
    }

    /// Loads a shipped backbone from the assets folder onto `device`.
    pub fn load_on(name: BackboneName, max_len: usize, device: &Device) -> Result<Self> {
        Self::load_from_dir(name, &name.dir()?, max_len, device)
    }

    /// Loads `config.json`, `model.safetensors` and `tokenizer.json` from `dir`, the weights onto `device`.
    pub fn load_from_dir(
        name: BackboneName,
        dir: &Path,
        max_len: usize,
        device: &Device,
    ) -> Result<Self> {
        let config = EncoderConfig::from_file(&dir.join("config.json"))?;
        let weights = WeightMap::load(&dir.join("model.safetensors"))?.to_device(device)?;
        let encoder = Encoder::load(&weights, &config)?;
        let tokenizer = TextTokenizer::from_file(
            &dir.join("tokenizer.json"),
            max_len.min(config.max_positions()),
        )?
        .on_device(device);
        Ok(Self::from_parts(name, encoder, tokenizer))
    }

    /// Where the backbone's weights are, and so every tensor that meets them.
    pub fn device(&self) -> &Device {
        self.tokenizer.device()
    }

    /// A backbone from an encoder and tokenizer already built, in fp32.
    pub fn from_parts(name: BackboneName, encoder: Encoder, tokenizer: TextTokenizer) -> Self {
        Backbone {
            name,
            encoder,
            tokenizer,
            precision: Precision::Fp32,
        }
    }

    /// The backbone with its frozen linear layers in `precision`, or in fp32 where the CPU cannot run it. (bf16
    /// packs the weights for AVX-512 BF16: on a GPU the backbone stays in fp32, with a warning.)
    pub fn with_precision(mut self, precision: Precision) -> Result<Self> {
        let precision = match (precision, self.device().is_cpu()) {
            (Precision::Bf16, false) => {
                tracing::warn!(
                    "bf16 runs on the CPU only for now: the backbone runs in fp32 on the GPU"
                );
                Precision::Fp32
            }
            (precision, _) => precision.supported(),
        };
        self.encoder.set_precision(precision)?;
        self.precision = precision;
        Ok(self)
    }

    /// L2-normalised mean-pooled sentence embeddings, frozen (no PEFT module): shape (n, hidden).
    pub fn embed(&self, texts: &[&str]) -> Result<candle_core::Tensor> {
        self.embed_with(texts, &NoHooks)
    }

    /// Both frozen representations routing uses, from one forward pass: the sentence embedding
    /// (L2-normalised mean pool of the last layer, (n, hidden)) and [`pooled_states`] of every layer.
    pub fn frozen_representations(
        &self,
        batch: &TokenBatch,
    ) -> Result<(candle_core::Tensor, candle_core::Tensor)> {
        let output = self.encoder.forward_states(batch, &NoHooks)?;
        let last = l2_normalize(&mean_pool(output.last(), &batch.attention_mask)?)?;
        let layers = pooled_states(&output.states, &batch.attention_mask)?;
        Ok((last, layers))
    }

    /// The same with `hooks` (e.g. a PEFT module) acting on the encoder.
    pub fn embed_with(
        &self,
        texts: &[&str],
        hooks: &dyn EncoderHooks,
    ) -> Result<candle_core::Tensor> {
        let batch = self.tokenizer.encode(texts)?;
        let hidden = self.encoder.forward(&batch, hooks)?;
        Ok(l2_normalize(&mean_pool(&hidden, &batch.attention_mask)?)?)
    }
}
