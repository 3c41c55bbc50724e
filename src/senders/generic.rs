//! `generic`: a generic template, a carousel of up to 10 cards.
//!
//! ```yaml
//! - generic:
//!     elements:
//!       - title: card-shoes              # Fluent id, at most 80 characters
//!         subtitle: card-shoes-sub       # Fluent id, at most 80 characters
//!         image_url: "https://example.com/shoes.png"
//!         default_action: { url: "https://example.com/shoes" }
//!         buttons:                       # at most 3
//!           - { type: postback, title: buy, payload: BUY_SHOES }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::button::{Button, ButtonArgs, WebviewHeightRatio};
use super::delivery::{Delivery, MessagingType};
use super::limits::{
    self, LocalizedText, MAX_BUTTONS, MAX_ELEMENT_SUBTITLE_CHARS, MAX_ELEMENT_TITLE_CHARS,
    MAX_GENERIC_ELEMENTS, Problems, Url,
};
use super::{Message, Outgoing, SendError, Sender};
use crate::context::Context;
use crate::registry::BuildContext;

/// Sends a generic template.
#[derive(Debug, Clone)]
pub struct Generic {
    elements: Vec<Element>,
    image_aspect_ratio: Option<ImageAspectRatio>,
    delivery: Delivery,
}

/// Arguments of `generic`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericArgs {
    /// 1 to 10 cards.
    pub elements: Vec<ElementArgs>,
    /// `horizontal` (Messenger's default) or `square`.
    #[serde(default)]
    pub image_aspect_ratio: Option<ImageAspectRatio>,
    /// `RESPONSE` (the default), `UPDATE`, `MESSAGE_TAG` or `UTILITY`.
    #[serde(default)]
    pub messaging_type: Option<MessagingType>,
    /// `HUMAN_AGENT` or `CUSTOMER_FEEDBACK`; implies `MESSAGE_TAG`.
    #[serde(default)]
    pub tag: Option<String>,
}

/// One card as written in the policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElementArgs {
    /// Fluent message id, at most 80 characters.
    pub title: String,
    /// Fluent message id, at most 80 characters.
    #[serde(default)]
    pub subtitle: Option<String>,
    /// The card's picture.
    #[serde(default)]
    pub image_url: Option<String>,
    /// What tapping the card opens.
    #[serde(default)]
    pub default_action: Option<DefaultActionArgs>,
    /// At most 3 buttons.
    #[serde(default)]
    pub buttons: Vec<ButtonArgs>,
}

/// A card's default action: a `web_url` without a title.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultActionArgs {
    /// Only `web_url`, the default (accepted so that Facebook's own JSON can be pasted).
    #[serde(default, rename = "type")]
    pub kind: Option<WebUrlOnly>,
    /// An http(s) URL.
    pub url: String,
    /// `compact`, `tall` or `full`.
    #[serde(default)]
    pub webview_height_ratio: Option<WebviewHeightRatio>,
}

/// The one type a default action can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebUrlOnly {
    /// Opens a URL.
    WebUrl,
}

/// How a carousel's pictures are cropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageAspectRatio {
    /// 1.91:1.
    Horizontal,
    /// 1:1.
    Square,
}

#[derive(Debug, Clone)]
struct Element {
    title: LocalizedText,
    subtitle: Option<LocalizedText>,
    image_url: Option<Url>,
    default_action: Option<(Url, Option<WebviewHeightRatio>)>,
    buttons: Vec<Button>,
}

