//! Messages the bot starts: an order shipped, a human agent's answer, a notification the user
//! asked for. See README "Sending first".
//!
//! [`Outbox::send`] checks a [`Draft`], localizes it, and commits it to the outbox before it
//! returns: from then on a crash loses nothing. The pipeline's outbox loop delivers it, and
//! decides then, from what the database knows, whether Messenger's rules allow it
//! ([`Intent`]): a message the rules forbid is refused, not sent.
//!
//! ```no_run
//! # async fn demo(outbox: pagebot::outbox::Outbox) -> Result<(), pagebot::outbox::OutboxError> {
//! use pagebot::outbox::{Content, Draft, Intent};
//! let queued = outbox
//!     .send(Draft::new("PSID", Content::text("Your order shipped")?).intent(Intent::Update))
//!     .await?;
//! println!("queued as {}", queued.id);
//! # Ok(()) }
//! ```

pub mod broadcast;
mod content;

use std::sync::{Arc, OnceLock, Weak};

use serde_json::{Value, json};
use tokio::sync::Notify;

pub use content::Content;

use crate::pages::Pages;
use crate::senders::Tag;
use crate::senders::limits::{self, MAX_TEXT_CHARS};
use crate::store::outbox::{self as rows, NewOutboxMessage, OutboxRow};
use crate::store::{DbConn, Store, StoreError, broadcasts, now_ms, users};
use broadcast::{BroadcastDraft, BroadcastStatus};

/// Broadcast `id` and its counts, if it exists (the API and the CLI).
pub fn broadcast_status(conn: &mut DbConn, id: i64) -> Result<Option<BroadcastStatus>, StoreError> {
    let Some(row) = broadcasts::find(conn, id)? else {
        return Ok(None);
    };
    let counts = broadcasts::counts(conn, id)?;
    Ok(Some(BroadcastStatus { row, counts }))
}

/// Why the message is sent: what Messenger's rules allow it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// An answer to the user, within 24 hours of their last message.
    Response,
    /// A proactive update, within 24 hours of their last message.
    Update,
    /// A message tag: `HUMAN_AGENT` (or `CUSTOMER_FEEDBACK`) up to 7 days after it.
    Tag(Tag),
    /// A notification the user asked for: sent to a one-time or recurring notification token
    /// they granted (about `topic`, the opt-in's payload, when given), which it uses.
    Notification {
        /// The opt-in payload the token must be about; `None`: any.
        topic: Option<String>,
    },
}

/// Reads a body's `message` and `intent`, both required: what every API body that queues a
/// message (`/api/messages`, `/api/broadcasts`) carries.
pub(crate) fn message_and_intent(
    fields: &serde_json::Map<String, Value>,
) -> Result<(Content, Intent), FieldError> {
    let message = fields
        .get("message")
        .ok_or_else(|| FieldError::new("message", "is required"))?;
    let content = Content::from_json(message)?;
    let intent = fields
        .get("intent")
        .ok_or_else(|| FieldError::new("intent", "is required"))?;
    Ok((content, Intent::from_json(intent)?))
}

