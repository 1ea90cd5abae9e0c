//! A task's trained parts — PEFT module and classifier head — applied on the frozen backbone.

use super::batches::{predict_by_length, LengthOrder, TokenizedExample};
use crate::backbone::{Backbone, EncoderHooks, TokenBatch};
use crate::compose::{AlongsidePrevious, ModuleStack};
use crate::error::Result;
use crate::head::{ClassifierHead, HeadFeatures};
use crate::metrics::{classification_scores, ClassificationScores};
use crate::peft::PeftModule;
use candle_core::Var;
use candle_core::{Tensor, D};

pub struct TaskModel {
    pub module: PeftModule,
    pub head: ClassifierHead,
    /// Earlier tasks' modules kept active (frozen) beside this one: the ablation of isolated training.
    pub previous: Option<ModuleStack>,
}

impl TaskModel {
    /// A module and head used alone (isolated training).
    pub fn new(module: PeftModule, head: ClassifierHead) -> Self {
        TaskModel {
            module,
            head,
            previous: None,
        }
    }

    /// Logits (batch, labels).
    pub fn logits(&self, backbone: &Backbone, batch: &TokenBatch) -> Result<Tensor> {
        Ok(self.head.forward(&self.pooled(backbone, batch)?)?)
    }

    /// The features (batch, the head's input width) the head reads.
    pub fn pooled(&self, backbone: &Backbone, batch: &TokenBatch) -> Result<Tensor> {
        let alongside;
        let hooks: &dyn EncoderHooks = match &self.previous {
            None => &self.module,
            Some(previous) => {
                alongside = AlongsidePrevious::new(&self.module, previous);
                &alongside
            }
        };
        let features = HeadFeatures::read_by(&[&self.head], backbone, hooks, batch)?;
        Ok(features.get(self.head.input())?.clone())
    }

    /// The head's input for every example, in their order: (examples, hidden).
    pub fn pooled_features(
        &self,
        backbone: &Backbone,
        examples: &[TokenizedExample],
        batch_size: usize,
    ) -> Result<Tensor> {
        let order = LengthOrder::of_ids(examples);
        let rows = order.chunks(batch_size, |items| {
            let ids: Vec<&[u32]> = items.iter().map(|&i| examples[i].ids.as_slice()).collect();
            self.pooled(backbone, &backbone.tokenizer.pad(&ids)?)
        })?;
        order.restore_rows(&Tensor::cat(&rows, 0)?)
    }

    /// Every trainable variable: the module's, then the head's.
    pub fn trainable_vars(&self) -> Vec<Var> {
        let mut vars = self.module.varmap().all_vars();
        vars.extend(self.head.varmap().all_vars());
        vars
    }

    /// Accuracy, macro- and weighted F1 on labelled examples.
    pub fn scores(
        &self,
        backbone: &Backbone,
        examples: &[TokenizedExample],
        batch_size: usize,
    ) -> Result<ClassificationScores> {
        let predictions = self.predict(backbone, examples, batch_size)?;
        let labels: Vec<usize> = examples.iter().map(|e| e.label).collect();
        Ok(classification_scores(
            &predictions,
            &labels,
            self.head.num_labels(),
        ))
    }

    /// Predicted label of each example, in batches of `batch_size`.
    pub fn predict(
        &self,
        backbone: &Backbone,
        examples: &[TokenizedExample],
        batch_size: usize,
    ) -> Result<Vec<usize>> {
        predict_by_length(&backbone.tokenizer, examples, batch_size, |_, batch| {
            let labels = self
                .logits(backbone, batch)?
                .argmax(D::Minus1)?
                .to_vec1::<u32>()?;
            Ok(labels.into_iter().map(|label| label as usize).collect())
        })
    }
}
