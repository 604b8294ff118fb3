//! Finding the SOAP action of a request without buffering the documents (ITI TF-2 Appendix V:
//! `wsa:Action` is mandatory; SOAP 1.2 Part 2 §7.5.1 / RFC 3902: it may also be the `action`
//! parameter of the Content-Type). The Content-Type `action` parameter wins; otherwise body
//! frames are fed to [`triage_xds::ActionFinder`] until the envelope header has been read
//! (bounded by the header budget); the frames read are returned for replay in front of the rest
//! of the body, which stays unread in the socket. A client connection keeps the last header
//! read ([`HeaderMemo`]): the next request repeating it (but for its `wsa:MessageID`) is
//! answered without a scan.

use crate::httpfwd::body::ReplayBody;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{HeaderMap, CONTENT_TYPE};
use std::sync::Mutex;
use triage_xds::{parse_content_type, ActionFinder, FindState, HeaderMemo};

/// What was learnt about the request.
#[derive(Clone, Debug, Default)]
pub struct Found {
    pub action: Option<String>,
    pub message_id: Option<String>,
}

#[derive(Debug)]
pub struct FindError {
    pub reason: String,
    /// The client's body failed (it went away or broke the framing): no point answering.
    pub client_gone: bool,
}

fn bad(reason: impl Into<String>) -> FindError {
    FindError {
        reason: reason.into(),
        client_gone: false,
    }
}

/// The request's head stays with the caller (`headers`: only the Content-Type is read); the
/// body comes back as the replay of what was read followed by the rest.
///
/// `memo` is the client connection's (see [`HeaderMemo`]), taken for the request and given
/// back updated; `None` when nothing is to be remembered.
pub async fn find(
    headers: &HeaderMap,
    body: Incoming,
    budget: usize,
    memo: Option<&Mutex<HeaderMemo>>,
) -> Result<(Found, ReplayBody), FindError> {
    let ct_value = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ct = parse_content_type(ct_value).map_err(|e| bad(format!("bad Content-Type: {e}")))?;
    if let Some(action) = triage_xds::action_from_headers(&ct) {
        let found = Found {
            action: Some(action),
            message_id: None,
        };
        return Ok((found, ReplayBody::new(Vec::new(), Some(body))));
    }
    let Some(memo) = memo else {
        return read_header(&mut ActionFinder::new(&ct, budget), body).await;
    };
    let taken = std::mem::take(&mut *memo.lock().unwrap_or_else(|e| e.into_inner()));
    let mut finder = ActionFinder::with_memo(&ct, budget, taken);
    let r = read_header(&mut finder, body).await;
    *memo.lock().unwrap_or_else(|e| e.into_inner()) = finder.into_memo();
    r
}

/// Feeds body frames to `finder` until it has the SOAP header.
async fn read_header(
    finder: &mut ActionFinder,
    mut body: Incoming,
) -> Result<(Found, ReplayBody), FindError> {
    let mut prefix: Vec<Frame<Bytes>> = Vec::new();
    loop {
        let frame = match body.frame().await {
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                return Err(FindError {
                    reason: format!("reading the request body failed: {e}"),
                    client_gone: true,
                })
            }
            None => {
                return match finder.finish() {
                    Ok(FindState::Found(info)) => Ok(done(info, prefix, None)),
                    Ok(FindState::NeedMore) => {
                        Err(bad("request body ended before the SOAP header"))
                    }
                    Err(e) => Err(bad(format!("malformed SOAP envelope: {e}"))),
                };
            }
        };
        // Trailers come last: keep them for the replay, the body is over.
        let state = match frame.data_ref() {
            Some(data) => finder
                .feed(data)
                .map_err(|e| bad(format!("malformed SOAP envelope: {e}")))?,
            None => finder
                .finish()
                .map_err(|e| bad(format!("malformed SOAP envelope: {e}")))?,
        };
        let trailers = frame.is_trailers();
        prefix.push(frame);
        match state {
            FindState::Found(info) => {
                let rest = (!trailers && !body.is_end_stream()).then_some(body);
                return Ok(done(info, prefix, rest));
            }
            FindState::NeedMore if trailers => {
                return Err(bad("request body ended before the SOAP header"))
            }
            // The finder fails once more than the budget was fed without the header's end.
            FindState::NeedMore => {}
        }
    }
}

fn done(
    info: triage_xds::SoapInfo,
    prefix: Vec<Frame<Bytes>>,
    rest: Option<Incoming>,
) -> (Found, ReplayBody) {
    let found = Found {
        action: info.action,
        message_id: info.message_id,
    };
    (found, ReplayBody::new(prefix, rest))
}
