//! The offline continual-learning benchmarks of docs/design.md, "Data and benchmarks": each a sequence of tasks
//! with their own label sets, split per class, capped in size and given several fixed task orders.
//!
//! | benchmark | tasks (natural order) | stands in for |
//! |---|---|---|
//! | `senti4` | vader-tweets, vader-movie, vader-amazon, vader-nyt (negative / neutral / positive each) | AfriSenti: same labels, one task per domain |
//! | `far5` | bbc (5), spam (2), vader-movie (3), wordnet-noun (8), wordnet-verb (6) | MTL5: a different label set per task |
//! | `wordnet-cil` | five domain tasks over 21 noun supersenses (see [`WORDNET_CIL_TASKS`]) | WOS: hierarchical, class-incremental |
//! | `verb-cil` | four tasks over 14 verb supersenses (see [`VERB_CIL_TASKS`]) | related tasks: one domain, a new label set per task |
//!
//! How a task is made from its corpus (deterministic in the seed):
//! 1. Texts already used by an earlier task of the benchmark are dropped, so no text is in two
//!    tasks (the loaders have already dropped repeats within a corpus).
//! 2. Each class is capped at [`SizeCaps::total`] examples, drawn at random
//!    ([`subsample_per_class`]) — *before* splitting, so that a capped class keeps the
//!    train : validation : test proportions of the caps.
//! 3. [`stratified_split`] cuts every class in those proportions, so a class with at least
//!    `total` examples gets exactly the caps, and a smaller class proportionally fewer.
//!
//! The per-task seed mixes the run's seed with the task's name, so a task shared by two
//! benchmarks is split the same way in both unless step 1 removed texts from it.

use super::split::{dedup_by_text, stratified_split, subsample_per_class};
use super::wordnet::{load_wordnet, WordnetPos};
use super::{load_builtin, Dataset, Example};
use crate::error::{Error, Result};
use std::collections::{HashMap, HashSet};

/// The names [`load_benchmark`] accepts.
pub const BENCHMARKS: &[&str] = &["senti4", "far5", "wordnet-cil", "verb-cil"];

/// Tasks of `senti4`, in natural order.
pub const SENTI4_TASKS: [&str; 4] = ["vader-tweets", "vader-movie", "vader-amazon", "vader-nyt"];

/// Task orders of `senti4`: natural; then two orders in which every task takes a position it
/// holds in no other order (rows of a Latin square).
pub const SENTI4_ORDERS: [[usize; 4]; 3] = [[0, 1, 2, 3], [3, 2, 0, 1], [1, 0, 3, 2]];

/// Tasks of `far5`, in natural order.
pub const FAR5_TASKS: [&str; 5] = ["bbc", "spam", "vader-movie", "wordnet-noun", "wordnet-verb"];

/// Task orders of `far5` and `wordnet-cil`: natural; then two orders in which every task takes a
/// position it holds in no other order, each starting and ending with a different task, and which
/// separate the natural neighbours 3 and 4 (far5's two WordNet tasks).
pub const FIVE_TASK_ORDERS: [[usize; 5]; 3] = [[0, 1, 2, 3, 4], [3, 2, 4, 0, 1], [1, 4, 0, 2, 3]];

