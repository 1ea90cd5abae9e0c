//! The benchmark's work items (BENCHMARKS.md, "Work items"; docs/design.md, "Performance design"), each set up
//! once and then timed; `bench/torch_bench.py` does the same work in PyTorch + HF PEFT on the same weights and
//! token ids.

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use l2r::backbone::{mean_pool, Backbone, NoHooks, TokenBatch};
use l2r::compose::{CompositionMode, FixedWeights, ModuleStack, Routed};
use l2r::embedded::EmbeddedExamples;
use l2r::head::ClassifierHead;
use l2r::peft::{PeftConfig, PeftModule};
use l2r::router::{fit_router, RouterConfig};
use l2r::train::{Objective, TaskModel};
use std::str::FromStr;

/// Labels of every benchmark head (the training heads and each routed module's head).
pub const NUM_LABELS: usize = 4;
/// Modules composed by `router-fit` when no count is given.
pub const ROUTER_FIT_MODULES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Frozen encoder forward + mean pooling, no module.
    Infer,
    /// Forward, cross-entropy, backward and AdamW step with LoRA rank 8, alpha 16 on query and value.
    TrainLora,
    /// The same with a bottleneck adapter of size 64 after every layer's feed-forward block.
    TrainAdapter,
    /// Inference through `modules` adapters composed per example (wavg, or merge when `merge`), fixed weights.
    Routed { merge: bool, modules: usize },
    /// One router-fitting step (`fit_router`, one epoch of one batch) over `modules` adapters composed by wavg.
    RouterFit { modules: usize },
}

impl Work {
    /// The standard set `l2r bench` runs without `--work`.
    pub const STANDARD: [Work; 3] = [Work::Infer, Work::TrainLora, Work::TrainAdapter];

    pub fn name(&self) -> String {
        match self {
            Work::Infer => "infer".into(),
            Work::TrainLora => "train-lora".into(),
            Work::TrainAdapter => "train-adapter".into(),
            Work::Routed { merge, modules } => {
                format!("routed-{}-{modules}", if *merge { "merge" } else { "wavg" })
            }
            Work::RouterFit { modules } if *modules == ROUTER_FIT_MODULES => "router-fit".into(),
            Work::RouterFit { modules } => format!("router-fit-{modules}"),
        }
    }

    /// Training-shaped work uses the training batch; inference-shaped work the inference batch.
    pub fn is_training(&self) -> bool {
        matches!(
            self,
            Work::TrainLora | Work::TrainAdapter | Work::RouterFit { .. }
        )
    }
}

impl FromStr for Work {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let count = |rest: &str| -> Result<usize, String> {
            match rest.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(format!(
                    "'{s}': the module count must be a positive integer"
                )),
            }
        };
        Ok(match s {
            "infer" => Work::Infer,
            "train-lora" => Work::TrainLora,
            "train-adapter" => Work::TrainAdapter,
            "router-fit" => Work::RouterFit {
                modules: ROUTER_FIT_MODULES,
            },
            _ => {
                if let Some(rest) = s.strip_prefix("routed-wavg-") {
                    Work::Routed {
                        merge: false,
                        modules: count(rest)?,
                    }
                } else if let Some(rest) = s.strip_prefix("routed-merge-") {
                    Work::Routed {
                        merge: true,
                        modules: count(rest)?,
                    }
                } else if let Some(rest) = s.strip_prefix("router-fit-") {
                    Work::RouterFit {
                        modules: count(rest)?,
                    }
                } else {
                    return Err(format!(
                        "unknown work '{s}': expected infer, train-lora, train-adapter, routed-wavg-N, \
                         routed-merge-N, router-fit or router-fit-N"
                    ));
                }
            }
        })
    }
}

/// Text `i` of the benchmark: the sentence's words rotated by `i`, repeated far beyond any `--seq-len`, so that
/// every example is truncated to exactly `--seq-len` tokens. `bench/torch_bench.py` builds the same texts.
pub fn bench_text(i: usize, seq_len: usize) -> String {
    let words: Vec<&str> = "the quick brown fox jumps over the lazy dog near the river bank"
        .split(' ')
        .collect();
    let k = i % words.len();
    let rotated = [&words[k..], &words[..k]].concat().join(" ");
    format!("{rotated} ").repeat(seq_len)
}

pub fn token_batch(backbone: &Backbone, rows: usize, seq_len: usize) -> anyhow::Result<TokenBatch> {
    let texts: Vec<String> = (0..rows).map(|i| bench_text(i, seq_len)).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batch = backbone.tokenizer.encode(&refs)?;
    anyhow::ensure!(
        batch.lengths.iter().all(|&l| l == seq_len),
        "the benchmark text is shorter than --seq-len"
    );
    Ok(batch)
}

/// One timed iteration of a work item.
pub type Iteration<'a> = dyn FnMut() -> anyhow::Result<()> + 'a;

