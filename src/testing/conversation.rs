//! [`Conversation`]: the real bot in-process, talked to by named users, replies asserted.
//!
//! A conversation starts the whole server ([`TestApp`]: real HTTP, real database, the fake
//! Graph API), and each user action posts a signed webhook ([`Webhook`]), waits until the
//! inbox has processed it, and collects what the bot sent that user at the fake Graph.
//!
//! ```no_run
//! # async fn demo() {
//! use pagebot::testing::{Conversation, TestDatabase};
//!
//! let bot = Conversation::start(TestDatabase::sqlite()).await;
//! bot.user("Ann")
//!     .says("hi")
//!     .expect_text("Hello Ann! Nice to meet you.")
//!     .await;
//! bot.user("Ann")
//!     .says("what?")
//!     .expect_text_containing("Say \"hi\"")
//!     .await;
//! // With a bot that offers colours: quick replies ride on a message, so this expects ONE
//! // message with both the text and the quick replies.
//! bot.user("Ann")
//!     .says("colours")
//!     .expect_text("Pick a colour")
//!     .expect_quick_replies(["Red", "Blue"])
//!     .await;
//! bot.user("Ann").taps("Red").expect_nothing().await;
//! # }
//! ```
//!
//! Awaiting a [`Turn`] panics with a readable message (what was expected, what the bot sent)
//! when the replies do not match, when the fake Graph refused a message as invalid, or when the
//! event failed; [`Turn::run`] returns the same as an error instead. A user is named; their
//! PSID is derived from the name (`psid_ann`) and the fake Graph answers their profile with
//! the name, so `{user.first_name}` works.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};

use super::expect::{Expected, Mismatch, compare};
use super::render::BotMessage;
use super::{FakeGraph, TestApp, TestBot, TestDatabase, Webhook};
use crate::startup::StartError;
use crate::store::{StoreError, inbox, users};

/// How long a turn waits for the bot by default.
pub const DEFAULT_PATIENCE: Duration = Duration::from_secs(15);

/// The running bot and the users talking to it.
pub struct Conversation {
    app: TestApp,
    patience: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    users: HashMap<String, UserState>,
    /// Inbox ids of failed events already reported.
    failures_seen: HashSet<i64>,
    /// How many of the fake Graph's rejections were already reported.
    rejections_seen: usize,
    /// How far the users' clock is ahead of the real one (ms): [`Conversation::wait`].
    clock_ahead_ms: i64,
}

#[derive(Default)]
struct UserState {
    /// How many bodies sent to this user were already collected.
    seen: usize,
    /// The messages of this user's last turn (what they can tap).
    last: Vec<BotMessage>,
}

/// What a user does in one turn.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Types a text.
    Says(String),
    /// Taps a quick reply or a postback button of the bot's last messages, by title or by
    /// number (from 1, as rendered).
    Taps(String),
    /// Sends a postback with this payload (a button, Get Started or a menu item).
    Postback(String),
    /// Sends a sticker.
    Sticker(u64),
    /// Shares a location.
    Location {
        /// Latitude.
        lat: f64,
        /// Longitude.
        long: f64,
    },
    /// Sends an attachment (`image`, `audio`, `video`, `file`) at a URL.
    Attachment {
        /// The attachment type.
        kind: String,
        /// Its URL.
        url: String,
    },
    /// Any webhook, as built (its sender should be this user for the replies to be collected).
    Webhook(Webhook),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Says(text) => write!(f, "says {text:?}"),
            Self::Taps(choice) => write!(f, "taps {choice:?}"),
            Self::Postback(payload) => write!(f, "sends postback {payload:?}"),
            Self::Sticker(id) if *id == super::webhook::LIKE_STICKER_ID => {
                f.write_str("sends the like sticker")
            }
            Self::Sticker(id) => write!(f, "sends sticker {id}"),
            Self::Location { lat, long } => write!(f, "shares location {lat}, {long}"),
            Self::Attachment { kind, url } => write!(f, "sends {kind} {url}"),
            Self::Webhook(webhook) => write!(f, "sends a webhook of {} event(s)", webhook.len()),
        }
    }
}

/// What came of one turn.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnOutcome {
    /// Everything the bot sent this user (sender actions included), in order.
    pub messages: Vec<BotMessage>,
    /// The errors of this user's events that failed or died during the turn.
    pub failures: Vec<String>,
    /// The bodies the fake Graph refused during the turn, with its reasons.
    pub rejected: Vec<(Value, String)>,
}

