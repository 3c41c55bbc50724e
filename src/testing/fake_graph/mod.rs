//! [`FakeGraph`]: a fake Graph API on a free loopback port, for tests and the simulator.
//!
//! It answers the calls pagebot makes, checks them the way Graph would, and records them:
//!
//! | endpoint | behaviour |
//! |---|---|
//! | `POST /{version}/me/messages` (also `/{version}/{page_id}/messages`) | checks the token (else error 190) and the body against the Send API shape and limits (else error 100, recorded in [`FakeGraph::rejected`]); records accepted bodies in [`FakeGraph::sent`] and answers `{"recipient_id":..,"message_id":"m_fake_<n>"}` (sender actions get `recipient_id` only, as on Graph) |
//! | `GET /{version}/{psid}?fields=a,b` | the profile set with [`FakeGraph::set_profile`], else `{"first_name":"Test","last_name":"User"}`; only the requested fields that the profile has, plus `id`; or the error set with [`FakeGraph::set_profile_error`] |
//! | `GET /{version}/me/messenger_profile?fields=a,b` | `{"data":[{..the requested properties that are set..}]}`, or `{"data":[]}` |
//! | `POST /{version}/me/messenger_profile` | checks a few rules (known properties, greeting and menu limits, a `default` locale, Get Started before the persistent menu), then merges the properties |
//! | `DELETE /{version}/me/messenger_profile` | body `{"fields":[..]}`: removes those properties |
//!
//! Every Messenger Profile request is recorded (method, `fields`, body, token) in
//! [`FakeGraph::messenger_profile_requests`].
//!
//! The fake is one Page, whose token is [`FAKE_PAGE_TOKEN`]; [`FakeGraph::add_page_token`] makes
//! it accept another Page's token too, with a Messenger Profile of that Page's own
//! ([`FakeGraph::messenger_profile_of`]): `me` is the Page of the token, as on Graph.
//!
//! Every error answer is a Graph error object with a `fbtrace_id` of the form `FAKE<n>`, except
//! a scripted [`FakeError::http`] (a bare HTTP error, as an edge or a proxy sends, optionally
//! with a `Retry-After` header). Failures can be scripted with [`FakeGraph::fail_next_sends`] and
//! [`FakeGraph::fail_next_messenger_profile_calls`].
//!
//! ```no_run
//! # async fn demo() {
//! use pagebot::graph::GraphClient;
//! use pagebot::testing::FakeGraph;
//!
//! let fake = FakeGraph::start().await;
//! let client = GraphClient::new(fake.settings()).unwrap();
//! client
//!     .send(&serde_json::json!({"recipient":{"id":"42"},"messaging_type":"RESPONSE",
//!                               "message":{"text":"hello"}}))
//!     .await
//!     .unwrap();
//! assert_eq!(fake.texts_to("42"), ["hello"]);
//! # }
//! ```
//!
//! The server runs on its own worker thread, so it works under `#[tokio::test]` (either flavor)
//! and `#[actix_web::test]`. It stops when the `FakeGraph` is dropped.

mod handlers;
pub(crate) mod validate;

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use crate::graph::{DEFAULT_VERSION, GraphSettings};

/// The Page token [`FakeGraph::settings`] carries and the fake expects.
pub const FAKE_PAGE_TOKEN: &str = "fake-page-token";

/// A running fake Graph API. See the [module docs](self) for what it answers.
pub struct FakeGraph {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: ServerHandle,
}

/// One request that reached `/{version}/me/messenger_profile`, as the fake received it
/// (see [`FakeGraph::messenger_profile_requests`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRequest {
    /// `GET`, `POST` or `DELETE`.
    pub method: String,
    /// The `fields` query parameter split on commas (what a `GET` asks for), else empty.
    pub fields: Vec<String>,
    /// The JSON body (`POST`, `DELETE`); `Value::Null` when there was none, a JSON string when
    /// it was not JSON.
    pub body: Value,
    /// The access token it carried (`Authorization: Bearer` or `access_token`), accepted or
    /// not: which Page it was made for.
    pub token: Option<String>,
}

