//! Validation of the file model into [`Config`]: names unique, references resolved, addresses
//! parsed, values in range, features supported by this build. Every problem is collected (not
//! just the first) with the span of the offending value.

use super::file::*;
use super::validate_pool::validate_pool;
use super::*;
use std::collections::{HashMap, HashSet};
use std::net::ToSocketAddrs;

/// Collects diagnostics while validating.
pub(super) struct Ctx {
    pub diags: Vec<Diagnostic>,
}

impl Ctx {
    pub fn err(&mut self, span: std::ops::Range<usize>, msg: impl Into<String>) {
        self.diags.push(Diagnostic::at(span, msg));
    }
}

pub(super) fn parse_and_validate(name: &str, text: &str) -> Result<Config, ConfigErrors> {
    let fail = |diags| ConfigErrors {
        file: name.to_string(),
        text: text.to_string(),
        diags,
    };
    let file: FileConfig = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            let msg = e.message().trim().to_string();
            let d = match e.span() {
                Some(s) => Diagnostic::at(s, msg),
                None => Diagnostic::global(msg),
            };
            return Err(fail(vec![d]));
        }
    };
    let mut cx = Ctx { diags: Vec::new() };
    let cfg = validate(&mut cx, name, file);
    if cx.diags.is_empty() {
        Ok(cfg)
    } else {
        cx.diags
            .sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
        Err(fail(cx.diags))
    }
}

fn validate(cx: &mut Ctx, name: &str, f: FileConfig) -> Config {
    let d = Defaults::default();
    let defaults = Defaults {
        connect_timeout: f
            .defaults
            .connect_timeout
            .map_or(d.connect_timeout, |x| x.0),
        client_timeout: f.defaults.client_timeout.map_or(d.client_timeout, |x| x.0),
        server_timeout: f.defaults.server_timeout.map_or(d.server_timeout, |x| x.0),
        drain_timeout: f.defaults.drain_timeout.map_or(d.drain_timeout, |x| x.0),
        max_connections: positive(cx, f.defaults.max_connections.as_ref(), "max_connections")
            .unwrap_or(d.max_connections),
        retries: f
            .defaults
            .retries
            .as_ref()
            .map_or(d.retries, |r| *r.get_ref()),
    };
    let mut listen_seen: ListenSeen = HashMap::new();
    let admin = f
        .admin
        .as_ref()
        .and_then(|a| validate_admin(cx, a, &mut listen_seen));

    let pool_names: HashSet<&str> = f.pools.iter().map(|p| p.name.get_ref().as_str()).collect();
    let mut services = Vec::new();
    let mut seen = HashSet::new();
    if f.services.is_empty() {
        cx.diags.push(Diagnostic::global(
            "no [[service]] is defined: nothing to listen on",
        ));
    }
    for s in &f.services {
        if !seen.insert(s.name.get_ref().clone()) {
            cx.err(
                s.name.span(),
                format!("duplicate service name {:?}", s.name.get_ref()),
            );
        }
        if let Some(svc) = validate_service(cx, s, &defaults, &pool_names, &mut listen_seen) {
            services.push(svc);
        }
    }
    let mut pools = Vec::new();
    let mut seen = HashSet::new();
    for p in &f.pools {
        if !seen.insert(p.name.get_ref().clone()) {
            cx.err(
                p.name.span(),
                format!("duplicate pool name {:?}", p.name.get_ref()),
            );
        }
        let users: Vec<&ServiceSpec> = services
            .iter()
            .filter(|s| {
                s.pool == *p.name.get_ref() || s.routes.iter().any(|r| r.pool == *p.name.get_ref())
            })
            .collect();
        check_http_health(cx, p);
        if let Some(pool) = validate_pool(cx, p, &users) {
            pools.push(pool);
        }
    }
    let simulators = validate_simulators(cx, &f.simulators, &mut listen_seen);
    Config {
        source: name.to_string(),
        admin,
        defaults,
        services,
        pools,
        simulators,
    }
}

