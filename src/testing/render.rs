//! [`BotMessage`]: a Send API body read back as what the user sees, and rendered readably.
//!
//! The shapes are the platform's (MESSENGER.md section 5), so this reads any sender's output:
//! text with quick replies, the button template, the generic template (cards), the receipt
//! template, media attachments and sender actions. Anything else is kept as
//! [`MessageKind::Other`] and rendered as its JSON, never refused.
//!
//! ```
//! use pagebot::testing::BotMessage;
//! use serde_json::json;
//!
//! let message = BotMessage::from_body(&json!({
//!     "recipient": {"id": "42"}, "messaging_type": "RESPONSE",
//!     "message": {"text": "Pick a colour", "quick_replies": [
//!         {"content_type": "text", "title": "Red", "payload": "COLOR_RED"},
//!         {"content_type": "text", "title": "Blue", "payload": "COLOR_BLUE"}]}}));
//! assert_eq!(message.quick_reply_titles(), ["Red", "Blue"]);
//! assert_eq!(message.render(), "Pick a colour\n  quick replies: [1] Red  [2] Blue");
//! ```

use std::fmt::Write as _;

use serde_json::Value;

/// One message (or sender action) the bot sent, as the user sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct BotMessage {
    /// What kind of message it is.
    pub kind: MessageKind,
    /// The text: `message.text`, or the button template's `text`.
    pub text: Option<String>,
    /// The quick replies under the message, in order.
    pub quick_replies: Vec<QuickReplyChoice>,
    /// The button template's buttons, in order.
    pub buttons: Vec<ButtonChoice>,
    /// The generic template's elements, or the receipt's summary as one card.
    pub cards: Vec<Card>,
    /// The Send API body as sent.
    pub raw: Value,
}

/// What kind of message a [`BotMessage`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageKind {
    /// `message.text` (with or without quick replies).
    Text,
    /// A button template.
    Buttons,
    /// A generic template (a carousel of cards).
    Generic,
    /// A receipt template.
    Receipt,
    /// A media attachment (`image`, `audio`, `video`, `file`) and its URL or attachment id.
    Media {
        /// `image`, `audio`, `video` or `file`.
        media: String,
        /// The URL, or `attachment_id:N` for a reused attachment.
        source: String,
    },
    /// A sender action (`typing_on`, `typing_off`, `mark_seen`, ...).
    Action(String),
    /// A shape this module does not know (rendered as JSON).
    Other,
}

/// One quick reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickReplyChoice {
    /// `text`, `user_phone_number` or `user_email`.
    pub content_type: String,
    /// The title (empty for phone and email replies, which have none).
    pub title: String,
    /// The payload sent back when tapped.
    pub payload: Option<String>,
}

/// One button of a button template or card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonChoice {
    /// `postback`, `web_url`, `phone_number`, `account_link`, ...
    pub kind: String,
    /// The title.
    pub title: String,
    /// The postback or phone payload.
    pub payload: Option<String>,
    /// The URL of a `web_url` or `account_link` button.
    pub url: Option<String>,
}

/// One element of a generic template, or a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// The title.
    pub title: String,
    /// The subtitle, if any.
    pub subtitle: Option<String>,
    /// The image URL, if any.
    pub image_url: Option<String>,
    /// Extra lines (receipt items and total).
    pub lines: Vec<String>,
    /// The card's buttons.
    pub buttons: Vec<ButtonChoice>,
}

