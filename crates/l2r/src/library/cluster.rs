//! Training a library's tasks as independent jobs of a cluster scheduler, then publishing them once: what the job
//! files of every scheduler share. Each job runs `l2r library train DIR --tasks LIST` (the element's task index
//! comes from the scheduler's environment: `SLURM_ARRAY_TASK_ID`, `JOB_COMPLETION_INDEX`), and the publish job
//! `l2r library publish DIR --tasks LIST` once they all succeeded. Files: [`super::slurm`], [`super::kubernetes`].

use super::task_list::TaskList;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The environment variables a job's task index is read from, in order: Slurm job arrays, Kubernetes Indexed Jobs.
pub const INDEX_VARIABLES: [&str; 2] = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"];

/// The task index of this job, from the first of [`INDEX_VARIABLES`] that is set.
pub fn index_from_environment() -> Result<usize> {
    for name in INDEX_VARIABLES {
        if let Ok(value) = std::env::var(name) {
            return value
                .trim()
                .parse()
                .map_err(|_| Error::invalid(format!("{name}='{value}' is not a task index")));
        }
    }
    Err(Error::invalid(format!(
        "no task index: give --index, or run as a job array element ({} set)",
        INDEX_VARIABLES.join(" or ")
    )))
}

/// How cluster jobs run `l2r`.
#[derive(Debug, Clone)]
pub struct JobOptions {
    /// The `l2r` binary as the jobs see it.
    pub l2r: PathBuf,
    /// Training jobs (array elements) running at once.
    pub max_parallel: usize,
    /// Cores per job (the trainer's threads).
    pub cpus_per_task: usize,
}

/// What every scheduler's job files need.
#[derive(Debug, Clone)]
pub struct ClusterJobs {
    /// The library's folder as the jobs see it.
    pub library: PathBuf,
    /// The tasks, their data paths as the jobs see them.
    pub tasks: TaskList,
    pub options: JobOptions,
    /// A name for the jobs (from the library folder's name, kept to what schedulers accept).
    pub name: String,
}

impl ClusterJobs {
    pub fn validate(&self) -> Result<()> {
        if self.options.max_parallel == 0 || self.options.cpus_per_task == 0 {
            return Err(Error::invalid(
                "--max-parallel and --cpus-per-task must be at least 1",
            ));
        }
        Ok(())
    }
}

/// A job name from the library's folder name: lowercase letters, digits and '-', at most 40 (a Kubernetes object
/// name leaves room for the Job controller's suffixes; Slurm takes it as it is).
pub fn job_name(library: &Path) -> String {
    let base = library
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() {
            true => c,
            false => '-',
        })
        .collect();
    let trimmed = cleaned.trim_matches('-');
    let name = match trimmed.is_empty() {
        true => "library",
        false => trimmed,
    };
    name.chars()
        .take(40)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

/// `text` as one word of a POSIX shell (single quotes; an embedded quote closed, escaped and reopened).
pub fn shell_word(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The task list written as the jobs read it (`[[tasks]]` with their resolved paths).
pub fn task_list_toml(tasks: &TaskList) -> Result<String> {
    #[derive(serde::Serialize)]
    struct File<'a> {
        tasks: &'a [super::train::TaskSource],
    }
    toml::to_string(&File {
        tasks: &tasks.tasks,
    })
    .map_err(|e| Error::invalid(format!("cannot write the task list: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_and_shell_words_are_safe() {
        assert_eq!(job_name(Path::new("/data/My Library_2")), "my-library-2");
        assert_eq!(job_name(Path::new("/")), "library");
        assert_eq!(shell_word("a b'c"), r"'a b'\''c'");
    }
}
