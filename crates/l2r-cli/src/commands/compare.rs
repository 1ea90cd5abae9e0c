use super::Output;
use anyhow::Context;
use clap::Args;
use l2r::backbone::Precision;
use l2r::compare::{compare, parse_methods, GridBenchmark, GridOptions, METHODS};
use l2r::continual::RunConfig;
use std::path::PathBuf;

#[derive(Args)]
pub struct CompareArgs {
    /// Run configs, one per benchmark (e.g. configs/far5.toml configs/senti4.toml); each names a column group.
    #[arg(required_unless_present = "list")]
    configs: Vec<PathBuf>,
    /// Methods, comma-separated: a name of `--list`, or default (the paper's comparison), ablations, all.
    #[arg(long, default_value = "default")]
    methods: Vec<String>,
    /// Seeds 0..N of every benchmark (default: each config's own seeds).
    #[arg(long)]
    seeds: Option<u64>,
    /// Task orders 0..M of every benchmark (default: each config's own orders).
    #[arg(long)]
    orders: Option<usize>,
    /// Output folder: one run folder per benchmark and variant, and compare.{md,csv,json}. Re-running the same
    /// command resumes.
    #[arg(long, default_value = "runs/compare")]
    out: PathBuf,
    /// Override every config's `precision`: fp32, or bf16 on CPUs with AVX-512 BF16.
    #[arg(long)]
    precision: Option<Precision>,
    /// List the methods and exit.
    #[arg(long)]
    list: bool,
}

pub fn run(args: CompareArgs, output: &Output) -> anyhow::Result<()> {
    if args.list {
        for method in METHODS {
            println!("{:<18} {}", method.name, method.description);
        }
        return Ok(());
    }
    let methods = parse_methods(&args.methods)?;
    let benchmarks = args
        .configs
        .iter()
        .map(|path| {
            let mut config = RunConfig::from_file(path)?;
            config.precision = args.precision.unwrap_or(config.precision);
            config.device = output.device.unwrap_or(config.device);
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("benchmark")
                .to_owned();
            Ok(GridBenchmark { name, config })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let options = GridOptions {
        seeds: args.seeds.map(|n| (0..n).collect()),
        orders: args.orders.map(|m| (0..m).collect()),
        show_progress: output.progress(),
    };
    let count = |n: Option<usize>| n.map_or_else(|| "the config's".to_owned(), |n| n.to_string());
    output.info(format!(
        "comparing {} method(s) on {} benchmark(s), {} seed(s) × {} order(s), in {}",
        methods.len(),
        benchmarks.len(),
        count(args.seeds.map(|n| n as usize)),
        count(args.orders),
        args.out.display()
    ));
    let table = compare(&benchmarks, &methods, &options, &args.out)
        .with_context(|| format!("comparison in {}", args.out.display()))?;
    if output.json {
        return output.print_json(&serde_json::to_value(&table)?);
    }
    print!("{}", table.markdown());
    println!(
        "\ntables: {}",
        args.out.join("compare.{md,csv,json}").display()
    );
    Ok(())
}
