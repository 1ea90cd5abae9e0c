//! What a finished task's training split leaves behind without keeping an example, in a frozen representation:
//! class means and within-class scatter (the shared-covariance Gaussian of every class is built from them), and the
//! sums of a ridge regression on a random ReLU projection. The baselines classify and identify tasks with them; the
//! routers can take the Gaussian's task posterior as their prior, and fit on features drawn from it.

mod class_statistics;
mod eigen;
mod gaussian;
mod replay;
mod ridge;

pub use class_statistics::ClassStatistics;
pub use eigen::{symmetric_eigen, SymmetricEigen};
pub use gaussian::{pack_upper, unpack_upper, SharedGaussian, PINV_EPS_PER_DIM};
pub use replay::ClassGaussians;
pub use ridge::{RandomProjection, RidgeClassifier, RidgeStatistics, RIDGE_GRID};

#[cfg(test)]
pub(crate) use gaussian::tests;
