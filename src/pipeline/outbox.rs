//! The outbox loop: delivers the messages the bot starts ([`crate::outbox`]), up to
//! [`OUTBOX_WORKERS`] at once, beside the event workers.
//!
//! Messenger's rules are checked here, when the message goes out, against
//! [`crate::clock::Clock`] and what the database knows then: a free-form message (response,
//! update) needs the user's last interaction with its Page within 24 hours, a tag within 7
//! days, a notification a token the user granted (which it uses). A message the rules do not
//! allow is `refused` with the reason, never sent. Sends go through the Page's Graph client
//! and share the Page's throttle with its replies: a rate limit or a rejected token pauses
//! both.
//!
//! A claimed row is leased like an inbox event: after a crash it is claimed again once the
//! lease runs out. As for replies, a message Facebook accepted whose `sent` could not be
//! recorded before the crash is sent again (README, "Nothing twice").

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::Pipeline;
use super::process::Stop;
use super::retry::{backoff, commit_backoff};
use crate::senders::Tag;
use crate::store::outbox::{self as rows, Ending, NotificationToken, OutboxRow};
use crate::store::{StoreError, now_ms};

/// Outbox messages delivered at once.
pub const OUTBOX_WORKERS: usize = 16;

const HOUR_MS: i64 = 3600 * 1000;
/// The standard messaging window.
const WINDOW_MS: i64 = 24 * HOUR_MS;
/// How long after the user's last message a tag may be used.
const TAG_WINDOW_MS: i64 = 7 * 24 * HOUR_MS;

/// Tries at writing an attempt's outcome before the lease is left to run out.
const FINISH_TRIES: u32 = 8;

impl Pipeline {
    /// Delivers outbox messages until `shutdown` turns true, then waits for those in flight.
    pub async fn run_outbox(self, mut shutdown: watch::Receiver<bool>) {
        let wake = self.services.outbox.wake_handle().clone();
        let mut in_flight: JoinSet<()> = JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let free = OUTBOX_WORKERS.saturating_sub(in_flight.len());
            let mut claimed = 0;
            if free > 0 {
                match self.claim_outbox(free).await {
                    Ok(messages) => {
                        claimed = messages.len();
                        for row in messages {
                            let pipeline = self.clone();
                            in_flight.spawn(async move { pipeline.deliver_outbox(row).await });
                        }
                    }
                    Err(e) => log::error!("outbox: cannot claim messages: {e}"),
                }
            }
            if claimed > 0 && in_flight.len() < OUTBOX_WORKERS {
                continue;
            }
            tokio::select! {
                Some(result) = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Err(e) = result {
                        log::error!("an outbox task panicked: {e}");
                    }
                }
                _ = wake.notified() => {}
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
        while let Some(result) = in_flight.join_next().await {
            if let Err(e) = result {
                log::error!("an outbox task panicked: {e}");
            }
        }
    }

    /// Delivers every outbox message due now, until none is left (tests, one-shot tools).
    pub async fn drain_outbox(&self) -> Result<usize, StoreError> {
        let mut delivered = 0;
        loop {
            let messages = self.claim_outbox(OUTBOX_WORKERS).await?;
            if messages.is_empty() {
                return Ok(delivered);
            }
            let mut set = JoinSet::new();
            for row in messages {
                let pipeline = self.clone();
                set.spawn(async move { pipeline.deliver_outbox(row).await });
            }
            while let Some(result) = set.join_next().await {
                if result.is_ok() {
                    delivered += 1;
                }
            }
        }
    }

    async fn claim_outbox(&self, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let lease_ms = i64::try_from(self.settings.lease.as_millis()).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.services
            .store
            .run(move |conn| rows::claim(conn, now_ms(), lease_ms, limit))
            .await
    }

    /// One attempt at delivering `row`, and its outcome recorded.
    async fn deliver_outbox(&self, row: OutboxRow) {
        let ending = self.attempt_outbox(&row).await;
        let (id, attempts) = (row.id, row.attempts);
        match ending.state {
            Some(rows::SENT) => log::info!("outbox {id}: sent"),
            Some(state) => log::warn!(
                "outbox {id}: {state}: {}",
                ending.error.as_deref().unwrap_or_default()
            ),
            None => log::warn!(
                "outbox {id}: attempt {attempts} failed, tried again later: {}",
                ending.error.as_deref().unwrap_or_default()
            ),
        }
        let mut failures = 0;
        loop {
            let ending = ending.clone();
            let written = self
                .services
                .store
                .run(move |conn| rows::finish(conn, id, attempts, &ending, now_ms()))
                .await;
            match written {
                Ok(true) => return,
                Ok(false) => {
                    log::warn!("outbox {id}: another worker holds it now; nothing recorded");
                    return;
                }
                Err(e) if failures + 1 >= FINISH_TRIES || e.is_permanent() => {
                    log::error!(
                        "outbox {id}: outcome not recorded; it is claimed again once its lease \
                         runs out: {e}"
                    );
                    return;
                }
                Err(_) => {
                    failures += 1;
                    tokio::time::sleep(commit_backoff(failures)).await;
                }
            }
        }
    }

