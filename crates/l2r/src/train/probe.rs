//! Linear probe: logistic regression on the frozen encoder's mean-pooled features. The reference a PEFT module
//! must beat to be worth its cost.

use super::batches::LengthOrder;
use super::trainer::{progress_bar, restore, snapshot};
use crate::backbone::{mean_pool, Backbone, NoHooks};
use crate::data::Example;
use crate::error::{Error, Result};
use crate::head::ClassifierHead;
use crate::metrics::{classification_scores, ClassificationScores};
use candle_core::{Tensor, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeConfig {
    pub epochs: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub seed: u64,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            epochs: 300,
            learning_rate: 1e-2,
            weight_decay: 1e-4,
            batch_size: 64,
            seed: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeReport {
    pub best_epoch: usize,
    pub validation_accuracy: f64,
    pub test: ClassificationScores,
}

/// Frozen mean-pooled features of `examples`: (n, hidden).
pub fn frozen_features(
    backbone: &Backbone,
    examples: &[Example],
    batch_size: usize,
    show_progress: bool,
) -> Result<Tensor> {
    let bar = progress_bar(show_progress, examples.len() as u64);
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let ids = backbone.tokenizer.encode_ids(&texts)?;
    let order = LengthOrder::of_ids(&ids);
    let rows = order.chunks(batch_size, |items| {
        let rows: Vec<&[u32]> = items.iter().map(|&i| ids[i].as_slice()).collect();
        let batch = backbone.tokenizer.pad(&rows)?;
        let pooled = mean_pool(
            &backbone.encoder.forward(&batch, &NoHooks)?,
            &batch.attention_mask,
        )?;
        bar.inc(items.len() as u64);
        Ok(pooled)
    })?;
    bar.finish_and_clear();
    order.restore_rows(&Tensor::cat(&rows, 0)?)
}

/// Full-batch logistic regression on frozen features, keeping the epoch with the best validation accuracy.
pub fn train_linear_probe(
    backbone: &Backbone,
    splits: &crate::data::Splits,
    num_labels: usize,
    config: &ProbeConfig,
    show_progress: bool,
) -> Result<ProbeReport> {
    if splits.train.is_empty() || splits.test.is_empty() {
        return Err(Error::invalid(
            "the linear probe needs non-empty train and test splits",
        ));
    }
    let features = |examples: &[Example]| {
        frozen_features(backbone, examples, config.batch_size, show_progress)
    };
    let (train_x, test_x) = (features(&splits.train)?, features(&splits.test)?);
    let validation_x = if splits.validation.is_empty() {
        None
    } else {
        Some(features(&splits.validation)?)
    };
    let labels =
        |examples: &[Example]| -> Vec<usize> { examples.iter().map(|e| e.label).collect() };
    let hidden = backbone.encoder.hidden_size();
    let head = ClassifierHead::new_on(hidden, num_labels, config.seed, backbone.device())?;
    let validation_labels = labels(&splits.validation);
    let fit = fit_logistic_head(
        &head,
        &train_x,
        &labels(&splits.train),
        validation_x
            .as_ref()
            .map(|x| (x, validation_labels.as_slice())),
        config,
    )?;
    let predict = |x: &Tensor| predicted_labels(&head, x);
    Ok(ProbeReport {
        best_epoch: fit.best_epoch,
        validation_accuracy: fit.validation_accuracy,
        test: classification_scores(&predict(&test_x)?, &labels(&splits.test), num_labels),
    })
}

/// Where a full-batch logistic regression stopped: the epoch kept and its validation accuracy (0 without one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeFit {
    pub best_epoch: usize,
    pub validation_accuracy: f64,
}

/// Fits `head` to `features` (n, hidden) and `labels` by full-batch logistic regression (AdamW), keeping the
/// epoch with the best accuracy on `validation` (the last epoch without one).
pub fn fit_logistic_head(
    head: &ClassifierHead,
    features: &Tensor,
    labels: &[usize],
    validation: Option<(&Tensor, &[usize])>,
    config: &ProbeConfig,
) -> Result<ProbeFit> {
    let targets: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    let targets = Tensor::new(targets, features.device())?;
    let vars = head.varmap().all_vars();
    let mut optimizer = AdamW::new(
        vars.clone(),
        ParamsAdamW {
            lr: config.learning_rate,
            weight_decay: config.weight_decay,
            ..Default::default()
        },
    )?;
    let num_labels = head.num_labels();
    let validation = validation.filter(|(_, y)| !y.is_empty());
    let (mut best, mut best_weights) = ((0, f64::NEG_INFINITY), None);
    for epoch in 1..=config.epochs.max(1) {
        let loss = candle_nn::loss::cross_entropy(&head.forward(features)?, &targets)?;
        optimizer.backward_step(&loss)?;
        let accuracy = match validation {
            Some((x, y)) => {
                classification_scores(&predicted_labels(head, x)?, y, num_labels).accuracy
            }
            None => 0.0,
        };
        // Without validation data the last epoch is kept.
        if accuracy > best.1 || validation.is_none() {
            best = (epoch, accuracy);
            best_weights = Some(snapshot(&vars)?);
        }
    }
    if let Some(weights) = best_weights {
        restore(&vars, &weights)?;
    }
    Ok(ProbeFit {
        best_epoch: best.0,
        validation_accuracy: best.1,
    })
}

/// The label with the largest logit for each row of `features`.
fn predicted_labels(head: &ClassifierHead, features: &Tensor) -> Result<Vec<usize>> {
    Ok(head
        .forward(features)?
        .argmax(D::Minus1)?
        .to_vec1::<u32>()?
        .into_iter()
        .map(|p| p as usize)
        .collect())
}
