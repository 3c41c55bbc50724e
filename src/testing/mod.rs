//! The test kit, for bot authors as much as for pagebot itself: a fake Graph API that checks
//! every outgoing message against the Send API limits and records it.
//!
//! Nothing here is used by the server at run time except by `pagebot simulate`. Helpers in this
//! module panic with a readable message when an expectation fails: they are meant for tests.
//!
//! ```no_run
//! # async fn demo() {
//! use pagebot::testing::FakeGraph;
//!
//! let fake = FakeGraph::start().await;
//! let settings = fake.settings(); // point the bot's Graph client here
//! // ... drive the bot ...
//! fake.assert_sent_text("PSID", "Hello Ann");
//! # }
//! ```

#![deny(missing_docs)]

pub mod fake_graph;

pub use fake_graph::{FAKE_PAGE_TOKEN, FakeError, FakeGraph};
pub mod app;
pub mod conversation;
pub mod expect;
pub mod render;
pub mod transcript;
pub mod webhook;

pub use app::{TEST_APP_SECRET, TEST_VERIFY_TOKEN, TestApp, TestBot, TestDatabase};
pub use conversation::{Action, Conversation, ConversationError, Turn, TurnOutcome, User};
pub use expect::{Expected, Mismatch};
pub use render::{BotMessage, MessageKind};
pub use transcript::{Transcript, TranscriptError};
pub use webhook::{LIKE_STICKER_ID, SignedBody, TEST_PAGE_ID, Webhook};
