//! Evaluation after a step: every task seen so far, through L2R's routed composition (its CIL rule, TIL with the
//! task's own head, route-then-classify, routing accuracy), the oracle, and every routing baseline on the same
//! modules and test examples (docs/design.md, "Evaluation setups").

use super::evaluation::StepEvaluation;
use crate::backbone::{TextTokenizer, TokenBatch};
use crate::baselines::{
    step_baselines, BaselinesConfig, ClassScorer, ModuleWeights, RoutingBaseline, StepStatistics,
};
use crate::compose::{argmax, label_offsets, Decision, FixedWeights, Routed, Scores};
use crate::embedded::{EmbeddedExamples, Features};
use crate::error::Result;
use crate::metrics::{classification_scores, Approach, Setting, Setup};
use crate::router::{adapt_router, RouterNetwork, RouterObjective, RouterWeights};
use crate::train::LengthOrder;
use candle_core::Tensor;
use std::collections::BTreeMap;

/// The tasks seen so far, in run order.
pub struct SeenTasks<'a> {
    pub names: &'a [String],
    pub tests: &'a [&'a EmbeddedExamples],
    /// Each task's own-module test accuracy.
    pub oracle: &'a [f64],
    /// What the routing baselines keep of each task.
    pub statistics: &'a StepStatistics<'a>,
}

/// Evaluates every task seen so far. `memory` is what the routers were fitted on; local adaptation, when
/// configured, draws from it.
pub fn evaluate_step(
    routed: &Routed,
    network: &RouterNetwork,
    memory: &EmbeddedExamples,
    seen: &SeenTasks,
    baselines: &BaselinesConfig,
    show_progress: bool,
) -> Result<StepEvaluation> {
    let baselines = step_baselines(routed, seen.statistics, memory, baselines)?;
    let total: usize = seen.tests.iter().map(|t| t.len()).sum();
    let bar = crate::train::progress_bar(show_progress, total as u64);
    bar.set_message("evaluating");
    let mut eval = StepEvaluation::empty(seen.tests.len().saturating_sub(1), seen.names);
    eval.accuracy
        .insert(Setup::til(Approach::Oracle), seen.oracle.to_vec());
    let offsets = routed.label_offsets();
    let by_task = predict_tasks(
        routed,
        network,
        memory,
        &baselines.routing,
        seen.tests,
        &bar,
    )?;
    for ((task, test), mut p) in seen.tests.iter().enumerate().zip(by_task) {
        for scorer in &baselines.scorers {
            p.by_setup
                .extend(scorer_predictions(scorer.as_ref(), routed, test, task)?);
        }
        let targets = Targets::new(test, task, offsets[task]);
        for (setup, predicted) in &p.by_setup {
            let value = targets.accuracy(setup.setting, predicted);
            eval.accuracy.entry(*setup).or_default().push(value);
            if setup.approach == Approach::L2r {
                let hits = targets.hits(setup.setting, predicted);
                eval.hits.entry(*setup).or_default().push(hits);
            }
        }
        let cil = &p.by_setup[&Setup::cil(Approach::L2r)];
        let scores = classification_scores(cil, &targets.cil, routed.total_labels());
        eval.cil_weighted_f1.push(scores.weighted_f1);
        let n = test.len().max(1) as f64;
        eval.mean_weights
            .push(p.weight_sums.iter().map(|s| s / n).collect());
    }
    bar.finish_and_clear();
    Ok(eval)
}

/// What each setting's predictions are compared with, for one task's test examples.
struct Targets {
    /// Labels within the task's own head.
    til: Vec<usize>,
    /// Labels in the concatenated label space of every task seen.
    cil: Vec<usize>,
    /// The task itself, for every example.
    routing: Vec<usize>,
}

impl Targets {
    fn new(test: &EmbeddedExamples, task: usize, offset: usize) -> Self {
        Targets {
            til: test.labels.clone(),
            cil: test.labels.iter().map(|l| offset + l).collect(),
            routing: vec![task; test.len()],
        }
    }

    fn of(&self, setting: Setting) -> &[usize] {
        match setting {
            Setting::Til => &self.til,
            Setting::Cil => &self.cil,
            Setting::Routing => &self.routing,
        }
    }

