//! One tokio timer for the successive deadlines of one connection: a DICOM association waits
//! for its request (ARTIM), then for the server's connect, its answer, the idle limit while
//! relaying and the close grace, one after the other, never two at once. A `tokio::time::
//! timeout` per wait costs a timer-wheel insert and removal each (four per association); here
//! the one timer is armed at the connection's earliest possible deadline and moved only when it
//! fires before the deadline being waited for (once per limit of a long association), or when
//! a wait wants an earlier deadline than the armed one.
//!
//! The `Sleep` lives in the connection's future (pinned there by the caller: no allocation);
//! [`Timer`] borrows it. `proto::xds::deadline` is the same idea for hyper's timers, which
//! need a shared, `'static` timer instead.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// A connection's timer (see the module doc).
pub struct Timer<'a> {
    sleep: Pin<&'a mut Sleep>,
    registered: Registered,
}

impl<'a> Timer<'a> {
    /// A timer on `sleep`, created for the connection's earliest deadline ([`first_sleep`]);
    /// it is registered with the runtime at the first wait that is not over at once.
    pub fn new(sleep: Pin<&'a mut Sleep>) -> Self {
        Timer {
            sleep,
            registered: Registered::default(),
        }
    }

    /// `fut`'s output, or `None` once `limit` has passed since the call (`fut` is polled
    /// first: a future that is ready at once never touches the timer). `fut` is pinned by the
    /// caller, so the wait holds a pointer to it, not a second copy of it.
    pub fn within<'t, F: Future + ?Sized>(
        &'t mut self,
        limit: Duration,
        fut: Pin<&'t mut F>,
    ) -> Within<'t, 'a, F> {
        Within {
            timer: self,
            deadline: after(Instant::now(), limit),
            fut,
        }
    }

    /// Resolves once nothing has moved for `limit`: `last` holds the milliseconds since
    /// `epoch` of the last movement, and is read again each time the timer fires.
    pub fn idle<'t>(
        &'t mut self,
        last: &'t AtomicU64,
        epoch: Instant,
        limit: Duration,
    ) -> impl Future<Output = ()> + use<'t, 'a> {
        poll_fn(move |cx| {
            let moved = Duration::from_millis(last.load(Ordering::Relaxed));
            self.poll_deadline(after(epoch + moved, limit), cx)
        })
    }

    fn poll_deadline(&mut self, deadline: Instant, cx: &mut Context<'_>) -> Poll<()> {
        self.registered
            .poll_deadline(self.sleep.as_mut(), deadline, cx)
    }
}

/// The task waker a `Sleep` holds since it was last polled, while it has not fired (one per
/// `Sleep`). Polling the sleep again from the same task would only register that waker again
/// (two compare-exchanges and a budget check), and a wait is polled on every wake-up of its
/// connection: the connection [`Timer`] and the HTTP legs' idle watch
/// (`httpfwd::io::IdleIo`) skip that poll.
#[derive(Debug, Default)]
pub(crate) struct Registered(Option<Waker>);

impl Registered {
    /// Whether `sleep` needs no poll from `cx`'s task: it holds that task's waker and has not
    /// fired (it wakes the task when it fires).
    #[inline]
    pub(crate) fn holds(&self, sleep: &Sleep, cx: &Context<'_>) -> bool {
        self.0.as_ref().is_some_and(|w| w.will_wake(cx.waker())) && !sleep.is_elapsed()
    }

    /// [`poll_deadline`], without polling `sleep` while it is armed no later than `deadline`
    /// and [`holds`](Self::holds).
    #[inline]
    pub(crate) fn poll_deadline(
        &mut self,
        sleep: Pin<&mut Sleep>,
        deadline: Instant,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let holds = self.holds(&sleep, cx);
        if holds && sleep.deadline() <= deadline {
            return Poll::Pending;
        }
        let r = poll_deadline(sleep, deadline, cx);
        match r {
            Poll::Pending if !holds => self.0 = Some(cx.waker().clone()),
            Poll::Pending => {}
            Poll::Ready(()) => self.0 = None,
        }
        r
    }
}

