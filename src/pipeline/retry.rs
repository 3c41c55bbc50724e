//! When to try a failed event again.

use std::time::Duration;

use rand::Rng;

/// The delay before attempt `attempts + 1`: `base`, doubled per attempt, capped at ten
/// minutes, with ±20 % jitter so that events that failed together do not return together.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let base_ms = u64::try_from(base.as_millis()).unwrap_or(u64::MAX);
    let ms = base_ms.saturating_mul(1 << exponent).min(600_000);
    let jitter = rand::rng().random_range(0.8..1.2);
    Duration::from_millis((ms as f64 * jitter) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_and_is_capped() {
        let base = Duration::from_secs(1);
        for (attempts, expected) in [(1, 1_000u64), (2, 2_000), (4, 8_000), (30, 600_000)] {
            let ms = backoff(base, attempts).as_millis() as u64;
            assert!(
                ms >= expected * 8 / 10 && ms <= expected * 12 / 10,
                "{attempts}: {ms}"
            );
        }
    }
}
