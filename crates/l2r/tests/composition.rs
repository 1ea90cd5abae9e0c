//! Routed composition of several modules on the tiny model: one-hot weights reproduce a single module,
//! wavg and merge differ where they should, and router fitting trains only the routers.

use candle_core::{Device, Tensor};
use l2r::backbone::tiny::tiny_backbone;
use l2r::backbone::{mean_pool, Backbone};
use l2r::compose::{Composition, CompositionMode, FixedWeights, ModuleStack, Routed};
use l2r::embedded::EmbeddedExamples;
use l2r::head::{ClassifierHead, HeadInput};
use l2r::peft::{PeftConfig, PeftModule};
use l2r::router::{
    adapt_router, fit_router, fit_router_from, nearest_memory, GateKind, LocalAdaptation,
    PriorSources, RouterConfig, RouterInput, RouterScope, WarmFit, WarmStart,
};
use l2r::testing::{self, RandomTasks};
use l2r::train::TaskModel;

const TEXTS: [&str; 3] = ["the movie was good", "a cat eats red food", "dog"];

/// Modules with random (non-identity) parameters, so they differ from each other.
fn random_modules(backbone: &Backbone, peft: &PeftConfig, count: usize) -> Vec<PeftModule> {
    testing::random_modules(peft, &backbone.encoder.config, count, 0.3).unwrap()
}

fn pooled(backbone: &Backbone, hooks: &dyn l2r::backbone::EncoderHooks) -> Tensor {
    let batch = backbone.tokenizer.encode(&TEXTS).unwrap();
    mean_pool(
        &backbone.encoder.forward(&batch, hooks).unwrap(),
        &batch.attention_mask,
    )
    .unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    testing::max_diff(a, b).unwrap()
}

fn weights(rows: &[[f32; 3]]) -> Tensor {
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_vec(flat, (rows.len(), 3), &Device::Cpu).unwrap()
}

#[test]
fn one_hot_weights_reproduce_the_single_module_in_both_modes() {
    let backbone = tiny_backbone(7).unwrap();
    for peft in [PeftConfig::adapter(), PeftConfig::lora()] {
        let modules = random_modules(&backbone, &peft, 3);
        let refs: Vec<&PeftModule> = modules.iter().collect();
        let stack = ModuleStack::new(&refs, backbone.encoder.num_layers()).unwrap();
        // Example 0 -> module 1, example 1 -> module 2, example 2 -> module 0.
        let source = FixedWeights(vec![weights(&[[0., 1., 0.], [0., 0., 1.], [1., 0., 0.]])]);
        for mode in [CompositionMode::Wavg, CompositionMode::Merge] {
            let composed = pooled(&backbone, &Composition::new(&stack, mode, &source));
            for (row, module) in [(0usize, 1usize), (1, 2), (2, 0)] {
                let alone = pooled(&backbone, &modules[module]);
                let diff = max_diff(&composed.get(row).unwrap(), &alone.get(row).unwrap());
                assert!(
                    diff < 1e-5,
                    "{} {mode:?}: example {row} differs by {diff}",
                    peft.kind()
                );
            }
        }
    }
}

#[test]
fn mixed_weights_average_outputs_or_parameters_which_differ() {
    let backbone = tiny_backbone(8).unwrap();
    let modules = random_modules(&backbone, &PeftConfig::adapter(), 3);
    let refs: Vec<&PeftModule> = modules.iter().collect();
    let stack = ModuleStack::new(&refs, backbone.encoder.num_layers()).unwrap();
    let source = FixedWeights(vec![weights(&[
        [0.5, 0.5, 0.],
        [0.2, 0.3, 0.5],
        [1. / 3., 1. / 3., 1. / 3.],
    ])]);
    let wavg = pooled(
        &backbone,
        &Composition::new(&stack, CompositionMode::Wavg, &source),
    );
    let merge = pooled(
        &backbone,
        &Composition::new(&stack, CompositionMode::Merge, &source),
    );
    assert!(
        max_diff(&wavg, &merge) > 1e-4,
        "ReLU makes averaging outputs differ from averaging parameters"
    );
}

