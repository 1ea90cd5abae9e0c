//! A task's examples, split the same way every time from its [`SplitSpec`].

use super::artifacts::SplitSpec;
use crate::data::{load_task, stratified_split, subsample_per_class, Dataset, Splits};
use crate::error::Result;

/// Loads `task` (built-in name or user file) and splits it; the training split is capped per class when asked.
pub fn task_splits(task: &str, spec: &SplitSpec) -> Result<(Dataset, Splits)> {
    let dataset = load_task(task)?;
    let mut splits = stratified_split(
        &dataset,
        spec.validation_fraction,
        spec.test_fraction,
        spec.seed,
    )?;
    if let Some(cap) = spec.max_train_per_class {
        splits.train = subsample_per_class(&splits.train, cap, spec.seed);
    }
    Ok((dataset, splits))
}