impl TurnOutcome {
    /// The messages without the sender actions.
    pub fn replies(&self) -> Vec<&BotMessage> {
        self.messages.iter().filter(|m| !m.is_action()).collect()
    }
}

/// Why a turn went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConversationError {
    /// The webhook was not accepted.
    #[error("the webhook was answered {status}, not 200")]
    Webhook {
        /// The HTTP status.
        status: u16,
    },
    /// The server did not answer.
    #[error("the server did not answer: {0}")]
    Http(String),
    /// Events were still pending when the patience ran out.
    #[error("{pending} event(s) still pending after {patience:?}")]
    Timeout {
        /// How many.
        pending: i64,
        /// How long it waited.
        patience: Duration,
    },
    /// The database could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A tap named nothing the bot offered.
    #[error("{0}")]
    Tap(String),
    /// The bot sent something that breaks the Send API's rules.
    #[error("the fake Graph refused {count} message(s): {reasons}", count = .0.len(),
            reasons = .0.iter().map(|(_, r)| r.as_str()).collect::<Vec<_>>().join("; "))]
    Rejected(Vec<(Value, String)>),
    /// The event failed in the pipeline (a handler or sender error, or a Graph error).
    #[error("the event failed: {}", .0.join("; "))]
    Failed(Vec<String>),
    /// The conversation is not at the expected step.
    #[error("the conversation is at {}, not at {}", step_name(.found), step_name(.expected))]
    Step {
        /// The step expected (`None`: no step).
        expected: Option<String>,
        /// The step the user is at.
        found: Option<String>,
    },
    /// The replies were not the expected ones.
    #[error("{0}")]
    Mismatch(Mismatch),
}

impl Conversation {
    /// Starts the demo bot on `database`.
    ///
    /// # Panics
    ///
    /// If the demo bot cannot start.
    #[cfg(any(test, feature = "testing"))]
    pub async fn start(database: TestDatabase) -> Self {
        Self::new(TestApp::spawn(database).await)
    }

    /// Starts `bot` on `database`; the error is what `serve` would have printed.
    pub async fn start_bot(database: TestDatabase, bot: TestBot) -> Result<Self, StartError> {
        Ok(Self::new(TestApp::spawn_bot(database, bot).await?))
    }

    /// A conversation with an already running app.
    pub fn new(app: TestApp) -> Self {
        Self {
            app,
            patience: DEFAULT_PATIENCE,
            state: Mutex::new(State::default()),
        }
    }

