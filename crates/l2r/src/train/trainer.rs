//! Isolated training of one task: only its PEFT module and head learn; the backbone is frozen and no other
//! task's module is active. AdamW, linear warm-up and decay, early stopping on validation accuracy.

use super::batches::{length_grouped_batches, TokenizedExample};
use super::contrastive::pairwise_cosine_loss;
use super::head_init::{fit_head_as_probe, HeadInit};
use super::probe::ProbeFit;
use super::schedule::LrSchedule;
use super::task_model::TaskModel;
use crate::backbone::{Backbone, TokenBatch};
use crate::error::{Error, Result};
use crate::head::HeadInput;
use candle_core::Tensor;
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub warmup_fraction: f64,
    /// Stop after this many epochs without a better validation accuracy.
    pub patience: usize,
    pub eval_batch_size: usize,
    pub seed: u64,
    /// How the head starts. Left out of the serialised config while random, so module caches keyed by the
    /// config before it existed stay valid.
    #[serde(skip_serializing_if = "HeadInit::is_random")]
    pub head_init: HeadInit,
    /// What the head reads; left out while the final layer, for the same reason.
    #[serde(skip_serializing_if = "HeadInput::is_final_layer")]
    pub head_input: HeadInput,
    /// Weight of the SetFit-style pairwise cosine loss on the head's input, added to the cross-entropy (0: off;
    /// left out of the serialised config while 0, so module caches keep their keys).
    #[serde(skip_serializing_if = "is_zero")]
    pub contrastive_weight: f64,
}

fn is_zero(weight: &f64) -> bool {
    *weight == 0.0
}