impl Intent {
    /// Its stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Response => "response",
            Self::Update => "update",
            Self::Tag(_) => "tag",
            Self::Notification { .. } => "notification",
        }
    }

    /// Reads the API's `intent`: `"response"`, `"update"`, `"notification"`,
    /// `{"tag": "HUMAN_AGENT"}` or `{"notification": {"topic": "..."}}`.
    pub fn from_json(intent: &Value) -> Result<Self, FieldError> {
        let unknown = || {
            FieldError::new(
                "intent",
                "must be \"response\", \"update\", \"notification\", {\"tag\": \"HUMAN_AGENT\"} \
                 or {\"notification\": {\"topic\": ...}}",
            )
        };
        match intent {
            Value::String(s) => match s.as_str() {
                "response" => Ok(Self::Response),
                "update" => Ok(Self::Update),
                "notification" => Ok(Self::Notification { topic: None }),
                _ => Err(unknown()),
            },
            Value::Object(map) if map.len() == 1 => {
                if let Some(tag) = map.get("tag") {
                    let tag = tag
                        .as_str()
                        .ok_or_else(|| FieldError::new("intent.tag", "must be a string"))?;
                    return Tag::parse(tag)
                        .map(Self::Tag)
                        .map_err(|e| FieldError::new("intent.tag", e));
                }
                if let Some(notification) = map.get("notification") {
                    let topic = match notification.get("topic") {
                        None | Some(Value::Null) => None,
                        Some(Value::String(t)) => Some(t.clone()),
                        Some(_) => {
                            return Err(FieldError::new(
                                "intent.notification.topic",
                                "must be a string",
                            ));
                        }
                    };
                    return Ok(Self::Notification { topic });
                }
                Err(unknown())
            }
            _ => Err(unknown()),
        }
    }
}

/// A message to queue: to whom, what, and why.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The Page's id; `None`: the catch-all Page (a deployment without `[[pages]]`), with
    /// the Page id the user's events carry.
    pub page: Option<String>,
    /// The user's PSID on that Page.
    pub psid: String,
    /// What it says.
    pub content: Content,
    /// Why it is sent (default: [`Intent::Update`]).
    pub intent: Intent,
    /// A key that makes a retry of the same request queue nothing new.
    pub idempotency_key: Option<String>,
}

impl Draft {
    /// A draft of `content` to `psid`, an [`Intent::Update`] on the catch-all Page.
    pub fn new(psid: impl Into<String>, content: Content) -> Self {
        Self {
            page: None,
            psid: psid.into(),
            content,
            intent: Intent::Update,
            idempotency_key: None,
        }
    }

    /// On Page `page`.
    pub fn page(mut self, page: impl Into<String>) -> Self {
        self.page = Some(page.into());
        self
    }

    /// With this intent.
    pub fn intent(mut self, intent: Intent) -> Self {
        self.intent = intent;
        self
    }

    /// With an idempotency key (unique per Page).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// A field of a request that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field (`recipient.psid`, `message.text`, `intent`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// `field` is wrong because of `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A Send API limit `field` breaks (the limit's sentence names it already).
    pub(crate) fn limit(field: &str, error: limits::LimitError) -> Self {
        let message = error.to_string();
        let message = message
            .strip_prefix(field)
            .map(|rest| rest.trim_start().to_owned())
            .unwrap_or(message);
        Self::new(field, message)
    }
}

/// Why a message could not be queued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The draft cannot be sent as it is (never worth retrying).
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The database did not take it: nothing was queued.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// [`Outbox`] as a handler sees it ([`crate::Context::outbox`]): a draft without an
/// idempotency key gets one made of the event and its place among the event's drafts, so that
/// an event tried again (a later handler or send failed) queues nothing twice.
#[derive(Debug)]
pub struct EventOutbox<'a> {
    outbox: &'a Outbox,
    event_id: i64,
    drafts: &'a std::sync::atomic::AtomicU32,
}

impl<'a> EventOutbox<'a> {
    pub(crate) fn new(
        outbox: &'a Outbox,
        event_id: i64,
        drafts: &'a std::sync::atomic::AtomicU32,
    ) -> Self {
        Self {
            outbox,
            event_id,
            drafts,
        }
    }

    /// [`Outbox::send`], keyed by the event unless the draft has a key of its own.
    pub async fn send(&self, mut draft: Draft) -> Result<Queued, OutboxError> {
        let n = self
            .drafts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if draft.idempotency_key.is_none() {
            draft.idempotency_key = Some(format!("event:{}:{n}", self.event_id));
        }
        self.outbox.send(draft).await
    }

    /// The whole outbox (no keys made: the app's own keys, or none).
    pub fn outbox(&self) -> &Outbox {
        self.outbox
    }
}

