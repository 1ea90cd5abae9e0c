//! From step evaluations to `metrics.json`: per sequence, each setup's accuracy matrix and its summary; over
//! sequences, mean ± std. Routing accuracies are summarised apart: they are not a task's accuracy, so they get
//! no backward transfer or forgetting.

use super::evaluation::StepEvaluation;
use crate::metrics::{summarize_matrix, Approach, MatrixSummary, MeanStd, Setup};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Metrics of one (seed, order) sequence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SequenceMetrics {
    pub seed: u64,
    pub order: usize,
    pub tasks: Vec<String>,
    /// Per setup, `matrices[setup][i][j]`: the value on task j after task i (routing accuracies included).
    pub matrices: BTreeMap<Setup, Vec<Vec<f64>>>,
    /// Per TIL or CIL setup: average accuracy, BWT, forgetting, FWT.
    pub summaries: BTreeMap<Setup, MatrixSummary>,
    /// Per routing setup: the mean over tasks of the routing accuracy after the last task.
    pub final_routing: BTreeMap<Setup, f64>,
    pub final_cil_weighted_f1: Vec<f64>,
}

/// Everything `metrics.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    pub sequences: Vec<SequenceMetrics>,
    /// Per TIL or CIL setup: mean ± std over sequences of the average accuracy after the last task.
    pub average_accuracy: BTreeMap<Setup, MeanStd>,
    pub bwt: BTreeMap<Setup, MeanStd>,
    pub forgetting: BTreeMap<Setup, MeanStd>,
    /// Per routing setup: mean ± std over sequences of the routing accuracy after the last task.
    pub routing_accuracy: BTreeMap<Setup, MeanStd>,
    pub cil_weighted_f1: MeanStd,
}

/// Every setup the evaluations hold, each as a matrix and its summary.
pub fn sequence_metrics(
    (seed, order): (u64, usize),
    tasks: Vec<String>,
    evals: &[StepEvaluation],
    oracle: &[f64],
) -> SequenceMetrics {
    let mut matrices = BTreeMap::new();
    let mut summaries = BTreeMap::new();
    let mut final_routing = BTreeMap::new();
    let setups: std::collections::BTreeSet<Setup> = evals
        .iter()
        .flat_map(|e| e.accuracy.keys().copied())
        .collect();
    for setup in setups {
        let matrix: Vec<Vec<f64>> = evals.iter().map(|e| e.row(setup).to_vec()).collect();
        match setup.is_accuracy() {
            true => {
                summaries.insert(setup, summarize_matrix(&matrix, Some(oracle)));
            }
            false => {
                if let Some(value) = evals.last().and_then(|e| e.mean(setup)) {
                    final_routing.insert(setup, value);
                }
            }
        }
        matrices.insert(setup, matrix);
    }
    SequenceMetrics {
        seed,
        order,
        tasks,
        matrices,
        summaries,
        final_routing,
        final_cil_weighted_f1: evals
            .last()
            .map(|e| e.cil_weighted_f1.clone())
            .unwrap_or_default(),
    }
}

