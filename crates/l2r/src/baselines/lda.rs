//! Linear discriminant analysis on the frozen features (FeCAM / streaming-LDA style; Goswami et al., NeurIPS 2023;
//! Prabhu et al., NeurIPS 2024): one Gaussian per class with the covariance every class shares, equal priors, so an
//! input takes the class at minimum Mahalanobis distance.

use super::class_scorer::ClassScorer;
use crate::embedded::{Features, Representation};
use crate::error::Result;
use crate::metrics::Approach;
use crate::statistics::SharedGaussian;
use candle_core::Tensor;
use std::sync::Arc;

pub struct Lda {
    gaussian: Arc<SharedGaussian>,
    representation: Representation,
}

impl Lda {
    pub fn new(gaussian: Arc<SharedGaussian>, representation: Representation) -> Self {
        Lda {
            gaussian,
            representation,
        }
    }
}

impl ClassScorer for Lda {
    fn approach(&self) -> Approach {
        Approach::SharedGaussian(self.representation)
    }

    /// The log-likelihood up to a constant: −½ the squared Mahalanobis distance.
    fn scores(&self, features: &Features) -> Result<Tensor> {
        let distances = self.gaussian.distances(features.get(self.representation))?;
        Ok((distances * -0.5)?)
    }
}
