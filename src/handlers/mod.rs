//! Handlers decide whether an event is theirs and store what matters; one file each.
//!
//! A handler never sends: when it handled an event, the pipeline runs the senders its policy
//! link names. Handlers depend on [`Context`], never on actix or the pipeline.

mod account_linking;
mod authentication;
mod dummy;
mod echo;
mod handover;
mod location;
mod multimedia;
mod payload;
mod postback;
mod quick_reply;
mod reaction;
mod referral;
mod set_locale;
mod simple_text;
mod thumb_up;
mod user_profile;
mod watermark;

use async_trait::async_trait;

pub use account_linking::{AccountLinking, AccountLinkingArgs};
pub use authentication::{Authentication, AuthenticationArgs};
pub use dummy::Dummy;
pub use echo::{Echo, EchoArgs};
pub use handover::{Handover, HandoverArgs};
pub use location::{Location, LocationArgs};
pub use multimedia::{Multimedia, MultimediaArgs};
pub use postback::{Postback, PostbackArgs};
pub use quick_reply::{QuickReply, QuickReplyArgs};
pub use reaction::{Reaction, ReactionArgs};
pub use referral::{Referral, ReferralArgs};
pub use set_locale::{SetLocale, SetLocaleArgs};
pub(crate) use simple_text::REGEX_SIZE_LIMIT;
pub use simple_text::{SimpleText, SimpleTextArgs};
pub use thumb_up::{THUMBS_UP_STICKER_IDS, ThumbUp, ThumbUpArgs};
pub use user_profile::{UserProfile, UserProfileArgs};
pub use watermark::{Watermark, WatermarkArgs};

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

    /// Whether this link's senders may fire for an echo (one of the Page's own messages).
    ///
    /// No by default, so that a bot never answers itself, whichever chain (`default` too) the
    /// link is in; only the `echo` handler with `answer: true` says yes.
    fn answers_echoes(&self) -> bool {
        false
    }

    /// The regex the event's text must match for [`Handler::should_handle`] to say yes, if
    /// this handler has one.
    ///
    /// The pipeline then matches the patterns of a chain's links all at once, and skips a link
    /// whose pattern does not match the text without asking it. So a handler that returns a
    /// pattern must say no to every text the pattern does not match (as
    /// [`regex::Regex::is_match`] would, with the same case-insensitivity); events without text
    /// are still asked. None by default: the handler is always asked.
    fn text_pattern(&self) -> Option<TextPattern<'_>> {
        None
    }

    /// Whether this handler reads the user's conversation in
    /// [`Handler::should_handle`]: then the pipeline reads it with the claim, and
    /// [`Context::loaded_conversation`] has it. No by default; [`Handler::handle`] can always
    /// read it with [`Context::conversation`] (one query, unless it was read already, as it
    /// is in a policy with steps).
    fn uses_conversation(&self) -> bool {
        false
    }
}

/// A regex that an event's text must match for a handler to want it; see
/// [`Handler::text_pattern`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextPattern<'a> {
    /// The regex, as written in the policy.
    pub pattern: &'a str,
    /// Whether it matches without regard to case.
    pub ignore_case: bool,
}

/// The event's own time (epoch ms), or now for events without one (deliveries).
pub(crate) fn event_time(cx: &Context) -> i64 {
    cx.event
        .messaging
        .timestamp
        .unwrap_or_else(crate::store::now_ms)
}

/// The message, unless it is one of the Page's own echoed back.
pub(crate) fn user_message(cx: &Context) -> Option<&crate::event::Message> {
    cx.event.messaging.message.as_ref().filter(|m| !m.is_echo)
}

/// Checks that every name in `given` is one of `known`; the error names the field.
pub(crate) fn check_names(field: &str, given: &[String], known: &[&str]) -> Result<(), String> {
    match given.iter().find(|g| !known.contains(&g.as_str())) {
        Some(bad) => Err(format!(
            "{field}: unknown value \"{bad}\" (known: {})",
            known.join(", ")
        )),
        None => Ok(()),
    }
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

/// `cx.outbox().send(draft).await?` in a handler: a draft that cannot be sent is permanent, a
/// database that did not take it is retried.
impl From<crate::outbox::OutboxError> for HandlerError {
    fn from(error: crate::outbox::OutboxError) -> Self {
        match error {
            crate::outbox::OutboxError::Store(e) => Self::Store(e),
            other => Self::Permanent(other.to_string()),
        }
    }
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
