//! A stored thread turned into what the chat page draws: the user's events and the bot's
//! messages as bubbles, Messenger's way (quick replies as chips under the last message,
//! buttons, cards in a carousel, receipts, media, a typing indicator). Nothing here reads the
//! database or writes HTML: the templates draw these, and `/dev/chat/thread.json` serializes
//! them.
//!
//! The bot's messages are read with [`BotMessage`], the reader `pagebot simulate` draws with,
//! so both show the same thing. Every shape is drawn, never refused: one this module does not
//! know is shown as its JSON.

use serde::Serialize;
use serde_json::Value;

use crate::store::deliveries::FAILED;
use crate::store::threads::ThreadTurn;
use crate::store::{Delivery, InboxEvent};
use crate::testing::render::{BotMessage, ButtonChoice, MessageKind};
use crate::testing::webhook::LIKE_STICKER_ID;

/// How long Messenger shows a typing indicator that no message ends.
const TYPING_SHOWN_MS: i64 = 20_000;

/// A thread as drawn.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadView {
    /// The bubbles, oldest first.
    pub items: Vec<Bubble>,
    /// The bot's last word is `typing_on`, recently: draw the typing dots.
    pub typing: bool,
}

/// Who a bubble is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The fake user (right, blue).
    User,
    /// The bot (left, grey).
    Bot,
    /// An event that is not a message (a read receipt, a reaction): a line in the middle.
    System,
}

impl Side {
    /// `user`, `bot` or `system` (its CSS class).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Bot => "bot",
            Self::System => "system",
        }
    }
}

/// One message of the thread.
#[derive(Debug, Clone, Serialize)]
pub struct Bubble {
    /// An id unique in the thread (`e12`, `d34`): keeps a raw JSON panel open across redraws.
    pub id: String,
    /// Who sent it.
    pub from: Side,
    /// What it is: `text`, `like`, `sticker`, `location`, `media`, `postback`, `buttons`,
    /// `generic`, `receipt`, `event` or `other`.
    pub kind: &'static str,
    /// Its text (a button template's, a postback's title, a sticker's description).
    pub text: Option<String>,
    /// A caption under it: the payload a tap sent, the event's kind.
    pub note: Option<String>,
    /// What went wrong: a message Facebook refused, an event that failed.
    pub problem: Option<String>,
    /// Quick replies: only under the thread's last message, as Messenger shows them.
    pub quick_replies: Vec<Chip>,
    /// A button template's buttons.
    pub buttons: Vec<Button>,
    /// A generic template's cards.
    pub cards: Vec<CardView>,
    /// An image, audio, video or file.
    pub media: Option<Media>,
    /// A shared location.
    pub location: Option<Location>,
    /// A receipt.
    pub receipt: Option<Receipt>,
    /// The user's message was marked seen by the bot (`mark_seen`).
    pub seen: bool,
    /// When (UTC, `HH:MM:SS`).
    pub time: String,
    /// The JSON as received (the user's) or as sent (the bot's), pretty-printed.
    pub raw: String,
}

/// A quick reply.
#[derive(Debug, Clone, Serialize)]
pub struct Chip {
    /// The title (for phone and email replies, which have none, what they ask for).
    pub title: String,
    /// The payload sent back when tapped.
    pub payload: String,
}

/// A button of a template or card.
#[derive(Debug, Clone, Serialize)]
pub struct Button {
    /// `postback`, `web_url`, `phone_number`, `account_link`, ...
    pub kind: String,
    /// The title (Messenger's own for account linking buttons).
    pub title: String,
    /// The postback payload, if it sends one.
    pub payload: Option<String>,
    /// Where it leads (a `web_url`, `account_link`, or `tel:` link).
    pub url: Option<String>,
}

/// A card of a carousel.
#[derive(Debug, Clone, Serialize)]
pub struct CardView {
    /// The title.
    pub title: String,
    /// The subtitle.
    pub subtitle: Option<String>,
    /// The image.
    pub image_url: Option<String>,
    /// Its buttons.
    pub buttons: Vec<Button>,
}

/// A media attachment.
#[derive(Debug, Clone, Serialize)]
pub struct Media {
    /// `image`, `audio`, `video`, `file`.
    pub kind: String,
    /// Its URL, when it has one (a reused attachment has an id instead).
    pub url: Option<String>,
    /// What to show as its name.
    pub label: String,
}

/// A shared location.
#[derive(Debug, Clone, Serialize)]
pub struct Location {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub long: f64,
    /// A map of it.
    pub map_url: String,
}

/// A receipt template.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    /// Who it is for.
    pub recipient_name: String,
    /// The order number.
    pub order_number: String,
    /// How it is paid.
    pub payment_method: String,
    /// Its lines.
    pub items: Vec<ReceiptItem>,
    /// The total, with its currency.
    pub total: String,
}

