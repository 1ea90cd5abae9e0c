use super::Output;
use clap::Args;
use l2r::backbone::Backbone;
use l2r::train::{task_splits, tokenize_examples, TaskArtifacts};
use std::path::PathBuf;

#[derive(Args)]
pub struct EvalTaskArgs {
    /// A folder written by `l2r train-task`.
    dir: PathBuf,
}

pub fn run(args: EvalTaskArgs, output: &Output) -> anyhow::Result<()> {
    let artifacts = TaskArtifacts::new(&args.dir);
    let record = artifacts.load_record()?;
    output.info(format!("loading backbone {:?}", record.backbone));
    let device = output.device.unwrap_or_default().open()?;
    let backbone = Backbone::load_on(record.backbone, record.max_len, &device)?;
    let (_, model) = artifacts.load(&backbone)?;
    let (dataset, splits) = task_splits(&record.task, &record.split)?;
    if dataset.labels != record.labels {
        anyhow::bail!(
            "the labels of task '{}' are now {:?} but the module was trained on {:?}",
            record.task,
            dataset.labels,
            record.labels
        );
    }
    let scores = model.scores(
        &backbone,
        &tokenize_examples(&backbone.tokenizer, &splits.test)?,
        record.train.eval_batch_size,
    )?;
    if output.json {
        return output.print_json(
            &serde_json::json!({ "task": record.task, "peft": record.peft, "test": scores }),
        );
    }
    println!(
        "{} ({}): test accuracy {:.4}, macro-F1 {:.4}, weighted F1 {:.4} on {} examples",
        record.task,
        record.peft.kind(),
        scores.accuracy,
        scores.macro_f1,
        scores.weighted_f1,
        scores.count
    );
    Ok(())
}
