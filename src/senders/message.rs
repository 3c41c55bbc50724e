//! [`Message`]: the `message` of a Send API body, and the only way to one.
//!
//! A bot's own sender builds its message here, and each constructor checks the Send API's
//! limits ([`super::limits`]), so no sender can hand the pipeline a body Facebook would refuse
//! for its shape. The built-in senders check their arguments when the policy loads and wrap what
//! they build with [`Message::checked`], which only this crate can call.

use serde_json::{Value, json};

use super::limits::{
    self, LimitError, MAX_QUICK_REPLIES, MAX_QUICK_REPLY_TITLE_CHARS, MAX_TEXT_CHARS, Payload,
};

/// The `message` of a Send API request, checked against the Send API's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Message(Value);

impl Message {
    /// A text message: 1 to 2,000 characters.
    pub fn text(text: impl Into<String>) -> Result<Self, LimitError> {
        let text = text.into();
        limits::length("message text", &text, MAX_TEXT_CHARS)?;
        Ok(Self(json!({ "text": text })))
    }

    /// The message with quick replies under it (1 to 13; a message has one set).
    pub fn with_quick_replies(
        mut self,
        replies: impl IntoIterator<Item = QuickReply>,
    ) -> Result<Self, LimitError> {
        let replies: Vec<Value> = replies.into_iter().map(|r| r.0).collect();
        limits::count("quick replies", replies.len(), 1, MAX_QUICK_REPLIES)?;
        if let Some(message) = self.0.as_object_mut() {
            message.insert("quick_replies".to_owned(), Value::Array(replies));
        }
        Ok(self)
    }

    /// A message a built-in sender built from arguments checked when the policy loaded.
    pub(crate) fn checked(message: Value) -> Self {
        Self(message)
    }

    /// The JSON of the `message` field.
    pub fn as_json(&self) -> &Value {
        &self.0
    }

    pub(crate) fn into_json(self) -> Value {
        self.0
    }
}

/// One text quick reply: a title of 1 to 20 characters and a payload of 1 to 1,000.
#[derive(Debug, Clone, PartialEq)]
pub struct QuickReply(Value);

impl QuickReply {
    /// A quick reply that sends `payload` back when tapped.
    pub fn text(title: impl Into<String>, payload: impl Into<String>) -> Result<Self, LimitError> {
        let title = title.into();
        limits::length("quick reply title", &title, MAX_QUICK_REPLY_TITLE_CHARS)?;
        let payload = Payload::parse("quick reply payload", payload.into())?;
        Ok(Self(json!({
            "content_type": "text",
            "title": title,
            "payload": payload.as_str(),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_checked_in_characters() {
        assert_eq!(
            Message::text("hi").unwrap().as_json(),
            &json!({ "text": "hi" })
        );
        assert!(Message::text("字".repeat(MAX_TEXT_CHARS)).is_ok());
        let too_long = Message::text("字".repeat(MAX_TEXT_CHARS + 1)).unwrap_err();
        assert_eq!(
            too_long.to_string(),
            "message text is 2001 characters, at most 2000"
        );
        assert_eq!(
            Message::text("").unwrap_err().to_string(),
            "message text is empty"
        );
    }

    #[test]
    fn quick_replies_are_counted_and_their_titles_and_payloads_checked() {
        let reply = |n: usize| QuickReply::text(format!("option {n}"), "P").unwrap();
        let message = Message::text("pick")
            .unwrap()
            .with_quick_replies([reply(1)])
            .unwrap();
        assert_eq!(
            message.as_json(),
            &json!({ "text": "pick", "quick_replies": [
                { "content_type": "text", "title": "option 1", "payload": "P" }
            ] })
        );
        let fourteen = Message::text("pick")
            .unwrap()
            .with_quick_replies((0..14).map(reply))
            .unwrap_err();
        assert_eq!(fourteen.to_string(), "14 quick replies, at most 13");
        assert!(
            Message::text("pick")
                .unwrap()
                .with_quick_replies([])
                .is_err()
        );
        assert_eq!(
            QuickReply::text("a title longer than twenty", "P")
                .unwrap_err()
                .to_string(),
            "quick reply title is 26 characters, at most 20"
        );
        assert!(QuickReply::text("ok", "").is_err());
        assert!(QuickReply::text("ok", "x".repeat(1001)).is_err());
    }
}
