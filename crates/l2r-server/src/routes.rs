//! The HTTP routes and their request validation.

use crate::batcher::{BatchPolicy, Batcher};
use crate::error::ApiError;
use crate::limits::Limits;
use crate::stats::Stats;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use l2r::predict::{RunPredictor, TaskInfo};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub struct AppState {
    batcher: Batcher,
    limits: Limits,
    tasks: Vec<TaskInfo>,
    run: Value,
    stats: Arc<Stats>,
}

impl AppState {
    pub fn new(predictor: RunPredictor, limits: Limits, batching: BatchPolicy) -> Self {
        let stats = Arc::new(Stats::default());
        let tasks = predictor.tasks().to_vec();
        let run =
            json!({ "seed": predictor.seed, "order": predictor.order, "step": predictor.step });
        AppState {
            batcher: Batcher::start(predictor, batching, stats.clone()),
            limits,
            tasks,
            run,
            stats,
        }
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.limits.max_body_bytes;
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/v1/tasks", get(tasks))
        .route("/v1/stats", get(stats))
        .route("/v1/classify", post(classify))
        .fallback(|| async { ApiError::not_found() })
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

async fn tasks(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({ "tasks": state.tasks, "run": state.run }))
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
    let predictions = state.batcher.classify(request.texts, request.task).await?;
    Ok(Json(json!({ "predictions": predictions })))
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
    if let Some(task) = &request.task {
        if !state.tasks.iter().any(|t| &t.name == task) {
            let known: Vec<&str> = state.tasks.iter().map(|t| t.name.as_str()).collect();
            return Err(ApiError::bad_request(format!(
                "unknown task '{task}'; this run knows: {}",
                known.join(", ")
            )));
        }
    }
    Ok(request)
}
