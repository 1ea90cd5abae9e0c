//! `l2r library`: a task library that learns and forgets tasks one at a time, each change a new generation.

use super::{open_library, Output};
use clap::{Args, Subcommand};
use l2r::continual::TaskFileFormat;
use l2r::library::{
    index_from_environment, JobOptions, Library, LibraryConfig, Manifest, Published, TaskList,
    TaskSource,
};
use l2r::metrics::{Approach, Setup};
use std::path::PathBuf;

#[derive(Args)]
pub struct LibraryArgs {
    #[command(subcommand)]
    command: LibraryCommand,
}

#[derive(Subcommand)]
enum LibraryCommand {
    /// Create an empty library: backbone, module, memory, router and precision settings (`--config`, a TOML file
    /// with the keys of a run config less `benchmark`, `[[tasks]]`, `seeds` and `orders`; `seed` instead).
    Init {
        dir: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Train a task in isolation, refit the routers and publish a new generation; prints every task's accuracy
    /// before and after.
    Add {
        dir: PathBuf,
        /// The task's name (ASCII letters, digits, '-', '_', '.').
        #[arg(long)]
        name: String,
        /// Its data: .csv/.tsv with `text` and `label` columns, .jsonl, a file in one of the paper's formats
        /// (`--format`), or a built-in task's name (`l2r tasks`).
        #[arg(long)]
        data: PathBuf,
        #[arg(long, value_enum, default_value = "text-label")]
        format: Format,
        /// Finish an add that was interrupted.
        #[arg(long)]
        resume: bool,
    },
    /// Train a task in isolation into the library's staging area, for a later `publish` (the first half of `add`;
    /// many can run at once, on machines sharing the library's folder). A no-op when the task is staged already.
    Train {
        dir: PathBuf,
        /// The task's name (with --data), as for `add`.
        #[arg(long, requires = "data", conflicts_with = "tasks")]
        name: Option<String>,
        #[arg(long, requires = "name")]
        data: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text-label")]
        format: Format,
        /// Or: a task list (`[[tasks]]` with `name`, `data`, `format`), of which this trains one task.
        #[arg(long)]
        tasks: Option<PathBuf>,
        /// The list's task to train (from 0); default: $SLURM_ARRAY_TASK_ID or $JOB_COMPLETION_INDEX.
        #[arg(long, requires = "tasks")]
        index: Option<usize>,
    },
    /// Publish one generation with the staged tasks (all of them, or exactly those of `--tasks`), the routers
    /// fitted once over every task of the library (the second half of `add`).
    Publish {
        dir: PathBuf,
        /// Publish exactly this list's tasks, and refuse while any of them is not staged.
        #[arg(long)]
        tasks: Option<PathBuf>,
        /// Finish a publish that was interrupted.
        #[arg(long)]
        resume: bool,
    },
    /// Write the job files that train a task list on a cluster (one job per task) and then publish it, and print
    /// how to submit them.
    Plan {
        dir: PathBuf,
        /// A Slurm job array (`train.sbatch`) and a publish job that depends on it (`publish.sbatch`).
        #[arg(
            long,
            value_name = "TASKS.toml",
            required_unless_present = "k8s",
            conflicts_with = "k8s"
        )]
        slurm: Option<PathBuf>,
        /// A Kubernetes Indexed Job and a publish Job over the library's volume.
        #[arg(long, value_name = "TASKS.toml")]
        k8s: Option<PathBuf>,
        /// Where the job files go (default: DIR/cluster/slurm or DIR/cluster/k8s).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Training jobs running at once.
        #[arg(long, default_value_t = 4)]
        max_parallel: usize,
        /// Cores per job (its threads): two one-core jobs at once train 1.15× faster than one two-core job (BENCHMARKS.md).
        #[arg(long, default_value_t = 1)]
        cpus_per_task: usize,
        /// The l2r binary as the jobs see it (default: this one for Slurm, `l2r` on the image's PATH for Kubernetes).
        #[arg(long)]
        l2r: Option<PathBuf>,
        /// Kubernetes: the container image with l2r and its assets.
        #[arg(long, default_value = "l2r:latest")]
        image: String,
        /// Kubernetes: the PersistentVolumeClaim that holds the library's folder.
        #[arg(long, default_value = "l2r-library")]
        claim: String,
        /// Kubernetes: where the pods mount it.
        #[arg(long, default_value = "/library")]
        mount: PathBuf,
    },
    /// Publish a generation without the task (its files stay until `gc`).
    Remove {
        dir: PathBuf,
        name: String,
        /// Finish a remove that was interrupted.
        #[arg(long)]
        resume: bool,
    },
    /// The current generation's tasks.
    List { dir: PathBuf },
    /// One generation (default: the current): its tasks, change and per-task accuracies.
    Show {
        dir: PathBuf,
        #[arg(long)]
        generation: Option<u64>,
    },
    /// Evaluate one generation (default: the current) on every test example of every task, where its add evaluated
    /// the earlier tasks on `evaluation_budget` examples; prints both. Kept in the generation once computed.
    Evaluate {
        dir: PathBuf,
        #[arg(long)]
        generation: Option<u64>,
    },
    /// Every generation on disk.
    History { dir: PathBuf },
    /// Serve an earlier generation again.
    Rollback { dir: PathBuf, generation: u64 },
    /// Delete all but the `--keep` newest generations (and the current), and every task no kept generation holds.
    Gc {
        dir: PathBuf,
        #[arg(long, default_value_t = 1)]
        keep: usize,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    TextLabel,
    Mtl5,
    Afrisenti,
    WosLevel1,
    WosLevel2,
}

