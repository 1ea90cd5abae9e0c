//! Every routing baseline of one step, built once and evaluated on every task's test examples.

use super::arrow::{ArrowRouting, ARROW_TOP_K};
use super::dam::Dam;
use super::epi::EpiIdentifier;
use super::mocl::Mocl;
use super::routing::RoutingBaseline;
use super::task_stats::{stacked_keys, TaskStatistics};
use super::uniform::Uniform;
use crate::compose::Routed;
use crate::embedded::EmbeddedExamples;
use crate::error::Result;

/// Every routing baseline on the modules of `routed`, built once per step from what each finished task left:
/// its statistics, and the memory's centroids. Arrow only where the modules are LoRA.
pub fn step_baselines<'a>(
    routed: &Routed<'a>,
    statistics: &[&TaskStatistics],
    memory: &EmbeddedExamples,
) -> Result<Vec<Box<dyn RoutingBaseline + 'a>>> {
    let num_tasks = routed.num_tasks();
    let mut baselines: Vec<Box<dyn RoutingBaseline + 'a>> = vec![
        Box::new(Uniform { num_tasks }),
        Box::new(Dam::new(memory.centroids(num_tasks)?)),
        Box::new(EpiIdentifier::new(
            &statistics.iter().map(|s| &s.epi).collect::<Vec<_>>(),
        )?),
        Box::new(Mocl::new(stacked_keys(statistics)?)),
    ];
    if !routed.stack.loras.is_empty() {
        baselines.push(Box::new(ArrowRouting::new(routed.stack, ARROW_TOP_K)?));
    }
    Ok(baselines)
}