    async fn attempt_outbox(&self, row: &OutboxRow) -> Ending {
        let page_key = (!row.page_id.is_empty()).then_some(row.page_id.as_str());
        let Some(page) = self.pages.find(page_key) else {
            return final_state(
                rows::FAILED,
                format!("page {} is not configured", row.page_id),
            );
        };
        if let Some(left) = self.throttle.remaining(&row.page_id) {
            return retry(
                format!("the Page is rate-limited for {left:?} more"),
                left,
                true,
            );
        }
        let (recipient, messaging_type) = match self.allowed(row).await {
            Ok(Ok(allowed)) => allowed,
            Ok(Err(refusal)) => return final_state(rows::REFUSED, refusal),
            Err(e) => {
                return retry(
                    e.to_string(),
                    backoff(self.settings.retry_base, row.attempts),
                    false,
                );
            }
        };
        let message: Value = match serde_json::from_str(&row.message) {
            Ok(message) => message,
            Err(e) => return final_state(rows::FAILED, format!("stored message unreadable: {e}")),
        };
        let mut body = json!({
            "recipient": recipient,
            "messaging_type": messaging_type,
            "message": message,
        });
        if let Some(tag) = &row.tag {
            body["tag"] = Value::from(tag.as_str());
        }
        let graph = page.bot().services.graph.clone();
        match graph.send(&body).await {
            Ok(response) => {
                // (The Page's Graph client noted that its token works.)
                Ending {
                    state: Some(rows::SENT),
                    message_id: response.message_id,
                    ..Ending::default()
                }
            }
            Err(e) => {
                let mut ending = match self.classify_send_error(&row.page_id, Some(page), &e) {
                    Stop::Throttled(error, pause) => retry(error, pause, true),
                    Stop::Passing(error) if row.attempts < self.settings.max_attempts => retry(
                        error,
                        backoff(self.settings.retry_base, row.attempts),
                        false,
                    ),
                    Stop::Passing(error) | Stop::Permanent(error) | Stop::NotConfigured(error) => {
                        final_state(rows::FAILED, error)
                    }
                };
                ending.error_code = e.code();
                ending
            }
        }
    }

    /// Whether Messenger's rules allow `row` now: its recipient and `messaging_type`, or why
    /// not.
    async fn allowed(
        &self,
        row: &OutboxRow,
    ) -> Result<Result<(Value, &'static str), String>, StoreError> {
        let now = self.settings.clock.now_ms();
        let (id, page_id, psid, topic) = (
            row.id,
            row.page_id.clone(),
            row.psid.clone(),
            row.topic.clone(),
        );
        if row.intent == "notification" {
            let token = self
                .services
                .store
                .run(move |conn| {
                    rows::take_notification_token(conn, id, &page_id, &psid, topic.as_deref(), now)
                })
                .await?;
            return Ok(match token {
                Some(NotificationToken::OneTime { token, .. }) => {
                    Ok((json!({ "one_time_notif_token": token }), "UPDATE"))
                }
                Some(NotificationToken::Recurring { token }) => {
                    Ok((json!({ "notification_messages_token": token }), "UPDATE"))
                }
                None => Err(format!(
                    "no notification token{}: the user granted none on this Page, or each was \
                     used, stopped or expired",
                    row.topic
                        .as_deref()
                        .map(|t| format!(" about \"{t}\""))
                        .unwrap_or_default()
                )),
            });
        }
        let last = self
            .services
            .store
            .run(move |conn| rows::last_interaction(conn, &page_id, &psid))
            .await?;
        let (limit, messaging_type, what) = match (row.intent.as_str(), row.tag.as_deref()) {
            ("tag", Some(tag)) => {
                let tag = Tag::parse(tag).map_err(StoreError::Task)?;
                (
                    TAG_WINDOW_MS,
                    "MESSAGE_TAG",
                    format!("the 7 days of tag {}", tag.as_str()),
                )
            }
            ("response", _) => (WINDOW_MS, "RESPONSE", "the 24-hour window".to_owned()),
            _ => (WINDOW_MS, "UPDATE", "the 24-hour window".to_owned()),
        };
        let recipient = json!({ "id": row.psid });
        Ok(match last {
            None => Err(format!(
                "outside {what}: the user never messaged this Page; use a tag or a \
                 notification token"
            )),
            Some(at) if now.saturating_sub(at) > limit => Err(format!(
                "outside {what}: last message from the user {} ({} ago); {}",
                rfc3339(at),
                ago(now.saturating_sub(at)),
                if limit == WINDOW_MS {
                    "use a tag or a notification token"
                } else {
                    "use a notification token"
                }
            )),
            Some(_) => Ok((recipient, messaging_type)),
        })
    }
}

fn final_state(state: &'static str, error: String) -> Ending {
    Ending {
        state: Some(state),
        error: Some(error),
        ..Ending::default()
    }
}

fn retry(error: String, after: Duration, refund: bool) -> Ending {
    let after_ms = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
    Ending {
        state: None,
        error: Some(error),
        due_at: Some(now_ms().saturating_add(after_ms)),
        refund,
        ..Ending::default()
    }
}

/// `at` (epoch ms) as `2026-12-04T19:31:00Z`.
fn rfc3339(at: i64) -> String {
    jiff::Timestamp::from_millisecond(at)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| at.to_string())
}

/// A span as `30 h` under three days, else `8 d`.
fn ago(ms: i64) -> String {
    let hours = ms / HOUR_MS;
    if hours < 72 {
        format!("{hours} h")
    } else {
        format!("{} d", hours / 24)
    }
}
