//! When the events this instance released for a later attempt become due, so that the worker
//! wakes then instead of at its next poll.
//!
//! Only this instance's retries are known here: an event another instance released (or put
//! back with `pagebot inbox replay`, or left behind by a worker that died) is found by the
//! poll, which stays the upper bound of every sleep. Every instance wakes for its own retries,
//! so on a shared Postgres each retry is still claimed on time while its instance runs.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// The most due times kept: beyond it the latest are forgotten, and found by the poll.
const MAX_KEPT: usize = 10_000;

/// Due times (epoch ms, as `available_at` is) of events released to be tried again.
#[derive(Debug, Default)]
pub(super) struct DueTimes {
    times: Mutex<BTreeSet<i64>>,
}

impl DueTimes {
    /// Notes that an event becomes due at `at` (epoch ms).
    pub fn add(&self, at: i64) {
        let mut times = self.lock();
        times.insert(at);
        if times.len() > MAX_KEPT {
            times.pop_last();
        }
    }

    /// Forgets the times up to `now`: a claim made at `now` or later took what was due by then
    /// (or found it held by another worker or behind the same user's earlier event, which wakes
    /// the loop when it ends).
    pub fn forget_until(&self, now: i64) {
        let mut times = self.lock();
        let later = times.split_off(&now.saturating_add(1));
        *times = later;
    }

    /// The earliest time kept.
    pub fn next(&self) -> Option<i64> {
        self.lock().first().copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<i64>> {
        // A set of numbers cannot be left half-changed by a panic.
        self.times.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_earliest_and_forgets_what_a_claim_covered() {
        let due = DueTimes::default();
        assert_eq!(due.next(), None);
        for at in [300, 100, 200, 100] {
            due.add(at);
        }
        assert_eq!(due.next(), Some(100));
        due.forget_until(99);
        assert_eq!(due.next(), Some(100));
        due.forget_until(200);
        assert_eq!(due.next(), Some(300));
        due.forget_until(i64::MAX);
        assert_eq!(due.next(), None);
    }

    #[test]
    fn keeps_a_bounded_number_dropping_the_latest() {
        let due = DueTimes::default();
        for at in (0..=MAX_KEPT as i64).rev() {
            due.add(at);
        }
        let times = due.lock();
        assert_eq!(times.len(), MAX_KEPT);
        assert_eq!(times.first(), Some(&0));
        assert_eq!(times.last(), Some(&(MAX_KEPT as i64 - 1)));
    }
}
