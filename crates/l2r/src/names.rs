//! Names that become paths (tasks of a run or a library, benchmarks of a comparison) are checked against a safe character set, so that no name can
//! leave its folder or collide with the library's own files.

use crate::error::{Error, Result};

/// The characters a name may use, for the error message.
pub const ALLOWED: &str =
    "ASCII letters, digits, '-', '_' and '.', at most 64, not starting with '.' or '-'";

/// `name` if it is safe to use as a folder name, else an error naming the allowed set.
pub fn check_name(kind: &str, name: &str) -> Result<()> {
    let safe_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let safe_start = !name.starts_with('.') && !name.starts_with('-');
    if name.is_empty() || name.len() > 64 || !safe_chars || !safe_start {
        return Err(Error::invalid(format!(
            "{kind} name '{}' is not allowed: use {ALLOWED}",
            name.escape_debug()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_names_pass() {
        for good in ["news", "tickets-2026.q4", "A_b.9"] {
            assert!(check_name("task", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "../x",
            "a/b",
            ".hidden",
            "-flag",
            "é",
            "a b",
            &"x".repeat(65),
            "a\\b",
        ] {
            let error = check_name("task", bad).unwrap_err().to_string();
            assert!(error.contains("ASCII letters"), "{bad}: {error}");
        }
    }
}
