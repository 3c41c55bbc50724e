//! The test kit, for bot authors as much as for pagebot itself.
//!
//! - [`Webhook`]: signed webhook bodies of every event kind, batched as Facebook does.
//! - [`FakeGraph`]: a fake Graph API on a free loopback port that answers the Send, User
//!   Profile and Messenger Profile APIs, checks every outgoing message against the Send API
//!   limits, records it, and fails when told to.
//! - [`TestApp`] and [`TestDatabase`]: the real server on port 0 with a throw-away database.
//! - [`Conversation`]: named users talking to the real app in-process, replies asserted
//!   ([`Expected`], with a readable diff when they differ).
//! - [`Transcript`]: the same conversations written in YAML (`pagebot simulate --script`).
//! - [`BotMessage`]: a Send API body read back and rendered as the user sees it.
//!
//! Public with the `testing` feature (`pagebot = { version = "..", features = ["testing"] }` in
//! a bot's `[dev-dependencies]`). The server never uses it; `pagebot simulate` runs on the part
//! that reports mismatches as values, which every build compiles. The helpers that panic with a
//! readable message when an expectation fails (`TestApp::spawn`, awaiting a [`Turn`],
//! [`FakeGraph::assert_sent_text`], ...) exist only with the feature: they are meant for tests.
//!
//! ```no_run
//! # async fn demo() {
//! use pagebot::testing::{Conversation, TestDatabase};
//!
//! let bot = Conversation::start(TestDatabase::sqlite()).await;
//! bot.user("Ann").says("hi").expect_text("Hello Ann! Nice to meet you.").await;
//! bot.graph().assert_sent_text("psid_ann", "Hello Ann! Nice to meet you.");
//! # }
//! ```

#![deny(missing_docs)]
// Without the feature, the crate uses only what `simulate` needs.
#![cfg_attr(not(any(test, feature = "testing")), allow(dead_code, unused_imports))]

pub mod fake_graph;

pub use fake_graph::{FAKE_PAGE_TOKEN, FakeError, FakeGraph, ProfileRequest};
pub mod app;
#[cfg(feature = "browser-tests")]
pub mod browser;
pub mod conversation;
pub mod expect;
pub mod render;
pub mod transcript;
pub mod webhook;

pub use app::{
    CONVERSATION_IDLE, TEST_API_TOKEN, TEST_APP_SECRET, TEST_VERIFY_TOKEN, TestApp, TestBot,
    TestDatabase,
};
pub use conversation::{Action, Conversation, ConversationError, Turn, TurnOutcome, User};
pub use expect::{Expected, Mismatch};
pub use render::{BotMessage, MessageKind};
pub use transcript::{Transcript, TranscriptError};
pub use webhook::{LIKE_STICKER_ID, SignedBody, TEST_PAGE_ID, Webhook};
