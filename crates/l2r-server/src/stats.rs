//! Counters the server reports on `GET /v1/stats`, read by the load test.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Stats {
    requests: AtomicU64,
    texts: AtomicU64,
    batches: AtomicU64,
    rejected: AtomicU64,
}

#[derive(Serialize)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub texts: u64,
    /// Forward passes of the model thread; texts / batches is the mean dynamic batch size.
    pub batches: u64,
    pub rejected: u64,
    /// The process's peak resident memory (VmHWM), in MiB, where the OS reports it.
    pub peak_rss_mib: Option<f64>,
}

impl Stats {
    pub fn request(&self, texts: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.texts.fetch_add(texts as u64, Ordering::Relaxed);
    }

    pub fn batch(&self) {
        self.batches.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            texts: self.texts.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            peak_rss_mib: peak_rss_mib(),
        }
    }
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
