//! HF PEFT LoRA folders: export and import reproduce the module exactly, tensor names and `target_modules`
//! follow the module names of the base model's architecture (BERT, MPNet), and folders l2r cannot represent are
//! refused with the reason.

use l2r::backbone::tiny::{tiny_backbone, tiny_mpnet_backbone, tiny_mpnet_config, tiny_weights};
use l2r::backbone::{Backbone, LinearSite};
use l2r::peft::{export_hf_lora, import_hf_lora, PeftConfig, PeftModule};
use l2r::testing::{max_diff, random_module};

fn random_lora(backbone: &Backbone, targets: Vec<LinearSite>) -> PeftModule {
    let config = PeftConfig::Lora {
        rank: 4,
        alpha: 8.0,
        targets,
    };
    random_module(&config, &backbone.encoder.config, 1, 0.5).unwrap()
}

fn exported_names(dir: &std::path::Path) -> Vec<String> {
    l2r::backbone::WeightMap::load(&dir.join("adapter_model.safetensors"))
        .unwrap()
        .iter()
        .map(|(n, _)| n.clone())
        .collect()
}

fn exported_config(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("adapter_config.json")).unwrap())
        .unwrap()
}

#[test]
fn export_then_import_gives_the_same_module_and_outputs() {
    let backbone = tiny_backbone(5).unwrap();
    let module = random_lora(&backbone, vec![LinearSite::Query, LinearSite::Output]);
    let dir = tempfile::tempdir().unwrap();
    export_hf_lora(&module, &backbone.encoder.config, "tiny-bert", dir.path()).unwrap();

    let names = exported_names(dir.path());
    assert!(names.contains(
        &"base_model.model.encoder.layer.0.attention.self.query.lora_A.weight".to_string()
    ));
    assert!(
        names.contains(&"base_model.model.encoder.layer.1.output.dense.lora_B.weight".to_string())
    );
    let config = exported_config(dir.path());
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["r"], 4);

    let imported = import_hf_lora(
        dir.path(),
        &backbone.encoder.config,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    assert_eq!(imported.config, module.config);
    let texts = ["the movie was good", "a cat eats red food"];
    let a = backbone.embed_with(&texts, &module).unwrap();
    let b = backbone.embed_with(&texts, &imported).unwrap();
    let frozen = backbone.embed(&texts).unwrap();
    assert_eq!(
        max_diff(&a, &b).unwrap(),
        0.0,
        "the imported module must be identical"
    );
    assert!(
        max_diff(&a, &frozen).unwrap() > 1e-3,
        "the random LoRA must change the output"
    );
}

