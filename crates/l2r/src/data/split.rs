//! Deduplication, stratified train/validation/test splits and per-class subsampling, all
//! deterministic in the seed.

use super::{Dataset, Example};
use crate::error::{Error, Result};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::HashSet;

/// The three splits of one task.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Splits {
    pub train: Vec<Example>,
    pub validation: Vec<Example>,
    pub test: Vec<Example>,
}

/// Drops every example whose exact text was seen before (the first one wins, whatever its label),
/// so that no text can land in both a training and a test split. Returns the kept examples and
/// how many were dropped.
pub fn dedup_by_text(examples: Vec<Example>) -> (Vec<Example>, usize) {
    let before = examples.len();
    let mut seen = HashSet::with_capacity(before);
    let kept: Vec<Example> = examples
        .into_iter()
        .filter(|e| seen.insert(e.text.clone()))
        .collect();
    let dropped = before - kept.len();
    (kept, dropped)
}

/// One RNG per (seed, purpose, class), so that a class's shuffle does not depend on the other
/// classes: adding a class to a task leaves the existing classes' splits unchanged.
fn rng_for(seed: u64, stream: u64, class: usize) -> StdRng {
    // SplitMix64 finaliser: decorrelates nearby seeds before they reach the generator.
    let mut z = seed
        ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (class as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    StdRng::seed_from_u64(z ^ (z >> 31))
}

const STREAM_SPLIT: u64 = 1;
const STREAM_SUBSAMPLE: u64 = 2;
const STREAM_ORDER: u64 = 3;

/// Indices of the examples of each class, in input order.
fn indices_by_class(examples: &[Example], num_classes: usize) -> Vec<Vec<usize>> {
    let mut by_class = vec![Vec::new(); num_classes];
    for (i, e) in examples.iter().enumerate() {
        by_class[e.label].push(i);
    }
    by_class
}

fn check_fraction(name: &str, value: f64) -> Result<()> {
    if value.is_finite() && (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{name} fraction must be in [0, 1), got {value}"
        )))
    }
}

/// How many of a class's `n` examples go to (test, validation). Rounds each fraction, then gives
/// every non-zero split at least one example when the class has 3 or more, and always leaves at
/// least one for training.
fn class_quota(n: usize, validation_fraction: f64, test_fraction: f64) -> (usize, usize) {
    let round = |f: f64| (n as f64 * f).round() as usize;
    let (mut test, mut val) = (round(test_fraction), round(validation_fraction));
    if n >= 3 {
        if test_fraction > 0.0 {
            test = test.max(1);
        }
        if validation_fraction > 0.0 {
            val = val.max(1);
        }
    }
    while test + val > n.saturating_sub(1) {
        if val >= test && val > 0 {
            val -= 1;
        } else {
            test -= 1;
        }
    }
    (test, val)
}

/// Splits a dataset per class: each class is shuffled with its own seeded RNG, then cut into
/// test, validation and train. Each split is finally shuffled (also seeded) so that its classes
/// are interleaved. The same dataset and seed always give the same splits.
pub fn stratified_split(
    dataset: &Dataset,
    validation_fraction: f64,
    test_fraction: f64,
    seed: u64,
) -> Result<Splits> {
    check_fraction("validation", validation_fraction)?;
    check_fraction("test", test_fraction)?;
    if validation_fraction + test_fraction >= 1.0 {
        return Err(Error::invalid(format!(
            "validation ({validation_fraction}) + test ({test_fraction}) fractions must sum to \
             less than 1, to leave examples for training"
        )));
    }
    dataset.check()?;
    let mut splits = Splits {
        train: Vec::new(),
        validation: Vec::new(),
        test: Vec::new(),
    };
    let by_class = indices_by_class(&dataset.examples, dataset.labels.len());
    for (class, mut indices) in by_class.into_iter().enumerate() {
        indices.shuffle(&mut rng_for(seed, STREAM_SPLIT, class));
        let (n_test, n_val) = class_quota(indices.len(), validation_fraction, test_fraction);
        let pick = |range: &[usize]| -> Vec<Example> {
            range.iter().map(|&i| dataset.examples[i].clone()).collect()
        };
        splits.test.extend(pick(&indices[..n_test]));
        splits
            .validation
            .extend(pick(&indices[n_test..n_test + n_val]));
        splits.train.extend(pick(&indices[n_test + n_val..]));
    }
    for (i, part) in [&mut splits.train, &mut splits.validation, &mut splits.test]
        .into_iter()
        .enumerate()
    {
        part.shuffle(&mut rng_for(seed, STREAM_ORDER, i));
    }
    Ok(splits)
}

