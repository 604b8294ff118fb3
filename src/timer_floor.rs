//! A timer that always fires within [`FLOOR`], so that arming a longer one never has to wake
//! the runtime's driver. tokio's time driver sleeps in `epoll_wait` until its earliest timer;
//! a new timer earlier than that wakes it through an eventfd write (a system call, and one more
//! `epoll_wait` round). Per-association and per-request timers (connect timeout, ARTIM, idle
//! limits) are seconds long and were often the earliest: about one eventfd write per DICOM
//! association (`perf record -e syscalls:sys_enter_write` under `benches/load_dicom.rs`).
//! With this floor the driver never sleeps longer than [`FLOOR`], so only timers shorter than
//! that can wake it early, at the cost of two wake-ups a second.

use std::time::Duration;
use tokio::time::MissedTickBehavior;

/// The longest the time driver sleeps.
pub const FLOOR: Duration = Duration::from_millis(500);

/// Spawns the floor on the current runtime; it runs until the runtime shuts down.
pub fn spawn() {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(FLOOR);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
        }
    });
}
