//! The l2r inference server: a finished run's modules and routers behind an HTTP API (axum).
//!
//! - `POST /v1/classify` `{"texts": [...], "task": optional}` → `{"predictions": [{label, task, score, gates}]}`
//! - `GET /v1/tasks` → the run's tasks and labels; `GET /v1/stats` → counters and peak memory; `GET /healthz`;
//!   `GET /readyz` (503 until a model is loaded); `POST /v1/admin/reload` (a library's current generation, now);
//!   `GET /metrics` (Prometheus text: requests by status, latency and batch-size histograms, answers per task, the
//!   generation).
//!
//! A task library (`ModelSource::Library`) is followed without a restart: a new generation is loaded beside the
//! serving one and takes over between batches; every answer names the generation that made it.
//!
//! Requests from all clients are queued to one model thread that answers them in dynamic batches; limits on
//! body size, number of texts and text length answer 4xx with a JSON error; a client that takes longer than
//! `Limits::read_timeout` to send a request's head or body is cut off (408 for a body); SIGTERM or Ctrl-C drains
//! in-flight requests and stops.

mod batcher;
mod error;
mod library;
mod limits;
mod listener;
mod metrics;
mod routes;
mod stats;

pub use batcher::{BatchPolicy, Batcher};
pub use error::ApiError;
pub use library::Reloader;
pub use limits::Limits;
pub use stats::Stats;

use l2r::library::Library;
use l2r::predict::RunPredictor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct ServerConfig {
    pub addr: SocketAddr,
    pub limits: Limits,
    pub batching: BatchPolicy,
    /// A bearer token every request but the probes must carry.
    pub api_key: Option<String>,
}

/// What the server answers with: one run folder's model, or a task library's current generation (followed).
// Built once at start-up and moved into the server: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum ModelSource {
    Run(RunPredictor),
    Library(Library),
}

/// Serves `source` until SIGTERM or Ctrl-C; `on_ready` gets the bound address (port 0 picks a free one).
pub async fn serve(
    source: ModelSource,
    config: ServerConfig,
    on_ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    on_ready(listener.local_addr()?);
    let read_timeout = config.limits.read_timeout;
    let state = match source {
        ModelSource::Run(predictor) => {
            routes::AppState::new(predictor, config.limits, config.batching)
        }
        ModelSource::Library(library) => routes::AppState::for_library(
            Arc::new(Reloader::new(library)),
            config.limits,
            config.batching,
            Duration::from_secs(1),
        ),
    };
    let app = routes::router(Arc::new(state.with_api_key(config.api_key)));
    listener::serve_connections(listener, app, read_timeout, shutdown_signal()).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}