/// Ready once `deadline` has passed, with `sleep` armed no later than it: moved back if it is
/// armed later, moved on if it fires at an earlier deadline (one no longer waited for). The
/// one mechanism of [`Timer`] and the HTTP legs' idle watch (both through [`Registered`]) and
/// of `proto::xds::deadline`'s shared timer.
pub(crate) fn poll_deadline(
    mut sleep: Pin<&mut Sleep>,
    deadline: Instant,
    cx: &mut Context<'_>,
) -> Poll<()> {
    if sleep.deadline() > deadline {
        sleep.as_mut().reset(deadline);
    }
    loop {
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if Instant::now() >= deadline {
            return Poll::Ready(());
        }
        sleep.as_mut().reset(deadline);
    }
}

/// The wait of [`Timer::within`].
pub struct Within<'t, 'a, F: ?Sized> {
    timer: &'t mut Timer<'a>,
    deadline: Instant,
    fut: Pin<&'t mut F>,
}

impl<F: Future + ?Sized> Future for Within<'_, '_, F> {
    type Output = Option<F::Output>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Every field is a reference or a copy: the wait itself is Unpin.
        let this = self.get_mut();
        if let Poll::Ready(v) = this.fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        this.timer.poll_deadline(this.deadline, cx).map(|()| None)
    }
}

/// `now + limit`, or a year on if that overflows (`Duration::MAX` means "no limit").
pub(crate) fn after(now: Instant, limit: Duration) -> Instant {
    now.checked_add(limit)
        .unwrap_or_else(|| now + Duration::from_secs(86400 * 365))
}

/// The sleep for the [`Timer`] of a connection starting `now` (for the caller to pin): armed
/// for the earliest deadline the connection may wait for, `now` plus the smallest of `limits`
/// (every later deadline then keeps the timer where it is).
pub fn first_sleep(now: Instant, limits: &[Duration]) -> Sleep {
    tokio::time::sleep_until(first_deadline(now, limits))
}

fn first_deadline(now: Instant, limits: &[Duration]) -> Instant {
    let first = limits.iter().copied().min().unwrap_or(Duration::MAX);
    after(now, first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_ready_future_wins_and_a_pending_one_times_out() {
        let start = Instant::now();
        let sleep = std::pin::pin!(first_sleep(
            start,
            &[Duration::from_secs(4), Duration::from_secs(30)]
        ));
        let mut t = Timer::new(sleep);
        let ready = std::pin::pin!(async { 7 });
        assert_eq!(t.within(Duration::from_secs(1), ready).await, Some(7));
        // A later deadline than the armed one: the timer fires at 4 s, is moved, and the
        // wait ends at 30 s, not before.
        let mut never = std::pin::pin!(std::future::pending::<()>());
        let r = t.within(Duration::from_secs(30), never.as_mut()).await;
        assert_eq!(r, None);
        assert_eq!(Instant::now() - start, Duration::from_secs(30));
        // An earlier deadline than the armed one moves the timer back.
        let before = Instant::now();
        let r = t.within(Duration::from_millis(10), never).await;
        assert_eq!(r, None);
        assert_eq!(Instant::now() - before, Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_future_finishing_before_the_deadline_is_not_cut() {
        let sleep = std::pin::pin!(tokio::time::sleep(Duration::from_secs(1)));
        let mut t = Timer::new(sleep);
        let slow = std::pin::pin!(async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            "done"
        });
        assert_eq!(t.within(Duration::from_secs(5), slow).await, Some("done"));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_follows_the_last_movement() {
        let epoch = Instant::now();
        let last = AtomicU64::new(0);
        let sleep = std::pin::pin!(tokio::time::sleep(Duration::from_secs(1)));
        let mut t = Timer::new(sleep);
        let limit = Duration::from_secs(10);
        let mover = async {
            for s in [4u64, 8, 12] {
                tokio::time::sleep_until(epoch + Duration::from_secs(s)).await;
                last.store(s * 1000, Ordering::Relaxed);
            }
            std::future::pending::<()>().await
        };
        tokio::select! {
            _ = t.idle(&last, epoch, limit) => {}
            _ = mover => unreachable!(),
        }
        // Last movement at 12 s, then 10 s without any.
        assert_eq!(Instant::now() - epoch, Duration::from_secs(22));
    }

    #[test]
    fn first_deadline_is_the_smallest_limit_and_survives_overflow() {
        let now = Instant::now();
        let l = [Duration::from_secs(30), Duration::from_secs(4)];
        assert_eq!(first_deadline(now, &l), now + Duration::from_secs(4));
        assert!(first_deadline(now, &[Duration::MAX]) > now);
        assert!(first_deadline(now, &[]) > now);
    }
}