    /// Share of predictions equal to the setting's targets.
    fn accuracy(&self, setting: Setting, predicted: &[usize]) -> f64 {
        let targets = self.of(setting);
        let hits = predicted
            .iter()
            .zip(targets)
            .filter(|(p, t)| p == t)
            .count();
        hits as f64 / targets.len().max(1) as f64
    }

    /// `1` where a prediction equals the setting's target, else `0`, in the test set's order.
    fn hits(&self, setting: Setting, predicted: &[usize]) -> String {
        predicted
            .iter()
            .zip(self.of(setting))
            .map(|(p, t)| if p == t { '1' } else { '0' })
            .collect()
    }
}

/// Predictions on one task's test examples, per setup, in the test set's order.
struct TaskPredictions {
    by_setup: BTreeMap<Setup, Vec<usize>>,
    /// Per module, the sum over examples of its layer-averaged router weight.
    weight_sums: Vec<f64>,
}

/// L2R's own setups and their decision rules; its CIL (`cil`) follows the router objective's rule, and under the
/// `concat` objective the joint rule is reported beside it (under `joint` they are the same computation).
fn l2r_setups(objective: RouterObjective) -> Vec<Setup> {
    let mut setups = vec![
        Setup::til(Approach::L2r),
        Setup::cil(Approach::L2r),
        Setup::cil(Approach::L2rTopTask),
        Setup::routing(Approach::L2r),
    ];
    if objective == RouterObjective::Concat {
        setups.push(Setup::cil(Approach::L2rGated));
    }
    setups
}