#[test]
fn folders_l2r_cannot_represent_are_refused() {
    let backbone = tiny_backbone(5).unwrap();
    let module = random_lora(&backbone, vec![LinearSite::Value]);
    let dir = tempfile::tempdir().unwrap();
    export_hf_lora(&module, &backbone.encoder.config, "tiny-bert", dir.path()).unwrap();
    let config_path = dir.path().join("adapter_config.json");
    let original = std::fs::read_to_string(&config_path).unwrap();

    let edit = |key: &str, value: serde_json::Value| {
        let mut config: serde_json::Value = serde_json::from_str(&original).unwrap();
        config[key] = value;
        std::fs::write(&config_path, config.to_string()).unwrap();
        import_hf_lora(
            dir.path(),
            &backbone.encoder.config,
            &candle_core::Device::Cpu,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
    };
    assert!(edit("peft_type", "IA3".into()).contains("only LORA"));
    assert!(edit("bias", "all".into()).contains("bias"));
    assert!(
        edit("r", 3.into()).contains("shape"),
        "a rank that does not match the tensors"
    );

    // rsLoRA scales by alpha / sqrt(r): imported as the equivalent alpha.
    std::fs::write(&config_path, &original).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&original).unwrap();
    config["use_rslora"] = true.into();
    std::fs::write(&config_path, config.to_string()).unwrap();
    let rs = import_hf_lora(
        dir.path(),
        &backbone.encoder.config,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let PeftConfig::Lora { alpha, .. } = rs.config else {
        panic!()
    };
    assert!((alpha - 8.0 * 2.0).abs() < 1e-9);

    let an_adapter = PeftModule::new(&PeftConfig::adapter(), &backbone.encoder.config, 0).unwrap();
    assert!(export_hf_lora(
        &an_adapter,
        &backbone.encoder.config,
        "tiny-bert",
        dir.path()
    )
    .is_err());
}

/// PEFT matches a string `target_modules` in full (`re.fullmatch`) against every module name of the model it
/// wraps; for MPNet those are transformers' `encoder.layer.N.attention.attn.{q,k,v,o}`, `intermediate.dense`
/// and `output.dense`, with an `mpnet.` level in a task model such as `MPNetForSequenceClassification`.
#[test]
fn mpnet_modules_are_exported_and_imported_under_mpnets_module_names() {
    let backbone = tiny_mpnet_backbone(5).unwrap();
    let encoder = &backbone.encoder.config;
    let targets = vec![
        LinearSite::Query,
        LinearSite::AttentionOutput,
        LinearSite::Output,
    ];
    let module = random_lora(&backbone, targets);
    let dir = tempfile::tempdir().unwrap();
    export_hf_lora(&module, encoder, "tiny-mpnet", dir.path()).unwrap();

    let names = exported_names(dir.path());
    for expected in [
        "base_model.model.encoder.layer.0.attention.attn.q.lora_A.weight",
        "base_model.model.encoder.layer.1.attention.attn.o.lora_B.weight",
        "base_model.model.encoder.layer.1.output.dense.lora_A.weight",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }
    assert_eq!(names.len(), 2 * 3 * 2, "2 layers × 3 linears × (A, B)");
    assert!(
        names
            .iter()
            .all(|n| !n.contains(".self.") && !n.contains("attention.output")),
        "BERT names in an MPNet export: {names:?}"
    );

    let pattern = exported_config(dir.path())["target_modules"]
        .as_str()
        .unwrap()
        .to_owned();
    let target_modules = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
    // Every linear of an MPNet checkpoint, as PEFT sees module names: matched exactly when targeted.
    let linears: Vec<String> = tiny_weights(&tiny_mpnet_config(), 0)
        .unwrap()
        .iter()
        .filter(|(name, t)| name.starts_with("encoder.layer.") && t.rank() == 2)
        .map(|(name, _)| name.trim_end_matches(".weight").to_owned())
        .collect();
    assert_eq!(linears.len(), 2 * 6);
    for name in &linears {
        let targeted = ["attention.attn.q", "attention.attn.o", ".output.dense"]
            .iter()
            .any(|s| name.ends_with(s));
        for model_name in [name.clone(), format!("mpnet.{name}")] {
            assert_eq!(
                target_modules.is_match(&model_name),
                targeted,
                "{model_name} against {pattern}"
            );
        }
    }
    // The modules the exported weights belong to are the ones target_modules selects.
    for name in &names {
        let module_name = name
            .strip_prefix("base_model.model.")
            .and_then(|n| n.rsplit_once(".lora_"))
            .map(|(m, _)| m)
            .unwrap();
        assert!(target_modules.is_match(module_name), "{module_name}");
    }

    let imported = import_hf_lora(dir.path(), encoder, &candle_core::Device::Cpu).unwrap();
    assert_eq!(imported.config, module.config);
    let texts = ["the movie was good", "a cat eats red food"];
    let a = backbone.embed_with(&texts, &module).unwrap();
    let b = backbone.embed_with(&texts, &imported).unwrap();
    assert_eq!(
        max_diff(&a, &b).unwrap(),
        0.0,
        "the imported module must be identical"
    );
    assert!(max_diff(&a, &backbone.embed(&texts).unwrap()).unwrap() > 1e-3);

    // A module is exported with the encoder it was trained on: a smaller one is refused, not half-written.
    let one_layer = l2r::backbone::EncoderConfig {
        num_hidden_layers: 1,
        ..encoder.clone()
    };
    let elsewhere = dir.path().join("elsewhere");
    let error = export_hf_lora(&module, &one_layer, "tiny-mpnet", &elsewhere)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("has no place in a 1-layer mpnet encoder"),
        "{error}"
    );
    assert!(!elsewhere.exists());

    // An MPNet adapter is no BERT adapter: importing it on BERT says why.
    let bert = tiny_backbone(5).unwrap();
    let error = import_hf_lora(dir.path(), &bert.encoder.config, &candle_core::Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("attention.attn.") && error.contains("another base model"),
        "{error}"
    );
}
