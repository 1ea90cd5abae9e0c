//! Every task's within-task weights for `calibrate_on = "validation"` (router/within_task.rs): each fitted on the
//! task's validation split with its own module alone and, with ridge heads, its own ridge classifier (from its own
//! statistics), so that each depends only on what the task leaves behind when it finishes.

use super::export::passes;
use super::modules::embed;
use crate::baselines::TaskStatistics;
use crate::compose::Routed;
use crate::data::BenchmarkTask;
use crate::error::Result;
use crate::router::{RouterConfig, WithinTaskFit, WithinTaskWeights};
use crate::statistics::{RandomProjection, RidgeClassifier};

/// The within-task weights of `tasks` (as many as `statistics`), in order.
pub fn fit_within_task(
    config: &RouterConfig,
    ridge_dim: usize,
    routed: &Routed,
    tasks: &[&BenchmarkTask],
    statistics: &[&TaskStatistics],
) -> Result<WithinTaskFit> {
    let representation = config.input.representation();
    let mut weights = Vec::with_capacity(statistics.len());
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
                let classes = &stats.get(representation)?.classes;
                let projection = RandomProjection::new(classes.class_means.dim(1)?, ridge_dim)?;
                Some(RidgeClassifier::new(
                    &[&stats.get(representation)?.ridge],
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
        let fitted = WithinTaskWeights::fit(&head, ridge_scores.as_deref(), &validation.labels)?;
        tracing::info!(
            task = %task.name,
            head_scale = fitted.head_scale,
            ridge_scale = fitted.ridge_scale,
            "within-task weights fitted on the validation split"
        );
        weights.push(fitted);
        ridges.extend(own_ridge);
    }
    Ok(WithinTaskFit {
        weights,
        ridges: config.uses_ridge_heads().then_some(ridges),
    })
}
