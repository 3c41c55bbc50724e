//! Turning raw measurements into rates, percentiles and a Markdown table.

use std::time::Duration;

use crate::load::LoadResult;
use crate::probe::Replies;
use crate::process::Usage;

/// The bare HMAC endpoint's numbers.
pub struct Ceiling {
    load: LoadResult,
    cpu: Duration,
    peak_rss_kib: u64,
}

impl Ceiling {
    /// From its load run and its process usage before and after.
    pub fn new(mut load: LoadResult, before: Usage, after: Usage) -> Self {
        load.latencies_us.sort_unstable();
        Self {
            cpu: after.cpu.saturating_sub(before.cpu),
            peak_rss_kib: after.peak_rss_kib,
            load,
        }
    }

    /// Requests answered 200 per second.
    pub fn rps(&self) -> f64 {
        per_sec(self.load.ok, self.load.elapsed)
    }

    /// One paragraph for the console.
    pub fn describe(&self) -> String {
        let l = &self.load.latencies_us;
        format!(
            "ceiling (bare actix-web, HMAC only): {:.0} req/s, ack p50 {} p99 {} max {}, \
             {} errors, {:.1} µs CPU/req, peak RSS {} MiB",
            self.rps(),
            ms(pct(l, 50.0)),
            ms(pct(l, 99.0)),
            ms(l.last().copied().unwrap_or(0)),
            self.load.errors,
            micros_per(self.cpu, self.load.ok),
            self.peak_rss_kib / 1024
        )
    }
}

/// pagebot's numbers for one database.
pub struct Measured {
    /// The load run.
    pub load: LoadResult,
    /// Replies seen at the fake Graph.
    pub replies: Replies,
    /// The load's start and end, in probe micros.
    pub window: (u64, u64),
    /// When the last expected reply arrived (or the drain gave up), in probe micros.
    pub drained_at: u64,
    /// The local Postgres cluster's CPU from the start of the load to the end of the drain
    /// (`None` on SQLite, or when Postgres runs elsewhere).
    pub postgres_cpu: Option<Duration>,
    /// This process's CPU (the load generator and the fake Graph) over the same span.
    pub bench_cpu: Duration,
    /// Every core's busy time over the same span: server, Postgres, this process, the
    /// kernel and anything else running (`None` if /proc/stat cannot be read).
    pub machine_cpu: Option<Duration>,
    /// Server usage before the load.
    pub before: Usage,
    /// ... at the end of the load.
    pub after_load: Usage,
    /// ... once every acknowledged event was answered (or the drain gave up).
    pub after_drain: Usage,
    /// User Profile requests during the run.
    pub profile_calls: usize,
    /// Sends the fake refused (should be 0).
    pub rejected: usize,
}

struct Numbers {
    rps: f64,
    eps: f64,
    ack: [u32; 3],
    e2e_eps: f64,
    e2e: [u32; 2],
    errors: u64,
    missing: u64,
    cpu_per_event_us: f64,
    postgres_cpu_per_event_us: Option<f64>,
    bench_cpu_per_event_us: f64,
    machine_cpu_per_event_us: Option<f64>,
    machine_busy_pct: Option<f64>,
    rss_mib: u64,
    drain_s: f64,
    /// Replies per second after the load, when the pipeline had the machine to itself.
    drain_eps: f64,
}

