//! Fitting the routers on the memory: backbone, modules and heads frozen. The loss follows the objective
//! (docs/design.md, "Fitting the routers"): by default (`joint`) the negative log-likelihood of (task, class) when the
//! routers' layer-averaged weights are read as a task posterior times each calibrated head's softmax; with
//! `concat`, cross-entropy over the concatenated label space of all heads. A per-gate task-id loss can be added.

use super::class_scores::ClassScores;
use super::config::{
    CalibrateOn, PriorFit, PriorReference, RouterConfig, RouterInput, RouterObjective, WarmFit,
};
use super::gates::{GateNoise, RouterWeights};
use super::network::RouterNetwork;
use super::prior::SimilarityPrior;
use super::standardise::InputStandardisation;
use super::within_task::WithinTaskFit;

use crate::compose::LayerWeights;
use crate::compose::Routed;
use crate::embedded::EmbeddedExamples;
use crate::error::{Error, Result};
use crate::statistics::{ClassGaussians, RidgeClassifier, SharedGaussian};
use crate::train::length_groups;
use candle_core::{DType, Tensor};
use candle_nn::{AdamW, Optimizer};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FitReport {
    pub epoch_losses: Vec<f64>,
    pub seconds: f64,
    pub examples: usize,
}

/// Routers fitted earlier, to start a new fit from: `tasks[i]` is the index, among `previous`'s tasks, of the
/// new fit's task i (`None` for a task the earlier routers did not know, which starts at zero).
pub struct WarmStart<'a> {
    pub previous: &'a RouterNetwork,
    pub tasks: Vec<Option<usize>>,
}

/// Fits new routers for the modules of `routed` on `memory`, deterministically in `seed`.
pub fn fit_router(
    routed: &Routed,
    memory: &EmbeddedExamples,
    config: &RouterConfig,
    seed: u64,
    show_progress: bool,
) -> Result<(RouterNetwork, FitReport)> {
    fit_router_from(
        routed,
        PriorSources::memory_only(memory),
        config,
        seed,
        None,
        show_progress,
    )
}

/// What the routers are fitted on and their prior is built from: the memory; for the Gaussian prior, the shared
/// Gaussian of the tasks' class statistics in the routers' representation (and, for `prior_fit = "held_out"`, the
/// same without the memory's examples, which the fit scores the memory with); for `ridge_heads`, the ridge
/// classifier of the tasks' statistics there.
pub struct PriorSources<'a> {
    pub memory: &'a EmbeddedExamples,
    pub gaussian: Option<Arc<SharedGaussian>>,
    pub held_out_gaussian: Option<Arc<SharedGaussian>>,
    /// The ridge classifier of the tasks' statistics, for `ridge_heads` and the ridge prior.
    pub ridge: Option<RidgeClassifier>,
    /// The same without the memory's examples, for the ridge prior's held-out fit.
    pub held_out_ridge: Option<RidgeClassifier>,
    /// The tasks' within-task weights fitted on validation splits, for `calibrate_on = "validation"` or
    /// `"pooled_validation"`.
    pub within_task: Option<WithinTaskFit>,
    /// The tasks' class Gaussians in the routers' representation, for `gaussian_replay`.
    pub replay: Option<ClassGaussians>,
}

impl<'a> PriorSources<'a> {
    /// The memory alone: for priors built from it (centroid, examples).
    pub fn memory_only(memory: &'a EmbeddedExamples) -> Self {
        PriorSources {
            memory,
            gaussian: None,
            held_out_gaussian: None,
            ridge: None,
            held_out_ridge: None,
            within_task: None,
            replay: None,
        }
    }

