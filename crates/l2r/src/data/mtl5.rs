//! The MTL5 corpora of Zhang, Zhao & LeCun (2015) — AG News, Yelp, Amazon, DBpedia, Yahoo Answers
//! — in their published CSV form: no header, one quoted row per example, `"class","title","text"`
//! with 1-based class ids. Yahoo Answers rows carry two text fields, `class, title, question,
//! answer`; every field after the class is joined into one passage (`title. question answer`).
//!
//! The files encode line breaks inside a text as the two characters `\n` (Yelp, Yahoo) or as a
//! lone backslash (AG News); both become a space. Files must be UTF-8 (as published).

use super::split::dedup_by_text;
use super::text::{join_title, normalize_whitespace};
use super::{Dataset, Example};
use crate::error::{Error, Result};
use std::path::Path;

/// The class names of the `classes.txt` files shipped with the five corpora, in class-id order.
/// Yelp and Amazon review ratings have no names: their labels stay `1`..`5` (stars).
pub const AG_NEWS_CLASSES: [&str; 4] = ["World", "Sports", "Business", "Sci/Tech"];
pub const DBPEDIA_CLASSES: [&str; 14] = [
    "Company",
    "EducationalInstitution",
    "Artist",
    "Athlete",
    "OfficeHolder",
    "MeanOfTransportation",
    "Building",
    "NaturalPlace",
    "Village",
    "Animal",
    "Plant",
    "Album",
    "Film",
    "WrittenWork",
];
pub const YAHOO_CLASSES: [&str; 10] = [
    "Society & Culture",
    "Science & Mathematics",
    "Health",
    "Education & Reference",
    "Computers & Internet",
    "Sports",
    "Business & Finance",
    "Entertainment & Music",
    "Family & Relationships",
    "Politics & Government",
];

/// Without label names, class ids above this are taken for a corrupt file (the five corpora
/// have at most 14 classes) rather than allocated as labels.
pub const MAX_UNNAMED_CLASSES: usize = 1000;

/// Loads one MTL5 CSV as the dataset `name`. Labels: `label_names` when given (class id `k` is
/// `label_names[k - 1]`; an id beyond the list is an error), else the class ids as strings `"1"`
/// to `"K"`, `K` the largest id in the file. Exact duplicate texts are dropped (first wins).
///
/// Errors name the file, the 1-based line and the field: a class id that is 0, negative or not
/// a number (`class`), a row with fewer than 3 fields, a row whose text fields are all empty
/// (`text`), bytes that are not UTF-8.
pub fn load_mtl5_csv(path: &Path, name: &str, label_names: Option<&[String]>) -> Result<Dataset> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(std::io::BufReader::new(file));
    let mut rows: Vec<(usize, usize, String)> = Vec::new(); // (line, class id, text)
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                return Err(Error::parse(
                    path,
                    line,
                    None,
                    format!("malformed row: {e}"),
                ));
            }
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() == 1 && record[0].iter().all(u8::is_ascii_whitespace) {
            continue; // a blank line
        }
        rows.push(parse_row(&record, rows.is_empty(), path, line)?);
    }
    if rows.is_empty() {
        return Err(Error::parse(path, 0, None, "the file has no examples"));
    }
    let max_id = rows.iter().map(|r| r.1).max().unwrap_or(1);
    let labels: Vec<String> = match label_names {
        Some(names) => {
            if let Some((line, id, _)) = rows.iter().find(|r| r.1 > names.len()) {
                return Err(Error::parse(
                    path,
                    *line,
                    Some("class"),
                    format!(
                        "class id {id} but only {} label names were given ({})",
                        names.len(),
                        names.join(", ")
                    ),
                ));
            }
            names.to_vec()
        }
        None => {
            if let Some((line, id, _)) = rows.iter().find(|r| r.1 > MAX_UNNAMED_CLASSES) {
                return Err(Error::parse(
                    path,
                    *line,
                    Some("class"),
                    format!(
                        "class id {id} would make more than {MAX_UNNAMED_CLASSES} classes: pass \
                         the label names (e.g. from classes.txt) if the corpus really has that \
                         many"
                    ),
                ));
            }
            (1..=max_id).map(|k| k.to_string()).collect()
        }
    };
    let examples = rows
        .into_iter()
        .map(|(_, id, text)| Example {
            text,
            label: id - 1,
        })
        .collect();
    let (examples, dropped) = dedup_by_text(examples);
    if dropped > 0 {
        tracing::warn!(dropped, file = %path.display(), "MTL5: dropped repeated texts");
    }
    let data = Dataset {
        name: name.to_owned(),
        labels,
        examples,
    };
    data.check()?;
    Ok(data)
}

