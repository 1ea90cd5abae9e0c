//! Crash injection for the resume tests: with `L2R_CRASH_AT=<point>#<n>`, the process aborts (like a
//! `kill -9`: no destructor, no flush) the n-th time it passes `point`. Unset, a pass costs one env lookup.

use std::collections::HashMap;
use std::sync::Mutex;

static HITS: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

/// Marks a point where a crash must leave the run resumable (after an epoch, between stages).
pub fn crash_point(point: &str) {
    let Ok(spec) = std::env::var("L2R_CRASH_AT") else {
        return;
    };
    let Some((target, nth)) = spec.split_once('#') else {
        return;
    };
    if target != point {
        return;
    }
    let mut guard = HITS.lock().unwrap_or_else(|e| e.into_inner());
    let hits = guard
        .get_or_insert_with(HashMap::new)
        .entry(point.to_owned())
        .or_insert(0);
    *hits += 1;
    if nth.parse::<usize>().ok() == Some(*hits) {
        eprintln!("L2R_CRASH_AT: aborting at {point} #{hits}");
        std::process::abort();
    }
}