/// The `wordnet-cil` tasks: WordNet 3.0 noun glosses labelled by supersense (lexicographer
/// file), 21 supersenses grouped by domain into 5 tasks of 4–5 classes, no class in two tasks.
/// Synsets per class in `data.noun` after dropping repeated glosses across the 21 classes (the
/// `full` size takes at most 650 per class):
///
/// | task | classes (synsets) |
/// |---|---|
/// | `wordnet-living` (living things) | animal 7,272, plant 7,910, person 11,047, body 2,015 |
/// | `wordnet-artefacts` (artefacts & substances) | artifact 11,570, substance 2,957, food 2,571, object 1,538 |
/// | `wordnet-abstractions` | cognition 2,963, communication 5,530, attribute 3,033, quantity 1,272 |
/// | `wordnet-events` (events & states) | act 6,648, event 1,074, process 770, phenomenon 641, state 3,541 |
/// | `wordnet-social` (social & places) | group 2,621, location 3,155, possession 1,061, time 1,024 |
///
/// Left out: the five noun supersenses with fewer than 450 synsets (`Tops` 51, `motive` 42,
/// `shape` 341, `feeling` 428, `relation` 437), too few for a full-size split; every class kept
/// has over 640, so every class reaches the quick caps and all but `phenomenon` (395 / 49 / 197)
/// the full ones.
pub const WORDNET_CIL_TASKS: [(&str, &[&str]); 5] = [
    (
        "wordnet-living",
        &["noun.animal", "noun.plant", "noun.person", "noun.body"],
    ),
    (
        "wordnet-artefacts",
        &[
            "noun.artifact",
            "noun.substance",
            "noun.food",
            "noun.object",
        ],
    ),
    (
        "wordnet-abstractions",
        &[
            "noun.cognition",
            "noun.communication",
            "noun.attribute",
            "noun.quantity",
        ],
    ),
    (
        "wordnet-events",
        &[
            "noun.act",
            "noun.event",
            "noun.process",
            "noun.phenomenon",
            "noun.state",
        ],
    ),
    (
        "wordnet-social",
        &[
            "noun.group",
            "noun.location",
            "noun.possession",
            "noun.time",
        ],
    ),
];

/// The `verb-cil` tasks: WordNet 3.0 verb glosses labelled by supersense, 14 supersenses in 4 tasks of related
/// meaning (one domain, one style, a new label set per task: the kind of task a user adds to a deployed model, and
/// the kind on which similarity routing is hardest). Kept apart from `wordnet-cil` (nouns) so that settings chosen
/// on one can be checked on the other. Synsets per class in `data.verb`:
///
/// | task | classes (synsets) |
/// |---|---|
/// | `verb-physical` | body 547, contact 2,196, motion 1,408 |
/// | `verb-mind` | cognition 695, perception 461, emotion 343, communication 1,548 |
/// | `verb-making` | change 2,383, creation 694, consumption 243 |
/// | `verb-social` | social 1,106, possession 847, competition 459, stative 756 |
///
/// Left out: `verb.weather` (81 synsets). Every class reaches the quick caps; the smaller ones (consumption,
/// emotion) give proportionally fewer examples at the full size.
pub const VERB_CIL_TASKS: [(&str, &[&str]); 4] = [
    (
        "verb-physical",
        &["verb.body", "verb.contact", "verb.motion"],
    ),
    (
        "verb-mind",
        &[
            "verb.cognition",
            "verb.perception",
            "verb.emotion",
            "verb.communication",
        ],
    ),
    (
        "verb-making",
        &["verb.change", "verb.creation", "verb.consumption"],
    ),
    (
        "verb-social",
        &[
            "verb.social",
            "verb.possession",
            "verb.competition",
            "verb.stative",
        ],
    ),
];

/// How large a benchmark is. Both sizes cap the examples per class (see [`SizeCaps`]) so that a
/// run stays affordable on a 2-core CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchmarkSize {
    /// For demos and CI: at most 60 / 15 / 40 train / validation / test examples per class.
    Quick,
    /// For reported results: at most 400 / 50 / 200 per class.
    Full,
}

impl BenchmarkSize {
    pub const ALL: [BenchmarkSize; 2] = [Self::Quick, Self::Full];

    pub fn caps(self) -> SizeCaps {
        match self {
            Self::Quick => SizeCaps::QUICK,
            Self::Full => SizeCaps::FULL,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quick => "quick",
            Self::Full => "full",
        }
    }
}

impl std::fmt::Display for BenchmarkSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for BenchmarkSize {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|size| size.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown benchmark size '{s}': use 'quick' or 'full'"
                ))
            })
    }
}

/// The most examples of one class that each split of a task may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SizeCaps {
    pub train: usize,
    pub validation: usize,
    pub test: usize,
}

