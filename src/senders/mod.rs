//! Senders build the messages a handled event answers with; one file each.
//!
//! A sender is pure: it reads the [`Context`] and returns Send API bodies. The pipeline
//! delivers them, records each delivery and retries what can be retried.
//!
//! Every limit of the Send API is checked when the policy loads ([`limits`]), texts after
//! localization in every locale; message senders take `messaging_type` and `tag`
//! ([`delivery`]).

pub mod button;
pub mod delivery;
pub mod limits;
mod message;

mod buttons;
mod generic;
mod media;
mod quick_replies;
mod receipt;
mod sender_action;
mod text;

#[cfg(test)]
pub(crate) mod test_support;

pub use buttons::{Buttons, ButtonsArgs};
pub use delivery::{Delivery, MessagingType, Tag};
pub use generic::{Generic, GenericArgs};
pub use media::{Media, MediaArgs, MediaKind};
pub use message::{Message, QuickReply};
pub use quick_replies::{QuickReplies, QuickRepliesArgs};
pub use receipt::{Receipt, ReceiptArgs};
pub use sender_action::{Action, SenderAction, SenderActionArgs};
pub use text::{Text, TextArgs};

use crate::context::Context;
pub use crate::context::Outgoing;
use crate::i18n::I18nError;

/// Builds messages for a handled event.
pub trait Sender: Send + Sync + 'static {
    /// The Send API bodies to deliver, in order.
    fn build(&self, cx: &Context) -> Result<Vec<Outgoing>, SendError>;
}

/// Why a sender could not build its messages (never retried: the same input fails again).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// A text could not be localized.
    #[error(transparent)]
    I18n(#[from] I18nError),
    /// A built message breaks a Send API limit (e.g. a text its variables left empty).
    #[error("{0}")]
    Limit(String),
    /// The event has no one to reply to (the pipeline checks this before any sender runs).
    #[error("the event has no sender to reply to")]
    NoRecipient,
}

impl From<limits::LimitError> for SendError {
    fn from(error: limits::LimitError) -> Self {
        Self::Limit(error.to_string())
    }
}
