//! HF PEFT interop for LoRA modules: `adapter_config.json` + `adapter_model.safetensors` with the tensor names
//! PEFT writes for a BERT model (`base_model.model.encoder.layer.{i}.attention.self.query.lora_A.weight`, …),
//! exported from and imported into l2r modules.

use super::module::site_name;
use super::{PeftConfig, PeftModule};
use crate::backbone::{EncoderConfig, LinearSite};
use crate::error::{Error, Result};
use candle_core::Tensor;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

pub const CONFIG_FILE: &str = "adapter_config.json";
pub const WEIGHTS_FILE: &str = "adapter_model.safetensors";
/// PEFT's prefix for the wrapped base model's parameters.
const PREFIX: &str = "base_model.model.";

const SITES: [LinearSite; 6] = [
    LinearSite::Query,
    LinearSite::Key,
    LinearSite::Value,
    LinearSite::AttentionOutput,
    LinearSite::Intermediate,
    LinearSite::Output,
];

/// The path of `site` inside a layer, as PEFT's module names end.
fn site_suffix(site: LinearSite) -> &'static str {
    match site {
        LinearSite::Query => "attention.self.query",
        LinearSite::Key => "attention.self.key",
        LinearSite::Value => "attention.self.value",
        LinearSite::AttentionOutput => "attention.output.dense",
        LinearSite::Intermediate => "intermediate.dense",
        LinearSite::Output => "output.dense",
    }
}

/// Whether `dir` looks like an HF PEFT adapter folder.
pub fn is_hf_peft_dir(dir: &Path) -> bool {
    dir.join(CONFIG_FILE).is_file() && dir.join(WEIGHTS_FILE).is_file()
}

/// Writes a LoRA `module` as an HF PEFT adapter folder for the base model `base_model` (a hub id or path).
pub fn export_hf_lora(module: &PeftModule, base_model: &str, dir: &Path) -> Result<()> {
    let PeftConfig::Lora {
        rank,
        alpha,
        targets,
    } = &module.config
    else {
        return Err(Error::invalid(
            "only LoRA modules have an HF PEFT format here; bottleneck adapters are l2r's own",
        ));
    };
    // A regex matched in full against module names: exact, unlike PEFT's suffix lists, where "output.dense"
    // would also catch "attention.output.dense".
    let alternatives: Vec<String> = targets
        .iter()
        .map(|s| site_suffix(*s).replace('.', r"\."))
        .collect();
    let target_regex = format!(r".*encoder\.layer\.\d+\.({})", alternatives.join("|"));
    let config = json!({
        "peft_type": "LORA",
        "task_type": null,
        "base_model_name_or_path": base_model,
        "r": rank,
        "lora_alpha": alpha,
        "lora_dropout": 0.0,
        "target_modules": target_regex,
        "bias": "none",
        "fan_in_fan_out": false,
        "use_rslora": false,
        "use_dora": false,
        "init_lora_weights": true,
        "inference_mode": true,
        "modules_to_save": null,
        "layers_to_transform": null,
        "rank_pattern": {},
        "alpha_pattern": {},
    });
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tensors = crate::io::varmap_tensors(module.varmap())?
        .into_iter()
        .map(|(name, tensor)| (format!("{PREFIX}{name}"), tensor))
        .collect();
    crate::io::write_safetensors(&dir.join(WEIGHTS_FILE), tensors)?;
    crate::io::write_json_atomic(&dir.join(CONFIG_FILE), &config)
}

