//! Finding the SOAP action of a request without buffering the documents: the Content-Type
//! `action` parameter, else body frames are fed to [`triage_xds::ActionFinder`] until the
//! envelope header has been read (bounded by the header budget); the frames read are returned
//! for replay in front of the rest of the body.

use crate::httpfwd::body::ReplayBody;
use bytes::Bytes;
use hyper::body::{Body, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::Request;
use http_body_util::BodyExt;
use triage_xds::{parse_content_type, ActionFinder, FindState};

/// What was learnt about the request.
#[derive(Clone, Debug, Default)]
pub struct Found {
    pub action: Option<String>,
    pub message_id: Option<String>,
}

#[derive(Debug)]
pub struct FindError {
    pub reason: String,
}

fn bad(reason: impl Into<String>) -> FindError {
    FindError { reason: reason.into() }
}

pub async fn find(req: Request<Incoming>, budget: usize) -> Result<(Found, Request<ReplayBody>), FindError> {
    let (parts, mut body) = req.into_parts();
    let ct_value = parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ct = parse_content_type(ct_value).map_err(|e| bad(format!("bad Content-Type: {e}")))?;
    if let Some(action) = triage_xds::action_from_headers(&ct) {
        let found = Found { action: Some(action), message_id: None };
        return Ok((found, Request::from_parts(parts, ReplayBody::new(Vec::new(), Some(body)))));
    }
    let mut finder = ActionFinder::new(&ct, budget);
    let mut prefix: Vec<Bytes> = Vec::new();
    let mut read = 0usize;
    loop {
        let frame = match body.frame().await {
            Some(Ok(f)) => f,
            Some(Err(e)) => return Err(bad(format!("reading the request body failed: {e}"))),
            None => {
                return match finder.finish() {
                    Ok(FindState::Found(info)) => Ok(done(info, parts, prefix, None)),
                    Ok(FindState::NeedMore) => Err(bad("request body ended before the SOAP header")),
                    Err(e) => Err(bad(format!("malformed SOAP envelope: {e}"))),
                };
            }
        };
        let Ok(data) = frame.into_data() else { continue };
        read += data.len();
        let state = finder.feed(&data).map_err(|e| bad(format!("malformed SOAP envelope: {e}")))?;
        prefix.push(data);
        if let FindState::Found(info) = state {
            let rest = (!body.is_end_stream()).then_some(body);
            return Ok(done(info, parts, prefix, rest));
        }
        if read > budget.saturating_mul(2) {
            return Err(bad(format!("no SOAP header within {budget} bytes")));
        }
    }
}

fn done(info: triage_xds::SoapInfo, parts: hyper::http::request::Parts, prefix: Vec<Bytes>, rest: Option<Incoming>) -> (Found, Request<ReplayBody>) {
    let found = Found { action: info.action, message_id: info.message_id };
    (found, Request::from_parts(parts, ReplayBody::new(prefix, rest)))
}