    /// The prior the routers keep, and the one the fit scores the memory with when that differs.
    fn priors(
        &self,
        classes_per_task: &[usize],
        config: &RouterConfig,
    ) -> Result<(SimilarityPrior, Option<SimilarityPrior>)> {
        let num_tasks = classes_per_task.len();
        // The routers live where the memory's features are: the backbone's device.
        let device = self.memory.frozen.device();
        let (full, held_out) = match config.prior_reference {
            PriorReference::Gaussian => {
                let gaussian = |g: &Arc<SharedGaussian>| SimilarityPrior::from_gaussian(g.clone());
                (
                    self.gaussian.as_ref().map(gaussian).transpose()?,
                    self.held_out_gaussian.as_ref().map(gaussian).transpose()?,
                )
            }
            PriorReference::Ridge => {
                let ridge =
                    |r: &RidgeClassifier| SimilarityPrior::from_ridge(r.clone(), classes_per_task);
                (
                    self.ridge.as_ref().map(ridge).transpose()?,
                    self.held_out_ridge.as_ref().map(ridge).transpose()?,
                )
            }
            _ => {
                let prior = SimilarityPrior::from_memory(self.memory, num_tasks, config)?;
                return Ok((prior.to_device(device)?, None));
            }
        };
        let full = full.ok_or_else(|| {
            Error::invalid(
                "prior_reference = \"gaussian\" or \"ridge\" needs the tasks' class statistics, not only the memory",
            )
        })?;
        let for_fit = match (config.prior_fit, held_out) {
            (PriorFit::InSample, _) => None,
            (PriorFit::HeldOut, Some(held_out)) => Some(held_out.to_device(device)?),
            (PriorFit::HeldOut, None) => return Err(Error::invalid(
                "prior_fit = \"held_out\" needs the prior's statistics without the memory's examples",
            )),
        };
        Ok((full.to_device(device)?, for_fit))
    }
}

