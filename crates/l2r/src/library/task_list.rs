//! A list of tasks to train as independent cluster jobs (`TASKS.toml`): one `[[tasks]]` table per task, with the
//! keys of `l2r library add` (`name`, `data`, `format`). A relative `data` path is read from the list's folder and
//! made absolute, so that a job started anywhere on the cluster finds it.
//!
//! ```toml
//! [[tasks]]
//! name = "weather"
//! data = "weather.csv"
//! ```

use super::train::TaskSource;
use crate::error::{Error, Result};
use crate::names::check_name;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct TaskList {
    pub tasks: Vec<TaskSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskListFile {
    tasks: Vec<TaskSource>,
}

impl TaskList {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let file: TaskListFile = crate::continual::config::parse_config(&text, path, |_| Ok(()))?;
        let base = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let base = std::path::absolute(base).map_err(|e| Error::io(base, e))?;
        let mut tasks: Vec<TaskSource> = Vec::with_capacity(file.tasks.len());
        for mut task in file.tasks {
            check_name("task", &task.name)?;
            if tasks.iter().any(|t| t.name == task.name) {
                return Err(Error::invalid(format!(
                    "{}: task '{}' is listed twice",
                    path.display(),
                    task.name
                )));
            }
            let beside = base.join(&task.data);
            // A path that exists beside the list is made absolute; anything else (a built-in task's name, or an
            // absolute path) is kept as written.
            if task.data.is_relative() && beside.exists() {
                task.data = beside;
            }
            tasks.push(task);
        }
        if tasks.is_empty() {
            return Err(Error::invalid(format!(
                "{} lists no task: add a [[tasks]] table with `name` and `data`",
                path.display()
            )));
        }
        Ok(TaskList { tasks })
    }

    /// The `index`-th task (a job array's element or an Indexed Job's completion index).
    pub fn get(&self, index: usize) -> Result<&TaskSource> {
        self.tasks.get(index).ok_or_else(|| {
            Error::invalid(format!(
                "task index {index} is out of range: the list has {} tasks (0 to {})",
                self.tasks.len(),
                self.tasks.len() - 1
            ))
        })
    }

    pub fn names(&self) -> Vec<String> {
        self.tasks.iter().map(|t| t.name.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_become_absolute_and_bad_lists_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), "text,label\nx,y\n").unwrap();
        let list = dir.path().join("tasks.toml");
        std::fs::write(
            &list,
            "[[tasks]]\nname = \"a\"\ndata = \"a.csv\"\n\n[[tasks]]\nname = \"b\"\ndata = \"bbc\"\n",
        )
        .unwrap();
        let tasks = TaskList::from_file(&list).unwrap();
        assert_eq!(tasks.names(), ["a", "b"]);
        assert!(tasks.tasks[0].data.is_absolute());
        assert_eq!(tasks.get(1).unwrap().data, Path::new("bbc"));
        assert!(tasks.get(2).unwrap_err().to_string().contains("0 to 1"));

        std::fs::write(&list, "[[tasks]]\nname = \"../x\"\ndata = \"a.csv\"\n").unwrap();
        assert!(TaskList::from_file(&list).is_err());
        std::fs::write(
            &list,
            "[[tasks]]\nname = \"a\"\ndata = \"a.csv\"\n[[tasks]]\nname = \"a\"\ndata = \"a.csv\"\n",
        )
        .unwrap();
        assert!(TaskList::from_file(&list)
            .unwrap_err()
            .to_string()
            .contains("twice"));
        std::fs::write(&list, "[[tasks]]\nname = \"a\"\npath = \"a.csv\"\n").unwrap();
        let error = TaskList::from_file(&list).unwrap_err().to_string();
        assert!(error.contains("unknown field `path`"), "{error}");
        std::fs::write(&list, "tasks = []\n").unwrap();
        assert!(TaskList::from_file(&list).is_err());
    }
}
