//! VADER sentiment ground truth (Hutto & Gilbert, ICWSM 2014): `id<TAB>mean rating<TAB>text`,
//! ratings in −4..4, mapped to 3 classes.

use super::split::dedup_by_text;
use super::text::{decode_lenient, normalize_whitespace};
use super::{Dataset, Example};
use crate::error::{Error, Result};
use std::path::Path;

/// Labels 0, 1, 2 of every VADER task.
pub const VADER_LABELS: [&str; 3] = ["negative", "neutral", "positive"];

/// Ratings at or beyond ±0.5 are polar; between them, neutral.
pub const POLARITY_THRESHOLD: f64 = 0.5;

/// The four VADER domains, one task each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VaderDomain {
    Tweets,
    Movie,
    Amazon,
    Nyt,
}

impl VaderDomain {
    pub const ALL: [VaderDomain; 4] = [Self::Tweets, Self::Movie, Self::Amazon, Self::Nyt];

    /// The built-in task name, e.g. `vader-movie`.
    pub fn task_name(self) -> &'static str {
        match self {
            Self::Tweets => "vader-tweets",
            Self::Movie => "vader-movie",
            Self::Amazon => "vader-amazon",
            Self::Nyt => "vader-nyt",
        }
    }

    pub fn from_task_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.task_name() == name)
    }

    /// The ground-truth file inside `assets/vader`.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Tweets => "tweets_GroundTruth.txt",
            Self::Movie => "movieReviewSnippets_GroundTruth.txt",
            Self::Amazon => "amazonReviewSnippets_GroundTruth.txt",
            Self::Nyt => "nytEditorialSnippets_GroundTruth.txt",
        }
    }
}

/// The class of a mean rating: negative if ≤ −0.5, positive if ≥ 0.5, else neutral.
pub fn polarity(rating: f64) -> usize {
    if rating <= -POLARITY_THRESHOLD {
        0
    } else if rating >= POLARITY_THRESHOLD {
        2
    } else {
        1
    }
}

/// Loads one shipped VADER domain.
pub fn load_vader(domain: VaderDomain) -> Result<Dataset> {
    let path = crate::assets::asset_dir("vader")?.join(domain.file_name());
    crate::assets::require_file(&path, "VADER ground truth")?;
    load_vader_file(&path, domain.task_name())
}

/// Loads a VADER ground-truth file; blank lines are skipped, exact duplicate texts dropped.
pub fn load_vader_file(path: &Path, name: &str) -> Result<Dataset> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut examples = Vec::new();
    for (i, line) in decode_lenient(&bytes).lines().enumerate() {
        if !line.trim().is_empty() {
            examples.push(parse_line(line, path, i + 1)?);
        }
    }
    if examples.is_empty() {
        return Err(Error::parse(path, 0, None, "no examples in the file"));
    }
    let (examples, dropped) = dedup_by_text(examples);
    tracing::debug!(
        dropped,
        kept = examples.len(),
        file = %path.display(),
        "VADER: dropped duplicate texts"
    );
    Ok(Dataset {
        name: name.to_owned(),
        labels: VADER_LABELS.iter().map(|&s| s.to_owned()).collect(),
        examples,
    })
}

fn parse_line(line: &str, path: &Path, line_no: usize) -> Result<Example> {
    let mut fields = line.splitn(3, '\t');
    let _id = fields.next();
    let (Some(rating), Some(text)) = (fields.next(), fields.next()) else {
        return Err(Error::parse(
            path,
            line_no,
            None,
            "expected 3 tab-separated fields: id, mean rating, text",
        ));
    };
    let rating: f64 = rating
        .trim()
        .parse()
        .ok()
        .filter(|r: &f64| r.is_finite())
        .ok_or_else(|| {
            Error::parse(
                path,
                line_no,
                Some("rating"),
                format!("'{rating}' is not a number"),
            )
        })?;
    let text = normalize_whitespace(text);
    if text.is_empty() {
        return Err(Error::parse(path, line_no, Some("text"), "empty text"));
    }
    Ok(Example {
        text,
        label: polarity(rating),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_inclusive_at_half() {
        assert_eq!(polarity(-4.0), 0);
        assert_eq!(polarity(-0.5), 0);
        assert_eq!(polarity(-0.499_999), 1);
        assert_eq!(polarity(0.0), 1);
        assert_eq!(polarity(0.499_999), 1);
        assert_eq!(polarity(0.5), 2);
        assert_eq!(polarity(3.9), 2);
    }

    #[test]
    fn parses_file_with_crlf_latin1_and_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t_GroundTruth.txt");
        let content =
            b"1\t-0.5\tAwful.\r\n2\t0.2\tFine caf\xe9\r\n\r\n3\t0.5\tGreat!\r\n4\t1.0\tAwful.";
        std::fs::write(&path, content).unwrap();
        let data = load_vader_file(&path, "vader-test").unwrap();
        assert_eq!(data.labels, vec!["negative", "neutral", "positive"]);
        let got: Vec<(&str, usize)> = data
            .examples
            .iter()
            .map(|e| (e.text.as_str(), e.label))
            .collect();
        assert_eq!(got, vec![("Awful.", 0), ("Fine café", 1), ("Great!", 2)]);
    }

    #[test]
    fn malformed_lines_name_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.txt");
        std::fs::write(&path, "1\t0.1\tok\n2\tnope\ttext\n").unwrap();
        let err = load_vader_file(&path, "x").unwrap_err().to_string();
        assert!(
            err.contains("bad.txt") && err.contains("line 2") && err.contains("'rating'"),
            "{err}"
        );
        std::fs::write(&path, "1\t0.1\n").unwrap();
        let err = load_vader_file(&path, "x").unwrap_err().to_string();
        assert!(
            err.contains("line 1") && err.contains("3 tab-separated"),
            "{err}"
        );
    }

    #[test]
    fn shipped_domains_load() {
        let Some(_) = super::super::asset_or_skip("vader") else {
            return;
        };
        // Rows in each file, and repeated texts among them (first copy kept).
        for (domain, rows, duplicates) in [
            (VaderDomain::Tweets, 4200, 0),
            (VaderDomain::Movie, 10605, 2),
            (VaderDomain::Amazon, 3708, 11),
            (VaderDomain::Nyt, 5190, 71),
        ] {
            let data = load_builtin_domain(domain);
            eprintln!("{}: {}", data.name, data.class_summary());
            assert_eq!(data.len(), rows - duplicates, "{}", data.name);
            assert!(
                data.class_counts().iter().all(|&c| c > 200),
                "{}",
                data.class_summary()
            );
        }
    }

    fn load_builtin_domain(domain: VaderDomain) -> Dataset {
        let data = super::super::load_builtin(domain.task_name()).unwrap();
        data.check().unwrap();
        data
    }
}
