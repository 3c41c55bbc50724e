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

/// The first pause before a commit that failed is tried again.
pub const COMMIT_RETRY_FIRST: Duration = Duration::from_millis(100);
/// The longest pause between two tries of a commit.
pub const COMMIT_RETRY_MAX: Duration = Duration::from_secs(2);

/// The pause after the `failures`-th failure in a row of a commit (or a lease renewal):
/// 100 ms, doubled each time, at most 2 s, so that a database that is back is used within
/// two seconds.
pub fn commit_backoff(failures: u32) -> Duration {
    COMMIT_RETRY_FIRST
        .saturating_mul(1 << failures.saturating_sub(1).min(10))
        .min(COMMIT_RETRY_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_tried_again_soon_then_every_two_seconds() {
        let ms = |n| commit_backoff(n).as_millis();
        assert_eq!(
            [ms(1), ms(2), ms(3), ms(5), ms(6), ms(40)],
            [100, 200, 400, 1600, 2000, 2000]
        );
    }

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
