use super::Output;
use anyhow::Context;
use clap::Args;
use l2r::data::{load_builtin, write_task_csv, BUILTIN_TASKS};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TasksArgs {
    /// Write this built-in task (or some of its labels, `--labels`) as a `text,label` CSV file to `--out`,
    /// instead of listing the tasks: new tasks cut from the shipped corpora, for `[[tasks]]` or `library add`.
    #[arg(long, requires = "out")]
    export: Option<String>,
    /// The CSV file `--export` writes.
    #[arg(long, requires = "export")]
    out: Option<PathBuf>,
    /// With --export: only these labels (comma-separated).
    #[arg(long, value_delimiter = ',', requires = "export")]
    labels: Option<Vec<String>>,
    /// With --export: at most this many examples of each label (a seeded sample).
    #[arg(long, requires = "export")]
    per_class: Option<usize>,
    /// With --export and --per-class: the sample's seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(args: TasksArgs, output: &Output) -> anyhow::Result<()> {
    if let (Some(name), Some(out)) = (&args.export, &args.out) {
        return export(name, out, &args, output);
    }
    let mut rows = Vec::new();
    for name in BUILTIN_TASKS {
        let dataset = load_builtin(name)?;
        rows.push(serde_json::json!({
            "task": name, "examples": dataset.len(), "labels": dataset.labels, "counts": dataset.class_counts()
        }));
        if !output.json {
            println!(
                "{name:<14} {:>6} examples  {}",
                dataset.len(),
                dataset.class_summary()
            );
        }
    }
    if output.json {
        output.print_json(&serde_json::Value::Array(rows))?;
    }
    Ok(())
}

fn export(name: &str, out: &PathBuf, args: &TasksArgs, output: &Output) -> anyhow::Result<()> {
    if !BUILTIN_TASKS.contains(&name) {
        anyhow::bail!(
            "'{name}' is not a built-in task; `l2r tasks` lists them: {}",
            BUILTIN_TASKS.join(", ")
        );
    }
    let dataset = load_builtin(name)?;
    let rows = write_task_csv(
        &dataset,
        args.labels.as_deref(),
        args.per_class,
        args.seed,
        out,
    )
    .with_context(|| format!("exporting {name}"))?;
    if output.json {
        output.print_json(&serde_json::json!({ "task": name, "out": out, "rows": rows }))?;
    } else if !output.quiet {
        println!("{rows} examples of {name} written to {}", out.display());
    }
    Ok(())
}
