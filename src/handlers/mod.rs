//! Handlers decide whether an event is theirs and store what matters; one file each.
//!
//! A handler never sends: when it handled an event, the pipeline runs the senders its policy
//! link names. Handlers depend on [`Context`], never on actix or the pipeline.

mod dummy;
mod set_locale;
mod simple_text;
mod user_profile;

use async_trait::async_trait;

pub use dummy::Dummy;
pub use set_locale::{SetLocale, SetLocaleArgs};
pub use simple_text::{SimpleText, SimpleTextArgs};
pub use user_profile::{UserProfile, UserProfileArgs};

use crate::context::Context;
use crate::graph::GraphError;
use crate::store::StoreError;

/// A step of a policy chain.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Whether this handler wants the event; a handler that says no is skipped.
    fn should_handle(&self, _cx: &Context) -> bool {
        true
    }

    /// Handles the event: stores what matters, leaves variables for the senders.
    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError>;
}

/// Why a handler failed; the pipeline retries only what [`HandlerError::is_retryable`] says.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// The database failed (usually passing: retried).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A Graph call failed.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The event cannot be handled, and trying again will not change that.
    #[error("{0}")]
    Permanent(String),
}

impl HandlerError {
    /// Whether trying the event again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(_) => true,
            Self::Graph(e) => e.is_retryable(),
            Self::Permanent(_) => false,
        }
    }
}