    /// Waits at most `patience` for the bot in each turn (default [`DEFAULT_PATIENCE`]).
    pub fn with_patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }

    /// Stops the bot, letting the pipeline finish what it holds.
    pub async fn stop(self) {
        self.app.stop().await;
    }

    /// The running app (its database, its inbox).
    pub fn app(&self) -> &TestApp {
        &self.app
    }

    /// The fake Graph API: set profiles, script failures, look at raw sends.
    pub fn graph(&self) -> &FakeGraph {
        &self.app.graph
    }

    /// The user called `name` (their first name is its first word, the rest their last name).
    pub fn user(&self, name: &str) -> User<'_> {
        let psid = psid_for(name);
        let mut state = self.state();
        if !state.users.contains_key(&psid) {
            state.users.insert(psid.clone(), UserState::default());
            let mut words = name.split_whitespace();
            let mut profile = serde_json::Map::new();
            if let Some(first) = words.next() {
                profile.insert("first_name".into(), json!(first));
            }
            let last: Vec<&str> = words.collect();
            if !last.is_empty() {
                profile.insert("last_name".into(), json!(last.join(" ")));
            }
            self.app.graph.set_profile(&psid, Value::Object(profile));
        }
        User {
            bot: self,
            name: name.to_owned(),
            psid,
        }
    }

    /// Performs `action` as `user` and collects what the bot sent them, without judging it.
    pub async fn act(
        &self,
        user: &User<'_>,
        action: &Action,
    ) -> Result<TurnOutcome, ConversationError> {
        let webhook = self.webhook_for(user, action)?;
        let response = self
            .app
            .try_post_webhook(&webhook)
            .await
            .map_err(|e| ConversationError::Http(e.to_string()))?;
        if response.status() != 200 {
            return Err(ConversationError::Webhook {
                status: response.status().as_u16(),
            });
        }
        self.wait_until_processed().await?;

        let sent = self.app.graph.sent_to(&user.psid);
        let rejected_all = self.app.graph.rejected();
        let failed = self.app.store.run(|c| inbox::dead_letters(c, 50)).await?;
        let mut state = self.state();
        let seen = state.users.get(&user.psid).map_or(0, |u| u.seen);
        let messages: Vec<BotMessage> = sent.iter().skip(seen).map(BotMessage::from_body).collect();
        let rejected: Vec<(Value, String)> = rejected_all
            .iter()
            .skip(state.rejections_seen)
            .filter(|(body, _)| {
                body.pointer("/recipient/id").and_then(Value::as_str) == Some(user.psid.as_str())
            })
            .cloned()
            .collect();
        state.rejections_seen = rejected_all.len();
        let mut failures = Vec::new();
        for event in failed {
            if event.psid.as_deref() == Some(user.psid.as_str())
                && state.failures_seen.insert(event.id)
            {
                failures.push(format!(
                    "event {} ({}) is {}: {}",
                    event.id,
                    event.kind.as_deref().unwrap_or("unclassified"),
                    event.status,
                    event.last_error.as_deref().unwrap_or("no error recorded")
                ));
            }
        }
        let user_state = state.users.entry(user.psid.clone()).or_default();
        user_state.seen = sent.len();
        let replies: Vec<BotMessage> = messages
            .iter()
            .filter(|m| !m.is_action())
            .cloned()
            .collect();
        if !replies.is_empty() {
            user_state.last = replies;
        }
        Ok(TurnOutcome {
            messages,
            failures,
            rejected,
        })
    }

    /// The messages of `user`'s last turn that had any (what they can tap now).
    pub fn last_messages(&self, user: &User<'_>) -> Vec<BotMessage> {
        self.state()
            .users
            .get(&user.psid)
            .map(|u| u.last.clone())
            .unwrap_or_default()
    }

    /// Stores `locale` (e.g. `zh-TW`) as `user`'s chosen language, as the `set_locale` handler
    /// would, and gives it to their fake profile (as `zh_TW`).
    pub async fn set_locale(&self, user: &User<'_>, locale: &str) -> Result<(), StoreError> {
        let psid = user.psid.clone();
        let tag = locale.to_owned();
        self.app
            .store
            .run(move |c| {
                users::ensure(c, super::webhook::TEST_PAGE_ID, &psid)?;
                users::choose_locale(c, super::webhook::TEST_PAGE_ID, &psid, &tag)
            })
            .await?;
        let mut profile = self
            .app
            .graph
            .profile(&user.psid)
            .unwrap_or_else(|| json!({}));
        if let Some(map) = profile.as_object_mut() {
            map.insert("locale".into(), json!(locale.replace('-', "_")));
        }
        self.app.graph.set_profile(&user.psid, profile);
        Ok(())
    }

    /// Lets `time` pass for every user: the events of later turns carry timestamps that much
    /// later, so that a conversation idle for longer than [`super::CONVERSATION_IDLE`] starts
    /// afresh.
    pub fn wait(&self, time: Duration) {
        let mut state = self.state();
        let ms = i64::try_from(time.as_millis()).unwrap_or(i64::MAX);
        state.clock_ahead_ms = state.clock_ahead_ms.saturating_add(ms);
    }

    /// The step `user` is at now, as the bot would see it (`None` when there is none or it
    /// expired).
    pub async fn step(&self, user: &User<'_>) -> Result<Option<String>, StoreError> {
        let stored = self
            .app
            .store
            .conversation(super::webhook::TEST_PAGE_ID, &user.psid)
            .await?;
        let now = crate::store::now_ms().saturating_add(self.state().clock_ahead_ms);
        let idle = i64::try_from(super::CONVERSATION_IDLE.as_millis()).unwrap_or(i64::MAX);
        Ok(stored
            .filter(|c| !c.expired_at(now, idle))
            .and_then(|c| c.step))
    }

    fn webhook_for(&self, user: &User<'_>, action: &Action) -> Result<Webhook, ConversationError> {
        let webhook = self.webhook_now(user, action)?;
        let ahead = self.state().clock_ahead_ms;
        Ok(match ahead {
            0 => webhook,
            ahead => webhook.at(super::webhook::next_timestamp().saturating_add(ahead)),
        })
    }

    fn webhook_now(&self, user: &User<'_>, action: &Action) -> Result<Webhook, ConversationError> {
        let psid = user.psid.as_str();
        Ok(match action {
            Action::Says(text) => Webhook::text(psid, text),
            Action::Taps(choice) => {
                let state = self.state();
                let last = state
                    .users
                    .get(psid)
                    .map(|u| u.last.as_slice())
                    .unwrap_or_default();
                resolve_tap(psid, last, choice).map_err(ConversationError::Tap)?
            }
            Action::Postback(payload) => {
                let state = self.state();
                let title = state
                    .users
                    .get(psid)
                    .and_then(|u| {
                        u.last
                            .iter()
                            .flat_map(BotMessage::all_buttons)
                            .find(|b| b.payload.as_deref() == Some(payload.as_str()))
                    })
                    .map_or_else(|| payload.clone(), |b| b.title.clone());
                Webhook::postback(psid, &title, payload)
            }
            Action::Sticker(id) => Webhook::sticker(psid, *id),
            Action::Location { lat, long } => Webhook::location(psid, *lat, *long),
            Action::Attachment { kind, url } => Webhook::attachment(psid, kind, url),
            Action::Webhook(webhook) => webhook.clone(),
        })
    }

    async fn wait_until_processed(&self) -> Result<(), ConversationError> {
        let deadline = tokio::time::Instant::now() + self.patience;
        loop {
            let stats = self.app.store.run(inbox::stats).await?;
            if stats.pending == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ConversationError::Timeout {
                    pending: stats.pending,
                    patience: self.patience,
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `step "X"`, or `no step`.
fn step_name(step: &Option<String>) -> String {
    match step {
        Some(step) => format!("step {step:?}"),
        None => "no step".to_owned(),
    }
}

/// The webhook a tap on `choice` sends: a quick reply of the last message that offered some,
/// else a postback button; `choice` is a title (exact, then ignoring case) or a number from 1.
pub fn resolve_tap(psid: &str, last: &[BotMessage], choice: &str) -> Result<Webhook, String> {
    let wanted = choice.trim();
    let quick_replies = last
        .iter()
        .rev()
        .find(|m| !m.quick_replies.is_empty())
        .map(|m| m.quick_replies.as_slice())
        .unwrap_or_default();
    let buttons: Vec<_> = last
        .iter()
        .rev()
        .find(|m| m.all_buttons().next().is_some())
        .map(|m| m.all_buttons().collect())
        .unwrap_or_default();
    let number = wanted.parse::<usize>().ok().filter(|n| *n >= 1);

    let quick = quick_replies
        .iter()
        .find(|q| q.title == wanted)
        .or_else(|| {
            quick_replies
                .iter()
                .find(|q| q.title.to_lowercase() == wanted.to_lowercase())
        });
    let button = buttons
        .iter()
        .find(|b| b.title == wanted)
        .or_else(|| {
            buttons
                .iter()
                .find(|b| b.title.to_lowercase() == wanted.to_lowercase())
        })
        .copied();
    let (quick, button) = match (quick, button, number) {
        (None, None, Some(n)) if !quick_replies.is_empty() => (quick_replies.get(n - 1), None),
        (None, None, Some(n)) => (None, buttons.get(n - 1).copied()),
        found => (found.0, found.1),
    };
    if let Some(q) = quick {
        let payload = q.payload.clone().unwrap_or_default();
        return Ok(Webhook::quick_reply(psid, &q.title, &payload));
    }
    if let Some(b) = button {
        return match (b.kind.as_str(), &b.payload) {
            ("postback", Some(payload)) => Ok(Webhook::postback(psid, &b.title, payload)),
            (kind, _) => Err(format!(
                "button {:?} is a {kind} button: tapping it does not send the bot anything",
                b.title
            )),
        };
    }
    let titles = |items: Vec<&str>| {
        items
            .iter()
            .enumerate()
            .map(|(i, t)| format!("{} {t:?}", i + 1))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut offered = Vec::new();
    if !quick_replies.is_empty() {
        offered.push(format!(
            "quick replies {}",
            titles(quick_replies.iter().map(|q| q.title.as_str()).collect())
        ));
    }
    if !buttons.is_empty() {
        offered.push(format!(
            "buttons {}",
            titles(buttons.iter().map(|b| b.title.as_str()).collect())
        ));
    }
    Err(if offered.is_empty() {
        format!(
            "nothing to tap: the bot's last messages offered no quick reply or button (wanted {wanted:?})"
        )
    } else {
        format!(
            "no quick reply or button {wanted:?}: the bot offered {}",
            offered.join(" and ")
        )
    })
}

/// `psid_` and the name in lowercase, other characters as `_`.
fn psid_for(name: &str) -> String {
    let slug: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().next().unwrap_or('_')
            } else {
                '_'
            }
        })
        .collect();
    format!("psid_{slug}")
}

/// A named user of a [`Conversation`].
#[derive(Clone)]
pub struct User<'a> {
    bot: &'a Conversation,
    name: String,
    psid: String,
}

