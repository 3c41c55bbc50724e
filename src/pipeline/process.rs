//! Processing one claimed event: classify, run its chains, deliver, record the outcome.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use super::Pipeline;
use super::journal::{ClaimEnd, Ending, Entry};
use super::retry::backoff;
use crate::context::{Context, Event, Outgoing};
use crate::conversation::{Conversation, ConversationState, ConversationWrite};
use crate::event::{Messaging, ReceivingType, classify};
use crate::graph::GraphError;
use crate::policy::{Policy, Then};
use crate::senders::SendError;
use crate::store::deliveries::{self, NewDelivery};
use crate::store::inbox::{self, InboxEvent, Status};
use crate::store::{StoreError, User, now_ms};

/// A claimed event, with the positions of its messages that earlier attempts delivered.
#[derive(Debug)]
pub struct Claimed {
    /// The event as claimed.
    pub event: InboxEvent,
    /// Messages Facebook already accepted for it: not sent again.
    pub sent: BTreeSet<i32>,
    /// Its sender's stored row, read with the claim (`Some(None)`: not stored; `None`: not
    /// read, as for an event without a sender).
    pub user: Option<Option<User>>,
    /// Its sender's conversation, read with the claim when the policy uses conversations
    /// (`Some(None)`: none stored; `None`: not read).
    pub conversation: Option<Option<ConversationState>>,
}

/// What an attempt sent: known before it starts, and noted as it goes.
struct Ledger {
    already_sent: BTreeSet<i32>,
    /// Delivery attempts not yet written to the database.
    unrecorded: Vec<NewDelivery>,
}

/// The messages an attempt built so far (`seq`, which numbers them across attempts) and
/// delivered.
struct Fired {
    seq: i32,
    sent: usize,
}

/// How processing an event ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every handler ran and every message was delivered.
    Done {
        /// The event's kind.
        kind: ReceivingType,
        /// Messages delivered by this attempt.
        sent: usize,
    },
    /// A permanent error: kept for inspection, not retried.
    Failed(String),
    /// A passing error: tried again after `after`.
    Retry {
        /// What went wrong.
        error: String,
        /// The delay before the next attempt.
        after: Duration,
    },
    /// A passing error on the last allowed attempt.
    Dead(String),
    /// The worker's lease ran out and another worker claimed the event: this attempt stopped
    /// and recorded nothing, the other worker's attempt counts.
    LeaseLost,
}

/// Why an attempt stopped early.
enum Stop {
    Permanent(String),
    Passing(String),
    /// The Page is rate-limited: try again after the pause, without using up an attempt.
    Throttled(String, Duration),
}

impl Stop {
    /// A handler or sender panicked: a bug, perhaps one that depends on the moment (a lock, a
    /// service), so the event is retried with backoff like a passing error, and dead-lettered
    /// after the last attempt instead of staying claimed until its lease runs out.
    fn panicked(what: &str, panic: Box<dyn std::any::Any + Send>) -> Self {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        Self::Passing(format!("{what} panicked: {message}"))
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Self::Passing(e.to_string())
    }
}

impl Pipeline {
    /// Processes one claimed event and records how it ended.
    ///
    /// While it runs, the claim's lease is renewed, so that a slow event is not claimed a
    /// second time; if the claim is lost anyway (the lease ran out while the database was
    /// unreachable, and another worker took the event), the attempt stops at once.
    pub async fn process(&self, claimed: Claimed) -> Outcome {
        let Claimed {
            event: row,
            sent,
            user,
            conversation,
        } = claimed;
        let id = row.id;
        let attempts = row.attempts;
        let bot = self.bot.load_full();
        let mut ledger = Ledger {
            already_sent: sent,
            unrecorded: Vec::new(),
        };
        let (kind, result, conversation) = tokio::select! {
            biased;
            done = self.attempt(&bot.policy, row, user, conversation, &mut ledger) => done,
            () = self.hold_lease(id, attempts) => {
                self.report(id, attempts, "UNKNOWN", &Outcome::LeaseLost);
                return Outcome::LeaseLost;
            }
        };
        let kind_name = kind.map(ReceivingType::as_str);
        // A throttled attempt was not the event's fault: it does not use up an attempt.
        let refund = matches!(result, Err(Stop::Throttled(..)));
        let outcome = match result {
            Ok(sent) => Outcome::Done {
                kind: kind.unwrap_or(ReceivingType::Unknown),
                sent,
            },
            Err(Stop::Permanent(e)) => Outcome::Failed(e),
            Err(Stop::Throttled(error, after)) => Outcome::Retry { error, after },
            Err(Stop::Passing(e)) if attempts >= self.settings.max_attempts => Outcome::Dead(e),
            Err(Stop::Passing(error)) => Outcome::Retry {
                error,
                after: backoff(self.settings.retry_base, attempts),
            },
        };
        let ending = match &outcome {
            Outcome::Done { .. } => Ending::Finish {
                status: Status::Done,
                error: None,
            },
            Outcome::Failed(e) => Ending::Finish {
                status: Status::Failed,
                error: Some(e.clone()),
            },
            Outcome::Dead(e) => Ending::Finish {
                status: Status::Dead,
                error: Some(e.clone()),
            },
            Outcome::Retry { error, after } => Ending::Retry {
                error: error.clone(),
                after_ms: i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
                refund,
            },
            Outcome::LeaseLost => return outcome,
        };
        // What the event did to the conversation counts only once it is done.
        let conversation = match outcome {
            Outcome::Done { .. } => conversation,
            _ => None,
        };
        let stored = self
            .journal
            .submit(Entry {
                deliveries: ledger.unrecorded,
                end: Some(ClaimEnd {
                    id,
                    attempts,
                    kind: kind_name,
                    ending,
                }),
                conversation,
            })
            .await;
        let kind_name = kind_name.unwrap_or("UNPARSED");
        match stored {
            Ok(true) => {
                self.report(id, attempts, kind_name, &outcome);
                outcome
            }
            Ok(false) => {
                self.report(id, attempts, kind_name, &Outcome::LeaseLost);
                Outcome::LeaseLost
            }
            Err(e) => {
                // The lease runs out and the event is claimed again: nothing is lost.
                log::error!("event {id}: outcome not recorded, it will be retried: {e}");
                outcome
            }
        }
    }