/// Reads a `classes.txt` (one class name per line, blank lines ignored), to pass as
/// `label_names` to [`load_mtl5_csv`].
pub fn read_class_names(path: &Path) -> Result<Vec<String>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let content = super::text::decode_strict(&bytes, path)?;
    let names: Vec<String> = content
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if names.is_empty() {
        return Err(Error::parse(path, 0, None, "no class names in the file"));
    }
    Ok(names)
}

/// `class, title, text...` → (line, 1-based class id, joined text).
fn parse_row(
    record: &csv::ByteRecord,
    first: bool,
    path: &Path,
    line: usize,
) -> Result<(usize, usize, String)> {
    if record.len() < 3 {
        return Err(Error::parse(
            path,
            line,
            None,
            format!(
                "expected at least 3 fields (class, title, text), found {}",
                record.len()
            ),
        ));
    }
    let field = |i: usize, name: &str| -> Result<&str> {
        let bytes = &record[i];
        let bytes = if first && i == 0 {
            bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
        } else {
            bytes
        };
        std::str::from_utf8(bytes).map_err(|_| {
            Error::parse(
                path,
                line,
                Some(name),
                "invalid UTF-8: save the file as UTF-8",
            )
        })
    };
    let class = field(0, "class")?.trim();
    let id = class
        .parse::<usize>()
        .ok()
        .filter(|&id| id >= 1)
        .ok_or_else(|| {
            Error::parse(
                path,
                line,
                Some("class"),
                format!("'{class}' is not a class id (ids are 1-based integers)"),
            )
        })?;
    let title = unescape(field(1, "title")?);
    let mut body = String::new();
    for i in 2..record.len() {
        let part = normalize_whitespace(&unescape(field(i, "text")?));
        if !part.is_empty() {
            if !body.is_empty() {
                body.push(' ');
            }
            body.push_str(&part);
        }
    }
    let text = join_title(&title, &body);
    if text.is_empty() {
        return Err(Error::parse(
            path,
            line,
            Some("text"),
            "empty title and text",
        ));
    }
    Ok((line, id, text))
}