#[test]
fn router_fitting_learns_to_route_and_touches_nothing_else() {
    let backbone = tiny_backbone(9).unwrap();
    let tasks = RandomTasks::new(&backbone, 2).unwrap();
    let (modules, head_refs) = (&tasks.modules, tasks.head_refs());
    let before: Vec<Vec<f32>> = modules[0]
        .varmap()
        .all_vars()
        .iter()
        .map(|v| v.as_tensor().flatten_all().unwrap().to_vec1().unwrap())
        .collect();
    // Task 0 talks about films and food, task 1 about animals.
    let texts = [
        "the movie was good",
        "the food was bad",
        "a movie is fine",
        "the food is awful",
        "a cat runs",
        "a dog eats",
        "the cat is red",
        "the dog runs",
    ];
    let memory = EmbeddedExamples::new(
        &backbone,
        &texts,
        vec![0, 0, 0, 0, 1, 1, 1, 1],
        vec![1, 0, 1, 0, 0, 1, 0, 1],
    )
    .unwrap();
    for (input, scope, gate) in [
        (
            RouterInput::MeanPooled,
            RouterScope::PerLayer,
            GateKind::GumbelSigmoid,
        ),
        (
            RouterInput::LayerCls,
            RouterScope::PerLayer,
            GateKind::Softmax,
        ),
        (
            RouterInput::MeanPooled,
            RouterScope::Single,
            GateKind::GumbelSigmoid,
        ),
    ] {
        let config = RouterConfig {
            input,
            scope,
            gate,
            epochs: 40,
            batch_size: 4,
            task_id_loss: 1.0,
            similarity_prior: false,
            ..RouterConfig::default()
        };
        let routed = tasks.routed(&backbone, &head_refs);
        let (network, report) = fit_router(&routed, &memory, &config, 1, false).unwrap();
        assert!(
            report.epoch_losses.last().unwrap() < &report.epoch_losses[0],
            "{input:?} {scope:?}: {report:?}"
        );
        assert_eq!(
            network.num_routers(),
            if scope == RouterScope::Single { 1 } else { 2 }
        );
    }
    let after: Vec<Vec<f32>> = modules[0]
        .varmap()
        .all_vars()
        .iter()
        .map(|v| v.as_tensor().flatten_all().unwrap().to_vec1().unwrap())
        .collect();
    assert_eq!(before, after, "router fitting must not change the modules");
}

fn parameters(network: &l2r::router::RouterNetwork) -> Vec<Vec<f32>> {
    let mut vars: Vec<(String, Vec<f32>)> = network
        .varmap()
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(name, var)| {
            let values = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            (name.clone(), values)
        })
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars.into_iter().map(|(_, v)| v).collect()
}

#[test]
fn local_adaptation_changes_a_copy_and_leaves_the_fitted_routers_alone() {
    let backbone = tiny_backbone(11).unwrap();
    let tasks = RandomTasks::new(&backbone, 2).unwrap();
    let head_refs = tasks.head_refs();
    let routed = tasks.routed(&backbone, &head_refs);
    let texts = [
        "the movie was good",
        "the food was bad",
        "a cat runs",
        "a dog eats",
    ];
    let memory =
        EmbeddedExamples::new(&backbone, &texts, vec![0, 0, 1, 1], vec![1, 0, 0, 1]).unwrap();
    let config = RouterConfig {
        epochs: 2,
        batch_size: 2,
        ..RouterConfig::default()
    };
    let (network, _) = fit_router(&routed, &memory, &config, 3, false).unwrap();
    let fitted = parameters(&network);
    let copy = network.try_clone().unwrap();
    assert_eq!(parameters(&copy), fitted, "a clone starts equal");

    let test = EmbeddedExamples::new(&backbone, &["a cat eats"], vec![1], vec![0]).unwrap();
    let nearest = nearest_memory(&memory.frozen, &test.frozen, 2).unwrap();
    assert_eq!(nearest.len(), 2);
    let exact = nearest_memory(&memory.frozen, &memory.frozen.narrow(0, 2, 1).unwrap(), 1).unwrap();
    assert_eq!(
        exact,
        vec![2],
        "an example's nearest memory entry is itself"
    );

    let local = LocalAdaptation {
        neighbours: 2,
        steps: 3,
        ..LocalAdaptation::default()
    };
    let queries = test.features(network.config.input.representation());
    let adapted = adapt_router(&network, &routed, &memory, queries, &local, 5).unwrap();
    assert_ne!(
        parameters(&adapted),
        fitted,
        "the copy takes gradient steps"
    );
    assert_eq!(
        parameters(&network),
        fitted,
        "the fitted routers stay as they were"
    );
}

