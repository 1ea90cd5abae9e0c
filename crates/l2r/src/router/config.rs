//! Router options; each one a switch of the method's ablations. Every option type of the router lives here, so
//! that the rest of `router/` reads in one direction: config → prior → network → gates → fit → local.

use crate::embedded::Representation;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// What a router reads to represent the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouterInput {
    /// The frozen encoder's mean-pooled states of every layer (embeddings included), each L2-normalised, then
    /// concatenated (default): lower layers keep the genre and style that tell tasks apart.
    PooledLayers,
    /// The frozen encoder's mean-pooled, L2-normalised output (the sentence embedding), computed once.
    MeanPooled,
    /// The [CLS] state entering the router's layer (the paper's reading). Beware: entering layer 0 it is the
    /// [CLS] embedding, identical for every example, so that router can only learn constant gates.
    LayerCls,
}

impl RouterInput {
    /// The frozen representation this input reads (the [CLS] router reads the sentence embedding for its prior).
    pub fn representation(self) -> Representation {
        match self {
            RouterInput::PooledLayers => Representation::AllLayers,
            RouterInput::MeanPooled | RouterInput::LayerCls => Representation::FinalLayer,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouterScope {
    /// One router per insertion point (layer).
    PerLayer,
    /// One router whose gates serve every layer.
    Single,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateKind {
    /// Training σ((z + logistic noise)/τ), inference σ(z).
    GumbelSigmoid,
    /// softmax(z/τ), training and inference (the ablation).
    Softmax,
}

/// When the routers are fitted. Every fit starts afresh on the memory of all tasks so far, so the routers after
/// the last task are the same either way; fitting only then saves the intermediate fits and evaluations, and the
/// accuracy matrix keeps only its last row (no BWT).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FitSchedule {
    #[default]
    EveryTask,
    LastTask,
}

/// What the routers are fitted to and how CIL predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouterObjective {
    /// Cross-entropy over the concatenation of all heads' logits; CIL = argmax over it
    /// (docs/design.md, "Fitting the routers").
    Concat,
    /// The routers' layer-averaged weights are a task posterior: p(task, class) = w_task · softmax(head_task)_class,
    /// fitted by its negative log-likelihood; CIL = argmax over (task, class).
    Joint,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouterConfig {
    pub input: RouterInput,
    pub scope: RouterScope,
    pub gate: GateKind,
    pub temperature: f64,
    pub epochs: usize,
    pub learning_rate: f64,
    pub batch_size: usize,
    /// Weight of a per-gate binary cross-entropy against the memory example's task id (0 = off).
    pub task_id_loss: f64,
    /// Add `scale · prior_t` to the gate logits, where `prior_t` measures how close the input's frozen embedding is
    /// to task t's memory at `prior_temperature` (see `prior_reference`); `scale` is learned (starts at 1).
    pub similarity_prior: bool,
    pub prior_temperature: f64,
    /// What the prior compares with: each task's centroid or each of its memory examples.
    pub prior_reference: PriorReference,
    /// How the Gaussian or ridge prior scores the memory the routers are fitted on (other priors ignore it).
    pub prior_fit: PriorFit,
    /// Learn a scale and a bias per head on the memory, so that heads trained apart become comparable in the
    /// concatenated (CIL) label space.
    pub calibrate_heads: bool,
    /// Where the heads' within-task weights are fitted: on the memory with the routers (`memory`: the per-head scale
    /// and bias of `calibrate_heads` and one κ for the ridge heads), or per task on its own validation split with its
    /// own module alone and its own ridge (`validation`: a scale a_t and a ridge weight κ_t per task, in place of the
    /// memory-fitted calibration; router/within_task.rs says why; `pooled_validation`: one pair for every task, fitted
    /// on all their validation splits together). Needs the tasks' validation splits at the fit, so a task library
    /// refuses the validation ones. Absent, it is settled like `ridge_heads`: `pooled_validation` in runs and
    /// comparisons whose baselines compute the statistics at the routers' representation (chosen
    /// leave-one-benchmark-out on validation: docs/results.md, "Within-task weights fitted on validation splits"),
    /// `memory` in a task library and in a config built in code. Read it with [`RouterConfig::calibrates_on`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibrate_on: Option<CalibrateOn>,
    pub objective: RouterObjective,
    /// Per test batch, fine-tune a copy of the routers on the nearest memory examples (off when absent).
    pub local_adaptation: Option<LocalAdaptation>,
    /// every_task (default) or last_task.
    pub fit_after: FitSchedule,
    /// Add `κ · ridge scores` to every head's logits: the class scores of the training-free ridge classifier
    /// (RanPAC-style, on the routers' representation, from the tasks' statistics), with κ learned on the memory
    /// from the memory's leave-one-out ridge scores. The adapters' heads and the ridge err on different examples.
    /// Absent (the default) it is settled when a config file is read, like `prior_reference`: on in a run or
    /// comparison whose baselines compute the statistics at the routers' representation (chosen on the validation
    /// splits of four benchmarks: docs/results.md, "Ridge heads on the held-out prior"), off in a task library and
    /// in a config built in code. Read it with [`RouterConfig::uses_ridge_heads`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ridge_heads: Option<bool>,
    /// At inference, only each example's k modules of largest weight (per layer) run, their weights renormalised:
    /// the cost of a composed forward pass stays that of k modules however many tasks the routers know. Absent: all
    /// modules run. Fitting runs each memory example's k modules of largest gate and its own task's module, so
    /// that a fit's cost does not grow with the number of tasks either.
    pub top_k: Option<usize>,
    /// A warm-started fit (a task library's add or remove) runs each epoch on the memory of the tasks the earlier
    /// routers did not know and on this many examples drawn afresh from the rest of the memory, so that its cost
    /// stays flat as the library grows (set it above the memory's size to replay all of it). `l2r run` fits afresh
    /// on the whole memory and ignores it.
    pub warm_replay: usize,
    /// What a warm-started fit trains: every task's gate rows and the shared parameters (`every_task`, default), or
    /// only the rows of the tasks the earlier routers did not know (`new_tasks`), every other parameter held at its
    /// warm-start value, so that the gates of earlier tasks never move.
    pub warm_fit: WarmFit,
    /// Each fit epoch, also this many rows per class drawn from the class Gaussians of the tasks' statistics (class
    /// means, pooled covariance) in the routers' representation; the routers learn each row's task from them
    /// (−log of the routers' weight on it) beside the memory's loss. 0 (the default) draws none. Needs the
    /// statistics (a run or comparison computes them; a task library loads them for it) and a frozen router input
    /// (`pooled_layers`, `mean_pooled`). docs/results.md, "Gaussian feature replay", measures it.
    #[serde(skip_serializing_if = "is_zero")]
    pub gaussian_replay: usize,
}

fn is_zero(value: &usize) -> bool {
    *value == 0
}

/// What a warm-started fit trains (see [`RouterConfig::warm_fit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WarmFit {
    #[default]
    EveryTask,
    NewTasks,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            input: RouterInput::PooledLayers,
            scope: RouterScope::PerLayer,
            gate: GateKind::GumbelSigmoid,
            temperature: 1.0,
            epochs: 10,
            learning_rate: 1e-2,
            batch_size: 16,
            task_id_loss: 0.0,
            similarity_prior: true,
            prior_temperature: 0.05,
            prior_reference: PriorReference::Auto,
            prior_fit: PriorFit::HeldOut,
            calibrate_heads: true,
            calibrate_on: None,
            objective: RouterObjective::Joint,
            local_adaptation: None,
            fit_after: FitSchedule::EveryTask,
            ridge_heads: None,
            top_k: None,
            warm_replay: 32,
            warm_fit: WarmFit::EveryTask,
            gaussian_replay: 0,
        }
    }
}

