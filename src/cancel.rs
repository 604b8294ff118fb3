//! A watch on a [`CancellationToken`] for futures polled on every wake-up of a busy task
//! (each connection's task polls one after the connection's own future). tokio-util's
//! `cancelled()` future takes the token's mutex and its notifier's lock on every poll; this one
//! polls it once to register and afterwards only when the token has woken it, so a poll
//! otherwise costs an atomic swap and a waker check.

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
        registered: bool,
    }
}

impl<'a> Cancelled<'a> {
    pub fn new(token: &'a CancellationToken) -> Self {
        let flag = Arc::new(Flag::default());
        Self {
            inner: token.cancelled(),
            waker: Waker::from(flag.clone()),
            flag,
            registered: false,
        }
    }
}

impl Future for Cancelled<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        // First the task to wake, then the flag: a wake-up in between is not lost.
        this.flag.task.register(cx.waker());
        if *this.registered && !this.flag.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        *this.registered = true;
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
