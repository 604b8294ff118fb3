//! The HL7 harness's own end of the traffic, on the harness's current-thread runtime: two lean
//! MLLP ACK responders (read MSH with `triage_hl7`, answer AA with MSA-2 = MSH-10, HL7 v2.5.1
//! ch. 2 §2.9.2 original mode, §2.14.8 MSA; each counts what it acknowledged) and the senders
//! (each on its own connection, one message in flight, as an MLLP sender waits for the ACK;
//! every ACK's MSA-2 is checked against the message's MSH-10).

use bytes::BytesMut;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use triage_hl7::{AckCode, MllpDecoder, MllpFrame};

/// The message every sender sends (a 256-byte ADT^A01, v2.5.1), with a fresh MSH-10 each time.
const TEMPLATE: &[u8] = include_bytes!("../../fixtures/hl7/adt_a01_v251.hl7");
/// MSH-10 of [`TEMPLATE`], with its field separators.
const TEMPLATE_ID: &[u8] = b"|ADT0001|";

/// One responder: its address and how many messages it acknowledged.
#[derive(Clone, Debug)]
pub struct Responder {
    pub addr: SocketAddr,
    pub acked: Arc<AtomicU64>,
}

impl Responder {
    pub fn count(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }
}

/// Starts one MLLP ACK responder on loopback, on the current runtime.
pub async fn start_responder() -> io::Result<Responder> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let r = Responder {
        addr: l.local_addr()?,
        acked: Arc::new(AtomicU64::new(0)),
    };
    let acked = r.acked.clone();
    tokio::spawn(async move {
        loop {
            match l.accept().await {
                Ok((s, _)) => {
                    let _ = s.set_nodelay(true);
                    tokio::spawn(respond(s, acked.clone()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    });
    Ok(r)
}

/// Acknowledges each message with AA (AR when its MSH is unreadable) until EOF.
async fn respond(mut s: TcpStream, acked: Arc<AtomicU64>) {
    let mut dec = MllpDecoder::new(triage_hl7::DEFAULT_MAX_FRAME);
    let mut buf = BytesMut::with_capacity(8192);
    let mut out = BytesMut::with_capacity(512);
    let mut n = 0u64;
    loop {
        match dec.decode(&mut buf) {
            Ok(Some(item)) => {
                let MllpFrame::Message(p) = item.frame else {
                    continue;
                };
                n += 1;
                let id = format!("R{n}");
                let ack = match triage_hl7::parse_msh(&p) {
                    Ok(msh) => triage_hl7::build_ack(&msh, AckCode::AA, &id, None),
                    Err(e) => triage_hl7::build_nak_without_msh(AckCode::AR, &e.to_string(), &id),
                };
                out.clear();
                triage_hl7::encode(&ack, &mut out);
                if s.write_all(&out).await.is_err() {
                    return;
                }
                acked.fetch_add(1, Ordering::Relaxed);
            }
            Ok(None) => {
                buf.reserve(4096);
                match s.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
            Err(_) => continue,
        }
    }
}

/// Source of unique MSH-10 values over the whole run.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// `n` MLLP-framed ADT^A01 messages with fresh MSH-10s, and those MSH-10s.
fn messages(n: usize) -> Vec<(Vec<u8>, String)> {
    let at = TEMPLATE
        .windows(TEMPLATE_ID.len())
        .position(|w| w == TEMPLATE_ID)
        .expect("the fixture's MSH-10 is ADT0001");
    let (head, tail) = (&TEMPLATE[..=at], &TEMPLATE[at + TEMPLATE_ID.len() - 1..]);
    (0..n)
        .map(|_| {
            let id = format!("LD{:012}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
            let mut payload = Vec::with_capacity(TEMPLATE.len() + 8);
            payload.extend_from_slice(head);
            payload.extend_from_slice(id.as_bytes());
            payload.extend_from_slice(tail);
            let mut framed = BytesMut::with_capacity(payload.len() + 3);
            triage_hl7::encode(&payload, &mut framed);
            (framed.to_vec(), id)
        })
        .collect()
}

/// What one run of senders measured.
#[derive(Debug)]
pub struct Run {
    pub elapsed: Duration,
    pub messages: usize,
    /// ACK round trips (write of the message to the whole ACK read), sorted.
    pub rtt_ns: Vec<u64>,
}

impl Run {
    pub fn per_s(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_us(&self, p: f64) -> f64 {
        if self.rtt_ns.is_empty() {
            return f64::NAN;
        }
        let i = ((self.rtt_ns.len() - 1) as f64 * p).round() as usize;
        self.rtt_ns[i] as f64 / 1000.0
    }
}

/// How one sender ended: its round trips, and its failures (the first one's reason).
struct SenderEnd {
    rtt_ns: Vec<u64>,
    failed: usize,
    first: Option<String>,
}

/// Sends `msgs` one at a time on `s`, each waiting for its ACK.
async fn send_all(mut s: TcpStream, msgs: Vec<(Vec<u8>, String)>) -> SenderEnd {
    let mut end = SenderEnd {
        rtt_ns: Vec::with_capacity(msgs.len()),
        failed: 0,
        first: None,
    };
    let mut dec = MllpDecoder::new(1 << 20);
    let mut buf = BytesMut::with_capacity(8192);
    let total = msgs.len();
    for (i, (framed, id)) in msgs.into_iter().enumerate() {
        let t = Instant::now();
        let ack = async {
            s.write_all(&framed).await?;
            loop {
                match dec.decode(&mut buf) {
                    Ok(Some(item)) => match item.frame {
                        MllpFrame::Message(p) => return Ok(p),
                        _ => continue,
                    },
                    Ok(None) => {}
                    Err(e) => return Err(io::Error::other(e.to_string())),
                }
                buf.reserve(4096);
                if s.read_buf(&mut buf).await? == 0 {
                    return Err(io::Error::other("closed before the ACK"));
                }
            }
        }
        .await;
        let why = match ack {
            Ok(p) => {
                end.rtt_ns.push(t.elapsed().as_nanos() as u64);
                match triage_hl7::parse_ack(&p) {
                    Ok((_, msa)) if msa.control_id == id && msa.code == AckCode::AA => continue,
                    Ok((_, msa)) => format!(
                        "ACK {} for MSA-2 {:?}, sent {id:?}",
                        msa.code, msa.control_id
                    ),
                    Err(e) => format!("unreadable ACK: {e}"),
                }
            }
            Err(e) => {
                // The connection is gone: every message not yet sent fails too.
                end.failed += total - i - 1;
                end.first.get_or_insert(e.to_string());
                end.failed += 1;
                return end;
            }
        };
        end.failed += 1;
        end.first.get_or_insert(why);
    }
    end
}

/// `senders` connections to `addr`, each sending `per_sender` messages one at a time. Fails if
/// any message was not acknowledged by an AA with the right MSA-2.
pub async fn senders(addr: SocketAddr, senders: usize, per_sender: usize) -> io::Result<Run> {
    let mut conns = Vec::with_capacity(senders);
    for _ in 0..senders {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        conns.push((s, messages(per_sender)));
    }
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|(s, m)| tokio::spawn(send_all(s, m)))
        .collect();
    let (mut rtt_ns, mut failed, mut first) = (Vec::with_capacity(senders * per_sender), 0, None);
    for t in tasks {
        let end = t.await.map_err(|e| io::Error::other(e.to_string()))?;
        rtt_ns.extend(end.rtt_ns);
        failed += end.failed;
        if first.is_none() {
            first = end.first;
        }
    }
    let elapsed = start.elapsed();
    if let Some(first) = first {
        return Err(io::Error::other(format!(
            "{failed} of {} messages not acknowledged, first: {first}",
            senders * per_sender
        )));
    }
    rtt_ns.sort_unstable();
    Ok(Run {
        elapsed,
        messages: senders * per_sender,
        rtt_ns,
    })
}
