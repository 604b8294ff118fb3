//! The System Overview page: server-rendered HTML, a stylesheet and a small plain script, all
//! compiled into the binary (no build step, nothing from a CDN).
//!
//! Without a token the page arrives with its table filled in. With `[admin] token` set the
//! page shell carries no data: the script asks for the token (kept in `localStorage`) and
//! loads the same table from `GET /api/v1/overview` with it. Either way the script then polls
//! `GET /api/v1/status` every 2 s and updates the cells in place, re-fetching the table only
//! when the layout (services, pools, servers) changed. The text formats below (state and
//! health labels, durations, check results) are mirrored in `overview.js`.

use super::model::{PoolStatus, ServerStatus, ServiceStatus, Status};
use super::AdminState;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use std::fmt::Write;

const SCRIPT: &str = include_str!("assets/overview.js");
const STYLE: &str = include_str!("assets/overview.css");
const COLUMNS: usize = 10;

/// `GET /assets/overview.js`
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /assets/overview.css`
pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /`
pub async fn index(State(st): State<AdminState>) -> Response {
    let Some(rt) = st.runtime() else {
        return super::api::gone().into_response();
    };
    let token = rt
        .snapshot()
        .config
        .admin
        .as_ref()
        .is_some_and(|a| a.token.is_some());
    let status = (!token).then(|| Status::of(&rt));
    Html(document(status.as_ref())).into_response()
}

/// `GET /api/v1/overview`: the table alone (behind the token like every API path).
pub async fn fragment(State(st): State<AdminState>) -> Response {
    match st.runtime() {
        Some(rt) => Html(table(&Status::of(&rt))).into_response(),
        None => super::api::gone().into_response(),
    }
}

/// The whole page; `status` is `None` when the data must be fetched with a token.
pub fn document(status: Option<&Status>) -> String {
    let (auth, meta, body) = match status {
        Some(s) => ("open", meta(s), table(s)),
        None => (
            "token",
            String::new(),
            "<p class=\"muted\">Loading…</p>".to_string(),
        ),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>triage · System Overview</title><link rel=\"stylesheet\" href=\"assets/overview.css\"></head>\
<body data-auth=\"{auth}\"><header><h1>System Overview</h1>\
<p class=\"meta\"><span id=\"gw\">{meta}</span> <span id=\"updated\"></span></p></header>\
<form id=\"auth\" hidden><label for=\"token-input\">Admin token</label> \
<input id=\"token-input\" type=\"password\" autocomplete=\"off\" required> \
<button type=\"submit\">Sign in</button> <span id=\"auth-msg\"></span></form>\
<div id=\"msg\" role=\"status\" aria-live=\"polite\"></div>\
<main id=\"overview\">{body}</main>\
<noscript><p>Refresh and the state buttons need JavaScript; this table is the state when the page was loaded.</p></noscript>\
<script src=\"assets/overview.js\"></script></body></html>\n"
    )
}

fn meta(s: &Status) -> String {
    format!(
        "triage {} · config {} · up {}",
        esc(&s.gateway.version),
        esc(&s.gateway.config),
        duration(s.gateway.uptime_s)
    )
}

/// The overview table: each service with the servers of its default pool, then the pools no
/// service uses by default (route targets).
pub fn table(s: &Status) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<table class=\"ov\" data-sig=\"{}\"><caption>Services and their servers</caption>\
<thead><tr><th scope=\"col\">Server</th><th scope=\"col\">Address</th><th scope=\"col\">State</th>\
<th scope=\"col\">Health</th><th scope=\"col\">Last check</th><th scope=\"col\">Since flip</th>\
<th scope=\"col\" class=\"num\">Weight</th><th scope=\"col\" class=\"num\">Active</th>\
<th scope=\"col\" class=\"num\">Total</th><th scope=\"col\">Set state</th></tr></thead>",
        esc(&s.layout_signature()),
    );
    for svc in &s.services {
        service_rows(&mut h, svc, s.pool(&svc.pool));
    }
    for p in s
        .pools
        .iter()
        .filter(|p| !s.services.iter().any(|svc| svc.pool == p.name))
    {
        let _ = write!(
            h,
            "<tbody class=\"pool-only\"><tr class=\"svc-head\"><th colspan=\"{COLUMNS}\" scope=\"rowgroup\">\
Pool <strong>{}</strong> <span class=\"muted\">({}, health {}; reached through routes)</span></th></tr>",
            esc(&p.name),
            esc(&p.balance),
            esc(&p.health)
        );
        server_rows(&mut h, p);
        h.push_str("</tbody>");
    }
    if s.services.is_empty() && s.pools.is_empty() {
        let _ = write!(
            h,
            "<tbody><tr><td colspan=\"{COLUMNS}\">No services configured.</td></tr></tbody>"
        );
    }
    h.push_str("</table>");
    h
}

fn service_rows(h: &mut String, svc: &ServiceStatus, pool: Option<&PoolStatus>) {
    let routes = if svc.route_pools.is_empty() {
        String::new()
    } else {
        format!(
            " <span class=\"muted\">routes also to {}</span>",
            esc(&svc.route_pools.join(", "))
        )
    };
    let pool_info = pool.map_or_else(String::new, |p| {
        format!(
            " <span class=\"muted\">({}, health {})</span>",
            esc(&p.balance),
            esc(&p.health)
        )
    });
    let _ = write!(
        h,
        "<tbody class=\"svc\" data-service=\"{name}\"><tr class=\"svc-head\"><th colspan=\"{COLUMNS}\" scope=\"rowgroup\">\
<span class=\"svc-name\">{name}</span> <span class=\"tag\" data-f=\"protocol\">{proto}</span> \
<span data-f=\"listen\">{listen}</span> → pool <strong>{pool}</strong>{pool_info}{routes}\
<span class=\"svc-conn\"><span data-f=\"connections\">{conn}</span> active · \
<span data-f=\"connections_total\">{total}</span> total</span></th></tr>",
        name = esc(&svc.name),
        proto = esc(&svc.protocol.to_uppercase()),
        listen = esc(&svc.listen.join(", ")),
        pool = esc(&svc.pool),
        conn = svc.connections,
        total = svc.connections_total,
    );
    match pool {
        Some(p) => server_rows(h, p),
        None => {
            let _ = write!(
                h,
                "<tr><td colspan=\"{COLUMNS}\" class=\"muted\">pool not found</td></tr>"
            );
        }
    }
    h.push_str("</tbody>");
}

