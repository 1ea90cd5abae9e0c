//! One step's task statistics and what is derived from them, each built once, when first asked for: per
//! representation, the shared-covariance Gaussian and the ridge classifier (an eigendecomposition each). A run step's
//! routers read them at the routers' representation and its baselines at every representation, so without this the
//! same ones were built two or three times a step.

use super::task_stats::{
    ridge_classifier, ridge_classifier_without, shared_gaussian, TaskStatistics,
};
use crate::embedded::EmbeddedExamples;
use crate::embedded::Representation;
use crate::error::Result;
use crate::statistics::{RidgeClassifier, SharedGaussian};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct StepStatistics<'a> {
    tasks: &'a [&'a TaskStatistics],
    ridge_dim: usize,
    gaussians: RefCell<BTreeMap<Representation, Arc<SharedGaussian>>>,
    ridges: RefCell<BTreeMap<Representation, RidgeClassifier>>,
}

impl<'a> StepStatistics<'a> {
    /// The statistics of every task seen so far, in order; ridges on a projection to `ridge_dim`.
    pub fn new(tasks: &'a [&'a TaskStatistics], ridge_dim: usize) -> Self {
        StepStatistics {
            tasks,
            ridge_dim,
            gaussians: RefCell::default(),
            ridges: RefCell::default(),
        }
    }

    pub fn tasks(&self) -> &'a [&'a TaskStatistics] {
        self.tasks
    }

    /// The shared Gaussian of every task's classes in `representation`.
    pub fn gaussian(&self, representation: Representation) -> Result<Arc<SharedGaussian>> {
        if let Some(gaussian) = self.gaussians.borrow().get(&representation) {
            return Ok(gaussian.clone());
        }
        let gaussian = Arc::new(shared_gaussian(self.tasks, representation)?);
        self.gaussians
            .borrow_mut()
            .insert(representation, gaussian.clone());
        Ok(gaussian)
    }

    /// The ridge classifier of every task's classes in `representation` (a clone shares its tensors).
    pub fn ridge(&self, representation: Representation) -> Result<RidgeClassifier> {
        if let Some(ridge) = self.ridges.borrow().get(&representation) {
            return Ok(ridge.clone());
        }
        let ridge = ridge_classifier(self.tasks, representation, self.ridge_dim)?;
        self.ridges
            .borrow_mut()
            .insert(representation, ridge.clone());
        Ok(ridge)
    }

    /// The same ridge without `memory`'s examples (not cached: one per fit).
    pub fn ridge_without(
        &self,
        representation: Representation,
        memory: &EmbeddedExamples,
    ) -> Result<RidgeClassifier> {
        ridge_classifier_without(self.tasks, representation, self.ridge_dim, memory)
    }
}
