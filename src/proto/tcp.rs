//! Protocol `tcp`: pick a server (with redispatch on connect failure), then relay bytes.

use super::{Conn, Handler};
use crate::health::BoxFuture;
use crate::pool::PickKey;
use crate::timer::{self, Timer};
use crate::{relay, upstream};
use std::time::Instant;

pub struct TcpHandler;

impl Handler for TcpHandler {
    fn handle(&self, conn: Conn) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let svc = conn.service.clone();
            let key = PickKey::new(conn.peer, conn.local);
            let opts = svc.connect_opts(conn.peer, conn.local);
            let Some(pool) = &svc.pool else { return };
            // One timer for the connect timeout and the idle limit (see crate::timer).
            let idle = svc.idle();
            let sleep = std::pin::pin!(timer::first_sleep(
                tokio::time::Instant::now(),
                &[opts.timeout, idle.client, idle.server],
            ));
            let mut timer = Timer::new(sleep);
            let (server, lease) = match upstream::connect(pool, key, &opts, &mut timer).await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, side = e.side().as_str(), "no server could take the connection; closing client");
                    return;
                }
            };
            let start = Instant::now();
            let name = lease.server().name();
            let r = tokio::select! {
                biased;
                r = relay::relay(&conn.stream, &server, idle, &svc.stats.traffic, &mut timer) => r,
                _ = crate::cancel::Cancelled::new(&lease.server().retired) => {
                    tracing::info!(server = %name, "server removed by reload and drain time is over; closing");
                    return;
                }
            };
            let ms = start.elapsed().as_millis() as u64;
            match r {
                Ok(t) => {
                    tracing::debug!(server = %name, up = t.up, down = t.down, ms, "connection closed")
                }
                Err(e) => {
                    tracing::debug!(server = %name, error = %e, side = e.side().as_str(), ms, "connection ended")
                }
            }
        })
    }
}
