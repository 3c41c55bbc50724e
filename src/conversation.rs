//! Conversations: a user's current step in a multi-step flow and the values the bot remembered
//! for them, as one event sees and changes them.
//!
//! routing.yaml drives most flows by itself (`steps:`, and on links `when`, `then`,
//! `remember`, `forget`; README, "Conversations"). A handler of your own reads and changes
//! the same state through [`Context::conversation`](crate::Context::conversation):
//!
//! ```
//! use pagebot::{Context, Handler, HandlerError};
//!
//! /// Asks for a city, then remembers the answer and moves on.
//! struct City;
//!
//! #[async_trait::async_trait]
//! impl Handler for City {
//!     async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
//!         let text = cx.text().unwrap_or_default().trim().to_owned();
//!         let conversation = cx.conversation().await?;
//!         match conversation.step() {
//!             Some("ask_city") if !text.is_empty() => {
//!                 conversation.remember("city", text);
//!                 conversation.set_step("ask_date");
//!             }
//!             Some(_) => {}
//!             None => conversation.set_step("ask_city"),
//!         }
//!         Ok(())
//!     }
//! }
//! ```
//!
//! Changes are staged: the pipeline writes them in the transaction that records the event as
//! done, with its deliveries. An attempt that fails (and is retried), or a worker that dies,
//! changes nothing; the retry reads the state again and decides again. A remembered value is a
//! variable for every sender, `{memory.NAME}`, from the moment it is remembered.

pub use crate::store::conversations::{ConversationState, ConversationWrite, Remembered};

/// One user's conversation as the event in hand sees it, with the changes it staged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// (Page id, PSID); `None` for an event without a sender, whose changes are dropped.
    key: Option<(String, String)>,
    /// The state with this event's changes.
    state: ConversationState,
    /// The step the user was at when the event arrived (after expiry).
    initial_step: Option<String>,
    /// The event's time (epoch ms): when values are set.
    at: i64,
    /// Whether anything must be written.
    dirty: bool,
    /// Whether the stored state had expired (idle too long) and reads as empty.
    expired: bool,
    /// The step most recently set and not yet taken by the pipeline (whose `ask` senders run).
    entered: Option<String>,
}

impl Conversation {
    /// The conversation of `key` as `stored` holds it, seen by an event at `at` (epoch ms): an
    /// expired one (idle for more than `idle_ms`) reads as empty.
    pub(crate) fn load(
        key: Option<(String, String)>,
        stored: Option<ConversationState>,
        at: i64,
        idle_ms: i64,
    ) -> Self {
        let (state, expired) = match stored {
            Some(state) if state.expired_at(at, idle_ms) => (ConversationState::default(), true),
            Some(state) => (state, false),
            None => (ConversationState::default(), false),
        };
        Self {
            key,
            initial_step: state.step.clone(),
            state,
            at,
            dirty: false,
            expired,
            entered: None,
        }
    }

    /// A conversation with nothing stored, for an event at `at` without a sender: it reads as
    /// empty and what is staged on it is dropped.
    pub(crate) fn detached(at: i64) -> Self {
        Self::load(None, None, at, i64::MAX)
    }

    /// The current step, if any (this event's changes included).
    pub fn step(&self) -> Option<&str> {
        self.state.step.as_deref()
    }

    /// The step the user was at when this event arrived: what `when: { step: ... }` looks at.
    pub fn initial_step(&self) -> Option<&str> {
        self.initial_step.as_deref()
    }