/// A line of a receipt.
#[derive(Debug, Clone, Serialize)]
pub struct ReceiptItem {
    /// The title.
    pub title: String,
    /// The subtitle.
    pub subtitle: Option<String>,
    /// `2 × 10.00 USD`.
    pub amount: String,
}

/// The thread of `turns` as drawn, at time `now` (epoch ms: a typing indicator expires).
pub fn thread(turns: &[ThreadTurn], now: i64) -> ThreadView {
    let mut items = Vec::new();
    let mut typing_since = None;
    for turn in turns {
        let mut user = inbound(&turn.event);
        let user_index = user.as_ref().map(|_| items.len());
        if let Some(bubble) = user.take() {
            items.push(bubble);
        }
        for reply in &turn.replies {
            let message = parse_request(reply);
            match &message.kind {
                MessageKind::Action(action) => {
                    match action.as_str() {
                        "typing_on" => typing_since = Some(reply.created_at),
                        "typing_off" => typing_since = None,
                        "mark_seen" => {
                            if let Some(index) = user_index {
                                items[index].seen = true;
                            }
                        }
                        _ => {}
                    }
                    continue;
                }
                _ => {
                    typing_since = None;
                    items.push(outbound(reply, &message));
                }
            }
        }
    }
    // Messenger offers quick replies only under the last message, until the user answers.
    let last = items.len().saturating_sub(1);
    for (i, item) in items.iter_mut().enumerate() {
        if i != last || item.from != Side::Bot {
            item.quick_replies.clear();
        }
    }
    ThreadView {
        items,
        typing: typing_since.is_some_and(|at| now - at < TYPING_SHOWN_MS),
    }
}

fn parse_request(reply: &Delivery) -> BotMessage {
    let body = serde_json::from_str(&reply.request).unwrap_or(Value::Null);
    BotMessage::from_body(&body)
}

fn bubble(id: String, from: Side, kind: &'static str, at_ms: i64, raw: String) -> Bubble {
    Bubble {
        id,
        from,
        kind,
        text: None,
        note: None,
        problem: None,
        quick_replies: Vec::new(),
        buttons: Vec::new(),
        cards: Vec::new(),
        media: None,
        location: None,
        receipt: None,
        seen: false,
        time: clock(at_ms),
        raw,
    }
}

/// The user's event as a bubble; `None` for an echo of the Page's own message (the bot's
/// reply is already drawn from its delivery).
fn inbound(event: &InboxEvent) -> Option<Bubble> {
    let item: Value = serde_json::from_str(&event.raw).unwrap_or(Value::Null);
    let raw = pretty(&item).unwrap_or_else(|| event.raw.clone());
    let mut b = bubble(
        format!("e{}", event.id),
        Side::User,
        "event",
        event.event_time,
        raw,
    );
    if let Some(message) = item.get("message") {
        if message.get("is_echo").and_then(Value::as_bool) == Some(true) {
            return None;
        }
        fill_message(&mut b, message);
    } else if let Some(postback) = item.get("postback") {
        b.kind = "postback";
        b.text = Some(text_at(postback, "title").unwrap_or_else(|| "(postback)".to_owned()));
        b.note = text_at(postback, "payload").map(|p| format!("postback · {p}"));
    } else {
        b.from = Side::System;
        b.text = Some(match event.kind.as_deref() {
            Some(kind) => kind.to_lowercase().replace('_', " "),
            None => "malformed event".to_owned(),
        });
    }
    b.problem = match event.status.as_str() {
        "failed" | "dead" | "malformed" => Some(format!(
            "event {}: {}",
            event.status,
            event.last_error.as_deref().unwrap_or("no error recorded")
        )),
        _ => None,
    };
    if event.status == "pending" && b.note.is_none() {
        b.note = Some("waiting for the bot…".to_owned());
    }
    Some(b)
}

