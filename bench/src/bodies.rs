//! The webhook deliveries a run posts: signed, rendered to bytes before the clock starts.
//!
//! Event `n` comes from user `n % users`, has mid `m_bench_<run>_<n>`, time `base + n` ms and
//! says `bench n`. PSIDs are spread over the seeded users' range, so that with 10^6 users in
//! the database the traffic hits rows all over the table.

use pagebot::webhook::signature::sign_sha256;
use serde_json::json;

use crate::load::Request;

/// The Page every event is for.
pub const PAGE_ID: &str = "104857600000001";

/// The first PSID; user `k` is `PSID_BASE + k`.
pub const PSID_BASE: u64 = 7_000_000_000_000_000;

/// What to build.
#[derive(Debug, Clone)]
pub struct Traffic {
    /// A tag that makes this run's mids unique.
    pub run: String,
    /// Events per webhook body (Facebook batches up to 1000 per delivery).
    pub batch: u32,
    /// How many users talk.
    pub users: u64,
    /// Users already in the database; talking users are spread over them.
    pub seeded_users: u64,
    /// The app secret bodies are signed with.
    pub secret: String,
}

impl Traffic {
    /// The PSID of talking user `u`.
    pub fn psid(&self, u: u64) -> String {
        let spread = (self.seeded_users / self.users.max(1)).max(1);
        (PSID_BASE + u * spread).to_string()
    }

    /// Renders `count` POST /webhook requests.
    pub fn requests(&self, count: usize) -> Vec<Request> {
        let base_ms: i64 = 1_700_000_000_000;
        let batch = self.batch.max(1);
        (0..count)
            .map(|i| {
                let first = u32::try_from(i).unwrap_or(u32::MAX).saturating_mul(batch);
                let seqs = first..first.saturating_add(batch);
                let items: Vec<_> = seqs
                    .clone()
                    .map(|n| {
                        json!({
                            "sender": {"id": self.psid(u64::from(n) % self.users.max(1))},
                            "recipient": {"id": PAGE_ID},
                            "timestamp": base_ms + i64::from(n),
                            "message": {"mid": format!("m_bench_{}_{n}", self.run), "text": format!("bench {n}")}
                        })
                    })
                    .collect();
                let body = json!({
                    "object": "page",
                    "entry": [{"id": PAGE_ID, "time": base_ms + i64::from(first), "messaging": items}]
                })
                .to_string();
                let signature = sign_sha256(self.secret.as_bytes(), body.as_bytes());
                let mut bytes = format!(
                    "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                     X-Hub-Signature-256: {signature}\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                bytes.extend_from_slice(body.as_bytes());
                Request { bytes, seqs }
            })
            .collect()
    }
}
