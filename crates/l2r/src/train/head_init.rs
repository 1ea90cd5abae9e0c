//! How a task's head starts its training: seeded at random, or fitted first as a linear probe on the features the
//! model gives before its module has learned anything (LP-FT: Kumar et al., "Fine-Tuning can Distort Pretrained
//! Features and Underperform Out-of-Distribution", ICLR 2022). With a few dozen examples per class a module's
//! steps are few; from a random head the first of them go to fitting the head, and the gradient that reaches the
//! module is that of a head that reads nothing yet. Measured on verb-cil it made the modules worse (docs/results.md,
//! "A linear-probe head start"), so `Random` stays the default.

use super::batches::TokenizedExample;
use super::probe::{fit_logistic_head, ProbeConfig, ProbeFit};
use super::task_model::TaskModel;
use crate::backbone::Backbone;
use crate::error::Result;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadInit {
    /// Uniform in ±1/sqrt(hidden), from the training seed.
    #[default]
    Random,
    /// Logistic regression on the model's features at the start of training (the frozen encoder's, since an
    /// untrained adapter or LoRA is the identity), the probe's epoch best on the validation split kept; training
    /// then starts from it and keeps its own best epoch, as from a random head.
    Probe,
}

impl HeadInit {
    pub fn is_random(&self) -> bool {
        *self == HeadInit::Random
    }
}

/// Fits `model`'s head as a linear probe on the features `model` gives `train` now; its accuracy on `validation`
/// chooses the probe's epoch.
pub fn fit_head_as_probe(
    backbone: &Backbone,
    model: &TaskModel,
    train: &[TokenizedExample],
    validation: &[TokenizedExample],
    batch_size: usize,
) -> Result<ProbeFit> {
    // Detached: the probe fits the head alone, and no graph through the module is kept.
    let features = |examples: &[TokenizedExample]| -> Result<_> {
        Ok(model
            .pooled_features(backbone, examples, batch_size)?
            .detach())
    };
    let labels = |examples: &[TokenizedExample]| -> Vec<usize> {
        examples.iter().map(|e| e.label).collect()
    };
    let validation_x = if validation.is_empty() {
        None
    } else {
        Some(features(validation)?)
    };
    let validation_y = labels(validation);
    fit_logistic_head(
        &model.head,
        &features(train)?,
        &labels(train),
        validation_x.as_ref().map(|x| (x, validation_y.as_slice())),
        &ProbeConfig::default(),
    )
}
