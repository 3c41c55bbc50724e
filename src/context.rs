//! What the pipeline hands every handler and sender for one event.
//!
//! Handlers read the event, store what matters through [`Context::store`] and leave values in
//! [`Context::vars`] for the senders (regex captures, say). Senders read the context and
//! build messages; they never do I/O.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

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
    services: Arc<Services>,
}

impl Context {
    /// A context for `event`.
    pub fn new(event: Event, services: Arc<Services>) -> Self {
        Self {
            event,
            user: None,
            vars: BTreeMap::new(),
            prefetched_user: None,
            services,
        }
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
    pub fn expand(&self, template: &str) -> String {
        expand_with(template, |name| self.vars.get(name).map(String::as_str))
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
