//! `sender_action`: typing indicators and read marks.
//!
//! A sender action goes with the recipient only: no message, no `messaging_type`, no tag.

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
    /// The Send API's spelling.
    pub fn as_str(self) -> &'static str {
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
        Ok(vec![cx.action(self.action)])
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::senders::test_support::*;

    #[test]
    fn sends_each_action_with_the_recipient_only() {
        let locales = locales("", "");
        let t = TestContext::new(locales.clone(), None, &[]);
        for action in ["typing_on", "typing_off", "mark_seen"] {
            let sender = build(&locales, "sender_action", json!({"action": action})).unwrap();
            assert_eq!(
                t.body(sender.as_ref()),
                json!({"recipient": {"id": PSID}, "sender_action": action})
            );
        }
    }

    #[test]
    fn refusals() {
        let locales = locales("", "");
        for (args, expected) in [
            (json!({}), "missing field `action`"),
            (json!({"action": "typing"}), "unknown variant `typing`"),
            // react/unreact need a message id and a reaction: not a policy's business.
            (json!({"action": "react"}), "unknown variant `react`"),
            (
                json!({"action": "typing_on", "messaging_type": "RESPONSE"}),
                "unknown field `messaging_type`",
            ),
        ] {
            let err = refusal(&locales, "sender_action", args);
            assert!(err.starts_with(expected), "{err}\n  expected: {expected}");
        }
    }
}