/// [`fit_router`], starting from earlier routers' parameters where `warm` gives them (a task library adding or
/// removing one task keeps what the routers learned of the others).
pub fn fit_router_from(
    routed: &Routed,
    sources: PriorSources,
    config: &RouterConfig,
    seed: u64,
    warm: Option<&WarmStart>,
    show_progress: bool,
) -> Result<(RouterNetwork, FitReport)> {
    let started = std::time::Instant::now();
    let num_tasks = routed.num_tasks();
    if routed.stack.num_modules != num_tasks {
        return Err(Error::invalid(format!(
            "{} modules but {num_tasks} heads",
            routed.stack.num_modules
        )));
    }
    let encoder = &routed.backbone.encoder;
    let memory = sources.memory;
    let classes_per_task: Vec<usize> = routed.heads.iter().map(|h| h.num_labels()).collect();
    let (prior, prior_for_fit) = sources.priors(&classes_per_task, config)?;
    let input_dim = config.input_dim(encoder.num_layers(), encoder.hidden_size());
    let fitting_prior = prior_for_fit.unwrap_or_else(|| prior.clone());
    let mut network = RouterNetwork::new(config, encoder.num_layers(), input_dim, fitting_prior)?;
    if config.input == RouterInput::LayerCls {
        network.set_standardisation(InputStandardisation::measure(routed, memory)?);
    }
    let mut held = None;
    if let Some(warm) = warm {
        network.warm_start(warm.previous, &warm.tasks)?;
        if config.warm_fit == WarmFit::NewTasks {
            let free: Vec<bool> = warm.tasks.iter().map(Option::is_none).collect();
            held = Some((network.snapshot()?, free));
        }
    }
    let mut optimizer = network.optimizer(config.learning_rate)?;
    let offsets = routed.label_offsets();
    let class_scores = match (config.uses_ridge_heads(), sources.ridge) {
        (false, _) => None,
        (true, None) => {
            return Err(Error::invalid(
                "ridge_heads needs the ridge classifier of the tasks' statistics",
            ))
        }
        (true, Some(ridge)) => {
            let classes: Vec<usize> = (0..memory.len())
                .map(|i| offsets[memory.tasks[i]] + memory.labels[i])
                .collect();
            let features = memory.features(config.input.representation());
            let shared = ridge.leave_one_out_scores(features, &classes)?;
            network.set_ridge(ridge);
            Some(ClassScores { shared, own: None })
        }
    };
    let class_scores = match config.calibrates_on() {
        CalibrateOn::Memory => class_scores,
        CalibrateOn::Validation | CalibrateOn::PooledValidation => {
            let within_task = sources.within_task.as_ref().ok_or_else(|| {
                Error::invalid(
                    "calibrate_on = \"validation\" or \"pooled_validation\" needs the tasks' within-task \
                     weights, fitted on their validation splits",
                )
            })?;
            if within_task.weights.len() != num_tasks {
                return Err(Error::invalid(format!(
                    "{} tasks' within-task weights for {num_tasks} tasks",
                    within_task.weights.len()
                )));
            }
            network.set_within_task(within_task.kept(memory.frozen.device())?);
            let features = memory.features(config.input.representation());
            let own = within_task.memory_scores(features, &memory.tasks, &memory.labels)?;
            class_scores.map(|scores| ClassScores { own, ..scores })
        }
    };
    let replay = match (config.gaussian_replay, &sources.replay) {
        (0, _) => None,
        (_, None) => {
            return Err(Error::invalid(
                "gaussian_replay needs the tasks' class statistics in the routers' representation (a run, a \
                 comparison or a task library loads them)",
            ))
        }
        (per_class, Some(gaussians)) => Some((gaussians, per_class)),
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut epoch = EpochRows::new(memory, warm, config.warm_replay);
    let bar = crate::train::progress_bar(
        show_progress,
        (config.epochs * epoch.len().div_ceil(config.batch_size)) as u64,
    );
    bar.set_message("fitting routers");
    let mut epoch_losses = Vec::with_capacity(config.epochs);
    for _ in 0..config.epochs {
        let order = epoch.draw(&mut rng);
        let steps = order.len().div_ceil(config.batch_size);
        let mut replayed = match replay {
            None => Vec::new(),
            Some((gaussians, per_class)) => ReplayRows::draw(
                gaussians,
                per_class,
                steps,
                &mut rng,
                memory.frozen.device(),
            )?,
        }
        .into_iter();
        let mut total = 0.0;
        for chunk in order.chunks(config.batch_size) {
            let noise = StdRng::seed_from_u64(rng.random());
            let step = FitStep {
                routed,
                memory,
                network: &network,
                offsets: &offsets,
                class_scores: class_scores.as_ref(),
                replay: replayed.next(),
            };
            total += step.run(chunk, noise, &mut optimizer)? * chunk.len() as f64;
            if let Some((snapshot, free)) = &held {
                network.hold(snapshot, free)?;
            }
            bar.inc(1);
        }
        epoch_losses.push(total / order.len() as f64);
        crate::faults::crash_point("router-epoch");
    }
    bar.finish_and_clear();
    network.set_prior(prior)?;
    let report = FitReport {
        epoch_losses,
        seconds: started.elapsed().as_secs_f64(),
        examples: epoch.len(),
    };
    Ok((network, report))
}

/// The memory rows of each epoch of a fit: all of them, or for a warm-started fit the rows of the tasks new to the
/// routers and `replay` rows drawn afresh from the others.
struct EpochRows {
    /// Every row, or the new tasks' rows.
    fixed: Vec<usize>,
    /// The rows replay draws from (empty when `fixed` is every row).
    others: Vec<usize>,
    replay: usize,
}

impl EpochRows {
    fn new(memory: &EmbeddedExamples, warm: Option<&WarmStart>, replay: usize) -> Self {
        let all: Vec<usize> = (0..memory.len()).collect();
        let Some(warm) = warm else {
            return EpochRows {
                fixed: all,
                others: Vec::new(),
                replay: 0,
            };
        };
        let known = |row: &usize| {
            warm.tasks
                .get(memory.tasks[*row])
                .is_some_and(Option::is_some)
        };
        let (others, fixed): (Vec<usize>, Vec<usize>) = all.into_iter().partition(known);
        if others.len() <= replay {
            return EpochRows {
                fixed: (0..memory.len()).collect(),
                others: Vec::new(),
                replay: 0,
            };
        }
        EpochRows {
            fixed,
            others,
            replay,
        }
    }

    /// Rows per epoch.
    fn len(&self) -> usize {
        self.fixed.len() + self.replay
    }

    /// This epoch's rows, shuffled.
    fn draw(&mut self, rng: &mut StdRng) -> Vec<usize> {
        if self.replay == 0 {
            // In place, each epoch shuffling the last one's order: how every fit has drawn its epochs.
            self.fixed.shuffle(rng);
            return self.fixed.clone();
        }
        self.others.shuffle(rng);
        let mut rows = self.fixed.clone();
        rows.extend_from_slice(&self.others[..self.replay]);
        rows.shuffle(rng);
        rows
    }
}

/// The fixed cost of one more forward and backward pass in a fit step, in tokens: a step cuts its examples into
/// separately padded sub-batches where padding them together would cost more (memory texts range from a few words
/// to the maximum length, and a batch pads every row to its longest).
const PASS_OVERHEAD_TOKENS: usize = 32;

/// One optimisation step of the routers on some memory examples.
pub(super) struct FitStep<'a> {
    pub routed: &'a Routed<'a>,
    pub memory: &'a EmbeddedExamples,
    pub network: &'a RouterNetwork,
    pub offsets: &'a [usize],
    /// The ridges' class scores of every memory example, when `ridge_heads` is on.
    pub class_scores: Option<&'a ClassScores>,
    /// Rows drawn from the class Gaussians for this step, with `gaussian_replay`.
    pub replay: Option<ReplayRows>,
}

