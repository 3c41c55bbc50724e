//! `quick_replies`: a text with up to 13 quick-reply chips under it.
//!
//! ```yaml
//! - quick_replies:
//!     message: pick-a-colour            # Fluent id, at most 2000 characters
//!     replies:
//!       - { title: color-red, payload: COLOR_RED }   # content_type text is the default
//!       - { title: color-blue, payload: COLOR_BLUE, image_url: "https://example.com/b.png" }
//!       - { content_type: user_email }               # Messenger fills in the user's e-mail
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::delivery::{Delivery, MessagingType};
use super::limits::{
    self, LocalizedText, MAX_QUICK_REPLIES, MAX_QUICK_REPLY_TITLE_CHARS, MAX_TEXT_CHARS, Payload,
    Problems, Url,
};
use super::{Message, Outgoing, SendError, Sender};
use crate::context::Context;
use crate::registry::BuildContext;

/// Sends a text with quick replies.
#[derive(Debug, Clone)]
pub struct QuickReplies {
    text: LocalizedText,
    replies: Vec<Reply>,
    delivery: Delivery,
}

/// Arguments of `quick_replies`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickRepliesArgs {
    /// The Fluent message id of the text.
    pub message: String,
    /// Its Fluent arguments; values may name variables.
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    /// 1 to 13 quick replies.
    pub replies: Vec<QuickReplyArgs>,
    /// `RESPONSE` (the default), `UPDATE`, `MESSAGE_TAG` or `UTILITY`.
    #[serde(default)]
    pub messaging_type: Option<MessagingType>,
    /// `HUMAN_AGENT` or `CUSTOMER_FEEDBACK`; implies `MESSAGE_TAG`.
    #[serde(default)]
    pub tag: Option<String>,
}

/// One quick reply as written in the policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickReplyArgs {
    /// `text` (the default), `user_phone_number` or `user_email`.
    #[serde(default)]
    pub content_type: ContentType,
    /// Fluent message id, at most 20 characters (text replies only, required there).
    #[serde(default)]
    pub title: Option<String>,
    /// Sent back with the reply, 1 to 1000 characters (text replies only, required there).
    #[serde(default)]
    pub payload: Option<String>,
    /// An icon (text replies only).
    #[serde(default)]
    pub image_url: Option<String>,
}

/// What a quick reply asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentType {
    /// A chip with a title; tapping it sends the payload.
    #[default]
    Text,
    /// The user's phone number, filled in by Messenger.
    UserPhoneNumber,
    /// The user's e-mail address, filled in by Messenger.
    UserEmail,
}

#[derive(Debug, Clone)]
enum Reply {
    Text {
        title: LocalizedText,
        payload: Payload,
        image_url: Option<Url>,
    },
    UserPhoneNumber,
    UserEmail,
}

impl Reply {
    fn parse(
        what: &str,
        args: QuickReplyArgs,
        cx: &BuildContext<'_>,
        problems: &mut Problems,
    ) -> Option<Self> {
        let QuickReplyArgs {
            content_type,
            title,
            payload,
            image_url,
        } = args;
        if content_type != ContentType::Text {
            let extra: Vec<&str> = [
                ("title", title.is_some()),
                ("payload", payload.is_some()),
                ("image_url", image_url.is_some()),
            ]
            .into_iter()
            .filter_map(|(key, set)| set.then_some(key))
            .collect();
            if !extra.is_empty() {
                problems.push(format_args!(
                    "{what}: a {} quick reply takes no {} (Messenger fills it in)",
                    if content_type == ContentType::UserEmail {
                        "user_email"
                    } else {
                        "user_phone_number"
                    },
                    extra.join(", ")
                ));
                return None;
            }
            return Some(match content_type {
                ContentType::UserEmail => Self::UserEmail,
                _ => Self::UserPhoneNumber,
            });
        }
        let title = match title {
            Some(id) => problems.check(LocalizedText::parse(
                &format!("{what} title"),
                id,
                BTreeMap::new(),
                MAX_QUICK_REPLY_TITLE_CHARS,
                cx,
            )),
            None => {
                problems.push(format_args!("{what} has no title"));
                None
            }
        };
        let payload = match payload {
            Some(p) => problems.check(Payload::parse(&format!("{what} payload"), p)),
            None => {
                problems.push(format_args!("{what} has no payload"));
                None
            }
        };
        let image_url = match image_url {
            Some(url) => Some(problems.check(Url::parse(&format!("{what} image_url"), url))?),
            None => None,
        };
        Some(Self::Text {
            title: title?,
            payload: payload?,
            image_url,
        })
    }

    fn render(&self, cx: &Context) -> Result<Value, SendError> {
        Ok(match self {
            Self::Text {
                title,
                payload,
                image_url,
            } => {
                let mut reply = json!({
                    "content_type": "text",
                    "title": title.render(cx)?,
                    "payload": payload.as_str(),
                });
                if let Some(url) = image_url {
                    reply["image_url"] = json!(url.as_str());
                }
                reply
            }
            Self::UserPhoneNumber => json!({"content_type": "user_phone_number"}),
            Self::UserEmail => json!({"content_type": "user_email"}),
        })
    }
}

