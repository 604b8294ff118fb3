//! The admin HTTP server (axum) on `[admin].listen`: the System Overview page, the JSON API,
//! `/metrics` and `/healthz`.
//!
//! | method and path | auth (when `[admin] token` is set) |
//! |---|---|
//! | `GET /` (page shell), `GET /assets/*`, `GET /healthz` | open |
//! | `GET /api/v1/status`, `GET /api/v1/overview` (table HTML) | bearer token |
//! | `PUT /api/v1/pools/{pool}/servers/{server}/state`, `POST /api/v1/reload` | bearer token |
//! | `GET /metrics` | bearer token (Prometheus: `authorization: { credentials: ... }`) |
//!
//! The server holds only a `Weak<Runtime>`: the runtime owns the server's stop token (a drop
//! guard), so dropping the runtime stops the admin server and no reference cycle exists. Every
//! request reads the current snapshot, so reloads show at once.

pub mod api;
pub mod auth;
pub mod client;
pub mod ctl;
pub mod model;
pub mod page;

use crate::runtime::Runtime;
use axum::routing::{get, post, put};
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};

/// What every handler gets: the runtime, if it still exists.
#[derive(Clone, Debug)]
pub struct AdminState {
    rt: Weak<Runtime>,
}

impl AdminState {
    pub fn new(rt: &Arc<Runtime>) -> Self {
        Self {
            rt: Arc::downgrade(rt),
        }
    }
    pub fn from_weak(rt: Weak<Runtime>) -> Self {
        Self { rt }
    }
    pub fn runtime(&self) -> Option<Arc<Runtime>> {
        self.rt.upgrade()
    }
}

/// The admin routes, with auth. Tests drive this with `tower::ServiceExt::oneshot`.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/assets/overview.js", get(page::script))
        .route("/assets/overview.css", get(page::style))
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .route("/api/v1/status", get(api::status))
        .route("/api/v1/overview", get(page::fragment))
        .route(
            "/api/v1/pools/{pool}/servers/{server}/state",
            put(api::set_state),
        )
        .route("/api/v1/reload", post(api::reload))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require,
        ))
        .with_state(state)
}

/// A running admin server. Dropping it stops the server.
#[derive(Debug)]
pub struct AdminServer {
    /// The configured address (what a reload compares).
    pub configured: SocketAddr,
    /// The bound address (port 0 resolved).
    pub local: SocketAddr,
    _stop: DropGuard,
}

/// Binds the admin address (separately from serving, so a reload can fail before any change).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves the admin API on `listener` until the returned handle is dropped; in-flight
/// requests are allowed to finish.
pub fn serve(listener: TcpListener, configured: SocketAddr, rt: Weak<Runtime>) -> AdminServer {
    let local = listener.local_addr().unwrap_or(configured);
    let stop = CancellationToken::new();
    let app = router(AdminState::from_weak(rt));
    let token = stop.clone();
    tokio::spawn(async move {
        let shutdown = async move { token.cancelled().await };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(listen = %local, "admin API stopped: {e}");
        }
    });
    tracing::info!(listen = %local, "admin API listening");
    AdminServer {
        configured,
        local,
        _stop: stop.drop_guard(),
    }
}