/// A scripted Graph failure: what the fake answers instead of handling a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeError {
    /// HTTP status of the answer.
    pub status: u16,
    /// `error.code`.
    pub code: i64,
    /// `error.error_subcode`.
    pub subcode: Option<i64>,
    /// `error.message`.
    pub message: String,
    /// When set, the answer is this text (`text/plain`) instead of a Graph error object: an
    /// HTTP error without a parseable Graph error, as a proxy in front of Graph would send.
    pub raw_body: Option<String>,
    /// When set, the answer carries this `Retry-After` header, as given (`"30"`, or an HTTP
    /// date such as `"Wed, 21 Oct 2026 07:28:00 GMT"`).
    pub retry_after: Option<String>,
}

impl FakeError {
    /// A Graph error object with Graph's usual message for `code`, HTTP status 500 for the
    /// server-side codes 1, 2 and 1200 and 400 for everything else.
    pub fn graph(code: i64, subcode: Option<i64>) -> Self {
        let status = if matches!(code, 1 | 2 | 1200) {
            500
        } else {
            400
        };
        Self {
            status,
            code,
            subcode,
            message: default_message(code, subcode).to_owned(),
            raw_body: None,
            retry_after: None,
        }
    }

    /// An HTTP error with a body that is not a Graph error (e.g. `FakeError::http(502, "")`,
    /// or `FakeError::http(429, "").with_retry_after("30")` for an edge's rate limit).
    pub fn http(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            code: 0,
            subcode: None,
            message: String::new(),
            raw_body: Some(body.into()),
            retry_after: None,
        }
    }

    /// The same error with a `Retry-After` header (`"30"` seconds, or an HTTP date).
    pub fn with_retry_after(mut self, value: impl Into<String>) -> Self {
        self.retry_after = Some(value.into());
        self
    }

    /// The same error with another HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The same error with another `error.message`.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
}

impl FakeGraph {
    /// Starts a fake on `127.0.0.1:0` on the current tokio (or actix) runtime.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound; use [`FakeGraph::try_start`] to get the error instead.
    #[cfg(any(test, feature = "testing"))]
    pub async fn start() -> Self {
        match Self::try_start().await {
            Ok(fake) => fake,
            Err(e) => panic!("fake graph: cannot start: {e}"),
        }
    }

