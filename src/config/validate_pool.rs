//! Validation of `[[pool]]`: servers, weights, persistence, fallback and the health check,
//! including whether the check kind fits the services that use the pool.

use super::file::*;
use super::validate::{check_ae, server_addr, Ctx};
use super::*;
use std::collections::HashSet;

pub(super) fn validate_pool(
    cx: &mut Ctx,
    p: &PoolFile,
    users: &[&ServiceSpec],
) -> Option<PoolSpec> {
    let name = p.name.get_ref().clone();
    let mut servers = Vec::new();
    let mut seen = HashSet::new();
    if p.server.is_empty() && p.fallback.is_none() {
        cx.err(
            p.name.span(),
            format!("pool {name:?} has no [[pool.server]] and no fallback"),
        );
    }
    for s in &p.server {
        if !seen.insert(s.name.get_ref().clone()) {
            cx.err(
                s.name.span(),
                format!(
                    "duplicate server name {:?} in pool {name:?}",
                    s.name.get_ref()
                ),
            );
        }
        let weight = match &s.weight {
            Some(w) if !(0..=256).contains(w.get_ref()) => {
                cx.err(
                    w.span(),
                    format!("weight {} is out of range 0..=256", w.get_ref()),
                );
                0
            }
            Some(w) => *w.get_ref() as u32,
            None => 100,
        };
        if let Some(ae) = &s.ae_title {
            check_ae(cx, ae, false);
        }
        if let Some(address) = server_addr(cx, &s.address) {
            servers.push(ServerSpec {
                name: s.name.get_ref().clone(),
                address,
                weight,
                max_connections: s.max_connections,
                backup: s.backup,
                state: s.state,
                ae_title: s.ae_title.as_ref().map(|a| a.get_ref().trim().to_string()),
            });
        }
    }
    let persistence = p.persistence.as_ref().and_then(|ps| {
        let kind = *ps.kind.get_ref();
        // Services of other protocols sharing the pool (e.g. a web PACS's DICOM ports) use
        // its source-IP part.
        if kind == PersistKind::CookieSourceIp && !users.iter().any(|u| u.protocol == Protocol::Http) {
            cx.err(ps.kind.span(), "persistence kind \"cookie+source-ip\" needs a service of protocol \"http\" using this pool");
        }
        if let Some(c) = &ps.cookie {
            if kind != PersistKind::CookieSourceIp {
                cx.err(c.span(), "cookie is only used with persistence kind \"cookie+source-ip\"");
            }
        }
        (kind != PersistKind::None).then(|| PersistSpec {
            kind,
            timeout: ps.timeout.map_or(Duration::from_secs(3600), |t| t.0),
            cookie: ps.cookie.as_ref().map_or_else(|| "SERVERID".to_string(), |c| c.get_ref().clone()),
        })
    });
    let fallback = p.fallback.as_ref().and_then(|f| server_addr(cx, f));
    let default_check_port = users
        .iter()
        .flat_map(|u| u.listen.iter())
        .map(|a| a.port())
        .find(|p| *p != 0);
    let health = match &p.health {
        Some(h) => validate_health(cx, h, users, &servers, default_check_port)?,
        None => HealthSpec::connect(),
    };
    Some(PoolSpec {
        name,
        balance: p.balance,
        persistence,
        fallback,
        health,
        servers,
        default_check_port,
    })
}

