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
//!
//! # The API for bot authors
//!
//! - [`registry`]: name your handlers and senders ([`Registry`]), and your migrations.
//! - [`handlers`] ([`Handler`]) and [`context`] ([`Context`]): decide and store;
//!   [`conversation`]: read and move the user's step and remembered values.
//! - [`senders`] ([`Sender`], [`senders::Message`], [`senders::limits`]): build messages.
//! - [`event`]: the webhook's model and the [`ReceivingType`]s.
//! - [`store`]: the database your handlers write to (and [`store::AppMigrations`]).
//! - [`i18n`]: the Fluent locales; [`graph`]: the Graph API's types and errors.
//! - [`cli`], [`config`], [`startup`]: run the whole `pagebot` command line, or build the
//!   server yourself; [`exit`]: the exit codes.
//! - `testing` (with the `testing` feature): the test kit.
//!
//! The other modules are pagebot's own machinery: hidden from these docs (`policy`,
//! `check` and `webhook`'s signatures stay reachable for tests and tools) or private.
#![deny(missing_docs)]

pub mod cli;
pub mod clock;
pub mod config;
pub mod context;
pub mod conversation;
pub mod event;
pub mod exit;
pub mod graph;
pub mod handlers;
pub mod i18n;
pub mod outbox;
pub mod registry;
pub mod senders;
pub mod startup;
pub mod store;

#[doc(hidden)]
pub mod check;
#[doc(hidden)]
pub mod policy;
#[doc(hidden)]
pub mod webhook;

mod admin;
mod api;
mod broadcast_admin;
mod metrics;
mod pages;
mod pipeline;
mod retention;
mod simulate;
mod thread_settings;
mod web;

// The test kit: public with the `testing` feature (bot authors' tests, pagebot's own). Without
// it, only the part `pagebot simulate` runs on is compiled, for the crate's own use: nothing
// that panics on a failed expectation.
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(not(any(test, feature = "testing")))]
pub(crate) mod testing;

pub use context::{Context, Outgoing};
pub use event::ReceivingType;
pub use handlers::{Handler, HandlerError};
pub use registry::Registry;
pub use senders::{SendError, Sender};
pub use store::AppMigrations;