/// A queued message's id and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Its id.
    pub id: i64,
    /// Its state now: `queued` (or, for a retried idempotency key, what became of it).
    pub state: String,
}

/// Where the bot's own messages are queued: cheap to clone; [`crate::Context::outbox`] in a
/// handler, [`crate::startup::Application::outbox`] for the app's own code.
#[derive(Debug, Clone)]
pub struct Outbox {
    store: Store,
    /// The Pages served (set once they are built; weak: the Pages hold this handle).
    pages: Arc<OnceLock<Weak<Pages>>>,
    /// Wakes the delivery loop.
    wake: Arc<Notify>,
    /// Wakes the broadcast loop.
    broadcasts_wake: Arc<Notify>,
}

impl Outbox {
    /// An outbox on `store`, without Pages yet: the server gives it the Pages it serves
    /// (until then, [`Outbox::send`] refuses every draft).
    pub fn new(store: Store) -> Self {
        Self {
            store,
            pages: Arc::default(),
            wake: Arc::new(Notify::new()),
            broadcasts_wake: Arc::new(Notify::new()),
        }
    }

    /// Gives the outbox the Pages it queues for (once).
    pub(crate) fn serve(&self, pages: &Arc<Pages>) {
        let _ = self.pages.set(Arc::downgrade(pages));
    }

    /// What wakes the delivery loop.
    pub(crate) fn wake_handle(&self) -> &Arc<Notify> {
        &self.wake
    }

    /// What wakes the broadcast loop.
    pub(crate) fn broadcasts_wake_handle(&self) -> &Arc<Notify> {
        &self.broadcasts_wake
    }

    /// Checks `draft` and stores the broadcast; returns its id once it is committed. The
    /// broadcast loop expands it into the outbox and releases it at its rate.
    pub async fn broadcast(&self, draft: BroadcastDraft) -> Result<i64, OutboxError> {
        let pages = self.pages.get().and_then(Weak::upgrade).ok_or_else(|| {
            StoreError::Unavailable("the outbox serves no Pages (the server is stopping)".into())
        })?;
        let page = pages.find(draft.page.as_deref()).ok_or_else(|| {
            FieldError::new(
                "page",
                match &draft.page {
                    Some(id) => format!("no Page {id} is served here"),
                    None => "is required: this deployment serves several Pages".to_owned(),
                },
            )
        })?;
        let page_id = match (&draft.page, &page.settings().id) {
            (Some(id), _) | (None, Some(id)) => id.clone(),
            (None, None) => {
                return Err(FieldError::new(
                    "page",
                    "is required: the Page's id is not configured ([[pages]] id)",
                )
                .into());
            }
        };
        if let Content::Fluent { id, args } = &draft.content {
            // The Page's default locale must have it (a user's own falls back to it).
            page.bot()
                .services
                .locales
                .format(None, id, args)
                .map_err(|e| FieldError::new("message.fluent", e.to_string()))?;
        }
        let row = draft.to_row(page_id);
        let id = self
            .store
            .run(move |conn| broadcasts::create(conn, &row))
            .await?;
        self.broadcasts_wake.notify_one();
        Ok(id)
    }

    /// Broadcast `id` and its counts, if it exists.
    pub async fn broadcast_status(&self, id: i64) -> Result<Option<BroadcastStatus>, StoreError> {
        self.store.run(move |conn| broadcast_status(conn, id)).await
    }

    /// Cancels broadcast `id` (see [`broadcasts::cancel`]); `None`: no such broadcast.
    pub async fn cancel_broadcast(&self, id: i64) -> Result<Option<BroadcastStatus>, StoreError> {
        self.store
            .run(move |conn| {
                if broadcasts::cancel(conn, id)?.is_none() {
                    return Ok(None);
                }
                broadcast_status(conn, id)
            })
            .await
    }

