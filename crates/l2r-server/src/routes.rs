//! The HTTP routes and their request validation.

use crate::batcher::{BatchPolicy, Batcher};
use crate::error::ApiError;
use crate::library::Reloader;
use crate::limits::Limits;
use crate::stats::Stats;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
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
        }
    }

    fn info(&self) -> Option<ModelInfo> {
        self.info.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.limits.max_body_bytes;
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz))
        .route("/v1/admin/reload", post(reload))
        .route("/v1/tasks", get(tasks))
        .route("/v1/stats", get(stats))
        .route("/v1/classify", post(classify))
        .fallback(|| async { ApiError::not_found() })
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
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
    let request = validate(&state, body).inspect_err(|_| state.stats.rejected())?;
    state.stats.request(request.texts.len());
    let (predictions, generation) = state.batcher.classify(request.texts, request.task).await?;
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