#[test]
fn a_warm_started_fit_replays_a_fixed_share_of_the_memory_and_a_top_k_fit_still_learns() {
    let backbone = tiny_backbone(13).unwrap();
    let modules = random_modules(&backbone, &PeftConfig::adapter(), 4);
    let refs: Vec<&PeftModule> = modules.iter().collect();
    let heads: Vec<ClassifierHead> = (0..4)
        .map(|i| ClassifierHead::new(16, 2, i).unwrap())
        .collect();
    let head_refs: Vec<&ClassifierHead> = heads.iter().collect();
    let texts = [
        "the movie was good",
        "a film is bad",
        "a cat runs",
        "the dog eats",
        "rain all day",
        "snow and wind",
        "stocks fell",
        "shares rose",
    ];
    let tasks = vec![0, 0, 1, 1, 2, 2, 3, 3];
    let memory =
        EmbeddedExamples::new(&backbone, &texts, tasks, vec![0, 1, 0, 1, 0, 1, 0, 1]).unwrap();
    let config = RouterConfig {
        epochs: 30,
        batch_size: 4,
        similarity_prior: false,
        warm_replay: 2,
        ..RouterConfig::default()
    };
    // The routers of the first three tasks.
    let stack3 = ModuleStack::new(&refs[..3], backbone.encoder.num_layers()).unwrap();
    let routed3 = Routed {
        backbone: &backbone,
        stack: &stack3,
        heads: &head_refs[..3],
        mode: CompositionMode::Wavg,
    };
    let memory3 = EmbeddedExamples::new(
        &backbone,
        &texts[..6],
        vec![0, 0, 1, 1, 2, 2],
        vec![0, 1, 0, 1, 0, 1],
    )
    .unwrap();
    let (previous, full) = fit_router(&routed3, &memory3, &config, 1, false).unwrap();
    assert_eq!(full.examples, 6, "a fresh fit runs on the whole memory");

    let stack = ModuleStack::new(&refs, backbone.encoder.num_layers()).unwrap();
    let routed = Routed {
        backbone: &backbone,
        stack: &stack,
        heads: &head_refs,
        mode: CompositionMode::Wavg,
    };
    let warm = WarmStart {
        previous: &previous,
        tasks: vec![Some(0), Some(1), Some(2), None],
    };
    for top_k in [None, Some(1)] {
        let config = RouterConfig {
            top_k,
            ..config.clone()
        };
        let sources = PriorSources::memory_only(&memory);
        let (network, report) =
            fit_router_from(&routed, sources, &config, 2, Some(&warm), false).unwrap();
        assert_eq!(
            report.examples,
            2 + 2,
            "the new task's two rows and two replayed: {top_k:?}"
        );
        assert!(report.epoch_losses.iter().all(|l| l.is_finite()));
        assert_eq!(
            top_modules(&routed, &network, &memory)[6..],
            [3, 3],
            "{top_k:?}: the new task's examples go to its module"
        );
    }
    // Training only the new task's rows: every earlier task's parameters and the shared ones stay as they were.
    let new_only = RouterConfig {
        top_k: Some(1),
        warm_fit: WarmFit::NewTasks,
        ..config.clone()
    };
    let sources = PriorSources::memory_only(&memory);
    let (network, _) = fit_router_from(&routed, sources, &new_only, 2, Some(&warm), false).unwrap();
    assert_eq!(top_modules(&routed, &network, &memory)[6..], [3, 3]);
    let before = previous.snapshot().unwrap();
    for (name, value) in network.snapshot().unwrap() {
        let old = &before.iter().find(|(n, _)| *n == name).unwrap().1;
        let kept = match value.dims().first() == Some(&4) {
            true => value.narrow(0, 0, 3).unwrap(),
            false => value,
        };
        assert_eq!(max_diff(&kept, old), 0.0, "{name} moved");
    }
    let everything = RouterConfig {
        warm_replay: 6,
        ..config
    };
    let sources = PriorSources::memory_only(&memory);
    let (_, report) =
        fit_router_from(&routed, sources, &everything, 2, Some(&warm), false).unwrap();
    assert_eq!(
        report.examples, 8,
        "a replay as large as the rest of the memory is all of it"
    );
}