impl Measured {
    fn numbers(&self) -> Numbers {
        let mut ack = self.load.latencies_us.clone();
        ack.sort_unstable();
        let (start, end) = self.window;
        let in_window = self
            .replies
            .seen
            .iter()
            .filter(|(at, _)| *at <= end)
            .count();
        let mut e2e: Vec<u32> = self.replies.seen.iter().map(|(_, l)| *l).collect();
        e2e.sort_unstable();
        let replied = self.replies.seen.len() as u64;
        let window = Duration::from_micros(end.saturating_sub(start));
        Numbers {
            rps: per_sec(self.load.ok, self.load.elapsed),
            eps: per_sec(self.load.events_ok, self.load.elapsed),
            ack: [
                pct(&ack, 50.0),
                pct(&ack, 99.0),
                ack.last().copied().unwrap_or(0),
            ],
            e2e_eps: per_sec(in_window as u64, window),
            e2e: [pct(&e2e, 50.0), pct(&e2e, 99.0)],
            errors: self.load.errors + self.replies.unknown + self.rejected as u64,
            missing: self.load.events_ok.saturating_sub(replied),
            cpu_per_event_us: micros_per(
                self.after_drain.cpu.saturating_sub(self.before.cpu),
                replied,
            ),
            postgres_cpu_per_event_us: self.postgres_cpu.map(|cpu| micros_per(cpu, replied)),
            bench_cpu_per_event_us: micros_per(self.bench_cpu, replied),
            machine_cpu_per_event_us: self.machine_cpu.map(|cpu| micros_per(cpu, replied)),
            machine_busy_pct: self.machine_cpu.map(|cpu| {
                let span = Duration::from_micros(self.drained_at.saturating_sub(start));
                busy_pct(cpu, span, cores())
            }),
            rss_mib: self.after_drain.peak_rss_kib / 1024,
            drain_s: self.drained_at.saturating_sub(end) as f64 / 1e6,
            drain_eps: per_sec(
                replied.saturating_sub(in_window as u64),
                Duration::from_micros(self.drained_at.saturating_sub(end)),
            ),
        }
    }

    /// One paragraph for the console.
    pub fn describe(&self, db: &str, ceiling: Option<&Ceiling>) -> String {
        let n = self.numbers();
        let ratio = ceiling.map_or(String::new(), |c| {
            format!(" ({:.0}% of the ceiling)", 100.0 * n.rps / c.rps().max(1.0))
        });
        format!(
            "pagebot on {db}: {:.0} webhooks/s{ratio}, {:.0} events/s acknowledged, \
             ack p50 {} p99 {} max {}; end to end {:.0} events/s during the load, p50 {} p99 {}; \
             {} errors, {} acknowledged events not answered; server CPU {:.1} µs/event \
             (during the load {:.1} µs per acknowledged event){}, load generator and fake Graph {:.1} µs/event{}, \
             peak RSS {} MiB; {} profile fetches; backlog \
             drained {:.1} s after the load{}{}",
            n.rps,
            n.eps,
            ms(n.ack[0]),
            ms(n.ack[1]),
            ms(n.ack[2]),
            n.e2e_eps,
            ms(n.e2e[0]),
            ms(n.e2e[1]),
            n.errors,
            n.missing,
            n.cpu_per_event_us,
            micros_per(
                self.after_load.cpu.saturating_sub(self.before.cpu),
                self.load.events_ok
            ),
            n.postgres_cpu_per_event_us
                .map_or(String::new(), |us| format!(
                    ", Postgres CPU {us:.1} µs/event"
                )),
            n.bench_cpu_per_event_us,
            n.machine_cpu_per_event_us
                .map_or(String::new(), |us| format!(
                    ", the whole machine {us:.1} µs/event ({:.0}% of its {} cores busy from the \
                 start of the load to the last reply)",
                    n.machine_busy_pct.unwrap_or(0.0),
                    cores(),
                )),
            n.rss_mib,
            self.profile_calls,
            n.drain_s,
            // Only a backlog of some size says what the pipeline does alone.
            if n.drain_s >= 1.0 {
                format!(" (the pipeline alone: {:.0} events/s)", n.drain_eps)
            } else {
                String::new()
            },
            if self.load.exhausted {
                " (the pre-built bodies ran out: raise --bodies-per-sec)"
            } else {
                ""
            },
        )
    }
}

