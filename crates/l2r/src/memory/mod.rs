//! The episodic memory: a fixed number of training examples per class of every finished task, sampled with
//! the run's seed. It is all the router ever sees of earlier tasks.
//!
//! A *held-out* memory is drawn before the task's module is trained, and the module trains without it: the routers,
//! the heads' calibration and the ridge heads are then fitted on examples the modules never saw, so that they learn
//! how the modules behave on new inputs rather than on inputs they were trained to fit.
//!
//! Which examples of a class are kept is random by default; [`MemorySelection`] chooses them by their frozen
//! features instead (herding, k-center).

mod selection;

pub use selection::MemorySelection;

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

/// `train` without the examples of `kept` (matched by text and label, so a duplicated text leaves with its copies).
pub fn without(train: &[Example], kept: &[Example]) -> Vec<Example> {
    let kept: std::collections::HashSet<(&str, usize)> =
        kept.iter().map(|e| (e.text.as_str(), e.label)).collect();
    train
        .iter()
        .filter(|e| !kept.contains(&(e.text.as_str(), e.label)))
        .cloned()
        .collect()
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
        // Mixing the task index into the seed keeps tasks' samples independent of each other.
        let sample = subsample_per_class(
            train,
            per_class,
            seed ^ (task as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        self.add_examples(task, sample)
    }

    /// The examples a held-out memory keeps of the task named `name`: `per_class` per class of `train`, drawn with
    /// the seed and the task's *name* (not its position in the order), so that the module trained without them is
    /// the same in every task order and a module cache can share it.
    pub fn held_out_sample(
        train: &[Example],
        per_class: usize,
        seed: u64,
        name: &str,
    ) -> Vec<Example> {
        subsample_per_class(train, per_class, seed ^ crate::hash::fnv1a(name.as_bytes()))
    }

    /// Stores `examples` as the memory of `task`.
    pub fn add_examples(&mut self, task: usize, examples: Vec<Example>) -> Result<()> {
        if self.entries.iter().any(|e| e.task == task) {
            return Err(Error::invalid(format!("task {task} is already in memory")));
        }
        self.entries
            .extend(examples.into_iter().map(|e| MemoryEntry {
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
    fn a_held_out_sample_depends_on_the_task_name_and_leaves_the_rest_for_training() {
        let train = examples(3, 20);
        let a = Memory::held_out_sample(&train, 5, 7, "spam");
        assert_eq!(a.len(), 15);
        assert_eq!(a, Memory::held_out_sample(&train, 5, 7, "spam"));
        assert_ne!(a, Memory::held_out_sample(&train, 5, 7, "bbc"));
        let rest = without(&train, &a);
        assert_eq!(rest.len(), 45);
        assert!(rest.iter().all(|e| !a.contains(e)));
        let mut memory = Memory::default();
        memory.add_examples(2, a.clone()).unwrap();
        assert!(memory.add_examples(2, a).is_err());
        assert!(memory.entries.iter().all(|e| e.task == 2));
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
