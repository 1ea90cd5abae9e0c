//! The HTTP routes and their request validation.

use crate::batcher::{BatchPolicy, Batcher};
use crate::error::ApiError;
use crate::library::Reloader;
use crate::limits::Limits;
use crate::stats::Stats;
use axum::body::{to_bytes, Body};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use l2r::predict::{RunPredictor, TaskInfo};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub struct AppState {
    batcher: Batcher,
    limits: Limits,
    /// What the serving model knows; `None` until a model is loaded (a library with no generation yet).
    info: Arc<RwLock<Option<ModelInfo>>>,
    stats: Arc<Stats>,
    /// Set when serving a task library: loads its current generation on demand.
    reloader: Option<Arc<Reloader>>,
    /// The bearer token every request but the probes must carry, if any.
    api_key: Option<String>,
}

/// The serving model's tasks and where it comes from.
#[derive(Clone)]
pub struct ModelInfo {
    tasks: Vec<TaskInfo>,
    run: Value,
}

impl ModelInfo {
    pub fn of(predictor: &RunPredictor) -> Self {
        ModelInfo {
            tasks: predictor.tasks().to_vec(),
            run: json!({
                "seed": predictor.seed, "order": predictor.order, "step": predictor.step,
                "generation": predictor.generation
            }),
        }
    }
}

impl AppState {
    /// Serving a run folder's model.
    pub fn new(predictor: RunPredictor, limits: Limits, batching: BatchPolicy) -> Self {
        let info = Some(ModelInfo::of(&predictor));
        Self::with(Some(predictor), info, limits, batching, None)
    }

    /// Serving a task library: its current generation, loaded now if there is one, and whichever comes next.
    pub fn for_library(
        reloader: Arc<Reloader>,
        limits: Limits,
        batching: BatchPolicy,
        poll: Duration,
    ) -> Self {
        let state = Self::with(None, None, limits, batching, Some(reloader.clone()));
        if let Err(error) = reloader.reload(&state.batcher, &state.info) {
            tracing::error!("cannot load the library's current generation: {error}");
        }
        reloader.watch(state.batcher.clone(), state.info.clone(), poll);
        state
    }

    fn with(
        predictor: Option<RunPredictor>,
        info: Option<ModelInfo>,
        limits: Limits,
        batching: BatchPolicy,
        reloader: Option<Arc<Reloader>>,
    ) -> Self {
        let stats = Arc::new(Stats::default());
        AppState {
            batcher: Batcher::start(predictor, batching, stats.clone()),
            limits,
            info: Arc::new(RwLock::new(info)),
            stats,
            reloader,
            api_key: None,
        }
    }

    /// Requires `Authorization: Bearer <key>` on every route but `/healthz` and `/readyz`.
    pub fn with_api_key(mut self, key: Option<String>) -> Self {
        self.api_key = key;
        self
    }

    fn info(&self) -> Option<ModelInfo> {
        self.info.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.limits.max_body_bytes;
    // Behind the bearer token when there is one; the probes stay open to the orchestrator.
    let protected = Router::new()
        .route("/v1/admin/reload", post(reload))
        .route("/v1/tasks", get(tasks))
        .route("/v1/stats", get(stats))
        .route("/metrics", get(prometheus))
        .route("/v1/classify", post(classify))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz))
        .merge(protected)
        .fallback(|| async { ApiError::not_found() })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), read_body))
        .with_state(state)
}

