//! A watch on a [`CancellationToken`] for futures polled on every wake-up of a busy task
//! (each connection's task polls one after the connection's own future). tokio-util's
//! `cancelled()` future takes the token's mutex and its notifier's lock on every poll; this one
//! polls it once to register and afterwards only when the token has woken it. A poll that
//! finds neither a wake-up nor a new task waker costs two plain loads and a pointer compare:
//! no atomic read-modify-write (the task's waker is registered again only when it changed;
//! `AtomicWaker::register` is two compare-exchanges, and a connection's task polls its two
//! watches on every wake-up of the connection).

use atomic_waker::AtomicWaker;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

/// Set by the token's wake-up; passes it on to the task that polls [`Cancelled`].
#[derive(Default)]
struct Flag {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

pin_project_lite::pin_project! {
    /// Ready once the token is cancelled.
    pub struct Cancelled<'a> {
        #[pin]
        inner: WaitForCancellationFuture<'a>,
        flag: Arc<Flag>,
        waker: Waker,
        // The task waker last registered in `flag.task`; none before the first poll.
        task: Option<Waker>,
    }
}

impl<'a> Cancelled<'a> {
    pub fn new(token: &'a CancellationToken) -> Self {
        let flag = Arc::new(Flag::default());
        Self {
            inner: token.cancelled(),
            waker: Waker::from(flag.clone()),
            flag,
            task: None,
        }
    }
}

impl Future for Cancelled<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let first = this.task.is_none();
        // First the task to wake, then the flag: a wake-up in between is not lost.
        if !this.task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            this.flag.task.register(cx.waker());
            *this.task = Some(cx.waker().clone());
        }
        // After the first poll (which registers with the token) only the token's wake-up
        // needs the token's future polled.
        let woken = this.flag.woken.load(Ordering::Acquire)
            && this.flag.woken.swap(false, Ordering::AcqRel);
        if !first && !woken {
            return Poll::Pending;
        }
        this.inner.poll(&mut Context::from_waker(this.waker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn ready_once_cancelled_and_not_before() {
        let token = CancellationToken::new();
        let mut c = std::pin::pin!(Cancelled::new(&token));
        // Polled often without a cancel: stays pending.
        for _ in 0..3 {
            assert!(tokio::time::timeout(Duration::from_millis(20), c.as_mut())
                .await
                .is_err());
        }
        let t2 = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            t2.cancel();
        });
        // The cancel from another task wakes this one.
        c.await;
        assert!(token.is_cancelled());
    }

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Count(std::sync::atomic::AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_cancel_wakes_the_waker_of_the_last_poll() {
        let token = CancellationToken::new();
        let mut c = std::pin::pin!(Cancelled::new(&token));
        let (first, second) = (Arc::new(Count::default()), Arc::new(Count::default()));
        let (w1, w2) = (Waker::from(first.clone()), Waker::from(second.clone()));
        assert!(c.as_mut().poll(&mut Context::from_waker(&w1)).is_pending());
        assert!(c.as_mut().poll(&mut Context::from_waker(&w1)).is_pending());
        // Polled from elsewhere now (another task's waker): that one must hear the cancel.
        assert!(c.as_mut().poll(&mut Context::from_waker(&w2)).is_pending());
        token.cancel();
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert!(c.as_mut().poll(&mut Context::from_waker(&w2)).is_ready());
    }

    #[tokio::test]
    async fn an_already_cancelled_token_is_ready_at_once() {
        let token = CancellationToken::new();
        token.cancel();
        Cancelled::new(&token).await;
    }

    #[tokio::test]
    async fn a_parent_cancel_reaches_a_child_watch() {
        let parent = CancellationToken::new();
        let child = parent.child_token();
        let mut c = std::pin::pin!(Cancelled::new(&child));
        assert!(tokio::time::timeout(Duration::from_millis(20), c.as_mut())
            .await
            .is_err());
        parent.cancel();
        c.await;
    }
}