impl fmt::Debug for User<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("psid", &self.psid)
            .finish()
    }
}

impl<'a> User<'a> {
    /// The name given to [`Conversation::user`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The PSID the bot knows this user by.
    pub fn psid(&self) -> &str {
        &self.psid
    }

    /// A turn that does `action`.
    pub fn does(&self, action: Action) -> Turn<'a> {
        Turn {
            user: self.clone(),
            action,
            expected: Vec::new(),
            check: false,
            allow_failures: false,
        }
    }

    /// Types `text`.
    pub fn says(&self, text: &str) -> Turn<'a> {
        self.does(Action::Says(text.to_owned()))
    }

    /// Taps a quick reply or postback button of the bot's last messages, by title or number.
    pub fn taps(&self, choice: &str) -> Turn<'a> {
        self.does(Action::Taps(choice.to_owned()))
    }

    /// Sends a postback with `payload`.
    pub fn postback(&self, payload: &str) -> Turn<'a> {
        self.does(Action::Postback(payload.to_owned()))
    }

    /// Sends the thumbs-up "Like" sticker.
    pub fn sends_like(&self) -> Turn<'a> {
        self.does(Action::Sticker(super::webhook::LIKE_STICKER_ID))
    }

    /// Sends sticker `id`.
    pub fn sends_sticker(&self, id: u64) -> Turn<'a> {
        self.does(Action::Sticker(id))
    }

    /// Shares a location.
    pub fn shares_location(&self, lat: f64, long: f64) -> Turn<'a> {
        self.does(Action::Location { lat, long })
    }

    /// Stores `locale` as this user's chosen language (see [`Conversation::set_locale`]).
    ///
    /// # Panics
    ///
    /// If the database fails.
    #[cfg(any(test, feature = "testing"))]
    pub async fn set_locale(&self, locale: &str) {
        if let Err(e) = self.bot.set_locale(self, locale).await {
            panic!("cannot set the locale of {}: {e}", self.name);
        }
    }
}

