//! `buttons`: a button template, a text with 1 to 3 buttons under it.
//!
//! ```yaml
//! - buttons:
//!     message: welcome                # Fluent id, at most 640 characters
//!     args: { name: "{user.first_name}" }
//!     buttons:
//!       - { type: postback, title: menu-help, payload: HELP }
//!       - { type: web_url, title: menu-site, url: "https://example.com" }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use super::button::{Button, ButtonArgs};
use super::delivery::{Delivery, MessagingType};
use super::limits::{self, LocalizedText, MAX_BUTTON_TEMPLATE_TEXT_CHARS, MAX_BUTTONS, Problems};
use super::{Message, Outgoing, SendError, Sender};
use crate::context::Context;
use crate::registry::BuildContext;

/// Sends a button template.
#[derive(Debug, Clone)]
pub struct Buttons {
    text: LocalizedText,
    buttons: Vec<Button>,
    delivery: Delivery,
}

/// Arguments of `buttons`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButtonsArgs {
    /// The Fluent message id of the text above the buttons.
    pub message: String,
    /// Its Fluent arguments; values may name variables.
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    /// 1 to 3 buttons.
    pub buttons: Vec<ButtonArgs>,
    /// `RESPONSE` (the default), `UPDATE`, `MESSAGE_TAG` or `UTILITY`.
    #[serde(default)]
    pub messaging_type: Option<MessagingType>,
    /// `HUMAN_AGENT` or `CUSTOMER_FEEDBACK`; implies `MESSAGE_TAG`.
    #[serde(default)]
    pub tag: Option<String>,
}

impl Buttons {
    /// Checks the text, every button and the delivery; reports every problem.
    pub fn from_args(args: ButtonsArgs, cx: &BuildContext<'_>) -> Result<Self, String> {
        let mut problems = Problems::default();
        let text = problems.check(LocalizedText::parse(
            "message",
            args.message,
            args.args,
            MAX_BUTTON_TEMPLATE_TEXT_CHARS,
            cx,
        ));
        problems.check(limits::count("buttons", args.buttons.len(), 1, MAX_BUTTONS));
        let buttons = Button::parse_all("", args.buttons, cx, &mut problems);
        let delivery = problems.check(Delivery::parse(args.messaging_type, args.tag.as_deref()));
        let built = (|| {
            Some(Self {
                text: text?,
                buttons: buttons?,
                delivery: delivery?,
            })
        })();
        problems.finish(built)
    }
}