/// Features drawn from the tasks' class Gaussians, with each row's task.
pub(super) struct ReplayRows {
    features: Tensor,
    tasks: Vec<usize>,
}

impl ReplayRows {
    /// `per_class` rows of every class, shuffled and dealt out to `steps` steps.
    fn draw(
        gaussians: &ClassGaussians,
        per_class: usize,
        steps: usize,
        rng: &mut StdRng,
        device: &candle_core::Device,
    ) -> Result<Vec<ReplayRows>> {
        let (features, tasks) = gaussians.draw(per_class, rng, device)?;
        let mut rows: Vec<usize> = (0..tasks.len()).collect();
        rows.shuffle(rng);
        let share = rows.len().div_ceil(steps.max(1)).max(1);
        rows.chunks(share)
            .map(|part| {
                let index =
                    Tensor::new(part.iter().map(|&i| i as u32).collect::<Vec<_>>(), device)?;
                Ok(ReplayRows {
                    features: features.index_select(&index, 0)?,
                    tasks: part.iter().map(|&i| tasks[i]).collect(),
                })
            })
            .collect()
    }
}

/// The routed forward pass of some memory rows: each head's logits, the layer-averaged weights and every layer's
/// gate logits, row by row.
struct RoutedPass {
    rows: Vec<usize>,
    head_logits: Vec<Tensor>,
    mean_weights: Tensor,
    gate_logits: Vec<Tensor>,
}

impl RoutedPass {
    /// The passes' rows in one pass, in order.
    fn concat(passes: Vec<RoutedPass>) -> Result<RoutedPass> {
        let cat = |pick: &dyn Fn(&RoutedPass) -> Tensor| -> Result<Tensor> {
            Ok(Tensor::cat(
                &passes.iter().map(pick).collect::<Vec<_>>(),
                0,
            )?)
        };
        let heads = passes.first().map_or(0, |p| p.head_logits.len());
        let layers = passes.first().map_or(0, |p| p.gate_logits.len());
        Ok(RoutedPass {
            rows: passes.iter().flat_map(|p| p.rows.iter().copied()).collect(),
            head_logits: (0..heads)
                .map(|h| cat(&|p| p.head_logits[h].clone()))
                .collect::<Result<_>>()?,
            mean_weights: cat(&|p| p.mean_weights.clone())?,
            gate_logits: (0..layers)
                .map(|l| cat(&|p| p.gate_logits[l].clone()))
                .collect::<Result<_>>()?,
        })
    }
}

