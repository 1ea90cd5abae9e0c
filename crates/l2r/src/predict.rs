//! Predictions from a finished (or partly finished) run folder: the modules, heads and routers of one
//! seed × order sequence after its latest evaluated step, applied to new texts.
//!
//! Without a task id (CIL) the routers compose the modules and the run's CIL rule picks a (task, label);
//! with a task id (TIL) the task's own module and head answer, as in the `til_oracle` setup.

use crate::backbone::Backbone;
use crate::compose::{CompositionMode, ModuleStack, Routed};
use crate::continual::{RunLayout, StepEvaluation};
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::head::ClassifierHead;
use crate::peft::PeftModule;
use crate::router::{RouterInput, RouterNetwork, RouterObjective, RouterWeights};
use crate::train::TaskModel;
use candle_core::{Tensor, D};
use serde::Serialize;
use std::path::Path;

/// Texts answered per forward pass.
const BATCH: usize = 32;

#[derive(Debug, Clone, Serialize)]
pub struct TaskInfo {
    pub name: String,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskGate {
    pub task: String,
    pub weight: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub label: String,
    pub task: String,
    /// Probability of the answer: within the task's head (TIL), or of (task, label) among all (CIL).
    pub score: f64,
    /// The routers' layer-averaged weight of each task's module (one-hot on the given task in TIL).
    pub gates: Vec<TaskGate>,
}

pub struct RunPredictor {
    pub seed: u64,
    pub order: usize,
    /// The step whose routers answer (the last task seen).
    pub step: usize,
    /// The task library's generation that answers (`None` for a run folder).
    pub generation: Option<u64>,
    backbone: Backbone,
    tasks: Vec<TaskInfo>,
    models: Vec<TaskModel>,
    stack: ModuleStack,
    network: RouterNetwork,
    mode: CompositionMode,
}

impl RunPredictor {
    /// Loads sequence `seed` × `order` (default: the config's first of each) of the run in `dir`.
    pub fn load(dir: &Path, seed: Option<u64>, order: Option<usize>) -> Result<Self> {
        Self::load_on(dir, seed, order, None)
    }

    /// The same on `device` (default: the run config's `device`).
    pub fn load_on(
        dir: &Path,
        seed: Option<u64>,
        order: Option<usize>,
        device: Option<DeviceSpec>,
    ) -> Result<Self> {
        let (layout, mut config) = RunLayout::open(dir)?;
        config.device = device.unwrap_or(config.device);
        let seed = seed.or(config.seeds.first().copied()).unwrap_or(0);
        let order = order.or(config.orders.first().copied()).unwrap_or(0);
        let sequence = layout.sequence(seed, order);
        let step = sequence.latest_fitted_step()?;
        let eval: StepEvaluation = crate::io::read_json(&sequence.evaluation(step))?;
        let backbone = Backbone::load_on(config.backbone, config.max_len, &config.device.open()?)?
            .with_precision(config.precision)?;
        let mut tasks = Vec::new();
        let mut models = Vec::new();
        // The modules the routers were fitted on: isolated, or progressive after the first task.
        for (index, name) in eval.tasks.iter().enumerate() {
            let (record, model) = layout
                .routed_module(seed, order, index, name)
                .load(&backbone)?;
            tasks.push(TaskInfo {
                name: name.clone(),
                labels: record.labels,
            });
            models.push(model);
        }
        let network = RouterNetwork::load(&sequence.router(step), &config.router, &backbone)?;
        let mut predictor = Self::new(backbone, tasks, models, network, config.composition)?;
        (predictor.seed, predictor.order, predictor.step) = (seed, order, step);
        Ok(predictor)
    }

    /// A predictor over `models` (in task order) composed by `network`.
    pub fn new(
        backbone: Backbone,
        tasks: Vec<TaskInfo>,
        models: Vec<TaskModel>,
        network: RouterNetwork,
        mode: CompositionMode,
    ) -> Result<Self> {
        let modules: Vec<&PeftModule> = models.iter().map(|m| &m.module).collect();
        let stack = ModuleStack::for_backbone(&modules, &backbone)?;
        Ok(RunPredictor {
            seed: 0,
            order: 0,
            step: tasks.len().saturating_sub(1),
            generation: None,
            backbone,
            tasks,
            models,
            stack,
            network,
            mode,
        })
    }

