//! What one step's evaluation holds (`eval-step<k>.json`): per setup, an accuracy on each task seen so far.

use crate::embedded::Representation;
use crate::metrics::{Approach, Setup};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Accuracies on each seen task (in run order) after one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredEvaluation")]
pub struct StepEvaluation {
    pub step: usize,
    pub tasks: Vec<String>,
    /// Per setup, one value per task: an accuracy (TIL, CIL) or a routing accuracy (the share of the task's test
    /// examples whose top module is the task's own). A setup the step did not evaluate is absent.
    pub accuracy: BTreeMap<Setup, Vec<f64>>,
    /// Support-weighted F1 of L2R's CIL predictions over the concatenated label space.
    pub cil_weighted_f1: Vec<f64>,
    /// `mean_weights[j][i]`: average weight of module i on task j's test examples (L2R's routers).
    pub mean_weights: Vec<Vec<f64>>,
    /// For L2R's CIL, TIL and routing setups, per task, which test examples it got right, in the order evaluated:
    /// one `1` or `0` each. A library compares two generations on the same examples with it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hits: BTreeMap<Setup, Vec<String>>,
    /// Per task, how many test examples it has, where an evaluation ran some tasks on a part of them (a library
    /// evaluates earlier tasks on a budget); empty when every example was evaluated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_sizes: Vec<usize>,
}

impl StepEvaluation {
    /// A step with no values yet (a step not evaluated keeps it so: its row of every matrix stays empty).
    pub fn empty(step: usize, names: &[String]) -> Self {
        StepEvaluation {
            step,
            tasks: names.to_vec(),
            accuracy: BTreeMap::new(),
            cil_weighted_f1: vec![],
            mean_weights: vec![],
            hits: BTreeMap::new(),
            test_sizes: vec![],
        }
    }

    /// How many test examples of each task were evaluated (from `hits`; empty for an evaluation without them).
    pub fn evaluated(&self) -> Vec<usize> {
        self.hits
            .get(&Setup::cil(Approach::L2r))
            .map_or_else(Vec::new, |rows| rows.iter().map(String::len).collect())
    }

    /// The same evaluation restricted, task by task, to the first `counts[j]` examples it evaluated (where it has
    /// their hits and evaluated at least that many; other values are kept as they are): two evaluations whose
    /// examples come in one fixed order per task are then compared on the same examples.
    pub fn on_first(&self, tasks: &[String], counts: &[usize]) -> StepEvaluation {
        let mut restricted = self.clone();
        for (setup, rows) in &self.hits {
            let Some(values) = restricted.accuracy.get_mut(setup) else {
                continue;
            };
            for (task, &count) in tasks.iter().zip(counts) {
                let Some(j) = self.tasks.iter().position(|t| t == task) else {
                    continue;
                };
                let (Some(row), Some(value)) = (rows.get(j), values.get_mut(j)) else {
                    continue;
                };
                if count > 0 && count <= row.len() {
                    let right = row.bytes().take(count).filter(|&b| b == b'1').count();
                    *value = right as f64 / count as f64;
                }
            }
        }
        restricted
    }

    /// The setup's values, empty where the step does not have it.
    pub fn row(&self, setup: Setup) -> &[f64] {
        self.accuracy.get(&setup).map_or(&[], Vec::as_slice)
    }

    /// The setup's mean over tasks, if the step has it.
    pub fn mean(&self, setup: Setup) -> Option<f64> {
        let row = self.accuracy.get(&setup)?;
        Some(row.iter().sum::<f64>() / row.len().max(1) as f64)
    }
}

/// The file's form: today's `accuracy` map, or the fields of evaluations written before setups were typed (one
/// field per setup, routing accuracies under their own names, the baselines in a map), so old run folders load.
#[derive(Deserialize)]
struct StoredEvaluation {
    step: usize,
    tasks: Vec<String>,
    #[serde(default)]
    accuracy: BTreeMap<Setup, Vec<f64>>,
    #[serde(default)]
    cil_weighted_f1: Vec<f64>,
    #[serde(default)]
    mean_weights: Vec<Vec<f64>>,
    #[serde(default)]
    hits: BTreeMap<Setup, Vec<String>>,
    #[serde(default)]
    test_sizes: Vec<usize>,
    #[serde(default)]
    baselines: BTreeMap<Setup, Vec<f64>>,
    #[serde(flatten)]
    fields: BTreeMap<String, serde_json::Value>,
}

/// Fields of the old form that are not a setup's name.
fn old_field(name: &str) -> Option<Setup> {
    match name {
        "routing_accuracy" => Some(Setup::routing(Approach::L2r)),
        "dam_routing_accuracy" => Some(Setup::routing(Approach::Dam(Representation::FinalLayer))),
        other => Setup::parse(other),
    }
}

