//! The Graph API client: Send API, User Profile API and Messenger Profile API, with typed,
//! classified errors (MESSENGER.md sections 5 to 7).
//!
//! One [`GraphClient`] (cheap to clone, one shared connection pool) serves the whole process.
//! It never logs the Page token or the `appsecret_proof`, and never puts them in an error. It
//! does not log failures either: it returns a [`GraphError`], and the caller logs it once with
//! its `fbtrace_id` and decides, with [`GraphError::is_retryable`], whether to try again.
//!
//! Without a Page token the client is in *log mode* (`serve --dev`): sends are logged and
//! answered with synthetic ids, profiles come back empty.
//!
//! Depends on nothing of ours: no actix, no store, no event model.

#![deny(missing_docs)]

mod client;
mod error;
mod settings;
mod types;

pub use client::GraphClient;
pub use error::GraphError;
pub use settings::{DEFAULT_BASE_URL, DEFAULT_TIMEOUT, DEFAULT_VERSION, GraphSettings};
pub use types::{SendResponse, UserProfile};