/// The Markdown table of a whole run.
pub fn table(
    label: &str,
    ceiling: Option<&Ceiling>,
    results: &[(&str, Measured)],
    load_before: &str,
    load_after: &str,
) -> String {
    let mut out = format!(
        "### {label}\n\nloadavg before {load_before}, after {load_after}\n\n\
         | server | webhooks/s | % ceiling | events/s acked | ack p50 / p99 / max | \
         e2e events/s | e2e p50 / p99 | errors | CPU/event | Postgres CPU/event | \
         bench CPU/event | machine CPU/event (busy) | peak RSS |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    );
    if let Some(c) = ceiling {
        let l = &c.load.latencies_us;
        out.push_str(&format!(
            "| bare HMAC endpoint | {:.0} | 100% | - | {} / {} / {} | - | - | {} | {:.1} µs | - | - | - | {} MiB |\n",
            c.rps(),
            ms(pct(l, 50.0)),
            ms(pct(l, 99.0)),
            ms(l.last().copied().unwrap_or(0)),
            c.load.errors,
            micros_per(c.cpu, c.load.ok),
            c.peak_rss_kib / 1024,
        ));
    }
    for (db, m) in results {
        let n = m.numbers();
        let ratio = ceiling.map_or("-".to_owned(), |c| {
            format!("{:.0}%", 100.0 * n.rps / c.rps().max(1.0))
        });
        out.push_str(&format!(
            "| pagebot, {db} | {:.0} | {ratio} | {:.0} | {} / {} / {} | {:.0} | {} / {} | {}{} | {:.1} µs | {} | {:.1} µs | {} | {} MiB |\n",
            n.rps,
            n.eps,
            ms(n.ack[0]),
            ms(n.ack[1]),
            ms(n.ack[2]),
            n.e2e_eps,
            ms(n.e2e[0]),
            ms(n.e2e[1]),
            n.errors,
            if n.missing > 0 {
                format!(" ({} unanswered)", n.missing)
            } else {
                String::new()
            },
            n.cpu_per_event_us,
            n.postgres_cpu_per_event_us
                .map_or("-".to_owned(), |us| format!("{us:.1} µs")),
            n.bench_cpu_per_event_us,
            n.machine_cpu_per_event_us
                .zip(n.machine_busy_pct)
                .map_or("-".to_owned(), |(us, busy)| format!("{us:.1} µs ({busy:.0}%)")),
            n.rss_mib,
        ));
    }
    out
}

/// The `p`th percentile of sorted `values` (nearest rank), 0 if empty.
fn pct(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn per_sec(n: u64, over: Duration) -> f64 {
    if over.is_zero() {
        return 0.0;
    }
    n as f64 / over.as_secs_f64()
}

fn micros_per(cpu: Duration, n: u64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    cpu.as_secs_f64() * 1e6 / n as f64
}

/// The machine's cores, as the bench sees them.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// How busy `cores` cores were, in percent, when they used `cpu` over `span` (0 for no span).
fn busy_pct(cpu: Duration, span: Duration, cores: usize) -> f64 {
    if span.is_zero() || cores == 0 {
        return 0.0;
    }
    100.0 * cpu.as_secs_f64() / (span.as_secs_f64() * cores as f64)
}

/// Micros as milliseconds with two decimals.
fn ms(us: u32) -> String {
    format!("{:.2} ms", f64::from(us) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::{busy_pct, pct};
    use std::time::Duration;

    #[test]
    fn busy_is_the_cpu_used_over_what_the_cores_could_give_in_the_span() {
        let secs = Duration::from_secs;
        assert_eq!(busy_pct(secs(15), secs(10), 2), 75.0);
        assert_eq!(busy_pct(secs(20), secs(10), 2), 100.0);
        assert_eq!(busy_pct(secs(5), Duration::ZERO, 2), 0.0);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<u32> = (1..=100).collect();
        assert_eq!(pct(&values, 50.0), 50);
        assert_eq!(pct(&values, 99.0), 99);
        assert_eq!(pct(&values, 100.0), 100);
        assert_eq!(pct(&[7], 99.0), 7);
        assert_eq!(pct(&[], 50.0), 0);
    }
}
