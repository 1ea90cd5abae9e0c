//! Every task's within-task weights for `calibrate_on = "validation"` or `"pooled_validation"`
//! (router/within_task.rs): each task's validation split scored by its own module alone and its head and, with ridge
//! heads, by its own ridge classifier (from its own statistics), so that what is fitted depends only on what the tasks
//! leave behind when they finish; then one pair per task, or one pair for all of them on their rows together.

use super::export::passes;
use super::modules::embed;
use crate::baselines::{ridge_classifier, TaskStatistics};
use crate::compose::Routed;
use crate::data::BenchmarkTask;
use crate::error::{Error, Result};
use crate::router::{CalibrateOn, RouterConfig, WithinTaskFit, WithinTaskWeights};
use crate::statistics::RidgeClassifier;

/// One row of scores per example.
type Rows = Vec<Vec<f32>>;

/// One task's validation split as the within-task fit reads it: its head's logits with its module alone, its own
/// ridge's scores and that ridge (with ridge heads), the labels.
struct ScoredValidation {
    head: Rows,
    ridge: Option<Rows>,
    labels: Vec<usize>,
    own_ridge: Option<RidgeClassifier>,
}

/// Each task's scored validation split, kept across one sequence's router fits. A finished task's module, head and
/// statistics never change, so its split is scored (embedded, run through its module, its own ridge solved) once,
/// not again at every later step: T times in a sequence fitted after every task, rather than T(T+1)/2.
#[derive(Default)]
pub struct ValidationScores {
    tasks: Vec<ScoredValidation>,
}

impl ValidationScores {
    /// The within-task weights of `tasks` (as many as `statistics`, in order), scoring the splits of the tasks not
    /// scored yet. The tasks scored already must be the first of `tasks`, with the same modules and statistics.
    pub fn fit(
        &mut self,
        config: &RouterConfig,
        ridge_dim: usize,
        routed: &Routed,
        (tasks, statistics): (&[&BenchmarkTask], &[&TaskStatistics]),
    ) -> Result<WithinTaskFit> {
        if tasks.len() != statistics.len() {
            return Err(Error::invalid(format!(
                "within-task weights of {} tasks with {} tasks' statistics",
                tasks.len(),
                statistics.len()
            )));
        }
        for t in self.tasks.len()..tasks.len() {
            let scored = score_validation(config, ridge_dim, routed, t, (tasks[t], statistics[t]))?;
            self.tasks.push(scored);
        }
        fit_within_task(config, tasks, &self.tasks[..tasks.len()])
    }
}

/// Task `t`'s validation split scored by its module alone, its head and (with ridge heads) its own ridge.
fn score_validation(
    config: &RouterConfig,
    ridge_dim: usize,
    routed: &Routed,
    t: usize,
    (task, stats): (&BenchmarkTask, &TaskStatistics),
) -> Result<ScoredValidation> {
    let representation = config.input.representation();
    let validation = embed(routed.backbone, &task.validation, t)?;
    let mut head = Vec::with_capacity(validation.len());
    for pass in passes(routed, &validation) {
        let (_, batch) = pass?;
        let pooled = routed.pooled_alone(&batch, t)?;
        head.extend(
            routed.heads[t]
                .forward_features(&pooled)?
                .to_vec2::<f32>()?,
        );
    }
    let own_ridge = match config.uses_ridge_heads() {
        true => Some(ridge_classifier(&[stats], representation, ridge_dim)?),
        false => None,
    };
    let ridge = match &own_ridge {
        Some(ridge) => Some(
            ridge
                .scores(validation.features(representation))?
                .to_vec2::<f32>()?,
        ),
        None => None,
    };
    Ok(ScoredValidation {
        head,
        ridge,
        labels: validation.labels.clone(),
        own_ridge,
    })
}

/// The within-task weights of `tasks` from their scored validation splits: a pair per task, or one for all.
fn fit_within_task(
    config: &RouterConfig,
    tasks: &[&BenchmarkTask],
    scored: &[ScoredValidation],
) -> Result<WithinTaskFit> {
    let weights = match config.calibrates_on() {
        CalibrateOn::PooledValidation => {
            vec![fit_rows(&scored.iter().collect::<Vec<_>>())?; scored.len()]
        }
        _ => scored
            .iter()
            .map(|task| fit_rows(&[task]))
            .collect::<Result<Vec<_>>>()?,
    };
    for (task, fitted) in tasks.iter().zip(&weights) {
        tracing::info!(
            task = %task.name,
            head_scale = fitted.head_scale,
            ridge_scale = fitted.ridge_scale,
            "within-task weights fitted on validation"
        );
    }
    Ok(WithinTaskFit {
        weights,
        // Every task has its own ridge with ridge heads on, none without.
        ridges: scored.iter().map(|task| task.own_ridge.clone()).collect(),
    })
}

