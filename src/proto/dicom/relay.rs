//! The byte relay after the A-ASSOCIATE-AC: P-DATA-TF, A-RELEASE and A-ABORT PDUs (PS3.8
//! §9.3.5–§9.3.8) pass both ways untouched and unparsed, counted per direction.
//!
//! DICOM has no half-closed transport: a transport close ends the association (PS3.8 §9.2,
//! state table events 17 "transport connection closed"). So unlike the plain TCP relay, when one
//! side closes, its FIN is forwarded and the other side gets a bounded grace (the ARTIM
//! interval, PS3.8 §9.1.5: what an acceptor waits for the requestor's close after A-RELEASE-RP)
//! to finish and close too; then both sockets are closed. An error on either leg closes both.
//! The idle limit applies only while nothing moves: bytes in either direction keep both legs
//! alive, so a long C-STORE never turns into an abort.
//! The pumps are the shared ones of [`crate::relay`] (which also keep system calls per
//! association down); this module adds only the close grace.

use crate::error::{GatewayError, Side};
use crate::relay::{pump, Idle, Traffic, Transfer};
use crate::timer::Timer;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How the relay ended.
#[derive(Debug)]
pub struct Ended {
    pub transfer: Transfer,
    /// `Ok` for a close by either side (the other followed or was closed after the grace).
    pub result: Result<Closer, GatewayError>,
}

/// Which side closed the association's transport first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closer {
    Client,
    Server,
}

impl Closer {
    pub fn as_str(self) -> &'static str {
        match self {
            Closer::Client => "client",
            Closer::Server => "server",
        }
    }
}

