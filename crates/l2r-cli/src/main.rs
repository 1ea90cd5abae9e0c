//! `l2r`: the command-line interface over the l2r library.

mod commands;

use clap::{Parser, Subcommand};

#[global_allocator]
// Training allocates many short-lived activation buffers; a caching allocator avoids the page faults of fresh
// zeroed pages from the system allocator (docs/design.md, "Performance design").
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (the bundled header; libmimalloc-sys names no constant).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory mapped instead of returning it to the OS after 10 ms: a training step frees and re-allocates
/// gigabytes of activations, and each return made the kernel zero fresh (huge) pages again: 88k page faults and a
/// third of the CPU time in `clear_page` over eight steps, against 2k faults with purging off.
fn keep_freed_memory() {
    // SAFETY: mi_option_set only stores an option value; it is valid to call at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

/// Runs candle's own elementwise ops (in l2r mostly the gradient sums of backprop) on the calling thread.
/// candle 0.11 parallelises them on a second pool of spinning threads, beside the rayon pool that runs gemm
/// and l2r's kernels: on two cores the two pools' threads took turns spinning against each other (a quarter
/// of a LoRA training step in `BarrierGuard::drop`); these memory-bound sums gain little from a second core.
/// Must run before any candle op starts the pool; an explicit CANDLE_NUM_THREADS wins.
fn serial_candle_elementwise() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}

#[derive(Parser)]
#[command(
    name = "l2r",
    version,
    about = "Continual text classification: frozen encoder, per-task modules, learned routing"
)]
struct Cli {
    /// No progress bars or informational output.
    #[arg(long, global = true)]
    quiet: bool,
    /// Print results as JSON (for scripts).
    #[arg(long, global = true)]
    json: bool,
    /// Where to compute: cpu, cuda or cuda:N (builds with the `cuda` feature; scripts/build-cuda.sh). Overrides
    /// a config's or library's `device`; default: theirs, else the CPU.
    #[arg(long, global = true, value_name = "cpu|cuda[:N]")]
    device: Option<l2r::device::DeviceSpec>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed texts with the frozen encoder; print embeddings or their pairwise cosine similarities.
    Embed(commands::embed::EmbedArgs),
    /// Train one task's PEFT module and classifier head in isolation, then evaluate it on the test split.
    TrainTask(commands::train_task::TrainTaskArgs),
    /// Evaluate a trained task folder on its test split (accuracy, macro-F1).
    EvalTask(commands::eval_task::EvalTaskArgs),
    /// Linear probe on frozen mean-pooled features: the reference a PEFT module must beat.
    Probe(commands::probe::ProbeArgs),
    /// Time training steps and inference on fixed-size batches (tokens/s).
    Bench(commands::bench::BenchArgs),
    /// List the built-in tasks with their labels and sizes, or write one (or some of its labels) as a CSV file.
    Tasks(commands::tasks::TasksArgs),
    /// Run continual learning from a TOML config: modules, memory, routers, TIL/CIL evaluation, metrics.
    Run(commands::run::RunArgs),
    /// Compare methods and ablations on the same modules, splits, seeds and orders: mean ± std table (TIL, CIL).
    Compare(commands::compare::CompareArgs),
    /// Classify texts with a run's modules and routers: label, task, score and the routing gates.
    Predict(commands::predict::PredictArgs),
    /// Serve a run over HTTP: POST /v1/classify, GET /v1/tasks, GET /v1/stats, GET /healthz.
    Serve(commands::serve::ServeArgs),
    /// Write a self-contained HTML report of a run: metrics table, accuracy matrices, gates, training curves.
    Report(commands::report::ReportArgs),
    /// Export a task's LoRA module as an HF PEFT adapter (adapter_config.json + adapter_model.safetensors).
    ExportPeft(commands::export_peft::ExportPeftArgs),
    /// A task library that learns and forgets tasks one at a time: init, add, remove, list, show, history,
    /// rollback, gc. Each change publishes a new generation; `l2r serve --library` follows it without a restart.
    Library(commands::library::LibraryArgs),
}

fn main() {
    keep_freed_memory();
    serial_candle_elementwise();
    let cli = Cli::parse();
    let output = commands::Output {
        quiet: cli.quiet,
        json: cli.json,
        device: cli.device,
    };
    let result = match cli.command {
        Command::Embed(args) => commands::embed::run(args, &output),
        Command::TrainTask(args) => commands::train_task::run(args, &output),
        Command::EvalTask(args) => commands::eval_task::run(args, &output),
        Command::Probe(args) => commands::probe::run(args, &output),
        Command::Bench(args) => commands::bench::run(args, &output),
        Command::Tasks(args) => commands::tasks::run(args, &output),
        Command::Run(args) => commands::run::run(args, &output),
        Command::Compare(args) => commands::compare::run(args, &output),
        Command::Predict(args) => commands::predict::run(args, &output),
        Command::Serve(args) => commands::serve::run(args, &output),
        Command::Report(args) => commands::report::run(args, &output),
        Command::ExportPeft(args) => commands::export_peft::run(args, &output),
        Command::Library(args) => commands::library::run(args, &output),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