/// Reads an HF PEFT LoRA folder (trained in Python on the same BERT base) as an l2r module.
pub fn import_hf_lora(dir: &Path, encoder: &EncoderConfig) -> Result<PeftModule> {
    let config_path = dir.join(CONFIG_FILE);
    let config: Value = crate::io::read_json(&config_path)?;
    let bad = |message: String| Error::Config {
        path: config_path.clone(),
        message,
    };
    let field = |name: &str| config.get(name).filter(|v| !v.is_null());
    if field("peft_type").and_then(Value::as_str) != Some("LORA") {
        return Err(bad(format!(
            "peft_type is {}; only LORA modules can be imported",
            field("peft_type").map_or("missing".into(), Value::to_string)
        )));
    }
    for (key, allowed) in [("bias", "none")] {
        if let Some(v) = field(key).and_then(Value::as_str).filter(|v| *v != allowed) {
            return Err(bad(format!(
                "{key} = \"{v}\" is not supported (only \"{allowed}\")"
            )));
        }
    }
    for key in ["fan_in_fan_out", "use_dora"] {
        if field(key).and_then(Value::as_bool) == Some(true) {
            return Err(bad(format!("{key} = true is not supported")));
        }
    }
    for key in ["rank_pattern", "alpha_pattern"] {
        if field(key)
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
        {
            return Err(bad(format!(
                "a non-empty {key} is not supported: use one rank and alpha"
            )));
        }
    }
    let rank = field("r")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("missing r (the LoRA rank)".into()))? as usize;
    let mut alpha = field("lora_alpha")
        .and_then(Value::as_f64)
        .ok_or_else(|| bad("missing lora_alpha".into()))?;
    if field("use_rslora").and_then(Value::as_bool) == Some(true) {
        // rsLoRA scales by alpha / sqrt(r); ours is alpha / r.
        alpha *= (rank as f64).sqrt();
    }
    let weights_path = dir.join(WEIGHTS_FILE);
    let tensors = lora_tensors(&weights_path)?;
    let targets = targets_of(&tensors, encoder.num_hidden_layers, &weights_path)?;
    let module = PeftModule::new(
        &PeftConfig::Lora {
            rank,
            alpha,
            targets,
        },
        encoder,
        0,
    )?;
    module.set_tensors(&tensors, &weights_path)?;
    Ok(module)
}

/// The file's LoRA tensors under l2r's names (PEFT's prefix, a `bert.` level and `.default` removed).
fn lora_tensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    let weights = crate::io::read_safetensors(path, "adapter weights")?;
    let mut out = HashMap::new();
    for (name, tensor) in &weights {
        let mut short = name.strip_prefix(PREFIX).unwrap_or(name);
        short = short.strip_prefix("bert.").unwrap_or(short);
        let short = short.replace(".default.", ".");
        if !short.contains("lora_") {
            return Err(Error::Weights {
                path: path.to_owned(),
                message: format!(
                    "holds '{name}', which is not a LoRA weight (modules_to_save such as a classifier are not imported)"
                ),
            });
        }
        out.insert(short, tensor.clone());
    }
    Ok(out)
}

/// Which sites carry LoRA weights; l2r applies one set of targets to every layer, so all layers must agree.
fn targets_of(
    tensors: &HashMap<String, Tensor>,
    num_layers: usize,
    path: &Path,
) -> Result<Vec<LinearSite>> {
    let present = |layer: usize, site: LinearSite| {
        tensors.contains_key(&format!("{}.lora_A.weight", site_name(layer, site)))
    };
    let targets: Vec<LinearSite> = SITES.into_iter().filter(|&s| present(0, s)).collect();
    let layers_differ = (1..num_layers).any(|l| {
        let here: BTreeSet<usize> = SITES
            .iter()
            .enumerate()
            .filter(|(_, &s)| present(l, s))
            .map(|(i, _)| i)
            .collect();
        let first: BTreeSet<usize> = SITES
            .iter()
            .enumerate()
            .filter(|(_, &s)| present(0, s))
            .map(|(i, _)| i)
            .collect();
        here != first
    });
    if targets.is_empty() || layers_differ {
        return Err(Error::Weights {
            path: path.to_owned(),
            message: format!(
                "l2r needs LoRA on the same linears of all {num_layers} layers (found targets {targets:?} on layer 0{})",
                if layers_differ { " and others elsewhere" } else { "" }
            ),
        });
    }
    Ok(targets)
}
