//! `triage status` and `triage server`: the admin API from the command line. `status` prints
//! the overview as aligned tables (services, then servers), like the appliance's overview.

use super::client::{join, request, Response};
use super::model::{ServerStatus, StateChanged, Status};
use hyper::Method;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Fetches the status and renders it; errors are one printable line.
pub async fn status(admin: &str, token: Option<&str>) -> Result<String, String> {
    let url = join(admin, "/api/v1/status");
    let r = request(Method::GET, &url, token, None, TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    let r = ok(r)?;
    let st: Status =
        serde_json::from_slice(&r.body).map_err(|e| format!("{url}: unexpected answer: {e}"))?;
    Ok(render(&st))
}

/// Changes a server's state; answers with a one-line summary.
pub async fn set_state(
    admin: &str,
    token: Option<&str>,
    pool: &str,
    server: &str,
    state: &str,
) -> Result<String, String> {
    let url = join(
        admin,
        &format!(
            "/api/v1/pools/{}/servers/{}/state",
            encode(pool),
            encode(server)
        ),
    );
    let body = serde_json::json!({ "state": state });
    let r = request(Method::PUT, &url, token, Some(&body), TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    let r = ok(r)?;
    let c: StateChanged =
        serde_json::from_slice(&r.body).map_err(|e| format!("{url}: unexpected answer: {e}"))?;
    Ok(format!(
        "{}/{}: {} -> {} (health {}, {} active)",
        c.pool,
        c.server.name,
        c.previous,
        c.server.state,
        if c.server.healthy { "UP" } else { "DOWN" },
        c.server.active
    ))
}

/// Passes a 2xx answer; turns any other into the API's own error text.
fn ok(r: Response) -> Result<Response, String> {
    if (200..300).contains(&r.status) {
        return Ok(r);
    }
    let detail = match r.json() {
        Ok(v) => {
            let mut parts: Vec<String> = Vec::new();
            for k in ["error", "detail"] {
                if let Some(s) = v.get(k).and_then(|s| s.as_str()) {
                    parts.push(s.to_string());
                }
            }
            if let Some(errs) = v.get("errors").and_then(|e| e.as_array()) {
                parts.extend(errs.iter().filter_map(|e| e.as_str()).map(String::from));
            }
            parts.join(": ")
        }
        Err(_) => r.text(),
    };
    Err(format!("HTTP {}: {}", r.status, detail.trim()))
}

/// Percent-encodes a path segment.
fn encode(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            o.push(char::from(b));
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// The overview as two aligned tables.
pub fn render(st: &Status) -> String {
    let services: Vec<Vec<String>> = st
        .services
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.protocol.clone(),
                s.listen.join(","),
                s.pool.clone(),
                s.connections.to_string(),
                s.connections_total.to_string(),
            ]
        })
        .collect();
    let mut servers: Vec<Vec<String>> = Vec::new();
    for p in &st.pools {
        for s in &p.servers {
            servers.push(server_row(&p.name, s, false));
        }
        if let Some(f) = &p.fallback {
            servers.push(server_row(&p.name, f, true));
        }
    }
    let mut out = table(
        &["SERVICE", "PROTOCOL", "LISTEN", "POOL", "ACTIVE", "TOTAL"],
        &services,
        &[4, 5],
    );
    out.push('\n');
    out.push_str(&table(
        &[
            "POOL",
            "SERVER",
            "ADDRESS",
            "STATE",
            "HEALTH",
            "WEIGHT",
            "ACTIVE",
            "TOTAL",
            "SINCE FLIP",
            "LAST CHECK",
        ],
        &servers,
        &[5, 6, 7],
    ));
    out
}

fn server_row(pool: &str, s: &ServerStatus, fallback: bool) -> Vec<String> {
    let (name, state, health, flip) = if fallback {
        ("(fallback)".to_string(), "-".into(), "-".into(), "-".into())
    } else {
        let name = if s.backup {
            format!("{} (backup)", s.name)
        } else {
            s.name.clone()
        };
        (
            name,
            s.state.clone(),
            if s.healthy { "UP" } else { "DOWN" }.to_string(),
            super::page::duration(s.since_flip_s),
        )
    };
    let check = match (&s.last_check, fallback) {
        (_, true) => "-".to_string(),
        (None, _) => "not checked yet".to_string(),
        (Some(c), _) => format!(
            "{}: {} ({} ms, {} ago)",
            if c.ok { "ok" } else { "FAILED" },
            c.detail,
            c.rtt_ms,
            super::page::duration(c.age_s)
        ),
    };
    vec![
        pool.to_string(),
        name,
        s.address.clone(),
        state,
        health,
        s.weight.to_string(),
        s.active.to_string(),
        s.total.to_string(),
        flip,
        check,
    ]
}

/// Columns separated by two spaces; `right` columns right-aligned; the last one unpadded.
pub fn table(headers: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let mut width: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = width.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut l = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, c) in cells.iter().enumerate() {
            let w = width.get(i).copied().unwrap_or(0);
            let pad = " ".repeat(w.saturating_sub(c.chars().count()));
            if i > 0 {
                l.push_str("  ");
            }
            if right.contains(&i) {
                l.push_str(&pad);
                l.push_str(c);
            } else {
                l.push_str(c);
                if i != last {
                    l.push_str(&pad);
                }
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_table() {
        let t = table(
            &["NAME", "N"],
            &[
                vec!["a".into(), "10".into()],
                vec!["long".into(), "2".into()],
            ],
            &[1],
        );
        assert_eq!(t, "NAME   N\na     10\nlong   2\n");
    }

    #[test]
    fn encodes_segments() {
        assert_eq!(encode("pacs 1/x"), "pacs%201%2Fx");
    }
}
