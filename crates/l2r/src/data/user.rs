//! User task files: CSV or TSV with a header naming a `text` and a `label` column (other columns
//! ignored), or JSONL with one `{"text": ..., "label": ...}` object per line. Files must be UTF-8.
//! Every error names the file, the 1-based line and the field.

use super::split::dedup_by_text;
use super::text::{decode_strict, normalize_whitespace};
use super::{Dataset, Example};
use crate::error::{Error, Result};
use std::collections::BTreeSet;
use std::path::Path;

/// Header names accepted for the text column, in order of preference (`tweet` and `sentence`
/// let AfriSenti-style and GLUE-style files load unchanged).
const TEXT_COLUMNS: &[&str] = &["text", "tweet", "sentence"];
const LABEL_COLUMN: &str = "label";

/// The file formats of user tasks, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskFormat {
    Csv,
    /// Tab-separated, without quoting (tabs and newlines cannot occur inside a field), so that
    /// texts may contain bare `"` characters, as tweets often do.
    Tsv,
    Jsonl,
}

impl TaskFormat {
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Self::Csv),
            "tsv" => Some(Self::Tsv),
            "jsonl" | "ndjson" => Some(Self::Jsonl),
            _ => None,
        }
    }
}

/// One parsed row before labels become indices.
struct Row {
    line: usize,
    text: String,
    label: String,
}

/// Loads a user task. Labels: `labels` in the given order when passed (a label outside it is an
/// error), else the sorted set of labels in the file — numerically when all are integers, so
/// `2` comes before `10`. Exact duplicate texts are dropped (first wins) with a warning.
pub fn load_user_task(path: &Path, labels: Option<&[String]>) -> Result<Dataset> {
    let format = TaskFormat::from_path(path).ok_or_else(|| {
        Error::parse(
            path,
            0,
            None,
            "unknown file extension: a task file must end in .csv, .tsv or .jsonl",
        )
    })?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let content = decode_strict(&bytes, path)?;
    let rows = match format {
        TaskFormat::Csv => parse_delimited(&content, path, b',', true)?,
        TaskFormat::Tsv => parse_delimited(&content, path, b'\t', false)?,
        TaskFormat::Jsonl => parse_jsonl(&content, path)?,
    };
    if rows.is_empty() {
        return Err(Error::parse(path, 0, None, "the file has no examples"));
    }
    let labels = match labels {
        Some(given) => given.to_vec(),
        None => sorted_labels(&rows),
    };
    let examples = rows
        .into_iter()
        .map(|row| to_example(row, &labels, path))
        .collect::<Result<Vec<_>>>()?;
    let (examples, dropped) = dedup_by_text(examples);
    if dropped > 0 {
        tracing::warn!(
            dropped,
            file = %path.display(),
            "dropped examples whose text repeats an earlier one"
        );
    }
    let name = path
        .file_stem()
        .map_or_else(|| "task".to_owned(), |s| s.to_string_lossy().into_owned());
    let data = Dataset {
        name,
        labels,
        examples,
    };
    data.check()?;
    Ok(data)
}

fn to_example(row: Row, labels: &[String], path: &Path) -> Result<Example> {
    match labels.iter().position(|l| *l == row.label) {
        Some(label) => Ok(Example {
            text: row.text,
            label,
        }),
        None => Err(Error::parse(
            path,
            row.line,
            Some(LABEL_COLUMN),
            format!(
                "unknown label '{}'; known labels: {}",
                row.label,
                labels.join(", ")
            ),
        )),
    }
}

fn sorted_labels(rows: &[Row]) -> Vec<String> {
    let unique: BTreeSet<&str> = rows.iter().map(|r| r.label.as_str()).collect();
    let mut labels: Vec<String> = unique.into_iter().map(str::to_owned).collect();
    if labels.iter().all(|l| l.parse::<i64>().is_ok()) {
        labels.sort_by_key(|l| l.parse::<i64>().unwrap_or_default());
    }
    labels
}

/// Checks a row's text and label and trims them; `line` is the row's 1-based line.
fn make_row(text: Option<&str>, label: Option<&str>, path: &Path, line: usize) -> Result<Row> {
    let missing =
        |field: &str| Error::parse(path, line, Some(field), format!("missing field '{field}'"));
    // Normalised like the built-in corpora, so that texts the tokenizer cannot tell apart are
    // deduplicated as one.
    let text = normalize_whitespace(text.ok_or_else(|| missing("text"))?);
    if text.is_empty() {
        return Err(Error::parse(path, line, Some("text"), "empty text"));
    }
    let label = label.ok_or_else(|| missing(LABEL_COLUMN))?.trim();
    if label.is_empty() {
        return Err(Error::parse(
            path,
            line,
            Some(LABEL_COLUMN),
            "missing label (the field is empty)",
        ));
    }
    Ok(Row {
        line,
        text,
        label: label.to_owned(),
    })
}

