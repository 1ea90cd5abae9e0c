//! What kind of module a task gets, and its size.

use crate::backbone::LinearSite;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PeftConfig {
    /// Bottleneck adapter after the feed-forward block of every layer: `h + up(relu(down(h)))`.
    Adapter { size: usize },
    /// Low-rank update `(alpha / rank) · B A x` of the frozen linears named in `targets`.
    Lora {
        rank: usize,
        alpha: f64,
        targets: Vec<LinearSite>,
    },
}

impl PeftConfig {
    pub fn adapter() -> Self {
        PeftConfig::Adapter { size: 64 }
    }

    pub fn lora() -> Self {
        PeftConfig::Lora {
            rank: 8,
            alpha: 16.0,
            targets: vec![LinearSite::Query, LinearSite::Value],
        }
    }

    /// Short name used in file names and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            PeftConfig::Adapter { .. } => "adapter",
            PeftConfig::Lora { .. } => "lora",
        }
    }

    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: &str| Err(crate::Error::invalid(m.to_owned()));
        match self {
            PeftConfig::Adapter { size: 0 } => bad("adapter size must be at least 1"),
            PeftConfig::Lora { rank: 0, .. } => bad("LoRA rank must be at least 1"),
            PeftConfig::Lora { targets, .. } if targets.is_empty() => {
                bad("LoRA needs at least one target module (query, key, value, attention_output, intermediate, output)")
            }
            PeftConfig::Lora { alpha, .. } if !(alpha.is_finite() && *alpha > 0.0) => bad("LoRA alpha must be > 0"),
            _ => Ok(()),
        }
    }
}

impl Default for PeftConfig {
    fn default() -> Self {
        PeftConfig::adapter()
    }
}