/// Mean ± std over sequences of every setup all of them report (a baseline missing from evaluations that predate
/// it is left out).
pub fn summarize(sequences: Vec<SequenceMetrics>) -> RunSummary {
    let over = |values: Vec<f64>| MeanStd::of(&values);
    let common = |keys: &dyn Fn(&SequenceMetrics) -> Vec<Setup>| -> Vec<Setup> {
        let Some(first) = sequences.first() else {
            return vec![];
        };
        keys(first)
            .into_iter()
            .filter(|s| sequences.iter().all(|m| keys(m).contains(s)))
            .collect()
    };
    let accuracy_setups = common(&|m| m.summaries.keys().copied().collect());
    let routing_setups = common(&|m| m.final_routing.keys().copied().collect());
    let per_setup = |f: &dyn Fn(&MatrixSummary) -> f64| -> BTreeMap<Setup, MeanStd> {
        accuracy_setups
            .iter()
            .map(|s| {
                (
                    *s,
                    over(sequences.iter().map(|m| f(&m.summaries[s])).collect()),
                )
            })
            .collect()
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    RunSummary {
        average_accuracy: per_setup(&|s| s.average_accuracy),
        bwt: per_setup(&|s| s.bwt),
        forgetting: per_setup(&|s| s.forgetting),
        routing_accuracy: routing_setups
            .iter()
            .map(|s| {
                (
                    *s,
                    over(sequences.iter().map(|m| m.final_routing[s]).collect()),
                )
            })
            .collect(),
        cil_weighted_f1: over(
            sequences
                .iter()
                .map(|m| mean(&m.final_cil_weighted_f1))
                .collect(),
        ),
        sequences,
    }
}

/// The progress line after a step: the mean over tasks of the main setups it has.
pub fn step_line(eval: &StepEvaluation) -> String {
    use crate::embedded::Representation::*;
    use Approach::*;
    let shown = [
        ("CIL", Setup::cil(L2r)),
        ("uniform", Setup::cil(Uniform)),
        ("top-task", Setup::cil(L2rTopTask)),
        ("gated", Setup::cil(L2rGated)),
        ("DAM-style", Setup::cil(Dam(FinalLayer))),
        ("EPI", Setup::cil(Epi(FinalLayer))),
        ("EPI layers", Setup::cil(Epi(AllLayers))),
        ("MoCL", Setup::cil(Mocl(FinalLayer))),
        ("LDA layers", Setup::cil(SharedGaussian(AllLayers))),
        ("ridge", Setup::cil(RandomRidge(FinalLayer))),
        ("ridge layers", Setup::cil(RandomRidge(AllLayers))),
        ("Arrow", Setup::cil(Arrow)),
        ("sequential CIL", Setup::cil(Sequential)),
        ("multitask CIL", Setup::cil(Multitask)),
        ("TIL routed", Setup::til(L2r)),
        ("sequential TIL", Setup::til(Sequential)),
        ("multitask TIL", Setup::til(Multitask)),
        ("oracle", Setup::til(Oracle)),
        ("routing", Setup::routing(L2r)),
    ];
    let values: Vec<String> = shown
        .iter()
        .filter_map(|(label, setup)| Some(format!("{label} {:.4}", eval.mean(*setup)?)))
        .collect();
    format!(
        "after task {} ({}): {}",
        eval.step + 1,
        eval.tasks.last().map(String::as_str).unwrap_or(""),
        values.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step: usize, cil: &[f64], routing: &[f64]) -> StepEvaluation {
        let names: Vec<String> = (0..cil.len()).map(|t| format!("t{t}")).collect();
        let mut eval = StepEvaluation::empty(step, &names);
        eval.accuracy
            .insert(Setup::cil(Approach::L2r), cil.to_vec());
        eval.accuracy.insert(
            Setup::routing(Approach::Epi(crate::embedded::Representation::FinalLayer)),
            routing.to_vec(),
        );
        eval
    }

    #[test]
    fn routing_accuracy_is_summarised_apart_without_a_bwt() {
        let evals = [step(0, &[0.9], &[1.0]), step(1, &[0.6, 0.8], &[0.5, 0.7])];
        let metrics = sequence_metrics((0, 0), vec!["t0".into(), "t1".into()], &evals, &[0.9, 0.8]);
        let routing = Setup::routing(Approach::Epi(crate::embedded::Representation::FinalLayer));
        assert!(!metrics.summaries.contains_key(&routing));
        assert!((metrics.final_routing[&routing] - 0.6).abs() < 1e-12);
        assert_eq!(metrics.matrices[&routing], vec![vec![1.0], vec![0.5, 0.7]]);
        let cil = &metrics.summaries[&Setup::cil(Approach::L2r)];
        assert!((cil.bwt - (0.6 - 0.9)).abs() < 1e-12);
        let summary = summarize(vec![metrics]);
        assert!(!summary.bwt.contains_key(&routing));
        assert!((summary.routing_accuracy[&routing].mean - 0.6).abs() < 1e-12);
    }
}