fn fill_message(b: &mut Bubble, message: &Value) {
    let sticker = message.get("sticker_id").map(Value::to_string).or_else(|| {
        attachments(message)
            .find(|a| text_at(a, "type").as_deref() == Some("sticker"))
            .and_then(|a| a.pointer("/payload/sticker_id"))
            .map(Value::to_string)
    });
    if let Some(id) = sticker {
        b.kind = if id == LIKE_STICKER_ID.to_string() {
            "like"
        } else {
            "sticker"
        };
        b.text = Some(format!("sticker {id}"));
        return;
    }
    if let Some(text) = text_at(message, "text") {
        b.kind = "text";
        b.text = Some(text);
        if let Some(payload) = message
            .pointer("/quick_reply/payload")
            .and_then(Value::as_str)
        {
            b.note = Some(format!("quick reply · {payload}"));
        }
        return;
    }
    if let Some(attachment) = attachments(message).next() {
        let kind = text_at(attachment, "type").unwrap_or_default();
        if kind == "location" {
            let lat = attachment.pointer("/payload/coordinates/lat");
            let long = attachment.pointer("/payload/coordinates/long");
            if let (Some(lat), Some(long)) =
                (lat.and_then(Value::as_f64), long.and_then(Value::as_f64))
            {
                b.kind = "location";
                b.text = text_at(attachment, "title");
                b.location = Some(Location {
                    lat,
                    long,
                    map_url: format!(
                        "https://www.openstreetmap.org/?mlat={lat}&mlon={long}#map=15/{lat}/{long}"
                    ),
                });
                return;
            }
        }
        let url = attachment
            .pointer("/payload/url")
            .and_then(Value::as_str)
            .map(str::to_owned);
        b.kind = "media";
        b.media = Some(Media {
            label: url.as_deref().map_or_else(|| kind.clone(), file_name),
            kind,
            url: url.filter(|u| web_link(u)),
        });
        return;
    }
    b.kind = "other";
    b.text = Some("(a message pagebot does not draw: see its JSON)".to_owned());
}

fn attachments(message: &Value) -> impl Iterator<Item = &Value> {
    message
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The bot's message (not a sender action) as a bubble.
fn outbound(reply: &Delivery, message: &BotMessage) -> Bubble {
    let raw = pretty(&message.raw).unwrap_or_else(|| reply.request.clone());
    let mut b = bubble(
        format!("d{}", reply.id),
        Side::Bot,
        "other",
        reply.created_at,
        raw,
    );
    b.text = message.text.clone();
    b.quick_replies = message
        .quick_replies
        .iter()
        .map(|q| Chip {
            title: match q.content_type.as_str() {
                "user_phone_number" if q.title.is_empty() => "Send my phone number".to_owned(),
                "user_email" if q.title.is_empty() => "Send my email".to_owned(),
                _ => q.title.clone(),
            },
            payload: q.payload.clone().unwrap_or_default(),
        })
        .collect();
    match &message.kind {
        MessageKind::Text => b.kind = "text",
        MessageKind::Buttons => {
            b.kind = "buttons";
            b.buttons = message.buttons.iter().map(button).collect();
        }
        MessageKind::Generic => {
            b.kind = "generic";
            b.cards = message
                .cards
                .iter()
                .map(|card| CardView {
                    title: card.title.clone(),
                    subtitle: card.subtitle.clone(),
                    image_url: card.image_url.clone().filter(|u| web_link(u)),
                    buttons: card.buttons.iter().map(button).collect(),
                })
                .collect();
        }
        MessageKind::Receipt => {
            b.kind = "receipt";
            b.receipt = message
                .raw
                .pointer("/message/attachment/payload")
                .map(receipt);
        }
        MessageKind::Media { media, source } => {
            b.kind = "media";
            let url = Some(source.clone()).filter(|u| web_link(u));
            b.media = Some(Media {
                kind: media.clone(),
                label: url.as_deref().map_or_else(|| source.clone(), file_name),
                url,
            });
        }
        _ => {
            b.kind = "other";
            b.text = Some("(a message pagebot does not draw: see its JSON)".to_owned());
        }
    }
    if reply.status == FAILED {
        let code = reply
            .error_code
            .map(|code| format!("(#{code}) "))
            .unwrap_or_default();
        b.problem = Some(format!(
            "not delivered: {code}{}",
            reply
                .error_message
                .as_deref()
                .unwrap_or("Facebook did not answer")
        ));
    }
    b
}

fn button(choice: &ButtonChoice) -> Button {
    let title = match (choice.kind.as_str(), choice.title.is_empty()) {
        ("account_link", true) => "Log in".to_owned(),
        ("account_unlink", true) => "Log out".to_owned(),
        _ => choice.title.clone(),
    };
    let url = match choice.kind.as_str() {
        "phone_number" => choice.payload.as_ref().map(|phone| format!("tel:{phone}")),
        _ => choice.url.clone().filter(|u| web_link(u)),
    };
    Button {
        kind: choice.kind.clone(),
        title,
        payload: match choice.kind.as_str() {
            "postback" => choice.payload.clone(),
            _ => None,
        },
        url,
    }
}

fn receipt(payload: &Value) -> Receipt {
    let currency = text_at(payload, "currency").unwrap_or_default();
    let items = payload
        .get("elements")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|element| {
            let quantity = element
                .get("quantity")
                .map_or_else(|| "1".to_owned(), scalar);
            let price = element.get("price").map(scalar).unwrap_or_default();
            ReceiptItem {
                title: text_at(element, "title").unwrap_or_default(),
                subtitle: text_at(element, "subtitle"),
                amount: format!("{quantity} × {price} {currency}"),
            }
        })
        .collect();
    let total = payload
        .pointer("/summary/total_cost")
        .map(scalar)
        .unwrap_or_default();
    Receipt {
        recipient_name: text_at(payload, "recipient_name").unwrap_or_default(),
        order_number: payload.get("order_number").map(scalar).unwrap_or_default(),
        payment_method: text_at(payload, "payment_method").unwrap_or_default(),
        items,
        total: format!("{total} {currency}"),
    }
}