fn parse_delimited(content: &str, path: &Path, delimiter: u8, quoting: bool) -> Result<Vec<Row>> {
    if content.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .quoting(quoting)
        .flexible(true)
        .from_reader(content.as_bytes());
    let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    let (text_col, label_col) = find_columns(&header, path)?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        rows.push(make_row(
            record.get(text_col),
            record.get(label_col),
            path,
            line,
        )?);
    }
    Ok(rows)
}

fn find_columns(header: &csv::StringRecord, path: &Path) -> Result<(usize, usize)> {
    let find = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let found = || header.iter().collect::<Vec<_>>().join(", ");
    let text_col = TEXT_COLUMNS.iter().find_map(|&c| find(c)).ok_or_else(|| {
        Error::parse(
            path,
            1,
            Some("text"),
            format!("the header has no 'text' column (found: {})", found()),
        )
    })?;
    let label_col = find(LABEL_COLUMN).ok_or_else(|| {
        Error::parse(
            path,
            1,
            Some(LABEL_COLUMN),
            format!("the header has no 'label' column (found: {})", found()),
        )
    })?;
    Ok((text_col, label_col))
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line() as usize);
    Error::parse(path, line, None, format!("malformed row: {e}"))
}

fn parse_jsonl(content: &str, path: &Path) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (i, line) in content.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| Error::parse(path, i + 1, None, format!("malformed JSON: {e}")))?;
        let serde_json::Value::Object(object) = value else {
            return Err(Error::parse(
                path,
                i + 1,
                None,
                "expected a JSON object with \"text\" and \"label\"",
            ));
        };
        let text = json_field(&object, "text", path, i + 1)?;
        let label = json_field(&object, LABEL_COLUMN, path, i + 1)?;
        rows.push(make_row(text.as_deref(), label.as_deref(), path, i + 1)?);
    }
    Ok(rows)
}