/// Every task's predictions. Without local adaptation the tasks' examples run as one stream, shortest first, so
/// that batches stay full however few examples a task has (a library evaluates earlier tasks on a few each); with
/// it, each task runs alone, in its test stream's order, since its batches are what it adapts to.
fn predict_tasks(
    routed: &Routed,
    network: &RouterNetwork,
    memory: &EmbeddedExamples,
    baselines: &[Box<dyn RoutingBaseline + '_>],
    tests: &[&EmbeddedExamples],
    bar: &indicatif::ProgressBar,
) -> Result<Vec<TaskPredictions>> {
    if network.config.local_adaptation.is_some() {
        return tests
            .iter()
            .enumerate()
            .map(|(task, test)| {
                let rows = predict_rows(routed, network, memory, baselines, test, bar)?;
                Ok(TaskPredictions {
                    by_setup: rows.by_setup,
                    weight_sums: rows.weight_sums[task].clone(),
                })
            })
            .collect();
    }
    let all = EmbeddedExamples::concat(tests.iter().map(|t| (*t).clone()).collect())?;
    let joint = predict_rows(routed, network, memory, baselines, &all, bar)?;
    let mut start = 0;
    Ok(tests
        .iter()
        .enumerate()
        .map(|(task, test)| {
            let range = start..start + test.len();
            start = range.end;
            TaskPredictions {
                by_setup: joint
                    .by_setup
                    .iter()
                    .map(|(setup, values)| (*setup, values[range.clone()].to_vec()))
                    .collect(),
                weight_sums: joint.weight_sums[task].clone(),
            }
        })
        .collect())
}

/// Predictions on `test`'s examples, each of the task it names, per setup, in `test`'s order; `weight_sums` per
/// task (all of `routed`'s).
struct RowPredictions {
    by_setup: BTreeMap<Setup, Vec<usize>>,
    weight_sums: Vec<Vec<f64>>,
}

fn predict_rows(
    routed: &Routed,
    network: &RouterNetwork,
    memory: &EmbeddedExamples,
    baselines: &[Box<dyn RoutingBaseline + '_>],
    test: &EmbeddedExamples,
    bar: &indicatif::ProgressBar,
) -> Result<RowPredictions> {
    let local = network.config.local_adaptation.as_ref();
    // Shortest first pads little and changes no prediction; local adaptation keeps the test stream's order.
    let order = match local {
        Some(_) => LengthOrder::new(&vec![0; test.len()]),
        None => LengthOrder::of_ids(&test.ids),
    };
    let chunk = local.map_or(64, |l| l.batch_size);
    let mut weight_sums = vec![vec![0.0; routed.num_tasks()]; routed.num_tasks()];
    let mut start = 0;
    let chunks = order.chunks(chunk, |rows| {
        let ids: Vec<&[u32]> = rows.iter().map(|&i| test.ids[i].as_slice()).collect();
        let tasks: Vec<usize> = rows.iter().map(|&i| test.tasks[i]).collect();
        // One padded batch serves L2R and every baseline.
        let batch = routed.backbone.tokenizer.pad(&ids)?;
        let rows = Tensor::new(
            rows.iter().map(|&i| i as u32).collect::<Vec<_>>(),
            routed.backbone.device(),
        )?;
        let features = test.rows(&rows)?;
        let routing = test
            .features(network.config.input.representation())
            .index_select(&rows, 0)?;
        let adapted;
        let network = match local {
            Some(config) => {
                let seed = ((tasks[0] as u64) << 32) | start as u64;
                adapted = adapt_router(network, routed, memory, &routing, config, seed)?;
                &adapted
            }
            None => network,
        };
        start += ids.len();
        let mut predictions =
            l2r_predictions(routed, network, &batch, routing, &tasks, &mut weight_sums)?;
        for baseline in baselines {
            predictions.extend(baseline_predictions(
                routed,
                baseline.as_ref(),
                &batch,
                &features,
                &tasks,
            )?);
        }
        bar.inc(ids.len() as u64);
        Ok(predictions)
    })?;
    let mut by_setup: BTreeMap<Setup, Vec<usize>> = BTreeMap::new();
    for chunk in chunks {
        for (setup, values) in chunk {
            by_setup.entry(setup).or_default().extend(values);
        }
    }
    Ok(RowPredictions {
        by_setup: by_setup
            .into_iter()
            .map(|(setup, values)| (setup, order.restore(&values)))
            .collect(),
        weight_sums,
    })
}

/// `decision` on a batch whose rows belong to `tasks` (a decision within a task's own head needs each row's task).
fn decide(
    decision: Decision,
    routed: &Routed,
    scores: &Scores,
    tasks: &[usize],
) -> Result<Vec<usize>> {
    let mut predicted = vec![0; tasks.len()];
    let mut distinct = tasks.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    for task in distinct {
        let rows: Vec<usize> = (0..tasks.len()).filter(|&r| tasks[r] == task).collect();
        let index = Tensor::new(
            rows.iter().map(|&r| r as u32).collect::<Vec<_>>(),
            scores.logits.device(),
        )?;
        let logits = scores.logits.index_select(&index, 0)?;
        let top: Option<Vec<usize>> = scores
            .top_module
            .map(|top| rows.iter().map(|&r| top[r]).collect());
        let part = Scores {
            logits: &logits,
            top_module: top.as_deref(),
        };
        for (row, value) in rows.iter().zip(decision.predict(routed, &part, task)?) {
            predicted[*row] = value;
        }
    }
    Ok(predicted)
}

/// L2R's predictions on one batch, per setup; adds each module's router weights to `weight_sums`.
fn l2r_predictions(
    routed: &Routed,
    network: &RouterNetwork,
    batch: &TokenBatch,
    routing: Tensor,
    tasks: &[usize],
    weight_sums: &mut [Vec<f64>],
) -> Result<Vec<(Setup, Vec<usize>)>> {
    let class_scores = network.class_scores(&routing)?;
    let weights = RouterWeights::new(network, routing, None);
    let parts = routed.head_logits(batch, &weights)?;
    let logits = network.combine_heads(&parts, class_scores.as_ref())?;
    let mean = weights.mean_weights()?;
    for (task, row) in tasks.iter().zip(mean.to_vec2::<f32>()?) {
        for (sum, value) in weight_sums[*task].iter_mut().zip(row) {
            *sum += value as f64;
        }
    }
    let top = argmax(&mean)?;
    let scores = Scores {
        logits: &logits,
        top_module: Some(&top),
    };
    let objective = network.config.objective;
    l2r_setups(objective)
        .into_iter()
        .map(|setup| {
            let predicted = match (setup.setting, setup.approach) {
                // `concat`'s rule is the argmax of the calibrated heads' logits; `joint`'s, of the joint posterior.
                (Setting::Cil, Approach::L2r) if objective == RouterObjective::Concat => {
                    argmax(&logits)?
                }
                (Setting::Cil, Approach::L2r) | (Setting::Cil, Approach::L2rGated) => {
                    argmax(&network.joint_log_probs(&parts, &mean, class_scores.as_ref())?)?
                }
                (Setting::Til, _) => decide(Decision::OwnHead, routed, &scores, tasks)?,
                (Setting::Routing, _) => decide(Decision::TopModule, routed, &scores, tasks)?,
                (Setting::Cil, _) => decide(Decision::TopModuleHead, routed, &scores, tasks)?,
            };
            Ok((setup, predicted))
        })
        .collect()
}

/// One baseline's predictions on one batch, per setup.
fn baseline_predictions(
    routed: &Routed,
    baseline: &dyn RoutingBaseline,
    batch: &TokenBatch,
    features: &Features,
    tasks: &[usize],
) -> Result<Vec<(Setup, Vec<usize>)>> {
    let (logits, top) = match baseline.weights(features)? {
        ModuleWeights::PerExample { weights, mode } => {
            let composed = Routed {
                mode: mode.unwrap_or(routed.mode),
                ..*routed
            };
            let top = argmax(&weights)?;
            (
                composed.logits(batch, &FixedWeights(vec![weights]))?,
                Some(top),
            )
        }
        ModuleWeights::PerToken(hooks) => (routed.logits_with(batch, hooks)?, None),
    };
    let scores = Scores {
        logits: &logits,
        top_module: top.as_deref(),
    };
    baseline
        .setups()
        .into_iter()
        .map(|(setup, decision)| Ok((setup, decide(decision, routed, &scores, tasks)?)))
        .collect()
}

/// A training-free classifier's predictions on every test example of `task`: its best class overall (CIL), that
/// class's task (routing) and its best class of the task's own (TIL).
fn scorer_predictions(
    scorer: &dyn ClassScorer,
    routed: &Routed,
    test: &EmbeddedExamples,
    task: usize,
) -> Result<Vec<(Setup, Vec<usize>)>> {
    let scores = scorer.scores(&test.all_features())?;
    let offsets = routed.label_offsets();
    let own = scores.narrow(1, offsets[task], routed.heads[task].num_labels())?;
    let cil = argmax(&scores)?;
    let routing = cil
        .iter()
        .map(|&class| {
            offsets
                .iter()
                .rposition(|&start| start <= class)
                .unwrap_or(0)
        })
        .collect();
    let approach = scorer.approach();
    Ok(vec![
        (Setup::til(approach), argmax(&own)?),
        (Setup::routing(approach), routing),
        (Setup::cil(approach), cil),
    ])
}

/// One module shared by every task (sequential fine-tuning, multitask training), evaluated as `approach`: setups
/// TIL (each task's own classes) and CIL (all classes seen so far). `logits` gives a test batch's scores over the
/// concatenated label space of the tasks seen so far, in run order; `label_counts[j]` is task j's number of classes.
pub fn evaluate_shared_module(
    logits: &dyn Fn(&TokenBatch) -> Result<Tensor>,
    tokenizer: &TextTokenizer,
    tests: &[&EmbeddedExamples],
    label_counts: &[usize],
    names: &[String],
    approach: Approach,
) -> Result<StepEvaluation> {
    let offsets = label_offsets(label_counts.iter().copied());
    let mut eval = StepEvaluation::empty(tests.len().saturating_sub(1), names);
    for (task, test) in tests.iter().enumerate() {
        let predictions = crate::train::predict_by_length(tokenizer, &test.ids, 64, |_, batch| {
            let scores = logits(batch)?;
            let all = argmax(&scores.narrow(1, 0, label_counts.iter().sum())?)?;
            let own = argmax(&scores.narrow(1, offsets[task], label_counts[task])?)?;
            Ok(all.into_iter().zip(own).collect::<Vec<_>>())
        })?;
        let targets = Targets::new(test, task, offsets[task]);
        let (all, own): (Vec<usize>, Vec<usize>) = predictions.into_iter().unzip();
        for (setup, predicted) in [(Setup::cil(approach), all), (Setup::til(approach), own)] {
            let value = targets.accuracy(setup.setting, &predicted);
            eval.accuracy.entry(setup).or_default().push(value);
        }
    }
    Ok(eval)
}