    /// The remembered value called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.state.memory.get(name).map(|r| r.value.as_str())
    }

    /// The remembered value called `name` with the time it was set.
    pub fn remembered(&self, name: &str) -> Option<&Remembered> {
        self.state.memory.get(name)
    }

    /// Every remembered value, by name.
    pub fn values(&self) -> impl Iterator<Item = (&str, &Remembered)> {
        self.state.memory.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The whole state, this event's changes included.
    pub fn state(&self) -> &ConversationState {
        &self.state
    }

    /// Whether the stored conversation had been idle longer than the idle time, so that this
    /// event started from nothing.
    pub fn expired(&self) -> bool {
        self.expired
    }

    /// Whether this event changed anything (then it is written with the event's outcome).
    pub fn is_changed(&self) -> bool {
        self.dirty
    }

    /// Moves the conversation to `step` (the step's `ask` senders, if routing.yaml declares
    /// any, run after the senders of the link whose handler called this).
    pub fn set_step(&mut self, step: impl Into<String>) {
        let step = step.into();
        self.state.step = Some(step.clone());
        self.state.step_set_at = Some(self.at);
        self.entered = Some(step);
        self.changed();
    }

    /// Leaves the current step; remembered values stay.
    pub fn clear_step(&mut self) {
        if self.state.step.is_some() {
            self.state.step = None;
            self.state.step_set_at = None;
            self.entered = None;
            self.changed();
        }
    }

    /// Remembers `value` as `name` (a variable `{memory.NAME}` for the senders from now on).
    pub fn remember(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.state.memory.insert(
            name.into(),
            Remembered {
                value: value.into(),
                set_at: self.at,
            },
        );
        self.changed();
    }

    /// Forgets the value called `name`.
    pub fn forget(&mut self, name: &str) {
        if self.state.memory.remove(name).is_some() {
            self.changed();
        }
    }

    /// Ends the conversation: no step, nothing remembered.
    pub fn end(&mut self) {
        if !self.state.is_empty() {
            self.state = ConversationState::default();
            self.entered = None;
            self.changed();
        }
    }

    /// Keeps the conversation alive without changing it (a question asked again): the idle
    /// time counts from this event.
    pub(crate) fn touch(&mut self) {
        if !self.state.is_empty() {
            self.changed();
        }
    }

    /// The step set since the last call, if any.
    pub(crate) fn take_entered(&mut self) -> Option<String> {
        self.entered.take()
    }

    /// What must be written with the event's outcome, if anything changed.
    pub(crate) fn into_write(self, event_id: i64) -> Option<ConversationWrite> {
        if !self.dirty {
            return None;
        }
        let (page_id, psid) = self.key?;
        Some(ConversationWrite {
            page_id,
            psid,
            state: self.state,
            event_id,
        })
    }

    fn changed(&mut self) {
        self.dirty = true;
        self.state.active_at = self.state.active_at.max(self.at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(step: &str, active_at: i64) -> ConversationState {
        ConversationState {
            step: Some(step.into()),
            step_set_at: Some(active_at),
            memory: [(
                "size".to_owned(),
                Remembered {
                    value: "L".into(),
                    set_at: active_at,
                },
            )]
            .into(),
            active_at,
        }
    }

    fn key() -> Option<(String, String)> {
        Some(("page".into(), "u1".into()))
    }

    #[test]
    fn an_unchanged_conversation_writes_nothing() {
        let c = Conversation::load(key(), Some(stored("ask", 1_000)), 2_000, 60_000);
        assert_eq!(c.step(), Some("ask"));
        assert_eq!(c.get("size"), Some("L"));
        assert!(!c.is_changed());
        assert_eq!(c.into_write(7), None);
    }

    #[test]
    fn an_idle_conversation_reads_as_empty_and_starts_afresh() {
        let mut c = Conversation::load(key(), Some(stored("ask", 1_000)), 62_000, 60_000);
        assert!(c.expired());
        assert_eq!(
            (c.step(), c.get("size"), c.initial_step()),
            (None, None, None)
        );
        c.remember("email", "a@b.c");
        let write = c.into_write(7).unwrap();
        assert_eq!(write.state.step, None);
        assert_eq!(write.state.memory["email"].value, "a@b.c");
        assert_eq!(write.state.memory["email"].set_at, 62_000);
        assert_eq!(write.state.active_at, 62_000);
        assert_eq!(write.event_id, 7);
    }

    #[test]
    fn changes_are_staged_in_order_and_end_clears_everything() {
        let mut c = Conversation::load(key(), Some(stored("ask", 1_000)), 2_000, 60_000);
        c.set_step("confirm");
        assert_eq!(c.take_entered().as_deref(), Some("confirm"));
        assert_eq!(c.take_entered(), None);
        assert_eq!(c.initial_step(), Some("ask"));
        c.forget("size");
        c.remember("address", "1 Main St");
        assert_eq!(c.step(), Some("confirm"));
        assert_eq!(c.get("address"), Some("1 Main St"));
        c.end();
        assert!(c.state().is_empty());
        // An ended conversation is written as empty: its row is deleted.
        assert!(c.into_write(8).unwrap().state.is_empty());
    }

    #[test]
    fn a_conversation_without_a_sender_drops_its_changes() {
        let mut c = Conversation::detached(5);
        c.set_step("ask");
        assert_eq!(c.step(), Some("ask"));
        assert_eq!(c.into_write(1), None);
    }
}