    /// Renews the claim's lease every third of its length; returns only once the claim is
    /// lost. A renewal that fails on a database error is tried again at the next tick.
    async fn hold_lease(&self, id: i64, attempts: i32) {
        let lease_ms = i64::try_from(self.settings.lease.as_millis()).unwrap_or(i64::MAX);
        let period = (self.settings.lease / 3).max(std::time::Duration::from_millis(50));
        loop {
            tokio::time::sleep(period).await;
            let renewed = self
                .services
                .store
                .run(move |conn| inbox::renew(conn, id, attempts, lease_ms))
                .await;
            match renewed {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => log::warn!("event {id}: lease not renewed, will try again: {e}"),
            }
        }
    }

    fn report(&self, id: i64, attempts: i32, kind: &str, outcome: &Outcome) {
        let metrics = &self.metrics;
        match outcome {
            Outcome::Done { sent, .. } => {
                metrics.processed(kind);
                log::info!("event {id} {kind}: done, {sent} sent");
            }
            Outcome::Failed(e) => {
                metrics.failed(kind);
                log::error!("event {id} {kind}: failed: {e}");
            }
            Outcome::Retry { error, after } => {
                metrics.retried(kind);
                log::warn!(
                    "event {id} {kind}: attempt {attempts} failed, retry in {after:?}: {error}"
                );
            }
            Outcome::Dead(e) => {
                metrics.dead(kind);
                log::error!("event {id} {kind}: dead after {attempts} attempts: {e}");
            }
            Outcome::LeaseLost => {
                log::warn!(
                    "event {id} {kind}: attempt {attempts} lost its lease to another worker; \
                     it stopped and recorded nothing"
                );
            }
        }
    }

    async fn attempt(
        &self,
        policy: &Policy,
        row: InboxEvent,
        user: Option<Option<User>>,
        conversation: Option<Option<ConversationState>>,
        ledger: &mut Ledger,
    ) -> (
        Option<ReceivingType>,
        Result<usize, Stop>,
        Option<ConversationWrite>,
    ) {
        let messaging: Messaging = match serde_json::from_str(&row.raw) {
            Ok(m) => m,
            Err(e) => {
                return (
                    None,
                    Err(Stop::Permanent(format!("not a Messenger event: {e}"))),
                    None,
                );
            }
        };
        let kind = classify(&messaging, policy.classify_config());
        let event = Event {
            inbox_id: row.id,
            page_id: row.page_id,
            psid: row.psid,
            kind,
            standby: row.standby != 0,
            messaging,
        };
        let mut cx = Context::new(event, self.services_now());
        if let Some(user) = user {
            cx = cx.with_prefetched_user(user);
        }
        if let Some(stored) = conversation {
            let loaded = Conversation::load(cx.conversation_key(), stored, cx.event_time(), {
                cx.idle_ms()
            });
            cx = cx.with_conversation(loaded);
        } else if policy.uses_conversations() {
            // No sender to key it by: it reads as empty and keeps nothing.
            let detached = Conversation::detached(cx.event_time());
            cx = cx.with_conversation(detached);
        }
        let result = self.run_chains(&mut cx, policy, kind, ledger).await;
        let write = cx
            .take_conversation()
            .and_then(|conversation| conversation.into_write(cx.event.inbox_id));
        (Some(kind), result, write)
    }

