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

/// `/v1/status`, `/v1/reload`, `/v1/sources/refresh`, `/v1/checks/{check}/instances[/{index}]`, all behind the token.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/reload", post(reload))
        .route("/v1/sources/refresh", post(refresh_sources))
        .route("/v1/checks/{check}/instances", post(add_instance))
        .route(
            "/v1/checks/{check}/instances/{index}",
            delete(remove_instance),
        )
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state)
}

async fn authenticate(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .and_then(|v| v.strip_prefix(b"Bearer "));
    if !given.is_some_and(|given| token_matches(given, state.token.as_bytes())) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "missing or wrong token: send `Authorization: Bearer <data_dir/auth_token>`"})))
            .into_response();
    }
    next.run(request).await
}

/// Compares in constant time, so the answer's timing tells nothing of the token.
fn token_matches(given: &[u8], token: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    given.ct_eq(token).into()
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": "the agent is stopping"})),
    )
        .into_response()
}

/// Polls every registry source now and answers with what each found.
async fn refresh_sources(State(state): State<ApiState>) -> Response {
    state.agent.refresh_sources().await;
    match state.agent.status().await {
        Some(report) => Json(json!({"sources": report.sources})).into_response(),
        None => unavailable(),
    }
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
    let bad = |e: String| (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response();
    let addition = match conf_edit::Addition::plan(&state.conf_d, &check, instance) {
        Ok(addition) => addition,
        Err(e) => return bad(e),
    };
    // The check itself must accept the instance (its `init`), as a config edit would.
    match state
        .agent
        .try_instance(addition.file(), addition.index)
        .await
    {
        Some(Ok(())) => {}
        Some(Err(e)) => return bad(e),
        None => return unavailable(),
    }
    match addition.commit() {
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
