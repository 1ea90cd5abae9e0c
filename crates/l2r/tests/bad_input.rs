//! Bad input gives a typed error with an actionable message, never a panic.

use l2r::backbone::tiny::{tiny_config, tiny_weights};
use l2r::backbone::{Backbone, BackboneName, WeightMap};
use l2r::peft::{PeftConfig, PeftModule};
use l2r::train::TaskArtifacts;
use std::path::Path;

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn missing_backbone_names_the_setup_command() {
    let dir = tempfile::tempdir().unwrap();
    let error = Backbone::load_from_dir(
        BackboneName::Minilm,
        dir.path(),
        128,
        &candle_core::Device::Cpu,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(error.contains("scripts/setup.sh"), "{error}");
    assert!(error.contains("config.json"), "{error}");
}

#[test]
fn truncated_and_corrupt_safetensors_are_reported_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let module = PeftModule::new(&PeftConfig::adapter(), &tiny_config(), 0).unwrap();
    let good = dir.path().join("module.safetensors");
    module.save(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();

    let truncated = dir.path().join("truncated.safetensors");
    write(&truncated, &bytes[..bytes.len() / 2]);
    let garbage = dir.path().join("garbage.safetensors");
    write(
        &garbage,
        b"\xff\xff\xff\xff\xff\xff\xff\x7fnot a safetensors file",
    );
    for path in [&truncated, &garbage] {
        let error = WeightMap::load(path).err().unwrap().to_string();
        assert!(
            error.contains(path.file_name().unwrap().to_str().unwrap()),
            "{error}"
        );
        assert!(error.contains("truncated or corrupt"), "{error}");
        let error = PeftModule::load(path, &PeftConfig::adapter(), &tiny_config())
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains(path.to_str().unwrap()), "{error}");
    }
    // A file of the wrong module type is refused, naming what was expected.
    let error = PeftModule::load(&good, &PeftConfig::lora(), &tiny_config())
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("lora"), "{error}");
}

#[test]
fn weights_with_a_missing_or_misshapen_tensor_are_refused() {
    let config = tiny_config();
    let weights = tiny_weights(&config, 0).unwrap();
    assert!(weights.contains("encoder.layer.0.output.dense.weight"));
    let error = weights
        .get("encoder.layer.9.output.dense.weight", &[16, 32])
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("encoder.layer.9.output.dense.weight") && error.contains("missing"),
        "{error}"
    );
    let error = weights
        .get("encoder.layer.0.output.dense.weight", &[32, 16])
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("shape"), "{error}");
}

#[test]
fn task_record_with_a_missing_field_names_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("task.json"),
        br#"{"task": "bbc", "labels": ["a", "b"]}"#,
    );
    let error = TaskArtifacts::new(dir.path())
        .load_record()
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("task.json"), "{error}");
    assert!(error.contains("missing field `backbone`"), "{error}");

    let empty = tempfile::tempdir().unwrap();
    let error = TaskArtifacts::new(empty.path())
        .load_record()
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("l2r train-task"), "{error}");
}

#[test]
fn empty_texts_are_refused_by_the_tokenizer() {
    let backbone = l2r::backbone::tiny::tiny_backbone(0).unwrap();
    let error = backbone
        .tokenizer
        .encode(&["the cat", "   "])
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("text #2 is empty"), "{error}");
    assert!(backbone.tokenizer.encode(&[]).is_err());
}

#[test]
fn invalid_module_configs_are_refused() {
    for (config, needle) in [
        (PeftConfig::Adapter { size: 0 }, "adapter size"),
        (
            PeftConfig::Lora {
                rank: 0,
                alpha: 16.0,
                targets: vec![],
            },
            "rank",
        ),
        (
            PeftConfig::Lora {
                rank: 4,
                alpha: 16.0,
                targets: vec![],
            },
            "target",
        ),
    ] {
        let error = PeftModule::new(&config, &tiny_config(), 0)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains(needle), "{error}");
    }
}
