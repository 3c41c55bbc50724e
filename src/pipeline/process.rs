//! Processing one claimed event: classify, run its chains, deliver, record the outcome.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use super::Pipeline;
use super::journal::{ClaimEnd, Ending, Entry};
use super::retry::{backoff, commit_backoff};
use crate::context::{Context, Event, Outgoing};
use crate::conversation::{Conversation, ConversationState, ConversationWrite};
use crate::event::{Messaging, ReceivingType, classify};
use crate::graph::GraphError;
use crate::pages::{Page, PageBot};
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
struct Ledger<'a> {
    already_sent: BTreeSet<i32>,
    /// Delivery attempts not yet written to the database.
    unrecorded: Vec<NewDelivery>,
    /// The claim's lease, while which a commit that failed is tried again.
    lease: &'a Lease,
}

/// The claim's lease as this worker knows it: the lease is a time in the database
/// (`locked_until`), and until it passes no other worker can claim the event, whether or not
/// the database can be reached meanwhile. It is known to reach at least as far as the last
/// successful claim or renewal plus the lease's length (counted from before the statement
/// was sent).
struct Lease {
    id: i64,
    attempts: i32,
    /// The lease's length.
    length_ms: i64,
    /// Until when (epoch ms) the lease surely holds; 0 once the claim is known to be lost.
    until_ms: AtomicI64,
}

impl Lease {
    fn new(row: &InboxEvent, length: Duration) -> Self {
        let length_ms = i64::try_from(length.as_millis()).unwrap_or(i64::MAX);
        Self {
            id: row.id,
            attempts: row.attempts,
            length_ms,
            until_ms: AtomicI64::new(
                row.locked_until
                    .unwrap_or_else(|| now_ms().saturating_add(length_ms)),
            ),
        }
    }

    /// A renewal asked at `asked_at_ms` succeeded.
    fn renewed(&self, asked_at_ms: i64) {
        let until = asked_at_ms.saturating_add(self.length_ms);
        // Not over a lease known lost.
        let _ = self
            .until_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                (held != 0 && until > held).then_some(until)
            });
    }

    /// Another worker has the event (or it was finished): nothing more is tried.
    fn lost(&self) {
        self.until_ms.store(0, Ordering::SeqCst);
    }

    /// How much longer a commit may be tried again: until the lease may run out, less a
    /// margin for the clocks of other instances and for the try in flight. `None` once that
    /// time has passed.
    fn left(&self) -> Option<Duration> {
        let margin = (self.length_ms / 10).min(LEASE_MARGIN_MS);
        let left = self
            .until_ms
            .load(Ordering::SeqCst)
            .saturating_sub(margin)
            .saturating_sub(now_ms());
        (left > 0).then(|| Duration::from_millis(u64::try_from(left).unwrap_or(0)))
    }
}

