//! A client that shuts down its write side once its request is sent (allowed by RFC 9112 §9.6;
//! some SOAP stacks and scripted clients do it) still gets the server's answer: the request is
//! forwarded once and the response is delivered, as HAProxy does by default (no
//! `abortonclose`). Closing the connection on that end-of-stream instead would throw away an
//! answer the server has produced — for an ITI-41 upload, the client could not tell whether
//! its documents were stored. Raw TCP client: curl does not half-close.

#[path = "support/half_close.rs"]
mod half_close;
mod support;
mod xds_support;

use half_close::half_closed_exchange;
use support::{listen, start};
use xds_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_closed_client_still_gets_the_answer() {
    let b = Backends::start().await;
    // The registry answers after 1.5 s: the client's end-of-stream arrives long before.
    for r in &b.reg {
        r.set_mode(Mode::Slow);
    }
    let rt = start(&config(&b, "")).await;
    let body = std::fs::read_to_string(fixture("iti18-request.xml")).unwrap();
    let head = soap_post_head(body.len());
    let got = half_closed_exchange(listen(&rt, "xds"), format!("{head}{body}").as_bytes()).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
    assert!(got.contains("ResponseStatusType:Success"), "{got:?}");
    let seen = b.log.all();
    assert_eq!(seen.len(), 1, "forwarded once");
    assert_eq!(seen[0].action.as_deref(), Some(ITI18));
}
