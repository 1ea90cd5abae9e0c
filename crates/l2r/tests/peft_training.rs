//! PEFT modules and isolated training on a tiny randomly initialised BERT built in code (no assets needed).

use candle_core::{Device, Tensor};
use l2r::backbone::tiny::tiny_backbone;
use l2r::backbone::{mean_pool, Backbone, NoHooks};
use l2r::data::Example;
use l2r::head::{ClassifierHead, HeadInput};
use l2r::peft::{PeftConfig, PeftModule};
use l2r::train::{
    fit_head_as_probe, tokenize_examples, train_task, HeadInit, TaskArtifacts, TaskModel,
    TaskRecord, TokenizedExample, TrainConfig, TrainReport,
};

fn model(backbone: &Backbone, peft: &PeftConfig, labels: usize) -> TaskModel {
    let config = &backbone.encoder.config;
    TaskModel::new(
        PeftModule::new(peft, config, 3).unwrap(),
        ClassifierHead::new(config.hidden_size, labels, 3).unwrap(),
    )
}

/// A separable two-class task over the tiny vocabulary: positive words vs negative words.
fn sentiment_examples() -> Vec<Example> {
    let positive = ["good", "great", "fine"];
    let negative = ["bad", "awful", "poor"];
    let mut examples = Vec::new();
    for (i, subject) in ["the movie", "the food", "a cat", "a dog"]
        .iter()
        .enumerate()
    {
        for j in 0..3 {
            examples.push(Example {
                text: format!("{subject} was very {}", positive[(i + j) % 3]),
                label: 1,
            });
            examples.push(Example {
                text: format!("{subject} was {}", negative[(i + j) % 3]),
                label: 0,
            });
        }
    }
    examples
}

/// The record of a module trained on [`sentiment_examples`].
fn sentiment_record(
    backbone: &Backbone,
    peft: PeftConfig,
    train: TrainConfig,
    report: TrainReport,
) -> TaskRecord {
    TaskRecord {
        task: "tiny".into(),
        labels: vec!["negative".into(), "positive".into()],
        backbone: backbone.name,
        max_len: 32,
        peft,
        train,
        split: Default::default(),
        report: Some(report),
        test: None,
    }
}

fn hidden_states(backbone: &Backbone, hooks: &dyn l2r::backbone::EncoderHooks) -> Tensor {
    let batch = backbone
        .tokenizer
        .encode(&["the movie was good", "a dog runs"])
        .unwrap();
    backbone.encoder.forward(&batch, hooks).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    l2r::testing::max_diff(a, b).unwrap()
}

#[test]
fn untrained_modules_are_the_identity() {
    let backbone = tiny_backbone(1).unwrap();
    let plain = hidden_states(&backbone, &NoHooks);
    for peft in [PeftConfig::adapter(), PeftConfig::lora()] {
        let module = PeftModule::new(&peft, &backbone.encoder.config, 5).unwrap();
        assert_eq!(
            max_abs_diff(&plain, &hidden_states(&backbone, &module)),
            0.0,
            "{}",
            peft.kind()
        );
    }
}

#[test]
fn every_trainable_tensor_gets_a_nonzero_gradient() {
    let backbone = tiny_backbone(2).unwrap();
    for peft in [PeftConfig::adapter(), PeftConfig::lora()] {
        let m = model(&backbone, &peft, 2);
        // Move the zero-initialised halves off zero, so the gradient of the other half is not zero by design.
        for var in m.trainable_vars() {
            let noise = Tensor::rand(-0.1f32, 0.1, var.shape(), &Device::Cpu).unwrap();
            var.set(&(var.as_tensor() + noise).unwrap()).unwrap();
        }
        let batch = backbone
            .tokenizer
            .encode(&["the movie was good", "a cat eats red food"])
            .unwrap();
        let labels = Tensor::new(&[1u32, 0], &Device::Cpu).unwrap();
        let loss =
            candle_nn::loss::cross_entropy(&m.logits(&backbone, &batch).unwrap(), &labels).unwrap();
        let grads = loss.backward().unwrap();
        let vars = m.trainable_vars();
        assert!(!vars.is_empty());
        for var in vars {
            let grad = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("{}: a variable got no gradient", peft.kind()));
            let norm = grad
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(
                norm > 0.0,
                "{}: a variable of shape {:?} got a zero gradient",
                peft.kind(),
                var.shape()
            );
        }
    }
}