impl SizeCaps {
    pub const QUICK: SizeCaps = SizeCaps {
        train: 60,
        validation: 15,
        test: 40,
    };
    pub const FULL: SizeCaps = SizeCaps {
        train: 400,
        validation: 50,
        test: 200,
    };

    /// The cap on a class before splitting: the sum of the three.
    pub fn total(&self) -> usize {
        self.train + self.validation + self.test
    }

    fn check(&self) -> Result<()> {
        if self.train == 0 || self.test == 0 {
            return Err(Error::invalid(format!(
                "size caps must allow at least one training and one test example per class, got \
                 train {}, validation {}, test {}",
                self.train, self.validation, self.test
            )));
        }
        Ok(())
    }

    /// The (validation, test) fractions of [`stratified_split`] that cut a class of exactly
    /// `total` examples into exactly the caps.
    fn fractions(&self) -> (f64, f64) {
        let total = self.total() as f64;
        (self.validation as f64 / total, self.test as f64 / total)
    }
}

/// One task of a benchmark: its labels and its three splits (labels index `labels`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BenchmarkTask {
    pub name: String,
    pub train: Vec<Example>,
    pub validation: Vec<Example>,
    pub test: Vec<Example>,
    pub labels: Vec<String>,
}

impl BenchmarkTask {
    /// Examples per class in the (train, validation, test) splits, in label order.
    pub fn class_counts(&self) -> [Vec<usize>; 3] {
        let count = |split: &[Example]| {
            let mut counts = vec![0; self.labels.len()];
            for e in split {
                if let Some(c) = counts.get_mut(e.label) {
                    *c += 1;
                }
            }
            counts
        };
        [
            count(&self.train),
            count(&self.validation),
            count(&self.test),
        ]
    }

    /// `name (train/validation/test): label a/b/c, ...`, for logs and reports.
    pub fn summary(&self) -> String {
        let [train, val, test] = self.class_counts();
        let classes: Vec<String> = self
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{l} {}/{}/{}", train[i], val[i], test[i]))
            .collect();
        format!(
            "{} ({}/{}/{}): {}",
            self.name,
            self.train.len(),
            self.validation.len(),
            self.test.len(),
            classes.join(", ")
        )
    }
}

/// A benchmark: tasks in natural order, and task orders to run them in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Benchmark {
    pub name: String,
    pub tasks: Vec<BenchmarkTask>,
    /// Permutations of the task indices; `orders[0]` is the natural order `0, 1, ..., n-1`.
    pub orders: Vec<Vec<usize>>,
}

impl Benchmark {
    /// The tasks in order number `order` (0 = natural).
    pub fn ordered_tasks(&self, order: usize) -> Result<Vec<&BenchmarkTask>> {
        let perm = self.orders.get(order).ok_or_else(|| {
            Error::invalid(format!(
                "benchmark '{}' has {} task orders (0..{}), not order {order}",
                self.name,
                self.orders.len(),
                self.orders.len().saturating_sub(1)
            ))
        })?;
        perm.iter()
            .map(|&i| {
                self.tasks.get(i).ok_or_else(|| {
                    Error::invalid(format!(
                        "benchmark '{}': order {order} names task {i}, but there are {} tasks",
                        self.name,
                        self.tasks.len()
                    ))
                })
            })
            .collect()
    }

    /// Classes over all tasks.
    pub fn num_classes(&self) -> usize {
        self.tasks.iter().map(|t| t.labels.len()).sum()
    }

