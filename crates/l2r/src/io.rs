//! Crash-safe file writes: write to a sibling temporary file, fsync, then rename over the target.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: a reader sees either the old file or the complete new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let json = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::invalid(format!("cannot serialise {}: {e}", path.display())))?;
    write_atomic(path, &json)
}

/// Reads and parses a JSON file, naming the file in any error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::parse(path, e.line(), None, e.to_string()))
}

/// The value stored at `path` when the file is there; otherwise `compute`d, saved by `save` (which must write
/// atomically) and returned. Every stage of a run goes through it, so a resumed run skips what is done.
pub fn load_or_compute<T>(
    path: &Path,
    load: impl FnOnce(&Path) -> Result<T>,
    compute: impl FnOnce() -> Result<T>,
    save: impl FnOnce(&Path, &T) -> Result<()>,
) -> Result<T> {
    if path.is_file() {
        return load(path);
    }
    let value = compute()?;
    save(path, &value)?;
    Ok(value)
}

/// [`load_or_compute`] for a value stored as JSON.
pub fn json_or_compute<T: serde::Serialize + serde::de::DeserializeOwned>(
    path: &Path,
    compute: impl FnOnce() -> Result<T>,
) -> Result<T> {
    load_or_compute(path, read_json, compute, write_json_atomic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("config.json")]);
    }

    #[test]
    fn a_stored_value_is_loaded_not_computed_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("value.json");
        let first: Vec<u32> = json_or_compute(&path, || Ok(vec![1, 2])).unwrap();
        let second: Vec<u32> =
            json_or_compute(&path, || panic!("computed although stored")).unwrap();
        assert_eq!((first, second), (vec![1, 2], vec![1, 2]));
    }
}