/// Each memory example's module of largest layer-averaged weight.
fn top_modules(
    routed: &Routed,
    network: &l2r::router::RouterNetwork,
    memory: &EmbeddedExamples,
) -> Vec<usize> {
    let ids: Vec<&[u32]> = memory.ids.iter().map(Vec::as_slice).collect();
    let batch = routed.backbone.tokenizer.pad(&ids).unwrap();
    let features = memory.features(network.config.input.representation());
    let weights = l2r::router::RouterWeights::new(network, features.clone(), None);
    routed.head_logits(&batch, &weights).unwrap();
    let mean = weights.mean_weights().unwrap().to_vec2::<f32>().unwrap();
    mean.iter()
        .map(|row| {
            (0..row.len())
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap()
        })
        .collect()
}

#[test]
fn a_held_out_prior_scores_the_fit_and_the_full_one_is_kept() {
    use l2r::embedded::Representation;
    use l2r::router::{PriorFit, PriorReference};
    use l2r::statistics::{ClassStatistics, SharedGaussian};
    use std::sync::Arc;
    let backbone = tiny_backbone(13).unwrap();
    let tasks = RandomTasks::new(&backbone, 2).unwrap();
    let head_refs = tasks.head_refs();
    let routed = tasks.routed(&backbone, &head_refs);
    // Each task's training split: three examples per class. The memory is the first of each class.
    let splits = [
        [
            "the movie was good",
            "a film i loved",
            "great acting",
            "the food was bad",
            "awful soup",
            "cold and bland",
        ],
        [
            "a cat runs",
            "the cat sleeps",
            "my cat purrs",
            "a dog eats",
            "the dog barks",
            "dogs dig",
        ],
    ];
    let labels = [0, 0, 0, 1, 1, 1];
    let layers = |texts: &[&str], tasks: Vec<usize>, labels: Vec<usize>| {
        EmbeddedExamples::new(&backbone, texts, tasks, labels).unwrap()
    };
    let memory = layers(
        &[splits[0][0], splits[0][3], splits[1][0], splits[1][3]],
        vec![0, 0, 1, 1],
        vec![0, 1, 0, 1],
    );
    let (mut full, mut held_out) = (Vec::new(), Vec::new());
    for (task, texts) in splits.iter().enumerate() {
        let train = layers(texts, vec![task; 6], labels.to_vec());
        let statistics =
            ClassStatistics::fit(train.features(Representation::AllLayers), &labels, 2).unwrap();
        let own = layers(&[texts[0], texts[3]], vec![task; 2], vec![0, 1]);
        held_out.push(
            statistics
                .without(own.features(Representation::AllLayers), &[0, 1])
                .unwrap(),
        );
        full.push(statistics);
    }
    let gaussian = |stats: &[ClassStatistics]| {
        Some(Arc::new(
            SharedGaussian::new(&stats.iter().collect::<Vec<_>>()).unwrap(),
        ))
    };
    let sources = || PriorSources {
        within_task: None,
        gaussian: gaussian(&full),
        held_out_gaussian: gaussian(&held_out),
        ..PriorSources::memory_only(&memory)
    };
    let fit = |prior_fit| {
        let config = RouterConfig {
            epochs: 5,
            batch_size: 2,
            prior_reference: PriorReference::Gaussian,
            prior_fit,
            ..RouterConfig::default()
        };
        fit_router_from(&routed, sources(), &config, 4, None, false).map(|(network, _)| network)
    };
    let (in_sample, held) = (
        fit(PriorFit::InSample).unwrap(),
        fit(PriorFit::HeldOut).unwrap(),
    );
    assert_ne!(
        parameters(&in_sample),
        parameters(&held),
        "the held-out prior scores the memory differently, so the fit differs"
    );
    // Either way the routers keep the Gaussian of every training example.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("router.safetensors");
    held.save(&path).unwrap();
    let saved = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    let kept = gaussian(&full).unwrap();
    let precision = l2r::statistics::unpack_upper(&saved["prior.precision_upper"], 48).unwrap();
    assert_eq!(max_diff(&precision, kept.precision()), 0.0);
    // Asked for without the held-out Gaussian, the fit says what is missing.
    let config = RouterConfig {
        prior_reference: PriorReference::Gaussian,
        prior_fit: PriorFit::HeldOut,
        ..RouterConfig::default()
    };
    let missing = PriorSources {
        within_task: None,
        gaussian: gaussian(&full),
        ..PriorSources::memory_only(&memory)
    };
    let error = fit_router_from(&routed, missing, &config, 4, None, false)
        .err()
        .unwrap();
    assert!(error.to_string().contains("held_out"), "{error}");
}

