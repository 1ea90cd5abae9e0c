//! One task's PEFT module: its layers keyed by the frozen weight they attach to, its trainable variables,
//! and its safetensors file.

use super::{BottleneckAdapter, LoraLinear, PeftConfig};
use crate::backbone::{EncoderConfig, EncoderHooks, LinearSite};
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use std::collections::HashMap;
use std::path::Path;

pub struct PeftModule {
    pub config: PeftConfig,
    varmap: VarMap,
    adapters: HashMap<usize, BottleneckAdapter>,
    loras: HashMap<(usize, LinearSite), LoraLinear>,
}

/// HF-style name of the frozen linear at `site` of `layer` (BERT naming), the key of LoRA weights.
pub fn site_name(layer: usize, site: LinearSite) -> String {
    let p = format!("encoder.layer.{layer}");
    match site {
        LinearSite::Query => format!("{p}.attention.self.query"),
        LinearSite::Key => format!("{p}.attention.self.key"),
        LinearSite::Value => format!("{p}.attention.self.value"),
        LinearSite::AttentionOutput => format!("{p}.attention.output.dense"),
        LinearSite::Intermediate => format!("{p}.intermediate.dense"),
        LinearSite::Output => format!("{p}.output.dense"),
    }
}

fn site_dims(config: &EncoderConfig, site: LinearSite) -> (usize, usize) {
    let (h, i) = (config.hidden_size, config.intermediate_size);
    match site {
        LinearSite::Intermediate => (h, i),
        LinearSite::Output => (i, h),
        _ => (h, h),
    }
}

/// Kaiming-uniform bound (1/sqrt(fan_in)) for the down-projection and LoRA A, both (out, in); None for the
/// zero-initialised parts (up-projection, LoRA B, biases), which make an untrained module the identity.
fn initial_bound(name: &str, dims: &[usize]) -> Option<f64> {
    let random = name.ends_with("down.weight") || name.ends_with("lora_A.weight");
    random.then(|| 1.0 / (dims[1] as f64).sqrt())
}

impl PeftModule {
    /// A freshly initialised module for an encoder of shape `encoder`, seeded for reproducibility.
    pub fn new(config: &PeftConfig, encoder: &EncoderConfig, seed: u64) -> Result<Self> {
        Self::new_on(config, encoder, seed, &Device::Cpu)
    }

    /// The same on `device` (the backbone's).
    pub fn new_on(
        config: &PeftConfig,
        encoder: &EncoderConfig,
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        config.validate()?;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let mut module = PeftModule {
            config: config.clone(),
            varmap,
            adapters: HashMap::new(),
            loras: HashMap::new(),
        };
        for layer in 0..encoder.num_hidden_layers {
            match config {
                PeftConfig::Adapter { size } => {
                    let vb = vb.pp(format!("encoder.layer.{layer}.output.adapter"));
                    module.adapters.insert(
                        layer,
                        BottleneckAdapter::new(vb, encoder.hidden_size, *size)?,
                    );
                }
                PeftConfig::Lora {
                    rank,
                    alpha,
                    targets,
                } => {
                    for &site in targets {
                        let (in_dim, out_dim) = site_dims(encoder, site);
                        let lora = LoraLinear::new(
                            vb.pp(site_name(layer, site)),
                            in_dim,
                            out_dim,
                            *rank,
                            *alpha,
                        )?;
                        module.loras.insert((layer, site), lora);
                    }
                }
            }
        }
        crate::init::randomize_vars(&module.varmap, seed, initial_bound)?;
        Ok(module)
    }

    /// Loads a module saved by [`PeftModule::save`]; shapes and names are checked against `config`.
    pub fn load(path: &Path, config: &PeftConfig, encoder: &EncoderConfig) -> Result<Self> {
        Self::load_on(path, config, encoder, &Device::Cpu)
    }

    /// The same onto `device`.
    pub fn load_on(
        path: &Path,
        config: &PeftConfig,
        encoder: &EncoderConfig,
        device: &Device,
    ) -> Result<Self> {
        let module = Self::new_on(config, encoder, 0, device)?;
        crate::io::load_varmap(
            &module.varmap,
            path,
            "module weights",
            &format!("does not hold a {} module of this shape", config.kind()),
        )?;
        Ok(module)
    }

    /// Replaces every variable with the tensor of the same name in `tensors`, which must hold exactly this
    /// module's names and shapes; `source` names the file in errors.
    pub fn set_tensors(&self, tensors: &HashMap<String, Tensor>, source: &Path) -> Result<()> {
        let bad = |message: String| Error::Weights {
            path: source.to_owned(),
            message,
        };
        let data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| Error::invalid("variable store poisoned by an earlier panic"))?;
        if let Some(extra) = tensors.keys().find(|k| !data.contains_key(*k)) {
            return Err(bad(format!(
                "'{extra}' has no place in a {:?} module",
                self.config
            )));
        }
        for (name, var) in data.iter() {
            let tensor = tensors
                .get(name)
                .ok_or_else(|| bad(format!("'{name}' is missing")))?;
            if tensor.dims() != var.dims() {
                return Err(bad(format!(
                    "'{name}' has shape {:?}, expected {:?}",
                    tensor.dims(),
                    var.dims()
                )));
            }
            var.set(&tensor.to_dtype(DType::F32)?.to_device(var.device())?)?;
        }
        Ok(())
    }

    /// The adapter after the feed-forward block of `layer`, if this is an adapter module.
    pub fn adapter(&self, layer: usize) -> Option<&BottleneckAdapter> {
        self.adapters.get(&layer)
    }

    /// The LoRA of the linear `site` of `layer`, if this module adapts it.
    pub fn lora(&self, layer: usize, site: LinearSite) -> Option<&LoraLinear> {
        self.loras.get(&(layer, site))
    }

    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    pub fn num_parameters(&self) -> usize {
        self.varmap.all_vars().iter().map(|v| v.elem_count()).sum()
    }

    /// Writes every variable to a safetensors file, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::save_varmap(&self.varmap, path)
    }
}

impl EncoderHooks for PeftModule {
    fn linear_delta(
        &self,
        layer: usize,
        site: LinearSite,
        input: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        self.loras
            .get(&(layer, site))
            .map(|lora| lora.delta(input))
            .transpose()
    }

    fn after_feed_forward(&self, layer: usize, hidden: &Tensor) -> candle_core::Result<Tensor> {
        match self.adapters.get(&layer) {
            Some(adapter) => adapter.forward(hidden),
            None => Ok(hidden.clone()),
        }
    }
}
