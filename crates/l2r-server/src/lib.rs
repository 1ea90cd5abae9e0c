//! The l2r inference server: a finished run's modules and routers behind an HTTP API (axum).
//!
//! - `POST /v1/classify` `{"texts": [...], "task": optional}` → `{"predictions": [{label, task, score, gates}]}`
//! - `GET /v1/tasks` → the run's tasks and labels; `GET /v1/stats` → counters and peak memory; `GET /healthz`.
//!
//! Requests from all clients are queued to one model thread that answers them in dynamic batches; limits on
//! body size, number of texts and text length answer 4xx with a JSON error; SIGTERM or Ctrl-C drains in-flight
//! requests and stops.

mod batcher;
mod error;
mod limits;
mod routes;
mod stats;

pub use batcher::{BatchPolicy, Batcher};
pub use error::ApiError;
pub use limits::Limits;
pub use stats::Stats;

use l2r::predict::RunPredictor;
use std::net::SocketAddr;
use std::sync::Arc;

pub struct ServerConfig {
    pub addr: SocketAddr,
    pub limits: Limits,
    pub batching: BatchPolicy,
}

/// Serves `predictor` until SIGTERM or Ctrl-C; `on_ready` gets the bound address (port 0 picks a free one).
pub async fn serve(
    predictor: RunPredictor,
    config: ServerConfig,
    on_ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    on_ready(listener.local_addr()?);
    let state = routes::AppState::new(predictor, config.limits, config.batching);
    let app = routes::router(Arc::new(state));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
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