impl Element {
    fn parse(
        n: usize,
        args: ElementArgs,
        cx: &BuildContext<'_>,
        problems: &mut Problems,
    ) -> Option<Self> {
        let what = format!("element {n}");
        let title = problems.check(LocalizedText::parse(
            &format!("{what} title"),
            args.title,
            BTreeMap::new(),
            MAX_ELEMENT_TITLE_CHARS,
            cx,
        ));
        let subtitle = args.subtitle.map(|id| {
            problems.check(LocalizedText::parse(
                &format!("{what} subtitle"),
                id,
                BTreeMap::new(),
                MAX_ELEMENT_SUBTITLE_CHARS,
                cx,
            ))
        });
        let image_url = args
            .image_url
            .map(|url| problems.check(Url::parse(&format!("{what} image_url"), url)));
        let default_action = args.default_action.map(|action| {
            problems
                .check(Url::parse(
                    &format!("{what} default_action url"),
                    action.url,
                ))
                .map(|url| (url, action.webview_height_ratio))
        });
        if let Err(e) = limits::count("buttons", args.buttons.len(), 0, MAX_BUTTONS) {
            problems.push(format_args!("{what}: {e}"));
        }
        let buttons = Button::parse_all(&format!("{what} "), args.buttons, cx, problems);
        Some(Self {
            title: title?,
            subtitle: subtitle.map_or(Some(None), |s| s.map(Some))?,
            image_url: image_url.map_or(Some(None), |u| u.map(Some))?,
            default_action: default_action.map_or(Some(None), |a| a.map(Some))?,
            buttons: buttons?,
        })
    }

    fn render(&self, cx: &Context) -> Result<Value, SendError> {
        let mut element = json!({"title": self.title.render(cx)?});
        if let Some(subtitle) = &self.subtitle {
            element["subtitle"] = json!(subtitle.render(cx)?);
        }
        if let Some(url) = &self.image_url {
            element["image_url"] = json!(url.as_str());
        }
        if let Some((url, ratio)) = &self.default_action {
            let mut action = json!({"type": "web_url", "url": url.as_str()});
            if let Some(ratio) = ratio {
                action["webview_height_ratio"] = json!(ratio.as_str());
            }
            element["default_action"] = action;
        }
        if !self.buttons.is_empty() {
            element["buttons"] = json!(Button::render_all(&self.buttons, cx)?);
        }
        Ok(element)
    }
}

impl Generic {
    /// Checks every card and the delivery; reports every problem.
    pub fn from_args(args: GenericArgs, cx: &BuildContext<'_>) -> Result<Self, String> {
        let mut problems = Problems::default();
        problems.check(limits::count(
            "elements",
            args.elements.len(),
            1,
            MAX_GENERIC_ELEMENTS,
        ));
        let elements: Option<Vec<Element>> = args
            .elements
            .into_iter()
            .enumerate()
            .map(|(i, e)| Element::parse(i + 1, e, cx, &mut problems))
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        let delivery = problems.check(Delivery::parse(args.messaging_type, args.tag.as_deref()));
        let built = (|| {
            Some(Self {
                elements: elements?,
                image_aspect_ratio: args.image_aspect_ratio,
                delivery: delivery?,
            })
        })();
        problems.finish(built)
    }
}