impl From<Format> for TaskFileFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::TextLabel => TaskFileFormat::TextLabel,
            Format::Mtl5 => TaskFileFormat::Mtl5,
            Format::Afrisenti => TaskFileFormat::Afrisenti,
            Format::WosLevel1 => TaskFileFormat::WosLevel1,
            Format::WosLevel2 => TaskFileFormat::WosLevel2,
        }
    }
}

pub fn run(args: LibraryArgs, output: &Output) -> anyhow::Result<()> {
    match args.command {
        LibraryCommand::Init { dir, config } => {
            let config = match config {
                Some(path) => LibraryConfig::from_file(&path)?,
                None => LibraryConfig::default(),
            };
            Library::init(&dir, config)?;
            output.info(format!(
                "created an empty task library in {}",
                dir.display()
            ));
            Ok(())
        }
        LibraryCommand::Add {
            dir,
            name,
            data,
            format,
            resume,
        } => {
            let library = open_library(&dir, output)?;
            let source = TaskSource {
                name,
                data,
                format: format.into(),
            };
            let published = library.add(source, resume, output.progress())?;
            print_published(&published, &dir, output)
        }
        LibraryCommand::Train {
            dir,
            name,
            data,
            format,
            tasks,
            index,
        } => {
            let library = open_library(&dir, output)?;
            let source = match (name, data, tasks) {
                (Some(name), Some(data), None) => TaskSource {
                    name,
                    data,
                    format: format.into(),
                },
                (None, None, Some(list)) => {
                    let list = TaskList::from_file(&list)?;
                    let index = match index {
                        Some(i) => i,
                        None => index_from_environment()?,
                    };
                    list.get(index)?.clone()
                }
                _ => anyhow::bail!("give either --name and --data, or --tasks"),
            };
            let staged = library.train(&source, output.progress())?;
            output.info(format!(
                "staged task {} (accuracy {:.4} on its test split); publish with `l2r library publish {}`",
                staged.source.name,
                staged.accuracy,
                dir.display()
            ));
            Ok(())
        }
        LibraryCommand::Publish { dir, tasks, resume } => {
            let library = open_library(&dir, output)?;
            let expected = tasks
                .map(|list| TaskList::from_file(&list).map(|l| l.names()))
                .transpose()?;
            let published = library.publish(expected.as_deref(), resume, output.progress())?;
            print_published(&published, &dir, output)
        }
        LibraryCommand::Plan {
            dir,
            slurm,
            k8s,
            out,
            max_parallel,
            cpus_per_task,
            l2r,
            image,
            claim,
            mount,
        } => {
            let library = open_library(&dir, output)?;
            let (files, commands) = match (slurm, k8s) {
                (Some(list), None) => {
                    let options = JobOptions {
                        l2r: match l2r {
                            Some(path) => path,
                            None => std::env::current_exe()?,
                        },
                        max_parallel,
                        cpus_per_task,
                    };
                    let out = out.unwrap_or_else(|| dir.join("cluster/slurm"));
                    let files = library.plan_slurm(TaskList::from_file(&list)?, &options, &out)?;
                    (
                        vec![files.train, files.publish, files.submit],
                        files.commands,
                    )
                }
                (None, Some(list)) => {
                    let options = JobOptions {
                        l2r: l2r.unwrap_or_else(|| "l2r".into()),
                        max_parallel,
                        cpus_per_task,
                    };
                    let out = out.unwrap_or_else(|| dir.join("cluster/k8s"));
                    let files = library.plan_kubernetes(
                        TaskList::from_file(&list)?,
                        &options,
                        (&image, &claim, &mount),
                        &out,
                    )?;
                    (
                        vec![files.train, files.publish, files.submit],
                        files.commands,
                    )
                }
                _ => anyhow::bail!("give one of --slurm TASKS.toml or --k8s TASKS.toml"),
            };
            for file in files {
                println!("wrote {}", file.display());
            }
            println!("submit with:");
            for command in commands {
                println!("  {command}");
            }
            Ok(())
        }
        LibraryCommand::Remove { dir, name, resume } => {
            let published = open_library(&dir, output)?.remove(&name, resume, output.progress())?;
            print_published(&published, &dir, output)
        }
        LibraryCommand::List { dir } => {
            let library = open_library(&dir, output)?;
            let Some(manifest) = library.current()? else {
                return empty(output);
            };
            if output.json {
                return output.print_json(&serde_json::to_value(&manifest.tasks)?);
            }
            println!(
                "generation {} ({} tasks)",
                manifest.generation,
                manifest.tasks.len()
            );
            for task in &manifest.tasks {
                println!("{}\t{}", task.name, task.labels.join(", "));
            }
            Ok(())
        }
        LibraryCommand::Show { dir, generation } => {
            let library = open_library(&dir, output)?;
            let Some(number) = asked_or_current(&library, generation)? else {
                return empty(output);
            };
            let manifest = library.manifest(number)?;
            let evaluation = library.evaluation(number)?;
            if output.json {
                return output.print_json(&serde_json::json!({
                    "manifest": manifest, "evaluation": evaluation
                }));
            }
            print_manifest_line(&manifest, library.current_generation()?);
            print_table(None, &evaluation, ("before", "after"));
            print_sampling(&evaluation, &dir);
            Ok(())
        }
        LibraryCommand::Evaluate { dir, generation } => {
            let library = open_library(&dir, output)?;
            let Some(number) = asked_or_current(&library, generation)? else {
                return empty(output);
            };
            let stored = library.evaluation(number)?;
            let full = library.evaluate_every_example(number, output.progress())?;
            if output.json {
                return output.print_json(&serde_json::json!({
                    "generation": number, "at_publish": stored, "every_example": full
                }));
            }
            println!("generation {number} on every test example (at publish → all):");
            print_table(Some(&stored), &full, ("publish", "all"));
            Ok(())
        }
        LibraryCommand::History { dir } => {
            let library = open_library(&dir, output)?;
            let history = library.history()?;
            if output.json {
                return output.print_json(&serde_json::to_value(&history)?);
            }
            let current = library.current_generation()?;
            for manifest in &history {
                print_manifest_line(manifest, current);
            }
            Ok(())
        }
        LibraryCommand::Rollback { dir, generation } => {
            let manifest = open_library(&dir, output)?.rollback(generation)?;
            output.info(format!(
                "generation {} serves again: {}",
                manifest.generation,
                manifest.task_names().join(", ")
            ));
            Ok(())
        }
        LibraryCommand::Gc { dir, keep } => {
            let collected = open_library(&dir, output)?.gc(keep)?;
            if output.json {
                return output.print_json(&serde_json::to_value(&collected)?);
            }
            println!(
                "deleted {} generation(s) {:?} and {} task folder(s) {:?}",
                collected.generations.len(),
                collected.generations,
                collected.tasks.len(),
                collected.tasks
            );
            Ok(())
        }
    }
}

