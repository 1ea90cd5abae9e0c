use super::Output;
use anyhow::Context;
use clap::Args;
use l2r::backbone::Precision;
use l2r::continual::{run as run_continual, RunConfig, RunLayout};
use std::path::PathBuf;

#[derive(Args)]
pub struct RunArgs {
    /// The run's TOML config (see configs/).
    #[arg(required_unless_present = "resume", conflicts_with = "resume")]
    config: Option<PathBuf>,
    /// Run folder (default runs/<config name>).
    #[arg(long, conflicts_with = "resume")]
    out: Option<PathBuf>,
    /// Continue an interrupted run from its folder, with the config it started with.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Override the config's `precision`: fp32, or bf16 on CPUs with AVX-512 BF16.
    #[arg(long, conflicts_with = "resume")]
    precision: Option<Precision>,
}

pub fn run(args: RunArgs, output: &Output) -> anyhow::Result<()> {
    let (config_path, dir) = match (&args.resume, &args.config) {
        (Some(dir), _) => (RunLayout::config_path(dir), dir.clone()),
        (None, Some(config)) => {
            let stem = config.file_stem().and_then(|s| s.to_str()).unwrap_or("run");
            (
                config.clone(),
                args.out
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("runs").join(stem)),
            )
        }
        (None, None) => anyhow::bail!("give a config file or --resume <run folder>"),
    };
    if args.resume.is_some() && !config_path.is_file() {
        anyhow::bail!(
            "{} is not a run folder: it has no config.toml",
            dir.display()
        );
    }
    let mut config = RunConfig::from_file(&config_path)?;
    config.precision = args.precision.unwrap_or(config.precision);
    config.device = output.device.unwrap_or(config.device);
    output.info(format!("run folder {}", dir.display()));
    let summary = run_continual(&config, &dir, output.progress())
        .with_context(|| format!("run in {}", dir.display()))?;
    if output.json {
        return output.print_json(&serde_json::to_value(&summary)?);
    }
    let width = summary
        .average_accuracy
        .keys()
        .chain(summary.routing_accuracy.keys())
        .map(|s| s.display_name().len())
        .max()
        .unwrap_or(5);
    println!(
        "{:<width$} {:>18} {:>18} {:>18}",
        "setup", "avg accuracy", "BWT", "forgetting"
    );
    for (setup, acc) in &summary.average_accuracy {
        println!(
            "{:<width$} {:>18} {:>18} {:>18}",
            setup.display_name(),
            acc.to_string(),
            summary.bwt[setup].to_string(),
            summary.forgetting[setup].to_string()
        );
    }
    for (setup, acc) in &summary.routing_accuracy {
        println!("{:<width$} {:>18}", setup.display_name(), acc.to_string());
    }
    println!("CIL weighted F1 {}", summary.cil_weighted_f1);
    println!(
        "metrics: {}",
        RunLayout::new(&dir, &config)?.metrics().display()
    );
    Ok(())
}
