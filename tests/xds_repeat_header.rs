//! Requests on one keep-alive connection that repeat a SOAP header but for their
//! `wsa:MessageID` (as a client's template does) are each routed and answered by their own
//! header: a Fault relates to the request's own MessageID, and a changed header (another
//! action) is routed by what it says. Raw TCP: one connection, requests one after another.

mod support;
mod xds_support;

use support::{listen, start};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use xds_support::*;

const ID: &str = "urn:uuid:a02ca8cd-86fa-4afc-a27c-16c183b20555";

fn request(body: &str) -> String {
    format!("{}{body}", soap_post_head(body.len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_is_answered_by_its_own_header() {
    let b = Backends::start().await;
    // Routes only (ITI-41/43 to the repository): any other action is a Sender Fault.
    let rt = start(&config(&b, "").replace("pool     = \"registry\"\n", "")).await;
    let iti18 = std::fs::read_to_string(fixture("iti18-request.xml")).unwrap();
    let unknown = iti18.replace(ITI18, "urn:example:NoSuchAction");
    let mut s = TcpStream::connect(listen(&rt, "xds")).await.unwrap();
    for n in 1..=3 {
        let id = format!("urn:uuid:00000000-0000-0000-0000-00000000000{n}");
        s.write_all(request(&unknown.replace(ID, &id)).as_bytes())
            .await
            .unwrap();
        let r = read_response(&mut s).await;
        assert!(r.starts_with("HTTP/1.1 400"), "request {n}: {r:?}");
        assert!(r.contains("urn:example:NoSuchAction"), "request {n}: {r:?}");
        assert!(
            r.contains(&id),
            "request {n} relates to its own MessageID: {r:?}"
        );
        assert!(!r.contains(ID), "request {n}: {r:?}");
    }
    // The same template with a routed action: forwarded, on the same connection.
    s.write_all(request(&iti18.replace(ITI18, ITI43)).as_bytes())
        .await
        .unwrap();
    let r = read_response(&mut s).await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r:?}");
    let seen = b.log.all();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].action.as_deref(), Some(ITI43));
}
