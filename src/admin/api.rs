//! The JSON API handlers: status, server state, reload, metrics, health. Errors are JSON:
//! `{"error": "..."}`, or `{"errors": ["FILE:LINE:COL: message", ...]}` for a refused reload.

use super::model::{ServerStatus, StateChange, StateChanged, Status};
use super::AdminState;
use crate::config::ServerState;
use crate::runtime::StartError;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;

/// An error answer: status and a JSON body.
pub type ApiError = (StatusCode, Json<serde_json::Value>);

pub fn error(status: StatusCode, msg: impl Into<String>) -> ApiError {
    (status, Json(json!({ "error": msg.into() })))
}

/// The runtime behind this admin server is gone (shutting down).
pub fn gone() -> ApiError {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the gateway is shutting down",
    )
}

fn runtime(st: &AdminState) -> Result<Arc<crate::Runtime>, ApiError> {
    st.runtime().ok_or_else(gone)
}

/// `GET /api/v1/status`
pub async fn status(State(st): State<AdminState>) -> Result<Json<Status>, ApiError> {
    let rt = runtime(&st)?;
    Ok(Json(Status::of(&rt)))
}

/// `PUT /api/v1/pools/{pool}/servers/{server}/state` with `{"state": "online"|"drain"|"halt"}`.
pub async fn set_state(
    State(st): State<AdminState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Bytes,
) -> Result<Json<StateChanged>, ApiError> {
    let rt = runtime(&st)?;
    let Path((pool, server)) = path.map_err(|e| error(StatusCode::BAD_REQUEST, e.body_text()))?;
    let snap = rt.snapshot();
    let p = snap
        .pool(&pool)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("no pool {pool:?}")))?;
    let s = p.server(&server).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            format!("no server {server:?} in pool {pool:?}"),
        )
    })?;
    let want: StateChange = serde_json::from_slice(&body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("the body must be JSON {{\"state\": \"online\"|\"drain\"|\"halt\"}}: {e}"),
        )
    })?;
    let state: ServerState = want
        .state
        .parse()
        .map_err(|e: String| error(StatusCode::BAD_REQUEST, e))?;
    let previous = s.state();
    rt.set_server_state(&pool, &server, state)
        .map_err(|e| error(StatusCode::NOT_FOUND, e))?;
    Ok(Json(StateChanged {
        pool,
        previous: previous.as_str().to_string(),
        server: ServerStatus::of(s),
    }))
}

/// `POST /api/v1/reload`: re-reads the config file. On any error the running config stays.
pub async fn reload(State(st): State<AdminState>) -> Response {
    let rt = match runtime(&st) {
        Ok(rt) => rt,
        Err(e) => return e.into_response(),
    };
    if rt.config_path().is_none() {
        let msg = "running the embedded default: there is no config file to reload";
        return (StatusCode::CONFLICT, Json(json!({ "errors": [msg] }))).into_response();
    }
    match rt.reload().await {
        Ok(()) => {
            let c = rt.snapshot().config.clone();
            let body = json!({ "reloaded": true, "config": c.source, "summary": c.summary() });
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(e) => {
            let (status, errors) = match &e {
                StartError::Config(c) => (StatusCode::UNPROCESSABLE_ENTITY, c.lines()),
                StartError::Other(m) => (StatusCode::UNPROCESSABLE_ENTITY, vec![m.clone()]),
                StartError::Bind { .. } => (StatusCode::INTERNAL_SERVER_ERROR, vec![e.to_string()]),
            };
            tracing::error!(
                "reload through the admin API refused, the running configuration stays:\n{e}"
            );
            (status, Json(json!({ "errors": errors }))).into_response()
        }
    }
}

/// `GET /metrics`: Prometheus / OpenMetrics text.
pub async fn metrics(State(st): State<AdminState>) -> Response {
    let rt = match runtime(&st) {
        Ok(rt) => rt,
        Err(e) => return e.into_response(),
    };
    match crate::metrics::encode(rt.snapshot()) {
        Ok(text) => ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response(),
        Err(_) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, "metrics encoding failed").into_response()
        }
    }
}

/// `GET /healthz`: 200 while the gateway runs.
pub async fn healthz(State(st): State<AdminState>) -> Response {
    match st.runtime() {
        Some(_) => (StatusCode::OK, "ok\n").into_response(),
        None => gone().into_response(),
    }
}

/// Any other path.
pub async fn not_found() -> ApiError {
    error(StatusCode::NOT_FOUND, "no such path")
}
