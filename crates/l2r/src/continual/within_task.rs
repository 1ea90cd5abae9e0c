//! Every task's within-task weights for `calibrate_on = "validation"` or `"pooled_validation"`
//! (router/within_task.rs): each task's validation split scored by its own module alone and its head and, with ridge
//! heads, by its own ridge classifier (from its own statistics), so that what is fitted depends only on what the tasks
//! leave behind when they finish; then one pair per task, or one pair for all of them on their rows together.

use super::export::passes;
use super::modules::embed;
use crate::baselines::TaskStatistics;
use crate::compose::Routed;
use crate::data::BenchmarkTask;
use crate::error::Result;
use crate::router::{CalibrateOn, RouterConfig, WithinTaskFit, WithinTaskWeights};
use crate::statistics::{RandomProjection, RidgeClassifier};

/// One row of scores per example.
type Rows = Vec<Vec<f32>>;

/// One task's validation rows: its head's logits, its own ridge's scores (with ridge heads), the labels.
type Scored = (Rows, Option<Rows>, Vec<usize>);

/// The within-task weights of `tasks` (as many as `statistics`), in order.
pub fn fit_within_task(
    config: &RouterConfig,
    ridge_dim: usize,
    routed: &Routed,
    tasks: &[&BenchmarkTask],
    statistics: &[&TaskStatistics],
) -> Result<WithinTaskFit> {
    let representation = config.input.representation();
    let mut scored = Vec::with_capacity(statistics.len());
    let mut ridges = Vec::with_capacity(statistics.len());
    for (t, (task, stats)) in tasks.iter().zip(statistics).enumerate() {
        let validation = embed(routed.backbone, &task.validation, t)?;
        let mut head = Vec::with_capacity(validation.len());
        for pass in passes(routed, &validation) {
            let (_, batch) = pass?;
            let pooled = routed.pooled_alone(&batch, t)?;
            head.extend(routed.heads[t].forward(&pooled)?.to_vec2::<f32>()?);
        }
        let own_ridge = match config.uses_ridge_heads() {
            true => {
                let own = stats.get(representation)?;
                let projection = RandomProjection::new(own.classes.class_means.dim(1)?, ridge_dim)?;
                Some(RidgeClassifier::new(
                    &[&own.ridge],
                    projection,
                    representation,
                )?)
            }
            false => None,
        };
        let ridge_scores = match &own_ridge {
            Some(ridge) => Some(
                ridge
                    .scores(validation.features(representation))?
                    .to_vec2::<f32>()?,
            ),
            None => None,
        };
        scored.push((head, ridge_scores, validation.labels.clone()));
        ridges.extend(own_ridge);
    }
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
        ridges: config.uses_ridge_heads().then_some(ridges),
    })
}

/// One pair of within-task weights fitted on the rows of `tasks` together.
fn fit_rows(tasks: &[&Scored]) -> Result<WithinTaskWeights> {
    let head: Rows = tasks.iter().flat_map(|t| t.0.clone()).collect();
    let ridge: Option<Rows> = tasks
        .iter()
        .map(|t| t.1.clone())
        .collect::<Option<Vec<Rows>>>()
        .map(|parts| parts.concat());
    let labels: Vec<usize> = tasks.iter().flat_map(|t| t.2.clone()).collect();
    WithinTaskWeights::fit(&head, ridge.as_deref(), &labels)
}