    /// Starts a fake on `127.0.0.1:0`, returning the error if the port cannot be bound.
    pub async fn try_start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let data = web::Data::from(Arc::clone(&shared));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .configure(handlers::routes)
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(async move {
            if let Err(e) = server.await {
                log::warn!("fake graph: server stopped: {e}");
            }
        });
        Ok(Self {
            addr,
            shared,
            server: handle,
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Settings pointing a [`GraphClient`](crate::graph::GraphClient) at this fake: version
    /// `v25.0`, token [`FAKE_PAGE_TOKEN`], no app secret, 5 s timeout.
    pub fn settings(&self) -> GraphSettings {
        GraphSettings {
            base_url: self.url(),
            version: DEFAULT_VERSION.to_owned(),
            page_token: Some(SecretString::from(FAKE_PAGE_TOKEN)),
            app_secret: None,
            timeout: Duration::from_secs(5),
        }
    }

    /// Every accepted Send API body, in arrival order.
    pub fn sent(&self) -> Vec<Value> {
        self.shared.state().sent.clone()
    }

    /// From now on, answer every send carrying `token` with `error` (`None`: stop), the way
    /// one Page's rate limit or revoked token looks while the other Pages' sends go through.
    pub fn fail_sends_with_token(&self, token: &str, error: Option<FakeError>) {
        let mut state = self.shared.state();
        match error {
            Some(error) => state.token_failures.insert(token.to_owned(), error),
            None => state.token_failures.remove(token),
        };
    }

    /// The accepted Send API bodies that carried the Page token `token`, in arrival order.
    pub fn sent_with_token(&self, token: &str) -> Vec<Value> {
        let state = self.shared.state();
        state
            .sent
            .iter()
            .zip(&state.sent_tokens)
            .filter(|(_, used)| *used == token)
            .map(|(body, _)| body.clone())
            .collect()
    }

    /// The accepted Send API bodies whose `recipient.id` is `psid`, in arrival order.
    pub fn sent_to(&self, psid: &str) -> Vec<Value> {
        self.shared
            .state()
            .sent
            .iter()
            .filter(|body| body.pointer("/recipient/id").and_then(Value::as_str) == Some(psid))
            .cloned()
            .collect()
    }

    /// The `message.text` of each accepted body sent to `psid` (bodies without text skipped).
    pub fn texts_to(&self, psid: &str) -> Vec<String> {
        self.sent_to(psid)
            .iter()
            .filter_map(|body| body.pointer("/message/text").and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    }

    /// Asserts that `text` was sent to `psid`.
    ///
    /// # Panics
    ///
    /// If it was not, listing the texts that were.
    #[cfg(any(test, feature = "testing"))]
    pub fn assert_sent_text(&self, psid: &str, text: &str) {
        let texts = self.texts_to(psid);
        assert!(
            texts.iter().any(|t| t == text),
            "fake graph: no text {text:?} sent to {psid}; texts sent to it: {texts:?}"
        );
    }

    /// Every Send API request the fake refused by its own checks (token, shape, limits), with
    /// the reason, in arrival order. A body that was not JSON is recorded as a JSON string.
    pub fn rejected(&self) -> Vec<(Value, String)> {
        self.shared.state().rejected.clone()
    }

    /// How many requests reached `/me/messages`, whatever became of them.
    pub fn send_attempts(&self) -> usize {
        self.shared.state().send_attempts
    }

    /// When each request to `/me/messages` arrived, whatever became of it, in arrival order
    /// (the wall clock, comparable with the inbox's epoch-ms times): how long a retry waited.
    /// Not kept after [`FakeGraph::keep_sent`]`(false)`.
    pub fn send_arrivals(&self) -> Vec<SystemTime> {
        self.shared.state().send_arrivals.clone()
    }

    /// Whether accepted sends are kept for [`FakeGraph::sent`], and arrival times for
    /// [`FakeGraph::send_arrivals`] (the default). A load test turns this off so that memory
    /// stays flat, and counts with [`FakeGraph::on_send`] instead.
    pub fn keep_sent(&self, keep: bool) {
        self.shared.state().discard_sent = !keep;
    }

    /// Calls `hook` with every accepted Send API body, on the fake's server thread, outside its
    /// lock, after the body was recorded and before the answer goes out. Replaces any earlier
    /// hook.
    pub fn on_send(&self, hook: impl Fn(&Value) + Send + Sync + 'static) {
        self.shared.state().send_hook = Some(Arc::new(hook));
    }

    /// Forgets the recorded sends and rejections (not the scripted failures).
    pub fn clear_sent(&self) {
        let mut state = self.shared.state();
        state.sent.clear();
        state.rejected.clear();
    }

    /// Queues failures: each of the next calls to `/me/messages` consumes one and answers it,
    /// before any other check. Queued failures add up across calls.
    pub fn fail_next_sends(&self, errors: impl IntoIterator<Item = FakeError>) {
        self.shared
            .state()
            .send_failures
            .extend(errors.into_iter().map(Some));
    }

    /// Scripts the next calls to `/me/messages`, one entry each: `None` is answered as usual,
    /// `Some(error)` with that error. Adds to what is already queued.
    pub fn script_sends(&self, outcomes: impl IntoIterator<Item = Option<FakeError>>) {
        self.shared.state().send_failures.extend(outcomes);
    }

    /// Waits until at least `n` sends were accepted and returns all of them.
    ///
    /// # Panics
    ///
    /// If `timeout` passes first, showing what was sent and rejected.
    #[cfg(any(test, feature = "testing"))]
    pub async fn wait_for_sent(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.sent_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.shared.state();
                if state.sent.len() >= n {
                    return state.sent.clone();
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let state = self.shared.state();
                panic!(
                    "fake graph: waited {timeout:?} for {n} sends, got {}: {:#?}\nrejected: {:#?}",
                    state.sent.len(),
                    state.sent,
                    state.rejected
                );
            }
        }
    }

    /// Sets the profile answered for `psid`, e.g.
    /// `json!({"first_name":"Ann","last_name":"Lee","locale":"en_US"})`.
    pub fn set_profile(&self, psid: &str, profile: Value) {
        let mut state = self.shared.state();
        state.profile_errors.remove(psid);
        state.profiles.insert(psid.to_owned(), profile);
    }

    /// The profile set for `psid` with [`FakeGraph::set_profile`], if any.
    pub fn profile(&self, psid: &str) -> Option<Value> {
        self.shared.state().profiles.get(psid).cloned()
    }

    /// Makes every profile request for `psid` fail with `error`, e.g.
    /// `FakeError::graph(100, Some(2018001))` ("no matching user").
    pub fn set_profile_error(&self, psid: &str, error: FakeError) {
        self.shared
            .state()
            .profile_errors
            .insert(psid.to_owned(), error);
    }

    /// How many User Profile requests arrived (failed ones included).
    pub fn profile_calls(&self) -> usize {
        self.shared.state().profile_calls
    }

    /// The Messenger Profile properties currently set, as one JSON object.
    pub fn messenger_profile(&self) -> Value {
        Value::Object(self.shared.state().messenger_profile.clone())
    }

    /// From now on, accept `token` too, as the token of another Page: its requests are
    /// answered like [`FAKE_PAGE_TOKEN`]'s, and its Messenger Profile calls act on a profile of
    /// its own ([`FakeGraph::messenger_profile_of`]), empty at first.
    pub fn add_page_token(&self, token: &str) {
        if token != FAKE_PAGE_TOKEN {
            self.shared
                .state()
                .other_pages
                .entry(token.to_owned())
                .or_default();
        }
    }

    /// The Messenger Profile properties of the Page of `token` ([`FAKE_PAGE_TOKEN`] or one
    /// added with [`FakeGraph::add_page_token`]), as one JSON object; `{}` for an unknown one.
    pub fn messenger_profile_of(&self, token: &str) -> Value {
        let mut state = self.shared.state();
        Value::Object(state.profile_of(token).cloned().unwrap_or_default())
    }

    /// Replaces the Messenger Profile properties of the Page of `token` (accepting it as
    /// [`FakeGraph::add_page_token`] does) without counting a call.
    pub fn set_messenger_profile_of(&self, token: &str, props: Value) {
        self.add_page_token(token);
        let mut state = self.shared.state();
        if let Some(profile) = state.profile_of(token) {
            *profile = match props {
                Value::Object(map) => map,
                _ => Map::new(),
            };
        }
    }

    /// Replaces the Messenger Profile properties without counting a call (to start a test from
    /// a Page that already has settings). A value that is not an object clears them.
    pub fn set_messenger_profile(&self, props: Value) {
        self.shared.state().messenger_profile = match props {
            Value::Object(map) => map,
            _ => Map::new(),
        };
    }

    /// How many Messenger Profile requests (GET, POST, DELETE) arrived, failed ones included.
    pub fn messenger_profile_calls(&self) -> usize {
        self.shared.state().messenger_profile_calls
    }

    /// Every Messenger Profile request (GET, POST, DELETE) in arrival order, failed ones
    /// included.
    pub fn messenger_profile_requests(&self) -> Vec<ProfileRequest> {
        self.shared.state().messenger_profile_requests.clone()
    }

    /// Queues failures for the next Messenger Profile requests, one per request, e.g.
    /// `FakeError::graph(613, None)` for the 10-calls-per-10-minutes limit.
    pub fn fail_next_messenger_profile_calls(&self, errors: impl IntoIterator<Item = FakeError>) {
        self.shared
            .state()
            .messenger_profile_failures
            .extend(errors.into_iter().map(Some));
    }

    /// Scripts the next Messenger Profile requests, one entry each: `None` is answered as
    /// usual, `Some(error)` with that error (e.g. let a `GET` through, then fail a `POST`).
    /// Adds to what is already queued.
    pub fn script_messenger_profile_calls(
        &self,
        outcomes: impl IntoIterator<Item = Option<FakeError>>,
    ) {
        self.shared
            .state()
            .messenger_profile_failures
            .extend(outcomes);
    }

    /// From now on, require `appsecret_proof` = hex HMAC-SHA256(token, key = `app_secret`) on
    /// every request, as a Page whose app enables "Require App Secret" does (else error 100).
    pub fn expect_app_secret(&self, app_secret: &str) {
        self.shared.state().app_secret = Some(app_secret.to_owned());
    }

    /// The `appsecret_proof` query parameter of the last request, if it had one.
    pub fn last_appsecret_proof(&self) -> Option<String> {
        self.shared.state().last_appsecret_proof.clone()
    }
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits for completion.
        drop(self.server.stop(false));
    }
}

impl std::fmt::Debug for FakeGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGraph")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

/// What the handlers and the `FakeGraph` share.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Woken on every accepted send.
    sent_changed: Notify,
}

