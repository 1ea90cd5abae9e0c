//! A task's classifier head: a linear map from the mean-pooled sentence representation to the task's labels.

use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::{Init, VarBuilder, VarMap};
use std::path::Path;

pub struct ClassifierHead {
    varmap: VarMap,
    weight: Tensor,
    bias: Tensor,
}

impl ClassifierHead {
    /// A head with weights uniform in ±1/sqrt(hidden), drawn from `seed`, and zero bias.
    pub fn new(hidden: usize, num_labels: usize, seed: u64) -> Result<Self> {
        Self::new_on(hidden, num_labels, seed, &Device::Cpu)
    }

    /// The same on `device` (the backbone's).
    pub fn new_on(hidden: usize, num_labels: usize, seed: u64, device: &Device) -> Result<Self> {
        if num_labels < 2 {
            return Err(Error::invalid(format!(
                "a task needs at least 2 labels, got {num_labels}"
            )));
        }
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let weight = vb.get_with_hints((num_labels, hidden), "weight", Init::Const(0.0))?;
        let bias = vb.get_with_hints(num_labels, "bias", Init::Const(0.0))?;
        let bound = 1.0 / (hidden as f64).sqrt();
        crate::init::randomize_vars(&varmap, seed, |name, _| (name == "weight").then_some(bound))?;
        Ok(ClassifierHead {
            varmap,
            weight,
            bias,
        })
    }

    pub fn load(path: &Path, hidden: usize, num_labels: usize) -> Result<Self> {
        Self::load_on(path, hidden, num_labels, &Device::Cpu)
    }

    /// The same onto `device`.
    pub fn load_on(path: &Path, hidden: usize, num_labels: usize, device: &Device) -> Result<Self> {
        let head = Self::new_on(hidden, num_labels, 0, device)?;
        crate::io::load_varmap(
            &head.varmap,
            path,
            "head weights",
            &format!("does not hold a head for {num_labels} labels over {hidden} features"),
        )?;
        Ok(head)
    }

    pub fn num_labels(&self) -> usize {
        self.bias.dim(0).unwrap_or(0)
    }

    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// Logits (batch, labels) from pooled features (batch, hidden).
    pub fn forward(&self, pooled: &Tensor) -> candle_core::Result<Tensor> {
        pooled.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::save_varmap(&self.varmap, path)
    }
}