/// The generation asked for, else the current one (`None` while the library has none).
fn asked_or_current(library: &Library, generation: Option<u64>) -> anyhow::Result<Option<u64>> {
    Ok(match generation {
        Some(number) => Some(number),
        None => library.current_generation()?,
    })
}

fn empty(output: &Output) -> anyhow::Result<()> {
    output.info(
        "the library has no task yet; add one with `l2r library add DIR --name NAME --data FILE`",
    );
    Ok(())
}

fn print_manifest_line(manifest: &Manifest, current: Option<u64>) {
    let marker = if Some(manifest.generation) == current {
        "*"
    } else {
        " "
    };
    println!(
        "{marker} generation {:>4}: {:<24} CIL {:.4}  routing {:.4}  tasks: {}",
        manifest.generation,
        manifest.change.to_string(),
        manifest.cil,
        manifest.routing,
        manifest.task_names().join(", ")
    );
}

fn print_published(
    published: &Published,
    dir: &std::path::Path,
    output: &Output,
) -> anyhow::Result<()> {
    if output.json {
        return output.print_json(&serde_json::json!({
            "manifest": published.manifest,
            "before": published.before,
            "after": published.after,
            "timings": published.timings,
        }));
    }
    println!(
        "published generation {} ({})",
        published.manifest.generation, published.manifest.change
    );
    print_table(
        published.before.as_ref(),
        &published.after,
        ("before", "after"),
    );
    print_sampling(&published.after, dir);
    Ok(())
}

