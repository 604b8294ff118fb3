//! PROXY protocol headers (HAProxy's spec, versions 1 and 2) sent to a server right after
//! connecting, so a backend that checks the client's address (e.g. Orthanc's
//! `DicomCheckModalityHost`) still sees the modality's IP behind triage.

use crate::config::ProxyProtocol;
use std::net::SocketAddr;

/// The v2 signature (spec §2.2).
const V2_SIG: [u8; 12] = [
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
];

/// The header for a client `src` that connected to `dst` (the service address).
pub fn header(version: ProxyProtocol, src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let (src, dst) = same_family(src, dst);
    match version {
        ProxyProtocol::V1 => v1(src, dst),
        ProxyProtocol::V2 => v2(src, dst),
    }
}

/// Maps IPv4-mapped IPv6 addresses to IPv4 so both ends are of one family.
fn same_family(src: SocketAddr, dst: SocketAddr) -> (SocketAddr, SocketAddr) {
    let canon = |a: SocketAddr| match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => a,
        },
        _ => a,
    };
    (canon(src), canon(dst))
}

/// Version 1 (spec §2.1): `PROXY TCP4 src dst sport dport\r\n`.
fn v1(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => format!(
            "PROXY TCP4 {} {} {} {}\r\n",
            s.ip(),
            d.ip(),
            s.port(),
            d.port()
        )
        .into_bytes(),
        (SocketAddr::V6(s), SocketAddr::V6(d)) => format!(
            "PROXY TCP6 {} {} {} {}\r\n",
            s.ip(),
            d.ip(),
            s.port(),
            d.port()
        )
        .into_bytes(),
        _ => b"PROXY UNKNOWN\r\n".to_vec(),
    }
}

/// Version 2 (spec §2.2): signature, version 2 + PROXY command, family/transport, addresses.
fn v2(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let mut out = V2_SIG.to_vec();
    out.push(0x21); // version 2, command PROXY
    match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            out.push(0x11); // AF_INET, STREAM
            out.extend_from_slice(&12u16.to_be_bytes());
            out.extend_from_slice(&s.ip().octets());
            out.extend_from_slice(&d.ip().octets());
            out.extend_from_slice(&s.port().to_be_bytes());
            out.extend_from_slice(&d.port().to_be_bytes());
        }
        (SocketAddr::V6(s), SocketAddr::V6(d)) => {
            out.push(0x21); // AF_INET6, STREAM
            out.extend_from_slice(&36u16.to_be_bytes());
            out.extend_from_slice(&s.ip().octets());
            out.extend_from_slice(&d.ip().octets());
            out.extend_from_slice(&s.port().to_be_bytes());
            out.extend_from_slice(&d.port().to_be_bytes());
        }
        _ => {
            out.push(0x00); // AF_UNSPEC
            out.extend_from_slice(&0u16.to_be_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_ipv4() {
        let h = header(
            ProxyProtocol::V1,
            "10.1.2.3:40000".parse().unwrap(),
            "10.0.0.1:104".parse().unwrap(),
        );
        assert_eq!(h, b"PROXY TCP4 10.1.2.3 10.0.0.1 40000 104\r\n");
    }

    #[test]
    fn v2_ipv4_layout() {
        let h = header(
            ProxyProtocol::V2,
            "10.1.2.3:40000".parse().unwrap(),
            "10.0.0.1:104".parse().unwrap(),
        );
        assert_eq!(h.len(), 16 + 12);
        assert_eq!(&h[..12], &V2_SIG);
        assert_eq!(h[12], 0x21);
        assert_eq!(h[13], 0x11);
        assert_eq!(&h[14..16], &[0, 12]);
        assert_eq!(&h[16..20], &[10, 1, 2, 3]);
        assert_eq!(&h[24..26], &40000u16.to_be_bytes());
        assert_eq!(&h[26..28], &104u16.to_be_bytes());
    }

    #[test]
    fn mapped_v6_becomes_v4() {
        let h = header(
            ProxyProtocol::V1,
            "[::ffff:10.1.2.3]:5".parse().unwrap(),
            "10.0.0.1:104".parse().unwrap(),
        );
        assert!(h.starts_with(b"PROXY TCP4 10.1.2.3 "));
    }
}