#[test]
fn gaussian_replay_teaches_the_routers_where_each_tasks_statistics_lie() {
    use l2r::compose::LayerWeights;
    use l2r::router::RouterWeights;
    use l2r::statistics::{ClassGaussians, ClassStatistics};
    use rand::SeedableRng;
    let backbone = tiny_backbone(17).unwrap();
    let tasks = RandomTasks::new(&backbone, 2).unwrap();
    let head_refs = tasks.head_refs();
    let routed = tasks.routed(&backbone, &head_refs);
    let memory = EmbeddedExamples::new(
        &backbone,
        &["a cat", "the food", "a movie", "the dog"],
        vec![0, 0, 1, 1],
        vec![0, 1, 0, 1],
    )
    .unwrap();
    let dim = memory.frozen_layers.dim(1).unwrap();
    // Task 0's classes lie along +axis 0, task 1's along −axis 0, each class a little apart on axis 1: where the
    // memory's texts are not, so only the replayed rows can teach the routers the tasks' places.
    let statistics = |sign: f32| {
        let (mut rows, mut labels) = (Vec::new(), Vec::new());
        for class in 0..2 {
            for i in 0..40 {
                let mut row = vec![0f32; dim];
                row[0] = sign * 3.0;
                row[1] = class as f32 + 0.3 * ((i as f32) * 0.7).sin();
                row[2 + i % (dim - 2)] = 0.3 * ((i as f32) * 1.3).cos();
                rows.extend(row);
                labels.push(class);
            }
        }
        let features = Tensor::from_vec(rows, (80, dim), &Device::Cpu).unwrap();
        ClassStatistics::fit(&features, &labels, 2).unwrap()
    };
    let classes = [statistics(1.0), statistics(-1.0)];
    let gaussians = || ClassGaussians::new(&[&classes[0], &classes[1]]).unwrap();
    let fit = |gaussian_replay| {
        let config = RouterConfig {
            epochs: 8,
            batch_size: 2,
            similarity_prior: false,
            gaussian_replay,
            ..RouterConfig::default()
        };
        let sources = PriorSources {
            replay: Some(gaussians()),
            ..PriorSources::memory_only(&memory)
        };
        fit_router_from(&routed, sources, &config, 5, None, false)
            .unwrap()
            .0
    };
    // Fresh draws, scored by each network's layer-averaged weights.
    let mut rng = rand::rngs::StdRng::seed_from_u64(99);
    let (drawn, truth) = gaussians().draw(20, &mut rng, &Device::Cpu).unwrap();
    let routing_accuracy = |network: &l2r::router::RouterNetwork| {
        let weights = RouterWeights::new(network, drawn.clone(), None);
        let unread =
            Tensor::zeros((truth.len(), 1, 1), candle_core::DType::F32, &Device::Cpu).unwrap();
        for layer in 0..backbone.encoder.num_layers() {
            weights.weights(layer, &unread).unwrap();
        }
        let mean = weights.mean_weights().unwrap().to_vec2::<f32>().unwrap();
        let right = mean
            .iter()
            .zip(&truth)
            .filter(|(row, &task)| row[task] > row[1 - task])
            .count();
        right as f64 / truth.len() as f64
    };
    let (without, with) = (routing_accuracy(&fit(0)), routing_accuracy(&fit(20)));
    assert!(with > 0.95, "routing of drawn rows with replay: {with}");
    assert!(with > without, "with replay {with}, without {without}");
    // Asked for without the statistics, the fit says what is missing.
    let config = RouterConfig {
        gaussian_replay: 5,
        ..RouterConfig::default()
    };
    let error = fit_router_from(
        &routed,
        PriorSources::memory_only(&memory),
        &config,
        5,
        None,
        false,
    )
    .err()
    .unwrap();
    assert!(error.to_string().contains("gaussian_replay"), "{error}");
}

