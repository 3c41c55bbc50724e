//! When to try a failed event again.

use std::time::Duration;

use rand::Rng;

/// The delay before attempt `attempts + 1`: exponential from one second, capped at ten
/// minutes, with ±20 % jitter so that events failed together do not return together.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let base_ms = 1_000u64.saturating_mul(1 << exponent).min(600_000);
    let jitter = rand::rng().random_range(0.8..1.2);
    Duration::from_millis((base_ms as f64 * jitter) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_and_is_capped() {
        for (attempts, base) in [(1, 1_000u64), (2, 2_000), (4, 8_000), (30, 600_000)] {
            let ms = backoff(attempts).as_millis() as u64;
            assert!(
                ms >= base * 8 / 10 && ms <= base * 12 / 10,
                "{attempts}: {ms}"
            );
        }
    }
}