fn text_at(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A string as it is, anything else as its JSON.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn pretty(value: &Value) -> Option<String> {
    (!value.is_null())
        .then(|| serde_json::to_string_pretty(value).ok())
        .flatten()
}

/// Only http(s) links become links or images: never `javascript:` or another scheme.
fn web_link(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/')
        .find(|part| !part.is_empty())
        .unwrap_or(path)
        .to_owned()
}

fn clock(epoch_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(epoch_ms)
        .map(|at| at.strftime("%H:%M:%S").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, raw: Value, status: &str) -> InboxEvent {
        InboxEvent {
            id,
            dedupe_key: format!("k{id}"),
            page_id: Some("1".into()),
            psid: Some("u".into()),
            event_time: 0,
            standby: 0,
            kind: Some("SIMPLE_TEXT".into()),
            raw: raw.to_string(),
            status: status.into(),
            attempts: 1,
            last_error: Some("boom".into()),
            available_at: 0,
            locked_until: None,
            received_at: 0,
            finished_at: None,
            raw_bytes: None,
        }
    }

    fn delivery(id: i64, event_id: i64, request: Value, status: &str) -> Delivery {
        Delivery {
            id,
            event_id,
            seq: i32::try_from(id).unwrap_or_default(),
            page_id: "1".into(),
            psid: Some("u".into()),
            request: request.to_string(),
            status: status.into(),
            message_id: None,
            error_code: Some(551),
            error_subcode: None,
            error_message: Some("This person isn't available".into()),
            fbtrace_id: None,
            created_at: 1_000,
        }
    }

    #[test]
    fn quick_replies_show_under_the_last_message_only() {
        let ask = json!({"recipient": {"id": "u"}, "message": {"text": "Colour?",
            "quick_replies": [{"content_type": "text", "title": "Red", "payload": "RED"}]}});
        let turns = vec![
            ThreadTurn {
                event: event(1, json!({"message": {"text": "hi"}}), "done"),
                replies: vec![delivery(1, 1, ask.clone(), "sent")],
            },
            ThreadTurn {
                event: event(
                    2,
                    json!({"message": {"text": "Red", "quick_reply": {"payload": "RED"}}}),
                    "done",
                ),
                replies: vec![delivery(2, 2, ask, "sent")],
            },
        ];
        let view = thread(&turns, 0);
        let chips: Vec<usize> = view.items.iter().map(|b| b.quick_replies.len()).collect();
        assert_eq!(chips, [0, 0, 0, 1]);
        assert_eq!(view.items[2].note.as_deref(), Some("quick reply · RED"));
    }

    #[test]
    fn typing_seen_failures_and_unknown_shapes() {
        let turns = vec![ThreadTurn {
            event: event(1, json!({"message": {"text": "hi"}}), "dead"),
            replies: vec![
                delivery(1, 1, json!({"sender_action": "mark_seen"}), "sent"),
                delivery(2, 1, json!({"message": {"weird": true}}), "failed"),
                delivery(3, 1, json!({"sender_action": "typing_on"}), "sent"),
            ],
        }];
        let view = thread(&turns, 2_000);
        assert!(view.typing);
        assert!(view.items[0].seen);
        assert_eq!(view.items[0].problem.as_deref(), Some("event dead: boom"));
        assert_eq!(view.items[1].kind, "other");
        assert_eq!(
            view.items[1].problem.as_deref(),
            Some("not delivered: (#551) This person isn't available")
        );
        assert!(!thread(&turns, 60_000).typing, "typing expires");
    }

    #[test]
    fn links_are_web_links_only() {
        let card = json!({"message": {"attachment": {"type": "template", "payload": {
            "template_type": "generic", "elements": [{"title": "T",
            "image_url": "javascript:alert(1)",
            "buttons": [{"type": "web_url", "title": "Go", "url": "javascript:x"},
                        {"type": "postback", "title": "Buy", "payload": "BUY"}]}]}}}});
        let turns = vec![ThreadTurn {
            event: event(
                1,
                json!({"postback": {"title": "Shop", "payload": "SHOP"}}),
                "done",
            ),
            replies: vec![delivery(1, 1, card, "sent")],
        }];
        let view = thread(&turns, 0);
        assert_eq!(view.items[0].kind, "postback");
        let card = &view.items[1].cards[0];
        assert_eq!(card.image_url, None);
        assert_eq!(card.buttons[0].url, None);
        assert_eq!(card.buttons[1].payload.as_deref(), Some("BUY"));
    }

    use serde_json::json;
}
