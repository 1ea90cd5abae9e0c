//! BBC News (2,225 articles, 5 topics): `<topic>/NNN.txt`, a title line, a blank line, the body.

use super::split::dedup_by_text;
use super::text::{decode_lenient, join_title};
use super::{Dataset, Example};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Loads the shipped BBC corpus (`assets/bbc`).
pub fn load_bbc() -> Result<Dataset> {
    load_bbc_dir(&crate::assets::asset_dir("bbc")?)
}

/// Loads a BBC-layout folder: one sub-folder per topic (the labels, sorted), one `.txt` article
/// per file. Text = `title. body`; duplicate texts are dropped (the first in sorted file order
/// is kept; the shipped corpus has 98 byte-identical files and 2 more that differ only in line
/// breaks).
pub fn load_bbc_dir(dir: &Path) -> Result<Dataset> {
    let topics = sorted_entries(dir, |p| p.is_dir())?;
    if topics.is_empty() {
        return Err(Error::MissingAsset {
            what: "BBC topic folders".into(),
            path: dir.to_owned(),
        });
    }
    let mut labels = Vec::with_capacity(topics.len());
    let mut examples = Vec::new();
    for (label, topic) in topics.iter().enumerate() {
        labels.push(file_name(topic));
        for file in sorted_entries(topic, is_txt)? {
            let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
            let text = article_text(&decode_lenient(&bytes));
            if !text.is_empty() {
                examples.push(Example { text, label });
            }
        }
    }
    let (examples, dropped) = dedup_by_text(examples);
    tracing::debug!(
        dropped,
        kept = examples.len(),
        "BBC: dropped duplicate articles"
    );
    Ok(Dataset {
        name: "bbc".into(),
        labels,
        examples,
    })
}

/// The first non-blank line is the title, the rest the body.
fn article_text(raw: &str) -> String {
    let raw = raw.trim_start();
    let (title, body) = raw.split_once('\n').unwrap_or((raw, ""));
    join_title(title, body)
}

fn is_txt(path: &Path) -> bool {
    path.is_file() && path.extension().is_some_and(|e| e == "txt")
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The entries of `dir` that pass `keep`, sorted by name (so loading order, hence which duplicate
/// is kept, does not depend on the file system). Hidden entries (`.done`) are skipped.
pub(crate) fn sorted_entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if !file_name(&path).starts_with('.') && keep(&path) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, bytes: &[u8]) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn loads_topics_dedups_and_decodes_latin1() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "tech/001.txt",
            b"Chips get faster\n\nIntel said\nso.\n",
        );
        write(
            dir.path(),
            "tech/002.txt",
            b"Chips get faster\n\nIntel said so.",
        );
        write(
            dir.path(),
            "business/001.txt",
            b"Caf\xe9 profits\n\nUp 5\x80.\n",
        );
        write(dir.path(), "business/notes.md", b"ignored");
        write(dir.path(), "sport/001.txt", b"Why lose?\n\nBad luck.");
        let data = load_bbc_dir(dir.path()).unwrap();
        assert_eq!(data.labels, vec!["business", "sport", "tech"]);
        assert_eq!(data.class_counts(), vec![1, 1, 1]);
        let texts: Vec<&str> = data.examples.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "Café profits. Up 5€.",
                "Why lose? Bad luck.",
                "Chips get faster. Intel said so."
            ]
        );
    }

    #[test]
    fn missing_folder_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_bbc_dir(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
        let err = load_bbc_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("setup"), "{err}");
    }

    #[test]
    fn shipped_corpus_has_2125_unique_articles() {
        let Some(_) = super::super::asset_or_skip("bbc") else {
            return;
        };
        let data = load_bbc().unwrap();
        data.check().unwrap();
        eprintln!("bbc: {}", data.class_summary());
        assert_eq!(data.labels.len(), 5);
        // 98 byte-identical files, plus 2 pairs that differ only in paragraph breaks
        // (sports/181 = 182, sports/432 = 438).
        assert_eq!(data.len(), 2225 - 100);
        assert!(data.class_counts().iter().all(|&c| c > 300));
    }
}
