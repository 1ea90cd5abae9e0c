//! AfriSenti (Muhammad et al. 2023): one TSV per language and split, with a header line and rows
//! `ID<TAB>tweet<TAB>label`, labels `negative`, `neutral`, `positive`. Columns are found by their
//! header names, so extra or reordered columns load too. Tab-separated without quoting: tweets
//! may contain bare `"`. Files must be UTF-8 (many languages use non-Latin scripts, which a
//! fallback encoding would silently garble).

use super::split::dedup_by_text;
use super::text::{decode_strict, normalize_whitespace};
use super::{Dataset, Example};
use crate::error::{Error, Result};
use std::path::Path;

/// Labels 0, 1, 2 of every AfriSenti task (the same names and order as the VADER tasks).
pub const AFRISENTI_LABELS: [&str; 3] = ["negative", "neutral", "positive"];

/// Loads one AfriSenti TSV (e.g. `hau_train.tsv`) as the dataset `name`. Label names are matched
/// case-insensitively. Exact duplicate tweets are dropped (first wins).
///
/// Errors name the file, the 1-based line and the field: a header without a `tweet` (or `text`)
/// or `label` column, a row missing a field, an empty tweet, a label other than the three.
pub fn load_afrisenti_tsv(path: &Path, name: &str) -> Result<Dataset> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let content = decode_strict(&bytes, path)?;
    let mut lines = content
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(Error::parse(path, 0, None, "the file is empty"));
    };
    let columns: Vec<&str> = header.split('\t').map(str::trim).collect();
    let find = |names: &[&str]| {
        columns
            .iter()
            .position(|c| names.iter().any(|n| c.eq_ignore_ascii_case(n)))
    };
    let missing = |field: &str| {
        Error::parse(
            path,
            1,
            Some(field),
            format!(
                "the header has no '{field}' column (found: {}); expected ID<TAB>tweet<TAB>label",
                columns.join(", ")
            ),
        )
    };
    let tweet_col = find(&["tweet", "text"]).ok_or_else(|| missing("tweet"))?;
    let label_col = find(&["label"]).ok_or_else(|| missing("label"))?;
    let mut examples = Vec::new();
    for (i, line) in lines {
        let fields: Vec<&str> = line.split('\t').collect();
        let get = |col: usize, field: &str| {
            fields.get(col).copied().ok_or_else(|| {
                Error::parse(
                    path,
                    i + 1,
                    Some(field),
                    format!(
                        "missing field '{field}' (the row has {} tab-separated fields)",
                        fields.len()
                    ),
                )
            })
        };
        let text = normalize_whitespace(get(tweet_col, "tweet")?);
        if text.is_empty() {
            return Err(Error::parse(path, i + 1, Some("tweet"), "empty tweet"));
        }
        let label_text = get(label_col, "label")?.trim();
        let label = AFRISENTI_LABELS
            .iter()
            .position(|l| l.eq_ignore_ascii_case(label_text))
            .ok_or_else(|| {
                Error::parse(
                    path,
                    i + 1,
                    Some("label"),
                    format!(
                        "unknown label '{label_text}'; expected one of {}",
                        AFRISENTI_LABELS.join(", ")
                    ),
                )
            })?;
        examples.push(Example { text, label });
    }
    if examples.is_empty() {
        return Err(Error::parse(path, 0, None, "the file has no examples"));
    }
    let (examples, dropped) = dedup_by_text(examples);
    if dropped > 0 {
        tracing::warn!(dropped, file = %path.display(), "AfriSenti: dropped repeated tweets");
    }
    let data = Dataset {
        name: name.to_owned(),
        labels: AFRISENTI_LABELS.iter().map(|&s| s.to_owned()).collect(),
        examples,
    };
    data.check()?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, content: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn loads_tweets_with_quotes_crlf_and_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = "ID\ttweet\tlabel\r\nhau_1\t\"Na gode\" sosai\tpositive\r\nhau_2\tBa kyau ba\tNegative\r\n\r\nhau_3\tBa kyau ba\tneutral\r\nhau_4\tወደ ቤት\tneutral\r\n";
        let path = write(&dir, "hau_train.tsv", tsv.as_bytes());
        let data = load_afrisenti_tsv(&path, "afrisenti-hau").unwrap();
        assert_eq!(data.name, "afrisenti-hau");
        assert_eq!(data.labels, AFRISENTI_LABELS);
        let got: Vec<(&str, usize)> = data
            .examples
            .iter()
            .map(|e| (e.text.as_str(), e.label))
            .collect();
        assert_eq!(
            got,
            vec![("\"Na gode\" sosai", 2), ("Ba kyau ba", 0), ("ወደ ቤት", 1)]
        );
    }

    #[test]
    fn columns_are_found_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "x.tsv", b"label\tID\ttext\npositive\t1\tgood\n");
        let data = load_afrisenti_tsv(&path, "x").unwrap();
        assert_eq!(data.examples[0].text, "good");
        assert_eq!(data.examples[0].label, 2);
    }

    /// File name, content, expected line, field and message.
    type Case<'a> = (&'a str, &'a [u8], &'a str, Option<&'a str>, &'a str);

    #[test]
    fn errors_name_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [Case; 6] = [
            (
                "a.tsv",
                b"ID\ttweet\tlabel\n1\tok\tpositive\n2\tbad\tangry\n",
                "line 3",
                Some("label"),
                "angry",
            ),
            (
                "b.tsv",
                b"ID\ttweet\tlabel\n1\tok\n",
                "line 2",
                Some("label"),
                "missing field",
            ),
            (
                "c.tsv",
                b"ID\ttweet\tlabel\n1\t  \tneutral\n",
                "line 2",
                Some("tweet"),
                "empty tweet",
            ),
            (
                "d.tsv",
                b"ID\tcontent\tlabel\n1\tok\tneutral\n",
                "line 1",
                Some("tweet"),
                "ID, content, label",
            ),
            (
                "e.tsv",
                b"ID\ttweet\tlabel\n1\tcaf\xe9\tneutral\n",
                "line 2",
                None,
                "UTF-8",
            ),
            ("f.tsv", b"ID\ttweet\tlabel\n", "", None, "no examples"),
        ];
        for (name, content, line, field, message) in cases {
            let path = write(&dir, name, content);
            let err = load_afrisenti_tsv(&path, "t").unwrap_err().to_string();
            assert!(err.contains(name) && err.contains(line), "{err}");
            assert!(err.contains(message), "{err}");
            if let Some(field) = field {
                assert!(err.contains(&format!("field '{field}'")), "{err}");
            }
        }
        let err = load_afrisenti_tsv(&dir.path().join("gone.tsv"), "t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("gone.tsv"), "{err}");
    }
}
