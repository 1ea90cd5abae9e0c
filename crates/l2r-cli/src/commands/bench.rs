//! Throughput of the benchmark's work items (BENCHMARKS.md, "Work items"; docs/design.md, "Performance design"):
//! median seconds per iteration, tokens/s, achieved GFLOP/s of the encoder's matmuls and peak memory.
//! `bench/torch_bench.py` does the same work in PyTorch + HF PEFT and prints the same JSON; `bench/compare.py` runs
//! both sides alternately (BENCHMARKS.md).

mod flops;
mod work;

use super::{BackboneArgs, Output};
use clap::Args;
use std::time::Instant;
use work::Work;

#[derive(Args)]
pub struct BenchArgs {
    /// Work items, comma-separated: infer, train-lora, train-adapter, routed-wavg-N, routed-merge-N, router-fit
    /// (5 modules) or router-fit-N. Default: infer, train-lora, train-adapter.
    #[arg(long, value_delimiter = ',')]
    work: Vec<Work>,
    /// Timed repetitions per work item (after the warm-up).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Untimed iterations before the timed ones.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Sequences per batch of training-shaped work (train-*, router-fit: the memory examples of one step).
    #[arg(long, default_value_t = 16)]
    train_batch: usize,
    /// Sequences per batch of inference-shaped work (infer, routed-*).
    #[arg(long, default_value_t = 32)]
    infer_batch: usize,
    /// Tokens per sequence, special tokens included.
    #[arg(long, default_value_t = 128)]
    seq_len: usize,
    /// Measure the CPU's fp32 FMA peak (GFLOP/s on every thread) instead, the denominator of "% of peak".
    #[arg(long, conflicts_with = "work")]
    fma_peak: bool,
    #[command(flatten)]
    backbone: BackboneArgs,
}

/// One work item's timings.
struct Measurement {
    work: String,
    batch: usize,
    seconds: Vec<f64>,
    median: f64,
    flops: f64,
    /// The process's peak resident memory after this work item (cumulative over the items run before it).
    peak_rss_mib: Option<f64>,
}

pub fn run(args: BenchArgs, output: &Output) -> anyhow::Result<()> {
    anyhow::ensure!(args.repeats >= 1, "--repeats must be at least 1");
    if args.fma_peak {
        return print_fma_peak(args.repeats, output);
    }
    let works = match args.work.is_empty() {
        true => Work::STANDARD.to_vec(),
        false => args.work.clone(),
    };
    let mut backbone_args = args.backbone.clone();
    backbone_args.max_len = args.seq_len;
    let backbone = backbone_args.load(output)?;
    let mut results = Vec::new();
    for work in works {
        output.info(format!("timing {}", work.name()));
        let batch = match work.is_training() {
            true => args.train_batch,
            false => args.infer_batch,
        };
        let mut seconds = Vec::with_capacity(args.repeats);
        work::run_timed(work, &backbone, batch, args.seq_len, &mut |iteration| {
            for _ in 0..args.warmup {
                iteration()?;
            }
            for _ in 0..args.repeats {
                let started = Instant::now();
                iteration()?;
                seconds.push(started.elapsed().as_secs_f64());
            }
            Ok(())
        })?;
        results.push(Measurement {
            work: work.name(),
            batch,
            median: median(&seconds),
            seconds,
            flops: flops::work_flops(&work, &backbone.encoder.config, batch, args.seq_len),
            peak_rss_mib: peak_rss_mib(),
        });
    }
    let threads = candle_core::utils::get_num_threads();
    if output.json {
        let rows: Vec<_> = results
            .iter()
            .map(|m| {
                let tokens = m.batch * args.seq_len;
                serde_json::json!({
                    "work": m.work,
                    "batch": m.batch,
                    "seq_len": args.seq_len,
                    "tokens": tokens,
                    "repeats": args.repeats,
                    "warmup": args.warmup,
                    "seconds": m.seconds,
                    "median_seconds": m.median,
                    "tokens_per_second": tokens as f64 / m.median,
                    "flops": m.flops,
                    "gflops_per_second": m.flops / m.median / 1e9,
                    "peak_rss_mib": m.peak_rss_mib,
                })
            })
            .collect();
        return output.print_json(&serde_json::json!({
            "side": "l2r",
            "dtype": backbone.precision.name(),
            "threads": threads,
            "results": rows,
        }));
    }
    println!(
        "{:<18} {:>10} {:>10} {:>10} {:>14}",
        "work", "tokens/s", "median s", "GFLOP/s", "peak RSS MiB"
    );
    for m in &results {
        let tokens = (m.batch * args.seq_len) as f64;
        let rss = m
            .peak_rss_mib
            .map_or_else(|| "-".to_owned(), |r| format!("{r:.0}"));
        println!(
            "{:<18} {:>10.0} {:>10.3} {:>10.1} {:>14}",
            m.work,
            tokens / m.median,
            m.median,
            m.flops / m.median / 1e9,
            rss
        );
    }
    println!("{threads} threads; peak RSS is cumulative over the rows above (one --work per process isolates it)");
    Ok(())
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// The process's peak resident set size (VmHWM in /proc/self/status), in MiB; None where there is no procfs.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The best of `repeats` FMA-peak measurements of a few tenths of a second each.
fn print_fma_peak(repeats: usize, output: &Output) -> anyhow::Result<()> {
    let best = (0..repeats)
        .map(|_| l2r::kernels::measure_fma_peak(200_000_000))
        .max_by(|a, b| a.gflops.total_cmp(&b.gflops))
        .ok_or_else(|| anyhow::anyhow!("no measurement"))?;
    if output.json {
        return output.print_json(&serde_json::json!({
            "fma_peak_gflops": best.gflops,
            "threads": best.threads,
            "fp32_lanes": best.lanes,
        }));
    }
    println!(
        "fp32 FMA peak: {:.0} GFLOP/s ({} threads, {} fp32 lanes per instruction; best of {repeats})",
        best.gflops, best.threads, best.lanes
    );
    Ok(())
}