/// Reads the whole body within `Limits::read_timeout` (408 after it) and `max_body_bytes` (413 beyond), before
/// any handler runs: a client sending a byte a second cannot hold a connection and a task for longer.
async fn read_body(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let limits = &state.limits;
    let (parts, body) = request.into_parts();
    let bytes = tokio::time::timeout(limits.read_timeout, to_bytes(body, limits.max_body_bytes))
        .await
        .map_err(|_| {
            ApiError::request_timeout(format!(
                "the request body did not arrive within {} ms (--read-timeout-ms)",
                limits.read_timeout.as_millis()
            ))
        })?
        .map_err(|error| body_error(error, limits.max_body_bytes))?;
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

fn body_error(error: axum::Error, max_body_bytes: usize) -> ApiError {
    let too_long = std::error::Error::source(&error)
        .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
    if too_long {
        ApiError::too_large(format!(
            "the request body is over {max_body_bytes} bytes (--max-body-bytes)"
        ))
    } else {
        ApiError::bad_request(format!("cannot read the request body: {error}"))
    }
}

/// With an API key configured, a request needs `Authorization: Bearer <key>`, compared in constant time.
async fn require_key(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(key) = &state.api_key {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(given.as_bytes(), key.as_bytes()) {
            return Err(ApiError::unauthorized());
        }
    }
    Ok(next.run(request).await)
}

/// Equality whose time depends only on the lengths, not on where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let differences = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    a.len() == b.len() && differences == 0
}

/// 200 once a model serves, 503 before (a library with no generation yet).
async fn readyz(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let info = state
        .info()
        .ok_or_else(|| ApiError::unavailable("no model loaded yet"))?;
    Ok(Json(json!({ "status": "ready", "run": info.run })))
}

/// Loads the library's current generation now, if it is not the one serving; answers with the generation that
/// serves from the next batch on.
async fn reload(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let reloader = state.reloader.clone().ok_or_else(|| {
        ApiError::bad_request("this server serves a run folder, not a library (--library)")
    })?;
    let worker = state.clone();
    let loaded =
        tokio::task::spawn_blocking(move || reloader.reload(&worker.batcher, &worker.info))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(json!({ "generation": loaded })))
}

async fn tasks(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let info = state
        .info()
        .ok_or_else(|| ApiError::unavailable("no model loaded yet"))?;
    Ok(Json(json!({ "tasks": info.tasks, "run": info.run })))
}

async fn stats(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!(state.stats.snapshot()))
}

/// Prometheus' text format; behind the bearer token like every route but the probes (it names the tasks).
async fn prometheus() -> ([(header::HeaderName, &'static str); 1], String) {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(),
    )
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn keys_match_only_when_equal() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"secret"));
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassifyRequest {
    texts: Vec<String>,
    #[serde(default)]
    task: Option<String>,
}

async fn classify(
    State(state): State<Arc<AppState>>,
    body: Result<Json<ClassifyRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let started = std::time::Instant::now();
    let answer = answer_classify(&state, body).await;
    let status = match &answer {
        Ok(_) => 200,
        Err(error) => error.status.as_u16(),
    };
    crate::metrics::request(status, started.elapsed());
    answer
}

async fn answer_classify(
    state: &AppState,
    body: Result<Json<ClassifyRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let request = validate(state, body).inspect_err(|_| state.stats.rejected())?;
    state.stats.request(request.texts.len());
    let answer = state.batcher.classify(request.texts, request.task);
    let (predictions, generation) = tokio::time::timeout(state.limits.request_timeout, answer)
        .await
        .map_err(|_| {
            ApiError::timed_out(format!(
                "no answer within {} ms (--request-timeout-ms)",
                state.limits.request_timeout.as_millis()
            ))
        })??;
    Ok(Json(
        json!({ "generation": generation, "predictions": predictions }),
    ))
}

fn validate(
    state: &AppState,
    body: Result<Json<ClassifyRequest>, JsonRejection>,
) -> Result<ClassifyRequest, ApiError> {
    let Json(request) = body.map_err(|rejection| ApiError {
        status: rejection.status(),
        message: format!(
            "{}; expected {{\"texts\": [\"...\"], \"task\": optional task name}}",
            rejection.body_text()
        ),
    })?;
    state.limits.check(&request.texts)?;
    let info = state.info().ok_or_else(|| {
        ApiError::unavailable("no model loaded yet; retry once /readyz answers 200")
    })?;
    if let Some(task) = &request.task {
        if !info.tasks.iter().any(|t| &t.name == task) {
            let known: Vec<&str> = info.tasks.iter().map(|t| t.name.as_str()).collect();
            return Err(ApiError::bad_request(format!(
                "unknown task '{task}'; this run knows: {}",
                known.join(", ")
            )));
        }
    }
    Ok(request)
}
