//! Bearer-token auth for the admin API.
//!
//! When `[admin] token` is set, every `/api/...` path and `/metrics` need
//! `Authorization: Bearer <token>`; otherwise they answer 401 with a JSON body that says what
//! is missing. `/healthz`, the page shell (`/`) and its static assets stay open: they carry no
//! data (with a token set the page loads its table through the API with the token).
//! The token is read from the running config on every request, so a reload that changes it
//! takes effect at once. Comparison is constant-time (`subtle`), and does not reveal the length.

use super::AdminState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use subtle::ConstantTimeEq;

/// Whether a request path needs the token (when one is configured).
pub fn guarded(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path == "/metrics"
}

/// Constant-time equality; the time depends only on the expected token's length.
pub fn token_eq(expected: &[u8], given: &[u8]) -> bool {
    let same_len = expected.len() == given.len();
    let other = if same_len { given } else { expected };
    let eq: bool = expected.ct_eq(other).into();
    eq & same_len
}

/// The token of an `Authorization: Bearer <token>` header, if well formed.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
}

/// Middleware: lets open paths through, checks the token on guarded ones.
pub async fn require(State(st): State<AdminState>, req: Request, next: Next) -> Response {
    if !guarded(req.uri().path()) {
        return next.run(req).await;
    }
    let Some(rt) = st.runtime() else {
        return super::api::gone().into_response();
    };
    let snap = rt.snapshot();
    let Some(expected) = snap.config.admin.as_ref().and_then(|a| a.token.as_deref()) else {
        return next.run(req).await;
    };
    match bearer(req.headers()) {
        Some(given) if token_eq(expected.as_bytes(), given.as_bytes()) => next.run(req).await,
        Some(_) => unauthorized(
            "the token in \"Authorization: Bearer <token>\" does not match the [admin] token",
        ),
        None => unauthorized(
            "this admin API needs a token: send the header \"Authorization: Bearer <token>\" \
             with the [admin] token of triage's config (triage status/server: --token or TRIAGE_TOKEN)",
        ),
    }
}

fn unauthorized(detail: &str) -> Response {
    let body = serde_json::json!({ "error": "unauthorized", "detail": detail });
    let mut r = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"triage admin\""),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq() {
        assert!(token_eq(b"secret", b"secret"));
        assert!(!token_eq(b"secret", b"secreT"));
        assert!(!token_eq(b"secret", b"secret2"));
        assert!(!token_eq(b"secret", b""));
    }

    #[test]
    fn bearer_header() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  abc "),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn guarded_paths() {
        assert!(guarded("/api/v1/status"));
        assert!(guarded("/metrics"));
        assert!(!guarded("/healthz"));
        assert!(!guarded("/"));
        assert!(!guarded("/apiary"));
    }
}