/// Keeps at most `max_per_class` examples of each class, chosen at random (seeded), in their
/// original order: a stratified cap for quick runs.
pub fn subsample_per_class(examples: &[Example], max_per_class: usize, seed: u64) -> Vec<Example> {
    keep_per_class(examples, |class, mut indices| {
        indices.shuffle(&mut rng_for(seed, STREAM_SUBSAMPLE, class));
        indices.truncate(max_per_class);
        indices
    })
}

/// The examples `choose` keeps of each class, in their original order. `choose` is given the class and the indices
/// of its examples (in input order) and returns the indices it keeps.
pub(crate) fn keep_per_class(
    examples: &[Example],
    mut choose: impl FnMut(usize, Vec<usize>) -> Vec<usize>,
) -> Vec<Example> {
    let num_classes = examples.iter().map(|e| e.label + 1).max().unwrap_or(0);
    let mut keep: Vec<usize> = Vec::new();
    for (class, indices) in indices_by_class(examples, num_classes)
        .into_iter()
        .enumerate()
    {
        keep.extend(choose(class, indices));
    }
    keep.sort_unstable();
    keep.into_iter().map(|i| examples[i].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(text: &str, label: usize) -> Example {
        Example {
            text: text.to_owned(),
            label,
        }
    }

    /// Class 0: 50 examples, class 1: 20, class 2: 3, class 3: 1.
    fn dataset() -> Dataset {
        let mut examples = Vec::new();
        for (label, n) in [50, 20, 3, 1].into_iter().enumerate() {
            examples.extend((0..n).map(|i| example(&format!("c{label} e{i}"), label)));
        }
        Dataset {
            name: "toy".into(),
            labels: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            examples,
        }
    }

    fn counts(examples: &[Example]) -> Vec<usize> {
        let mut c = vec![0; 4];
        for e in examples {
            c[e.label] += 1;
        }
        c
    }

    #[test]
    fn dedup_keeps_the_first_occurrence() {
        let (kept, dropped) =
            dedup_by_text(vec![example("x", 0), example("y", 1), example("x", 1)]);
        assert_eq!(kept, vec![example("x", 0), example("y", 1)]);
        assert_eq!(dropped, 1);
    }

    #[test]
    fn split_is_stratified_disjoint_and_complete() {
        let data = dataset();
        let s = stratified_split(&data, 0.1, 0.2, 7).unwrap();
        assert_eq!(counts(&s.test), vec![10, 4, 1, 0]);
        assert_eq!(counts(&s.validation), vec![5, 2, 1, 0]);
        assert_eq!(counts(&s.train), vec![35, 14, 1, 1]);
        let mut all: Vec<&str> = s
            .train
            .iter()
            .chain(&s.validation)
            .chain(&s.test)
            .map(|e| e.text.as_str())
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            all.len(),
            data.examples.len(),
            "splits overlap or lose examples"
        );
    }

    #[test]
    fn split_is_deterministic_in_the_seed() {
        let data = dataset();
        let a = stratified_split(&data, 0.1, 0.2, 3).unwrap();
        assert_eq!(a, stratified_split(&data, 0.1, 0.2, 3).unwrap());
        assert_ne!(a, stratified_split(&data, 0.1, 0.2, 4).unwrap());
    }

    #[test]
    fn small_classes_still_reach_every_split() {
        assert_eq!(class_quota(3, 0.1, 0.1), (1, 1));
        assert_eq!(class_quota(3, 0.5, 0.4), (1, 1));
        assert_eq!(class_quota(2, 0.1, 0.3), (1, 0));
        assert_eq!(class_quota(1, 0.1, 0.9), (0, 0));
        assert_eq!(class_quota(10, 0.0, 0.2), (2, 0));
        assert_eq!(class_quota(0, 0.1, 0.2), (0, 0));
    }

    #[test]
    fn bad_fractions_are_rejected() {
        let data = dataset();
        for (v, t) in [(-0.1, 0.2), (0.1, 1.0), (f64::NAN, 0.1), (0.5, 0.5)] {
            let err = stratified_split(&data, v, t, 0).unwrap_err().to_string();
            assert!(err.contains("fraction"), "{err}");
        }
    }

    #[test]
    fn subsample_caps_each_class_deterministically() {
        let data = dataset();
        let sub = subsample_per_class(&data.examples, 5, 1);
        assert_eq!(counts(&sub), vec![5, 5, 3, 1]);
        assert_eq!(sub, subsample_per_class(&data.examples, 5, 1));
        assert_ne!(sub, subsample_per_class(&data.examples, 5, 2));
        let positions: Vec<usize> = sub
            .iter()
            .map(|e| data.examples.iter().position(|x| x == e).unwrap())
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "original order kept"
        );
    }
}
