//! plotters lays out text with a TrueType font that we register once from the system's font folders.

use crate::error::{Error, Result};
use plotters::style::FontStyle;
use std::sync::OnceLock;

/// Fonts tried in order; Debian's fonts-dejavu-core (installed by `scripts/setup.sh`) provides the first.
const CANDIDATES: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial.ttf",
];

static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();

/// Registers the plots' font as "sans-serif"; `L2R_FONT` names another TrueType file.
pub fn ensure_font() -> Result<()> {
    REGISTERED
        .get_or_init(register)
        .clone()
        .map_err(Error::Plot)
}

fn register() -> std::result::Result<(), String> {
    let chosen = std::env::var("L2R_FONT")
        .ok()
        .into_iter()
        .chain(CANDIDATES.iter().map(|s| s.to_string()))
        .find(|p| std::path::Path::new(p).is_file())
        .ok_or_else(|| {
            format!(
                "no TrueType font found (tried {}); install fonts-dejavu-core (scripts/setup.sh does) or set L2R_FONT",
                CANDIDATES.join(", ")
            )
        })?;
    let bytes = std::fs::read(&chosen).map_err(|e| format!("cannot read font {chosen}: {e}"))?;
    // plotters keeps the font for the life of the process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| format!("{chosen} is not a usable TrueType font"))
}
