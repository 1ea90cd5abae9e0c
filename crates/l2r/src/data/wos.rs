//! The Web of Science dataset (Kowsari et al. 2017; WOS-5736, WOS-11967, WOS-46985): a folder
//! with `X.txt` (one abstract per line), `YL1.txt` (the level-1 domain id of each line) and
//! `YL2.txt` (the level-2 area id of each line).
//!
//! Level-2 ids are numbered within their domain (area 0 of domain 0 and area 0 of domain 1 are
//! different areas), so a level-2 label is the pair `"<YL1>.<YL2>"`. The paper's
//! class-incremental WOS setup — one task per domain, over that domain's areas — is
//! [`load_wos_domain_tasks`].

use super::split::dedup_by_text;
use super::text::{decode_lenient, normalize_whitespace};
use super::{Dataset, Example};
use crate::error::{Error, Result};
use std::collections::BTreeSet;
use std::path::Path;

/// Which level of the WOS hierarchy gives the labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WosLevel {
    /// The domain (`YL1`): 7 classes in WOS-46985.
    Level1,
    /// The area within its domain (`YL1.YL2`): 134 classes in WOS-46985.
    Level2,
}

/// One document with both of its label ids.
struct Row {
    text: String,
    domain: usize,
    area: usize,
}

/// Loads a WOS folder with the labels of `level`, named after the folder (e.g. `WOS11967`).
/// Labels are sorted numerically: `0`, `1`, ... for level 1; `0.0`, `0.1`, ..., `1.0`, ... for
/// level 2. Exact duplicate abstracts are dropped (first wins).
///
/// Errors: a missing file; files with different line counts (the error names both); a label
/// that is not a non-negative integer or an empty abstract (file, 1-based line and field).
pub fn load_wos_dir(dir: &Path, level: WosLevel) -> Result<Dataset> {
    let rows = read_rows(dir)?;
    let key = |r: &Row| match level {
        WosLevel::Level1 => (r.domain, 0),
        WosLevel::Level2 => (r.domain, r.area),
    };
    let keys: Vec<(usize, usize)> = rows
        .iter()
        .map(key)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let labels = keys
        .iter()
        .map(|&(d, a)| match level {
            WosLevel::Level1 => d.to_string(),
            WosLevel::Level2 => format!("{d}.{a}"),
        })
        .collect();
    let examples = rows
        .iter()
        .map(|r| Example {
            text: r.text.clone(),
            // `keys` holds every row's key, so the search always succeeds.
            label: keys.binary_search(&key(r)).unwrap_or_default(),
        })
        .collect();
    finish(dir_name(dir), labels, examples, dir)
}

/// The class-incremental WOS tasks: one dataset per level-1 domain (named `<folder>-domain<id>`,
/// in domain order) whose labels are that domain's level-2 areas (`"<YL1>.<YL2>"`, sorted).
/// Abstracts are deduplicated across the whole folder first, so no text is in two tasks.
pub fn load_wos_domain_tasks(dir: &Path) -> Result<Vec<Dataset>> {
    let rows = read_rows(dir)?;
    let (examples, _) = dedup_by_text(
        rows.iter()
            .enumerate()
            .map(|(i, r)| Example {
                text: r.text.clone(),
                label: i,
            })
            .collect(),
    );
    let domains: BTreeSet<usize> = rows.iter().map(|r| r.domain).collect();
    let mut tasks = Vec::with_capacity(domains.len());
    for domain in domains {
        let areas: Vec<usize> = rows
            .iter()
            .filter(|r| r.domain == domain)
            .map(|r| r.area)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let task_examples = examples
            .iter()
            .filter(|e| rows[e.label].domain == domain)
            .map(|e| Example {
                text: e.text.clone(),
                label: areas.binary_search(&rows[e.label].area).unwrap_or_default(),
            })
            .collect();
        let labels = areas.iter().map(|a| format!("{domain}.{a}")).collect();
        let name = format!("{}-domain{domain}", dir_name(dir));
        tasks.push(finish(name, labels, task_examples, dir)?);
    }
    Ok(tasks)
}

fn dir_name(dir: &Path) -> String {
    dir.file_name()
        .map_or_else(|| "wos".to_owned(), |s| s.to_string_lossy().into_owned())
}

fn finish(
    name: String,
    labels: Vec<String>,
    examples: Vec<Example>,
    dir: &Path,
) -> Result<Dataset> {
    let (examples, dropped) = dedup_by_text(examples);
    if dropped > 0 {
        tracing::warn!(dropped, dir = %dir.display(), "WOS: dropped repeated abstracts");
    }
    let data = Dataset {
        name,
        labels,
        examples,
    };
    data.check()?;
    Ok(data)
}

