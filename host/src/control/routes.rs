//! The API's routes and its token check.

use std::path::PathBuf;

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::conf_edit;
use crate::agent::AgentHandle;

/// What every handler can reach.
#[derive(Clone)]
pub struct ApiState {
    pub agent: AgentHandle,
    pub token: String,
    pub conf_d: PathBuf,
}

/// `/v1/status`, `/v1/reload`, `/v1/checks/{check}/instances[/{index}]`, all behind the token.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/reload", post(reload))
        .route("/v1/checks/{check}/instances", post(add_instance))
        .route(
            "/v1/checks/{check}/instances/{index}",
            delete(remove_instance),
        )
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state)
}

async fn authenticate(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let expected = format!("Bearer {}", state.token);
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "missing or wrong token: send `Authorization: Bearer <data_dir/auth_token>`"})))
            .into_response();
    }
    next.run(request).await
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": "the agent is stopping"})),
    )
        .into_response()
}

async fn status(State(state): State<ApiState>) -> Response {
    match state.agent.status().await {
        Some(report) => Json(report).into_response(),
        None => unavailable(),
    }
}

async fn reload(State(state): State<ApiState>) -> Response {
    match state.agent.reload().await {
        Some(report) => Json(report).into_response(),
        None => unavailable(),
    }
}

async fn add_instance(
    State(state): State<ApiState>,
    Path(check): Path<String>,
    Json(instance): Json<Value>,
) -> Response {
    match conf_edit::add_instance(&state.conf_d, &check, instance) {
        Ok(index) => match state.agent.reload().await {
            Some(report) => (
                StatusCode::CREATED,
                Json(json!({"check": check, "index": index, "status": report})),
            )
                .into_response(),
            None => unavailable(),
        },
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response(),
    }
}

async fn remove_instance(
    State(state): State<ApiState>,
    Path((check, index)): Path<(String, usize)>,
) -> Response {
    match conf_edit::remove_instance(&state.conf_d, &check, index) {
        Ok(()) => match state.agent.reload().await {
            Some(report) => Json(json!({"status": report})).into_response(),
            None => unavailable(),
        },
        Err(e) => (StatusCode::NOT_FOUND, Json(json!({"error": e}))).into_response(),
    }
}
