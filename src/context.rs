//! What the pipeline hands every handler and sender for one event.
//!
//! Handlers read the event, store what matters through [`Context::store`] and leave values in
//! [`Context::vars`] for the senders (regex captures, say). They read and move the user's
//! [conversation](crate::conversation) with [`Context::conversation`]. Senders read the
//! context and build messages; they never do I/O.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::conversation::Conversation;
use crate::event::{Messaging, ReceivingType};
use crate::graph::{GraphClient, GraphError, UserProfile};
use crate::i18n::{I18nError, Locales};
use crate::senders::{Action, Message};
use crate::store::group_commit::GroupCommit;
use crate::store::users::NewProfiledUser;
use crate::store::{Store, StoreError, User};

/// The services a context gives access to, shared by all events.
#[derive(Debug, Clone)]
pub struct Services {
    /// The database.
    pub store: Store,
    /// Where new users are stored, with other workers' new users in one commit.
    pub new_users: GroupCommit<NewProfiledUser>,
    /// The Graph API (handlers may read profiles; only the pipeline sends).
    pub graph: GraphClient,
    /// The Fluent bundles.
    pub locales: Arc<Locales>,
    /// How long a fetched profile is trusted.
    pub profile_ttl: Duration,
    /// How long a conversation stays at its step without activity before it starts afresh.
    pub conversation_idle: Duration,
    /// Where messages the bot starts are queued.
    pub outbox: crate::outbox::Outbox,
}

/// One classified event from the inbox.
#[derive(Debug, Clone)]
pub struct Event {
    /// The inbox row id.
    pub inbox_id: i64,
    /// The Page it was sent to.
    pub page_id: Option<String>,
    /// The sender's PSID (or chat-plugin `user_ref`).
    pub psid: Option<String>,
    /// What kind of event it is.
    pub kind: ReceivingType,
    /// Whether it came through `standby` (another app owns the thread).
    pub standby: bool,
    /// The parsed item.
    pub messaging: Messaging,
}

/// The state of one event as it passes through a chain.
#[derive(Debug)]
pub struct Context {
    /// The event.
    pub event: Event,
    /// The stored user, once a handler (usually `user_profile`) loaded it.
    pub user: Option<User>,
    /// Values for senders: `user.first_name`, regex captures as `match.1` / `match.NAME`, ...
    pub vars: BTreeMap<String, String>,
    /// The sender's stored row as the pipeline read it with the claim (`Some(None)`: not
    /// stored), so that `user_profile` need not read it again; taken by the first reader.
    prefetched_user: Option<Option<User>>,
    /// The user's conversation, once loaded (with the claim, or by the first handler asking).
    conversation: Option<Conversation>,
    /// The inbox id as text, for `{event.id}`.
    event_id: String,
    /// Drafts a handler queued for this event so far (their idempotency keys count them).
    drafts: std::sync::atomic::AtomicU32,
    services: Arc<Services>,
}

impl Context {
    /// A context for `event`.
    pub fn new(event: Event, services: Arc<Services>) -> Self {
        Self {
            event_id: event.inbox_id.to_string(),
            event,
            user: None,
            vars: BTreeMap::new(),
            prefetched_user: None,
            conversation: None,
            drafts: std::sync::atomic::AtomicU32::new(0),
            services,
        }
    }

    /// Hands the context the user's conversation, as read with the claim.
    pub(crate) fn with_conversation(mut self, conversation: Conversation) -> Self {
        self.conversation = Some(conversation);
        self
    }

    /// The user's conversation (their step and remembered values, with what this event staged),
    /// read from the database the first time it is asked for.
    ///
    /// What a handler changes on it is written with the event's outcome, once the event is
    /// done: see [`crate::conversation`]. A policy with steps, or a handler whose
    /// [`Handler::uses_conversation`](crate::Handler::uses_conversation) says yes, has it
    /// read with the claim, and then [`Context::loaded_conversation`] has it from the start.
    pub async fn conversation(&mut self) -> Result<&mut Conversation, StoreError> {
        if self.conversation.is_none() {
            let at = self.event_time();
            let loaded = match self.conversation_key() {
                None => Conversation::detached(at),
                Some(key) => {
                    let (page_id, psid) = key.clone();
                    let stored = self
                        .store()
                        .run(move |conn| crate::store::conversations::find(conn, &page_id, &psid))
                        .await?;
                    Conversation::load(Some(key), stored, at, self.idle_ms())
                }
            };
            self.conversation = Some(loaded);
        }
        Ok(self
            .conversation
            .get_or_insert_with(|| Conversation::detached(0)))
    }

    /// The user's conversation if it was read already (always, in a policy with steps).
    pub fn loaded_conversation(&self) -> Option<&Conversation> {
        self.conversation.as_ref()
    }