/// Reads the three files and checks that they line up.
fn read_rows(dir: &Path) -> Result<Vec<Row>> {
    let x_path = dir.join("X.txt");
    let texts = read_lines(&x_path)?;
    let domains = read_ids(&dir.join("YL1.txt"), "YL1")?;
    let areas = read_ids(&dir.join("YL2.txt"), "YL2")?;
    for (other, ids) in [("YL1.txt", &domains), ("YL2.txt", &areas)] {
        if ids.len() != texts.len() {
            return Err(Error::parse(
                dir.join(other),
                ids.len().min(texts.len()) + 1,
                None,
                format!(
                    "X.txt has {} lines but {other} has {}: the two files must have one line per \
                     document",
                    texts.len(),
                    ids.len()
                ),
            ));
        }
    }
    if texts.is_empty() {
        return Err(Error::parse(&x_path, 0, None, "the file has no documents"));
    }
    let mut rows = Vec::with_capacity(texts.len());
    for (i, ((text, domain), area)) in texts.into_iter().zip(domains).zip(areas).enumerate() {
        let text = normalize_whitespace(&text);
        if text.is_empty() {
            return Err(Error::parse(&x_path, i + 1, Some("text"), "empty document"));
        }
        rows.push(Row { text, domain, area });
    }
    Ok(rows)
}

/// The lines of a file (UTF-8, falling back to Windows-1252), without a final empty line.
fn read_lines(path: &Path) -> Result<Vec<String>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(decode_lenient(&bytes).lines().map(str::to_owned).collect())
}

fn read_ids(path: &Path, field: &str) -> Result<Vec<usize>> {
    read_lines(path)?
        .iter()
        .enumerate()
        .map(|(i, line)| {
            line.trim().parse::<usize>().map_err(|_| {
                Error::parse(
                    path,
                    i + 1,
                    Some(field),
                    format!("'{}' is not a non-negative integer label id", line.trim()),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 5 abstracts, one repeated: domain 0 areas {0, 2}, domain 1 area {0}.
    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("X.txt"),
            "Neural nets learn.\nProteins fold.\nGraphs   have edges.\r\nProteins fold.\nCells divide.\n",
        )
        .unwrap();
        std::fs::write(d.join("YL1.txt"), "0\n1\n0\n1\n1\n").unwrap();
        std::fs::write(d.join("YL2.txt"), "2\n0\n0\n0\n0\n").unwrap();
        dir
    }

    fn pairs(data: &Dataset) -> Vec<(&str, &str)> {
        data.examples
            .iter()
            .map(|e| (e.text.as_str(), data.labels[e.label].as_str()))
            .collect()
    }

    #[test]
    fn both_levels_load() {
        let dir = fixture();
        let l1 = load_wos_dir(dir.path(), WosLevel::Level1).unwrap();
        assert_eq!(l1.labels, vec!["0", "1"]);
        assert_eq!(
            pairs(&l1),
            vec![
                ("Neural nets learn.", "0"),
                ("Proteins fold.", "1"),
                ("Graphs have edges.", "0"),
                ("Cells divide.", "1"),
            ]
        );
        let l2 = load_wos_dir(dir.path(), WosLevel::Level2).unwrap();
        assert_eq!(l2.labels, vec!["0.0", "0.2", "1.0"]);
        assert_eq!(l2.class_counts(), vec![1, 1, 2]);
    }

    #[test]
    fn domain_tasks_partition_the_areas() {
        let dir = fixture();
        let tasks = load_wos_domain_tasks(dir.path()).unwrap();
        assert_eq!(tasks.len(), 2);
        assert!(tasks[0].name.ends_with("-domain0"), "{}", tasks[0].name);
        assert_eq!(tasks[0].labels, vec!["0.0", "0.2"]);
        assert_eq!(
            pairs(&tasks[0]),
            vec![("Neural nets learn.", "0.2"), ("Graphs have edges.", "0.0")]
        );
        assert_eq!(tasks[1].labels, vec!["1.0"]);
        assert_eq!(tasks[1].len(), 2);
    }

    #[test]
    fn mismatched_line_counts_name_both_files() {
        let dir = fixture();
        std::fs::write(dir.path().join("YL2.txt"), "2\n0\n0\n").unwrap();
        let err = load_wos_dir(dir.path(), WosLevel::Level2)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("X.txt has 5 lines")
                && err.contains("YL2.txt has 3")
                && err.contains("line 4"),
            "{err}"
        );
    }

    #[test]
    fn bad_labels_empty_documents_and_missing_files() {
        let dir = fixture();
        std::fs::write(dir.path().join("YL1.txt"), "0\n1\nphysics\n1\n1\n").unwrap();
        let err = load_wos_dir(dir.path(), WosLevel::Level1)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("YL1.txt") && err.contains("line 3") && err.contains("field 'YL1'"),
            "{err}"
        );
        std::fs::write(dir.path().join("YL1.txt"), "0\n1\n0\n1\n1\n").unwrap();
        std::fs::write(dir.path().join("X.txt"), "a\n \nb\nc\nd\n").unwrap();
        let err = load_wos_dir(dir.path(), WosLevel::Level1)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("X.txt") && err.contains("line 2") && err.contains("field 'text'"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("YL2.txt")).unwrap();
        let err = load_wos_domain_tasks(dir.path()).unwrap_err().to_string();
        assert!(err.contains("YL2.txt"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        for f in ["X.txt", "YL1.txt", "YL2.txt"] {
            std::fs::write(empty.path().join(f), "").unwrap();
        }
        let err = load_wos_dir(empty.path(), WosLevel::Level1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no documents"), "{err}");
    }
}