impl QuickReplies {
    /// Checks the text, every reply and the delivery; reports every problem.
    pub fn from_args(args: QuickRepliesArgs, cx: &BuildContext<'_>) -> Result<Self, String> {
        let mut problems = Problems::default();
        let text = problems.check(LocalizedText::parse(
            "message",
            args.message,
            args.args,
            MAX_TEXT_CHARS,
            cx,
        ));
        problems.check(limits::count(
            "quick replies",
            args.replies.len(),
            1,
            MAX_QUICK_REPLIES,
        ));
        let replies: Option<Vec<Reply>> = args
            .replies
            .into_iter()
            .enumerate()
            .map(|(i, r)| Reply::parse(&format!("quick reply {}", i + 1), r, cx, &mut problems))
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        let delivery = problems.check(Delivery::parse(args.messaging_type, args.tag.as_deref()));
        let built = (|| {
            Some(Self {
                text: text?,
                replies: replies?,
                delivery: delivery?,
            })
        })();
        problems.finish(built)
    }
}

impl Sender for QuickReplies {
    fn build(&self, cx: &Context) -> Result<Vec<Outgoing>, SendError> {
        let replies = self
            .replies
            .iter()
            .map(|r| r.render(cx))
            .collect::<Result<Vec<_>, _>>()?;
        let message = json!({"text": self.text.render(cx)?, "quick_replies": replies});
        Ok(vec![self.delivery.reply(cx, Message::checked(message))])
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::senders::test_support::*;

    const EN: &str = "\
pick = Pick a colour, { $name }
red = Red
blue = Blue
long-title = A title well over twenty
";
    const ZH: &str = "pick = 選一個顏色，{ $name }\nred = 紅色\nblue = 這是一個非常非常非常非常長的藍色按鈕標題呀\n";

    fn reply(title: &str) -> Value {
        json!({"title": title, "payload": "P"})
    }

    #[test]
    fn sends_text_email_and_phone_quick_replies() {
        let locales = locales(EN, "pick = 選一個顏色，{ $name }\nred = 紅色\n");
        let sender = build(
            &locales,
            "quick_replies",
            json!({
                "message": "pick", "args": {"name": "{user.first_name}"},
                "replies": [
                    {"title": "red", "payload": "COLOR_RED"},
                    {"content_type": "text", "title": "blue", "payload": "COLOR_BLUE",
                     "image_url": "https://example.com/blue.png"},
                    {"content_type": "user_phone_number"},
                    {"content_type": "user_email"},
                ],
            }),
        )
        .unwrap();
        let t = TestContext::new(locales, Some("zh_TW"), &[("user.first_name", "Ann")]);
        assert_eq!(
            t.body(sender.as_ref()),
            json!({
                "recipient": {"id": PSID},
                "messaging_type": "RESPONSE",
                "message": {
                    "text": "選一個顏色，Ann",
                    "quick_replies": [
                        {"content_type": "text", "title": "紅色", "payload": "COLOR_RED"},
                        {"content_type": "text", "title": "Blue", "payload": "COLOR_BLUE",
                         "image_url": "https://example.com/blue.png"},
                        {"content_type": "user_phone_number"},
                        {"content_type": "user_email"},
                    ],
                },
            })
        );
    }

    #[test]
    fn refusals() {
        let locales = locales(EN, ZH);
        let with =
            |replies: Value| json!({"message": "pick", "args": {"name": "x"}, "replies": replies});
        for (args, expected) in [
            (
                with(json!(vec![reply("red"); 14])),
                "14 quick replies, at most 13".to_owned(),
            ),
            (with(json!([])), "0 quick replies, at least 1".to_owned()),
            (
                with(json!([reply("red"), reply("blue")])),
                "quick reply 2 title \"blue\" is 21 characters in zh-TW, at most 20".to_owned(),
            ),
            (
                with(json!([reply("long-title")])),
                "quick reply 1 title \"long-title\" is 24 characters in en-US, at most 20"
                    .to_owned(),
            ),
            (
                with(json!([{"title": "red", "payload": "x".repeat(1001)}])),
                "quick reply 1 payload is 1001 characters, at most 1000".to_owned(),
            ),
            (
                with(json!([{"title": "red"}])),
                "quick reply 1 has no payload".to_owned(),
            ),
            (
                with(json!([{"payload": "P"}])),
                "quick reply 1 has no title".to_owned(),
            ),
            (
                with(json!([{"content_type": "user_email", "title": "red"}])),
                "quick reply 1: a user_email quick reply takes no title (Messenger fills it in)"
                    .to_owned(),
            ),
            (
                with(json!([{"content_type": "location"}])),
                "unknown variant `location`".to_owned(),
            ),
            (
                with(json!([{"title": "red", "payload": "P", "icon": "x"}])),
                "unknown field `icon`".to_owned(),
            ),
            (
                json!({"message": "pick", "args": {"name": "x"}, "replies": [reply("red")], "buttons": []}),
                "unknown field `buttons`".to_owned(),
            ),
        ] {
            let err = refusal(&locales, "quick_replies", args);
            assert!(err.starts_with(&expected), "{err}\n  expected: {expected}");
        }
    }

    #[test]
    fn thirteen_replies_are_accepted() {
        let locales = locales(EN, "");
        let sender = build(
            &locales,
            "quick_replies",
            json!({"message": "pick", "args": {"name": "x"}, "replies": vec![reply("red"); 13],
                   "messaging_type": "MESSAGE_TAG", "tag": "CUSTOMER_FEEDBACK"}),
        )
        .unwrap();
        let body = TestContext::new(locales, None, &[]).body(sender.as_ref());
        assert_eq!(
            body["message"]["quick_replies"].as_array().unwrap().len(),
            13
        );
        assert_eq!(body["tag"], "CUSTOMER_FEEDBACK");
        assert_eq!(body["messaging_type"], "MESSAGE_TAG");
    }
}
