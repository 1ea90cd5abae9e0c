//! A built-in task, or a subset of its labels, written as a `text,label` CSV file that `[[tasks]]` and
//! `l2r library add --data` read: the way to cut new tasks from the shipped corpora (a library's cost study cuts
//! fifty label pairs from them).

use super::{subsample_per_class, Dataset, Example};
use crate::error::{Error, Result};
use std::path::Path;

/// Writes `dataset`'s examples of `labels` (all when `None`), at most `per_class` of each (a seeded sample), to
/// `path` as CSV; returns how many rows were written.
pub fn write_task_csv(
    dataset: &Dataset,
    labels: Option<&[String]>,
    per_class: Option<usize>,
    seed: u64,
    path: &Path,
) -> Result<usize> {
    let kept = kept_labels(dataset, labels)?;
    // Relabelled 0..k so that the per-class sample sees only the kept classes.
    let examples: Vec<Example> = dataset
        .examples
        .iter()
        .filter_map(|e| {
            let label = kept.iter().position(|&k| k == e.label)?;
            Some(Example {
                text: e.text.clone(),
                label,
            })
        })
        .collect();
    let examples = match per_class {
        Some(n) => subsample_per_class(&examples, n, seed),
        None => examples,
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    let bad = |e: csv::Error| Error::invalid(format!("cannot write {}: {e}", path.display()));
    writer.write_record(["text", "label"]).map_err(bad)?;
    for example in &examples {
        let label = &dataset.labels[kept[example.label]];
        writer
            .write_record([example.text.as_str(), label.as_str()])
            .map_err(bad)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| Error::invalid(format!("cannot write {}: {e}", path.display())))?;
    crate::io::write_atomic(path, &bytes)?;
    Ok(examples.len())
}

/// The indices of `labels` in `dataset` (every label when `None`); an unknown label is refused with the known ones.
fn kept_labels(dataset: &Dataset, labels: Option<&[String]>) -> Result<Vec<usize>> {
    let Some(labels) = labels else {
        return Ok((0..dataset.labels.len()).collect());
    };
    labels
        .iter()
        .map(|label| {
            dataset
                .labels
                .iter()
                .position(|l| l == label)
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "'{}' has no label '{label}'; its labels: {}",
                        dataset.name,
                        dataset.labels.join(", ")
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_chosen_labels_at_most_n_each_and_refuses_unknown_ones() {
        let dataset = Dataset {
            name: "toy".into(),
            labels: vec!["a".into(), "b".into(), "c".into()],
            examples: (0..30)
                .map(|i| Example {
                    text: format!("text, \"number\" {i}"),
                    label: i % 3,
                })
                .collect(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("toy.csv");
        let labels = vec!["c".to_string(), "a".to_string()];
        assert_eq!(
            write_task_csv(&dataset, Some(&labels), Some(4), 0, &path).unwrap(),
            8
        );
        let task = crate::data::load_user_task(&path, None).unwrap();
        let mut names = task.labels.clone();
        names.sort();
        assert_eq!(names, vec!["a", "c"]);
        assert_eq!(task.class_counts(), vec![4, 4]);
        assert!(task.examples.iter().all(|e| e.text.contains("\"number\"")));
        let unknown = vec!["z".to_string()];
        let error = write_task_csv(&dataset, Some(&unknown), None, 0, &path).unwrap_err();
        assert!(error.to_string().contains("its labels: a, b, c"), "{error}");
    }
}