impl BotMessage {
    /// Reads a Send API body (`{"recipient":..,"message":..}` or `{"recipient":..,
    /// "sender_action":..}`). Never fails: an unknown shape is [`MessageKind::Other`].
    pub fn from_body(body: &Value) -> Self {
        let mut message = Self {
            kind: MessageKind::Other,
            text: None,
            quick_replies: Vec::new(),
            buttons: Vec::new(),
            cards: Vec::new(),
            raw: body.clone(),
        };
        if let Some(action) = body.get("sender_action").and_then(Value::as_str) {
            message.kind = MessageKind::Action(action.to_owned());
            return message;
        }
        let Some(inner) = body.get("message") else {
            return message;
        };
        message.quick_replies = inner
            .get("quick_replies")
            .and_then(Value::as_array)
            .map(|replies| replies.iter().map(quick_reply).collect())
            .unwrap_or_default();
        if let Some(text) = inner.get("text").and_then(Value::as_str) {
            message.kind = MessageKind::Text;
            message.text = Some(text.to_owned());
            return message;
        }
        let Some(attachment) = inner.get("attachment") else {
            return message;
        };
        let kind = str_at(attachment, "type").unwrap_or_default();
        let payload = attachment.get("payload").unwrap_or(&Value::Null);
        match (kind.as_str(), str_at(payload, "template_type").as_deref()) {
            ("template", Some("button")) => {
                message.kind = MessageKind::Buttons;
                message.text = str_at(payload, "text");
                message.buttons = buttons(payload);
            }
            ("template", Some("generic")) => {
                message.kind = MessageKind::Generic;
                message.cards = payload
                    .get("elements")
                    .and_then(Value::as_array)
                    .map(|elements| elements.iter().map(card).collect())
                    .unwrap_or_default();
            }
            ("template", Some("receipt")) => {
                message.kind = MessageKind::Receipt;
                message.cards = vec![receipt(payload)];
            }
            ("image" | "audio" | "video" | "file", _) => {
                let source = str_at(payload, "url")
                    .or_else(|| {
                        payload
                            .get("attachment_id")
                            .map(|id| format!("attachment_id:{}", scalar(id)))
                    })
                    .unwrap_or_default();
                message.kind = MessageKind::Media {
                    media: kind,
                    source,
                };
            }
            _ => {}
        }
        message
    }

    /// Whether this is a sender action rather than a message.
    pub fn is_action(&self) -> bool {
        matches!(self.kind, MessageKind::Action(_))
    }

    /// The quick replies' titles, in order.
    pub fn quick_reply_titles(&self) -> Vec<String> {
        self.quick_replies.iter().map(|q| q.title.clone()).collect()
    }

    /// The buttons' titles (of the button template, else of every card), in order.
    pub fn button_titles(&self) -> Vec<String> {
        self.all_buttons().map(|b| b.title.clone()).collect()
    }

    /// The cards' titles, in order.
    pub fn card_titles(&self) -> Vec<String> {
        self.cards.iter().map(|c| c.title.clone()).collect()
    }

    /// The template's buttons, then every card's, in the order they are numbered when rendered.
    pub fn all_buttons(&self) -> impl Iterator<Item = &ButtonChoice> {
        self.buttons
            .iter()
            .chain(self.cards.iter().flat_map(|c| c.buttons.iter()))
    }

    /// The attachment kind: `image`, `audio`, `video`, `file`, `template`, if any.
    pub fn attachment_kind(&self) -> Option<&str> {
        match &self.kind {
            MessageKind::Media { media, .. } => Some(media),
            MessageKind::Buttons | MessageKind::Generic | MessageKind::Receipt => Some("template"),
            _ => None,
        }
    }

    /// The message as a user would read it, on one or more lines; quick replies and buttons
    /// numbered from 1 (buttons numbered across all cards), templates drawn as cards.
    pub fn render(&self) -> String {
        let mut out = String::new();
        match &self.kind {
            MessageKind::Text => out.push_str(self.text.as_deref().unwrap_or_default()),
            MessageKind::Buttons => {
                out.push_str(self.text.as_deref().unwrap_or_default());
                let _ = write!(out, "\n  buttons: {}", numbered_buttons(&self.buttons, 1));
            }
            MessageKind::Generic | MessageKind::Receipt => {
                let mut first_button = 1;
                let count = self.cards.len();
                for (i, card) in self.cards.iter().enumerate() {
                    if i > 0 {
                        out.push('\n');
                    }
                    let label = if self.kind == MessageKind::Receipt {
                        "receipt".to_owned()
                    } else {
                        format!("card {}/{count}", i + 1)
                    };
                    render_card(&mut out, &label, card, first_button);
                    first_button += card.buttons.len();
                }
            }
            MessageKind::Media { media, source } => {
                let _ = write!(out, "[{media}] {source}");
            }
            MessageKind::Action(action) => {
                let _ = write!(out, "({action})");
            }
            MessageKind::Other => {
                let shown = self.raw.get("message").unwrap_or(&self.raw);
                let _ = write!(out, "(message) {shown}");
            }
        }
        if !self.quick_replies.is_empty() {
            let replies: Vec<String> = self
                .quick_replies
                .iter()
                .enumerate()
                .map(|(i, q)| {
                    if q.title.is_empty() {
                        format!("[{}] <{}>", i + 1, q.content_type)
                    } else {
                        format!("[{}] {}", i + 1, q.title)
                    }
                })
                .collect();
            let _ = write!(out, "\n  quick replies: {}", replies.join("  "));
        }
        out
    }
}

