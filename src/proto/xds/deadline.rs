//! The SOAP-header deadline of the requests of one client connection, without a timer per
//! request: one tokio timer per connection, armed for the first request and moved only when it
//! fires before the deadline of the request being read (at most once per `limit`). A
//! per-request `tokio::time::timeout` costs a timer-wheel insert and removal for every request
//! (≈0.8 µs per ITI-18 request in `benches/load_xds.rs`).

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Mutex;
use std::task::Poll;
use std::time::Duration;
use tokio::time::{Instant, Sleep};

#[derive(Debug)]
pub struct HeaderDeadline {
    limit: Duration,
    /// The connection's timer while no request is being read (hyper reads one at a time).
    timer: Mutex<Option<Pin<Box<Sleep>>>>,
}

impl HeaderDeadline {
    pub fn new(limit: Duration) -> Self {
        Self {
            limit,
            timer: Mutex::new(None),
        }
    }

    /// `fut`'s output, or `None` once `limit` has passed since the call.
    pub async fn within<F: Future>(&self, fut: F) -> Option<F::Output> {
        let now = Instant::now();
        let deadline = now
            .checked_add(self.limit)
            .unwrap_or_else(|| now + Duration::from_secs(86400 * 365));
        let taken = self.timer.lock().unwrap_or_else(|e| e.into_inner()).take();
        let mut timer = taken.unwrap_or_else(|| Box::pin(tokio::time::sleep_until(deadline)));
        let mut fut = pin!(fut);
        let out = std::future::poll_fn(|cx| {
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(v));
            }
            loop {
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                // Armed for an earlier request: move it to this one's deadline.
                if Instant::now() >= deadline {
                    return Poll::Ready(None);
                }
                timer.as_mut().reset(deadline);
            }
        })
        .await;
        *self.timer.lock().unwrap_or_else(|e| e.into_inner()) = Some(timer);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_request_that_never_completes_gets_exactly_the_limit() {
        let d = HeaderDeadline::new(Duration::from_secs(30));
        let t0 = Instant::now();
        assert_eq!(d.within(std::future::pending::<()>()).await, None);
        assert_eq!(t0.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn each_request_gets_the_whole_limit_from_its_own_start() {
        let d = HeaderDeadline::new(Duration::from_secs(30));
        // The first request arms the timer for t=30 s and completes at t=20 s.
        let first = d.within(tokio::time::sleep(Duration::from_secs(20))).await;
        assert_eq!(first, Some(()));
        tokio::time::sleep(Duration::from_secs(5)).await;
        // Started at t=25 s: still running at t=30 s (when the timer fires), done at t=50 s.
        let t1 = Instant::now();
        let second = d.within(tokio::time::sleep(Duration::from_secs(25))).await;
        assert_eq!(second, Some(()));
        assert_eq!(t1.elapsed(), Duration::from_secs(25));
        // And one that never completes is cut 30 s after its start, not earlier.
        let t2 = Instant::now();
        assert_eq!(d.within(std::future::pending::<()>()).await, None);
        assert_eq!(t2.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_that_fired_while_idle_does_not_cut_the_next_request() {
        let d = HeaderDeadline::new(Duration::from_secs(30));
        assert_eq!(d.within(async {}).await, Some(()));
        // Idle past the first deadline: the stored timer has elapsed.
        tokio::time::sleep(Duration::from_secs(100)).await;
        let t = Instant::now();
        let r = d.within(tokio::time::sleep(Duration::from_secs(10))).await;
        assert_eq!(r, Some(()));
        assert_eq!(t.elapsed(), Duration::from_secs(10));
    }
}
