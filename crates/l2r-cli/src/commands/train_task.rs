use super::{BackboneArgs, Output, SplitArgs};
use anyhow::Context;
use clap::{Args, ValueEnum};
use l2r::backbone::LinearSite;
use l2r::head::{ClassifierHead, HeadInput};
use l2r::peft::{PeftConfig, PeftModule};
use l2r::train::{
    default_dir, task_splits, tokenize_examples, train_task, HeadInit, TaskArtifacts, TaskModel,
    TaskRecord, TrainConfig,
};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum PeftKind {
    Adapter,
    Lora,
}

#[derive(Args)]
pub struct TrainTaskArgs {
    /// A built-in task (see `l2r tasks`) or a .csv/.jsonl/.tsv file with text and label columns.
    #[arg(long)]
    task: String,
    /// The module type.
    #[arg(long, value_enum, default_value = "adapter")]
    peft: PeftKind,
    /// Bottleneck size of the adapter.
    #[arg(long, default_value_t = 64)]
    adapter_size: usize,
    #[arg(long, default_value_t = 8)]
    lora_rank: usize,
    #[arg(long, default_value_t = 16.0)]
    lora_alpha: f64,
    /// Frozen linears LoRA adapts (comma-separated: query,key,value,attention_output,intermediate,output).
    #[arg(long, value_delimiter = ',', default_value = "query,value")]
    lora_targets: Vec<String>,
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    epochs: usize,
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    batch_size: usize,
    /// Peak learning rate (AdamW; linear warm-up over the first 10% of steps, then linear decay).
    #[arg(long, default_value_t = TrainConfig::default().learning_rate)]
    lr: f64,
    /// Stop after this many epochs without a better validation accuracy.
    #[arg(long, default_value_t = TrainConfig::default().patience)]
    patience: usize,
    /// How the head starts: `random`, or `probe` (a linear probe on the frozen features first; LP-FT).
    #[arg(long, value_parser = parse_head_init, default_value = head_init_name(TrainConfig::default().head_init))]
    head_init: HeadInit,
    /// What the head reads: `final_layer` (the final layer's mean pool) or `all_layers` (every layer's, concatenated).
    #[arg(long, value_parser = parse_head_input, default_value = head_input_name(TrainConfig::default().head_input))]
    head_input: HeadInput,
    /// Weight of the SetFit-style pairwise cosine loss on the head's input, added to the cross-entropy (0: off).
    #[arg(long, default_value_t = TrainConfig::default().contrastive_weight)]
    contrastive_weight: f64,
    /// Output folder (default runs/<task>-<peft>).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    split: SplitArgs,
    #[command(flatten)]
    backbone: BackboneArgs,
}

impl TrainTaskArgs {
    fn peft_config(&self) -> anyhow::Result<PeftConfig> {
        Ok(match self.peft {
            PeftKind::Adapter => PeftConfig::Adapter {
                size: self.adapter_size,
            },
            PeftKind::Lora => PeftConfig::Lora {
                rank: self.lora_rank,
                alpha: self.lora_alpha,
                targets: self
                    .lora_targets
                    .iter()
                    .map(|t| parse_site(t))
                    .collect::<anyhow::Result<_>>()?,
            },
        })
    }
}

fn parse_head_init(name: &str) -> anyhow::Result<HeadInit> {
    parse_named(name, "head start", "random, probe")
}

fn head_init_name(init: HeadInit) -> &'static str {
    match init {
        HeadInit::Random => "random",
        HeadInit::Probe => "probe",
    }
}

fn parse_head_input(name: &str) -> anyhow::Result<HeadInput> {
    parse_named(name, "head input", "final_layer, all_layers")
}

fn head_input_name(input: HeadInput) -> &'static str {
    match input {
        HeadInput::FinalLayer => "final_layer",
        HeadInput::AllLayers => "all_layers",
    }
}

fn parse_site(name: &str) -> anyhow::Result<LinearSite> {
    let known = "query, key, value, attention_output, intermediate, output";
    parse_named(name, "LoRA target", known)
}

/// A value named as in the config files (its serde name), or an error listing the `known` names.
fn parse_named<T: serde::de::DeserializeOwned>(
    name: &str,
    what: &str,
    known: &str,
) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::Value::String(name.trim().to_owned()))
        .with_context(|| format!("unknown {what} '{name}' (known: {known})"))
}

pub fn run(args: TrainTaskArgs, output: &Output) -> anyhow::Result<()> {
    let peft = args.peft_config()?;
    peft.validate()?;
    let train_config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        patience: args.patience,
        seed: args.split.seed,
        head_init: args.head_init,
        head_input: args.head_input,
        contrastive_weight: args.contrastive_weight,
        ..TrainConfig::default()
    };
    train_config.validate()?;
    let (dataset, splits) = task_splits(&args.task, &args.split.spec())?;
    output.info(format!(
        "task {}: {} labels, {} train / {} validation / {} test examples",
        args.task,
        dataset.labels.len(),
        splits.train.len(),
        splits.validation.len(),
        splits.test.len()
    ));
    let backbone = args.backbone.load(output)?;
    let encoder = &backbone.encoder.config;
    let (seed, device) = (args.split.seed, backbone.device());
    let labels = dataset.labels.len();
    let model = TaskModel::new(
        PeftModule::new_on(&peft, encoder, seed, device)?,
        ClassifierHead::for_input(args.head_input, encoder, labels, seed, device)?,
    );
    let train = tokenize_examples(&backbone.tokenizer, &splits.train)?;
    let validation = tokenize_examples(&backbone.tokenizer, &splits.validation)?;
    let report = train_task(
        &backbone,
        &model,
        &train,
        &validation,
        &train_config,
        output.progress(),
    )?;
    let test = model.scores(
        &backbone,
        &tokenize_examples(&backbone.tokenizer, &splits.test)?,
        train_config.eval_batch_size,
    )?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_dir(&args.task, &peft));
    let record = TaskRecord {
        task: args.task.clone(),
        labels: dataset.labels.clone(),
        backbone: args.backbone.backbone,
        max_len: args.backbone.max_len,
        peft,
        train: train_config,
        split: args.split.spec(),
        report: Some(report.clone()),
        test: Some(test),
    };
    TaskArtifacts::new(&dir).save(&record, &model)?;
    if output.json {
        return output.print_json(&serde_json::json!({ "dir": dir, "record": record }));
    }
    println!(
        "{}: test accuracy {:.4}, macro-F1 {:.4} ({} examples); best epoch {} (validation {:.4}); {} trainable parameters; {:.0} train tokens/s",
        args.task,
        test.accuracy,
        test.macro_f1,
        test.count,
        report.best_epoch,
        report.best_validation_accuracy,
        report.trainable_parameters,
        report.train_tokens_per_second
    );
    println!("saved to {}", dir.display());
    Ok(())
}