fn render_card(out: &mut String, label: &str, card: &Card, first_button: usize) {
    let _ = write!(out, "  +-- {label}: {}", card.title);
    if let Some(subtitle) = &card.subtitle {
        let _ = write!(out, "\n  |   {subtitle}");
    }
    if let Some(image) = &card.image_url {
        let _ = write!(out, "\n  |   [image] {image}");
    }
    for line in &card.lines {
        let _ = write!(out, "\n  |   {line}");
    }
    if !card.buttons.is_empty() {
        let _ = write!(
            out,
            "\n  |   {}",
            numbered_buttons(&card.buttons, first_button)
        );
    }
    out.push_str("\n  +--");
}

fn numbered_buttons(buttons: &[ButtonChoice], first: usize) -> String {
    buttons
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let target = match (b.kind.as_str(), &b.url, &b.payload) {
                ("postback", _, _) => String::new(),
                (_, Some(url), _) => format!(" <{url}>"),
                ("phone_number", _, Some(phone)) => format!(" <tel:{phone}>"),
                (kind, ..) => format!(" <{kind}>"),
            };
            format!("({}) {}{target}", first + i, b.title)
        })
        .collect::<Vec<_>>()
        .join("  ")
}

fn quick_reply(value: &Value) -> QuickReplyChoice {
    QuickReplyChoice {
        content_type: str_at(value, "content_type").unwrap_or_else(|| "text".to_owned()),
        title: str_at(value, "title").unwrap_or_default(),
        payload: value.get("payload").map(scalar),
    }
}

