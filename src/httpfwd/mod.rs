//! HTTP/1.1 reverse-proxy plumbing shared by the `xds` (and later `http`) handlers, built on
//! hyper: the body types ([`body`]) and pooled keep-alive connections to servers ([`client`]).

pub mod body;
pub mod client;

/// Headers that describe one hop, not the message (RFC 9110 §7.6.1): never forwarded.
pub const HOP_BY_HOP: &[&str] = &["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"];

/// Removes hop-by-hop headers (and those named in `Connection`) in place.
pub fn strip_hop_by_hop(h: &mut hyper::HeaderMap) {
    let named: Vec<String> = h
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .filter(|s| !s.is_empty())
        .collect();
    for n in HOP_BY_HOP.iter().copied().chain(named.iter().map(String::as_str)) {
        h.remove(n);
    }
}
