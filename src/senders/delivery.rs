//! `messaging_type` and `tag`: why a message is sent, as each message sender takes them.
//!
//! `RESPONSE` (a reply within the 24-hour window) is the default. A `tag` alone implies
//! `MESSAGE_TAG`; `MESSAGE_TAG` needs a tag, and a tag goes with nothing else. Only the tags
//! alive after 27 Apr 2026 are accepted (MESSENGER.md section 5); the retired ones are refused
//! at load with a sentence saying so, since Graph would refuse every message with error 100.

use serde::Deserialize;
use serde_json::Value;

use super::{Message, Outgoing};
use crate::context::Context;

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessagingType {
    /// A reply within 24 hours of the user's last message.
    #[default]
    Response,
    /// A proactive update within the window.
    Update,
    /// Outside the window, with a [`Tag`].
    MessageTag,
    /// A utility message (template-based, outside the window).
    Utility,
}

impl MessagingType {
    /// The Send API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Response => "RESPONSE",
            Self::Update => "UPDATE",
            Self::MessageTag => "MESSAGE_TAG",
            Self::Utility => "UTILITY",
        }
    }
}

/// A message tag still accepted by Graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// A human agent answers, within 7 days of the user's message.
    HumanAgent,
    /// A customer feedback survey.
    CustomerFeedback,
}

impl Tag {
    /// Accepted tags, as written.
    pub const KNOWN: &'static [&'static str] = &["HUMAN_AGENT", "CUSTOMER_FEEDBACK"];
    /// Tags Graph refuses since 27 Apr 2026.
    const RETIRED: &'static [&'static str] = &[
        "CONFIRMED_EVENT_UPDATE",
        "POST_PURCHASE_UPDATE",
        "ACCOUNT_UPDATE",
    ];

    /// Reads a tag as written in the policy.
    pub fn parse(tag: &str) -> Result<Self, String> {
        match tag {
            "HUMAN_AGENT" => Ok(Self::HumanAgent),
            "CUSTOMER_FEEDBACK" => Ok(Self::CustomerFeedback),
            retired if Self::RETIRED.contains(&retired) => Err(format!(
                "tag {retired} was retired on 27 Apr 2026 (Graph refuses it with error 100); \
                 use {}",
                Self::KNOWN.join(" or ")
            )),
            other => Err(format!(
                "unknown tag \"{other}\" (known: {})",
                Self::KNOWN.join(", ")
            )),
        }
    }

    /// The Send API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HumanAgent => "HUMAN_AGENT",
            Self::CustomerFeedback => "CUSTOMER_FEEDBACK",
        }
    }
}

/// A checked `messaging_type` with its `tag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delivery {
    messaging_type: MessagingType,
    tag: Option<Tag>,
}

impl Delivery {
    /// Checks a sender's `messaging_type` and `tag` arguments.
    pub fn parse(messaging_type: Option<MessagingType>, tag: Option<&str>) -> Result<Self, String> {
        let tag = tag.map(Tag::parse).transpose()?;
        match (messaging_type, tag) {
            (None | Some(MessagingType::MessageTag), Some(tag)) => Ok(Self {
                messaging_type: MessagingType::MessageTag,
                tag: Some(tag),
            }),
            (Some(MessagingType::MessageTag), None) => Err(format!(
                "messaging_type MESSAGE_TAG needs a tag ({})",
                Tag::KNOWN.join(" or ")
            )),
            (Some(other), Some(_)) => Err(format!(
                "a tag goes with messaging_type MESSAGE_TAG, not {}",
                other.as_str()
            )),
            (messaging_type, None) => Ok(Self {
                messaging_type: messaging_type.unwrap_or_default(),
                tag: None,
            }),
        }
    }

    /// A Send API body replying to the event's sender with `message`.
    pub fn reply(&self, cx: &Context, message: Message) -> Outgoing {
        let mut outgoing = cx.reply(message);
        outgoing.set("messaging_type", Value::from(self.messaging_type.as_str()));
        if let Some(tag) = self.tag {
            outgoing.set("tag", Value::from(tag.as_str()));
        }
        outgoing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_is_the_default_and_a_tag_implies_message_tag() {
        assert_eq!(Delivery::parse(None, None), Ok(Delivery::default()));
        assert_eq!(
            Delivery::parse(None, Some("HUMAN_AGENT")),
            Ok(Delivery {
                messaging_type: MessagingType::MessageTag,
                tag: Some(Tag::HumanAgent)
            })
        );
        assert_eq!(
            Delivery::parse(Some(MessagingType::Update), None).map(|d| d.messaging_type),
            Ok(MessagingType::Update)
        );
    }

    #[test]
    fn inconsistent_or_retired_tags_are_refused() {
        for (messaging_type, tag, needle) in [
            (
                Some(MessagingType::MessageTag),
                None,
                "messaging_type MESSAGE_TAG needs a tag (HUMAN_AGENT or CUSTOMER_FEEDBACK)",
            ),
            (
                Some(MessagingType::Response),
                Some("HUMAN_AGENT"),
                "a tag goes with messaging_type MESSAGE_TAG, not RESPONSE",
            ),
            (
                None,
                Some("ACCOUNT_UPDATE"),
                "tag ACCOUNT_UPDATE was retired on 27 Apr 2026",
            ),
            (None, Some("human_agent"), "unknown tag \"human_agent\""),
        ] {
            let err = Delivery::parse(messaging_type, tag).unwrap_err();
            assert!(err.starts_with(needle), "{err}");
        }
    }
}