impl RouterConfig {
    /// The same with `prior_reference = "auto"` and an absent `ridge_heads` and `calibrate_on` settled: the ridge
    /// prior, ridge heads and within-task weights fitted on the pooled validation splits where the tasks' statistics
    /// in the routers' representation are at hand (a run or comparison); the centroid prior, no ridge heads and the
    /// memory's calibration otherwise.
    pub fn with_defaults_settled(mut self, statistics_at_hand: bool) -> Self {
        if self.prior_reference == PriorReference::Auto {
            self.prior_reference = match statistics_at_hand {
                true => PriorReference::Ridge,
                false => PriorReference::Centroid,
            };
        }
        self.ridge_heads.get_or_insert(statistics_at_hand);
        self.calibrate_on.get_or_insert(match statistics_at_hand {
            true => CalibrateOn::PooledValidation,
            false => CalibrateOn::Memory,
        });
        self
    }

    /// Where the heads' within-task weights are fitted (an unsettled `calibrate_on` counts as `memory`).
    pub fn calibrates_on(&self) -> CalibrateOn {
        self.calibrate_on.unwrap_or_default()
    }

    /// Whether the ridge's class scores are added to the heads (an unsettled `ridge_heads` counts as off).
    pub fn uses_ridge_heads(&self) -> bool {
        self.ridge_heads == Some(true)
    }

    /// Whether fitting or applying the routers reads the tasks' class statistics (the Gaussian or ridge prior,
    /// ridge heads).
    pub fn uses_statistics(&self) -> bool {
        self.prior_reads_statistics() || self.uses_ridge_heads()
    }

    /// Whether the prior is built from the tasks' class statistics rather than the memory.
    pub fn prior_reads_statistics(&self) -> bool {
        matches!(
            self.prior_reference,
            PriorReference::Gaussian | PriorReference::Ridge
        )
    }