    /// One [`BenchmarkTask::summary`] line per task.
    pub fn summary(&self) -> String {
        self.tasks
            .iter()
            .map(BenchmarkTask::summary)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Loads one of [`BENCHMARKS`] from the assets folder (see `crate::assets`).
pub fn load_benchmark(name: &str, size: BenchmarkSize, seed: u64) -> Result<Benchmark> {
    let (datasets, orders) = builtin_datasets(name)?;
    build(name, datasets, size.caps(), seed, orders)
}

/// A benchmark over user tasks (e.g. from [`super::load_user_task`] or the paper-format
/// loaders), in the given order, split like the built-in ones. Task orders: natural, reversed,
/// and rotated by half (`⌈n/2⌉, ..., n-1, 0, ...`) — three distinct orders from 3 tasks on,
/// fewer for 1 or 2 tasks (only that many exist).
pub fn benchmark_from_datasets(
    name: &str,
    datasets: Vec<Dataset>,
    size: BenchmarkSize,
    seed: u64,
) -> Result<Benchmark> {
    benchmark_with_caps(name, datasets, size.caps(), seed)
}

/// [`benchmark_from_datasets`] with caps of the caller's choosing.
pub fn benchmark_with_caps(
    name: &str,
    datasets: Vec<Dataset>,
    caps: SizeCaps,
    seed: u64,
) -> Result<Benchmark> {
    let orders = default_orders(datasets.len());
    build(name, datasets, caps, seed, orders)
}

/// Natural, reversed, rotated by `⌈n/2⌉`; repeats removed.
fn default_orders(n: usize) -> Vec<Vec<usize>> {
    let natural: Vec<usize> = (0..n).collect();
    let reversed: Vec<usize> = (0..n).rev().collect();
    let rotated: Vec<usize> = (0..n).map(|i| (i + n.div_ceil(2)) % n.max(1)).collect();
    let mut orders: Vec<Vec<usize>> = Vec::with_capacity(3);
    for order in [natural, reversed, rotated] {
        if !orders.contains(&order) {
            orders.push(order);
        }
    }
    orders
}

/// The corpora of a built-in benchmark, in natural order, and its task orders.
fn builtin_datasets(name: &str) -> Result<(Vec<Dataset>, Vec<Vec<usize>>)> {
    match name {
        "senti4" => Ok((
            load_all(&SENTI4_TASKS)?,
            SENTI4_ORDERS.iter().map(|o| o.to_vec()).collect(),
        )),
        "far5" => Ok((
            load_all(&FAR5_TASKS)?,
            FIVE_TASK_ORDERS.iter().map(|o| o.to_vec()).collect(),
        )),
        "wordnet-cil" => Ok((
            supersense_tasks(WordnetPos::Noun, &WORDNET_CIL_TASKS)?,
            FIVE_TASK_ORDERS.iter().map(|o| o.to_vec()).collect(),
        )),
        "verb-cil" => Ok((
            supersense_tasks(WordnetPos::Verb, &VERB_CIL_TASKS)?,
            SENTI4_ORDERS.iter().map(|o| o.to_vec()).collect(),
        )),
        _ => Err(Error::invalid(format!(
            "unknown benchmark '{name}': known benchmarks are {}",
            BENCHMARKS.join(", ")
        ))),
    }
}

fn load_all(names: &[&str]) -> Result<Vec<Dataset>> {
    names.iter().map(|&n| load_builtin(n)).collect()
}

/// Loads every supersense of `tasks` at once (so repeated glosses are dropped across all of them) and cuts the
/// result into the tasks.
fn supersense_tasks(pos: WordnetPos, tasks: &[(&str, &[&str])]) -> Result<Vec<Dataset>> {
    let classes: Vec<&str> = tasks.iter().flat_map(|(_, c)| c.iter().copied()).collect();
    let all = load_wordnet(pos, &classes)?;
    let mut datasets = Vec::with_capacity(tasks.len());
    let mut first = 0;
    for &(name, task_classes) in tasks {
        let range = first..first + task_classes.len();
        datasets.push(Dataset {
            name: name.to_owned(),
            labels: all.labels[range.clone()].to_vec(),
            examples: all
                .examples
                .iter()
                .filter(|e| range.contains(&e.label))
                .map(|e| Example {
                    text: e.text.clone(),
                    label: e.label - first,
                })
                .collect(),
        });
        first = range.end;
    }
    Ok(datasets)
}

fn build(
    name: &str,
    datasets: Vec<Dataset>,
    caps: SizeCaps,
    seed: u64,
    orders: Vec<Vec<usize>>,
) -> Result<Benchmark> {
    caps.check()?;
    if datasets.is_empty() {
        return Err(Error::invalid(format!("benchmark '{name}' has no tasks")));
    }
    let mut names = HashSet::new();
    if let Some(d) = datasets.iter().find(|d| !names.insert(d.name.as_str())) {
        return Err(Error::invalid(format!(
            "benchmark '{name}' has two tasks named '{}': task names must be unique",
            d.name
        )));
    }
    // Each text kept so far, with the task that keeps it.
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut tasks = Vec::with_capacity(datasets.len());
    for mut dataset in datasets {
        dataset.check()?;
        let (examples, repeated) = dedup_by_text(std::mem::take(&mut dataset.examples));
        let mut earlier_tasks: Vec<&str> = Vec::new();
        let before = examples.len();
        dataset.examples = examples
            .into_iter()
            .filter(|e| match seen.get(&e.text) {
                Some(task) => {
                    if !earlier_tasks.contains(&task.as_str()) {
                        earlier_tasks.push(task);
                    }
                    false
                }
                None => true,
            })
            .collect();
        let in_earlier_tasks = before - dataset.examples.len();
        if repeated + in_earlier_tasks > 0 {
            tracing::debug!(
                task = %dataset.name,
                repeated,
                in_earlier_tasks,
                "benchmark: dropped texts seen before"
            );
        }
        let removed = removed_note(repeated, in_earlier_tasks, &earlier_tasks);
        let kept: Vec<(String, String)> = dataset
            .examples
            .iter()
            .map(|e| (e.text.clone(), dataset.name.clone()))
            .collect();
        tasks.push(split_task(dataset, caps, seed).map_err(|e| match &removed {
            Some(note) => Error::invalid(format!("{e} ({note})")),
            None => e,
        })?);
        seen.extend(kept);
    }
    Ok(Benchmark {
        name: name.to_owned(),
        tasks,
        orders,
    })
}

/// Why a task has fewer examples than its file: texts it repeats, and texts that earlier tasks already hold (a
/// text belongs to one task only, so that no test text was seen in training under another task).
fn removed_note(
    repeated: usize,
    in_earlier_tasks: usize,
    earlier_tasks: &[&str],
) -> Option<String> {
    let mut parts = Vec::new();
    if repeated > 0 {
        parts.push(format!("{repeated} repeated text(s) were kept once"));
    }
    if in_earlier_tasks > 0 {
        let names: Vec<String> = earlier_tasks.iter().map(|t| format!("'{t}'")).collect();
        parts.push(format!(
            "{in_earlier_tasks} example(s) were removed as duplicates of texts of earlier task(s) {}",
            names.join(", ")
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Caps each class at `caps.total()`, then splits it in the caps' proportions.
fn split_task(dataset: Dataset, caps: SizeCaps, seed: u64) -> Result<BenchmarkTask> {
    let task_seed = seed ^ crate::hash::fnv1a(dataset.name.as_bytes());
    let capped = Dataset {
        examples: subsample_per_class(&dataset.examples, caps.total(), task_seed),
        ..dataset
    };
    let (validation_fraction, test_fraction) = caps.fractions();
    let splits = stratified_split(&capped, validation_fraction, test_fraction, task_seed)?;
    if splits.train.is_empty() || splits.test.is_empty() {
        return Err(Error::invalid(format!(
            "task '{}' is too small for a benchmark ({} examples: {}): it needs a class with at \
             least 2 examples, for one training and one test example",
            capped.name,
            capped.len(),
            capped.class_summary()
        )));
    }
    Ok(BenchmarkTask {
        name: capped.name,
        train: splits.train,
        validation: splits.validation,
        test: splits.test,
        labels: capped.labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task whose class `c` has `sizes[c]` examples, texts prefixed by `tag`.
    fn dataset(name: &str, tag: &str, sizes: &[usize]) -> Dataset {
        let mut examples = Vec::new();
        for (label, &n) in sizes.iter().enumerate() {
            examples.extend((0..n).map(|i| Example {
                text: format!("{tag} class {label} example {i}"),
                label,
            }));
        }
        Dataset {
            name: name.to_owned(),
            labels: (0..sizes.len()).map(|c| format!("c{c}")).collect(),
            examples,
        }
    }

    fn toy(size: BenchmarkSize, seed: u64) -> Benchmark {
        let datasets = vec![
            dataset("a", "a", &[200, 100, 30, 2]),
            dataset("b", "b", &[115, 700]),
            dataset("c", "c", &[50, 50, 50]),
        ];
        benchmark_from_datasets("toy", datasets, size, seed).unwrap()
    }

    fn assert_caps(bench: &Benchmark, caps: SizeCaps) {
        for task in &bench.tasks {
            let [train, val, test] = task.class_counts();
            for c in 0..task.labels.len() {
                assert!(
                    train[c] <= caps.train && val[c] <= caps.validation && test[c] <= caps.test,
                    "{}",
                    task.summary()
                );
            }
        }
    }

    /// No text in two splits of a task, nor in two tasks.
    fn assert_disjoint(bench: &Benchmark) {
        let mut seen = HashSet::new();
        for task in &bench.tasks {
            for e in task.train.iter().chain(&task.validation).chain(&task.test) {
                assert!(
                    seen.insert(e.text.as_str()),
                    "'{}' is in two splits or tasks",
                    e.text
                );
                assert!(e.label < task.labels.len());
            }
        }
    }

    fn assert_orders(bench: &Benchmark) {
        let n = bench.tasks.len();
        assert_eq!(bench.orders[0], (0..n).collect::<Vec<_>>());
        for order in &bench.orders {
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "{order:?}");
        }
        let distinct: HashSet<&Vec<usize>> = bench.orders.iter().collect();
        assert_eq!(distinct.len(), bench.orders.len());
        if n >= 3 {
            assert!(bench.orders.len() >= 3);
        }
    }

    #[test]
    fn caps_are_respected_and_reached_by_large_classes() {
        for size in BenchmarkSize::ALL {
            let bench = toy(size, 0);
            let caps = size.caps();
            assert_caps(&bench, caps);
            // Classes with at least `total` examples get exactly the caps.
            let [train, val, test] = bench.tasks[1].class_counts();
            assert_eq!(
                (train[1], val[1], test[1]),
                (caps.train, caps.validation, caps.test)
            );
            let [train, val, test] = bench.tasks[0].class_counts();
            assert_eq!(train[3] + val[3] + test[3], 2, "a tiny class is kept");
            assert_eq!((train[3], test[3]), (1, 1));
        }
        let [train, val, test] = toy(BenchmarkSize::Quick, 0).tasks[1].class_counts();
        assert_eq!((train[0], val[0], test[0]), (60, 15, 40));
        assert_eq!(SizeCaps::QUICK.total(), 115);
        assert_eq!(SizeCaps::FULL.total(), 650);
        let [train, val, test] = toy(BenchmarkSize::Full, 0).tasks[0].class_counts();
        // 200 of 650: the caps' proportions, 400 : 50 : 200.
        assert_eq!((train[0], val[0], test[0]), (123, 15, 62));
    }

    #[test]
    fn custom_caps_and_invalid_caps() {
        let caps = SizeCaps {
            train: 5,
            validation: 0,
            test: 3,
        };
        let bench =
            benchmark_with_caps("t", vec![dataset("a", "a", &[40, 6, 3])], caps, 1).unwrap();
        assert_caps(&bench, caps);
        assert!(bench.tasks[0].validation.is_empty());
        assert_eq!(bench.tasks[0].class_counts()[0], vec![5, 4, 2]);
        for bad in [
            SizeCaps {
                train: 0,
                validation: 1,
                test: 1,
            },
            SizeCaps {
                train: 1,
                validation: 1,
                test: 0,
            },
        ] {
            let err = benchmark_with_caps("t", vec![dataset("a", "a", &[4])], bad, 0)
                .unwrap_err()
                .to_string();
            assert!(err.contains("size caps"), "{err}");
        }
    }

    #[test]
    fn deterministic_in_the_seed() {
        let a = toy(BenchmarkSize::Quick, 7);
        assert_eq!(a, toy(BenchmarkSize::Quick, 7));
        let b = toy(BenchmarkSize::Quick, 8);
        assert_ne!(a.tasks[0].train, b.tasks[0].train);
        assert_ne!(a.tasks[1].test, b.tasks[1].test);
    }

    #[test]
    fn splits_and_tasks_are_disjoint() {
        let mut datasets = vec![
            dataset("a", "x", &[80, 80]),
            dataset("b", "y", &[80, 80, 80]),
        ];
        // A text repeated within task b, and one of task a's texts again in task b.
        datasets[1].examples[1].text = datasets[1].examples[0].text.clone();
        datasets[1].examples[2].text = datasets[0].examples[5].text.clone();
        let bench = benchmark_from_datasets("t", datasets, BenchmarkSize::Quick, 3).unwrap();
        assert_disjoint(&bench);
        let kept: usize = bench.tasks[1].class_counts().iter().flatten().sum();
        assert_eq!(kept, 238);
        assert_disjoint(&toy(BenchmarkSize::Full, 5));
    }

    #[test]
    fn a_task_emptied_by_duplicates_of_an_earlier_task_says_so() {
        let first = dataset("first", "x", &[10, 10]);
        let mut second = dataset("second", "y", &[10, 10]);
        for (copy, original) in second.examples.iter_mut().zip(&first.examples) {
            copy.text = original.text.clone();
        }
        let error = benchmark_from_datasets("t", vec![first, second], BenchmarkSize::Quick, 3)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("second") && error.contains("duplicates") && error.contains("'first'"),
            "{error}"
        );
    }

    #[test]
    fn orders_are_distinct_permutations() {
        for orders in [
            SENTI4_ORDERS.iter().map(|o| o.to_vec()).collect::<Vec<_>>(),
            FIVE_TASK_ORDERS.iter().map(|o| o.to_vec()).collect(),
        ] {
            let n = orders[0].len();
            let bench = Benchmark {
                name: "t".into(),
                tasks: (0..n)
                    .map(|i| BenchmarkTask {
                        name: i.to_string(),
                        train: vec![],
                        validation: vec![],
                        test: vec![],
                        labels: vec![],
                    })
                    .collect(),
                orders,
            };
            assert_orders(&bench);
            // Every task at a different position in each order.
            for task in 0..n {
                let positions: HashSet<usize> = bench
                    .orders
                    .iter()
                    .map(|o| o.iter().position(|&t| t == task).unwrap())
                    .collect();
                assert_eq!(positions.len(), bench.orders.len(), "task {task}");
            }
        }
        for n in 1..8 {
            let orders = default_orders(n);
            assert_eq!(orders.len(), n.min(3), "{n} tasks: {orders:?}");
        }
        assert_eq!(default_orders(4)[2], vec![2, 3, 0, 1]);
        let bench = toy(BenchmarkSize::Quick, 0);
        assert_orders(&bench);
        let names: Vec<&str> = bench
            .ordered_tasks(1)
            .unwrap()
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, vec!["c", "b", "a"]);
        assert!(bench.ordered_tasks(3).is_err());
    }

    #[test]
    fn bad_inputs_are_errors() {
        let err = benchmark_from_datasets("t", vec![], BenchmarkSize::Quick, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no tasks"), "{err}");
        let twice = vec![dataset("a", "x", &[9]), dataset("a", "y", &[9])];
        let err = benchmark_from_datasets("t", twice, BenchmarkSize::Quick, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("two tasks named 'a'"), "{err}");
        let err = benchmark_from_datasets(
            "t",
            vec![dataset("tiny", "x", &[1, 1])],
            BenchmarkSize::Quick,
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("'tiny' is too small"), "{err}");
        let mut broken = dataset("b", "x", &[5]);
        broken.examples[0].label = 4;
        assert!(benchmark_from_datasets("t", vec![broken], BenchmarkSize::Quick, 0).is_err());
        let err = load_benchmark("mtl5", BenchmarkSize::Quick, 0)
            .unwrap_err()
            .to_string();
        for name in BENCHMARKS {
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn size_names_round_trip() {
        for size in BenchmarkSize::ALL {
            assert_eq!(size.as_str().parse::<BenchmarkSize>().unwrap(), size);
            let json = serde_json::to_string(&size).unwrap();
            assert_eq!(json, format!("\"{size}\""));
        }
        assert!("Huge".parse::<BenchmarkSize>().is_err());
    }

    #[test]
    fn user_task_files_make_a_benchmark() {
        let dir = tempfile::tempdir().unwrap();
        let mut datasets = Vec::new();
        for (task, labels) in [("topics", ["news", "sport"]), ("moods", ["sad", "glad"])] {
            let path = dir.path().join(format!("{task}.csv"));
            let mut csv = String::from("text,label\n");
            for i in 0..30 {
                csv.push_str(&format!("{task} text {i},{}\n", labels[i % 2]));
            }
            std::fs::write(&path, csv).unwrap();
            datasets.push(super::super::load_user_task(&path, None).unwrap());
        }
        let bench = benchmark_from_datasets("mine", datasets, BenchmarkSize::Quick, 0).unwrap();
        assert_eq!(bench.tasks[0].name, "topics");
        assert_eq!(bench.tasks[1].labels, vec!["glad", "sad"]);
        assert_eq!(bench.orders, vec![vec![0, 1], vec![1, 0]]);
        assert_disjoint(&bench);
        // 15 per class in the quick caps' proportions 60 : 15 : 40.
        assert_eq!(bench.tasks[0].class_counts()[2], vec![5, 5]);
    }

    /// The shipped benchmarks: class counts (printed), caps, disjointness, orders, determinism.
    #[test]
    fn shipped_benchmarks() {
        for (name, assets) in [
            ("senti4", &["vader"][..]),
            ("far5", &["bbc", "spamassassin", "vader", "wordnet"][..]),
            ("wordnet-cil", &["wordnet"][..]),
            ("verb-cil", &["wordnet"][..]),
        ] {
            if assets
                .iter()
                .any(|a| super::super::asset_or_skip(a).is_none())
            {
                continue;
            }
            let (datasets, orders) = builtin_datasets(name).unwrap();
            if name == "wordnet-cil" {
                for d in &datasets {
                    eprintln!("{name} corpus {}: {}", d.name, d.class_summary());
                    assert!(d.class_counts().iter().all(|&c| c > 600), "{}", d.name);
                }
            }
            for size in BenchmarkSize::ALL {
                let bench = build(name, datasets.clone(), size.caps(), 0, orders.clone()).unwrap();
                eprintln!("{name} {size}:\n{}", bench.summary());
                assert_caps(&bench, size.caps());
                assert_disjoint(&bench);
                assert_orders(&bench);
                assert!(bench.orders.len() >= 3);
                for task in &bench.tasks {
                    let [_, _, test] = task.class_counts();
                    assert!(test.iter().all(|&c| c >= 10), "{}", task.summary());
                }
                if size == BenchmarkSize::Quick {
                    let again = build(name, datasets.clone(), size.caps(), 0, orders.clone());
                    assert_eq!(bench, again.unwrap());
                }
            }
            let expected: Vec<usize> = match name {
                "senti4" => vec![3, 3, 3, 3],
                "far5" => vec![5, 2, 3, 8, 6],
                "verb-cil" => vec![3, 4, 3, 4],
                _ => vec![4, 4, 4, 5, 4],
            };
            let got: Vec<usize> = datasets.iter().map(|d| d.labels.len()).collect();
            assert_eq!(got, expected, "{name}");
        }
    }
}
