//! Prometheus metrics: what `GET /metrics` shows.
//!
//! Labels are bounded sets (the configured Pages' ids, ReceivingType names, handler names from
//! the policy, Graph error codes); never a PSID, a token or a text.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::store::InboxGauges;

/// Labels of a processed event: its Page and its kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabel {
    /// The Page's id (`default` for the catch-all Page of a deployment without `[[pages]]`,
    /// `unconfigured` for an event of a Page not served).
    pub page: String,
    /// The ReceivingType name (or `UNCLASSIFIED` / `MALFORMED` at ingress).
    pub kind: String,
}

/// Labels by handler.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandlerLabel {
    /// The handler's registered name.
    pub handler: String,
}

/// Labels by Graph error.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GraphErrorLabel {
    /// The Page whose call failed (as in [`EventLabel`]).
    pub page: String,
    /// The Graph error code, `http_<status>` for an answer without a Graph error (`http_429`,
    /// `http_503`), `transport`, `decode` or `config`.
    pub code: String,
}

#[derive(Clone)]
struct LatencyBuckets;

impl MetricConstructor<Histogram> for LatencyBuckets {
    fn new_metric(&self) -> Histogram {
        // 0.5 ms to about 30 s.
        Histogram::new(exponential_buckets(0.0005, 2.0, 17))
    }
}