impl Sender for Buttons {
    fn build(&self, cx: &Context) -> Result<Vec<Outgoing>, SendError> {
        let message = json!({
            "attachment": {
                "type": "template",
                "payload": {
                    "template_type": "button",
                    "text": self.text.render(cx)?,
                    "buttons": Button::render_all(&self.buttons, cx)?,
                }
            }
        });
        Ok(vec![self.delivery.reply(cx, Message::checked(message))])
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::senders::test_support::*;

    const EN: &str = "\
welcome = Welcome, { $name }!
menu-help = Help
menu-site = Website
menu-call = Call us
too-long = This title is far too long
";
    const ZH: &str = "welcome = 歡迎，{ $name }！\nmenu-help = 說明\nmenu-site = 這是一個非常非常非常非常非常非常長的網站按鈕標題\n";

    fn postback(title: &str) -> Value {
        json!({"type": "postback", "title": title, "payload": "HELP"})
    }

    #[test]
    fn sends_a_button_template_with_every_button_type() {
        let locales = locales(EN, "welcome = 歡迎，{ $name }！\nmenu-help = 說明\n");
        let sender = build(
            &locales,
            "buttons",
            json!({
                "message": "welcome",
                "args": {"name": "{user.first_name}"},
                "buttons": [
                    {"type": "postback", "title": "menu-help", "payload": "HELP"},
                    {"type": "web_url", "title": "menu-site", "url": "https://example.com",
                     "webview_height_ratio": "tall"},
                    {"type": "phone_number", "title": "menu-call", "payload": "+15550100"},
                ],
            }),
        )
        .unwrap();
        let t = TestContext::new(
            locales.clone(),
            Some("zh_TW"),
            &[("user.first_name", "Ann")],
        );
        assert_eq!(
            t.body(sender.as_ref()),
            json!({
                "recipient": {"id": PSID},
                "messaging_type": "RESPONSE",
                "message": {"attachment": {"type": "template", "payload": {
                    "template_type": "button",
                    "text": "歡迎，Ann！",
                    "buttons": [
                        {"type": "postback", "title": "說明", "payload": "HELP"},
                        {"type": "web_url", "title": "Website", "url": "https://example.com",
                         "webview_height_ratio": "tall"},
                        {"type": "phone_number", "title": "Call us", "payload": "+15550100"},
                    ],
                }}},
            })
        );
        let sender = build(
            &locales,
            "buttons",
            json!({
                "message": "welcome", "args": {"name": "Bo"}, "messaging_type": "UPDATE",
                "buttons": [
                    {"type": "account_link", "url": "https://example.com/login"},
                    {"type": "account_unlink"},
                ],
            }),
        )
        .unwrap();
        let t = TestContext::new(locales, None, &[]);
        assert_eq!(
            t.body(sender.as_ref()),
            json!({
                "recipient": {"id": PSID},
                "messaging_type": "UPDATE",
                "message": {"attachment": {"type": "template", "payload": {
                    "template_type": "button",
                    "text": "Welcome, Bo!",
                    "buttons": [
                        {"type": "account_link", "url": "https://example.com/login"},
                        {"type": "account_unlink"},
                    ],
                }}},
            })
        );
    }

    #[test]
    fn refusals() {
        let locales = locales(EN, ZH);
        let with = |buttons: Value| json!({"message": "welcome", "args": {"name": "x"}, "buttons": buttons});
        for (args, expected) in [
            (
                with(json!(vec![postback("menu-help"); 4])),
                "4 buttons, at most 3".to_owned(),
            ),
            (with(json!([])), "0 buttons, at least 1".to_owned()),
            (
                with(json!([postback("nope")])),
                "button 1 title: message id \"nope\" is not defined in the default locale en-US"
                    .to_owned(),
            ),
            (
                with(json!([postback("too-long")])),
                "button 1 title \"too-long\" is 26 characters in en-US, at most 20".to_owned(),
            ),
            (
                with(json!([postback("menu-help"),
                    {"type": "web_url", "title": "menu-site", "url": "https://e.com"}])),
                "button 2 title \"menu-site\" is 24 characters in zh-TW, at most 20".to_owned(),
            ),
            (
                with(json!([{"type": "postback", "title": "menu-help", "payload": "p".repeat(1001)}])),
                "button 1 payload is 1001 characters, at most 1000".to_owned(),
            ),
            (
                with(json!([{"type": "phone_number", "title": "menu-help", "payload": "5550100"}])),
                "button 1 payload \"5550100\" must be a phone number starting with + and a country code"
                    .to_owned(),
            ),
            (
                with(json!([{"type": "web_url", "title": "menu-help", "url": "example.com"}])),
                "button 1 url \"example.com\" must start with https:// or http://".to_owned(),
            ),
            (
                json!({"message": "welcome", "args": {"name": "x"}, "buttons": [postback("menu-help")],
                       "text": "oops"}),
                "unknown field `text`".to_owned(),
            ),
            (
                with(json!([{"type": "postback", "title": "menu-help", "payload": "P", "url": "x"}])),
                "unknown field `url`".to_owned(),
            ),
            (
                with(json!([{"type": "element_share", "title": "menu-help"}])),
                "unknown variant `element_share`".to_owned(),
            ),
            (
                json!({"message": "welcome", "args": {"name": "x"}, "buttons": [postback("menu-help")],
                       "messaging_type": "UTILITY", "tag": "HUMAN_AGENT"}),
                "a tag goes with messaging_type MESSAGE_TAG, not UTILITY".to_owned(),
            ),
            (
                json!({"message": &"x".repeat(3), "buttons": [postback("menu-help")]}),
                "message id \"xxx\" is not defined".to_owned(),
            ),
        ] {
            let err = refusal(&locales, "buttons", args);
            assert!(err.starts_with(&expected), "{err}\n  expected: {expected}");
        }
    }

    #[test]
    fn a_template_text_over_640_characters_is_refused() {
        let en = format!("welcome = {}\nmenu-help = Help\n", "w".repeat(641));
        let locales = locales(&en, "");
        let err = refusal(
            &locales,
            "buttons",
            json!({"message": "welcome", "buttons": [postback("menu-help")]}),
        );
        assert_eq!(
            err,
            "message \"welcome\" is 641 characters in en-US, at most 640"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let locales = locales(EN, ZH);
        let err = refusal(
            &locales,
            "buttons",
            json!({"message": "welcome", "args": {"name": "x"},
                   "buttons": [postback("too-long"), postback("menu-help"), postback("menu-help"),
                               postback("menu-help")]}),
        );
        assert_eq!(
            err,
            "4 buttons, at most 3; \
             button 1 title \"too-long\" is 26 characters in en-US, at most 20"
        );
    }
}