    /// Runs the default chain, then the type's, for the event in `cx`; returns how many
    /// messages this attempt delivered.
    ///
    /// With conversations: a link with `when` runs only if the user was at one of its steps
    /// when the event arrived; in a chain that has such links, the others run only when the
    /// user was at no step, unless they are `global`. A link that handled remembers first
    /// (what does not validate sends the step's `reask` senders instead of the link's own, and
    /// changes nothing else), then its senders fire, then it forgets and moves (`then`), and the
    /// `ask` senders of a step it moved to follow. At a step, when no link of the type's chain
    /// handled, the step asks again.
    async fn run_chains(
        &self,
        cx: &mut Context,
        policy: &Policy,
        kind: ReceivingType,
        ledger: &mut Ledger,
    ) -> Result<usize, Stop> {
        let mut out = Fired { seq: 0, sent: 0 };
        let at_step: Option<String> = cx
            .loaded_conversation()
            .and_then(|c| c.initial_step().map(str::to_owned));
        let mut asked_again = false;
        for (position, chain) in policy.chains(kind).enumerate() {
            let is_route = position > 0;
            let mut handled_any = false;
            let mut verdicts = chain.text_verdicts();
            for (i, link) in chain.links.iter().enumerate() {
                if link.fallback && handled_any {
                    continue;
                }
                if !link.runs_at(at_step.as_deref(), chain.flow) {
                    continue;
                }
                // The chain matched every link's text pattern at once: a link whose pattern
                // does not match would say no, so it is not asked (nor its regex compiled).
                if !verdicts.may_want(i, cx.text()) {
                    continue;
                }
                let wants =
                    std::panic::catch_unwind(AssertUnwindSafe(|| link.handler.should_handle(cx)))
                        .map_err(|panic| {
                        Stop::panicked(
                            &format!("handler {} (line {})", link.handler_name, link.line),
                            panic,
                        )
                    })?;
                if !wants {
                    continue;
                }
                let started = Instant::now();
                let handled = AssertUnwindSafe(link.handler.handle(cx))
                    .catch_unwind()
                    .await
                    .map_err(|panic| {
                        Stop::panicked(
                            &format!("handler {} (line {})", link.handler_name, link.line),
                            panic,
                        )
                    })?;
                // The row read with the claim is only good for the first handler that runs:
                // this one may have changed the user (set_locale, thumb_up).
                cx.forget_prefetched_user();
                self.metrics
                    .handler_time(&link.handler_name, started.elapsed());
                if let Err(e) = handled {
                    let message =
                        format!("handler {} (line {}): {e}", link.handler_name, link.line);
                    return Err(if e.is_retryable() {
                        Stop::Passing(message)
                    } else {
                        Stop::Permanent(message)
                    });
                }
                handled_any = true;
                // Another app owns the thread (Handover Protocol), or the event is one of the
                // Page's own messages echoed back: store, but do not answer.
                let quiet = cx.event.standby
                    || (kind == ReceivingType::Echo && !link.handler.answers_echoes());
                if let Some(remember) = &link.remember {
                    let value = remember.value(cx);
                    match (value, cx.loaded_conversation_mut()) {
                        (Some(value), Some(conversation)) => {
                            conversation.remember(remember.name.clone(), value);
                        }
                        (_, conversation) => {
                            // Not a value this step takes: ask again, change nothing else.
                            if let Some(conversation) = conversation {
                                conversation.touch();
                            }
                            asked_again = true;
                            if let Some(step) = at_step.as_deref().and_then(|s| policy.step(s))
                                && !quiet
                            {
                                self.fire(cx, step.reask_senders(), step.line, &mut out, ledger)
                                    .await?;
                            }
                            if link.stop {
                                break;
                            }
                            continue;
                        }
                    }
                }
                let senders = if quiet { &[][..] } else { &link.senders[..] };
                self.fire(cx, senders, link.line, &mut out, ledger).await?;
                if let Some(conversation) = cx.loaded_conversation_mut() {
                    for name in &link.forget {
                        conversation.forget(name);
                    }
                    match &link.then {
                        Some(Then::Step(step)) => conversation.set_step(step.clone()),
                        Some(Then::End) => conversation.end(),
                        None => {}
                    }
                }
                // A step entered (by `then`, or by the handler) asks its question.
                let entered = cx
                    .loaded_conversation_mut()
                    .and_then(|conversation| conversation.take_entered());
                if let Some(step) = entered.as_deref().and_then(|s| policy.step(s))
                    && !quiet
                {
                    self.fire(cx, &step.ask, step.line, &mut out, ledger)
                        .await?;
                }
                if link.stop {
                    break;
                }
            }
            // At a step, an event that no link of a flow's chain took gets the question again.
            if is_route
                && chain.flow
                && !handled_any
                && !asked_again
                && !cx.event.standby
                && let Some(step) = at_step.as_deref().and_then(|s| policy.step(s))
            {
                if let Some(conversation) = cx.loaded_conversation_mut() {
                    conversation.touch();
                }
                self.fire(cx, step.reask_senders(), step.line, &mut out, ledger)
                    .await?;
            }
        }
        Ok(out.sent)
    }

