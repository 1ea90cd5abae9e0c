//! Everything a routed forward pass needs besides the router: the frozen backbone, the stacked modules of the
//! tasks seen so far, their heads, and how to compose the modules.

use super::{Composition, CompositionMode, FixedWeights, LayerWeights, ModuleStack};
use crate::backbone::{Backbone, EncoderHooks, TokenBatch};
use crate::error::Result;
use crate::head::{ClassifierHead, HeadFeatures};
use candle_core::{Tensor, D};

pub struct Routed<'a> {
    pub backbone: &'a Backbone,
    pub stack: &'a ModuleStack,
    pub heads: &'a [&'a ClassifierHead],
    pub mode: CompositionMode,
}

impl Routed<'_> {
    pub fn num_tasks(&self) -> usize {
        self.heads.len()
    }

    /// Offsets of each head's labels in the concatenated label space.
    pub fn label_offsets(&self) -> Vec<usize> {
        label_offsets(self.heads.iter().map(|h| h.num_labels()))
    }

    pub fn total_labels(&self) -> usize {
        self.heads.iter().map(|h| h.num_labels()).sum()
    }

    /// Each head's logits (batch, labels) on the representation composed with `weights`.
    pub fn head_logits(
        &self,
        batch: &TokenBatch,
        weights: &dyn LayerWeights,
    ) -> Result<Vec<Tensor>> {
        let composition = Composition::new(self.stack, self.mode, weights);
        self.head_logits_with(batch, &composition)
    }

    /// What the heads read, composed with `weights`.
    pub fn pooled(&self, batch: &TokenBatch, weights: &dyn LayerWeights) -> Result<HeadFeatures> {
        let composition = Composition::new(self.stack, self.mode, weights);
        HeadFeatures::read_by(self.heads, self.backbone, &composition, batch)
    }

    /// What the heads read with module `module` alone active, for every row of `batch`.
    pub fn pooled_alone(&self, batch: &TokenBatch, module: usize) -> Result<HeadFeatures> {
        let (rows, modules) = (batch.input_ids.dim(0)?, self.num_tasks());
        let one_hot = Tensor::ones(rows, candle_core::DType::F32, self.backbone.device())?
            .unsqueeze(1)?
            .pad_with_zeros(1, module, modules - module - 1)?;
        self.pooled(batch, &FixedWeights(vec![one_hot]))
    }

    /// Each head's logits with `hooks` composing the modules their own way (e.g. per token).
    pub fn head_logits_with(
        &self,
        batch: &TokenBatch,
        hooks: &dyn EncoderHooks,
    ) -> Result<Vec<Tensor>> {
        heads_on_encoder(self.backbone, hooks, self.heads, batch)
    }

    /// All heads' logits concatenated (batch, Σ labels).
    pub fn logits(&self, batch: &TokenBatch, weights: &dyn LayerWeights) -> Result<Tensor> {
        Ok(Tensor::cat(&self.head_logits(batch, weights)?, D::Minus1)?)
    }

    /// All heads' logits concatenated, with `hooks` composing the modules their own way (e.g. per token).
    pub fn logits_with(&self, batch: &TokenBatch, hooks: &dyn EncoderHooks) -> Result<Tensor> {
        Ok(Tensor::cat(
            &self.head_logits_with(batch, hooks)?,
            D::Minus1,
        )?)
    }
}

/// Where each of consecutive label sets of these sizes starts in their concatenation.
pub fn label_offsets(label_counts: impl IntoIterator<Item = usize>) -> Vec<usize> {
    label_counts
        .into_iter()
        .scan(0, |sum, count| {
            let start = *sum;
            *sum += count;
            Some(start)
        })
        .collect()
}

/// Each head's logits on the mean-pooled output of the backbone run with `hooks`.
pub fn heads_on_encoder(
    backbone: &Backbone,
    hooks: &dyn EncoderHooks,
    heads: &[&ClassifierHead],
    batch: &TokenBatch,
) -> Result<Vec<Tensor>> {
    let features = HeadFeatures::read_by(heads, backbone, hooks, batch)?;
    heads
        .iter()
        .map(|h| h.forward_features(&features))
        .collect()
}
