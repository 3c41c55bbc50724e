//! `text`: a localized text message.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use super::delivery::{Delivery, MessagingType};
use super::limits::{LocalizedText, MAX_TEXT_CHARS};
use super::{Message, Outgoing, SendError, Sender};
use crate::context::Context;
use crate::registry::BuildContext;

/// Sends one Fluent message as text.
#[derive(Debug, Clone)]
pub struct Text {
    text: LocalizedText,
    delivery: Delivery,
}

/// Arguments of `text`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextArgs {
    /// The Fluent message id (at most 2000 characters once localized).
    pub message: String,
    /// Fluent arguments; values may name variables: `"{user.first_name}"`, `"{match.1}"`.
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    /// `RESPONSE` (the default), `UPDATE`, `MESSAGE_TAG` or `UTILITY`.
    #[serde(default)]
    pub messaging_type: Option<MessagingType>,
    /// `HUMAN_AGENT` or `CUSTOMER_FEEDBACK`; implies `MESSAGE_TAG`.
    #[serde(default)]
    pub tag: Option<String>,
}

impl Text {
    /// Checks the message in every locale against the 2000-character limit, and the delivery.
    pub fn from_args(args: TextArgs, cx: &BuildContext<'_>) -> Result<Self, String> {
        let delivery = Delivery::parse(args.messaging_type, args.tag.as_deref());
        let text = LocalizedText::parse("message", args.message, args.args, MAX_TEXT_CHARS, cx);
        match (text, delivery) {
            (Ok(text), Ok(delivery)) => Ok(Self { text, delivery }),
            (Err(a), Err(b)) => Err(format!("{a}; {b}")),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }
}

impl Sender for Text {
    fn build(&self, cx: &Context) -> Result<Vec<Outgoing>, SendError> {
        let text = self.text.render(cx)?;
        Ok(vec![
            self.delivery
                .reply(cx, Message::checked(json!({ "text": text }))),
        ])
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::senders::test_support::*;

    const EN: &str = "hello = Hello { $name }!\nlong = { $body }\nempty = {\"\"}\n";
    const ZH: &str = "hello = 你好 { $name }！\n";

    #[test]
    fn sends_the_text_in_the_users_locale() {
        let locales = locales(EN, ZH);
        let sender = build(
            &locales,
            "text",
            json!({"message": "hello", "args": {"name": "{user.first_name}"}}),
        )
        .unwrap();
        let t = TestContext::new(
            locales.clone(),
            Some("zh_TW"),
            &[("user.first_name", "Ann")],
        );
        assert_eq!(
            t.body(sender.as_ref()),
            json!({"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
                   "message": {"text": "你好 Ann！"}})
        );
        let t = TestContext::new(locales, None, &[("user.first_name", "Ann")]);
        assert_eq!(t.body(sender.as_ref())["message"]["text"], "Hello Ann!");
    }

    #[test]
    fn takes_a_messaging_type_and_a_tag() {
        let locales = locales(EN, ZH);
        let sender = build(
            &locales,
            "text",
            json!({"message": "hello", "args": {"name": "Bo"}, "tag": "HUMAN_AGENT"}),
        )
        .unwrap();
        let t = TestContext::new(locales, None, &[]);
        assert_eq!(
            t.body(sender.as_ref()),
            json!({"recipient": {"id": PSID}, "messaging_type": "MESSAGE_TAG",
                   "tag": "HUMAN_AGENT", "message": {"text": "Hello Bo!"}})
        );
    }

    #[test]
    fn a_text_too_long_in_any_locale_is_refused_at_load() {
        let zh = format!("hello = {}\n", "字".repeat(2001));
        let locales = locales(EN, &zh);
        let err = refusal(&locales, "text", json!({"message": "hello"}));
        assert_eq!(
            err,
            "message \"hello\" cannot be formatted in en-US: Resolver error: Unknown variable: \
             $name; message \"hello\" is 2001 characters in zh-TW, at most 2000"
        );
    }

    #[test]
    fn refusals() {
        let locales = locales(EN, ZH);
        for (args, needle) in [
            (
                json!({"message": "nope"}),
                "message id \"nope\" is not defined in the default locale en-US",
            ),
            (
                json!({"message": "hello", "args": {"name": "x"}, "colour": 1}),
                "unknown field `colour`",
            ),
            (
                json!({"message": "empty"}),
                "message \"empty\" is empty in en-US",
            ),
            (
                json!({"message": "hello", "args": {"name": "x"}, "messaging_type": "MESSAGE_TAG"}),
                "messaging_type MESSAGE_TAG needs a tag",
            ),
            (
                json!({"message": "hello", "args": {"name": "x"}, "tag": "POST_PURCHASE_UPDATE"}),
                "tag POST_PURCHASE_UPDATE was retired",
            ),
            (
                json!({"message": "hello", "args": {"name": "x"}, "messaging_type": "SOON"}),
                "unknown variant `SOON`",
            ),
        ] {
            let err = refusal(&locales, "text", args);
            assert!(err.starts_with(needle), "{err}");
        }
    }

    #[test]
    fn a_text_made_too_long_by_variables_is_cut_at_a_character_boundary() {
        let locales = locales(EN, ZH);
        let sender = build(
            &locales,
            "text",
            json!({"message": "long", "args": {"body": "{x}"}}),
        )
        .unwrap();
        let t = TestContext::new(locales.clone(), None, &[("x", &"é".repeat(2500))]);
        let text = t.body(sender.as_ref())["message"]["text"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(text.chars().count(), 2000);
        assert!(text.ends_with("é…"), "{text}");
        // Left empty by its variables: Messenger refuses empty texts, so the sender does.
        let t = TestContext::new(locales, None, &[]);
        let err = sender.build(&t.cx).unwrap_err().to_string();
        assert_eq!(
            err,
            "message \"long\" is empty once its variables are filled in"
        );
    }
}