    /// Builds and delivers the messages of `senders` (written at `line`), skipping those an
    /// earlier attempt delivered.
    async fn fire(
        &self,
        cx: &Context,
        senders: &[std::sync::Arc<dyn crate::senders::Sender>],
        line: u32,
        out: &mut Fired,
        ledger: &mut Ledger,
    ) -> Result<(), Stop> {
        // Checked once here rather than in every sender: an event without a sender (e.g. a
        // checkbox opt-in, known only by its user_ref) has no one to answer.
        if !senders.is_empty() && cx.reply_to().is_empty() {
            return Err(Stop::Permanent(format!(
                "the senders of line {line}: {}",
                SendError::NoRecipient
            )));
        }
        for sender in senders {
            let messages = std::panic::catch_unwind(AssertUnwindSafe(|| sender.build(cx)))
                .map_err(|panic| Stop::panicked(&format!("a sender of line {line}"), panic))?
                .map_err(|e| Stop::Permanent(format!("a sender of line {line}: {e}")))?;
            for message in messages {
                let this = out.seq;
                out.seq += 1;
                if ledger.already_sent.contains(&this) {
                    continue;
                }
                self.deliver(cx, this, message, ledger).await?;
                out.sent += 1;
            }
        }
        Ok(())
    }

    /// Sends one message and notes the attempt in the ledger, whatever its outcome.
    ///
    /// The previous message's record is committed before this one is sent, so that a retry
    /// after a crash resends at most the last message; the last record is committed with the
    /// event's outcome.
    async fn deliver(
        &self,
        cx: &Context,
        seq: i32,
        message: Outgoing,
        ledger: &mut Ledger,
    ) -> Result<(), Stop> {
        let page = cx.event.page_id.clone().unwrap_or_default();
        if let Some(left) = self.throttle.remaining(&page) {
            return Err(Stop::Throttled(
                format!("the Page is rate-limited for {left:?} more"),
                left,
            ));
        }
        if !ledger.unrecorded.is_empty() {
            self.journal
                .submit(Entry {
                    deliveries: std::mem::take(&mut ledger.unrecorded),
                    end: None,
                    conversation: None,
                })
                .await?;
        }
        let event_id = cx.event.inbox_id;
        let started = Instant::now();
        let result = self.services.graph.send(message.body()).await;
        self.metrics.graph_send_time(started.elapsed());
        let mut record = NewDelivery {
            event_id,
            seq,
            psid: cx.event.psid.clone(),
            request: message.body().to_string(),
            status: deliveries::SENT.to_owned(),
            message_id: None,
            error_code: None,
            error_subcode: None,
            error_message: None,
            fbtrace_id: None,
            created_at: now_ms(),
        };
        let stop = match &result {
            Ok(response) => {
                record.message_id = response.message_id.clone();
                None
            }
            Err(e) => {
                self.metrics.graph_error(error_label(e));
                record.status = deliveries::FAILED.to_owned();
                record.error_code = e.code();
                record.error_subcode = e.subcode();
                record.error_message = Some(e.to_string());
                record.fbtrace_id = e.fbtrace_id().map(str::to_owned);
                Some(self.classify_send_error(&page, e))
            }
        };
        ledger.unrecorded.push(record);
        match stop {
            None => Ok(()),
            Some(stop) => Err(stop),
        }
    }

    fn classify_send_error(&self, page: &str, e: &GraphError) -> Stop {
        let message = format!("send: {e}");
        if e.is_rate_limit() {
            let pause = self.settings.rate_limit_pause;
            self.throttle.pause(page, pause);
            log::warn!(
                "Page rate-limited by Facebook (code {:?}): sends pause for {pause:?}",
                e.code()
            );
            Stop::Throttled(message, pause)
        } else if e.is_retryable() {
            Stop::Passing(message)
        } else {
            Stop::Permanent(message)
        }
    }
}

/// A bounded label for a Graph error.
fn error_label(e: &GraphError) -> String {
    match (e.code(), e.http_status()) {
        (Some(code), _) => code.to_string(),
        (None, Some(status)) => format!("http_{status}"),
        (None, None) => "transport".to_owned(),
    }
}
