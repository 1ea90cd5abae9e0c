use super::Output;
use anyhow::Context;
use clap::Args;
use l2r::predict::RunPredictor;
use std::path::PathBuf;

#[derive(Args)]
pub struct PredictArgs {
    /// The run folder (the --out of `l2r run`).
    #[arg(long, required_unless_present = "library", conflicts_with = "library")]
    run: Option<PathBuf>,
    /// A task library: its current generation answers (or `--generation`).
    #[arg(long)]
    library: Option<PathBuf>,
    /// With --library: the generation that answers (default: the current one).
    #[arg(long, requires = "library")]
    generation: Option<u64>,
    /// Run only each text's K most weighted modules per layer (top-k sparse composition), overriding the run's or
    /// library's `[router] top_k`; the cost of a text then stays that of K modules however many tasks there are.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    top_k: Option<u64>,
    /// Which seed's sequence answers (default: the config's first).
    #[arg(long)]
    seed: Option<u64>,
    /// Which task order's sequence answers (default: the config's first).
    #[arg(long)]
    order: Option<usize>,
    /// Restrict the answer to this task's labels, with its own module and head (TIL).
    #[arg(long)]
    task: Option<String>,
    /// Read texts from this file, one per line (besides any given as arguments).
    #[arg(long)]
    file: Option<PathBuf>,
    /// Texts to classify.
    texts: Vec<String>,
}

pub fn run(args: PredictArgs, output: &Output) -> anyhow::Result<()> {
    let mut texts = args.texts.clone();
    if let Some(path) = &args.file {
        let content = std::fs::read_to_string(path)
            .with_context(|| format!("reading texts from {}", path.display()))?;
        texts.extend(
            content
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned),
        );
    }
    if texts.is_empty() {
        anyhow::bail!("no texts to classify: give them as arguments or with --file");
    }
    let mut predictor = match (&args.run, &args.library) {
        (_, Some(dir)) => {
            output.info(format!("loading task library {}", dir.display()));
            super::open_library(dir, output)?.predictor(args.generation)?
        }
        (Some(run), None) => {
            output.info(format!("loading run {}", run.display()));
            RunPredictor::load_on(run, args.seed, args.order, output.device)?
        }
        (None, None) => anyhow::bail!("give --run DIR or --library DIR"),
    };
    if let Some(k) = args.top_k {
        predictor.set_top_k(Some(k as usize));
    }
    output.info(format!(
        "seed {} order {}: {} tasks after step {}",
        predictor.seed,
        predictor.order,
        predictor.tasks().len(),
        predictor.step
    ));
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let predictions = predictor.predict(&refs, args.task.as_deref())?;
    if output.json {
        let rows: Vec<serde_json::Value> = texts
            .iter()
            .zip(&predictions)
            .map(|(text, p)| serde_json::json!({ "text": text, "prediction": p }))
            .collect();
        return output.print_json(&serde_json::Value::Array(rows));
    }
    for (text, p) in texts.iter().zip(&predictions) {
        let gates: Vec<String> = p
            .gates
            .iter()
            .map(|g| format!("{}={:.2}", g.task, g.weight))
            .collect();
        println!(
            "{}\t{}\t{:.3}\t[{}]\t{}",
            p.label,
            p.task,
            p.score,
            gates.join(" "),
            text
        );
    }
    Ok(())
}