fn validate_health(
    cx: &mut Ctx,
    h: &Sp<HealthFile>,
    users: &[&ServiceSpec],
    servers: &[ServerSpec],
    default_check_port: Option<u16>,
) -> Option<HealthSpec> {
    let hf = h.get_ref();
    let kind = *hf.kind.get_ref();
    let d = HealthSpec::connect();
    if !crate::health::is_supported(kind) {
        cx.err(
            hf.kind.span(),
            format!(
                "health kind {:?} is not yet supported by this build of triage",
                kind.as_str()
            ),
        );
    }
    // The protocol a check speaks must be spoken by a service that uses the pool.
    let needs = match kind {
        HealthKind::DicomEcho => Some(Protocol::Dicom),
        HealthKind::Hl7Ack => Some(Protocol::Mllp),
        HealthKind::XdsQuery => Some(Protocol::Xds),
        HealthKind::Http => Some(Protocol::Http),
        _ => None,
    };
    if let Some(p) = needs {
        if !users.iter().any(|u| u.protocol == p) {
            cx.err(
                hf.kind.span(),
                format!(
                    "health kind {:?} does not fit this pool: no {:?} service uses it",
                    kind.as_str(),
                    p.as_str()
                ),
            );
        }
    }
    let own: &[(&str, bool, Option<std::ops::Range<usize>>)] = &[
        (
            "command",
            kind == HealthKind::Script,
            hf.command.as_ref().map(|v| v.span()),
        ),
        (
            "calling_ae",
            kind == HealthKind::DicomEcho,
            hf.calling_ae.as_ref().map(|v| v.span()),
        ),
        (
            "called_ae",
            kind == HealthKind::DicomEcho,
            hf.called_ae.as_ref().map(|v| v.span()),
        ),
        (
            "method",
            kind == HealthKind::Http,
            hf.method.as_ref().map(|v| v.span()),
        ),
        (
            "path",
            matches!(kind, HealthKind::Http | HealthKind::XdsQuery),
            hf.path.as_ref().map(|v| v.span()),
        ),
        (
            "expect_status",
            kind == HealthKind::Http,
            hf.expect_status.as_ref().map(|v| v.span()),
        ),
        (
            "expect_body",
            kind == HealthKind::Http,
            hf.expect_body.as_ref().map(|v| v.span()),
        ),
        (
            "message",
            kind == HealthKind::Hl7Ack,
            hf.message.as_ref().map(|v| v.span()),
        ),
    ];
    for (key, fits, span) in own {
        if let (false, Some(span)) = (fits, span) {
            cx.err(
                span.clone(),
                format!("{key} does not apply to health kind {:?}", kind.as_str()),
            );
        }
    }
    if kind == HealthKind::Script && hf.command.is_none() {
        cx.err(
            hf.kind.span(),
            "health kind \"script\" needs command = \"...\"",
        );
    }
    for ae in [&hf.calling_ae, &hf.called_ae].into_iter().flatten() {
        check_ae(cx, ae, false);
    }
    let count = |v: &Option<Sp<u32>>, what: &str, def: u32, cx: &mut Ctx| match v {
        Some(x) if *x.get_ref() == 0 => {
            cx.err(x.span(), format!("{what} must be at least 1"));
            def
        }
        Some(x) => *x.get_ref(),
        None => def,
    };
    let rise = count(&hf.rise, "rise", d.rise, cx);
    let fall = count(&hf.fall, "fall", d.fall, cx);
    let mut ports = Vec::new();
    if let (Some(p), Some(ps)) = (&hf.port, &hf.ports) {
        cx.err(
            ps.span(),
            format!(
                "set either port or ports, not both (port = {})",
                p.get_ref()
            ),
        );
    }
    if let Some(p) = &hf.port {
        if *p.get_ref() == 0 {
            cx.err(p.span(), "health port must not be 0");
        }
        ports.push(*p.get_ref());
    }
    if let Some(ps) = &hf.ports {
        if ps.get_ref().is_empty() || ps.get_ref().contains(&0) {
            cx.err(
                ps.span(),
                "ports must list at least one port, none of them 0",
            );
        }
        ports.extend(ps.get_ref());
    }
    let probes_port = !matches!(kind, HealthKind::None | HealthKind::Script);
    if probes_port && ports.is_empty() && default_check_port.is_none() {
        if let Some(s) = servers.iter().find(|s| s.address.port() == 0) {
            cx.err(h.span(), format!("server {:?} has port 0 and no service uses this pool: set port = ... in health", s.name));
        }
    }
    let interval = hf.interval.map_or(d.interval, |x| x.0);
    let timeout = hf.timeout.map_or(d.timeout, |x| x.0);
    if interval.is_zero() || timeout.is_zero() {
        cx.err(
            hf.kind.span(),
            "health interval and timeout must be greater than 0",
        );
    }
    let s = |v: &Option<Sp<String>>| v.as_ref().map(|x| x.get_ref().clone());
    Some(HealthSpec {
        kind,
        interval,
        timeout,
        rise,
        fall,
        ports,
        command: s(&hf.command),
        calling_ae: s(&hf.calling_ae),
        called_ae: s(&hf.called_ae),
        method: s(&hf.method),
        path: s(&hf.path),
        expect_status: hf.expect_status.as_ref().map(|v| *v.get_ref()),
        expect_body: s(&hf.expect_body),
        message: s(&hf.message),
    })
}