impl FitStep<'_> {
    /// One step on the memory rows of `chunk`. The loss is a mean over rows and each row's forward pass does not
    /// depend on what it is padded with, so the rows run in sub-batches of similar length (gate noise drawn for
    /// the whole chunk first): the step is the padded batch's step at a fraction of its cost.
    pub fn run(&self, chunk: &[usize], mut rng: StdRng, optimizer: &mut AdamW) -> Result<f64> {
        let memory = self.memory;
        let layers = self.routed.backbone.encoder.num_layers();
        let noise = GateNoise::draw(
            &mut rng,
            layers,
            (chunk.len(), self.network.num_tasks),
            self.routed.backbone.device(),
        )?;
        let lengths: Vec<usize> = chunk.iter().map(|&i| memory.ids[i].len()).collect();
        let passes = length_groups(&lengths, PASS_OVERHEAD_TOKENS)
            .into_iter()
            .map(|positions| self.forward(chunk, &positions, &noise))
            .collect::<Result<Vec<_>>>()?;
        let mut loss = self.loss(&RoutedPass::concat(passes)?)?;
        if let Some(replay) = &self.replay {
            // A mean over every row of the step, memory and replayed alike.
            let (kept, drawn) = (chunk.len() as f64, replay.tasks.len() as f64);
            let replayed = self.replay_loss(replay, &mut rng)?;
            loss = ((loss * kept)? + (replayed * drawn)?)?.affine(1.0 / (kept + drawn), 0.0)?;
        }
        optimizer.backward_step(&loss)?;
        Ok(loss.to_scalar::<f32>()? as f64)
    }

    /// The routed forward pass of the rows at `positions` of `chunk`.
    fn forward(
        &self,
        chunk: &[usize],
        positions: &[usize],
        noise: &GateNoise,
    ) -> Result<RoutedPass> {
        let (memory, network) = (self.memory, self.network);
        let device = self.routed.backbone.device();
        let rows: Vec<usize> = positions.iter().map(|&p| chunk[p]).collect();
        let index = Tensor::new(rows.iter().map(|&i| i as u32).collect::<Vec<_>>(), device)?;
        let at = Tensor::new(
            positions.iter().map(|&p| p as u32).collect::<Vec<_>>(),
            device,
        )?;
        let ids: Vec<&[u32]> = rows.iter().map(|&i| memory.ids[i].as_slice()).collect();
        let batch = self.routed.backbone.tokenizer.pad(&ids)?;
        let weights = RouterWeights::new(
            network,
            memory
                .features(network.config.input.representation())
                .index_select(&index, 0)?,
            Some(noise.rows(&at)?),
        )
        .keeping(rows.iter().map(|&i| memory.tasks[i]).collect());
        let head_logits = self.routed.head_logits(&batch, &weights)?;
        let mean_weights = weights.mean_weights()?;
        let gate_logits = weights.logits.borrow().clone();
        Ok(RoutedPass {
            rows,
            head_logits,
            mean_weights,
            gate_logits,
        })
    }

    /// −log of the routers' layer-averaged weight on each replayed row's task: the part of the joint objective that
    /// needs no module (a drawn feature has no text to run them on).
    fn replay_loss(&self, replay: &ReplayRows, noise: &mut StdRng) -> Result<Tensor> {
        let device = self.routed.backbone.device();
        let layers = self.routed.backbone.encoder.num_layers();
        let rows = replay.tasks.len();
        let noise = GateNoise::draw(noise, layers, (rows, self.network.num_tasks), device)?;
        let weights = RouterWeights::new(self.network, replay.features.clone(), Some(noise))
            .keeping(replay.tasks.clone());
        // Routers on frozen features never read the hidden states (config validation refuses layer_cls).
        let unread = Tensor::zeros((rows, 1, 1), DType::F32, device)?;
        for layer in 0..layers {
            weights.weights(layer, &unread)?;
        }
        let log_w = weights.mean_weights()?.clamp(1e-12, 1.0)?.log()?;
        let targets = Tensor::new(
            replay.tasks.iter().map(|&t| t as u32).collect::<Vec<_>>(),
            device,
        )?;
        Ok(candle_nn::loss::nll(&log_w, &targets)?)
    }

    /// The objective's loss on `pass`, plus the task-id loss when configured.
    fn loss(&self, pass: &RoutedPass) -> Result<Tensor> {
        let (memory, network) = (self.memory, self.network);
        let device = self.routed.backbone.device();
        let index = Tensor::new(
            pass.rows.iter().map(|&i| i as u32).collect::<Vec<_>>(),
            device,
        )?;
        let targets: Vec<u32> = pass
            .rows
            .iter()
            .map(|&i| (self.offsets[memory.tasks[i]] + memory.labels[i]) as u32)
            .collect();
        let targets = Tensor::new(targets, device)?;
        let scores = match self.class_scores {
            Some(all) => Some(all.rows(&index)?),
            None => None,
        };
        let parts = &pass.head_logits;
        let mut loss = match network.config.objective {
            RouterObjective::Concat => candle_nn::loss::cross_entropy(
                &network.combine_heads(parts, scores.as_ref())?,
                &targets,
            )?,
            RouterObjective::Joint => candle_nn::loss::nll(
                &network.joint_log_probs(parts, &pass.mean_weights, scores.as_ref())?,
                &targets,
            )?,
        };
        if network.config.task_id_loss > 0.0 {
            let tasks: Vec<u32> = pass.rows.iter().map(|&i| memory.tasks[i] as u32).collect();
            let one_hot = candle_nn::encoding::one_hot(
                Tensor::new(tasks, device)?,
                network.num_tasks,
                1f32,
                0f32,
            )?;
            let mut bce = Tensor::zeros((), DType::F32, device)?;
            for z in &pass.gate_logits {
                bce = (bce + binary_cross_entropy_with_logits(z, &one_hot)?)?;
            }
            loss = (loss + (bce / pass.gate_logits.len() as f64)? * network.config.task_id_loss)?;
        }
        Ok(loss)
    }
}