/// A string field, or an integer one for labels given as class ids; `None` when absent or null.
fn json_field(
    object: &serde_json::Map<String, serde_json::Value>,
    field: &str,
    path: &Path,
    line: usize,
) -> Result<Option<String>> {
    match object.get(field) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(serde_json::Value::Number(n)) if field == LABEL_COLUMN => Ok(Some(n.to_string())),
        Some(other) => Err(Error::parse(
            path,
            line,
            Some(field),
            format!("expected a string, found {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, content: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn texts_and_labels(data: &Dataset) -> Vec<(String, String)> {
        data.examples
            .iter()
            .map(|e| (e.text.clone(), data.labels[e.label].clone()))
            .collect()
    }

    /// Loads `content` as `name` and returns the error message, checking that it names the file,
    /// the line (when `line` > 0) and the field (when given).
    fn error_of(name: &str, content: &[u8], line: usize, field: Option<&str>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, name, content);
        let err = load_user_task(&path, None).unwrap_err().to_string();
        assert!(err.contains(name), "no file name: {err}");
        if line > 0 {
            assert!(
                err.contains(&format!("line {line}")),
                "no line {line}: {err}"
            );
        }
        if let Some(field) = field {
            assert!(
                err.contains(&format!("field '{field}'")),
                "no field {field}: {err}"
            );
        }
        err
    }

    #[test]
    fn csv_with_extra_columns_quotes_and_numeric_labels() {
        let dir = tempfile::tempdir().unwrap();
        let csv =
            "id,Label,text\n1,10,\"Hello, world\"\n2,2,\"multi\nline\"\n3,2,plain\n4,10,plain\n";
        let path = write(&dir, "t.csv", csv.as_bytes());
        let data = load_user_task(&path, None).unwrap();
        assert_eq!(data.name, "t");
        assert_eq!(data.labels, vec!["2", "10"]);
        assert_eq!(
            texts_and_labels(&data),
            vec![
                ("Hello, world".into(), "10".into()),
                ("multi line".into(), "2".into()),
                ("plain".into(), "2".into()),
            ]
        );
    }

    #[test]
    fn tsv_allows_bare_quotes_and_the_tweet_column() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = "ID\ttweet\tlabel\n1\t\"so\" good\tpositive\n2\tmeh \"ok\tneutral\n";
        let path = write(&dir, "afri.tsv", tsv.as_bytes());
        let data = load_user_task(&path, None).unwrap();
        assert_eq!(data.labels, vec!["neutral", "positive"]);
        assert_eq!(data.examples[0].text, "\"so\" good");
        assert_eq!(data.examples[1].text, "meh \"ok");
    }

    #[test]
    fn jsonl_with_integer_labels_and_explicit_label_list() {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = concat!(
            "{\"text\": \"a\", \"label\": 1, \"extra\": true}\n",
            "\n",
            "{\"text\": \"b\", \"label\": \"0\"}\n"
        );
        let path = write(&dir, "t.jsonl", jsonl.as_bytes());
        let labels = vec!["1".to_owned(), "0".to_owned(), "2".to_owned()];
        let data = load_user_task(&path, Some(&labels)).unwrap();
        assert_eq!(data.labels, labels);
        assert_eq!(data.class_counts(), vec![1, 1, 0]);
    }

    #[test]
    fn unknown_label_with_explicit_list_names_line_and_known_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "t.csv", b"text,label\na,pos\nb,maybe\n");
        let labels = vec!["neg".to_owned(), "pos".to_owned()];
        let err = load_user_task(&path, Some(&labels))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.csv") && err.contains("line 3") && err.contains("field 'label'"),
            "{err}"
        );
        assert!(err.contains("'maybe'") && err.contains("neg, pos"), "{err}");
    }

    #[test]
    fn missing_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_user_task(&dir.path().join("gone.csv"), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("gone.csv"), "{err}");
    }

    #[test]
    fn missing_columns_and_fields() {
        let err = error_of("a.csv", b"text,lbl\nx,1\n", 1, Some("label"));
        assert!(
            err.contains("no 'label' column") && err.contains("text, lbl"),
            "{err}"
        );
        error_of("b.csv", b"body,label\nx,1\n", 1, Some("text"));
        let err = error_of("c.csv", b"text,label\nx,1\ny\n", 3, Some("label"));
        assert!(err.contains("missing field"), "{err}");
        let err = error_of(
            "d.jsonl",
            b"{\"text\":\"x\",\"label\":1}\n{\"label\":1}\n",
            2,
            Some("text"),
        );
        assert!(err.contains("missing field"), "{err}");
        error_of(
            "e.jsonl",
            b"{\"text\":\"x\",\"label\":null}\n",
            1,
            Some("label"),
        );
    }

    #[test]
    fn empty_text_and_empty_label() {
        let err = error_of("a.csv", b"text,label\nx,1\n  ,2\n", 3, Some("text"));
        assert!(err.contains("empty text"), "{err}");
        let err = error_of("b.tsv", b"text\tlabel\nx\t\n", 2, Some("label"));
        assert!(err.contains("missing label"), "{err}");
    }

    #[test]
    fn non_utf8_bytes_are_rejected_with_their_line() {
        let err = error_of("a.csv", b"text,label\nok,1\ncaf\xe9,2\n", 3, None);
        assert!(err.contains("UTF-8"), "{err}");
    }

    #[test]
    fn malformed_json_and_wrong_types() {
        let err = error_of(
            "a.jsonl",
            b"{\"text\":\"x\",\"label\":1}\n{\"text\": \"y\",\n",
            2,
            None,
        );
        assert!(err.contains("malformed JSON"), "{err}");
        let err = error_of("b.jsonl", b"[1, 2]\n", 1, None);
        assert!(err.contains("JSON object"), "{err}");
        let err = error_of(
            "c.jsonl",
            b"{\"text\": 5, \"label\": \"a\"}\n",
            1,
            Some("text"),
        );
        assert!(err.contains("expected a string"), "{err}");
    }

    #[test]
    fn unknown_extension_and_empty_files() {
        let err = error_of("a.txt", b"text,label\nx,1\n", 0, None);
        assert!(err.contains(".csv, .tsv or .jsonl"), "{err}");
        for (name, content) in [
            ("b.csv", "text,label\n"),
            ("c.csv", ""),
            ("d.jsonl", "\n\n"),
        ] {
            let err = error_of(name, content.as_bytes(), 0, None);
            assert!(err.contains("no examples"), "{err}");
        }
    }
}
