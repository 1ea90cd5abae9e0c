//! `config.json` of a Hugging Face encoder, reduced to what the forward pass needs.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// Absolute position embeddings, token types, [CLS]/[SEP].
    Bert,
    /// No token types, positions offset by the pad id, a relative-position bias shared by all layers.
    MPNet,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EncoderConfig {
    pub model_type: String,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub layer_norm_eps: f64,
    pub max_position_embeddings: usize,
    pub vocab_size: usize,
    #[serde(default)]
    pub pad_token_id: u32,
    #[serde(default = "default_buckets")]
    pub relative_attention_num_buckets: usize,
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
}

fn default_buckets() -> usize {
    32
}

fn default_hidden_act() -> String {
    "gelu".into()
}

impl EncoderConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        crate::assets::require_file(path, "encoder config.json")?;
        let config: EncoderConfig = crate::io::read_json(path)?;
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |message: String| Error::Config {
            path: path.to_owned(),
            message,
        };
        self.architecture().map_err(&bad)?;
        if self.hidden_act != "gelu" {
            return Err(bad(format!(
                "hidden_act '{}' is not supported (only the erf GELU 'gelu')",
                self.hidden_act
            )));
        }
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Err(bad(format!(
                "hidden_size {} is not divisible by num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            )));
        }
        Ok(())
    }

    pub fn architecture(&self) -> std::result::Result<Architecture, String> {
        match self.model_type.as_str() {
            "bert" => Ok(Architecture::Bert),
            "mpnet" => Ok(Architecture::MPNet),
            other => Err(format!(
                "model_type '{other}' is not supported (bert, mpnet)"
            )),
        }
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Longest input the position table allows (MPNet's first positions are reserved for padding).
    pub fn max_positions(&self) -> usize {
        match self.architecture() {
            Ok(Architecture::MPNet) => {
                self.max_position_embeddings - self.pad_token_id as usize - 1
            }
            _ => self.max_position_embeddings,
        }
    }
}