    /// [`Context::loaded_conversation`], to change.
    pub(crate) fn loaded_conversation_mut(&mut self) -> Option<&mut Conversation> {
        self.conversation.as_mut()
    }

    /// The conversation, with what this event staged, for the pipeline to write.
    pub(crate) fn take_conversation(&mut self) -> Option<Conversation> {
        self.conversation.take()
    }

    /// A remembered value of the user's conversation, if it was read and holds one.
    pub fn memory(&self, name: &str) -> Option<&str> {
        self.conversation.as_ref().and_then(|c| c.get(name))
    }

    /// The key of the user's conversation: the Page's id (`""` when the event names none) and
    /// the sender's PSID; `None` for an event without a sender.
    pub fn conversation_key(&self) -> Option<(String, String)> {
        let psid = self.event.psid.clone()?;
        Some((self.event.page_id.clone().unwrap_or_default(), psid))
    }

    /// The event's own time (epoch ms), or now for an event without one.
    pub(crate) fn event_time(&self) -> i64 {
        self.event
            .messaging
            .timestamp
            .unwrap_or_else(crate::store::now_ms)
    }

    /// How long a conversation may stay idle, in ms.
    pub(crate) fn idle_ms(&self) -> i64 {
        i64::try_from(self.services.conversation_idle.as_millis()).unwrap_or(i64::MAX)
    }

    /// Hands the context the sender's stored row (`None`: not stored) read with the claim.
    pub(crate) fn with_prefetched_user(mut self, user: Option<User>) -> Self {
        self.prefetched_user = Some(user);
        self
    }

    /// The sender's stored row as read with the claim, once: `Some(None)` if they were not
    /// stored then, `None` if it was not read, was taken already, or a handler ran before
    /// (the pipeline forgets it then). Only the handler that stores users should take it.
    pub(crate) fn take_prefetched_user(&mut self) -> Option<Option<User>> {
        self.prefetched_user.take()
    }

    /// Drops the row read with the claim, once a handler ran that may have changed it.
    pub(crate) fn forget_prefetched_user(&mut self) {
        self.prefetched_user = None;
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.services.store
    }

    /// Where a handler queues a message the bot starts (a notification, a human agent's
    /// answer): committed when [`EventOutbox::send`](crate::outbox::EventOutbox::send)
    /// returns, once per draft however often the event is tried, and delivered by the
    /// pipeline's outbox loop under Messenger's rules (README "Sending first").
    pub fn outbox(&self) -> crate::outbox::EventOutbox<'_> {
        crate::outbox::EventOutbox::new(&self.services.outbox, self.event.inbox_id, &self.drafts)
    }

    /// The Graph client of the event's Page (only the pipeline sends).
    pub(crate) fn graph(&self) -> &GraphClient {
        &self.services.graph
    }

    /// Stores a new user (with other workers' new users in one commit) and returns them as
    /// stored.
    pub async fn store_new_user(&self, user: NewProfiledUser) -> Result<User, StoreError> {
        self.services.new_users.submit(user).await
    }

    /// Fetches a user's public profile (`fields`: `first_name`, `locale`, ...) from the Graph
    /// API. The only Graph call a handler makes: handlers decide and store, and only the
    /// pipeline sends.
    pub async fn user_profile(
        &self,
        psid: &str,
        fields: &[&str],
    ) -> Result<UserProfile, GraphError> {
        self.services.graph.user_profile(psid, fields).await
    }

    /// The Fluent bundles.
    pub fn locales(&self) -> &Locales {
        &self.services.locales
    }

    /// How long a fetched profile is trusted.
    pub fn profile_ttl(&self) -> Duration {
        self.services.profile_ttl
    }

    /// The id of the Page the event was sent to (`entry[].id`), `""` when it names none: with
    /// the PSID, the key of everything stored about the user (a PSID is page-scoped).
    pub fn page_id(&self) -> &str {
        self.event.page_id.as_deref().unwrap_or_default()
    }

    /// The sender's PSID, if the event has a sender.
    pub fn psid(&self) -> Option<&str> {
        self.event.psid.as_deref()
    }

    /// Whom a reply goes to: the sender, or for an echo (which the Page itself sent) the user
    /// the echoed message went to.
    pub fn reply_to(&self) -> &str {
        if self.event.kind == ReceivingType::Echo
            && let Some(user) = self
                .event
                .messaging
                .recipient
                .as_ref()
                .and_then(|p| p.key())
        {
            return user;
        }
        self.psid().unwrap_or_default()
    }

    /// The message text, if the event carries one.
    pub fn text(&self) -> Option<&str> {
        self.event
            .messaging
            .message
            .as_ref()
            .and_then(|m| m.text.as_deref())
    }

    /// Stores `user` and publishes its fields as `user.*` variables.
    pub fn set_user(&mut self, user: User) {
        let fields = [
            ("user.first_name", user.first_name.clone()),
            ("user.last_name", user.last_name.clone()),
            ("user.locale", user.effective_locale().map(str::to_owned)),
        ];
        for (name, value) in fields {
            match value {
                Some(v) => self.vars.insert(name.to_owned(), v),
                None => self.vars.remove(name),
            };
        }
        self.user = Some(user);
    }

    /// The user's locale, if known: their own choice, else the profile's (Facebook's `zh_TW`
    /// form is accepted downstream).
    pub fn locale(&self) -> Option<&str> {
        self.user.as_ref().and_then(|u| u.effective_locale())
    }

    /// Replaces each `{name}` in `template` with that variable (empty when unset), and each
    /// `{name|fallback}` with the variable, or `fallback` when it is unset or empty.
    ///
    /// Besides [`Context::vars`], `{memory.NAME}` is a value the conversation remembers,
    /// `{conversation.step}` the current step and `{event.id}` the event's inbox id (unique:
    /// an order number, say).
    pub fn expand(&self, template: &str) -> String {
        expand_with(template, |name| self.var(name))
    }

    /// The value of variable `name`, as [`Context::expand`] reads it.
    pub fn var(&self, name: &str) -> Option<&str> {
        if let Some(remembered) = name.strip_prefix("memory.") {
            return self.memory(remembered);
        }
        if name == "conversation.step" {
            return self.conversation.as_ref().and_then(|c| c.step());
        }
        if name == "event.id" {
            return Some(&self.event_id);
        }
        self.vars.get(name).map(String::as_str)
    }

    /// Formats Fluent message `id` in the user's locale, expanding each argument template.
    pub fn tr(&self, id: &str, args: &BTreeMap<String, String>) -> Result<String, I18nError> {
        let args: BTreeMap<String, String> = args
            .iter()
            .map(|(k, v)| (k.clone(), self.expand(v)))
            .collect();
        self.locales().format(self.locale(), id, &args)
    }

    /// A Send API body replying to the sender with `message` (messaging_type RESPONSE).
    pub fn reply(&self, message: Message) -> Outgoing {
        Outgoing {
            body: json!({
                "recipient": { "id": self.reply_to() },
                "messaging_type": "RESPONSE",
                "message": message.into_json(),
            }),
        }
    }

    /// A Send API body with a sender action (`typing_on`, `typing_off`, `mark_seen`).
    pub fn action(&self, action: Action) -> Outgoing {
        Outgoing {
            body: json!({
                "recipient": { "id": self.reply_to() },
                "sender_action": action.as_str(),
            }),
        }
    }
}

