//! The broadcast loop: expands each active broadcast into held outbox rows, a batch at a
//! time, and releases them to the outbox loop at the broadcast's rate ([`crate::store::broadcasts`]).
//!
//! While Facebook rate-limits the Page (the throttle the outbox shares with replies), the
//! broadcast shows `paused` and nothing more is released; it resumes by itself once the
//! pause is over. A broadcast whose every message was sent, refused or failed is `done`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::watch;

use super::Pipeline;
use crate::outbox::Content;
use crate::store::broadcasts::{self as rows, BroadcastRow, Filter, HELD};
use crate::store::outbox::{NewOutboxMessage, QUEUED};
use crate::store::{StoreError, now_ms};

/// Recipients expanded per transaction.
pub const EXPAND_BATCH: usize = 500;
/// How often an active broadcast is stepped.
const TICK: Duration = Duration::from_millis(50);
/// How often a broadcast's messages are counted.
const COUNT_EVERY: Duration = Duration::from_millis(500);
const DAY_MS: i64 = 24 * 3600 * 1000;

/// A broadcast's counts as last read.
struct Counted {
    counts: crate::store::broadcasts::Counts,
    /// Whether it was expanded when they were read (a count of a partial expansion says
    /// nothing about the end).
    expanded: i32,
    at: Instant,
}