/// Health kind `http`: the method is HEAD or GET, and a body can only be expected from a GET.
fn check_http_health(cx: &mut Ctx, p: &PoolFile) {
    let Some(h) = &p.health else { return };
    let h = h.get_ref();
    if *h.kind.get_ref() != HealthKind::Http {
        return;
    }
    let method = h
        .method
        .as_ref()
        .map(|m| (m.get_ref().to_ascii_uppercase(), m.span()));
    if let Some((m, span)) = &method {
        if m != "GET" && m != "HEAD" {
            cx.err(
                span.clone(),
                format!("health method {m:?} is not supported: HEAD or GET"),
            );
        }
    }
    if let (Some((m, _)), Some(b)) = (&method, &h.expect_body) {
        if m == "HEAD" {
            cx.err(
                b.span(),
                "expect_body needs method = \"GET\" (a HEAD response has no body)",
            );
        }
    }
}

fn positive(cx: &mut Ctx, v: Option<&Sp<u32>>, what: &str) -> Option<u32> {
    let v = v?;
    if *v.get_ref() == 0 {
        cx.err(v.span(), format!("{what} must be at least 1"));
        return None;
    }
    Some(*v.get_ref())
}

/// Parses a listen address: an IP literal with a port (`0.0.0.0:104`, `[::1]:2575`).
pub(super) fn listen_addr(cx: &mut Ctx, s: &Sp<String>) -> Option<SocketAddr> {
    match s.get_ref().parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            cx.err(
                s.span(),
                format!(
                    "invalid listen address {:?}: expected IP:PORT, e.g. \"0.0.0.0:104\"",
                    s.get_ref()
                ),
            );
            None
        }
    }
}

/// Parses a server address: `IP:PORT`, `IP` (port 0), `host:port` (resolved once, now).
pub(super) fn server_addr(cx: &mut Ctx, s: &Sp<String>) -> Option<SocketAddr> {
    let t = s.get_ref().trim();
    if let Ok(a) = t.parse::<SocketAddr>() {
        return Some(a);
    }
    if let Ok(ip) = t
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    {
        return Some(SocketAddr::new(ip, 0));
    }
    let with_port = if t
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        t.to_string()
    } else {
        format!("{t}:0")
    };
    match with_port.to_socket_addrs().map(|mut i| i.next()) {
        Ok(Some(a)) => Some(a),
        _ => {
            cx.err(
                s.span(),
                format!(
                    "invalid server address {:?}: expected IP[:PORT] or a resolvable HOST[:PORT]",
                    s.get_ref()
                ),
            );
            None
        }
    }
}