    /// Width of the routers' input for an encoder of `num_layers` layers of width `hidden`.
    pub fn input_dim(&self, num_layers: usize, hidden: usize) -> usize {
        match self.input {
            RouterInput::PooledLayers => (num_layers + 1) * hidden,
            RouterInput::MeanPooled | RouterInput::LayerCls => hidden,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let positive = |v: f64| v > 0.0 && v.is_finite();
        if !positive(self.temperature) || !positive(self.prior_temperature) {
            return Err(Error::invalid("router temperatures must be > 0"));
        }
        if !positive(self.learning_rate) || self.batch_size == 0 {
            return Err(Error::invalid(
                "router learning_rate must be > 0 and batch_size at least 1",
            ));
        }
        if self.task_id_loss < 0.0 {
            return Err(Error::invalid("router task_id_loss must be >= 0"));
        }
        if let Some(local) = &self.local_adaptation {
            local.validate()?;
        }
        if self.gaussian_replay > 0 && self.input == RouterInput::LayerCls {
            return Err(Error::invalid(
                "router gaussian_replay draws frozen features, which a layer_cls router does not read; use \
                 input = \"pooled_layers\" or \"mean_pooled\", or leave gaussian_replay out",
            ));
        }
        if self.top_k == Some(0) {
            return Err(Error::invalid(
                "router top_k must be at least 1 (leave it out to run every module)",
            ));
        }
        Ok(())
    }
}

/// What each task's similarity is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorReference {
    /// The default, settled when a config file is read: `ridge` in a run or comparison, whose baselines compute
    /// the tasks' statistics anyway (chosen against `gaussian` leave-one-benchmark-out on validation splits, as
    /// `gaussian` was against `centroid`: docs/results.md, "The ridge's task posterior as the routers' prior");
    /// `centroid` in a task library, where a statistics prior would make every add read every task's statistics.
    /// In a config built in code and never settled it acts as `centroid`.
    Auto,
    /// The unit-norm mean of the task's memory embeddings: `cos(x, c_t) / τ`.
    Centroid,
    /// Every memory example of the task: `log mean_i exp(cos(x, m_i) / τ)`.
    Examples,
    /// The task's classes under the Gaussian of every class with one shared covariance, fitted to the training
    /// splits' class statistics: `log mean_c exp(−½ Mahalanobis²(x, μ_c))` (τ unused; the learned scale is it).
    Gaussian,
    /// The task's share of the RanPAC-style ridge classifier's class posterior over every class seen, fitted to the
    /// training splits' statistics: `log Σ_c softmax(κ · ridge(x))_c` over the task's classes, κ fixed (τ unused).
    /// On related tasks the ridge names the task more often than the Gaussian (docs/results.md, "A SetFit-style
    /// contrastive loss for the modules").
    Ridge,
}

/// Where the heads' within-task weights are fitted (see [`RouterConfig::calibrate_on`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrateOn {
    #[default]
    Memory,
    /// A pair per task, on its own validation split.
    Validation,
    /// One pair for every task, on all the tasks' validation splits together (each task's rows still scored by its
    /// own module, head and ridge): less noise than a pair per task fitted on a few dozen examples.
    PooledValidation,
}

impl CalibrateOn {
    /// Whether the within-task weights are fitted on validation splits.
    pub fn on_validation(self) -> bool {
        self != CalibrateOn::Memory
    }
}

/// How the Gaussian or ridge prior scores the memory while the routers are fitted. The memory is drawn from the
/// training splits the statistics were fitted to, and in a few thousand dimensions the Gaussian all but memorises its
/// own examples (the ridge too): scored in sample, the prior names every memory example's task, so nothing is left for the routers'
/// learned part or the prior's scale to learn, whatever the prior does on new inputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorFit {
    /// The Gaussian of every training example, memory included (as at inference).
    InSample,
    /// The Gaussian (or ridge) of the training splits without the memory's examples (taken out of the statistics
    /// exactly), so that the routers learn on the memory how far to trust the prior on unseen inputs; inference
    /// uses the full Gaussian. The default, chosen leave-one-benchmark-out on validation splits (docs/results.md,
    /// "The Gaussian prior held out from the memory").
    #[default]
    HeldOut,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalAdaptation {
    /// Memory examples taken per test example (their union over the batch is the adaptation set).
    pub neighbours: usize,
    /// Gradient steps of the copied routers per test batch.
    pub steps: usize,
    pub learning_rate: f64,
    /// Test examples that share one adapted copy.
    pub batch_size: usize,
}

impl Default for LocalAdaptation {
    fn default() -> Self {
        LocalAdaptation {
            neighbours: 8,
            steps: 3,
            learning_rate: 1e-2,
            batch_size: 16,
        }
    }
}

impl LocalAdaptation {
    pub fn validate(&self) -> Result<()> {
        if self.neighbours == 0 || self.steps == 0 || self.batch_size == 0 {
            return Err(Error::invalid(
                "router.local_adaptation: neighbours, steps and batch_size must be at least 1",
            ));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(Error::invalid(
                "router.local_adaptation: learning_rate must be > 0",
            ));
        }
        Ok(())
    }
}