    /// Runs only each text's `k` most weighted modules (all of them with `None`), whatever the config says.
    pub fn set_top_k(&mut self, k: Option<usize>) {
        self.network.config.top_k = k;
    }

    pub fn tasks(&self) -> &[TaskInfo] {
        &self.tasks
    }

    /// One prediction per text; `task` (a task's name) restricts the answer to that task's labels.
    pub fn predict(&self, texts: &[&str], task: Option<&str>) -> Result<Vec<Prediction>> {
        let task = task.map(|name| self.task_index(name)).transpose()?;
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            out.extend(match task {
                Some(t) => self.predict_within(chunk, t)?,
                None => self.predict_routed(chunk)?,
            });
        }
        Ok(out)
    }

    fn task_index(&self, name: &str) -> Result<usize> {
        self.tasks
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.tasks.iter().map(|t| t.name.as_str()).collect();
                Error::invalid(format!(
                    "unknown task '{name}'; this run knows {}",
                    known.join(", ")
                ))
            })
    }

    /// TIL: the task's own module and head.
    fn predict_within(&self, texts: &[&str], task: usize) -> Result<Vec<Prediction>> {
        let batch = self.backbone.tokenizer.encode(texts)?;
        let probs = candle_nn::ops::softmax(
            &self.models[task].logits(&self.backbone, &batch)?,
            D::Minus1,
        )?;
        let gates: Vec<TaskGate> = self
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| TaskGate {
                task: t.name.clone(),
                weight: if i == task { 1.0 } else { 0.0 },
            })
            .collect();
        best_of_rows(&probs)?
            .into_iter()
            .map(|(label, score)| {
                Ok(Prediction {
                    label: self.tasks[task].labels[label].clone(),
                    task: self.tasks[task].name.clone(),
                    score,
                    gates: gates.clone(),
                })
            })
            .collect()
    }

    /// CIL: routed composition, the run's CIL rule over every task's labels.
    fn predict_routed(&self, texts: &[&str]) -> Result<Vec<Prediction>> {
        let batch = self.backbone.tokenizer.encode(texts)?;
        let (last, layers) = self.backbone.frozen_representations(&batch)?;
        let frozen = match self.network.config.input {
            RouterInput::PooledLayers => layers,
            RouterInput::MeanPooled | RouterInput::LayerCls => last,
        };
        let heads: Vec<&ClassifierHead> = self.models.iter().map(|m| &m.head).collect();
        let routed = Routed {
            backbone: &self.backbone,
            stack: &self.stack,
            heads: &heads,
            mode: self.mode,
        };
        let class_scores = self.network.class_scores(&frozen)?;
        let weights = RouterWeights::new(&self.network, frozen, None);
        let parts = routed.head_logits(&batch, &weights)?;
        let gates = weights.mean_weights()?;
        let scores = self
            .network
            .cil_scores(&parts, &gates, class_scores.as_ref())?;
        let probs = match self.network.config.objective {
            RouterObjective::Concat => candle_nn::ops::softmax(&scores, D::Minus1)?,
            RouterObjective::Joint => scores.exp()?,
        };
        let offsets = routed.label_offsets();
        let gate_rows = gates.to_vec2::<f32>()?;
        best_of_rows(&probs)?
            .into_iter()
            .zip(gate_rows)
            .map(|((index, score), gate_row)| {
                let task = offsets.iter().rposition(|&o| o <= index).unwrap_or(0);
                Ok(Prediction {
                    label: self.tasks[task].labels[index - offsets[task]].clone(),
                    task: self.tasks[task].name.clone(),
                    score,
                    gates: self
                        .tasks
                        .iter()
                        .zip(gate_row)
                        .map(|(t, w)| TaskGate {
                            task: t.name.clone(),
                            weight: w as f64,
                        })
                        .collect(),
                })
            })
            .collect()
    }
}

/// (argmax, max) of each row of a (batch, n) probability tensor.
fn best_of_rows(probs: &Tensor) -> Result<Vec<(usize, f64)>> {
    Ok(probs
        .to_vec2::<f32>()?
        .into_iter()
        .map(|row| {
            row.iter().enumerate().fold(
                (0, f32::MIN),
                |best, (i, &p)| if p > best.1 { (i, p) } else { best },
            )
        })
        .map(|(i, p)| (i, p as f64))
        .collect())
}