impl Shared {
    /// Locks the state; a panicking test thread does not poison the fake for the others.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
struct State {
    sent: Vec<Value>,
    rejected: Vec<(Value, String)>,
    send_attempts: usize,
    send_arrivals: Vec<SystemTime>,
    send_failures: VecDeque<Option<FakeError>>,
    profiles: HashMap<String, Value>,
    profile_errors: HashMap<String, FakeError>,
    profile_calls: usize,
    messenger_profile: Map<String, Value>,
    /// The Messenger Profiles of the Pages added by token ([`FakeGraph::add_page_token`]).
    other_pages: HashMap<String, Map<String, Value>>,
    messenger_profile_calls: usize,
    messenger_profile_requests: Vec<ProfileRequest>,
    messenger_profile_failures: VecDeque<Option<FakeError>>,
    app_secret: Option<String>,
    last_appsecret_proof: Option<String>,
    messages: u64,
    traces: u64,
    discard_sent: bool,
    send_hook: Option<SendHook>,
    /// The token each accepted send carried, in the order of `sent`.
    sent_tokens: Vec<String>,
    /// Sends carrying this token are answered with this error, every time.
    token_failures: HashMap<String, FakeError>,
}

/// What [`FakeGraph::on_send`] installs.
type SendHook = Arc<dyn Fn(&Value) + Send + Sync>;

impl State {
    /// Whether `token` is a Page's: [`FAKE_PAGE_TOKEN`] or one added.
    fn accepts(&self, token: &str) -> bool {
        token == FAKE_PAGE_TOKEN || self.other_pages.contains_key(token)
    }

