//! `sender_action`: typing indicators and read marks.

use serde::Deserialize;

use super::{Outgoing, SendError, Sender};
use crate::context::Context;

/// Sends a sender action.
#[derive(Debug, Clone)]
pub struct SenderAction {
    action: Action,
}

/// The sender actions that take no payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Shows the typing bubble.
    TypingOn,
    /// Hides it.
    TypingOff,
    /// Marks the user's last message as seen.
    MarkSeen,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::TypingOn => "typing_on",
            Self::TypingOff => "typing_off",
            Self::MarkSeen => "mark_seen",
        }
    }
}

/// Arguments of `sender_action`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderActionArgs {
    /// `typing_on`, `typing_off` or `mark_seen`.
    pub action: Action,
}

impl SenderAction {
    /// Builds it from its arguments.
    pub fn from_args(args: SenderActionArgs) -> Result<Self, String> {
        Ok(Self {
            action: args.action,
        })
    }
}

impl Sender for SenderAction {
    fn build(&self, cx: &Context) -> Result<Vec<Outgoing>, SendError> {
        if cx.psid().is_none() {
            return Err(SendError::NoRecipient);
        }
        Ok(vec![cx.action(self.action.as_str())])
    }
}
