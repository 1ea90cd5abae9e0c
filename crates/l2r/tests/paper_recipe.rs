//! The paper's router recipe (each layer's router reads that layer's [CLS] state; Gumbel-sigmoid gates; loss over
//! the concatenated heads; no prior, no head calibration) on the real MiniLM: routers fitted on two tasks whose
//! inputs differ must give gates that differ by task. Raw [CLS] states made every input's gates the same
//! (router/standardise.rs says why); MiniLM must be present (`scripts/setup.sh`).

use candle_core::Tensor;
use l2r::backbone::{Backbone, BackboneName, DEFAULT_MAX_LEN};
use l2r::compose::{CompositionMode, ModuleStack, Routed};
use l2r::data::Example;
use l2r::embedded::EmbeddedExamples;
use l2r::head::ClassifierHead;
use l2r::peft::{PeftConfig, PeftModule};
use l2r::router::{
    fit_router, GateKind, RouterConfig, RouterInput, RouterObjective, RouterScope, RouterWeights,
};
use l2r::train::{tokenize_examples, train_task, TaskModel, TrainConfig};

/// Task 0: films, good or bad. Task 1: money, up or down. Same sentence shapes, different topics.
const TASKS: [[(&str, usize); 8]; 2] = [
    [
        ("a wonderful film with a moving story", 0),
        ("the best movie I have seen this year", 0),
        ("the actors were brilliant and the plot gripping", 0),
        ("a delightful comedy, I laughed all night", 0),
        ("a dull film with a boring story", 1),
        ("the worst movie I have seen this year", 1),
        ("the actors were wooden and the plot silly", 1),
        ("a tedious comedy, nobody laughed at all", 1),
    ],
    [
        ("shares rose sharply after strong quarterly profits", 0),
        ("the stock market gained for a third day", 0),
        ("bank earnings beat forecasts and the index climbed", 0),
        (
            "investors cheered as bond yields fell and stocks rallied",
            0,
        ),
        ("shares fell sharply after weak quarterly profits", 1),
        ("the stock market lost ground for a third day", 1),
        ("bank earnings missed forecasts and the index dropped", 1),
        ("investors fled as bond yields rose and stocks slumped", 1),
    ],
];

fn trained_task(backbone: &Backbone, task: usize) -> TaskModel {
    let examples: Vec<Example> = TASKS[task]
        .iter()
        .map(|&(text, label)| Example {
            text: text.into(),
            label,
        })
        .collect();
    let encoder = &backbone.encoder.config;
    let model = TaskModel::new(
        PeftModule::new(&PeftConfig::adapter(), encoder, task as u64).unwrap(),
        ClassifierHead::new(encoder.hidden_size, 2, task as u64).unwrap(),
    );
    let tokenized = tokenize_examples(&backbone.tokenizer, &examples).unwrap();
    let config = TrainConfig {
        epochs: 8,
        batch_size: 8,
        learning_rate: 3e-3,
        patience: 8,
        ..TrainConfig::default()
    };
    train_task(backbone, &model, &tokenized, &tokenized, &config, false).unwrap();
    model
}

#[test]
fn layer_cls_routers_fitted_by_the_papers_recipe_give_each_task_its_own_gates() {
    let backbone =
        Backbone::load(BackboneName::Minilm, DEFAULT_MAX_LEN).unwrap_or_else(|e| panic!("{e}"));
    let models = [trained_task(&backbone, 0), trained_task(&backbone, 1)];
    let modules: Vec<&PeftModule> = models.iter().map(|m| &m.module).collect();
    let heads: Vec<&ClassifierHead> = models.iter().map(|m| &m.head).collect();
    let stack = ModuleStack::for_backbone(&modules, &backbone).unwrap();
    let routed = Routed {
        backbone: &backbone,
        stack: &stack,
        heads: &heads,
        mode: CompositionMode::Wavg,
    };
    let texts: Vec<&str> = TASKS.iter().flatten().map(|(text, _)| *text).collect();
    let tasks: Vec<usize> = (0..16).map(|i| i / 8).collect();
    let labels: Vec<usize> = TASKS.iter().flatten().map(|(_, label)| *label).collect();
    let memory = EmbeddedExamples::new(&backbone, &texts, tasks.clone(), labels).unwrap();
    let config = RouterConfig {
        input: RouterInput::LayerCls,
        scope: RouterScope::PerLayer,
        gate: GateKind::GumbelSigmoid,
        objective: RouterObjective::Concat,
        similarity_prior: false,
        calibrate_heads: false,
        epochs: 30,
        learning_rate: 1e-2,
        batch_size: 8,
        ..RouterConfig::default()
    };
    let (network, _) = fit_router(&routed, &memory, &config, 0, false).unwrap();

    let batch = backbone.tokenizer.encode(&texts).unwrap();
    let weights = RouterWeights::new(&network, memory.frozen.clone(), None);
    routed.head_logits(&batch, &weights).unwrap();
    // Layer 0's router reads the [CLS] embedding, the same for every input: its gates cannot differ, so the
    // layers after it are the ones to judge.
    let later = weights.weights.borrow()[1..].to_vec();
    let gates = Tensor::stack(&later, 0).unwrap().mean(0).unwrap();
    let module0: Vec<f32> = gates
        .narrow(1, 0, 1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let mean = |task: usize| module0[task * 8..(task + 1) * 8].iter().sum::<f32>() / 8.0;
    let own = (0..16)
        .filter(|&i| (module0[i] > 0.5) == (tasks[i] == 0))
        .count();
    eprintln!(
        "module 0's weight: {:.3} on task 0, {:.3} on task 1; {own} of 16 favour their own module",
        mean(0),
        mean(1)
    );
    assert!(
        mean(0) - mean(1) > 0.1 && own >= 12,
        "module 0's weight: {:.3} on task 0, {:.3} on task 1; {own} of 16 inputs favour their own module",
        mean(0),
        mean(1)
    );
}