/// One pair of within-task weights fitted on the rows of `tasks` together.
fn fit_rows(tasks: &[&ScoredValidation]) -> Result<WithinTaskWeights> {
    let head: Rows = tasks.iter().flat_map(|t| t.head.clone()).collect();
    let ridge: Option<Rows> = tasks
        .iter()
        .map(|t| t.ridge.clone())
        .collect::<Option<Vec<Rows>>>()
        .map(|parts| parts.concat());
    let labels: Vec<usize> = tasks.iter().flat_map(|t| t.labels.clone()).collect();
    WithinTaskWeights::fit(&head, ridge.as_deref(), &labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backbone::tiny::tiny_backbone;
    use crate::baselines::BaselinesConfig;
    use crate::data::Example;
    use crate::testing::RandomTasks;

    /// A two-label task whose texts differ from every other task's.
    fn task(t: usize) -> BenchmarkTask {
        let split = |kind: &str, n: usize| -> Vec<Example> {
            (0..n)
                .map(|i| Example {
                    text: format!("task {t} {kind} example {i} word{}", i % 3),
                    label: i % 2,
                })
                .collect()
        };
        BenchmarkTask {
            name: format!("task{t}"),
            train: split("train", 8),
            validation: split("validation", 6),
            test: Vec::new(),
            labels: vec!["a".into(), "b".into()],
        }
    }

    #[test]
    fn tasks_scored_at_earlier_steps_give_the_same_fit_as_scoring_them_again() -> Result<()> {
        let backbone = tiny_backbone(0)?;
        let random = RandomTasks::new(&backbone, 3)?;
        let heads = random.head_refs();
        let routed = random.routed(&backbone, &heads);
        let config = RouterConfig {
            ridge_heads: Some(true),
            calibrate_on: Some(CalibrateOn::PooledValidation),
            ..RouterConfig::default()
        };
        let baselines = BaselinesConfig {
            representations: vec![config.input.representation()],
            ridge_dim: 32,
            ..BaselinesConfig::default()
        };
        let tasks: Vec<BenchmarkTask> = (0..3).map(task).collect();
        let statistics = tasks
            .iter()
            .enumerate()
            .map(|(t, task)| {
                let train = embed(&backbone, &task.train, t)?;
                let validation = embed(&backbone, &task.validation, t)?;
                TaskStatistics::fit(&train, &validation, 2, &baselines, 0)
            })
            .collect::<Result<Vec<_>>>()?;
        let task_refs: Vec<&BenchmarkTask> = tasks.iter().collect();
        let stat_refs: Vec<&TaskStatistics> = statistics.iter().collect();
        let first = |n: usize| (&task_refs[..n], &stat_refs[..n]);

        let fresh = ValidationScores::default().fit(&config, 32, &routed, first(3))?;
        let mut kept = ValidationScores::default();
        for n in 1..=3 {
            kept.fit(&config, 32, &routed, first(n))?;
        }
        assert_eq!(kept.tasks.len(), 3, "each task scored once");
        let again = kept.fit(&config, 32, &routed, first(3))?;
        assert_eq!(again.weights, fresh.weights);
        let ridge_weights = |fit: &WithinTaskFit| -> Result<Vec<Vec<Vec<f32>>>> {
            fit.ridges
                .as_ref()
                .expect("ridge heads are on")
                .iter()
                .map(|r| Ok(r.weights().to_vec2::<f32>()?))
                .collect()
        };
        assert_eq!(ridge_weights(&again)?, ridge_weights(&fresh)?);

        let two = ValidationScores::default().fit(&config, 32, &routed, first(2))?;
        assert_eq!(
            kept.fit(&config, 32, &routed, first(2))?.weights,
            two.weights
        );
        let mismatched = kept.fit(&config, 32, &routed, (&task_refs[..2], &stat_refs[..1]));
        assert!(mismatched.is_err());
        Ok(())
    }
}