    /// The Messenger Profile of the Page of `token`, if the fake accepts it.
    fn profile_of(&mut self, token: &str) -> Option<&mut Map<String, Value>> {
        if token == FAKE_PAGE_TOKEN {
            Some(&mut self.messenger_profile)
        } else {
            self.other_pages.get_mut(token)
        }
    }

    fn next_trace(&mut self) -> String {
        self.traces += 1;
        format!("FAKE{}", self.traces)
    }

    fn next_message_id(&mut self) -> String {
        self.messages += 1;
        format!("m_fake_{}", self.messages)
    }
}

/// The default profile of a PSID nobody configured.
fn default_profile() -> Value {
    json!({"first_name": "Test", "last_name": "User"})
}

fn default_message(code: i64, subcode: Option<i64>) -> &'static str {
    match (code, subcode) {
        (1, _) => "An unknown error has occurred.",
        (2, _) => "An unexpected error has occurred. Please retry your request later.",
        (4, _) => "(#4) Application request limit reached",
        (10, Some(2018065 | 2018278)) => "(#10) This message is sent outside of allowed window.",
        (10, Some(2018300)) => "(#10) Another app is controlling this thread now.",
        (10, _) => "(#10) Requires pages_messaging permission to manage the object",
        (17, _) => "(#17) User request limit reached",
        (32, _) => "(#32) Page request limit reached",
        (99, _) => "An unknown error occurred",
        (100, Some(2018001)) => "(#100) No matching user found",
        (100, Some(2018109)) => "(#100) Attachment size exceeds allowable limit",
        (100, _) => "(#100) Invalid parameter",
        (190, _) => "Invalid OAuth access token - Cannot parse access token",
        (200, _) => "(#200) This person isn't receiving messages from you right now.",
        (551, _) => "(#551) This person isn't available right now.",
        (613, _) => "(#613) Calls to this api have exceeded the rate limit.",
        (1200, _) => "(#1200) Temporary send message failure. Please try again later",
        (10303, _) => "(#10303) Invalid account_linking_token",
        (80006, _) => "(#80006) There have been too many messages sent to this user.",
        _ => "(#0) fake graph error",
    }
}