/// One action of a user and what the bot must answer; `.await` it.
#[must_use = "a turn does nothing until it is awaited"]
pub struct Turn<'a> {
    user: User<'a>,
    action: Action,
    expected: Vec<Expected>,
    check: bool,
    allow_failures: bool,
}

impl<'a> Turn<'a> {
    /// The bot sends a message with exactly this text (a text message or button template).
    pub fn expect_text(self, text: &str) -> Self {
        self.push(Expected::text(text))
    }

    /// The bot sends a message whose text contains `part`.
    pub fn expect_text_containing(self, part: &str) -> Self {
        self.push(Expected {
            text_contains: Some(part.to_owned()),
            ..Expected::default()
        })
    }

    /// The message just expected carries these quick replies (by title, in order); with no
    /// message expected yet, or one whose quick replies are already expected, the next one.
    pub fn expect_quick_replies<I, S>(mut self, titles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let titles = titles.into_iter().map(Into::into).collect();
        match self.expected.last_mut() {
            Some(last) if last.quick_replies.is_none() => last.quick_replies = Some(titles),
            _ => {
                self = self.push(Expected {
                    quick_replies: Some(titles),
                    ..Expected::default()
                });
            }
        }
        self
    }

    /// The message just expected carries these buttons (by title, in order); as
    /// [`expect_quick_replies`](Self::expect_quick_replies) otherwise.
    pub fn expect_buttons<I, S>(mut self, titles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let titles = titles.into_iter().map(Into::into).collect();
        match self.expected.last_mut() {
            Some(last) if last.buttons.is_none() => last.buttons = Some(titles),
            _ => {
                self = self.push(Expected {
                    buttons: Some(titles),
                    ..Expected::default()
                });
            }
        }
        self
    }

    /// The bot sends a generic template with cards of these titles, in order.
    pub fn expect_cards<I, S>(self, titles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.push(Expected {
            cards: Some(titles.into_iter().map(Into::into).collect()),
            ..Expected::default()
        })
    }

