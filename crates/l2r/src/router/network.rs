//! The routers' parameters: for router l, gate logits `z_l = W_l q_l + b_l (+ similarity prior)` over T modules.

use super::class_scores::ClassScores;
use super::config::{CalibrateOn, PriorReference, RouterConfig, RouterObjective, RouterScope};
use super::prior::SimilarityPrior;
use super::standardise::InputStandardisation;
use super::within_task::WithinTask;
use crate::backbone::Backbone;
use crate::error::{Error, Result};
use crate::statistics::{pack_upper, unpack_upper, RidgeClassifier};
use candle_core::{DType, Device, Tensor, D};
use candle_nn::{AdamW, Init, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use std::path::Path;

/// κ starts at 5: ridge scores of a one-hot regression differ by about 0.5–1 between the right class and the others,
/// so κ = 5 makes them worth a few logits, as the heads' are (a scale argument; no measurement chose it).
const RIDGE_LOG_SCALE_INIT: f64 = 1.609_437_912_434_100_3;

pub struct RouterNetwork {
    pub config: RouterConfig,
    pub num_tasks: usize,
    varmap: VarMap,
    weights: Vec<Tensor>,
    biases: Vec<Tensor>,
    prior_scale: Tensor,
    /// Per-head (scale, bias) when `calibrate_heads` is on.
    calibration: Option<(Tensor, Tensor)>,
    /// Similarity of an input to each task's memory, added to the gate logits when `similarity_prior` is on.
    prior: SimilarityPrior,
    /// log κ (the weight of the ridge's class scores in every head's logits) and log γ (the weight of the ridge's
    /// task posterior in the joint rule), when `ridge_heads` is on.
    ridge_scale: Option<(Tensor, Tensor)>,
    /// The ridge classifier whose scores are added (set after construction: fitted from the tasks' statistics,
    /// or loaded with the routers).
    ridge: Option<RidgeClassifier>,
    /// Every task's within-task weights, when they were fitted on validation splits (`calibrate_on = "validation"`
    /// or `"pooled_validation"`; set after construction, by the fit or with the routers' file).
    within_task: Option<WithinTask>,
    /// How `layer_cls` inputs are centred and scaled (set by the fit, or loaded with the routers; routers saved
    /// before it existed read raw [CLS] states).
    standardisation: Option<InputStandardisation>,
}

impl RouterNetwork {
    /// Routers for the prior's tasks over inputs of width `input_dim`, zero-initialised (uniform gates).
    pub fn new(
        config: &RouterConfig,
        num_layers: usize,
        input_dim: usize,
        prior: SimilarityPrior,
    ) -> Result<Self> {
        config.validate()?;
        let num_tasks = prior.num_tasks()?;
        let varmap = VarMap::new();
        // On the device of what the prior compares with: the memory's features, the backbone's device.
        let device = prior.references.device().clone();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let routers = match config.scope {
            RouterScope::PerLayer => num_layers,
            RouterScope::Single => 1,
        };
        let mut weights = Vec::with_capacity(routers);
        let mut biases = Vec::with_capacity(routers);
        for r in 0..routers {
            weights.push(vb.get_with_hints(
                (num_tasks, input_dim),
                &format!("router.{r}.weight"),
                Init::Const(0.0),
            )?);
            biases.push(vb.get_with_hints(
                num_tasks,
                &format!("router.{r}.bias"),
                Init::Const(0.0),
            )?);
        }
        let prior_scale = vb.get_with_hints(1, "prior.scale", Init::Const(1.0))?;
        let calibrated_on_memory = config.calibrates_on() == CalibrateOn::Memory;
        let calibration = match config.calibrate_heads && calibrated_on_memory {
            true => Some((
                vb.get_with_hints(num_tasks, "calibration.scale", Init::Const(1.0))?,
                vb.get_with_hints(num_tasks, "calibration.bias", Init::Const(0.0))?,
            )),
            false => None,
        };
        let ridge_scale = match config.uses_ridge_heads() {
            true => Some((
                vb.get_with_hints(1, "ridge.log_scale", Init::Const(RIDGE_LOG_SCALE_INIT))?,
                vb.get_with_hints(1, "ridge.log_task_weight", Init::Const(0.0))?,
            )),
            false => None,
        };
        Ok(RouterNetwork {
            config: config.clone(),
            num_tasks,
            varmap,
            weights,
            biases,
            prior_scale,
            calibration,
            prior,
            ridge_scale,
            ridge: None,
            within_task: None,
            standardisation: None,
        })
    }

    /// Replaces the prior (a fit scores the memory with a held-out prior, then keeps the full one), over the same
    /// tasks.
    pub fn set_prior(&mut self, prior: SimilarityPrior) -> Result<()> {
        if prior.num_tasks()? != self.num_tasks {
            return Err(Error::invalid(format!(
                "a prior over {} tasks cannot replace one over {}",
                prior.num_tasks()?,
                self.num_tasks
            )));
        }
        self.prior = prior;
        Ok(())
    }

    /// Sets the ridge classifier whose scores `ridge_heads` adds to the heads.
    pub fn set_ridge(&mut self, ridge: RidgeClassifier) {
        self.ridge = Some(ridge);
    }

    /// Sets the within-task weights fitted on the tasks' validation splits.
    pub fn set_within_task(&mut self, within_task: WithinTask) {
        self.within_task = Some(within_task);
    }

    /// Sets how `layer_cls` inputs are standardised.
    pub fn set_standardisation(&mut self, standardisation: InputStandardisation) {
        self.standardisation = Some(standardisation);
    }

    /// The router input of the [CLS] states `cls` (batch, d) entering `layer`: standardised when the routers have
    /// a standardisation (router/standardise.rs says why).
    pub fn layer_input(&self, layer: usize, cls: Tensor) -> Result<Tensor> {
        match &self.standardisation {
            Some(standardisation) => standardisation.apply(layer, &cls),
            None => Ok(cls),
        }
    }

    /// The ridge scores the heads and the joint rule read, for inputs whose routers' representation is `frozen`,
    /// when `ridge_heads` is on: the shared ridge's class scores and, when the within-task weights were fitted on
    /// validation splits, the tasks' own ridges' scores.
    pub fn class_scores(&self, frozen: &Tensor) -> Result<Option<ClassScores>> {
        let shared = match (&self.ridge_scale, &self.ridge) {
            (None, _) => return Ok(None),
            (Some(_), Some(ridge)) => ridge.scores(frozen)?,
            (Some(_), None) => {
                return Err(Error::invalid(
                    "ridge_heads is on but the routers have no ridge classifier",
                ))
            }
        };
        let own = match &self.within_task {
            Some(within_task) => within_task.own_scores(frozen)?,
            None => None,
        };
        Ok(Some(ClassScores { shared, own }))
    }

    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    pub fn num_routers(&self) -> usize {
        self.weights.len()
    }

    /// Which router serves `layer`.
    pub fn router_for_layer(&self, layer: usize) -> usize {
        layer.min(self.weights.len() - 1)
    }

    /// Gate logits (batch, T) of router `router` for inputs `q` (batch, d_in); `frozen` (batch, d) is the unit-norm
    /// frozen embedding the similarity prior compares with each task's memory.
    pub fn logits(&self, router: usize, q: &Tensor, frozen: &Tensor) -> Result<Tensor> {
        let z = q
            .matmul(&self.weights[router].t()?)?
            .broadcast_add(&self.biases[router])?;
        if !self.config.similarity_prior {
            return Ok(z);
        }
        let prior = self
            .prior
            .scores(frozen, self.config.prior_temperature)?
            .broadcast_mul(&self.prior_scale)?;
        Ok((z + prior)?)
    }

    /// Each head's logits, scaled and shifted by its calibration when that is on, plus κ times the shared ridge's
    /// scores of its classes when `class_scores` are given; with within-task weights fitted on validation splits,
    /// a_t times the logits plus κ_t times its own ridge's scores instead.
    fn calibrated(
        &self,
        parts: &[Tensor],
        class_scores: Option<&ClassScores>,
    ) -> Result<Vec<Tensor>> {
        if let Some(within_task) = &self.within_task {
            let own = class_scores.and_then(|scores| scores.own.as_ref());
            return within_task.apply(parts, own);
        }
        let mut heads = match &self.calibration {
            None => parts.to_vec(),
            Some((scale, bias)) => parts
                .iter()
                .enumerate()
                .map(|(t, logits)| {
                    logits
                        .broadcast_mul(&scale.narrow(0, t, 1)?)?
                        .broadcast_add(&bias.narrow(0, t, 1)?)
                })
                .collect::<candle_core::Result<Vec<_>>>()?,
        };
        if let (Some((log_scale, _)), Some(scores)) = (&self.ridge_scale, class_scores) {
            let boosted = scores.shared.broadcast_mul(&log_scale.exp()?)?;
            let mut start = 0;
            for head in heads.iter_mut() {
                let width = head.dim(D::Minus1)?;
                *head = (&*head + boosted.narrow(1, start, width)?)?;
                start += width;
            }
        }
        Ok(heads)
    }

    /// The heads' (calibrated) logits concatenated: the label space of the `concat` CIL rule.
    pub fn combine_heads(
        &self,
        parts: &[Tensor],
        class_scores: Option<&ClassScores>,
    ) -> Result<Tensor> {
        Ok(Tensor::cat(
            &self.calibrated(parts, class_scores)?,
            D::Minus1,
        )?)
    }

    /// `log w_t + log softmax(head_t)` for every head t, concatenated: the log joint probability of (task, class)
    /// when the routers' layer-averaged module weights `weights` (batch, T) are read as the task posterior.
    pub fn joint_log_probs(
        &self,
        parts: &[Tensor],
        weights: &Tensor,
        class_scores: Option<&ClassScores>,
    ) -> Result<Tensor> {
        let mut log_w = weights.clamp(1e-12, 1.0)?.log()?;
        if let (Some((log_scale, log_weight)), Some(scores)) = (&self.ridge_scale, class_scores) {
            // The routers' task posterior times the ridge's, p_ridge(t) = Σ_{c ∈ t} softmax(κ r)_c, to the power γ:
            // the heads' softmax is within a task, so this is where the ridge's evidence on *which* task counts.
            let task_posterior = self.ridge_task_log_posterior(parts, &scores.shared, log_scale)?;
            log_w = (log_w + task_posterior.broadcast_mul(&log_weight.exp()?)?)?;
        }
        let joint = self
            .calibrated(parts, class_scores)?
            .iter()
            .enumerate()
            .map(|(t, head)| {
                candle_nn::ops::log_softmax(head, D::Minus1)?.broadcast_add(&log_w.narrow(1, t, 1)?)
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Tensor::cat(&joint, D::Minus1)?)
    }

    /// (batch, T): log Σ_{c ∈ t} softmax(κ r)_c, the ridge's task posterior, tasks' classes as `parts` lay them out.
    fn ridge_task_log_posterior(
        &self,
        parts: &[Tensor],
        scores: &Tensor,
        log_scale: &Tensor,
    ) -> Result<Tensor> {
        let log_probs =
            candle_nn::ops::log_softmax(&scores.broadcast_mul(&log_scale.exp()?)?, D::Minus1)?;
        let mut columns = Vec::with_capacity(parts.len());
        let mut start = 0;
        for head in parts {
            let width = head.dim(D::Minus1)?;
            let task = log_probs.narrow(1, start, width)?;
            let best = task.max_keepdim(1)?.detach();
            let sum = task.broadcast_sub(&best)?.exp()?.sum_keepdim(1)?;
            columns.push((sum.log()? + best)?);
            start += width;
        }
        Ok(Tensor::cat(&columns, 1)?)
    }

    /// CIL scores (batch, Σ labels) under the configured rule; argmax gives the prediction.
    pub fn cil_scores(
        &self,
        parts: &[Tensor],
        weights: &Tensor,
        class_scores: Option<&ClassScores>,
    ) -> Result<Tensor> {
        match self.config.objective {
            RouterObjective::Concat => self.combine_heads(parts, class_scores),
            RouterObjective::Joint => self.joint_log_probs(parts, weights, class_scores),
        }
    }

    /// AdamW over every router parameter (fitting and local adaptation use the same optimiser).
    pub fn optimizer(&self, learning_rate: f64) -> Result<AdamW> {
        Ok(AdamW::new(
            self.varmap.all_vars(),
            ParamsAdamW {
                lr: learning_rate,
                weight_decay: 0.0,
                ..Default::default()
            },
        )?)
    }

    /// An independent copy with the same parameters (for local adaptation, which must not touch the original).
    pub fn try_clone(&self) -> Result<Self> {
        let input_dim = self.weights[0].dim(1)?;
        let mut copy = Self::new(
            &self.config,
            self.weights.len(),
            input_dim,
            self.prior.clone(),
        )?;
        copy.ridge = self.ridge.clone();
        copy.within_task = self.within_task.clone();
        copy.standardisation = self.standardisation.clone();
        let source = self.varmap.data().lock().map_err(|_| poisoned())?;
        let target = copy.varmap.data().lock().map_err(|_| poisoned())?;
        for (name, var) in target.iter() {
            let value = source
                .get(name)
                .ok_or_else(|| Error::invalid(format!("router parameter {name} has no source")))?;
            var.set(value.as_tensor())?;
        }
        drop(target);
        Ok(copy)
    }

    /// Every parameter's current value, by name (to hold some of them fixed while the others are fitted).
    pub fn snapshot(&self) -> Result<Vec<(String, Tensor)>> {
        let data = self.varmap.data().lock().map_err(|_| poisoned())?;
        Ok(data
            .iter()
            .map(|(name, var)| Ok((name.clone(), var.as_tensor().copy()?)))
            .collect::<candle_core::Result<Vec<_>>>()?)
    }

    /// Puts back the `snapshot` values of everything but the per-task rows of the tasks where `free[t]`: the
    /// shared parameters (the prior's scale) and the rows of every other task.
    pub fn hold(&self, snapshot: &[(String, Tensor)], free: &[bool]) -> Result<()> {
        let data = self.varmap.data().lock().map_err(|_| poisoned())?;
        let mask: Vec<f32> = free.iter().map(|&f| if f { 1.0 } else { 0.0 }).collect();
        let mask = Tensor::new(mask, self.prior.references.device())?;
        for (name, held) in snapshot {
            let Some(var) = data.get(name) else { continue };
            let per_task = var.dims().first() == Some(&self.num_tasks) && var.dims() != [1];
            if !per_task {
                var.set(held)?;
                continue;
            }
            let mut shape = vec![self.num_tasks];
            shape.resize(var.rank(), 1);
            let m = mask.reshape(shape)?;
            let kept = (var.as_tensor().broadcast_mul(&m)?
                + held.broadcast_mul(&m.affine(-1.0, 1.0)?)?)?;
            var.set(&kept)?;
        }
        Ok(())
    }

    /// Sets every parameter from `previous` where it has one: per-task rows (gate weights and biases, head
    /// calibration) of task i from `previous`'s task `tasks[i]`, shared parameters (the prior's scale) as they are.
    /// Rows of tasks `previous` did not know keep their initial values.
    pub fn warm_start(&self, previous: &RouterNetwork, tasks: &[Option<usize>]) -> Result<()> {
        if tasks.len() != self.num_tasks || self.config.scope != previous.config.scope {
            return Err(Error::invalid(format!(
                "cannot warm-start {} task routers ({:?}) from {} task routers ({:?})",
                self.num_tasks, self.config.scope, previous.num_tasks, previous.config.scope
            )));
        }
        let source = previous.varmap.data().lock().map_err(|_| poisoned())?;
        let target = self.varmap.data().lock().map_err(|_| poisoned())?;
        for (name, var) in target.iter() {
            let Some(old) = source.get(name) else {
                continue;
            };
            let old = old.as_tensor();
            if var.dims().first() != Some(&self.num_tasks) || var.dims() == [1] {
                if old.dims() == var.dims() {
                    var.set(old)?;
                }
                continue;
            }
            let rows = (0..self.num_tasks)
                .map(|i| match tasks[i] {
                    Some(j) if j < previous.num_tasks => old.narrow(0, j, 1),
                    _ => var.as_tensor().narrow(0, i, 1),
                })
                .collect::<candle_core::Result<Vec<_>>>()?;
            let rows = Tensor::cat(&rows, 0)?;
            if rows.dims() == var.dims() {
                var.set(&rows)?;
            }
        }
        Ok(())
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tensors = crate::io::varmap_tensors(&self.varmap)?;
        tensors.push(("prior.references".into(), self.prior.references.clone()));
        tensors.push(("prior.membership".into(), self.prior.membership.clone()));
        if let Some(gaussian) = &self.prior.gaussian {
            // Symmetric: its upper triangle is half the file.
            let packed = pack_upper(gaussian.precision())?;
            tensors.push(("prior.precision_upper".into(), packed));
        }
        if let Some(ridge) = &self.ridge {
            tensors.push(("ridge.weights".into(), ridge.weights().clone()));
        }
        if let Some(standardisation) = &self.standardisation {
            tensors.extend(standardisation.tensors());
        }
        if let Some(within_task) = &self.within_task {
            tensors.extend(within_task.tensors());
        }
        crate::io::write_safetensors(path, tensors)
    }

    /// Loads routers saved by [`RouterNetwork::save`] for `backbone`'s encoder, onto its device.
    pub fn load(path: &Path, config: &RouterConfig, backbone: &Backbone) -> Result<Self> {
        let encoder = &backbone.encoder;
        let shape = (encoder.num_layers(), encoder.hidden_size());
        Self::load_shaped(path, config, shape, backbone.device())
    }

    /// Loads routers saved by [`RouterNetwork::save`] for an encoder of `num_layers` layers of width `hidden`,
    /// onto `device`.
    pub fn load_shaped(
        path: &Path,
        config: &RouterConfig,
        (num_layers, hidden): (usize, usize),
        device: &Device,
    ) -> Result<Self> {
        let input_dim = config.input_dim(num_layers, hidden);
        let tensors = crate::io::read_safetensors(path, "router weights")?
            .into_iter()
            .map(|(name, tensor)| Ok((name, tensor.to_device(device)?)))
            .collect::<Result<std::collections::HashMap<_, _>>>()?;
        let get_any = |name: &str| tensors.get(name).and_then(|t| t.to_dtype(DType::F32).ok());
        let bad = |message: String| Error::Weights {
            path: path.to_owned(),
            message,
        };
        // Routers saved before the precision was packed kept all of it.
        let precision = match (
            get_any("prior.precision_upper"),
            get_any("prior.references"),
        ) {
            (Some(packed), Some(references)) => Some(unpack_upper(&packed, references.dim(1)?)?),
            _ => get_any("prior.precision"),
        };
        let prior = match (
            get_any("prior.references"),
            get_any("prior.membership"),
            precision,
        ) {
            (Some(references), Some(membership), Some(precision)) => {
                SimilarityPrior::gaussian_from_parts(references, membership, precision)?
            }
            (Some(references), Some(membership), None)
                if config.prior_reference == PriorReference::Ridge =>
            {
                let parts = (input_dim, config.input.representation());
                SimilarityPrior::ridge_from_parts(references, membership, parts)?
            }
            (Some(references), Some(membership), None) => SimilarityPrior {
                references,
                membership,
                gaussian: None,
                ridge: None,
            },
            // Routers saved before the prior had a choice of references kept only the task centroids.
            _ => {
                let centroids = get_any("centroids")
                    .ok_or_else(|| bad("no 'prior.references' tensor".into()))?;
                let tasks = centroids.dim(0)?;
                SimilarityPrior {
                    references: centroids,
                    membership: Tensor::eye(tasks, DType::F32, device)?,
                    gaussian: None,
                    ridge: None,
                }
            }
        };
        // A router file says itself where its heads' within-task weights were fitted: one written before
        // `calibrate_on` existed, or fitted under `memory`, loads as `memory` whatever the config says now (pooled
        // weights are kept per task, so a pooled fit loads as a per-task one, to the same scores).
        let config = &RouterConfig {
            calibrate_on: Some(match WithinTask::is_in(&tensors) {
                true => CalibrateOn::Validation,
                false => CalibrateOn::Memory,
            }),
            ..config.clone()
        };
        let mut network = Self::new(config, num_layers, input_dim, prior)?;
        if config.uses_ridge_heads() {
            let weights = get_any("ridge.weights").ok_or_else(|| {
                bad("ridge_heads is on but there is no 'ridge.weights' tensor".into())
            })?;
            network.set_ridge(RidgeClassifier::from_weights(
                weights,
                input_dim,
                config.input.representation(),
            )?);
        }
        network.standardisation = InputStandardisation::from_tensors(&tensors, num_layers);
        if config.calibrates_on() == CalibrateOn::Validation {
            let own_ridge = config
                .uses_ridge_heads()
                .then_some((input_dim, config.input.representation()));
            network.within_task = Some(
                WithinTask::from_tensors(&tensors, network.num_tasks, own_ridge)
                    .map_err(|error| bad(error.to_string()))?,
            );
        }
        crate::io::set_vars(
            &network.varmap,
            &tensors,
            path,
            "does not match this router configuration",
        )?;
        Ok(network)
    }
}

fn poisoned() -> Error {
    Error::invalid("a router's parameters were poisoned by an earlier panic")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::Representation;
    use crate::statistics::{ClassStatistics, RandomProjection, RidgeStatistics, SharedGaussian};
    use std::sync::Arc;

    /// Two tasks of two classes in 3 dimensions, apart along the first axis.
    fn features() -> (Tensor, Vec<usize>, Tensor, Vec<usize>) {
        let a = Tensor::new(
            &[
                [1f32, 0.1, 0.0],
                [1.0, 0.0, 0.1],
                [0.9, 0.9, 0.0],
                [1.0, 1.0, 0.1],
            ],
            &Device::Cpu,
        )
        .unwrap();
        let b = (&a * -1.0).unwrap();
        (a, vec![0, 0, 1, 1], b, vec![0, 0, 1, 1])
    }

    /// The shared Gaussian and the ridge sums of `features`' two tasks, and the ridge's projection.
    fn two_tasks_statistics() -> (Arc<SharedGaussian>, RandomProjection, [RidgeStatistics; 2]) {
        let (a, la, b, lb) = features();
        let classes = [
            ClassStatistics::fit(&a, &la, 2).unwrap(),
            ClassStatistics::fit(&b, &lb, 2).unwrap(),
        ];
        let gaussian = Arc::new(SharedGaussian::new(&[&classes[0], &classes[1]]).unwrap());
        let projection = RandomProjection::new(3, 8).unwrap();
        let ridges = [
            RidgeStatistics::fit(&projection, (&a, &la), (&a, &la), 2).unwrap(),
            RidgeStatistics::fit(&projection, (&b, &lb), (&b, &lb), 2).unwrap(),
        ];
        (gaussian, projection, ridges)
    }

    /// The ridge classifier of both tasks' statistics, over their 4 classes.
    fn two_tasks_ridge() -> RidgeClassifier {
        let (_, projection, ridges) = two_tasks_statistics();
        let ridges = [&ridges[0], &ridges[1]];
        RidgeClassifier::new(&ridges, projection, Representation::FinalLayer).unwrap()
    }

    #[test]
    fn the_gaussian_prior_and_the_ridge_survive_a_save_and_load() {
        let (a, _, b, _) = features();
        let (gaussian, ridge) = (two_tasks_statistics().0, two_tasks_ridge());
        let config = RouterConfig {
            input: super::super::config::RouterInput::MeanPooled,
            prior_reference: super::super::config::PriorReference::Gaussian,
            ridge_heads: Some(true),
            ..RouterConfig::default()
        };
        let mut network = RouterNetwork::new(
            &config,
            2,
            3,
            SimilarityPrior::from_gaussian(gaussian).unwrap(),
        )
        .unwrap();
        assert!(network.class_scores(&a).is_err(), "no ridge set yet");
        network.set_ridge(ridge);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("router.safetensors");
        network.save(&path).unwrap();
        let loaded = RouterNetwork::load_shaped(&path, &config, (2, 3), &Device::Cpu).unwrap();
        let x = Tensor::cat(&[&a, &b], 0).unwrap();
        let same = |one: Tensor, two: Tensor| {
            let diff = (one - two).unwrap().abs().unwrap().max_all().unwrap();
            diff.to_scalar::<f32>().unwrap() < 1e-5
        };
        assert!(same(
            network.logits(0, &x, &x).unwrap(),
            loaded.logits(0, &x, &x).unwrap()
        ));
        let scores = loaded.class_scores(&x).unwrap().unwrap().shared;
        assert!(same(
            network.class_scores(&x).unwrap().unwrap().shared,
            scores.clone()
        ));
        // The prior favours each example's own task; the ridge, its own class.
        let prior = loaded.logits(0, &x, &x).unwrap().argmax(1).unwrap();
        assert_eq!(
            prior.to_vec1::<u32>().unwrap(),
            vec![0, 0, 0, 0, 1, 1, 1, 1]
        );
        let best = scores.argmax(1).unwrap().to_vec1::<u32>().unwrap();
        assert_eq!(best, vec![0, 0, 1, 1, 2, 2, 3, 3]);
    }

    #[test]
    fn the_ridge_prior_names_each_examples_task_and_survives_a_save_and_load() {
        use super::super::config::{PriorReference, RouterInput};
        let (a, _, b, _) = features();
        let ridge = two_tasks_ridge();
        let config = RouterConfig {
            input: RouterInput::MeanPooled,
            prior_reference: PriorReference::Ridge,
            ..RouterConfig::default()
        };
        assert!(SimilarityPrior::from_ridge(ridge.clone(), &[2, 1]).is_err());
        let prior = SimilarityPrior::from_ridge(ridge, &[2, 2]).unwrap();
        let network = RouterNetwork::new(&config, 2, 3, prior).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("router.safetensors");
        network.save(&path).unwrap();
        let loaded = RouterNetwork::load_shaped(&path, &config, (2, 3), &Device::Cpu).unwrap();
        let x = Tensor::cat(&[&a, &b], 0).unwrap();
        let (before, after) = (
            network.logits(0, &x, &x).unwrap(),
            loaded.logits(0, &x, &x).unwrap(),
        );
        let diff = (&before - &after)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
        assert_eq!(
            after.argmax(1).unwrap().to_vec1::<u32>().unwrap(),
            vec![0, 0, 0, 0, 1, 1, 1, 1]
        );
    }

    #[test]
    fn a_router_file_says_where_its_within_task_weights_were_fitted() {
        use super::super::config::{CalibrateOn, PriorReference, RouterInput};
        use super::super::within_task::{WithinTaskFit, WithinTaskWeights};
        let (a, _, b, _) = features();
        let (gaussian, projection, ridges) = two_tasks_statistics();
        let ridge = |tasks: &[&RidgeStatistics]| {
            RidgeClassifier::new(tasks, projection.clone(), Representation::FinalLayer).unwrap()
        };
        let config = |calibrate_on| RouterConfig {
            input: RouterInput::MeanPooled,
            prior_reference: PriorReference::Gaussian,
            ridge_heads: Some(true),
            calibrate_on: Some(calibrate_on),
            ..RouterConfig::default()
        };
        let prior = SimilarityPrior::from_gaussian(gaussian).unwrap();
        let x = Tensor::cat(&[&a, &b], 0).unwrap();
        let parts = [x.narrow(1, 0, 2).unwrap(), x.narrow(1, 1, 2).unwrap()];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("router.safetensors");
        let heads = |network: &RouterNetwork| {
            let scores = network.class_scores(&x).unwrap().unwrap();
            let joined = network.combine_heads(&parts, Some(&scores)).unwrap();
            let widths = (
                scores.shared.dim(1).unwrap(),
                scores.own.as_ref().map(|own| own.dim(1).unwrap()),
            );
            (widths, joined.to_vec2::<f32>().unwrap())
        };

        // Fitted on the memory (or before the option existed): loads as such under a config that now says validation.
        let mut memory =
            RouterNetwork::new(&config(CalibrateOn::Memory), 2, 3, prior.clone()).unwrap();
        memory.set_ridge(ridge(&[&ridges[0], &ridges[1]]));
        memory.save(&path).unwrap();
        let loaded = RouterNetwork::load_shaped(
            &path,
            &config(CalibrateOn::Validation),
            (2, 3),
            &Device::Cpu,
        )
        .unwrap();
        assert_eq!(heads(&loaded), heads(&memory));
        assert_eq!(
            heads(&loaded).0,
            (4, None),
            "the shared ridge's scores alone"
        );

        // Fitted on validation: the weights and the tasks' own ridges come back, whatever the config says.
        let mut validation =
            RouterNetwork::new(&config(CalibrateOn::Validation), 2, 3, prior).unwrap();
        validation.set_ridge(ridge(&[&ridges[0], &ridges[1]]));
        let fit = WithinTaskFit {
            weights: vec![
                WithinTaskWeights {
                    head_scale: 2.0,
                    ridge_scale: 0.5,
                },
                WithinTaskWeights {
                    head_scale: 0.5,
                    ridge_scale: 3.0,
                },
            ],
            ridges: Some(vec![ridge(&[&ridges[0]]), ridge(&[&ridges[1]])]),
        };
        validation.set_within_task(fit.kept(&Device::Cpu).unwrap());
        validation.save(&path).unwrap();
        let loaded =
            RouterNetwork::load_shaped(&path, &config(CalibrateOn::Memory), (2, 3), &Device::Cpu)
                .unwrap();
        assert_eq!(heads(&loaded), heads(&validation));
        assert_eq!(
            heads(&loaded).0,
            (4, Some(4)),
            "the shared ridge's scores and the own ridges'"
        );
        assert_ne!(heads(&loaded).1, heads(&memory).1);
    }
}