/// Listen addresses in use, per transport (`"tcp"` or `"udp"`): a TCP and a UDP service may
/// share an address (e.g. NetBIOS 137), two of the same transport may not.
type ListenSeen = HashMap<(&'static str, SocketAddr), String>;

fn note_listen(
    cx: &mut Ctx,
    seen: &mut ListenSeen,
    a: SocketAddr,
    span: std::ops::Range<usize>,
    owner: &str,
) {
    note_listen_on(cx, seen, "tcp", a, span, owner);
}

fn note_listen_on(
    cx: &mut Ctx,
    seen: &mut ListenSeen,
    transport: &'static str,
    a: SocketAddr,
    span: std::ops::Range<usize>,
    owner: &str,
) {
    if a.port() != 0 {
        if let Some(prev) = seen.get(&(transport, a)) {
            cx.err(
                span,
                format!("listen address {a} ({transport}) is already used by {prev}"),
            );
            return;
        }
        seen.insert((transport, a), owner.to_string());
    }
}

fn validate_admin(cx: &mut Ctx, a: &AdminFile, seen: &mut ListenSeen) -> Option<AdminSpec> {
    let listen = match &a.listen {
        Some(l) => {
            let addr = listen_addr(cx, l)?;
            note_listen(cx, seen, addr, l.span(), "[admin]");
            if !addr.ip().is_loopback() && a.token.is_none() && !a.insecure {
                cx.err(l.span(), format!("admin listen {addr} is not loopback: set [admin] token (or insecure = true to allow an unauthenticated admin API)"));
            }
            addr
        }
        None => SocketAddr::from(([127, 0, 0, 1], 9443)),
    };
    Some(AdminSpec {
        listen,
        token: a.token.clone(),
        insecure: a.insecure,
    })
}

/// A valid AE title: 1..=16 characters of ASCII without backslash or control characters.
pub(super) fn check_ae(cx: &mut Ctx, ae: &Sp<String>, allow_glob: bool) {
    let t = ae.get_ref().trim();
    let ok = !t.is_empty()
        && t.len() <= 16
        && t.chars()
            .all(|c| c.is_ascii() && !c.is_ascii_control() && c != '\\')
        && (allow_glob || !t.contains(['*', '?']));
    if !ok {
        cx.err(ae.span(), format!("invalid AE title {:?}: 1 to 16 ASCII characters, no backslash or control characters", ae.get_ref()));
    }
}

fn validate_service(
    cx: &mut Ctx,
    s: &ServiceFile,
    d: &Defaults,
    pools: &HashSet<&str>,
    seen: &mut ListenSeen,
) -> Option<ServiceSpec> {
    let name = s.name.get_ref().clone();
    let protocol = *s.protocol.get_ref();
    if !crate::proto::is_supported(protocol) {
        cx.err(
            s.protocol.span(),
            format!(
                "protocol {:?} is not yet supported by this build of triage",
                protocol.as_str()
            ),
        );
    }
    if s.listen.get_ref().is_empty() {
        cx.err(
            s.listen.span(),
            format!("service {name:?} has no listen address"),
        );
    }
    let mut listen = Vec::new();
    for l in s.listen.get_ref() {
        if let Some(a) = listen_addr(cx, l) {
            let transport = if protocol == Protocol::Udp {
                "udp"
            } else {
                "tcp"
            };
            note_listen_on(
                cx,
                seen,
                transport,
                a,
                l.span(),
                &format!("service {name:?}"),
            );
            listen.push(a);
        }
    }
    let pool_ref = |cx: &mut Ctx, p: &Sp<String>| {
        if !pools.contains(p.get_ref().as_str()) {
            cx.err(
                p.span(),
                format!("unknown pool {:?} (no [[pool]] has that name)", p.get_ref()),
            );
        }
    };
    match &s.pool {
        Some(p) => pool_ref(cx, p),
        None if s.route.is_empty()
            || matches!(protocol, Protocol::Tcp | Protocol::Http | Protocol::Udp) =>
        {
            cx.err(s.name.span(), format!("service {name:?} needs pool = \"...\" (only dicom/mllp/xds services with routes may omit it)"));
        }
        None => {}
    }
    for r in &s.route {
        pool_ref(cx, &r.get_ref().pool);
    }
    if let Some(ae) = &s.ae_title {
        check_ae(cx, ae, false);
        if protocol != Protocol::Dicom {
            cx.err(
                ae.span(),
                "ae_title is only meaningful for protocol \"dicom\"",
            );
        }
    }
    let mut allow = Vec::new();
    for a in s.allow.iter().flatten() {
        let t = a.get_ref().trim();
        let net = t
            .parse::<IpNet>()
            .or_else(|_| t.parse::<std::net::IpAddr>().map(IpNet::from));
        match net {
            Ok(n) => allow.push(n),
            Err(_) => cx.err(
                a.span(),
                format!(
                    "invalid CIDR {t:?} in allow: expected e.g. \"10.0.0.0/8\" or \"192.168.1.7\""
                ),
            ),
        }
    }
    if s.allow.as_ref().is_some_and(|a| a.is_empty()) {
        cx.err(
            s.name.span(),
            format!(
                "service {name:?}: allow = [] would refuse every client; remove it to allow all"
            ),
        );
    }
    let routes = s
        .route
        .iter()
        .map(|r| validate_route(cx, r, protocol))
        .collect();
    Some(ServiceSpec {
        name,
        listen,
        protocol,
        pool: s
            .pool
            .as_ref()
            .map(|p| p.get_ref().clone())
            .unwrap_or_default(),
        ae_title: s.ae_title.as_ref().map(|a| a.get_ref().trim().to_string()),
        proxy_protocol: s.proxy_protocol,
        allow,
        routes,
        connect_timeout: s.connect_timeout.map_or(d.connect_timeout, |x| x.0),
        client_timeout: s.client_timeout.map_or(d.client_timeout, |x| x.0),
        server_timeout: s.server_timeout.map_or(d.server_timeout, |x| x.0),
        max_connections: positive(cx, s.max_connections.as_ref(), "max_connections")
            .unwrap_or(d.max_connections),
        retries: d.retries,
        max_request_bytes: positive(cx, s.max_request_bytes.as_ref(), "max_request_bytes"),
        handshake_timeout: s.handshake_timeout.map(|x| x.0),
        forwarded_for: s.forwarded_for.as_ref().is_some_and(|f| {
            if !matches!(protocol, Protocol::Http | Protocol::Xds) {
                cx.err(
                    f.span(),
                    "forwarded_for is only meaningful for protocols \"http\" and \"xds\"",
                );
            }
            *f.get_ref()
        }),
        preconnect: {
            // Where the pool may depend on the request, or it is answered locally.
            let blocked = if !s.route.is_empty() {
                Some("preconnect needs a service without routes (the pool must not depend on the request)")
            } else if s.ae_title.is_some() {
                Some("preconnect cannot be combined with the service's own ae_title (its requests are answered locally)")
            } else {
                None
            };
            match s.preconnect.as_ref() {
                // Default: on where it may be and nothing would reach the server before the
                // request (a PROXY header is written at connect).
                None => {
                    protocol == Protocol::Dicom
                        && blocked.is_none()
                        && s.proxy_protocol.is_none()
                        && cfg!(target_os = "linux")
                }
                Some(f) => {
                    let on = *f.get_ref();
                    let why = if protocol != Protocol::Dicom {
                        Some("preconnect is only meaningful for protocol \"dicom\"")
                    } else {
                        blocked.filter(|_| on)
                    };
                    if let Some(why) = why {
                        cx.err(f.span(), why);
                    }
                    on
                }
            }
        },
        balance_per: s.balance_per.as_ref().map_or(BalancePer::Request, |b| {
            if protocol != Protocol::Http {
                cx.err(
                    b.span(),
                    "balance_per is only meaningful for protocol \"http\"",
                );
            }
            *b.get_ref()
        }),
    })
}

fn validate_route(cx: &mut Ctx, r: &Sp<RouteFile>, protocol: Protocol) -> RouteSpec {
    let rf = r.get_ref();
    let keys: [(&str, &Option<Sp<String>>, Protocol); 5] = [
        ("called_ae", &rf.called_ae, Protocol::Dicom),
        ("calling_ae", &rf.calling_ae, Protocol::Dicom),
        ("message_type", &rf.message_type, Protocol::Mllp),
        ("sending_facility", &rf.sending_facility, Protocol::Mllp),
        ("action", &rf.action, Protocol::Xds),
    ];
    let mut any = false;
    for (key, val, proto) in keys {
        if let Some(v) = val {
            any = true;
            if proto != protocol {
                cx.err(
                    v.span(),
                    format!(
                        "route key {key} is for protocol {:?}, but this service is {:?}",
                        proto.as_str(),
                        protocol.as_str()
                    ),
                );
            }
            if v.get_ref().trim().is_empty() {
                cx.err(v.span(), format!("route key {key} is empty"));
            }
        }
    }
    if !any {
        cx.err(r.span(), "route has no match key (dicom: called_ae, calling_ae; mllp: message_type, sending_facility; xds: action)");
    }
    let s = |v: &Option<Sp<String>>| v.as_ref().map(|x| x.get_ref().trim().to_string());
    RouteSpec {
        called_ae: s(&rf.called_ae),
        calling_ae: s(&rf.calling_ae),
        message_type: s(&rf.message_type),
        sending_facility: s(&rf.sending_facility),
        action: s(&rf.action),
        pool: rf.pool.get_ref().clone(),
    }
}

fn validate_simulators(
    cx: &mut Ctx,
    sims: &[SimulatorFile],
    seen: &mut ListenSeen,
) -> Vec<SimulatorSpec> {
    let mut out = Vec::new();
    for (i, s) in sims.iter().enumerate() {
        let kind = *s.kind.get_ref();
        if !crate::sim::is_supported(kind) {
            cx.err(
                s.kind.span(),
                format!(
                    "simulator kind {:?} is not yet supported by this build",
                    kind.as_str()
                ),
            );
        }
        let name = s
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-sim-{}", kind.as_str(), i + 1));
        if let Some(a) = listen_addr(cx, &s.listen) {
            note_listen(cx, seen, a, s.listen.span(), &format!("simulator {name:?}"));
            out.push(SimulatorSpec {
                kind,
                listen: a,
                name,
            });
        }
    }
    out
}
