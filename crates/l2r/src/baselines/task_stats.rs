//! What the baselines keep of each task once it is learned, computed from the frozen features of its training split
//! (and, for the ridge's regulariser, of its validation split), in every representation the baselines read: class
//! means and within-class scatter (nearest mean, LDA, EPI), MoCL's key, the ridge's sums. Saved beside the task's
//! module (they depend on the task's data, the backbone and the seed, as the module does) and shared by every order.

use super::config::BaselinesConfig;
use super::mocl::train_key;
use crate::backbone::WeightMap;
use crate::embedded::{EmbeddedExamples, Representation};
use crate::error::{Error, Result};
use crate::statistics::{ClassGaussians, ClassStatistics, SharedGaussian};
use crate::statistics::{RandomProjection, RidgeClassifier, RidgeStatistics};
use candle_core::{Device, Tensor};
use std::collections::BTreeMap;
use std::path::Path;

/// A task's statistics in one representation.
pub struct RepresentationStatistics {
    pub classes: ClassStatistics,
    /// MoCL key (d,).
    pub mocl_key: Tensor,
    pub ridge: RidgeStatistics,
}

pub struct TaskStatistics {
    by_representation: BTreeMap<Representation, RepresentationStatistics>,
}

impl TaskStatistics {
    /// From the task's embedded `train` and `validation` splits, in every representation `config` lists.
    pub fn fit(
        train: &EmbeddedExamples,
        validation: &EmbeddedExamples,
        num_labels: usize,
        config: &BaselinesConfig,
        seed: u64,
    ) -> Result<Self> {
        let mut by_representation = BTreeMap::new();
        for &representation in &config.representations {
            let features = train.features(representation);
            let projection = RandomProjection::new(features.dim(1)?, config.ridge_dim)?;
            let (mocl_key, _) = train_key(features, &config.mocl_key, seed)?;
            let statistics = RepresentationStatistics {
                classes: ClassStatistics::fit(features, &train.labels, num_labels)?,
                mocl_key,
                ridge: RidgeStatistics::fit(
                    &projection,
                    (features, &train.labels),
                    (validation.features(representation), &validation.labels),
                    num_labels,
                )?,
            };
            by_representation.insert(representation, statistics);
        }
        Ok(TaskStatistics { by_representation })
    }

    /// The statistics in `representation`, if they were computed.
    pub fn get(&self, representation: Representation) -> Result<&RepresentationStatistics> {
        self.by_representation.get(&representation).ok_or_else(|| {
            Error::invalid(format!(
                "no task statistics at the {} representation; add it to [baselines] representations",
                representation.name()
            ))
        })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tensors = Vec::new();
        for (representation, stats) in &self.by_representation {
            let key = |name: &str| format!("{}.{name}", representation.name());
            tensors.extend([
                (key("class_means"), stats.classes.class_means.clone()),
                (key("scatter"), stats.classes.scatter.clone()),
                (
                    key("count"),
                    Tensor::new(&[stats.classes.count as f32], &Device::Cpu)?,
                ),
                (
                    key("class_counts"),
                    Tensor::new(as_f32(&stats.classes.class_counts), &Device::Cpu)?,
                ),
                (key("mocl_key"), stats.mocl_key.clone()),
                (key("ridge.gram"), stats.ridge.gram.clone()),
                (key("ridge.cross"), stats.ridge.cross.clone()),
                (
                    key("ridge.validation_gram"),
                    stats.ridge.validation_gram.clone(),
                ),
                (
                    key("ridge.validation_cross"),
                    stats.ridge.validation_cross.clone(),
                ),
            ]);
        }
        crate::io::write_safetensors(path, tensors)
    }

    /// Loads statistics of a task with `num_labels` classes; `dims` gives each representation's width.
    pub fn load(
        path: &Path,
        num_labels: usize,
        dims: &[(Representation, usize)],
        config: &BaselinesConfig,
    ) -> Result<Self> {
        let weights = WeightMap::load(path)?;
        let m = config.ridge_dim;
        let mut by_representation = BTreeMap::new();
        for &representation in &config.representations {
            let d = dims
                .iter()
                .find(|(r, _)| *r == representation)
                .map(|&(_, d)| d)
                .ok_or_else(|| Error::invalid("no width given for a representation"))?;
            let key = |name: &str| format!("{}.{name}", representation.name());
            let statistics = RepresentationStatistics {
                classes: ClassStatistics {
                    class_means: weights.get(&key("class_means"), &[num_labels, d])?,
                    scatter: weights.get(&key("scatter"), &[d, d])?,
                    count: weights.get(&key("count"), &[1])?.to_vec1::<f32>()?[0] as usize,
                    class_counts: weights
                        .get(&key("class_counts"), &[num_labels])
                        .map_err(|error| {
                            Error::invalid(format!(
                                "{error}: statistics written before l2r kept class counts; a run recomputes \
                                 them, a task library needs the task added again"
                            ))
                        })?
                        .to_vec1::<f32>()?
                        .into_iter()
                        .map(|c| c as usize)
                        .collect(),
                },
                mocl_key: weights.get(&key("mocl_key"), &[d])?,
                ridge: RidgeStatistics {
                    gram: weights.get(&key("ridge.gram"), &[m, m])?,
                    cross: weights.get(&key("ridge.cross"), &[m, num_labels])?,
                    validation_gram: weights.get(&key("ridge.validation_gram"), &[m, m])?,
                    validation_cross: weights
                        .get(&key("ridge.validation_cross"), &[m, num_labels])?,
                },
            };
            by_representation.insert(representation, statistics);
        }
        Ok(TaskStatistics { by_representation })
    }
}