#[test]
fn training_learns_a_separable_task_and_leaves_the_backbone_bit_identical() {
    let backbone = tiny_backbone(3).unwrap();
    let examples = sentiment_examples();
    let tokenized = tokenize_examples(&backbone.tokenizer, &examples).unwrap();
    let probe_batch = backbone
        .tokenizer
        .encode(&["the movie was good", "a cat eats red food"])
        .unwrap();
    let before = hidden_states(&backbone, &NoHooks);
    let frozen_probe = backbone.encoder.forward(&probe_batch, &NoHooks).unwrap();
    let config = TrainConfig {
        epochs: 30,
        batch_size: 8,
        learning_rate: 1e-2,
        patience: 30,
        ..TrainConfig::default()
    };
    for peft in [PeftConfig::adapter(), PeftConfig::lora()] {
        let m = model(&backbone, &peft, 2);
        let report = train_task(&backbone, &m, &tokenized, &tokenized, &config, false).unwrap();
        assert!(
            report.best_validation_accuracy >= 0.95,
            "{}: {report:?}",
            peft.kind()
        );
        let first_loss = report.epochs[0].train_loss;
        let last_loss = report.epochs.last().unwrap().train_loss;
        assert!(
            last_loss < first_loss * 0.5,
            "{}: loss {first_loss} -> {last_loss}",
            peft.kind()
        );
        // The module changed the representation...
        let adapted = backbone.encoder.forward(&probe_batch, &m.module).unwrap();
        assert!(
            max_abs_diff(
                &mean_pool(&adapted, &probe_batch.attention_mask).unwrap(),
                &mean_pool(&frozen_probe, &probe_batch.attention_mask).unwrap()
            ) > 0.0
        );
    }
    // ...but the frozen encoder computes exactly what it computed before training.
    let after = hidden_states(&backbone, &NoHooks);
    assert_eq!(
        before.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        after.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    );
}

#[test]
fn saved_task_loads_back_with_identical_predictions() {
    let backbone = tiny_backbone(4).unwrap();
    let examples = sentiment_examples();
    let tokenized = tokenize_examples(&backbone.tokenizer, &examples).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for peft in [PeftConfig::adapter(), PeftConfig::lora()] {
        let m = model(&backbone, &peft, 2);
        let config = TrainConfig {
            epochs: 3,
            batch_size: 8,
            learning_rate: 1e-2,
            ..TrainConfig::default()
        };
        let report = train_task(&backbone, &m, &tokenized, &tokenized, &config, false).unwrap();
        let artifacts = TaskArtifacts::new(dir.path().join(peft.kind()));
        let record = sentiment_record(&backbone, peft.clone(), config, report);
        artifacts.save(&record, &m).unwrap();
        let (loaded_record, loaded) = artifacts.load(&backbone).unwrap();
        assert_eq!(loaded_record.peft, peft);
        let batch = backbone
            .tokenizer
            .encode(&["the movie was good", "a cat eats red food"])
            .unwrap();
        let original = m.logits(&backbone, &batch).unwrap();
        let reloaded = loaded.logits(&backbone, &batch).unwrap();
        assert_eq!(max_abs_diff(&original, &reloaded), 0.0, "{}", peft.kind());
    }
}