fn server_rows(h: &mut String, p: &PoolStatus) {
    for s in &p.servers {
        server_row(h, &p.name, s, false);
    }
    if let Some(f) = &p.fallback {
        server_row(h, &p.name, f, true);
    }
    if p.servers.is_empty() && p.fallback.is_none() {
        let _ = write!(
            h,
            "<tr><td colspan=\"{COLUMNS}\" class=\"muted\">no servers</td></tr>"
        );
    }
}

fn server_row(h: &mut String, pool: &str, s: &ServerStatus, fallback: bool) {
    let tag = if fallback {
        " <span class=\"tag\">fallback</span>"
    } else if s.backup {
        " <span class=\"tag\">backup</span>"
    } else {
        ""
    };
    let (state, health, check) = if fallback {
        (
            "<span class=\"muted\" title=\"used when no server is up\">standby</span>".to_string(),
            "<span class=\"muted\" title=\"the fallback is not health-checked\">—</span>"
                .to_string(),
            String::new(),
        )
    } else {
        (
            state_badge(&s.state),
            health_badge(s.healthy),
            check_text(s),
        )
    };
    let _ = write!(
        h,
        "<tr class=\"srv{fb}\" data-pool=\"{pool}\" data-server=\"{name}\" data-state=\"{st}\" data-health=\"{hl}\">\
<th scope=\"row\">{name}{tag}</th><td class=\"addr\">{addr}</td>\
<td data-f=\"state\">{state}</td><td data-f=\"health\">{health}</td><td data-f=\"check\">{check}</td>\
<td data-f=\"flip\">{flip}</td><td data-f=\"weight\" class=\"num\">{weight}</td>\
<td data-f=\"active\" class=\"num\">{active}</td><td data-f=\"total\" class=\"num\">{total}</td><td class=\"act\">",
        fb = if fallback { " fallback" } else { "" },
        pool = esc(pool),
        name = esc(&s.name),
        st = esc(&s.state),
        hl = if s.healthy { "up" } else { "down" },
        addr = esc(&s.address),
        flip = if fallback { String::new() } else { duration(s.since_flip_s) },
        weight = s.weight,
        active = s.active,
        total = s.total,
    );
    if !fallback {
        for (act, label) in [("online", "Online"), ("drain", "Drain"), ("halt", "Halt")] {
            let current = s.state == act;
            let _ = write!(
                h,
                "<button type=\"button\" data-act=\"{act}\" aria-pressed=\"{current}\"{dis} \
title=\"Set {name} to {act}\">{label}</button>",
                dis = if current { " disabled" } else { "" },
                name = esc(&s.name),
            );
        }
    }
    h.push_str("</td></tr>");
}

/// `● Online` / `◐ Drain` / `■ Halt`, with a class for colour.
pub fn state_badge(state: &str) -> String {
    let (icon, label) = match state {
        "online" => ("●", "Online"),
        "drain" => ("◐", "Drain"),
        "halt" => ("■", "Halt"),
        _ => ("?", state),
    };
    format!(
        "<span class=\"badge st-{}\"><span aria-hidden=\"true\">{icon}</span> {}</span>",
        esc(state),
        esc(label)
    )
}

/// `▲ UP` / `▼ DOWN`.
pub fn health_badge(up: bool) -> String {
    if up {
        "<span class=\"badge hl-up\"><span aria-hidden=\"true\">▲</span> UP</span>".into()
    } else {
        "<span class=\"badge hl-down\"><span aria-hidden=\"true\">▼</span> DOWN</span>".into()
    }
}

/// `✓ ok: connected · 0.42 ms · 3s ago`, or `— not checked yet`.
pub fn check_text(s: &ServerStatus) -> String {
    match &s.last_check {
        None => "<span class=\"muted\">— not checked yet</span>".into(),
        Some(c) => format!(
            "<span class=\"{cls}\"><span aria-hidden=\"true\">{icon}</span> {word}:</span> {detail} \
<span class=\"muted\">· {rtt} ms · {age} ago</span>",
            cls = if c.ok { "ck-ok" } else { "ck-fail" },
            icon = if c.ok { "✓" } else { "✗" },
            word = if c.ok { "ok" } else { "failed" },
            detail = esc(&c.detail),
            rtt = c.rtt_ms,
            age = duration(c.age_s),
        ),
    }
}

/// `45s`, `3m 12s`, `2h 5m`, `3d 4h`.
pub fn duration(s: u64) -> String {
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        3600..=86399 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86400, s % 86400 / 3600),
    }
}

/// HTML escaping for text and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_durations() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(192), "3m 12s");
        assert_eq!(duration(7500), "2h 5m");
        assert_eq!(duration(90000), "1d 1h");
    }

    #[test]
    fn empty_status_renders() {
        let html = document(Some(&Status::default()));
        assert!(html.contains("No services configured"));
        assert!(document(None).contains("data-auth=\"token\""));
    }
}
