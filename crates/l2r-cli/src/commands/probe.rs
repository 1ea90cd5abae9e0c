use super::{BackboneArgs, Output, SplitArgs};
use clap::Args;
use l2r::train::{task_splits, train_linear_probe, ProbeConfig};

#[derive(Args)]
pub struct ProbeArgs {
    /// A built-in task (see `l2r tasks`) or a .csv/.jsonl/.tsv file.
    #[arg(long)]
    task: String,
    /// Full-batch optimisation steps.
    #[arg(long, default_value_t = 300)]
    epochs: usize,
    #[arg(long, default_value_t = 1e-2)]
    lr: f64,
    #[command(flatten)]
    split: SplitArgs,
    #[command(flatten)]
    backbone: BackboneArgs,
}

pub fn run(args: ProbeArgs, output: &Output) -> anyhow::Result<()> {
    let (dataset, splits) = task_splits(&args.task, &args.split.spec())?;
    let backbone = args.backbone.load(output)?;
    let config = ProbeConfig {
        epochs: args.epochs,
        learning_rate: args.lr,
        seed: args.split.seed,
        ..ProbeConfig::default()
    };
    let report = train_linear_probe(
        &backbone,
        &splits,
        dataset.labels.len(),
        &config,
        output.progress(),
    )?;
    if output.json {
        return output.print_json(&serde_json::json!({ "task": args.task, "probe": report }));
    }
    println!(
        "{} linear probe: test accuracy {:.4}, macro-F1 {:.4} ({} examples); validation {:.4} at step {}",
        args.task, report.test.accuracy, report.test.macro_f1, report.test.count, report.validation_accuracy, report.best_epoch
    );
    Ok(())
}
