//! HTTP/1.1 reverse-proxy plumbing shared by the `xds` and `http` handlers, built on hyper:
//! the body types ([`body`]), pooled keep-alive connections to servers ([`client`]) and the
//! idle-limited, metered socket wrapper ([`io`]).

pub mod body;
pub mod client;
pub mod io;

/// Headers that describe one hop, not the message (RFC 9110 §7.6.1): never forwarded.
/// `Transfer-Encoding` is left to hyper, which re-frames the body on each leg; `Trailer` is
/// end-to-end (it announces the trailer fields that are forwarded).
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "upgrade",
];

/// Removes hop-by-hop headers (and those named in `Connection`) in place.
pub fn strip_hop_by_hop(h: &mut hyper::HeaderMap) {
    // The common case: none of them there (a few names compared beat five hashed removes).
    if !h.keys().any(|k| HOP_BY_HOP.contains(&k.as_str())) {
        return;
    }
    let named: Vec<String> = h
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .filter(|s| !s.is_empty())
        .collect();
    for n in HOP_BY_HOP
        .iter()
        .copied()
        .chain(named.iter().map(String::as_str))
    {
        h.remove(n);
    }
}

/// Appends the client's address to `X-Forwarded-For` (after any value the client sent), as an
/// IPv4 address when it is an IPv4-mapped IPv6 one.
pub fn append_forwarded_for(h: &mut hyper::HeaderMap, client: std::net::IpAddr) {
    const XFF: &str = "x-forwarded-for";
    let ip = match client {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, std::net::IpAddr::V4),
        v4 => v4,
    };
    let prev: Vec<&str> = h
        .get_all(XFF)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let v = if prev.is_empty() {
        ip.to_string()
    } else {
        format!("{}, {ip}", prev.join(", "))
    };
    if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
        h.insert(XFF, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn hop_by_hop_and_connection_named_headers_are_removed() {
        let mut h = hyper::HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, X-Secret"),
        );
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("te", HeaderValue::from_static("trailers"));
        h.insert("trailer", HeaderValue::from_static("x-checksum"));
        h.insert("soapaction", HeaderValue::from_static("\"urn:x\""));
        strip_hop_by_hop(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["soapaction", "trailer"]);
    }

    #[test]
    fn without_connection_header_the_fixed_list_still_goes_and_the_rest_stays() {
        let mut h = hyper::HeaderMap::new();
        h.insert("soapaction", HeaderValue::from_static("\"urn:x\""));
        h.insert("content-type", HeaderValue::from_static("text/xml"));
        let before = h.clone();
        strip_hop_by_hop(&mut h);
        assert_eq!(h, before);
        h.insert("te", HeaderValue::from_static("trailers"));
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h, before);
    }

    #[test]
    fn forwarded_for_appends_to_what_the_client_sent() {
        let mut h = hyper::HeaderMap::new();
        append_forwarded_for(&mut h, "::ffff:10.0.0.7".parse().unwrap());
        assert_eq!(h["x-forwarded-for"], "10.0.0.7");
        append_forwarded_for(&mut h, "127.0.0.2".parse().unwrap());
        assert_eq!(h["x-forwarded-for"], "10.0.0.7, 127.0.0.2");
    }
}