/// mean(softplus(z) − y·z), with softplus(z) = relu(z) + log(1 + exp(−|z|)) for stability.
fn binary_cross_entropy_with_logits(z: &Tensor, y: &Tensor) -> candle_core::Result<Tensor> {
    let softplus = (z.relu()? + (z.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
    (softplus - (y * z)?)?.mean_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backbone::tiny::tiny_backbone;
    use candle_core::Device;

    #[test]
    fn sub_batches_give_the_padded_batchs_loss_and_gradients() -> Result<()> {
        let backbone = tiny_backbone(11)?;
        let tasks = crate::testing::RandomTasks::new(&backbone, 3)?;
        let head_refs = tasks.head_refs();
        let routed = tasks.routed(&backbone, &head_refs);
        let texts = [
            "dog",
            "the movie was good and the food was bad and the cat ran far away from the red dog",
            "a cat",
            "the food is awful",
            "a movie is fine and the dog eats the red food",
            "cat",
        ];
        let memory = EmbeddedExamples::new(
            &backbone,
            &texts,
            vec![0, 1, 2, 0, 1, 2],
            vec![0, 1, 1, 0, 1, 0],
        )?;
        let router = RouterConfig {
            top_k: Some(1),
            task_id_loss: 0.5,
            ..RouterConfig::default()
        };
        let layers = backbone.encoder.num_layers();
        let prior = SimilarityPrior::from_memory(&memory, 3, &router)?;
        let input_dim = router.input_dim(layers, backbone.encoder.hidden_size());
        let network = RouterNetwork::new(&router, layers, input_dim, prior)?;
        let offsets = routed.label_offsets();
        let step = FitStep {
            routed: &routed,
            memory: &memory,
            network: &network,
            offsets: &offsets,
            class_scores: None,
            replay: None,
        };
        let chunk = [4, 1, 0, 5, 2, 3];
        let noise = GateNoise::draw(&mut StdRng::seed_from_u64(3), layers, (6, 3), &Device::Cpu)?;
        let whole = step.loss(&step.forward(&chunk, &[0, 1, 2, 3, 4, 5], &noise)?)?;
        let lengths: Vec<usize> = chunk.iter().map(|&i| memory.ids[i].len()).collect();
        let groups = length_groups(&lengths, 0);
        assert!(groups.len() > 2, "{groups:?}");
        let passes = groups
            .iter()
            .map(|positions| step.forward(&chunk, positions, &noise))
            .collect::<Result<Vec<_>>>()?;
        let split = step.loss(&RoutedPass::concat(passes)?)?;
        let (a, b) = (whole.to_scalar::<f32>()?, split.to_scalar::<f32>()?);
        assert!((a - b).abs() < 1e-5, "loss {a} whole, {b} in sub-batches");
        let (whole_grads, split_grads) = (whole.backward()?, split.backward()?);
        let vars = network.varmap().all_vars();
        assert!(!vars.is_empty());
        for var in vars {
            let (g, h) = (
                whole_grads.get(var.as_tensor()),
                split_grads.get(var.as_tensor()),
            );
            match (g, h) {
                (Some(g), Some(h)) => {
                    let diff = crate::testing::max_diff(g, h)?;
                    assert!(diff < 1e-5, "gradients differ by {diff}");
                }
                (None, None) => {}
                _ => panic!("a gradient reaches a router only one way"),
            }
        }
        Ok(())
    }
}