#[test]
fn heads_reading_every_layer_and_the_final_one_mix_in_one_routed_pass() {
    let backbone = tiny_backbone(17).unwrap();
    let encoder = &backbone.encoder.config;
    let modules = random_modules(&backbone, &PeftConfig::adapter(), 2);
    let refs: Vec<&PeftModule> = modules.iter().collect();
    let stack = ModuleStack::new(&refs, backbone.encoder.num_layers()).unwrap();
    let inputs = [HeadInput::AllLayers, HeadInput::FinalLayer];
    let heads: Vec<ClassifierHead> = inputs
        .iter()
        .enumerate()
        .map(|(i, &input)| ClassifierHead::for_input(input, encoder, 2, i as u64, &Device::Cpu))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(heads[0].input(), HeadInput::AllLayers);
    let head_refs: Vec<&ClassifierHead> = heads.iter().collect();
    let routed = Routed {
        backbone: &backbone,
        stack: &stack,
        heads: &head_refs,
        mode: CompositionMode::Wavg,
    };
    let batch = backbone.tokenizer.encode(&TEXTS).unwrap();
    for (module, source) in modules.iter().enumerate() {
        let chosen: Vec<f32> = (0..TEXTS.len() * 2)
            .map(|i| (i % 2 == module) as u8 as f32)
            .collect();
        let rows = Tensor::from_vec(chosen, (TEXTS.len(), 2), &Device::Cpu).unwrap();
        let one_hot = FixedWeights(vec![rows]);
        let logits = routed.head_logits(&batch, &one_hot).unwrap();
        for (head, input) in inputs.iter().enumerate() {
            let alone = TaskModel::new(
                PeftModule::new(&PeftConfig::adapter(), encoder, 0).unwrap(),
                ClassifierHead::for_input(*input, encoder, 2, head as u64, &Device::Cpu).unwrap(),
            );
            let tensors = l2r::io::varmap_tensors(source.varmap())
                .unwrap()
                .into_iter()
                .collect();
            alone
                .module
                .set_tensors(&tensors, std::path::Path::new("test"))
                .unwrap();
            let expected = alone.logits(&backbone, &batch).unwrap();
            let diff = max_diff(&logits[head], &expected);
            assert!(
                diff < 1e-4,
                "module {module}, head {head} ({input:?}): {diff}"
            );
        }
    }
    let features = routed.pooled_alone(&batch, 0).unwrap();
    let width = features
        .get(HeadInput::AllLayers)
        .unwrap()
        .dims2()
        .unwrap()
        .1;
    assert_eq!(width, HeadInput::AllLayers.dim(encoder));
    assert_eq!(width, (encoder.num_hidden_layers + 1) * encoder.hidden_size);
}

