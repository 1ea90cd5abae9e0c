//! Every path of a task library.
//!
//! ```text
//! <lib>/library.toml                 the settings, fixed at init
//! <lib>/CURRENT                      the generation that serves (its number), replaced by rename
//! <lib>/library.lock                 the pid of the one writer, while it writes
//! <lib>/tasks/<name>-g<N>/           a task added in generation N, immutable: module.safetensors,
//!                                    head.safetensors, task.json, statistics.safetensors (statistics),
//!                                    memory.json (its memory sample), test.json (its held-back test split),
//!                                    frozen-train.safetensors (with `[memory] selection`: what it chose by)
//! <lib>/generations/<N>/             immutable: manifest.json (written last), router.safetensors, evaluation.json
//! <lib>/staging/<change>/            a change in progress (plan.json, task/, generation/): `--resume` finishes it
//! <lib>/staged/<name>/               a task trained by `l2r library train`, for the next `publish` (staged.json
//!                                    written last marks it complete); <name>.lock beside it while it trains
//! ```

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct LibraryLayout {
    root: PathBuf,
}

impl LibraryLayout {
    pub fn new(root: &Path) -> Self {
        LibraryLayout {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config(&self) -> PathBuf {
        self.root.join("library.toml")
    }

    pub fn current(&self) -> PathBuf {
        self.root.join("CURRENT")
    }

    pub fn lock(&self) -> PathBuf {
        self.root.join("library.lock")
    }

    pub fn tasks(&self) -> PathBuf {
        self.root.join("tasks")
    }

    /// The folder of a task (by its id, `<name>-g<N>`).
    pub fn task(&self, id: &str) -> TaskFolder {
        TaskFolder {
            dir: self.tasks().join(id),
        }
    }

    pub fn generations(&self) -> PathBuf {
        self.root.join("generations")
    }

    pub fn generation(&self, number: u64) -> GenerationFolder {
        GenerationFolder {
            dir: self.generations().join(generation_name(number)),
        }
    }

    pub fn staging(&self) -> PathBuf {
        self.root.join("staging")
    }

    /// Tasks trained for the next publish.
    pub fn staged(&self) -> PathBuf {
        self.root.join("staged")
    }

    pub fn staged_task(&self, name: &str) -> TaskFolder {
        TaskFolder {
            dir: self.staged().join(name),
        }
    }

    /// The lock of a task's trainer (beside its folder, so that deleting the folder leaves no lock inside).
    pub fn staged_lock(&self, name: &str) -> PathBuf {
        self.staged().join(format!("{name}.lock"))
    }

    /// The staging folder of one change (`add-<name>`, `remove-<name>`).
    pub fn change(&self, change: &str) -> ChangeFolder {
        ChangeFolder {
            dir: self.staging().join(change),
        }
    }
}

/// Generations sort by name as by number.
pub fn generation_name(number: u64) -> String {
    format!("{number:06}")
}

/// One task's files.
#[derive(Debug, Clone)]
pub struct TaskFolder {
    pub dir: PathBuf,
}

impl TaskFolder {
    pub fn artifacts(&self) -> crate::train::TaskArtifacts {
        crate::train::TaskArtifacts::new(&self.dir)
    }

    pub fn statistics(&self) -> PathBuf {
        self.dir.join("statistics.safetensors")
    }

    pub fn memory(&self) -> PathBuf {
        self.dir.join("memory.json")
    }

    pub fn test(&self) -> PathBuf {
        self.dir.join("test.json")
    }

    /// The frozen encoder's features of the memory's texts, kept so that later adds need not re-embed them.
    pub fn memory_features(&self) -> PathBuf {
        self.dir.join("memory-features.safetensors")
    }

    /// The same for the test split.
    pub fn test_features(&self) -> PathBuf {
        self.dir.join("test-features.safetensors")
    }
}

/// One generation's files.
#[derive(Debug, Clone)]
pub struct GenerationFolder {
    pub dir: PathBuf,
}

impl GenerationFolder {
    pub fn manifest(&self) -> PathBuf {
        self.dir.join("manifest.json")
    }

    pub fn router(&self) -> PathBuf {
        self.dir.join("router.safetensors")
    }

    pub fn evaluation(&self) -> PathBuf {
        self.dir.join("evaluation.json")
    }

    /// The generation evaluated on every test example (`l2r library evaluate`): the one file written into a
    /// generation after it is published, derived from its contents.
    pub fn full_evaluation(&self) -> PathBuf {
        self.dir.join("evaluation-full.json")
    }
}

/// A change in progress: its plan, the task it trains (for an add) and the generation it builds.
#[derive(Debug, Clone)]
pub struct ChangeFolder {
    pub dir: PathBuf,
}

impl ChangeFolder {
    pub fn plan(&self) -> PathBuf {
        self.dir.join("plan.json")
    }

    pub fn task(&self) -> TaskFolder {
        TaskFolder {
            dir: self.dir.join("task"),
        }
    }

    pub fn generation(&self) -> GenerationFolder {
        GenerationFolder {
            dir: self.dir.join("generation"),
        }
    }
}