    /// Checks `draft`, localizes it for the user and commits it to the outbox; returns once it
    /// is durably queued. The rules (window, tokens) are checked when it is delivered.
    pub async fn send(&self, draft: Draft) -> Result<Queued, OutboxError> {
        let psid = draft.psid.trim().to_owned();
        if psid.is_empty() {
            return Err(FieldError::new("recipient.psid", "is required").into());
        }
        if psid.len() > crate::event::MAX_ID_LEN || !crate::store::inbox::storable_text(&psid) {
            return Err(FieldError::new("recipient.psid", "is not a Messenger id").into());
        }
        if let Some(page) = &draft.page
            && (page.is_empty()
                || page.len() > crate::event::MAX_ID_LEN
                || !crate::store::inbox::storable_text(page))
        {
            return Err(FieldError::new("recipient.page", "is not a Page id").into());
        }
        if let Some(key) = &draft.idempotency_key
            && (key.is_empty() || key.len() > 200 || !crate::store::inbox::storable_text(key))
        {
            return Err(FieldError::new("Idempotency-Key", "must be 1 to 200 characters").into());
        }
        let pages = self.pages.get().and_then(Weak::upgrade).ok_or_else(|| {
            StoreError::Unavailable("the outbox serves no Pages (the server is stopping)".into())
        })?;
        let page = pages.find(draft.page.as_deref()).ok_or_else(|| {
            FieldError::new(
                "recipient.page",
                match &draft.page {
                    Some(id) => format!("no Page {id} is served here"),
                    None => "is required: this deployment serves several Pages".to_owned(),
                },
            )
        })?;
        let page_id = match &draft.page {
            Some(id) => id.clone(),
            // The catch-all Page serves whatever Page id its events carry: the user's, when
            // the inbox knows one.
            None => {
                let key = psid.clone();
                let known = self
                    .store
                    .run(move |conn| rows::pages_of(conn, &key))
                    .await?;
                match known.as_slice() {
                    [] => String::new(),
                    [one] => one.clone(),
                    _ => {
                        return Err(FieldError::new(
                            "recipient.page",
                            "is required: this user wrote to several Pages",
                        )
                        .into());
                    }
                }
            }
        };
        let locales = page.bot().services.locales.clone();
        let message = match &draft.content {
            Content::Message(message) => message.as_json().clone(),
            Content::Fluent { id, args } => {
                let (page_id, key) = (page_id.clone(), psid.clone());
                let user = self
                    .store
                    .run(move |conn| users::find(conn, &page_id, &key))
                    .await?;
                let locale = user.as_ref().and_then(|u| u.effective_locale());
                let text = locales
                    .format(locale, id, args)
                    .map_err(|e| FieldError::new("message.fluent", e.to_string()))?;
                limits::length("message.text", &text, MAX_TEXT_CHARS)
                    .map_err(|e| FieldError::limit("message.text", e))?;
                json!({ "text": text })
            }
        };
        let now = now_ms();
        let (tag, topic) = match &draft.intent {
            Intent::Tag(tag) => (Some(tag.as_str().to_owned()), None),
            Intent::Notification { topic } => (None, topic.clone()),
            _ => (None, None),
        };
        let row = NewOutboxMessage {
            page_id,
            psid,
            intent: draft.intent.as_str().to_owned(),
            tag,
            topic,
            message: message.to_string(),
            state: rows::QUEUED.to_owned(),
            idempotency_key: draft.idempotency_key.clone(),
            attempts: 0,
            due_at: now,
            created_at: now,
        };
        let stored = self.store.run(move |conn| rows::queue(conn, &row)).await?;
        self.wake.notify_one();
        Ok(Queued {
            id: stored.id,
            state: stored.state,
        })
    }

    /// The message `id` as it stands, if it exists.
    pub async fn status(&self, id: i64) -> Result<Option<OutboxRow>, StoreError> {
        self.store.run(move |conn| rows::find(conn, id)).await
    }
}