#[test]
fn a_ridge_prior_is_fitted_held_out_and_keeps_the_full_ridge() {
    use l2r::embedded::Representation;
    use l2r::router::{PriorFit, PriorReference};
    use l2r::statistics::{RandomProjection, RidgeClassifier, RidgeStatistics};
    let backbone = tiny_backbone(17).unwrap();
    let tasks = RandomTasks::new(&backbone, 2).unwrap();
    let head_refs = tasks.head_refs();
    let routed = tasks.routed(&backbone, &head_refs);
    let splits = [
        [
            "the movie was good",
            "a film i loved",
            "the food was bad",
            "awful soup",
        ],
        [
            "a cat runs",
            "the cat sleeps",
            "a dog eats",
            "the dog barks",
        ],
    ];
    let labels = [0, 0, 1, 1];
    let embed = |texts: &[&str], tasks: Vec<usize>, labels: Vec<usize>| {
        EmbeddedExamples::new(&backbone, texts, tasks, labels).unwrap()
    };
    let memory = embed(
        &[splits[0][0], splits[0][2], splits[1][0], splits[1][2]],
        vec![0, 0, 1, 1],
        vec![0, 1, 0, 1],
    );
    let representation = Representation::AllLayers;
    let width = memory.features(representation).dim(1).unwrap();
    let projection = RandomProjection::new(width, 16).unwrap();
    let (mut full, mut held_out) = (Vec::new(), Vec::new());
    for (task, texts) in splits.iter().enumerate() {
        let train = embed(texts, vec![task; 4], labels.to_vec());
        let features = train.features(representation);
        let statistics =
            RidgeStatistics::fit(&projection, (features, &labels), (features, &labels), 2).unwrap();
        let own = embed(&[texts[0], texts[2]], vec![task; 2], vec![0, 1]);
        let own = own.features(representation);
        held_out.push(statistics.without(&projection, own, &[0, 1]).unwrap());
        full.push(statistics);
    }
    let ridge = |stats: &[RidgeStatistics]| {
        let stats: Vec<&RidgeStatistics> = stats.iter().collect();
        RidgeClassifier::new(&stats, projection.clone(), representation).unwrap()
    };
    let config = |prior_fit| RouterConfig {
        epochs: 5,
        batch_size: 2,
        prior_reference: PriorReference::Ridge,
        prior_fit,
        ..RouterConfig::default()
    };
    let fit = |prior_fit, held: Option<RidgeClassifier>| {
        let sources = PriorSources {
            ridge: Some(ridge(&full)),
            held_out_ridge: held,
            ..PriorSources::memory_only(&memory)
        };
        fit_router_from(&routed, sources, &config(prior_fit), 4, None, false)
            .map(|(network, _)| network)
    };
    let in_sample = fit(PriorFit::InSample, None).unwrap();
    let held = fit(PriorFit::HeldOut, Some(ridge(&held_out))).unwrap();
    assert_ne!(
        parameters(&in_sample),
        parameters(&held),
        "the held-out ridge scores the memory differently, so the fit differs"
    );
    // The routers keep the ridge of every training example: its weights, one row per class.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("router.safetensors");
    held.save(&path).unwrap();
    let saved = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    let kept = ridge(&full).weights().t().unwrap();
    assert_eq!(max_diff(&saved["prior.references"], &kept), 0.0);
    // Asked for held out without the held-out ridge, the fit says what is missing.
    let error = fit(PriorFit::HeldOut, None).err().unwrap();
    assert!(error.to_string().contains("held_out"), "{error}");
}