/// Counts as f32, the dtype the statistics files keep them in (exact below 2²⁴).
fn as_f32(counts: &[usize]) -> Vec<f32> {
    counts.iter().map(|&c| c as f32).collect()
}

/// The shared-covariance Gaussian of `tasks`' classes in `representation`.
pub fn shared_gaussian(
    tasks: &[&TaskStatistics],
    representation: Representation,
) -> Result<SharedGaussian> {
    SharedGaussian::new(&classes_at(tasks, representation)?)
}

/// Every task's class statistics in `representation`.
fn classes_at<'a>(
    tasks: &[&'a TaskStatistics],
    representation: Representation,
) -> Result<Vec<&'a ClassStatistics>> {
    tasks
        .iter()
        .map(|t| Ok(&t.get(representation)?.classes))
        .collect()
}

/// The class Gaussians of `tasks` in `representation`, to draw features from (`[router] gaussian_replay`).
pub fn class_gaussians(
    tasks: &[&TaskStatistics],
    representation: Representation,
) -> Result<ClassGaussians> {
    ClassGaussians::new(&classes_at(tasks, representation)?)
}

/// The shared-covariance Gaussian of `tasks`' classes in `representation` as if the examples of `memory` had been
/// left out of their training splits: the Gaussian prior on the memory as it is on examples it never saw.
pub fn shared_gaussian_without(
    tasks: &[&TaskStatistics],
    representation: Representation,
    memory: &EmbeddedExamples,
) -> Result<SharedGaussian> {
    let held_out = tasks
        .iter()
        .enumerate()
        .map(|(task, statistics)| {
            let (own, labels) = memory_of_task(memory, representation, task)?;
            statistics
                .get(representation)?
                .classes
                .without(&own, &labels)
        })
        .collect::<Result<Vec<_>>>()?;
    SharedGaussian::new(&held_out.iter().collect::<Vec<_>>())
}

/// Task `task`'s memory examples in `representation` (on the CPU, where the statistics live) and their labels.
fn memory_of_task(
    memory: &EmbeddedExamples,
    representation: Representation,
    task: usize,
) -> Result<(Tensor, Vec<usize>)> {
    let features = memory.features(representation);
    let rows: Vec<u32> = (0..memory.len())
        .filter(|&i| memory.tasks[i] == task)
        .map(|i| i as u32)
        .collect();
    let labels: Vec<usize> = rows.iter().map(|&i| memory.labels[i as usize]).collect();
    let index = Tensor::new(rows.as_slice(), features.device())?;
    Ok((
        features.index_select(&index, 0)?.to_device(&Device::Cpu)?,
        labels,
    ))
}

/// The ridge classifier of `tasks`' statistics in `representation`, on a projection to `ridge_dim`.
pub fn ridge_classifier(
    tasks: &[&TaskStatistics],
    representation: Representation,
    ridge_dim: usize,
) -> Result<RidgeClassifier> {
    let projection = ridge_projection(tasks, representation, ridge_dim)?;
    let ridges = tasks
        .iter()
        .map(|t| Ok(&t.get(representation)?.ridge))
        .collect::<Result<Vec<_>>>()?;
    RidgeClassifier::new(&ridges, projection, representation)
}

/// The same classifier fitted without `memory`'s examples (taken out of each task's sums exactly), for the ridge
/// prior's held-out fit.
pub fn ridge_classifier_without(
    tasks: &[&TaskStatistics],
    representation: Representation,
    ridge_dim: usize,
    memory: &EmbeddedExamples,
) -> Result<RidgeClassifier> {
    let projection = ridge_projection(tasks, representation, ridge_dim)?;
    let ridges = tasks
        .iter()
        .enumerate()
        .map(|(task, statistics)| {
            let (own, labels) = memory_of_task(memory, representation, task)?;
            let ridge = &statistics.get(representation)?.ridge;
            ridge.without(&projection, &own, &labels)
        })
        .collect::<Result<Vec<_>>>()?;
    RidgeClassifier::new(
        &ridges.iter().collect::<Vec<_>>(),
        projection,
        representation,
    )
}

/// The random projection of every ridge in `representation`: its width is the representation's.
fn ridge_projection(
    tasks: &[&TaskStatistics],
    representation: Representation,
    ridge_dim: usize,
) -> Result<RandomProjection> {
    let dim = tasks
        .first()
        .ok_or_else(|| Error::invalid("a ridge classifier needs at least one task"))?
        .get(representation)?
        .classes
        .class_means
        .dim(1)?;
    RandomProjection::new(dim, ridge_dim)
}

/// The MoCL keys of `tasks` in `representation`, stacked: (T, d).
pub fn stacked_keys(tasks: &[&TaskStatistics], representation: Representation) -> Result<Tensor> {
    if tasks.is_empty() {
        return Err(Error::invalid("no task statistics to route with"));
    }
    let keys = tasks
        .iter()
        .map(|t| Ok(t.get(representation)?.mocl_key.clone()))
        .collect::<Result<Vec<_>>>()?;
    Ok(Tensor::stack(&keys, 0)?)
}
