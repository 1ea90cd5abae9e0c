//! Throughput of the training step and of inference on fixed-size batches (design.md §3's work sizes).
//! The side-by-side PyTorch comparison is a separate benchmark; this measures l2r alone.

use super::{BackboneArgs, Output};
use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use clap::Args;
use l2r::backbone::{mean_pool, NoHooks};
use l2r::head::ClassifierHead;
use l2r::peft::{PeftConfig, PeftModule};
use l2r::train::{optimisation_step, TaskModel};
use std::time::Instant;

#[derive(Args)]
pub struct BenchArgs {
    /// Timed repetitions per measurement (after one warm-up).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    #[arg(long, default_value_t = 16)]
    train_batch: usize,
    #[arg(long, default_value_t = 32)]
    infer_batch: usize,
    /// Tokens per sequence, special tokens included.
    #[arg(long, default_value_t = 128)]
    seq_len: usize,
    #[command(flatten)]
    backbone: BackboneArgs,
}

pub fn run(args: BenchArgs, output: &Output) -> anyhow::Result<()> {
    let mut backbone_args = args.backbone.clone();
    backbone_args.max_len = args.seq_len;
    let backbone = backbone_args.load(output)?;
    let text =
        "the quick brown fox jumps over the lazy dog near the river bank ".repeat(args.seq_len);
    let batch_of = |rows: usize| backbone.tokenizer.encode(&vec![text.as_str(); rows]);
    let (train_batch, infer_batch) = (batch_of(args.train_batch)?, batch_of(args.infer_batch)?);
    anyhow::ensure!(
        train_batch.lengths[0] == args.seq_len,
        "the benchmark text is shorter than --seq-len"
    );
    let mut results = Vec::new();
    let infer_tokens = (args.infer_batch * args.seq_len) as f64;
    let seconds = time(args.repeats, || {
        let hidden = backbone.encoder.forward(&infer_batch, &NoHooks)?;
        mean_pool(&hidden, &infer_batch.attention_mask)?
            .sum_all()?
            .to_scalar::<f32>()?;
        Ok(())
    })?;
    results.push((
        "inference, frozen encoder".to_owned(),
        infer_tokens / seconds,
        seconds,
    ));
    for peft in [PeftConfig::lora(), PeftConfig::adapter()] {
        let encoder = &backbone.encoder.config;
        let model = TaskModel {
            module: PeftModule::new(&peft, encoder, 0)?,
            head: ClassifierHead::new(encoder.hidden_size, 4, 0)?,
        };
        let mut optimizer = AdamW::new(model.trainable_vars(), ParamsAdamW::default())?;
        let labels = Tensor::from_vec(
            (0..args.train_batch as u32).map(|i| i % 4).collect(),
            args.train_batch,
            &Device::Cpu,
        )?;
        let seconds = time(args.repeats, || {
            optimisation_step(&backbone, &model, &train_batch, &labels, &mut optimizer)?;
            Ok(())
        })?;
        let tokens = (args.train_batch * args.seq_len) as f64;
        results.push((
            format!("training step, {}", peft.kind()),
            tokens / seconds,
            seconds,
        ));
        optimizer.set_learning_rate(0.0);
    }
    if output.json {
        let rows: Vec<_> = results
            .iter()
            .map(|(work, tps, s)| serde_json::json!({"work": work, "tokens_per_second": tps, "median_seconds": s}))
            .collect();
        return output
            .print_json(&serde_json::json!({ "threads": rayon_threads(), "results": rows }));
    }
    println!("{:<32} {:>12} {:>14}", "work", "tokens/s", "median s/iter");
    for (work, tps, s) in results {
        println!("{work:<32} {tps:>12.0} {s:>14.3}");
    }
    Ok(())
}

/// Median wall time of `repeats` runs of `work`, after one warm-up run.
fn time(repeats: usize, mut work: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    work()?;
    let mut times = Vec::with_capacity(repeats.max(1));
    for _ in 0..repeats.max(1) {
        let started = Instant::now();
        work()?;
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
