//! The TOML file that drives a run. Unknown keys are refused with the key named.

use crate::backbone::BackboneName;
use crate::compose::CompositionMode;
use crate::data::BenchmarkSize;
use crate::error::{Error, Result};
use crate::peft::PeftConfig;
use crate::router::RouterConfig;
use crate::train::TrainConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A task of the user's, from a CSV/TSV/JSONL file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserTask {
    pub name: String,
    pub path: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryConfig {
    /// Examples kept per class of each finished task.
    pub per_class: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig { per_class: 10 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    #[serde(default = "default_backbone")]
    pub backbone: BackboneName,
    #[serde(default = "default_max_len")]
    pub max_len: usize,
    /// A built-in benchmark (senti4, far5, wordnet-cil); or leave out and list `[[tasks]]`.
    #[serde(default)]
    pub benchmark: Option<String>,
    #[serde(default)]
    pub tasks: Vec<UserTask>,
    #[serde(default = "default_size")]
    pub size: BenchmarkSize,
    /// Indices into the benchmark's task orders.
    #[serde(default = "default_orders")]
    pub orders: Vec<usize>,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub module: PeftConfig,
    #[serde(default)]
    pub train: TrainConfig,
    #[serde(default)]
    pub memory: MemoryConfig,
    #[serde(default)]
    pub router: RouterConfig,
    #[serde(default = "default_composition")]
    pub composition: CompositionMode,
}

fn default_backbone() -> BackboneName {
    BackboneName::Minilm
}
fn default_max_len() -> usize {
    crate::backbone::DEFAULT_MAX_LEN
}
fn default_size() -> BenchmarkSize {
    BenchmarkSize::Quick
}
fn default_orders() -> Vec<usize> {
    vec![0]
}
fn default_seeds() -> Vec<u64> {
    vec![0]
}
fn default_composition() -> CompositionMode {
    CompositionMode::Wavg
}

impl RunConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text, path)
    }

    /// Parses and validates; `path` only names the file in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        let config: RunConfig = toml::from_str(text).map_err(|e| Error::Config {
            path: path.to_owned(),
            message: toml_message(text, &e),
        })?;
        config.validate().map_err(|e| Error::Config {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(config)
    }

    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self)
            .map_err(|e| Error::invalid(format!("cannot write the config as TOML: {e}")))
    }

    fn validate(&self) -> Result<()> {
        match (&self.benchmark, self.tasks.len()) {
            (Some(_), n) if n > 0 => {
                return Err(Error::invalid(
                    "give either `benchmark` or `[[tasks]]`, not both",
                ))
            }
            (None, 0) => {
                return Err(Error::invalid(
                    "give a `benchmark` (senti4, far5, wordnet-cil) or `[[tasks]]`",
                ))
            }
            (None, 1) => return Err(Error::invalid("continual learning needs at least 2 tasks")),
            _ => {}
        }
        if self.seeds.is_empty() || self.orders.is_empty() {
            return Err(Error::invalid(
                "`seeds` and `orders` need at least one entry each",
            ));
        }
        self.module.validate()?;
        self.train.validate()?;
        self.router.validate()
    }
}

/// toml's message, with the line number made explicit.
fn toml_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().to_owned();
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_config_gets_the_defaults() {
        let config = RunConfig::from_toml("benchmark = \"far5\"\n", Path::new("x.toml")).unwrap();
        assert_eq!(config.module, PeftConfig::adapter());
        assert_eq!(config.memory.per_class, 10);
        assert_eq!(config.composition, CompositionMode::Wavg);
        let again = RunConfig::from_toml(&config.to_toml().unwrap(), Path::new("x.toml")).unwrap();
        assert_eq!(again, config);
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let text = "benchmark = \"far5\"\n\n[router]\nepochs = 3\ntemprature = 0.5\n";
        let error = RunConfig::from_toml(text, Path::new("bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("bad.toml") && error.contains("line 5") && error.contains("temprature"),
            "{error}"
        );
    }

    #[test]
    fn inconsistent_configs_are_refused() {
        for (text, needle) in [
            ("", "benchmark"),
            ("benchmark = \"far5\"\nseeds = []\n", "seeds"),
            (
                "[[tasks]]\nname = \"a\"\npath = \"a.csv\"\n",
                "at least 2 tasks",
            ),
            (
                "benchmark = \"far5\"\n[module]\ntype = \"adapter\"\nsize = 0\n",
                "adapter size",
            ),
            (
                "benchmark = \"far5\"\n[[tasks]]\nname = \"a\"\npath = \"a.csv\"\n",
                "not both",
            ),
            (
                "benchmark = \"far5\"\n[module]\ntype = \"lora\"\nrank = 8\n",
                "alpha",
            ),
        ] {
            let error = RunConfig::from_toml(text, Path::new("c.toml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains(needle), "{text:?}: {error}");
        }
    }
}