/// Sets `work` up on `backbone` for batches of `rows` × `seq_len`, then hands `time` the closure of one iteration.
pub fn run_timed(
    work: Work,
    backbone: &Backbone,
    rows: usize,
    seq_len: usize,
    time: &mut dyn FnMut(&mut Iteration) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let encoder = &backbone.encoder.config;
    let device = backbone.device();
    match work {
        Work::Infer => {
            let batch = token_batch(backbone, rows, seq_len)?;
            time(&mut || {
                let hidden = backbone.encoder.forward(&batch, &NoHooks)?;
                mean_pool(&hidden, &batch.attention_mask)?
                    .sum_all()?
                    .to_scalar::<f32>()?;
                Ok(())
            })
        }
        Work::TrainLora | Work::TrainAdapter => {
            let batch = token_batch(backbone, rows, seq_len)?;
            let peft = match work {
                Work::TrainLora => PeftConfig::lora(),
                _ => PeftConfig::adapter(),
            };
            let model = TaskModel::new(
                PeftModule::new_on(&peft, encoder, 0, device)?,
                ClassifierHead::new_on(encoder.hidden_size, NUM_LABELS, 0, device)?,
            );
            let mut optimizer = AdamW::new(model.trainable_vars(), ParamsAdamW::default())?;
            let labels = labels(rows);
            time(&mut || {
                Objective::default().step(backbone, &model, &batch, &labels, &mut optimizer)?;
                Ok(())
            })
        }
        Work::Routed { merge, modules } => {
            let batch = token_batch(backbone, rows, seq_len)?;
            let parts = RoutedParts::new(backbone, modules)?;
            let heads: Vec<&ClassifierHead> = parts.heads.iter().collect();
            let routed = parts.routed(backbone, &heads, merge);
            let weights = FixedWeights(vec![random_weights(rows, modules, device)?]);
            time(&mut || {
                routed
                    .logits(&batch, &weights)?
                    .sum_all()?
                    .to_scalar::<f32>()?;
                Ok(())
            })
        }
        Work::RouterFit { modules } => {
            anyhow::ensure!(
                rows >= modules,
                "{} needs --train-batch of at least {modules} (an example of every module's task)",
                work.name()
            );
            let parts = RoutedParts::new(backbone, modules)?;
            let heads: Vec<&ClassifierHead> = parts.heads.iter().collect();
            let routed = parts.routed(backbone, &heads, false);
            let texts: Vec<String> = (0..rows).map(|i| bench_text(i, seq_len)).collect();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let tasks = (0..rows).map(|i| i % modules).collect();
            let labels = (0..rows).map(|i| i % NUM_LABELS).collect();
            // Untimed: tokenizing and the frozen embeddings, which a run computes once per memory.
            let memory = EmbeddedExamples::new(backbone, &refs, tasks, labels)?;
            anyhow::ensure!(
                memory.ids.iter().all(|ids| ids.len() == seq_len),
                "the benchmark text is shorter than --seq-len"
            );
            let config = RouterConfig {
                epochs: 1,
                batch_size: rows,
                ..RouterConfig::default()
            };
            time(&mut || {
                fit_router(&routed, &memory, &config, 0, false)?;
                Ok(())
            })
        }
    }
}

fn labels(rows: usize) -> Vec<u32> {
    (0..rows as u32).map(|i| i % NUM_LABELS as u32).collect()
}

/// Per-example module weights (rows, modules): positive, rows summing to one, drawn from a fixed seed.
fn random_weights(rows: usize, modules: usize, device: &Device) -> anyhow::Result<Tensor> {
    let mut rng = Lcg(0x2545_f491_4f6c_dd1d);
    let raw: Vec<f32> = (0..rows * modules).map(|_| 0.1 + rng.next_f32()).collect();
    let w = Tensor::from_vec(raw, (rows, modules), device)?;
    Ok(w.broadcast_div(&w.sum_keepdim(1)?)?)
}

/// A tiny deterministic generator (PCG's multiplier), so that the bench needs no random-number crate of its own.
struct Lcg(u64);

impl Lcg {
    /// Uniform in [0, 1).
    fn next_f32(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// `modules` trained-looking adapters (every parameter non-zero) with one head each, stacked for composition.
struct RoutedParts {
    stack: ModuleStack,
    heads: Vec<ClassifierHead>,
}

impl RoutedParts {
    fn new(backbone: &Backbone, modules: usize) -> anyhow::Result<Self> {
        let (encoder, device) = (&backbone.encoder.config, backbone.device());
        let mut peft = Vec::with_capacity(modules);
        let mut heads = Vec::with_capacity(modules);
        for seed in 0..modules as u64 {
            let module = PeftModule::new_on(&PeftConfig::adapter(), encoder, seed, device)?;
            // An untrained adapter's up-projection is zero; give every parameter a value, as after training.
            l2r::init::randomize_vars(module.varmap(), 1000 + seed, |_, dims| {
                Some(0.5 / (*dims.last().unwrap_or(&1) as f64).sqrt())
            })?;
            peft.push(module);
            heads.push(ClassifierHead::new_on(
                encoder.hidden_size,
                NUM_LABELS,
                seed,
                device,
            )?);
        }
        let refs: Vec<&PeftModule> = peft.iter().collect();
        let stack = ModuleStack::new(&refs, backbone.encoder.num_layers())?
            .with_precision(backbone.precision)?;
        Ok(RoutedParts { stack, heads })
    }

    fn routed<'a>(
        &'a self,
        backbone: &'a Backbone,
        heads: &'a [&'a ClassifierHead],
        merge: bool,
    ) -> Routed<'a> {
        Routed {
            backbone,
            stack: &self.stack,
            heads,
            mode: if merge {
                CompositionMode::Merge
            } else {
                CompositionMode::Wavg
            },
        }
    }
}
