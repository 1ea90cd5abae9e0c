//! One file per subcommand; each parses its arguments, calls the library and prints.

pub mod bench;
pub mod compare;
pub mod embed;
pub mod eval_task;
pub mod export_peft;
pub mod library;
pub mod predict;
pub mod probe;
pub mod report;
pub mod run;
pub mod serve;
pub mod tasks;
pub mod train_task;

use clap::Args;
use l2r::backbone::{Backbone, BackboneName, Precision};
use l2r::device::DeviceSpec;
use l2r::library::Library;
use l2r::train::SplitSpec;

/// What every subcommand shares: how to print (`--quiet`, `--json`) and where to compute (`--device`).
pub struct Output {
    pub quiet: bool,
    pub json: bool,
    /// `--device`: overrides a config's or library's `device` (default: theirs, else the CPU).
    pub device: Option<DeviceSpec>,
}

impl Output {
    pub fn progress(&self) -> bool {
        !self.quiet && !self.json
    }

    /// Informational line on stderr, silenced by --quiet and --json.
    pub fn info(&self, message: impl AsRef<str>) {
        if self.progress() {
            eprintln!("{}", message.as_ref());
        }
    }

    pub fn print_json(&self, value: &serde_json::Value) -> anyhow::Result<()> {
        println!("{}", serde_json::to_string_pretty(value)?);
        Ok(())
    }
}

/// Backbone choice shared by the subcommands.
#[derive(Args, Clone)]
pub struct BackboneArgs {
    /// Frozen encoder: minilm (all-MiniLM-L6-v2) or mpnet (all-mpnet-base-v2).
    #[arg(long, default_value = "minilm")]
    pub backbone: BackboneName,
    /// Maximum tokens per text, special tokens included.
    #[arg(long, default_value_t = l2r::backbone::DEFAULT_MAX_LEN)]
    pub max_len: usize,
    /// Number format of the frozen linear layers: fp32, or bf16 on CPUs with AVX-512 BF16 (fp32 elsewhere).
    #[arg(long, default_value = "fp32")]
    pub precision: Precision,
}

impl BackboneArgs {
    pub fn load(&self, output: &Output) -> anyhow::Result<Backbone> {
        let device = output.device.unwrap_or_default();
        let backbone = Backbone::load_on(self.backbone, self.max_len, &device.open()?)?
            .with_precision(self.precision)?;
        output.info(format!(
            "loaded backbone {:?} (max {} tokens, {}, {device})",
            self.backbone, self.max_len, backbone.precision
        ));
        Ok(backbone)
    }
}

/// The task library at `dir`, computing on `--device` when it is given.
pub fn open_library(dir: &std::path::Path, output: &Output) -> anyhow::Result<Library> {
    let mut library = Library::open(dir)?;
    library.config.device = output.device.unwrap_or(library.config.device);
    Ok(library)
}

/// How a task's examples are split; the same flags recreate the same splits.
#[derive(Args, Clone)]
pub struct SplitArgs {
    /// Seed of the split, the module's initialisation and the batch order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 0.1)]
    pub validation_fraction: f64,
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Keep at most this many training examples per class (quick runs).
    #[arg(long)]
    pub max_train_per_class: Option<usize>,
}

impl SplitArgs {
    pub fn spec(&self) -> SplitSpec {
        SplitSpec {
            validation_fraction: self.validation_fraction,
            test_fraction: self.test_fraction,
            seed: self.seed,
            max_train_per_class: self.max_train_per_class,
        }
    }
}