/// The files' line-break escapes (`\n` and lone backslashes) as spaces.
fn unescape(field: &str) -> String {
    field.replace("\\n", " ").replace('\\', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, content: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn pairs(data: &Dataset) -> Vec<(&str, &str)> {
        data.examples
            .iter()
            .map(|e| (e.text.as_str(), data.labels[e.label].as_str()))
            .collect()
    }

    #[test]
    fn ag_news_rows_with_default_and_given_labels() {
        let dir = tempfile::tempdir().unwrap();
        let csv = concat!(
            "\u{feff}\"3\",\"Wall St. Bears Claw Back\",\"Short-sellers, Wall Street's dwindling\\band\"\n",
            "\"1\",\"Quotes \"\"inside\"\"\",\"line one\\nline two\"\n",
            "\n",
            "\"3\",\"Wall St. Bears Claw Back\",\"Short-sellers, Wall Street's dwindling\\band\"\n",
        );
        let path = write(&dir, "train.csv", csv.as_bytes());
        let data = load_mtl5_csv(&path, "ag_news", None).unwrap();
        assert_eq!(data.name, "ag_news");
        assert_eq!(data.labels, vec!["1", "2", "3"]);
        assert_eq!(
            pairs(&data),
            vec![
                (
                    "Wall St. Bears Claw Back. Short-sellers, Wall Street's dwindling band",
                    "3"
                ),
                ("Quotes \"inside\". line one line two", "1"),
            ]
        );
        let names: Vec<String> = AG_NEWS_CLASSES.iter().map(|&s| s.to_owned()).collect();
        let data = load_mtl5_csv(&path, "ag_news", Some(&names)).unwrap();
        assert_eq!(data.labels, names);
        assert_eq!(data.class_counts(), vec![1, 0, 1, 0]);
    }

    #[test]
    fn yahoo_rows_join_title_question_and_answer() {
        let dir = tempfile::tempdir().unwrap();
        let csv = concat!(
            "\"5\",\"Why is the sky blue?\",\"Just wondering.\",\"Rayleigh scattering.\"\n",
            "\"10\",\"Who votes\",\"\",\"Citizens do.\"\n",
        );
        let path = write(&dir, "yahoo.csv", csv.as_bytes());
        let data = load_mtl5_csv(&path, "yahoo", None).unwrap();
        assert_eq!(data.labels.len(), 10);
        assert_eq!(
            pairs(&data),
            vec![
                (
                    "Why is the sky blue? Just wondering. Rayleigh scattering.",
                    "5"
                ),
                ("Who votes. Citizens do.", "10"),
            ]
        );
    }

    #[test]
    fn bad_rows_name_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, &[u8], &str, Option<&str>); 7] = [
            (
                "zero.csv",
                b"\"1\",\"a\",\"b\"\n\"0\",\"c\",\"d\"\n",
                "line 2",
                Some("class"),
            ),
            (
                "word.csv",
                b"\"1\",\"a\",\"b\"\n\"x\",\"c\",\"d\"\n",
                "line 2",
                Some("class"),
            ),
            ("neg.csv", b"\"-2\",\"c\",\"d\"\n", "line 1", Some("class")),
            (
                "huge.csv",
                b"\"1\",\"a\",\"b\"\n\"4000000000\",\"c\",\"d\"\n",
                "line 2",
                Some("class"),
            ),
            (
                "short.csv",
                b"\"1\",\"a\",\"b\"\n\"2\",\"c\"\n",
                "line 2",
                None,
            ),
            (
                "empty.csv",
                b"\"1\",\"a\",\"b\"\n\"2\",\" \",\"\"\n",
                "line 2",
                Some("text"),
            ),
            (
                "latin.csv",
                b"\"1\",\"a\",\"b\"\n\"2\",\"caf\xe9\",\"x\"\n",
                "line 2",
                Some("title"),
            ),
        ];
        for (name, content, line, field) in cases {
            let path = write(&dir, name, content);
            let err = load_mtl5_csv(&path, "t", None).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains(line), "{err}");
            if let Some(field) = field {
                assert!(err.contains(&format!("field '{field}'")), "{err}");
            }
        }
    }

    #[test]
    fn class_beyond_given_names_and_empty_or_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "t.csv", b"\"1\",\"a\",\"b\"\n\"3\",\"c\",\"d\"\n");
        let names = vec!["x".to_owned(), "y".to_owned()];
        let err = load_mtl5_csv(&path, "t", Some(&names))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("field 'class'") && err.contains("x, y"),
            "{err}"
        );
        let path = write(&dir, "e.csv", b"\n\n");
        let err = load_mtl5_csv(&path, "t", None).unwrap_err().to_string();
        assert!(err.contains("no examples"), "{err}");
        let err = load_mtl5_csv(&dir.path().join("gone.csv"), "t", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("gone.csv"), "{err}");
    }

    #[test]
    fn classes_txt_gives_label_names() {
        let dir = tempfile::tempdir().unwrap();
        let classes = write(
            &dir,
            "classes.txt",
            b"World\nSports\n\nBusiness\nSci/Tech\n",
        );
        let names = read_class_names(&classes).unwrap();
        assert_eq!(names, AG_NEWS_CLASSES);
        let path = write(&dir, "t.csv", b"\"4\",\"Chips\",\"Faster.\"\n");
        let data = load_mtl5_csv(&path, "ag", Some(&names)).unwrap();
        assert_eq!(pairs(&data), vec![("Chips. Faster.", "Sci/Tech")]);
        let empty = write(&dir, "none.txt", b"\n");
        assert!(read_class_names(&empty).is_err());
    }
}
