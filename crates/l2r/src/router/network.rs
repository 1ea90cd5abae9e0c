//! The routers' parameters: for router l, gate logits `z_l = W_l q_l + b_l (+ similarity prior)` over T modules.

use super::config::{RouterConfig, RouterObjective, RouterScope};
use super::prior::SimilarityPrior;
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor, D};
use candle_nn::{AdamW, Init, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use std::path::Path;

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
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
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
        let calibration = match config.calibrate_heads {
            true => Some((
                vb.get_with_hints(num_tasks, "calibration.scale", Init::Const(1.0))?,
                vb.get_with_hints(num_tasks, "calibration.bias", Init::Const(0.0))?,
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
        })
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

    /// Each head's logits, scaled and shifted by its calibration when that is on.
    fn calibrated(&self, parts: &[Tensor]) -> Result<Vec<Tensor>> {
        let Some((scale, bias)) = &self.calibration else {
            return Ok(parts.to_vec());
        };
        let calibrated = parts
            .iter()
            .enumerate()
            .map(|(t, logits)| {
                logits
                    .broadcast_mul(&scale.narrow(0, t, 1)?)?
                    .broadcast_add(&bias.narrow(0, t, 1)?)
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(calibrated)
    }

    /// The heads' (calibrated) logits concatenated: the label space of the `concat` CIL rule.
    pub fn combine_heads(&self, parts: &[Tensor]) -> Result<Tensor> {
        Ok(Tensor::cat(&self.calibrated(parts)?, D::Minus1)?)
    }

    /// `log w_t + log softmax(head_t)` for every head t, concatenated: the log joint probability of (task, class)
    /// when the routers' layer-averaged module weights `weights` (batch, T) are read as the task posterior.
    pub fn joint_log_probs(&self, parts: &[Tensor], weights: &Tensor) -> Result<Tensor> {
        let log_w = weights.clamp(1e-12, 1.0)?.log()?;
        let joint = self
            .calibrated(parts)?
            .iter()
            .enumerate()
            .map(|(t, head)| {
                candle_nn::ops::log_softmax(head, D::Minus1)?.broadcast_add(&log_w.narrow(1, t, 1)?)
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Tensor::cat(&joint, D::Minus1)?)
    }

    /// CIL scores (batch, Σ labels) under the configured rule; argmax gives the prediction.
    pub fn cil_scores(&self, parts: &[Tensor], weights: &Tensor) -> Result<Tensor> {
        match self.config.objective {
            RouterObjective::Concat => self.combine_heads(parts),
            RouterObjective::Joint => self.joint_log_probs(parts, weights),
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
        let copy = Self::new(
            &self.config,
            self.weights.len(),
            input_dim,
            self.prior.clone(),
        )?;
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
            tensors.push(("prior.precision".into(), gaussian.precision().clone()));
        }
        crate::io::write_safetensors(path, tensors)
    }

    /// Loads routers saved by [`RouterNetwork::save`] for an encoder of `num_layers` layers of width `hidden`.
    pub fn load(
        path: &Path,
        config: &RouterConfig,
        num_layers: usize,
        hidden: usize,
    ) -> Result<Self> {
        let input_dim = config.input_dim(num_layers, hidden);
        let tensors = crate::io::read_safetensors(path, "router weights")?;
        let get_any = |name: &str| tensors.get(name).and_then(|t| t.to_dtype(DType::F32).ok());
        let bad = |message: String| Error::Weights {
            path: path.to_owned(),
            message,
        };
        let prior = match (
            get_any("prior.references"),
            get_any("prior.membership"),
            get_any("prior.precision"),
        ) {
            (Some(references), Some(membership), Some(precision)) => {
                SimilarityPrior::gaussian_from_parts(references, membership, precision)?
            }
            (Some(references), Some(membership), None) => SimilarityPrior {
                references,
                membership,
                gaussian: None,
            },
            // Routers saved before the prior had a choice of references kept only the task centroids.
            _ => {
                let centroids = get_any("centroids")
                    .ok_or_else(|| bad("no 'prior.references' tensor".into()))?;
                let tasks = centroids.dim(0)?;
                SimilarityPrior {
                    references: centroids,
                    membership: Tensor::eye(tasks, DType::F32, &Device::Cpu)?,
                    gaussian: None,
                }
            }
        };
        let network = Self::new(config, num_layers, input_dim, prior)?;
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
