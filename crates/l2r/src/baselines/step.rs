//! Every baseline of one step, built once and evaluated on every task's test examples: the routing baselines on
//! L2R's modules and heads, and the training-free classifiers that need neither.

use super::arrow::{ArrowRouting, ARROW_TOP_K};
use super::class_scorer::ClassScorer;
use super::config::BaselinesConfig;
use super::dam::Dam;
use super::epi::EpiIdentifier;
use super::lda::Lda;
use super::mocl::Mocl;
use super::nearest_mean::NearestMean;
use super::ridge::Ridge;
use super::routing::RoutingBaseline;
use super::step_statistics::StepStatistics;
use super::task_stats::stacked_keys;
use super::uniform::Uniform;
use crate::compose::Routed;
use crate::embedded::EmbeddedExamples;
use crate::error::Result;

pub struct StepBaselines<'a> {
    pub routing: Vec<Box<dyn RoutingBaseline + 'a>>,
    pub scorers: Vec<Box<dyn ClassScorer>>,
}

/// Every baseline on the modules of `routed`, built once per step from what each finished task left: its
/// statistics, and the memory's centroids, at every representation `config` lists. Arrow only where the modules are
/// LoRA.
pub fn step_baselines<'a>(
    routed: &Routed<'a>,
    statistics: &StepStatistics,
    memory: &EmbeddedExamples,
    config: &BaselinesConfig,
) -> Result<StepBaselines<'a>> {
    if !config.evaluate {
        return Ok(StepBaselines {
            routing: Vec::new(),
            scorers: Vec::new(),
        });
    }
    let num_tasks = routed.num_tasks();
    let mut routing: Vec<Box<dyn RoutingBaseline + 'a>> = vec![Box::new(Uniform { num_tasks })];
    let mut scorers: Vec<Box<dyn ClassScorer>> = Vec::new();
    for &representation in &config.representations {
        let tasks = statistics.tasks();
        let classes = tasks
            .iter()
            .map(|s| Ok(&s.get(representation)?.classes))
            .collect::<Result<Vec<_>>>()?;
        let gaussian = statistics.gaussian(representation)?;
        let centroids = memory.centroids_of(memory.features(representation), num_tasks)?;
        routing.extend([
            Box::new(Dam::new(centroids, representation)) as Box<dyn RoutingBaseline>,
            Box::new(EpiIdentifier::new(gaussian.clone(), representation)),
            Box::new(Mocl::new(
                stacked_keys(tasks, representation)?,
                representation,
            )),
        ]);
        scorers.extend([
            Box::new(NearestMean::new(&classes, representation)?) as Box<dyn ClassScorer>,
            Box::new(Lda::new(gaussian, representation)),
            Box::new(Ridge(statistics.ridge(representation)?)),
        ]);
    }
    if !routed.stack.loras.is_empty() {
        routing.push(Box::new(ArrowRouting::new(routed.stack, ARROW_TOP_K)?));
    }
    Ok(StepBaselines { routing, scorers })
}
