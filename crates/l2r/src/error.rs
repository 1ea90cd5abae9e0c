//! The one error type of the library. Every message says what was wrong and, where there is one, what to do.

use std::path::PathBuf;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An asset (docs/design.md, "Data and benchmarks") is not on disk: the fix is always the set-up script.
    #[error("{what} not found at {path}: run `scripts/setup.sh` first (or set L2R_ASSETS to where the assets are)")]
    MissingAsset { what: String, path: PathBuf },

    /// A file or folder that could not be read or written. The reason is part of the message (not a separate
    /// source), so that a chain of errors prints it once.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },

    /// A malformed line or record of a data or config file. `line` is 1-based; 0 when unknown.
    #[error("{}", parse_message(path, *line, field.as_deref(), message))]
    Parse {
        path: PathBuf,
        line: usize,
        field: Option<String>,
        message: String,
    },

    #[error("invalid config {path}: {message}")]
    Config { path: PathBuf, message: String },

    #[error(
        "bad weights file {path}: {message} (re-run `scripts/setup.sh`, or retrain the module)"
    )]
    Weights { path: PathBuf, message: String },

    #[error("tokenizer: {0}")]
    Tokenizer(String),

    #[error("invalid input: {0}")]
    InvalidInput(String),

    #[error("drawing a plot failed: {0}")]
    Plot(String),

    #[error("tensor computation failed: {0}")]
    Tensor(#[from] candle_core::Error),
}

fn parse_message(
    path: &std::path::Path,
    line: usize,
    field: Option<&str>,
    message: &str,
) -> String {
    let mut place = path.display().to_string();
    if line > 0 {
        place.push_str(&format!(", line {line}"));
    }
    if let Some(field) = field {
        place.push_str(&format!(", field '{field}'"));
    }
    format!("{place}: {message}")
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause: source,
        }
    }

    pub fn parse(
        path: impl Into<PathBuf>,
        line: usize,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Error::Parse {
            path: path.into(),
            line,
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidInput(message.into())
    }
}
