//! A task's classifier head: a linear map from a mean-pooled representation of the encoder's states to the task's
//! labels. It reads the final layer's mean pool, or every layer's (`HeadInput`).

use crate::backbone::Backbone;
use crate::backbone::{mean_pool, EncoderConfig, EncoderHooks, TokenBatch};
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor, D};
use candle_nn::{Init, VarBuilder, VarMap};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What a head reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadInput {
    /// The final layer's mean pool (batch, hidden).
    #[default]
    FinalLayer,
    /// Every layer's mean pool, the embeddings' included, concatenated (batch, (layers + 1) · hidden): lower layers
    /// keep lexical and stylistic cues that the final sentence embedding discards (the frozen ridge on every layer
    /// is 4 points better within a verb-cil task than on the final one; a head trained with its module gained
    /// nothing from them there: docs/results.md, "Heads on every layer, and LoRA modules").
    AllLayers,
}

impl HeadInput {
    pub fn is_final_layer(&self) -> bool {
        *self == HeadInput::FinalLayer
    }

    /// The width of this input for `encoder`.
    pub fn dim(self, encoder: &EncoderConfig) -> usize {
        match self {
            HeadInput::FinalLayer => encoder.hidden_size,
            HeadInput::AllLayers => (encoder.num_hidden_layers + 1) * encoder.hidden_size,
        }
    }
}

/// The inputs a set of heads read from one forward pass: the final layer's mean pool, and every layer's when a
/// head reads them.
pub struct HeadFeatures {
    final_layer: Tensor,
    all_layers: Option<Tensor>,
}

impl HeadFeatures {
    /// What `heads` read, from the backbone run on `batch` with `hooks`: every layer's states are pooled only if
    /// one of them reads every layer.
    pub fn read_by(
        heads: &[&ClassifierHead],
        backbone: &Backbone,
        hooks: &dyn EncoderHooks,
        batch: &TokenBatch,
    ) -> Result<Self> {
        let mask = &batch.attention_mask;
        if heads.iter().all(|h| h.input().is_final_layer()) {
            let hidden = backbone.encoder.forward(batch, hooks)?;
            return Ok(HeadFeatures {
                final_layer: mean_pool(&hidden, mask)?,
                all_layers: None,
            });
        }
        let output = backbone.encoder.forward_states(batch, hooks)?;
        let pooled = output
            .states
            .iter()
            .map(|h| mean_pool(h, mask))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(HeadFeatures {
            final_layer: mean_pool(output.last(), mask)?,
            all_layers: Some(Tensor::cat(&pooled, D::Minus1)?),
        })
    }

    /// What a head reading `input` takes.
    pub fn get(&self, input: HeadInput) -> Result<&Tensor> {
        match input {
            HeadInput::FinalLayer => Ok(&self.final_layer),
            HeadInput::AllLayers => self.all_layers.as_ref().ok_or_else(|| {
                Error::invalid("a head reads every layer, but only the final layer was pooled")
            }),
        }
    }

    /// The final layer's mean pool (batch, hidden).
    pub fn final_layer(&self) -> &Tensor {
        &self.final_layer
    }
}

pub struct ClassifierHead {
    varmap: VarMap,
    weight: Tensor,
    bias: Tensor,
    input: HeadInput,
}

impl ClassifierHead {
    /// A head with weights uniform in ±1/sqrt(hidden), drawn from `seed`, and zero bias.
    pub fn new(hidden: usize, num_labels: usize, seed: u64) -> Result<Self> {
        Self::new_on(hidden, num_labels, seed, &Device::Cpu)
    }

    /// The same on `device` (the backbone's).
    pub fn new_on(hidden: usize, num_labels: usize, seed: u64, device: &Device) -> Result<Self> {
        if num_labels < 2 {
            return Err(Error::invalid(format!(
                "a task needs at least 2 labels, got {num_labels}"
            )));
        }
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let weight = vb.get_with_hints((num_labels, hidden), "weight", Init::Const(0.0))?;
        let bias = vb.get_with_hints(num_labels, "bias", Init::Const(0.0))?;
        let bound = 1.0 / (hidden as f64).sqrt();
        crate::init::randomize_vars(&varmap, seed, |name, _| (name == "weight").then_some(bound))?;
        Ok(ClassifierHead {
            varmap,
            weight,
            bias,
            input: HeadInput::FinalLayer,
        })
    }

    /// A head reading `input` of `encoder`, seeded like [`ClassifierHead::new_on`].
    pub fn for_input(
        input: HeadInput,
        encoder: &EncoderConfig,
        num_labels: usize,
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        let head = Self::new_on(input.dim(encoder), num_labels, seed, device)?;
        Ok(ClassifierHead { input, ..head })
    }

    /// The head of `input` saved at `path`.
    pub fn load_for_input(
        path: &Path,
        input: HeadInput,
        encoder: &EncoderConfig,
        num_labels: usize,
        device: &Device,
    ) -> Result<Self> {
        let head = Self::load_on(path, input.dim(encoder), num_labels, device)?;
        Ok(ClassifierHead { input, ..head })
    }

    pub fn input(&self) -> HeadInput {
        self.input
    }

    pub fn load(path: &Path, hidden: usize, num_labels: usize) -> Result<Self> {
        Self::load_on(path, hidden, num_labels, &Device::Cpu)
    }

    /// The same onto `device`.
    pub fn load_on(path: &Path, hidden: usize, num_labels: usize, device: &Device) -> Result<Self> {
        let head = Self::new_on(hidden, num_labels, 0, device)?;
        crate::io::load_varmap(
            &head.varmap,
            path,
            "head weights",
            &format!("does not hold a head for {num_labels} labels over {hidden} features"),
        )?;
        Ok(head)
    }

    pub fn num_labels(&self) -> usize {
        self.bias.dim(0).unwrap_or(0)
    }

    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// Logits (batch, labels) from pooled features (batch, input width).
    pub fn forward(&self, pooled: &Tensor) -> candle_core::Result<Tensor> {
        pooled.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }

    /// Logits (batch, labels) from the input this head reads.
    pub fn forward_features(&self, features: &HeadFeatures) -> Result<Tensor> {
        Ok(self.forward(features.get(self.input)?)?)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::save_varmap(&self.varmap, path)
    }
}
