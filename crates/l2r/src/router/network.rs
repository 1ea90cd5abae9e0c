//! The routers' parameters: for router l, gate logits `z_l = W_l q_l + b_l (+ similarity prior)` over T modules.

use super::config::{RouterConfig, RouterScope};
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::{Init, VarBuilder, VarMap};
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
    /// (T, d) unit-norm centroids of each task's frozen memory embeddings.
    centroids: Tensor,
}

impl RouterNetwork {
    /// Routers for `num_tasks` modules over inputs of width `input_dim`, zero-initialised (uniform gates).
    pub fn new(
        config: &RouterConfig,
        num_layers: usize,
        input_dim: usize,
        centroids: Tensor,
    ) -> Result<Self> {
        config.validate()?;
        let num_tasks = centroids.dim(0)?;
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
            centroids,
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
    /// frozen embedding the similarity prior compares with the task centroids.
    pub fn logits(&self, router: usize, q: &Tensor, frozen: &Tensor) -> Result<Tensor> {
        let z = q
            .matmul(&self.weights[router].t()?)?
            .broadcast_add(&self.biases[router])?;
        if !self.config.similarity_prior {
            return Ok(z);
        }
        let cosine = frozen.matmul(&self.centroids.t()?)?;
        let prior = cosine
            .broadcast_mul(&self.prior_scale)?
            .affine(1.0 / self.config.prior_temperature, 0.0)?;
        Ok((z + prior)?)
    }

    /// Concatenates the heads' logits, each first scaled and shifted by its calibration when that is on.
    pub fn combine_heads(&self, parts: &[Tensor]) -> Result<Tensor> {
        let Some((scale, bias)) = &self.calibration else {
            return Ok(Tensor::cat(parts, candle_core::D::Minus1)?);
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
        Ok(Tensor::cat(&calibrated, candle_core::D::Minus1)?)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tensors = crate::peft::varmap_tensors(&self.varmap)?;
        tensors.push(("centroids".into(), self.centroids.clone()));
        crate::peft::save_tensors(path, tensors)
    }

    pub fn load(
        path: &Path,
        config: &RouterConfig,
        num_layers: usize,
        input_dim: usize,
    ) -> Result<Self> {
        let weights = crate::backbone::WeightMap::load(path)?;
        let bad = |message: String| Error::Weights {
            path: path.to_owned(),
            message,
        };
        let centroids = weights
            .get_any("centroids")
            .ok_or_else(|| bad("no 'centroids' tensor".into()))?;
        let mut network = Self::new(config, num_layers, input_dim, centroids)?;
        network
            .varmap
            .load(path)
            .map_err(|e| bad(format!("does not match this router configuration: {e}")))?;
        Ok(network)
    }
}
