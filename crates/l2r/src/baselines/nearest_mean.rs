//! Nearest class mean by cosine (SimpleCIL-style; Zhou et al., IJCV 2024): each class is the unit-norm mean of its
//! training examples' frozen features, and an input takes the class it is most similar to.

use super::class_scorer::ClassScorer;
use crate::backbone::l2_normalize;
use crate::embedded::{Features, Representation};
use crate::error::{Error, Result};
use crate::metrics::Approach;
use crate::statistics::ClassStatistics;
use candle_core::Tensor;

pub struct NearestMean {
    /// (C, d) unit-norm class means, the tasks' classes in run order.
    prototypes: Tensor,
    representation: Representation,
}

impl NearestMean {
    pub fn new(tasks: &[&ClassStatistics], representation: Representation) -> Result<Self> {
        if tasks.is_empty() {
            return Err(Error::invalid("nearest class mean needs at least one task"));
        }
        let means: Vec<Tensor> = tasks.iter().map(|t| t.class_means.clone()).collect();
        Ok(NearestMean {
            prototypes: l2_normalize(&Tensor::cat(&means, 0)?)?,
            representation,
        })
    }
}

impl ClassScorer for NearestMean {
    fn approach(&self) -> Approach {
        Approach::NearestMean(self.representation)
    }

    fn scores(&self, features: &Features) -> Result<Tensor> {
        let x = l2_normalize(features.get(self.representation))?;
        Ok(x.matmul(&self.prototypes.t()?)?)
    }
}
