//! Where the fetched assets live. `scripts/setup.sh` unpacks them into `<repo>/assets`; `L2R_ASSETS` overrides.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The assets root: `$L2R_ASSETS`, else `assets/` found by walking up from the current directory
/// (so commands work from anywhere inside the checkout), else `assets/` next to the library's sources.
pub fn assets_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("L2R_ASSETS") {
        return PathBuf::from(dir);
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            let candidate = dir.join("assets");
            if candidate.join("minilm").is_dir() {
                return candidate;
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets")
}

/// The folder of one asset (`minilm`, `bbc`, ...), checked to exist and to be complete.
pub fn asset_dir(name: &str) -> Result<PathBuf> {
    let dir = assets_root().join(name);
    if !dir.join(".done").is_file() {
        return Err(Error::MissingAsset {
            what: format!("asset '{name}'"),
            path: dir,
        });
    }
    Ok(dir)
}

/// Checks that a file of an asset exists, with the set-up hint when it does not.
pub fn require_file(path: &Path, what: &str) -> Result<()> {
    if path.is_file() {
        Ok(())
    } else {
        Err(Error::MissingAsset {
            what: what.to_owned(),
            path: path.to_owned(),
        })
    }
}