impl From<StoredEvaluation> for StepEvaluation {
    fn from(stored: StoredEvaluation) -> Self {
        let mut accuracy = stored.accuracy;
        accuracy.extend(stored.baselines);
        for (name, value) in stored.fields {
            let (Some(setup), Ok(row)) = (old_field(&name), serde_json::from_value(value)) else {
                continue;
            };
            let row: Vec<f64> = row;
            if !row.is_empty() {
                accuracy.insert(setup, row);
            }
        }
        StepEvaluation {
            step: stored.step,
            tasks: stored.tasks,
            accuracy,
            cil_weighted_f1: stored.cil_weighted_f1,
            mean_weights: stored.mean_weights,
            hits: stored.hits,
            test_sizes: stored.test_sizes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Setting;

    #[test]
    fn an_evaluation_round_trips_through_json() {
        let mut eval = StepEvaluation::empty(1, &["a".into(), "b".into()]);
        eval.accuracy
            .insert(Setup::cil(Approach::L2r), vec![0.5, 0.75]);
        eval.accuracy.insert(
            Setup::routing(Approach::Epi(Representation::FinalLayer)),
            vec![1.0, 0.0],
        );
        eval.mean_weights = vec![vec![0.6, 0.4], vec![0.3, 0.7]];
        eval.hits
            .insert(Setup::cil(Approach::L2r), vec!["10".into(), "1101".into()]);
        eval.test_sizes = vec![2, 8];
        let json = serde_json::to_string(&eval).unwrap();
        assert!(json.contains("\"routing_epi\""), "{json}");
        assert_eq!(serde_json::from_str::<StepEvaluation>(&json).unwrap(), eval);
    }

    #[test]
    fn restricted_to_a_prefix_an_evaluation_counts_only_its_hits() {
        let names: Vec<String> = vec!["a".into(), "b".into()];
        let mut eval = StepEvaluation::empty(1, &names);
        let cil = Setup::cil(Approach::L2r);
        eval.accuracy.insert(cil, vec![0.5, 0.75]);
        eval.hits.insert(cil, vec!["10".into(), "1101".into()]);
        assert_eq!(eval.evaluated(), [2, 4]);
        // "b" on its first two examples; "a" asked for more than it has keeps its value; unknown tasks are skipped.
        let restricted = eval.on_first(&["b".into(), "a".into(), "c".into()], &[2, 3, 1]);
        assert_eq!(restricted.row(cil), [0.5, 1.0]);
        assert_eq!(eval.on_first(&names, &[1, 3]).row(cil), [1.0, 2.0 / 3.0]);
    }

    #[test]
    fn an_evaluation_written_before_typed_setups_still_loads() {
        let old = r#"{"step": 1, "tasks": ["a", "b"], "til_oracle": [0.9, 0.8], "til_routed": [0.85, 0.8],
            "cil": [0.7, 0.6], "cil_uniform": [0.4, 0.3], "cil_top_task": [0.7, 0.65], "cil_gated": [0.7, 0.6],
            "cil_dam": [0.5, 0.5], "cil_dam_top_task": [0.6, 0.5], "dam_routing_accuracy": [0.9, 0.7],
            "cil_weighted_f1": [0.69, 0.58], "routing_accuracy": [0.95, 0.9],
            "mean_weights": [[0.9, 0.1], [0.2, 0.8]],
            "baselines": {"cil_epi": [0.75, 0.7], "routing_epi": [1.0, 0.9], "til_dam": [0.8, 0.8]}}"#;
        let eval: StepEvaluation = serde_json::from_str(old).unwrap();
        assert_eq!(eval.row(Setup::cil(Approach::L2r)), [0.7, 0.6]);
        assert_eq!(eval.row(Setup::routing(Approach::L2r)), [0.95, 0.9]);
        assert_eq!(
            eval.row(Setup::routing(Approach::Dam(Representation::FinalLayer))),
            [0.9, 0.7]
        );
        assert_eq!(
            eval.row(Setup::cil(Approach::Epi(Representation::FinalLayer))),
            [0.75, 0.7]
        );
        assert_eq!(
            eval.row(Setup::til(Approach::Dam(Representation::FinalLayer))),
            [0.8, 0.8]
        );
        assert_eq!(eval.cil_weighted_f1, [0.69, 0.58]);
        assert_eq!(eval.accuracy.len(), 13);
        assert!(eval
            .accuracy
            .keys()
            .filter(|s| s.setting == Setting::Routing)
            .all(|s| !s.is_accuracy()));
    }

    #[test]
    fn an_old_skipped_step_has_no_rows() {
        let old = r#"{"step": 0, "tasks": ["a"], "til_oracle": [], "til_routed": [], "cil": [],
            "cil_uniform": [], "cil_top_task": [], "cil_weighted_f1": [], "routing_accuracy": [], "mean_weights": []}"#;
        let eval: StepEvaluation = serde_json::from_str(old).unwrap();
        assert!(eval.accuracy.is_empty());
    }
}
