//! Prometheus metrics on `GET /metrics`, recorded with the `metrics` crate and rendered by
//! `metrics-exporter-prometheus`, as text-embeddings-inference does: requests and their outcome, request latency,
//! dynamic batch sizes, the answers per task (where the routers send the traffic), and the library generation that
//! serves.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Seconds from request to answer.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Texts per forward pass.
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use (one per process: every server in it shares the counters).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("l2r_request_duration_seconds".into()),
                &LATENCY_BUCKETS,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full("l2r_batch_size".into()), &BATCH_BUCKETS)
            });
        let recorder = match builder {
            Ok(builder) => builder.build_recorder(),
            Err(error) => {
                tracing::warn!("metric buckets refused ({error}); histograms become summaries");
                PrometheusBuilder::new().build_recorder()
            }
        };
        let handle = recorder.handle();
        if let Err(error) = metrics::set_global_recorder(recorder) {
            tracing::warn!("another metrics recorder is installed ({error}); /metrics stays empty");
        }
        handle
    })
}

/// The text Prometheus scrapes.
pub fn render() -> String {
    handle().render()
}

/// A classify request answered with `status` after `elapsed`.
pub fn request(status: u16, elapsed: Duration) {
    handle();
    metrics::counter!("l2r_requests_total", "status" => status.to_string()).increment(1);
    metrics::histogram!("l2r_request_duration_seconds").record(elapsed.as_secs_f64());
}

/// A forward pass over `texts` texts.
pub fn batch(texts: usize) {
    handle();
    metrics::histogram!("l2r_batch_size").record(texts as f64);
}

/// One answer given by `task`'s head (under CIL, the task the routers and heads chose).
pub fn answer(task: &str) {
    handle();
    metrics::counter!("l2r_answers_total", "task" => task.to_owned()).increment(1);
}

/// The library generation that answers (0 for a run folder).
pub fn generation(generation: Option<u64>) {
    handle();
    metrics::gauge!("l2r_generation").set(generation.unwrap_or(0) as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_are_rendered_for_prometheus() {
        request(200, Duration::from_millis(30));
        request(429, Duration::from_millis(1));
        batch(12);
        answer("bbc");
        generation(Some(3));
        let text = render();
        for expected in [
            "l2r_requests_total{status=\"200\"}",
            "l2r_requests_total{status=\"429\"}",
            "l2r_request_duration_seconds_bucket{le=\"0.05\"}",
            "l2r_batch_size_bucket{le=\"16\"}",
            "l2r_answers_total{task=\"bbc\"} 1",
            "l2r_generation 3",
        ] {
            assert!(text.contains(expected), "{expected} missing from:\n{text}");
        }
    }
}