/// Relays until one side closes (plus the grace for the other), an error, or the idle limit
/// (both on the association's `timer`).
pub async fn relay(
    client: &TcpStream,
    server: &TcpStream,
    idle: Idle,
    grace: Duration,
    traffic: &Traffic,
    timer: &mut Timer<'_>,
) -> Ended {
    let epoch = Instant::now();
    let last = AtomicU64::new(0);
    let (up_n, down_n) = (AtomicU64::new(0), AtomicU64::new(0));
    let up_counters = [&traffic.up, &up_n];
    let down_counters = [&traffic.down, &down_n];
    let one_ended = AtomicBool::new(false);
    let up = pump(
        client,
        server,
        Side::Client,
        &last,
        epoch,
        &up_counters,
        &one_ended,
    );
    let down = pump(
        server,
        client,
        Side::Server,
        &last,
        epoch,
        &down_counters,
        &one_ended,
    );
    tokio::pin!(up, down);
    let (limit, side) = if idle.client <= idle.server {
        (idle.client, Side::Client)
    } else {
        (idle.server, Side::Server)
    };
    let first = tokio::select! {
        biased;
        r = &mut up => r.map(|_| Closer::Client),
        r = &mut down => r.map(|_| Closer::Server),
        _ = timer.idle(&last, epoch, limit) => Err(GatewayError::Idle { side, after: limit }),
    };
    let result = match first {
        Ok(closer) => {
            // The closer's FIN was forwarded; the other side may still send what it has (an
            // A-RELEASE-RP, an A-ABORT) and close within the grace.
            let rest = match closer {
                Closer::Client => timer.within(grace, down.as_mut()).await,
                Closer::Server => timer.within(grace, up.as_mut()).await,
            };
            match rest {
                Some(Ok(_)) => Ok(closer),
                Some(Err(e)) => Err(e),
                None => {
                    tracing::debug!(
                        closed_first = closer.as_str(),
                        ?grace,
                        "other side did not close within the grace; closing it"
                    );
                    Ok(closer)
                }
            }
        }
        Err(e) => Err(e),
    };
    let transfer = Transfer {
        up: up_n.load(Ordering::Relaxed),
        down: down_n.load(Ordering::Relaxed),
    };
    Ended { transfer, result }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::test_pair as pair;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// [`relay`] on a timer first armed for 10 ms, earlier than every limit of these tests (a
    /// real association arms it for its smallest limit): the waits move it as they need.
    async fn run(
        client: &TcpStream,
        server: &TcpStream,
        idle: Idle,
        grace: Duration,
        traffic: &Traffic,
    ) -> Ended {
        let sleep = std::pin::pin!(tokio::time::sleep(Duration::from_millis(10)));
        relay(client, server, idle, grace, traffic, &mut Timer::new(sleep)).await
    }

    const LONG: Idle = Idle {
        client: Duration::from_secs(60),
        server: Duration::from_secs(60),
    };

    #[tokio::test]
    async fn server_close_closes_a_silent_client_after_the_grace() {
        let (mut cli, cli_proxy) = pair().await;
        let (srv_proxy, mut srv) = pair().await;
        let t = Traffic::default();
        let h = tokio::spawn(async move {
            run(&cli_proxy, &srv_proxy, LONG, Duration::from_millis(200), &t).await
        });
        // An A-ABORT, then the server closes; the client reads it but never closes by itself.
        srv.write_all(&[7, 0, 0, 0, 0, 4, 0, 0, 2, 0])
            .await
            .unwrap();
        drop(srv);
        let mut got = Vec::new();
        cli.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, [7, 0, 0, 0, 0, 4, 0, 0, 2, 0]);
        // The plain TCP relay would wait for the client's FIN (up to the idle limit).
        let ended = tokio::time::timeout(Duration::from_secs(5), h)
            .await
            .expect("relay still running")
            .unwrap();
        drop(cli);
        assert_eq!(ended.result.unwrap(), Closer::Server);
        assert_eq!(ended.transfer, Transfer { up: 0, down: 10 });
    }

    #[tokio::test]
    async fn client_close_after_release_lets_the_server_answer() {
        let (mut cli, cli_proxy) = pair().await;
        let (srv_proxy, mut srv) = pair().await;
        let t = Traffic::default();
        let h = tokio::spawn(async move {
            run(&cli_proxy, &srv_proxy, LONG, Duration::from_secs(5), &t).await
        });
        cli.write_all(b"rq").await.unwrap();
        cli.shutdown().await.unwrap();
        let mut got = Vec::new();
        srv.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"rq");
        srv.write_all(b"late").await.unwrap();
        drop(srv);
        let mut back = Vec::new();
        cli.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"late");
        let ended = h.await.unwrap();
        assert_eq!(ended.result.unwrap(), Closer::Client);
        assert_eq!(ended.transfer, Transfer { up: 2, down: 4 });
    }

    #[tokio::test]
    async fn one_way_traffic_keeps_both_legs_alive() {
        // A long C-STORE: only the client sends, for three times the idle limit.
        let (mut cli, cli_proxy) = pair().await;
        let (srv_proxy, mut srv) = pair().await;
        let idle = Idle {
            client: Duration::from_secs(1),
            server: Duration::from_secs(1),
        };
        let h = tokio::spawn(async move {
            let t = Traffic::default();
            run(&cli_proxy, &srv_proxy, idle, Duration::from_secs(1), &t).await
        });
        for _ in 0..30 {
            cli.write_all(b"x").await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut got = [0u8; 30];
        srv.read_exact(&mut got).await.unwrap();
        assert!(!h.is_finished(), "relay ended while data flowed");
        drop(cli);
        let ended = tokio::time::timeout(Duration::from_secs(5), h)
            .await
            .expect("relay ended")
            .unwrap();
        assert_eq!(ended.transfer.up, 30);
        assert_eq!(ended.result.unwrap(), Closer::Client);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_limit_applies_only_without_traffic() {
        let (_cli, cli_proxy) = pair().await;
        let (srv_proxy, _srv) = pair().await;
        let idle = Idle {
            client: Duration::from_secs(60),
            server: Duration::from_secs(3600),
        };
        let e = run(
            &cli_proxy,
            &srv_proxy,
            idle,
            Duration::from_secs(1),
            &Traffic::default(),
        )
        .await;
        assert!(
            matches!(
                e.result,
                Err(GatewayError::Idle {
                    side: Side::Client,
                    ..
                })
            ),
            "{e:?}"
        );
    }
}
