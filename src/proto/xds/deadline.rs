//! The deadlines of one client connection's requests — hyper's request-head timeout and the
//! SOAP-header deadline — on one tokio timer per connection instead of a timer per request
//! and deadline. The timer is armed once and moved only when it fires before the deadline
//! being waited for (at most once per limit), or when a deadline earlier than its own is
//! wanted. A timer per request costs a timer-wheel insert and removal each time (≈0.8 µs per
//! ITI-18 request for the SOAP-header timeout alone in `benches/load_xds.rs`).
//!
//! Both deadlines are waited for in the connection's task (hyper polls the head timeout, and
//! the request's future, from it) and never at the same time: the head is read before the
//! request's body is looked at.

use crate::timer;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

#[derive(Clone, Debug, Default)]
pub struct ConnTimer {
    /// The armed timer (it knows the instant it is armed for), once a wait has armed it.
    armed: Arc<Mutex<Option<Pin<Box<Sleep>>>>>,
}

impl ConnTimer {
    /// Ready once `deadline` has passed ([`crate::timer::poll_deadline`]).
    fn poll_until(&self, deadline: Instant, cx: &mut Context<'_>) -> Poll<()> {
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        let timer = armed.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        timer::poll_deadline(timer.as_mut(), deadline, cx)
    }

    /// `fut`'s output, or `None` once `limit` has passed since the call.
    pub async fn within<F: Future>(&self, limit: Duration, fut: F) -> Option<F::Output> {
        let deadline = timer::after(Instant::now(), limit);
        let mut fut = pin!(fut);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(v));
            }
            self.poll_until(deadline, cx).map(|()| None)
        })
        .await
    }
}

/// hyper's sleep on the connection's timer.
struct ConnSleep {
    timer: ConnTimer,
    deadline: Instant,
}

impl Future for ConnSleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.timer.poll_until(self.deadline, cx)
    }
}

impl hyper::rt::Sleep for ConnSleep {}

impl hyper::rt::Timer for ConnTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let deadline = timer::after(Instant::now(), duration);
        Box::pin(ConnSleep {
            timer: self.clone(),
            deadline,
        })
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(ConnSleep {
            timer: self.clone(),
            deadline: Instant::from_std(deadline),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer;

    const LIMIT: Duration = Duration::from_secs(30);

    #[tokio::test(start_paused = true)]
    async fn a_request_that_never_completes_gets_exactly_the_limit() {
        let t = ConnTimer::default();
        let t0 = Instant::now();
        assert_eq!(t.within(LIMIT, std::future::pending::<()>()).await, None);
        assert_eq!(t0.elapsed(), LIMIT);
    }

    #[tokio::test(start_paused = true)]
    async fn each_request_gets_the_whole_limit_from_its_own_start() {
        let t = ConnTimer::default();
        // The first request arms the timer for t=30 s and completes at t=20 s.
        let first = t
            .within(LIMIT, tokio::time::sleep(Duration::from_secs(20)))
            .await;
        assert_eq!(first, Some(()));
        tokio::time::sleep(Duration::from_secs(5)).await;
        // Started at t=25 s: still running at t=30 s (when the timer fires), done at t=50 s.
        let t1 = Instant::now();
        let second = t
            .within(LIMIT, tokio::time::sleep(Duration::from_secs(25)))
            .await;
        assert_eq!(second, Some(()));
        assert_eq!(t1.elapsed(), Duration::from_secs(25));
        // And one that never completes is cut 30 s after its start, not earlier.
        let t2 = Instant::now();
        assert_eq!(t.within(LIMIT, std::future::pending::<()>()).await, None);
        assert_eq!(t2.elapsed(), LIMIT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_that_fired_while_idle_does_not_cut_the_next_request() {
        let t = ConnTimer::default();
        assert_eq!(t.within(LIMIT, async {}).await, Some(()));
        // Idle past the first deadline: the armed timer has elapsed.
        tokio::time::sleep(Duration::from_secs(100)).await;
        let t0 = Instant::now();
        let r = t
            .within(LIMIT, tokio::time::sleep(Duration::from_secs(10)))
            .await;
        assert_eq!(r, Some(()));
        assert_eq!(t0.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_deadline_after_a_longer_one_is_kept() {
        let t = ConnTimer::default();
        // The SOAP-header wait arms the timer for 30 s; the next head read wants 10 s.
        assert_eq!(t.within(LIMIT, async {}).await, Some(()));
        let t0 = Instant::now();
        t.sleep(Duration::from_secs(10)).await;
        assert_eq!(t0.elapsed(), Duration::from_secs(10));
        let t1 = Instant::now();
        t.sleep_until((t1 + Duration::from_secs(3)).into_std())
            .await;
        assert_eq!(t1.elapsed(), Duration::from_secs(3));
    }
}
