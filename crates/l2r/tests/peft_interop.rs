//! HF PEFT LoRA folders: export and import reproduce the module exactly, tensor names follow PEFT's BERT
//! naming, and folders l2r cannot represent are refused with the reason.

use l2r::backbone::tiny::tiny_backbone;
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

#[test]
fn export_then_import_gives_the_same_module_and_outputs() {
    let backbone = tiny_backbone(5).unwrap();
    let module = random_lora(&backbone, vec![LinearSite::Query, LinearSite::Output]);
    let dir = tempfile::tempdir().unwrap();
    export_hf_lora(&module, "tiny-bert", dir.path()).unwrap();

    let names = l2r::backbone::WeightMap::load(&dir.path().join("adapter_model.safetensors"))
        .unwrap()
        .iter()
        .map(|(n, _)| n.clone())
        .collect::<Vec<_>>();
    assert!(names.contains(
        &"base_model.model.encoder.layer.0.attention.self.query.lora_A.weight".to_string()
    ));
    assert!(
        names.contains(&"base_model.model.encoder.layer.1.output.dense.lora_B.weight".to_string())
    );
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("adapter_config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["r"], 4);

    let imported = import_hf_lora(dir.path(), &backbone.encoder.config).unwrap();
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
    export_hf_lora(&module, "tiny-bert", dir.path()).unwrap();
    let config_path = dir.path().join("adapter_config.json");
    let original = std::fs::read_to_string(&config_path).unwrap();

    let edit = |key: &str, value: serde_json::Value| {
        let mut config: serde_json::Value = serde_json::from_str(&original).unwrap();
        config[key] = value;
        std::fs::write(&config_path, config.to_string()).unwrap();
        import_hf_lora(dir.path(), &backbone.encoder.config)
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
    let rs = import_hf_lora(dir.path(), &backbone.encoder.config).unwrap();
    let PeftConfig::Lora { alpha, .. } = rs.config else {
        panic!()
    };
    assert!((alpha - 8.0 * 2.0).abs() < 1e-9);

    let an_adapter = PeftModule::new(&PeftConfig::adapter(), &backbone.encoder.config, 0).unwrap();
    assert!(export_hf_lora(&an_adapter, "tiny-bert", dir.path()).is_err());
}
