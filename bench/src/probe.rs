//! End-to-end timing: when each event was posted, and when its reply reached the fake Graph.
//!
//! Event `n` of a run says `bench n`; the bench policy answers `ok n`. The fake Graph's send
//! hook reads `n` back from the reply and notes the time since the event was posted.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde_json::Value;

/// Send times per event, and the replies seen.
pub struct Probe {
    origin: Instant,
    /// Micros since `origin` + 1 at which event `n` was posted (0: not yet).
    sent_at: Vec<AtomicU64>,
    /// Micros since `origin` + 1 at which event `n`'s reply arrived (0: not yet).
    answered_at: Vec<AtomicU64>,
    replies: Mutex<Replies>,
}

/// The replies counted by the hook.
#[derive(Debug, Default, Clone)]
pub struct Replies {
    /// (micros since the probe's origin when it arrived, end-to-end latency in micros).
    pub seen: Vec<(u64, u32)>,
    /// Replies whose text did not name a posted event.
    pub unknown: u64,
}

impl Probe {
    /// A probe for events `0..events`.
    pub fn new(events: usize) -> Self {
        Self {
            origin: Instant::now(),
            sent_at: (0..events).map(|_| AtomicU64::new(0)).collect(),
            answered_at: (0..events).map(|_| AtomicU64::new(0)).collect(),
            replies: Mutex::new(Replies::default()),
        }
    }

    /// Micros since the probe was made.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Notes that events `seqs` are being posted now.
    pub fn sent(&self, seqs: Range<u32>) {
        let now = self.now_us() + 1;
        for seq in seqs {
            if let Some(slot) = self.sent_at.get(seq as usize) {
                slot.store(now, Ordering::Relaxed);
            }
        }
    }

    /// Forgets every send time and reply (between two runs).
    pub fn reset(&self) {
        for slot in self.sent_at.iter().chain(&self.answered_at) {
            slot.store(0, Ordering::Relaxed);
        }
        *self.lock() = Replies::default();
    }

    /// The fake Graph's send hook: counts a reply `ok n`.
    pub fn reply(&self, body: &Value) {
        let now = self.now_us();
        let seq = body
            .pointer("/message/text")
            .and_then(Value::as_str)
            .and_then(|text| text.strip_prefix("ok "))
            .and_then(|n| n.trim().parse::<usize>().ok());
        let sent = seq
            .and_then(|seq| self.sent_at.get(seq))
            .map(|slot| slot.load(Ordering::Relaxed))
            .filter(|at| *at > 0);
        let mut replies = self.lock();
        match sent {
            Some(at) => {
                let latency = u32::try_from(now.saturating_sub(at - 1)).unwrap_or(u32::MAX);
                replies.seen.push((now, latency));
                if let Some(slot) = seq.and_then(|seq| self.answered_at.get(seq)) {
                    slot.store(now + 1, Ordering::Relaxed);
                }
            }
            None => replies.unknown += 1,
        }
    }

    /// When event `seq`'s reply arrived (micros since the probe was made), if it did.
    pub fn answered_at(&self, seq: usize) -> Option<u64> {
        let at = self.answered_at.get(seq)?.load(Ordering::Relaxed);
        (at > 0).then(|| at - 1)
    }

    /// Event `seq`'s end-to-end latency (µs), once its reply arrived.
    pub fn latency_of(&self, seq: usize) -> Option<u64> {
        let sent = self.sent_at.get(seq)?.load(Ordering::Relaxed);
        let answered = self.answered_at(seq)?;
        (sent > 0).then(|| answered.saturating_sub(sent - 1))
    }

    /// How many replies named a posted event so far.
    pub fn replied(&self) -> usize {
        self.lock().seen.len()
    }

    /// A copy of what was seen.
    pub fn replies(&self) -> Replies {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Replies> {
        self.replies.lock().unwrap_or_else(|e| e.into_inner())
    }
}