impl Sender for Generic {
    fn build(&self, cx: &Context) -> Result<Vec<Outgoing>, SendError> {
        let elements = self
            .elements
            .iter()
            .map(|e| e.render(cx))
            .collect::<Result<Vec<_>, _>>()?;
        let mut payload = json!({"template_type": "generic", "elements": elements});
        if let Some(ratio) = self.image_aspect_ratio {
            payload["image_aspect_ratio"] = json!(match ratio {
                ImageAspectRatio::Horizontal => "horizontal",
                ImageAspectRatio::Square => "square",
            });
        }
        let message = json!({"attachment": {"type": "template", "payload": payload}});
        Ok(vec![self.delivery.reply(cx, Message::checked(message))])
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::senders::test_support::*;

    const EN: &str = "\
shoes = Running shoes
shoes-sub = Light and fast
hat = Hat
buy = Buy
";

    fn card(title: &str) -> Value {
        json!({"title": title})
    }

    #[test]
    fn sends_a_carousel() {
        let locales = locales(EN, "shoes = 跑鞋\nbuy = 購買\n");
        let sender = build(
            &locales,
            "generic",
            json!({
                "image_aspect_ratio": "square",
                "elements": [
                    {
                        "title": "shoes",
                        "subtitle": "shoes-sub",
                        "image_url": "https://example.com/shoes.png",
                        "default_action": {"type": "web_url", "url": "https://example.com/shoes",
                                           "webview_height_ratio": "full"},
                        "buttons": [
                            {"type": "postback", "title": "buy", "payload": "BUY_SHOES"},
                            {"type": "web_url", "title": "buy", "url": "https://example.com/buy"},
                        ],
                    },
                    {"title": "hat", "default_action": {"url": "https://example.com/hat"}},
                ],
            }),
        )
        .unwrap();
        let t = TestContext::new(locales, Some("zh_TW"), &[]);
        assert_eq!(
            t.body(sender.as_ref()),
            json!({
                "recipient": {"id": PSID},
                "messaging_type": "RESPONSE",
                "message": {"attachment": {"type": "template", "payload": {
                    "template_type": "generic",
                    "image_aspect_ratio": "square",
                    "elements": [
                        {
                            "title": "跑鞋",
                            "subtitle": "Light and fast",
                            "image_url": "https://example.com/shoes.png",
                            "default_action": {"type": "web_url", "url": "https://example.com/shoes",
                                               "webview_height_ratio": "full"},
                            "buttons": [
                                {"type": "postback", "title": "購買", "payload": "BUY_SHOES"},
                                {"type": "web_url", "title": "購買", "url": "https://example.com/buy"},
                            ],
                        },
                        {"title": "Hat",
                         "default_action": {"type": "web_url", "url": "https://example.com/hat"}},
                    ],
                }}},
            })
        );
    }

    #[test]
    fn refusals() {
        let en = format!("{EN}long = {}\n", "l".repeat(81));
        let zh = format!("hat = {}\n", "帽".repeat(81));
        let locales = locales(&en, &zh);
        let postback = json!({"type": "postback", "title": "buy", "payload": "B"});
        for (args, expected) in [
            (
                json!({"elements": vec![card("shoes"); 11]}),
                "11 elements, at most 10",
            ),
            (json!({"elements": []}), "0 elements, at least 1"),
            (
                json!({"elements": [card("long")]}),
                "element 1 title \"long\" is 81 characters in en-US, at most 80",
            ),
            (
                json!({"elements": [card("shoes"), card("hat")]}),
                "element 2 title \"hat\" is 81 characters in zh-TW, at most 80",
            ),
            (
                json!({"elements": [{"title": "shoes", "subtitle": "long"}]}),
                "element 1 subtitle \"long\" is 81 characters in en-US, at most 80",
            ),
            (
                json!({"elements": [{"title": "shoes", "buttons": vec![postback.clone(); 4]}]}),
                "element 1: 4 buttons, at most 3",
            ),
            (
                json!({"elements": [{"title": "shoes", "buttons": [
                    {"type": "postback", "title": "long", "payload": "B"}]}]}),
                "element 1 button 1 title \"long\" is 81 characters in en-US, at most 20",
            ),
            (
                json!({"elements": [{"title": "shoes",
                    "default_action": {"url": "https://e.com", "title": "buy"}}]}),
                "unknown field `title`",
            ),
            (
                json!({"elements": [{"title": "shoes",
                    "default_action": {"type": "postback", "url": "https://e.com"}}]}),
                "unknown variant `postback`",
            ),
            (
                json!({"elements": [{"title": "shoes", "image_url": "shoes.png"}]}),
                "element 1 image_url \"shoes.png\" must start with https:// or http://",
            ),
            (
                json!({"elements": [{"title": "shoes", "price": 3}]}),
                "unknown field `price`",
            ),
        ] {
            let err = refusal(&locales, "generic", args);
            assert!(err.starts_with(expected), "{err}\n  expected: {expected}");
        }
    }
}
