//! HF PEFT interop for LoRA modules: `adapter_config.json` + `adapter_model.safetensors` with the tensor names
//! PEFT writes for the base model's architecture, exported from and imported into l2r modules. PEFT names a LoRA
//! weight after the module it wraps, so the names follow transformers' modules: BERT's
//! `base_model.model.encoder.layer.{i}.attention.self.query.lora_A.weight`, MPNet's
//! `base_model.model.encoder.layer.{i}.attention.attn.q.lora_A.weight`. Inside l2r a module keys its weights by
//! the BERT names ([`site_name`]) whatever the backbone; the translation happens here, at the border.

use super::module::site_name;
use super::{PeftConfig, PeftModule};
use crate::backbone::{Architecture, EncoderConfig, LinearSite};
use crate::error::{Error, Result};
use candle_core::{Device, Tensor};
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

/// The LoRA weights of one wrapped linear, as PEFT names them after the module's name.
const LORA_PARTS: [&str; 2] = ["lora_A.weight", "lora_B.weight"];

/// The path of `site` inside a layer of `architecture`, as transformers names the module (`BertLayer`,
/// `MPNetLayer`) and so as PEFT's module names end.
fn site_suffix(architecture: Architecture, site: LinearSite) -> &'static str {
    match (architecture, site) {
        (Architecture::Bert, LinearSite::Query) => "attention.self.query",
        (Architecture::Bert, LinearSite::Key) => "attention.self.key",
        (Architecture::Bert, LinearSite::Value) => "attention.self.value",
        (Architecture::Bert, LinearSite::AttentionOutput) => "attention.output.dense",
        (Architecture::MPNet, LinearSite::Query) => "attention.attn.q",
        (Architecture::MPNet, LinearSite::Key) => "attention.attn.k",
        (Architecture::MPNet, LinearSite::Value) => "attention.attn.v",
        (Architecture::MPNet, LinearSite::AttentionOutput) => "attention.attn.o",
        (_, LinearSite::Intermediate) => "intermediate.dense",
        (_, LinearSite::Output) => "output.dense",
    }
}

/// The attribute under which a transformers task model (`BertForSequenceClassification`, …) holds the
/// base model: PEFT folders saved from such a model carry it in every name.
fn base_attribute(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::Bert => "bert.",
        Architecture::MPNet => "mpnet.",
    }
}

/// Pairs (l2r's name, the HF name without PEFT's prefix) of every LoRA weight a module of an encoder of
/// `num_layers` layers of `architecture` can hold.
fn name_pairs(architecture: Architecture, num_layers: usize) -> Vec<(String, String)> {
    let mut pairs = Vec::with_capacity(num_layers * SITES.len() * LORA_PARTS.len());
    for layer in 0..num_layers {
        for site in SITES {
            for part in LORA_PARTS {
                pairs.push((
                    format!("{}.{part}", site_name(layer, site)),
                    format!(
                        "encoder.layer.{layer}.{}.{part}",
                        site_suffix(architecture, site)
                    ),
                ));
            }
        }
    }
    pairs
}

fn architecture_of(encoder: &EncoderConfig) -> Result<Architecture> {
    encoder.architecture().map_err(Error::invalid)
}

/// Whether `dir` looks like an HF PEFT adapter folder.
pub fn is_hf_peft_dir(dir: &Path) -> bool {
    dir.join(CONFIG_FILE).is_file() && dir.join(WEIGHTS_FILE).is_file()
}

/// Writes a LoRA `module` of an encoder shaped like `encoder` (whose architecture decides the module names) as
/// an HF PEFT adapter folder for the base model `base_model` (a hub id or path).
pub fn export_hf_lora(
    module: &PeftModule,
    encoder: &EncoderConfig,
    base_model: &str,
    dir: &Path,
) -> Result<()> {
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
    let architecture = architecture_of(encoder)?;
    // A regex matched in full against module names: exact, unlike PEFT's suffix lists, where "output.dense"
    // would also catch BERT's "attention.output.dense".
    let alternatives: Vec<String> = targets
        .iter()
        .map(|s| site_suffix(architecture, *s).replace('.', r"\."))
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
    let hf_names: HashMap<String, String> = name_pairs(architecture, encoder.num_hidden_layers)
        .into_iter()
        .collect();
    let tensors = crate::io::varmap_tensors(module.varmap())?
        .into_iter()
        .map(|(name, tensor)| match hf_names.get(&name) {
            Some(hf) => Ok((format!("{PREFIX}{hf}"), tensor)),
            None => Err(Error::invalid(format!(
                "the module's weight '{name}' has no place in a {}-layer {} encoder: export it with the \
                 backbone it was trained on",
                encoder.num_hidden_layers, encoder.model_type
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    crate::io::write_safetensors(&dir.join(WEIGHTS_FILE), tensors)?;
    crate::io::write_plain_json_atomic(&dir.join(CONFIG_FILE), &config)
}

/// Reads an HF PEFT LoRA folder (trained in Python on the same base model as `encoder`) as an l2r module.
pub fn import_hf_lora(dir: &Path, encoder: &EncoderConfig, device: &Device) -> Result<PeftModule> {
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
    let tensors = lora_tensors(&weights_path, encoder)?;
    let targets = targets_of(&tensors, encoder.num_hidden_layers, &weights_path)?;
    let module = PeftModule::new_on(
        &PeftConfig::Lora {
            rank,
            alpha,
            targets,
        },
        encoder,
        0,
        device,
    )?;
    module.set_tensors(&tensors, &weights_path)?;
    Ok(module)
}

/// The file's LoRA tensors under l2r's names (PEFT's prefix, a `bert.`/`mpnet.` level and `.default`
/// removed, then the architecture's module names mapped to l2r's).
fn lora_tensors(path: &Path, encoder: &EncoderConfig) -> Result<HashMap<String, Tensor>> {
    let architecture = architecture_of(encoder)?;
    let l2r_names: HashMap<String, String> = name_pairs(architecture, encoder.num_hidden_layers)
        .into_iter()
        .map(|(l2r, hf)| (hf, l2r))
        .collect();
    let weights = crate::io::read_safetensors(path, "adapter weights")?;
    let mut out = HashMap::new();
    for (name, tensor) in &weights {
        let mut short = name.strip_prefix(PREFIX).unwrap_or(name);
        short = short
            .strip_prefix(base_attribute(architecture))
            .unwrap_or(short);
        let short = short.replace(".default.", ".");
        if !short.contains("lora_") {
            return Err(Error::Weights {
                path: path.to_owned(),
                message: format!(
                    "holds '{name}', which is not a LoRA weight (modules_to_save such as a classifier are not imported)"
                ),
            });
        }
        let Some(l2r_name) = l2r_names.get(&short) else {
            return Err(Error::Weights {
                path: path.to_owned(),
                message: format!(
                    "holds '{name}', which is not a LoRA weight of a linear of this {}-layer {} encoder \
                     (their names look like '{PREFIX}encoder.layer.0.{}.lora_A.weight'): was the adapter \
                     trained on another base model?",
                    encoder.num_hidden_layers,
                    encoder.model_type,
                    site_suffix(architecture, LinearSite::Query)
                ),
            });
        };
        out.insert(l2r_name.clone(), tensor.clone());
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
