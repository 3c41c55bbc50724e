//! [`Clock`]: the time the 24-hour window and the notification tokens' expiry are judged by.
//!
//! Production reads the system's time; a test pins it (`set_ms`, `advance`) to put a user
//! 30 hours or 8 days after their last message without waiting. Leases, retries and stored
//! times keep the system's time: only the window rules read this clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// The system's time, unless pinned: cheap to clone, and every clone sees the same pin.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// The pinned time in epoch ms; 0: the system's time.
    pinned: Arc<AtomicI64>,
}

impl Clock {
    /// A clock that reads the system's time until it is pinned.
    pub fn system() -> Self {
        Self::default()
    }

    /// Now, in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        match self.pinned.load(Ordering::SeqCst) {
            0 => crate::store::now_ms(),
            pinned => pinned,
        }
    }

    /// Pins the clock at `at_ms` (epoch ms); `0` unpins it.
    pub fn set_ms(&self, at_ms: i64) {
        self.pinned.store(at_ms, Ordering::SeqCst);
    }

    /// Pins the clock `by` later than it reads now.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.set_ms(self.now_ms().saturating_add(by));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_clock_is_shared_by_its_clones_and_can_be_unpinned() {
        let clock = Clock::system();
        let copy = clock.clone();
        clock.set_ms(1_000);
        assert_eq!(copy.now_ms(), 1_000);
        copy.advance(Duration::from_secs(2));
        assert_eq!(clock.now_ms(), 3_000);
        clock.set_ms(0);
        assert!(clock.now_ms() > 1_700_000_000_000);
    }
}