fn buttons(value: &Value) -> Vec<ButtonChoice> {
    value
        .get("buttons")
        .and_then(Value::as_array)
        .map(|buttons| {
            buttons
                .iter()
                .map(|b| ButtonChoice {
                    kind: str_at(b, "type").unwrap_or_default(),
                    title: str_at(b, "title").unwrap_or_default(),
                    payload: b.get("payload").map(scalar),
                    url: str_at(b, "url"),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn card(element: &Value) -> Card {
    Card {
        title: str_at(element, "title").unwrap_or_default(),
        subtitle: str_at(element, "subtitle"),
        image_url: str_at(element, "image_url"),
        lines: Vec::new(),
        buttons: buttons(element),
    }
}

fn receipt(payload: &Value) -> Card {
    let currency = str_at(payload, "currency").unwrap_or_default();
    let mut lines: Vec<String> = payload
        .get("elements")
        .and_then(Value::as_array)
        .map(|elements| {
            elements
                .iter()
                .map(|e| {
                    let quantity = e.get("quantity").map(scalar).unwrap_or_else(|| "1".into());
                    let price = e.get("price").map(scalar).unwrap_or_default();
                    format!(
                        "{quantity} x {} {price} {currency}",
                        str_at(e, "title").unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(total) = payload.pointer("/summary/total_cost") {
        lines.push(format!("total {} {currency}", scalar(total)));
    }
    Card {
        title: format!(
            "order {} for {}",
            payload.get("order_number").map(scalar).unwrap_or_default(),
            str_at(payload, "recipient_name").unwrap_or_default()
        ),
        subtitle: str_at(payload, "payment_method"),
        image_url: None,
        lines,
        buttons: Vec::new(),
    }
}

fn str_at(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A JSON scalar as text: strings without quotes, numbers as written.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(message: Value) -> Value {
        json!({"recipient": {"id": "42"}, "messaging_type": "RESPONSE", "message": message})
    }

    #[test]
    fn a_button_template_renders_numbered_buttons_with_their_targets() {
        let message = BotMessage::from_body(&body(json!({"attachment": {"type": "template",
            "payload": {"template_type": "button", "text": "What next?", "buttons": [
                {"type": "postback", "title": "Help", "payload": "HELP"},
                {"type": "web_url", "title": "Website", "url": "https://example.com"},
                {"type": "phone_number", "title": "Call us", "payload": "+15105551234"}]}}})));
        assert_eq!(message.kind, MessageKind::Buttons);
        assert_eq!(message.text.as_deref(), Some("What next?"));
        assert_eq!(message.button_titles(), ["Help", "Website", "Call us"]);
        assert_eq!(
            message.render(),
            "What next?\n  buttons: (1) Help  (2) Website <https://example.com>  (3) Call us <tel:+15105551234>"
        );
    }

    #[test]
    fn a_generic_template_renders_as_cards_numbering_buttons_across_them() {
        let message = BotMessage::from_body(&body(json!({"attachment": {"type": "template",
            "payload": {"template_type": "generic", "elements": [
                {"title": "Red shirt", "subtitle": "100% cotton", "image_url": "https://x/red.png",
                 "buttons": [{"type": "postback", "title": "Buy", "payload": "BUY_RED"}]},
                {"title": "Blue shirt",
                 "buttons": [{"type": "postback", "title": "Buy", "payload": "BUY_BLUE"}]}]}}})));
        assert_eq!(message.card_titles(), ["Red shirt", "Blue shirt"]);
        assert_eq!(message.attachment_kind(), Some("template"));
        assert_eq!(
            message.render(),
            "  +-- card 1/2: Red shirt\n  |   100% cotton\n  |   [image] https://x/red.png\n  |   (1) Buy\n  +--\n  +-- card 2/2: Blue shirt\n  |   (2) Buy\n  +--"
        );
    }

    #[test]
    fn a_receipt_shows_its_items_and_total() {
        let message = BotMessage::from_body(&body(json!({"attachment": {"type": "template",
            "payload": {"template_type": "receipt", "recipient_name": "Ann", "order_number": "12345",
                "currency": "USD", "payment_method": "Visa 1234",
                "elements": [{"title": "Shirt", "quantity": 2, "price": 50}],
                "summary": {"total_cost": 100}}}})));
        assert_eq!(message.kind, MessageKind::Receipt);
        let rendered = message.render();
        assert!(
            rendered.contains("receipt: order 12345 for Ann"),
            "{rendered}"
        );
        assert!(rendered.contains("2 x Shirt 50 USD"), "{rendered}");
        assert!(rendered.contains("total 100 USD"), "{rendered}");
    }

    #[test]
    fn media_actions_and_unknown_shapes_are_rendered_not_refused() {
        let image = BotMessage::from_body(&body(
            json!({"attachment": {"type": "image", "payload": {"url": "https://x/a.png", "is_reusable": true}}}),
        ));
        assert_eq!(image.render(), "[image] https://x/a.png");
        assert_eq!(image.attachment_kind(), Some("image"));
        let reused = BotMessage::from_body(&body(
            json!({"attachment": {"type": "video", "payload": {"attachment_id": 77}}}),
        ));
        assert_eq!(reused.render(), "[video] attachment_id:77");
        let typing =
            BotMessage::from_body(&json!({"recipient": {"id": "1"}, "sender_action": "typing_on"}));
        assert!(typing.is_action());
        assert_eq!(typing.render(), "(typing_on)");
        let odd = BotMessage::from_body(&body(json!({"weird": 1})));
        assert_eq!(odd.kind, MessageKind::Other);
        assert_eq!(odd.render(), r#"(message) {"weird":1}"#);
    }

    #[test]
    fn phone_and_email_quick_replies_have_no_title() {
        let message =
            BotMessage::from_body(&body(json!({"text": "Your email?", "quick_replies": [
            {"content_type": "user_email"}]})));
        assert_eq!(
            message.render(),
            "Your email?\n  quick replies: [1] <user_email>"
        );
    }
}
