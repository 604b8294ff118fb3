//! The XDS simulator: a registry/repository responder over HTTP/1.1. It reads the SOAP action
//! (without buffering documents), drains the body, and answers ITI-18 with an empty
//! AdhocQueryResponse, ITI-41/42 with a RegistryResponse, ITI-43 with an MTOM response carrying
//! a small synthetic document — all with status Success. Anything else gets a Sender fault.

use crate::httpfwd::body::ProxyBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use tokio::net::TcpStream;
use triage_xds as xds;

pub async fn session(s: TcpStream) {
    let svc =
        hyper::service::service_fn(|req| async move { Ok::<_, Infallible>(answer(req).await) });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(s), svc)
        .await;
}

fn soap(status: StatusCode, ct: &str, body: impl Into<bytes::Bytes>) -> Response<ProxyBody> {
    let mut r = Response::new(ProxyBody::full(body));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(ct) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}

async fn answer(req: Request<Incoming>) -> Response<ProxyBody> {
    const SOAP_CT: &str = "application/soap+xml; charset=utf-8";
    if req.method() != hyper::Method::POST {
        return soap(StatusCode::OK, "text/plain", "triage XDS simulator\n");
    }
    let (parts, body) = req.into_parts();
    let found =
        crate::proto::xds_find_action(&parts.headers, body, xds::DEFAULT_HEADER_BUDGET, None).await;
    let (action, message_id, body) = match found {
        Ok((f, body)) => (
            f.action.unwrap_or_default(),
            f.message_id.unwrap_or_default(),
            body,
        ),
        Err(reason) => {
            return soap(
                StatusCode::BAD_REQUEST,
                SOAP_CT,
                xds::build_fault(xds::FaultCode::Sender, &reason.reason, None, None),
            )
        }
    };
    // Discard the rest (documents), chunk by chunk.
    let mut body = body;
    while let Some(f) = body.frame().await {
        if f.is_err() {
            break;
        }
    }
    match action.as_str() {
        xds::ITI18_ACTION => soap(
            StatusCode::OK,
            SOAP_CT,
            xds::build_adhoc_query_response_success(&message_id),
        ),
        xds::ITI41_ACTION => soap(
            StatusCode::OK,
            SOAP_CT,
            xds::build_registry_response(
                &message_id,
                xds::ITI41_RESPONSE_ACTION,
                xds::RegistryStatus::Success,
            ),
        ),
        xds::ITI42_ACTION => soap(
            StatusCode::OK,
            SOAP_CT,
            xds::build_registry_response(
                &message_id,
                xds::ITI42_RESPONSE_ACTION,
                xds::RegistryStatus::Success,
            ),
        ),
        xds::ITI43_ACTION => {
            let doc = xds::RetrievedDocument {
                repository_unique_id: "1.3.6.1.4.1.21367.2010.1.2.1125",
                document_unique_id: "1.3.6.1.4.1.21367.2005.3.99.1.1010",
                mime_type: "text/plain",
                content: b"synthetic document from the triage XDS simulator\n",
            };
            let m = xds::build_retrieve_response(&message_id, xds::RegistryStatus::Success, &[doc]);
            soap(StatusCode::OK, &m.content_type, m.body)
        }
        other => {
            let reason = format!("the simulator does not support action {other:?}");
            soap(
                StatusCode::BAD_REQUEST,
                SOAP_CT,
                xds::build_fault(
                    xds::FaultCode::Sender,
                    &reason,
                    (!message_id.is_empty()).then_some(message_id.as_str()),
                    None,
                ),
            )
        }
    }
}
