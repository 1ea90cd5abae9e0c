//! The episodic memory: a fixed number of training examples per class of every finished task, sampled with
//! the run's seed. It is all the router ever sees of earlier tasks.

use crate::data::{subsample_per_class, Example};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEntry {
    /// Index of the task in the run's task order.
    pub task: usize,
    /// Label within that task's own label set.
    pub label: usize,
    pub text: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    pub entries: Vec<MemoryEntry>,
}

impl Memory {
    /// Stores `per_class` random examples of each class of `task`'s training split (all, for smaller classes).
    pub fn add_task(
        &mut self,
        task: usize,
        train: &[Example],
        per_class: usize,
        seed: u64,
    ) -> Result<()> {
        if self.entries.iter().any(|e| e.task == task) {
            return Err(Error::invalid(format!("task {task} is already in memory")));
        }
        // Mixing the task index into the seed keeps tasks' samples independent of each other.
        let sample = subsample_per_class(
            train,
            per_class,
            seed ^ (task as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        self.entries.extend(sample.into_iter().map(|e| MemoryEntry {
            task,
            label: e.label,
            text: e.text,
        }));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries of tasks `0..=last_task`.
    pub fn up_to(&self, last_task: usize) -> Vec<&MemoryEntry> {
        self.entries
            .iter()
            .filter(|e| e.task <= last_task)
            .collect()
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::write_json_atomic(path, self)
    }

    pub fn load(path: &Path) -> Result<Self> {
        crate::io::read_json(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples(classes: usize, per_class: usize) -> Vec<Example> {
        (0..classes * per_class)
            .map(|i| Example {
                text: format!("text {i}"),
                label: i % classes,
            })
            .collect()
    }

    #[test]
    fn keeps_the_requested_number_per_class_and_is_deterministic() {
        let mut a = Memory::default();
        a.add_task(0, &examples(3, 50), 10, 7).unwrap();
        a.add_task(1, &examples(2, 4), 10, 7).unwrap();
        assert_eq!(a.up_to(0).len(), 30);
        assert_eq!(a.len(), 38, "a class smaller than the quota is kept whole");
        let mut b = Memory::default();
        b.add_task(0, &examples(3, 50), 10, 7).unwrap();
        b.add_task(1, &examples(2, 4), 10, 7).unwrap();
        assert_eq!(a, b);
        assert!(a.add_task(0, &examples(3, 50), 10, 7).is_err());
    }

    #[test]
    fn round_trips_through_json() {
        let dir = tempfile::tempdir().unwrap();
        let mut memory = Memory::default();
        memory.add_task(0, &examples(2, 5), 2, 1).unwrap();
        memory.save(&dir.path().join("memory.json")).unwrap();
        assert_eq!(
            Memory::load(&dir.path().join("memory.json")).unwrap(),
            memory
        );
    }
}