/// Replaces each `{name}` in `template` with `lookup(name)`, or nothing when it gives `None`;
/// `{name|fallback}` gives `fallback` when the variable is unset or empty (`Hello
/// {user.first_name|there}!` for a user without a known name).
///
/// With `|_| None` it gives a template's static part (fallbacks included): what the policy
/// loader can check.
pub fn expand_with<'v>(template: &str, lookup: impl Fn(&str) -> Option<&'v str>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        let inside = &rest[open + 1..open + close];
        let (name, fallback) = inside.split_once('|').unwrap_or((inside, ""));
        match lookup(name) {
            Some(value) if !value.is_empty() => out.push_str(value),
            _ => out.push_str(fallback),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// One Send API request body, ready for the pipeline to deliver.
///
/// Made only by [`Context::reply`] (from a checked [`Message`]) and [`Context::action`], so
/// every body the pipeline delivers has a recipient and a message within the Send API's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    body: Value,
}

impl Outgoing {
    /// The JSON body of `POST /me/messages`.
    pub fn body(&self) -> &Value {
        &self.body
    }

    /// Adds a top-level field (`messaging_type`, `tag`) that a checked delivery chose.
    pub(crate) fn set(&mut self, field: &str, value: Value) {
        if let Some(body) = self.body.as_object_mut() {
            body.insert(field.to_owned(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::expand_with;

    fn vars(name: &str) -> Option<&'static str> {
        match name {
            "user.first_name" => Some("Ann"),
            "user.last_name" => Some(""),
            _ => None,
        }
    }

    #[test]
    fn variables_are_replaced_and_unknown_ones_vanish() {
        assert_eq!(expand_with("Hi {user.first_name}{nope}!", vars), "Hi Ann!");
    }

    #[test]
    fn a_fallback_stands_in_for_an_unset_or_empty_variable_only() {
        assert_eq!(expand_with("Hi {user.first_name|there}!", vars), "Hi Ann!");
        assert_eq!(expand_with("Hi {nope|there}!", vars), "Hi there!");
        assert_eq!(expand_with("Hi {user.last_name|you}!", vars), "Hi you!");
        // The static part the loader checks includes the fallback.
        assert_eq!(
            expand_with("Hi {user.first_name|there}!", |_| None),
            "Hi there!"
        );
    }
}
