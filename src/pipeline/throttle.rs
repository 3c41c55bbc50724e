//! Per-Page pauses after Facebook signals a rate limit (codes 4, 17, 32, 613, 80006).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Until when each Page's sends are paused.
#[derive(Debug, Default)]
pub struct PageThrottle {
    paused_until: Mutex<HashMap<String, Instant>>,
}

impl PageThrottle {
    /// Pauses `page`'s sends for `pause` (an existing longer pause stays).
    pub fn pause(&self, page: &str, pause: Duration) {
        let until = Instant::now() + pause;
        if let Ok(mut paused) = self.paused_until.lock() {
            let entry = paused.entry(page.to_owned()).or_insert(until);
            *entry = (*entry).max(until);
        }
    }

    /// How long `page`'s sends stay paused, if they are.
    pub fn remaining(&self, page: &str) -> Option<Duration> {
        let mut paused = self.paused_until.lock().ok()?;
        let until = *paused.get(page)?;
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            paused.remove(page);
            return None;
        }
        Some(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_applies_to_its_page_only_and_ends() {
        let throttle = PageThrottle::default();
        throttle.pause("p1", Duration::from_millis(30));
        assert!(throttle.remaining("p1").is_some());
        assert!(throttle.remaining("p2").is_none());
        std::thread::sleep(Duration::from_millis(40));
        assert!(throttle.remaining("p1").is_none());
    }
}