    /// The bot sends an attachment of this kind (`image`, `audio`, `video`, `file`).
    pub fn expect_attachment(self, kind: &str) -> Self {
        self.push(Expected {
            attachment: Some(kind.to_owned()),
            ..Expected::default()
        })
    }

    /// The bot sends a message matching `expected`.
    pub fn expect(self, expected: Expected) -> Self {
        self.push(expected)
    }

    /// The bot sends no message (sender actions aside).
    pub fn expect_nothing(mut self) -> Self {
        self.check = true;
        self
    }

    /// Do not fail the turn when the event fails in the pipeline (e.g. after scripting Graph
    /// failures on purpose).
    pub fn allow_failures(mut self) -> Self {
        self.allow_failures = true;
        self
    }

    fn push(mut self, expected: Expected) -> Self {
        self.check = true;
        self.expected.push(expected);
        self
    }

    /// Runs the turn; an error instead of a panic when something does not match.
    pub async fn run(self) -> Result<TurnOutcome, ConversationError> {
        let outcome = self.user.bot.act(&self.user, &self.action).await?;
        if !outcome.rejected.is_empty() {
            return Err(ConversationError::Rejected(outcome.rejected));
        }
        if !outcome.failures.is_empty() && !self.allow_failures {
            return Err(ConversationError::Failed(outcome.failures));
        }
        if self.check {
            compare(&self.expected, &outcome.messages).map_err(ConversationError::Mismatch)?;
        }
        Ok(outcome)
    }
}

#[cfg(any(test, feature = "testing"))]
impl<'a> IntoFuture for Turn<'a> {
    type Output = TurnOutcome;
    type IntoFuture = Pin<Box<dyn Future<Output = TurnOutcome> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let who = format!("{} {}", self.user.name, self.action);
            match self.run().await {
                Ok(outcome) => outcome,
                Err(e) => panic!("conversation: {who}:\n{e}"),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sent(message: Value) -> BotMessage {
        BotMessage::from_body(&json!({"recipient": {"id": "1"}, "message": message}))
    }

    fn item(webhook: &Webhook) -> Value {
        webhook.to_value()["entry"][0]["messaging"][0].clone()
    }

    fn offered() -> Vec<BotMessage> {
        vec![
            sent(
                json!({"attachment": {"type": "template", "payload": {"template_type": "button",
                "text": "Menu", "buttons": [
                    {"type": "web_url", "title": "Site", "url": "https://example.com"},
                    {"type": "postback", "title": "Help", "payload": "HELP"}]}}}),
            ),
            sent(json!({"text": "Pick", "quick_replies": [
                {"content_type": "text", "title": "Red", "payload": "COLOR_RED"},
                {"content_type": "text", "title": "Blue", "payload": "COLOR_BLUE"}]})),
        ]
    }

    #[test]
    fn a_tap_finds_quick_replies_by_title_or_number_and_buttons_by_title() {
        let by_title = resolve_tap("p", &offered(), "blue").unwrap();
        assert_eq!(
            item(&by_title)["message"]["quick_reply"]["payload"],
            "COLOR_BLUE"
        );
        assert_eq!(item(&by_title)["message"]["text"], "Blue");
        let by_number = resolve_tap("p", &offered(), "1").unwrap();
        assert_eq!(
            item(&by_number)["message"]["quick_reply"]["payload"],
            "COLOR_RED"
        );
        let button = resolve_tap("p", &offered(), "Help").unwrap();
        assert_eq!(item(&button)["postback"]["payload"], "HELP");
        let numbered_button = resolve_tap("p", &offered()[..1], "2").unwrap();
        assert_eq!(item(&numbered_button)["postback"]["title"], "Help");
    }

    #[test]
    fn a_tap_on_nothing_says_what_was_offered() {
        let err = resolve_tap("p", &offered(), "Green").err().unwrap();
        assert_eq!(
            err,
            r#"no quick reply or button "Green": the bot offered quick replies 1 "Red", 2 "Blue" and buttons 1 "Site", 2 "Help""#
        );
        let err = resolve_tap("p", &offered(), "Site").err().unwrap();
        assert!(err.contains("web_url button"), "{err}");
        let err = resolve_tap("p", &[], "1").err().unwrap();
        assert!(err.starts_with("nothing to tap"), "{err}");
    }

    #[test]
    fn psids_come_from_names() {
        assert_eq!(psid_for("Ann"), "psid_ann");
        assert_eq!(psid_for(" Ann Lee "), "psid_ann_lee");
    }
}