impl Default for TrainConfig {
    fn default() -> Self {
        // 10 epochs at 3e-3, keeping the best epoch on validation without stopping early: chosen against the
        // earlier 3 epochs leave-one-benchmark-out on validation splits (docs/results.md, "Modules trained for 10
        // epochs"); at 60 examples per class the validation accuracy still rises after epoch 3 in most modules.
        TrainConfig {
            epochs: 10,
            batch_size: 16,
            learning_rate: 3e-3,
            weight_decay: 0.01,
            warmup_fraction: 0.1,
            patience: 10,
            eval_batch_size: 64,
            seed: 0,
            head_init: HeadInit::Random,
            head_input: HeadInput::FinalLayer,
            contrastive_weight: 0.0,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::invalid(m));
        if self.epochs == 0 {
            return bad("epochs must be at least 1".into());
        }
        if self.batch_size == 0 || self.eval_batch_size == 0 {
            return bad("batch sizes must be at least 1".into());
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad(format!(
                "learning rate must be > 0, got {}",
                self.learning_rate
            ));
        }
        if !(self.contrastive_weight >= 0.0 && self.contrastive_weight.is_finite()) {
            return bad(format!(
                "contrastive_weight must be >= 0, got {}",
                self.contrastive_weight
            ));
        }
        if !(0.0..1.0).contains(&self.warmup_fraction) {
            return bad(format!(
                "warmup_fraction must be in [0, 1), got {}",
                self.warmup_fraction
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub train_loss: f64,
    pub validation_accuracy: f64,
    pub seconds: f64,
    /// Real (unpadded) training tokens per second of this epoch's optimisation steps.
    pub train_tokens_per_second: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    pub epochs: Vec<EpochLog>,
    pub best_epoch: usize,
    pub best_validation_accuracy: f64,
    pub trainable_parameters: usize,
    pub train_tokens_per_second: f64,
    /// The linear probe the head started from (`head_init = "probe"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_probe: Option<ProbeFit>,
}

/// Trains `model` on `train`, keeping the weights of the epoch with the best accuracy on `validation`.
pub fn train_task(
    backbone: &Backbone,
    model: &TaskModel,
    train: &[TokenizedExample],
    validation: &[TokenizedExample],
    config: &TrainConfig,
    show_progress: bool,
) -> Result<TrainReport> {
    config.validate()?;
    if train.is_empty() {
        return Err(Error::invalid("the training split is empty"));
    }
    let vars = model.trainable_vars();
    let steps_per_epoch = train.len().div_ceil(config.batch_size);
    let schedule = LrSchedule::new(
        config.learning_rate,
        steps_per_epoch * config.epochs,
        config.warmup_fraction,
    );
    let params = ParamsAdamW {
        lr: schedule.at(0),
        weight_decay: config.weight_decay,
        ..Default::default()
    };
    let mut optimizer = AdamW::new(vars.clone(), params)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed);
    let lengths: Vec<usize> = train.iter().map(|e| e.ids.len()).collect();
    let bar = progress_bar(show_progress, (steps_per_epoch * config.epochs) as u64);
    let (mut logs, mut best, mut best_weights) = (Vec::new(), (0usize, f64::NEG_INFINITY), None);
    let head_probe = match config.head_init {
        HeadInit::Random => None,
        HeadInit::Probe => {
            let fit =
                fit_head_as_probe(backbone, model, train, validation, config.eval_batch_size)?;
            let line = format!(
                "probe head: validation accuracy {:.4} (epoch {} of the probe)",
                fit.validation_accuracy, fit.best_epoch
            );
            log_line(&bar, show_progress, &line);
            // Not a candidate for the epoch kept: its validation accuracy is the best of the probe's many epochs,
            // biased upwards against the few of training (on quick verb-cil it beat every epoch of 3 modules in
            // 4, whose test accuracy then fell 2 to 8 points under the randomly started module's).
            Some(fit)
        }
    };
    let (mut step, mut total_tokens, mut total_seconds) = (0usize, 0usize, 0.0f64);
    for epoch in 1..=config.epochs {
        let started = Instant::now();
        let (mut loss_sum, mut tokens) = (0.0, 0usize);
        let batches = length_grouped_batches(&lengths, config.batch_size, &mut rng);
        for batch_indices in &batches {
            optimizer.set_learning_rate(schedule.at(step));
            let objective = Objective::of(config);
            loss_sum += train_step(
                backbone,
                model,
                train,
                batch_indices,
                objective,
                &mut optimizer,
            )?;
            tokens += batch_indices.iter().map(|&i| lengths[i]).sum::<usize>();
            step += 1;
            bar.inc(1);
            bar.set_message(format!(
                "epoch {epoch} loss {:.3}",
                loss_sum / (bar.position() as f64).max(1.0)
            ));
        }
        let train_seconds = started.elapsed().as_secs_f64();
        total_tokens += tokens;
        total_seconds += train_seconds;
        let validation_accuracy = accuracy(backbone, model, validation, config.eval_batch_size)?;
        logs.push(EpochLog {
            epoch,
            train_loss: loss_sum / batches.len() as f64,
            validation_accuracy,
            seconds: started.elapsed().as_secs_f64(),
            train_tokens_per_second: tokens as f64 / train_seconds,
        });
        let line = format!(
            "epoch {epoch}: loss {:.4}, validation accuracy {:.4}, {:.0} tokens/s",
            loss_sum / batches.len() as f64,
            validation_accuracy,
            tokens as f64 / train_seconds
        );
        log_line(&bar, show_progress, &line);
        crate::faults::crash_point("train-epoch");
        if validation_accuracy > best.1 {
            best = (epoch, validation_accuracy);
            best_weights = Some(snapshot(&vars)?);
        } else if epoch - best.0 >= config.patience.max(1) {
            let line = format!(
                "early stop: no better validation accuracy for {} epochs",
                epoch - best.0
            );
            log_line(&bar, show_progress, &line);
            break;
        }
    }
    bar.finish_and_clear();
    if let Some(weights) = best_weights {
        restore(&vars, &weights)?;
    }
    Ok(TrainReport {
        epochs: logs,
        best_epoch: best.0,
        best_validation_accuracy: best.1,
        trainable_parameters: vars.iter().map(|v| v.elem_count()).sum(),
        train_tokens_per_second: total_tokens as f64 / total_seconds.max(1e-9),
        head_probe,
    })
}

/// One optimisation step on the examples `indices`; returns the batch loss.
fn train_step(
    backbone: &Backbone,
    model: &TaskModel,
    examples: &[TokenizedExample],
    indices: &[usize],
    objective: Objective,
    optimizer: &mut AdamW,
) -> Result<f64> {
    let ids: Vec<&[u32]> = indices
        .iter()
        .map(|&i| examples[i].ids.as_slice())
        .collect();
    let labels: Vec<u32> = indices.iter().map(|&i| examples[i].label as u32).collect();
    let batch = backbone.tokenizer.pad(&ids)?;
    objective.step(backbone, model, &batch, &labels, optimizer)
}

/// What a module's training minimises: the head's cross-entropy, plus the pairwise cosine loss on the head's input
/// when weighted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Objective {
    pub contrastive_weight: f64,
}

impl Objective {
    pub fn of(config: &TrainConfig) -> Self {
        Objective {
            contrastive_weight: config.contrastive_weight,
        }
    }

    /// Forward, loss, backward and AdamW update on one batch; returns the loss.
    pub fn step(
        self,
        backbone: &Backbone,
        model: &TaskModel,
        batch: &TokenBatch,
        labels: &[u32],
        optimizer: &mut AdamW,
    ) -> Result<f64> {
        let features = model.pooled(backbone, batch)?;
        let targets = Tensor::from_slice(labels, labels.len(), backbone.device())?;
        let mut loss = candle_nn::loss::cross_entropy(&model.head.forward(&features)?, &targets)?;
        if self.contrastive_weight > 0.0 {
            let pairs = pairwise_cosine_loss(&features, labels)?;
            loss = (loss + (pairs * self.contrastive_weight)?)?;
        }
        optimizer.backward_step(&loss)?;
        Ok(loss.to_scalar::<f32>()? as f64)
    }
}

/// Accuracy of `model` on `examples` (0 when there are none).
pub fn accuracy(
    backbone: &Backbone,
    model: &TaskModel,
    examples: &[TokenizedExample],
    batch_size: usize,
) -> Result<f64> {
    if examples.is_empty() {
        return Ok(0.0);
    }
    Ok(model.scores(backbone, examples, batch_size)?.accuracy)
}

/// Copies of the variables' current values (the best epoch so far).
pub(crate) fn snapshot(vars: &[candle_core::Var]) -> Result<Vec<Tensor>> {
    Ok(vars
        .iter()
        .map(|v| v.as_tensor().copy())
        .collect::<candle_core::Result<_>>()?)
}

pub(crate) fn restore(vars: &[candle_core::Var], weights: &[Tensor]) -> Result<()> {
    for (var, weight) in vars.iter().zip(weights) {
        var.set(weight)?;
    }
    Ok(())
}

/// A line above the progress bar; printed even when stderr is not a terminal and the bar is hidden.
fn log_line(bar: &ProgressBar, show: bool, line: &str) {
    if show {
        bar.suspend(|| eprintln!("{line}"));
    }
}

pub fn progress_bar(show: bool, len: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps {per_sec} ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