#[test]
fn same_seed_gives_the_same_module() {
    let backbone = tiny_backbone(5).unwrap();
    let a = PeftModule::new(&PeftConfig::lora(), &backbone.encoder.config, 11).unwrap();
    let b = PeftModule::new(&PeftConfig::lora(), &backbone.encoder.config, 11).unwrap();
    let c = PeftModule::new(&PeftConfig::lora(), &backbone.encoder.config, 12).unwrap();
    let sum = |m: &PeftModule| -> f32 {
        m.varmap()
            .all_vars()
            .iter()
            .map(|v| {
                v.as_tensor()
                    .abs()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
            })
            .sum()
    };
    let values = |m: &PeftModule| -> Vec<Vec<f32>> {
        let data = m.varmap().data().lock().unwrap();
        let mut names: Vec<_> = data.keys().cloned().collect();
        names.sort();
        names
            .iter()
            .map(|n| {
                data[n]
                    .as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(values(&a), values(&b));
    assert_ne!(values(&a), values(&c));
    assert!(sum(&a) > 0.0);
}

#[test]
fn every_backbone_weight_is_bit_identical_after_training() {
    use l2r::backbone::tiny::{tiny_config, tiny_tokenizer, tiny_weights};
    use l2r::backbone::{BackboneName, Encoder};
    let config = tiny_config();
    let weights = tiny_weights(&config, 6).unwrap();
    let snapshot: Vec<(String, Vec<f32>)> = weights
        .iter()
        .map(|(name, t)| {
            (
                name.clone(),
                t.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            )
        })
        .collect();
    // The encoder holds the very tensors of `weights` (shared storage), so any write would show there.
    let backbone = Backbone::from_parts(
        BackboneName::Minilm,
        Encoder::load(&weights, &config).unwrap(),
        tiny_tokenizer(32).unwrap(),
    );
    let tokenized = tokenize_examples(&backbone.tokenizer, &sentiment_examples()).unwrap();
    let config = TrainConfig {
        epochs: 5,
        batch_size: 8,
        learning_rate: 1e-2,
        ..TrainConfig::default()
    };
    for peft in [PeftConfig::adapter(), PeftConfig::lora()] {
        let m = model(&backbone, &peft, 2);
        train_task(&backbone, &m, &tokenized, &tokenized, &config, false).unwrap();
    }
    for (name, before) in snapshot {
        let after = weights
            .get_any(&name)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!(
            before
                .iter()
                .zip(&after)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{name} changed"
        );
    }
}

#[test]
fn a_probe_head_starts_from_the_frozen_features_best_linear_fit_and_training_keeps_it_unless_beaten(
) {
    let backbone = tiny_backbone(3).unwrap();
    let examples = sentiment_examples();
    let tokenized = tokenize_examples(&backbone.tokenizer, &examples).unwrap();
    let (train, validation) = tokenized.split_at(16);
    let config = TrainConfig {
        epochs: 2,
        batch_size: 8,
        learning_rate: 1e-3,
        head_init: HeadInit::Probe,
        ..TrainConfig::default()
    };
    let m = model(&backbone, &PeftConfig::adapter(), 2);
    let random_head = l2r::train::accuracy(&backbone, &m, validation, 8).unwrap();
    let probe = fit_head_as_probe(&backbone, &m, train, validation, 8).unwrap();
    let probe_head = l2r::train::accuracy(&backbone, &m, validation, 8).unwrap();
    assert_eq!(probe_head, probe.validation_accuracy);
    assert!(probe.best_epoch >= 1, "{probe:?}");
    assert!(
        probe_head >= random_head,
        "probe {probe_head} < random {random_head}"
    );
    let fresh = model(&backbone, &PeftConfig::adapter(), 2);
    let report = train_task(&backbone, &fresh, train, validation, &config, false).unwrap();
    let started = report.head_probe.clone().expect("the probe is reported");
    assert_eq!(
        started, probe,
        "the same model and data give the same probe"
    );
    assert!(report.best_epoch >= 1, "an epoch of training is kept");
    let kept = l2r::train::accuracy(&backbone, &fresh, validation, 8).unwrap();
    assert_eq!(kept, report.best_validation_accuracy);
}

#[test]
fn a_random_head_start_is_left_out_of_the_serialised_config_so_old_module_keys_hold() {
    let random = serde_json::to_string(&TrainConfig::default()).unwrap();
    assert!(!random.contains("head_init"), "{random}");
    let probe = TrainConfig {
        head_init: HeadInit::Probe,
        ..TrainConfig::default()
    };
    let text = serde_json::to_string(&probe).unwrap();
    assert!(text.contains("\"head_init\":\"probe\""), "{text}");
    let back: TrainConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(back, probe);
}

#[test]
fn a_head_reading_every_layer_learns_and_loads_back_as_saved() {
    let backbone = tiny_backbone(4).unwrap();
    let encoder = &backbone.encoder.config;
    let tokenized = tokenize_examples(&backbone.tokenizer, &sentiment_examples()).unwrap();
    let config = TrainConfig {
        epochs: 30,
        batch_size: 8,
        learning_rate: 1e-2,
        patience: 30,
        head_input: HeadInput::AllLayers,
        ..TrainConfig::default()
    };
    let peft = PeftConfig::adapter();
    let m = TaskModel::new(
        PeftModule::new(&peft, encoder, 3).unwrap(),
        ClassifierHead::for_input(HeadInput::AllLayers, encoder, 2, 3, &Device::Cpu).unwrap(),
    );
    let report = train_task(&backbone, &m, &tokenized, &tokenized, &config, false).unwrap();
    assert!(report.best_validation_accuracy >= 0.95, "{report:?}");
    let dir = tempfile::tempdir().unwrap();
    let artifacts = TaskArtifacts::new(dir.path().join("layers"));
    let record = sentiment_record(&backbone, peft, config, report);
    artifacts.save(&record, &m).unwrap();
    let (_, loaded) = artifacts.load(&backbone).unwrap();
    assert_eq!(loaded.head.input(), HeadInput::AllLayers);
    let batch = backbone
        .tokenizer
        .encode(&["the movie was good", "a cat"])
        .unwrap();
    let diff = max_abs_diff(
        &m.logits(&backbone, &batch).unwrap(),
        &loaded.logits(&backbone, &batch).unwrap(),
    );
    assert_eq!(diff, 0.0);
}

/// Mean cosine of same-label pairs minus that of different-label pairs, on the head's input.
fn class_separation(backbone: &Backbone, model: &TaskModel, examples: &[TokenizedExample]) -> f32 {
    let features = model.pooled_features(backbone, examples, 8).unwrap();
    let rows = features.to_vec2::<f32>().unwrap();
    let unit: Vec<Vec<f32>> = rows
        .iter()
        .map(|r| {
            let norm = r.iter().map(|x| x * x).sum::<f32>().sqrt();
            r.iter().map(|x| x / norm).collect()
        })
        .collect();
    let (mut same, mut different) = (Vec::new(), Vec::new());
    for i in 0..unit.len() {
        for j in 0..i {
            let cosine: f32 = unit[i].iter().zip(&unit[j]).map(|(a, b)| a * b).sum();
            if examples[i].label == examples[j].label {
                same.push(cosine);
            } else {
                different.push(cosine);
            }
        }
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    mean(&same) - mean(&different)
}

#[test]
fn the_pairwise_cosine_loss_separates_the_classes_features_more_than_cross_entropy_alone() {
    let backbone = tiny_backbone(5).unwrap();
    let tokenized = tokenize_examples(&backbone.tokenizer, &sentiment_examples()).unwrap();
    let separation = |contrastive_weight: f64| {
        let config = TrainConfig {
            epochs: 20,
            batch_size: 8,
            learning_rate: 1e-2,
            patience: 20,
            contrastive_weight,
            ..TrainConfig::default()
        };
        let m = model(&backbone, &PeftConfig::adapter(), 2);
        let report = train_task(&backbone, &m, &tokenized, &tokenized, &config, false).unwrap();
        assert!(report.best_validation_accuracy >= 0.95, "{report:?}");
        class_separation(&backbone, &m, &tokenized)
    };
    let (alone, with_pairs) = (separation(0.0), separation(1.0));
    // Measured 0.054 -> 0.124 (seed 5).
    assert!(with_pairs > alone + 0.05, "{alone} -> {with_pairs}");
}

#[test]
fn a_contrastive_weight_is_serialised_only_when_set_and_refused_when_negative() {
    let off = serde_json::to_string(&TrainConfig::default()).unwrap();
    assert!(!off.contains("contrastive_weight"), "{off}");
    let on = TrainConfig {
        contrastive_weight: 0.5,
        ..TrainConfig::default()
    };
    let text = serde_json::to_string(&on).unwrap();
    assert!(text.contains("\"contrastive_weight\":0.5"), "{text}");
    assert_eq!(serde_json::from_str::<TrainConfig>(&text).unwrap(), on);
    let negative = TrainConfig {
        contrastive_weight: -1.0,
        ..TrainConfig::default()
    };
    let message = negative.validate().unwrap_err().to_string();
    assert!(message.contains("contrastive_weight"), "{message}");
}