/// Every metric pagebot keeps.
pub struct Metrics {
    registry: Registry,
    received: Family<EventLabel, Counter>,
    deduplicated: Family<EventLabel, Counter>,
    processed: Family<EventLabel, Counter>,
    failed: Family<EventLabel, Counter>,
    retried: Family<EventLabel, Counter>,
    dead: Family<EventLabel, Counter>,
    handler_seconds: Family<HandlerLabel, Histogram, LatencyBuckets>,
    graph_send_seconds: Histogram,
    graph_errors: Family<GraphErrorLabel, Counter>,
    inbox_pending: Gauge,
    inbox_oldest_pending_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    inbox_dead: Gauge,
    inbox_failed: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set of metrics, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("pagebot");
        let metrics = Self {
            received: Family::default(),
            deduplicated: Family::default(),
            processed: Family::default(),
            failed: Family::default(),
            retried: Family::default(),
            dead: Family::default(),
            handler_seconds: Family::new_with_constructor(LatencyBuckets),
            graph_send_seconds: LatencyBuckets.new_metric(),
            graph_errors: Family::default(),
            inbox_pending: Gauge::default(),
            inbox_oldest_pending_seconds: Gauge::default(),
            inbox_dead: Gauge::default(),
            inbox_failed: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "events_received",
            "Webhook items stored in the inbox",
            metrics.received.clone(),
        );
        registry.register(
            "events_deduplicated",
            "Webhook items already in the inbox (re-deliveries)",
            metrics.deduplicated.clone(),
        );
        registry.register(
            "events_processed",
            "Events whose chains ran to the end",
            metrics.processed.clone(),
        );
        registry.register(
            "events_failed",
            "Events that failed with a permanent error",
            metrics.failed.clone(),
        );
        registry.register(
            "events_retried",
            "Attempts that failed with a passing error and will be retried",
            metrics.retried.clone(),
        );
        registry.register(
            "events_dead",
            "Events that failed on their last allowed attempt",
            metrics.dead.clone(),
        );
        registry.register(
            "handler_seconds",
            "Time spent in a handler's handle()",
            metrics.handler_seconds.clone(),
        );
        registry.register(
            "graph_send_seconds",
            "Latency of Send API calls",
            metrics.graph_send_seconds.clone(),
        );
        registry.register(
            "graph_errors",
            "Graph API errors by code",
            metrics.graph_errors.clone(),
        );
        registry.register(
            "inbox_pending",
            "Events waiting or being processed",
            metrics.inbox_pending.clone(),
        );
        registry.register(
            "inbox_oldest_pending_age_seconds",
            "Age of the oldest pending event",
            metrics.inbox_oldest_pending_seconds.clone(),
        );
        registry.register(
            "inbox_dead",
            "Events in the dead letters",
            metrics.inbox_dead.clone(),
        );
        registry.register(
            "inbox_failed",
            "Events that failed permanently",
            metrics.inbox_failed.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// Counts stored and duplicate items of one Page and kind at ingress.
    pub fn ingress(&self, page: &str, kind: &str, stored: u64, duplicates: u64) {
        if stored > 0 {
            self.received
                .get_or_create(&Self::event(page, kind))
                .inc_by(stored);
        }
        if duplicates > 0 {
            self.deduplicated
                .get_or_create(&Self::event(page, kind))
                .inc_by(duplicates);
        }
    }

    fn event(page: &str, kind: &str) -> EventLabel {
        EventLabel {
            page: page.to_owned(),
            kind: kind.to_owned(),
        }
    }

    /// Counts an event of `page` processed to the end.
    pub fn processed(&self, page: &str, kind: &str) {
        self.processed.get_or_create(&Self::event(page, kind)).inc();
    }

    /// Counts a permanent failure.
    pub fn failed(&self, page: &str, kind: &str) {
        self.failed.get_or_create(&Self::event(page, kind)).inc();
    }

    /// Counts an attempt to be retried.
    pub fn retried(&self, page: &str, kind: &str) {
        self.retried.get_or_create(&Self::event(page, kind)).inc();
    }

    /// Counts an event sent to the dead letters.
    pub fn dead(&self, page: &str, kind: &str) {
        self.dead.get_or_create(&Self::event(page, kind)).inc();
    }

    /// Records a handler's time.
    pub fn handler_time(&self, handler: &str, took: Duration) {
        self.handler_seconds
            .get_or_create(&HandlerLabel {
                handler: handler.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// Records a Send API call's time.
    pub fn graph_send_time(&self, took: Duration) {
        self.graph_send_seconds.observe(took.as_secs_f64());
    }

    /// Counts a Graph error of a call for `page`.
    pub fn graph_error(&self, page: &str, code: String) {
        self.graph_errors
            .get_or_create(&GraphErrorLabel {
                page: page.to_owned(),
                code,
            })
            .inc();
    }

    /// Renders the Prometheus text format, with the inbox gauges set from `inbox`.
    pub fn render(&self, inbox: &InboxGauges, oldest_pending_age: Option<Duration>) -> String {
        self.inbox_pending.set(inbox.pending);
        self.inbox_dead.set(inbox.dead);
        self.inbox_failed.set(inbox.failed);
        self.inbox_oldest_pending_seconds
            .set(oldest_pending_age.map_or(0.0, |d| d.as_secs_f64()));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_by_kind_and_the_inbox_gauges() {
        let metrics = Metrics::new();
        metrics.ingress("123", "SIMPLE_TEXT", 3, 1);
        metrics.processed("123", "SIMPLE_TEXT");
        metrics.graph_error("456", "613".into());
        let text = metrics.render(
            &InboxGauges {
                pending: 2,
                ..Default::default()
            },
            Some(Duration::from_secs(4)),
        );
        assert!(
            text.contains("pagebot_events_received_total{page=\"123\",kind=\"SIMPLE_TEXT\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("pagebot_events_deduplicated_total{page=\"123\",kind=\"SIMPLE_TEXT\"} 1")
        );
        assert!(
            text.contains("pagebot_events_processed_total{page=\"123\",kind=\"SIMPLE_TEXT\"} 1"),
            "{text}"
        );
        assert!(text.contains("pagebot_graph_errors_total{page=\"456\",code=\"613\"} 1"));
        assert!(text.contains("pagebot_inbox_pending 2"));
        assert!(text.contains("pagebot_inbox_oldest_pending_age_seconds 4.0"));
        assert!(text.ends_with("# EOF\n"));
    }
}
