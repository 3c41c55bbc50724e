//! pagebot: a framework and server for Facebook Messenger Page bots.
//!
//! A webhook verifies and stores every Messenger event, a worker classifies it into a
//! [`ReceivingType`], runs the chain of [handlers](handlers::Handler)
//! that `routing.yaml` names for that type, and delivers what their
//! [senders](senders::Sender) build through the Graph Send API, localized with Fluent.
//!
//! A bot adds its own handlers and senders to a [`Registry`] and serves it:
//!
//! ```no_run
//! use pagebot::{Registry, config::Settings, startup::Application};
//! # async fn run(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
//! let registry = Registry::builtin(); // .handler("weather", Weather::from_args) ...
//! Application::build(settings, registry).await?.run_until_stopped().await?;
//! # Ok(()) }
//! ```
//!
//! A bot whose handlers store rows of their own registers the migrations of its tables with
//! [`Registry::migrations`]; they run after pagebot's ([`AppMigrations`]).
#![deny(missing_docs)]

pub mod admin;
pub mod check;
pub mod cli;
pub mod config;
pub mod context;
pub mod event;
pub mod exit;
pub mod graph;
pub mod handlers;
pub mod i18n;
pub mod metrics;
pub mod pipeline;
pub mod policy;
pub mod registry;
pub mod retention;
pub mod senders;
pub mod simulate;
pub mod startup;
pub mod store;
// The test kit: public with the `testing` feature (bot authors' tests, pagebot's own). Without
// it, only the part `pagebot simulate` runs on is compiled, for the crate's own use: nothing
// that panics on a failed expectation.
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(not(any(test, feature = "testing")))]
pub(crate) mod testing;
pub mod thread_settings;
pub mod webhook;

pub use context::{Context, Outgoing};
pub use event::ReceivingType;
pub use handlers::{Handler, HandlerError};
pub use registry::Registry;
pub use senders::{SendError, Sender};
pub use store::AppMigrations;