/// The most of its lease a claim keeps back from retrying a commit (a tenth of it when that
/// is less).
const LEASE_MARGIN_MS: i64 = 5_000;

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
pub(super) enum Stop {
    Permanent(String),
    Passing(String),
    /// The Page is rate-limited: try again after the pause, without using up an attempt.
    Throttled(String, Duration),
    /// No Page served here has the event's page id: a dead letter at once, to replay once
    /// the Page is configured.
    NotConfigured(String),
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
        let page = self.pages.find(row.page_id.as_deref());
        let label = self.pages.label_of(row.page_id.as_deref()).to_owned();
        let lease = Lease::new(&row, self.settings.lease);
        let mut ledger = Ledger {
            already_sent: sent,
            unrecorded: Vec::new(),
            lease: &lease,
        };
        let (kind, result, conversation) = match page {
            None => {
                let page_id = row.page_id.as_deref().unwrap_or("(none)");
                let why = format!("page {page_id} is not configured");
                (None, Err(Stop::NotConfigured(why)), None)
            }
            Some(page) => {
                let bot = page.bot();
                let attempt = self.attempt(&bot, row, user, conversation, &mut ledger);
                tokio::select! {
                    biased;
                    done = attempt => done,
                    () = self.hold_lease(&lease) => {
                        self.report(id, attempts, &label, "UNKNOWN", &Outcome::LeaseLost);
                        return Outcome::LeaseLost;
                    }
                }
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
            Err(Stop::NotConfigured(e)) => Outcome::Dead(e),
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
        let entry = Entry {
            deliveries: ledger.unrecorded,
            end: Some(ClaimEnd {
                id,
                attempts,
                kind: kind_name,
                ending,
            }),
            conversation,
        };
        // The lease is renewed while the commit is tried (again, if the database is out of
        // reach), and the commit is awaited even if a renewal finds the claim lost: its answer
        // says whether the claim still held when it was written.
        let commit = self.commit(entry, &lease);
        tokio::pin!(commit);
        let stored = tokio::select! {
            biased;
            stored = &mut commit => stored,
            () = self.hold_lease(&lease) => commit.await,
        };
        let kind_name = kind_name.unwrap_or("UNPARSED");
        match stored {
            Ok(true) => {
                if let Outcome::Retry { after, .. } = &outcome {
                    // Due `after` from the commit, which is over: from now is no earlier.
                    let after_ms = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
                    self.due.add(now_ms().saturating_add(after_ms));
                }
                self.report(id, attempts, &label, kind_name, &outcome);
                outcome
            }
            Ok(false) => {
                self.report(id, attempts, &label, kind_name, &Outcome::LeaseLost);
                Outcome::LeaseLost
            }
            Err(e) => {
                // Tried while the lease surely held: the event is claimed again once it runs
                // out, and nothing is lost (what Facebook accepted and was not recorded is
                // sent again).
                log::error!(
                    "event {id}: outcome not recorded, and the lease may run out: it will be \
                     claimed again: {e}"
                );
                outcome
            }
        }
    }

    /// Renews the claim's lease every third of its length; returns only once the claim is
    /// lost. A renewal that fails (the database out of reach) is tried again soon, with
    /// backoff ([`commit_backoff`]), so that the lease is renewed as soon as the database is
    /// back.
    async fn hold_lease(&self, lease: &Lease) {
        let (id, attempts, lease_ms) = (lease.id, lease.attempts, lease.length_ms);
        let period = (self.settings.lease / 3).max(Duration::from_millis(50));
        let mut failures = 0;
        let mut pause = period;
        loop {
            tokio::time::sleep(pause).await;
            let asked_at = now_ms();
            let renewed = self.renew(id, attempts, lease_ms).await;
            match renewed {
                Ok(true) => {
                    lease.renewed(asked_at);
                    if failures > 0 {
                        log::info!("event {id}: lease renewed again after {failures} failures");
                    }
                    failures = 0;
                    pause = period;
                }
                Ok(false) => {
                    lease.lost();
                    return;
                }
                Err(e) => {
                    failures += 1;
                    pause = commit_backoff(failures).min(period);
                    if failures == 1 {
                        log::warn!("event {id}: lease not renewed, trying again: {e}");
                    }
                }
            }
        }
    }

    /// Extends the lease to `lease_ms` from now if the claim still holds ([`inbox::renew`]).
    async fn renew(&self, id: i64, attempts: i32, lease_ms: i64) -> Result<bool, StoreError> {
        #[cfg(test)]
        if let Some(e) = self.faults.inject_renewal() {
            return Err(e);
        }
        self.services
            .store
            .run(move |conn| inbox::renew(conn, id, attempts, lease_ms))
            .await
    }

    /// Commits `entry` through the journal; if that fails, tries it again with backoff
    /// (100 ms doubling to 2 s) for as long as the claim's lease surely holds, so that a
    /// database outage shorter than the lease loses no record of what Facebook accepted (an
    /// event claimed again would send it a second time). Returns what the journal answered,
    /// or the last error once the lease may have run out (or at once if the error cannot
    /// pass).
    async fn commit(&self, entry: Entry, lease: &Lease) -> Result<bool, StoreError> {
        let id = lease.id;
        let mut failures: u32 = 0;
        loop {
            let error = match self.submit(entry.clone()).await {
                Ok(held) => {
                    if failures > 0 {
                        log::info!("event {id}: committed after {failures} failed tries");
                    }
                    return Ok(held);
                }
                Err(e) => e,
            };
            failures += 1;
            if error.is_permanent() {
                return Err(error);
            }
            let Some(left) = lease.left() else {
                return Err(error);
            };
            if failures == 1 {
                log::warn!(
                    "event {id}: commit failed, trying again while the lease holds (for \
                     {left:?} at most): {error}"
                );
            }
            tokio::time::sleep(commit_backoff(failures).min(left)).await;
        }
    }

    /// Hands `entry` to the journal (whose group commit answers once it is written).
    async fn submit(&self, entry: Entry) -> Result<bool, StoreError> {
        #[cfg(test)]
        if let Some(e) = self.faults.inject(&entry) {
            return Err(e);
        }
        self.journal.submit(entry).await
    }

    fn report(&self, id: i64, attempts: i32, page: &str, kind: &str, outcome: &Outcome) {
        let metrics = &self.metrics;
        match outcome {
            Outcome::Done { sent, .. } => {
                metrics.processed(page, kind);
                log::info!("event {id} {kind}: done, {sent} sent");
            }
            Outcome::Failed(e) => {
                metrics.failed(page, kind);
                log::error!("event {id} {kind}: failed: {e}");
            }
            Outcome::Retry { error, after } => {
                metrics.retried(page, kind);
                log::warn!(
                    "event {id} {kind}: attempt {attempts} failed, retry in {after:?}: {error}"
                );
            }
            Outcome::Dead(e) => {
                metrics.dead(page, kind);
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
        bot: &PageBot,
        row: InboxEvent,
        user: Option<Option<User>>,
        conversation: Option<Option<ConversationState>>,
        ledger: &mut Ledger<'_>,
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
        let policy = &*bot.policy;
        let kind = classify(&messaging, policy.classify_config());
        let event = Event {
            inbox_id: row.id,
            page_id: row.page_id,
            psid: row.psid,
            kind,
            standby: row.standby != 0,
            messaging,
        };
        let mut cx = Context::new(event, bot.services.clone());
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
        ledger: &mut Ledger<'_>,
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
        ledger: &mut Ledger<'_>,
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
    /// event's outcome. A commit that fails is tried again while the lease holds
    /// ([`Pipeline::commit`]); if it cannot be made in time, the attempt stops before sending
    /// more, and the records are tried once more with the outcome.
    async fn deliver(
        &self,
        cx: &Context,
        seq: i32,
        message: Outgoing,
        ledger: &mut Ledger<'_>,
    ) -> Result<(), Stop> {
        let page_id = cx.event.page_id.clone().unwrap_or_default();
        let page = self.pages.find(cx.event.page_id.as_deref());
        let label = self.pages.label_of(cx.event.page_id.as_deref());
        if let Some(left) = self.throttle.remaining(&page_id) {
            return Err(Stop::Throttled(
                format!("the Page is rate-limited for {left:?} more"),
                left,
            ));
        }
        if !ledger.unrecorded.is_empty() {
            let entry = Entry {
                deliveries: ledger.unrecorded.clone(),
                end: None,
                conversation: None,
            };
            self.commit(entry, ledger.lease).await?;
            ledger.unrecorded.clear();
        }
        let event_id = cx.event.inbox_id;
        let started = Instant::now();
        let result = cx.graph().send(message.body()).await;
        self.metrics.graph_send_time(started.elapsed());
        let mut record = NewDelivery {
            event_id,
            seq,
            page_id: page_id.clone(),
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
                self.metrics.graph_error(label, error_label(e));
                record.status = deliveries::FAILED.to_owned();
                record.error_code = e.code();
                record.error_subcode = e.subcode();
                record.error_message = Some(e.to_string());
                record.fbtrace_id = e.fbtrace_id().map(str::to_owned);
                Some(self.classify_send_error(&page_id, page, e))
            }
        };
        ledger.unrecorded.push(record);
        match stop {
            None => Ok(()),
            Some(stop) => Err(stop),
        }
    }

    /// What a failed send means for the event, and for its Page: a rate limit or a rejected
    /// token pauses that Page's sends (only that Page's: `page_id` keys the throttle).
    pub(super) fn classify_send_error(
        &self,
        page_id: &str,
        page: Option<&Page>,
        e: &GraphError,
    ) -> Stop {
        let message = format!("send: {e}");
        let name = page.map_or(page_id, |page| page.name());
        if e.is_rate_limit() {
            let pause = rate_limit_pause(e, self.settings.rate_limit_pause);
            self.throttle.pause(page_id, pause);
            log::warn!(
                "page {name}: rate-limited by Facebook (error {}): its sends pause for {pause:?}",
                error_label(e)
            );
            Stop::Throttled(message, pause)
        } else if e.code() == Some(TOKEN_REJECTED) {
            // Every send of the Page fails alike until its token is replaced: the events wait,
            // without using up their attempts, and the Page is tried again after the pause
            // (the Page's Graph client noted the rejection for /readyz).
            let pause = self.settings.rate_limit_pause;
            self.throttle.pause(page_id, pause);
            Stop::Throttled(message, pause)
        } else if e.is_retryable() {
            Stop::Passing(message)
        } else {
            Stop::Permanent(message)
        }
    }
}

/// Graph's code for an access token it does not accept (invalid, expired, revoked).
const TOKEN_REJECTED: i64 = 190;

/// The shortest pause a `Retry-After` header can ask for: `0` would retry at once, and a
/// throttled attempt does not use up the event's attempts.
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);
/// The longest: the cap of the backoff. A proxy asking for a day does not stop the bot a day.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// How long a Page pauses after the rate limit `e`: what its `Retry-After` asked for, within
/// [`MIN_RETRY_AFTER`] and [`MAX_RETRY_AFTER`], else the configured pause.
fn rate_limit_pause(e: &GraphError, configured: Duration) -> Duration {
    e.retry_after().map_or(configured, |after| {
        after.clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER)
    })
}

/// A bounded label for a Graph error: its code (`613`), `http_<status>` for an answer without
/// a Graph error (`http_429`, `http_503`; any status outside 400-599 is `http_other`),
/// `transport`, `decode` or `config`.
fn error_label(e: &GraphError) -> String {
    match e {
        GraphError::Api { code, .. } => code.to_string(),
        GraphError::Http { status, .. } if (400..600).contains(status) => format!("http_{status}"),
        GraphError::Http { .. } => "http_other".to_owned(),
        GraphError::Transport(_) => "transport".to_owned(),
        GraphError::Decode(_) => "decode".to_owned(),
        GraphError::NotConfigured | GraphError::Config(_) => "config".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, retry_after: Option<Duration>) -> GraphError {
        GraphError::Http {
            status,
            retry_after,
        }
    }

    #[test]
    fn a_retry_after_sets_the_pause_within_bounds() {
        let configured = Duration::from_secs(60);
        let secs = Duration::from_secs;
        for (retry_after, pause) in [
            (None, secs(60)),
            (Some(secs(30)), secs(30)),
            (Some(secs(120)), secs(120)),
            (Some(Duration::ZERO), MIN_RETRY_AFTER),
            (Some(secs(86_400)), MAX_RETRY_AFTER),
            (Some(Duration::MAX), MAX_RETRY_AFTER),
        ] {
            assert_eq!(
                rate_limit_pause(&http(429, retry_after), configured),
                pause,
                "{retry_after:?}"
            );
        }
    }

    #[test]
    fn error_labels_are_bounded_and_say_what_failed() {
        let api = GraphError::Api {
            status: 400,
            code: 613,
            subcode: None,
            kind: None,
            message: String::new(),
            fbtrace_id: None,
        };
        for (error, label) in [
            (api, "613"),
            (http(429, Some(Duration::from_secs(5))), "http_429"),
            (http(503, None), "http_503"),
            (http(302, None), "http_other"),
            (GraphError::Transport("reset".into()), "transport"),
            (GraphError::Decode("x".into()), "decode"),
            (GraphError::NotConfigured, "config"),
            (GraphError::Config("x".into()), "config"),
        ] {
            assert_eq!(error_label(&error), label, "{error:?}");
        }
    }
}