impl Pipeline {
    /// Steps the active broadcasts until `shutdown` turns true.
    pub async fn run_broadcasts(self, mut shutdown: watch::Receiver<bool>) {
        let wake = self.services.outbox.broadcasts_wake_handle().clone();
        let mut counted = HashMap::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let busy = match self.step_broadcasts(&mut counted).await {
                Ok(busy) => busy,
                Err(e) => {
                    log::error!("broadcasts: cannot read them: {e}");
                    false
                }
            };
            let pause = if busy {
                TICK
            } else {
                self.settings.poll_interval.max(TICK)
            };
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// One step of every active broadcast; true if any is active. `counted`: each one's
    /// counts as last read, and since then how many were released.
    async fn step_broadcasts(
        &self,
        counted: &mut HashMap<i64, Counted>,
    ) -> Result<bool, StoreError> {
        let active = self.services.store.run(rows::active).await?;
        counted.retain(|id, _| active.iter().any(|b| b.id == *id));
        for broadcast in &active {
            if let Err(e) = self.step_broadcast(broadcast, counted).await {
                log::error!("broadcast {}: step failed, tried again: {e}", broadcast.id);
            }
        }
        Ok(!active.is_empty())
    }

    async fn step_broadcast(
        &self,
        broadcast: &BroadcastRow,
        counted: &mut HashMap<i64, Counted>,
    ) -> Result<(), StoreError> {
        let store = &self.services.store;
        let id = broadcast.id;
        if broadcast.expanded == 0 {
            self.expand_batch(broadcast).await?;
        }
        // Counting every row of a large broadcast each tick would cost more than sending: the
        // counts are read again every COUNT_EVERY, and meanwhile what was released is added.
        let fresh = counted
            .get(&id)
            .is_some_and(|c| c.at.elapsed() < COUNT_EVERY && c.expanded == broadcast.expanded);
        if !fresh {
            let counts = store.run(move |conn| rows::counts(conn, id)).await?;
            counted.insert(
                id,
                Counted {
                    counts,
                    expanded: broadcast.expanded,
                    at: Instant::now(),
                },
            );
        }
        let entry = counted
            .get_mut(&id)
            .ok_or_else(|| StoreError::Task("uncounted".into()))?;
        let counts = entry.counts;
        let now = now_ms();
        if !fresh && broadcast.expanded == 1 && counts.queued == 0 {
            let from = [rows::QUEUED, rows::RUNNING, rows::PAUSED];
            if store
                .run(move |conn| rows::set_state(conn, id, &from, rows::DONE))
                .await?
            {
                log::info!(
                    "broadcast {id}: done: {} sent, {} refused, {} failed",
                    counts.sent,
                    counts.refused,
                    counts.failed
                );
            }
            return Ok(());
        }
        let throttled = self.throttle.remaining(&broadcast.page_id).is_some();
        let (from, to) = if throttled {
            (rows::RUNNING, rows::PAUSED)
        } else {
            (rows::PAUSED, rows::RUNNING)
        };
        if broadcast.state == from {
            store
                .run(move |conn| rows::set_state(conn, id, &[from], to))
                .await?;
        }
        if throttled {
            return Ok(());
        }
        let cap = i64::from(broadcast.rate_per_sec).clamp(32, 1000);
        let row = broadcast.clone();
        let released = store
            .run(move |conn| rows::release(conn, &row, counts.released, cap, now))
            .await?;
        if released > 0 {
            entry.counts.released += i64::try_from(released).unwrap_or(i64::MAX);
            self.services.outbox.wake_handle().notify_one();
        }
        Ok(())
    }

    /// Expands the next batch of `broadcast`'s recipients into held outbox rows.
    async fn expand_batch(&self, broadcast: &BroadcastRow) -> Result<(), StoreError> {
        let store = &self.services.store;
        let page_id = broadcast.page_id.clone();
        let from = broadcast.expand_cursor.clone();
        // Each recipient with their locale, the cursor after them, and whether that is all.
        let (recipients, to, last): (Vec<(String, Option<String>)>, String, bool) =
            match (&broadcast.recipients, &broadcast.filter) {
                (Some(list), _) => {
                    let list: Vec<String> = serde_json::from_str(list)
                        .map_err(|e| StoreError::Task(format!("recipients unreadable: {e}")))?;
                    let start = from.parse::<usize>().unwrap_or(0).min(list.len());
                    let end = (start + EXPAND_BATCH).min(list.len());
                    let batch = list[start..end].to_vec();
                    let (page, psids) = (page_id.clone(), batch.clone());
                    let mut locales = store
                        .run(move |conn| rows::locales_of(conn, &page, &psids))
                        .await?;
                    let batch = batch
                        .into_iter()
                        .map(|psid| {
                            let locale = locales.remove(&psid);
                            (psid, locale)
                        })
                        .collect();
                    (batch, end.to_string(), end == list.len())
                }
                (None, filter) => {
                    let filter: Filter = match filter {
                        Some(f) => serde_json::from_str(f)
                            .map_err(|e| StoreError::Task(format!("filter unreadable: {e}")))?,
                        None => Filter::default(),
                    };
                    let since = filter.last_seen_within_days.map(|days| {
                        self.settings
                            .clock
                            .now_ms()
                            .saturating_sub(i64::from(days) * DAY_MS)
                    });
                    let (page, after) = (page_id.clone(), from.clone());
                    let limit = i64::try_from(EXPAND_BATCH).unwrap_or(i64::MAX);
                    let batch = store
                        .run(move |conn| {
                            rows::matching_users(conn, &page, &filter, since, &after, limit)
                        })
                        .await?;
                    let to = batch.last().map(|(p, _)| p.clone()).unwrap_or(from.clone());
                    let last = batch.len() < EXPAND_BATCH;
                    (batch, to, last)
                }
            };
        let messages = self.broadcast_messages(broadcast, recipients)?;
        let (id, n) = (broadcast.id, messages.len());
        let expanded = store
            .run(move |conn| rows::expand(conn, id, &from, &to, last, &messages))
            .await?;
        if expanded {
            log::info!(
                "broadcast {id}: {n} more recipients queued{}",
                if last { "; all expanded" } else { "" }
            );
        }
        Ok(())
    }

    /// The held outbox rows of `broadcast` to `recipients`, each localized for its user.
    fn broadcast_messages(
        &self,
        broadcast: &BroadcastRow,
        recipients: Vec<(String, Option<String>)>,
    ) -> Result<Vec<NewOutboxMessage>, StoreError> {
        let stored: Value = serde_json::from_str(&broadcast.message)
            .map_err(|e| StoreError::Task(format!("message unreadable: {e}")))?;
        let content = Content::from_json(&stored).map_err(|e| StoreError::Task(e.to_string()))?;
        let page = self.pages.find(Some(&broadcast.page_id));
        let mut texts: HashMap<Option<String>, String> = HashMap::new();
        let now = now_ms();
        let mut messages = Vec::with_capacity(recipients.len());
        for (psid, locale) in recipients {
            let message = match &content {
                Content::Message(message) => message.as_json().to_string(),
                Content::Fluent { id, args } => {
                    if !texts.contains_key(&locale) {
                        let Some(page) = page else {
                            return Err(StoreError::Task(format!(
                                "page {} is not configured: its Fluent message cannot be \
                                 localized",
                                broadcast.page_id
                            )));
                        };
                        let locales = page.bot().services.locales.clone();
                        // A locale without the message falls back to the Page's default.
                        let text = locales
                            .format(locale.as_deref(), id, args)
                            .or_else(|_| locales.format(None, id, args))
                            .map_err(|e| StoreError::Task(e.to_string()))?;
                        texts.insert(locale.clone(), json!({ "text": text }).to_string());
                    }
                    texts[&locale].clone()
                }
            };
            messages.push(NewOutboxMessage {
                page_id: broadcast.page_id.clone(),
                idempotency_key: Some(rows::message_key(broadcast.id, &psid)),
                psid,
                intent: broadcast.intent.clone(),
                tag: broadcast.tag.clone(),
                topic: broadcast.topic.clone(),
                message,
                state: QUEUED.to_owned(),
                attempts: 0,
                due_at: HELD,
                created_at: now,
            });
        }
        Ok(messages)
    }
}
