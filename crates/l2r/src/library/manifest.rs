//! What a generation holds (`manifest.json`, written last into its folder): the tasks in composition order,
//! where their files are, and what changed from the generation before.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub generation: u64,
    /// The generation this one was made from (`None` for the first).
    pub parent: Option<u64>,
    /// Seconds since the Unix epoch.
    pub created: u64,
    pub change: Change,
    pub tasks: Vec<LibraryTask>,
    /// L2R's CIL average accuracy over the tasks' held-back test splits, and its routing accuracy.
    pub cil: f64,
    pub routing: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added(String),
    Removed(String),
    /// Staged tasks published together (`l2r library publish`).
    AddedTasks(Vec<String>),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Added(name) => write!(f, "added {name}"),
            Change::Removed(name) => write!(f, "removed {name}"),
            Change::AddedTasks(names) => write!(f, "added {}", names.join(", ")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibraryTask {
    pub name: String,
    /// Its folder under `tasks/`.
    pub id: String,
    pub labels: Vec<String>,
}

impl Manifest {
    pub fn task_names(&self) -> Vec<String> {
        self.tasks.iter().map(|t| t.name.clone()).collect()
    }
}
