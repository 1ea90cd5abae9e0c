//! Options of the baselines that have any.

use super::mocl::KeyTraining;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaselinesConfig {
    /// How each task's MoCL key is fitted to its training inputs.
    pub mocl_key: KeyTraining,
}