/// Says how many test examples an evaluation ran where it ran some tasks on a part of their split.
fn print_sampling(evaluation: &l2r::continual::StepEvaluation, dir: &std::path::Path) {
    if evaluation.test_sizes.is_empty() {
        return;
    }
    let evaluated: usize = evaluation.evaluated().iter().sum();
    let total: usize = evaluation.test_sizes.iter().sum();
    println!(
        "evaluated on {evaluated} of the tasks' {total} test examples (earlier tasks share `evaluation_budget` \
         in library.toml; before → after compares the same examples); every example: `l2r library evaluate {}`",
        dir.display()
    );
}

/// Per task: CIL, TIL routed and routing accuracy, before → after (forgetting made visible), then the means;
/// `columns` names the two evaluations.
fn print_table(
    before: Option<&l2r::continual::StepEvaluation>,
    after: &l2r::continual::StepEvaluation,
    columns: (&str, &str),
) {
    let setups = [
        ("CIL", Setup::cil(Approach::L2r)),
        ("TIL", Setup::til(Approach::L2r)),
        ("routing", Setup::routing(Approach::L2r)),
    ];
    let value = |eval: &l2r::continual::StepEvaluation, setup: Setup, task: &str| {
        let index = eval.tasks.iter().position(|t| t == task)?;
        eval.row(setup).get(index).copied()
    };
    let cell = |v: Option<f64>| v.map_or_else(|| "   —  ".to_owned(), |v| format!("{v:.4}"));
    let width = after
        .tasks
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(4)
        .max(4);
    print!("{:<width$}", "task");
    for (label, _) in &setups {
        print!("  {:>17}", format!("{label} {}→{}", columns.0, columns.1));
    }
    println!();
    for task in &after.tasks {
        print!("{task:<width$}");
        for (_, setup) in &setups {
            let old = before.and_then(|b| value(b, *setup, task));
            print!("  {:>8}→{:<8}", cell(old), cell(value(after, *setup, task)));
        }
        println!();
    }
    print!("{:<width$}", "mean");
    for (_, setup) in &setups {
        print!(
            "  {:>8}→{:<8}",
            cell(before.and_then(|b| b.mean(*setup))),
            cell(after.mean(*setup))
        );
    }
    println!();
}
