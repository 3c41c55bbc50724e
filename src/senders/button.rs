//! Buttons, as the button template and generic template elements carry them.
//!
//! Written in routing.yaml as `{ type: postback, title: menu-help, payload: HELP }`; titles are
//! Fluent message ids (at most 20 characters in every locale), payloads opaque strings.

use serde::Deserialize;
use serde_json::{Value, json};

use super::SendError;
use super::limits::{LocalizedText, MAX_BUTTON_TITLE_CHARS, Payload, PhoneNumber, Problems, Url};
use crate::context::Context;
use crate::registry::BuildContext;

/// One button as written in the policy; `type` picks the kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ButtonArgs {
    /// Opens `url` in the in-app browser.
    WebUrl {
        /// Fluent message id.
        title: String,
        /// An http(s) URL.
        url: String,
        /// `compact`, `tall` or `full`.
        #[serde(default)]
        webview_height_ratio: Option<WebviewHeightRatio>,
    },
    /// Sends `payload` back as a postback.
    Postback {
        /// Fluent message id.
        title: String,
        /// 1 to 1000 characters.
        payload: String,
    },
    /// Calls `payload`, a number written `+` and country code first.
    PhoneNumber {
        /// Fluent message id.
        title: String,
        /// The phone number.
        payload: String,
    },
    /// Starts account linking at `url` (Messenger writes its own title).
    AccountLink {
        /// The bot's login page.
        url: String,
    },
    /// Unlinks the account (Messenger writes its own title).
    AccountUnlink {},
}

/// How tall the in-app browser opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebviewHeightRatio {
    /// Half the screen.
    Compact,
    /// Three quarters.
    Tall,
    /// The whole screen.
    Full,
}

impl WebviewHeightRatio {
    /// The Send API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compact => "compact",
            Self::Tall => "tall",
            Self::Full => "full",
        }
    }
}

/// A checked button.
#[derive(Debug, Clone)]
pub struct Button(Kind);

#[derive(Debug, Clone)]
enum Kind {
    WebUrl {
        title: LocalizedText,
        url: Url,
        ratio: Option<WebviewHeightRatio>,
    },
    Postback {
        title: LocalizedText,
        payload: Payload,
    },
    PhoneNumber {
        title: LocalizedText,
        number: PhoneNumber,
    },
    AccountLink {
        url: Url,
    },
    AccountUnlink,
}

impl Button {
    /// Checks a button; `what` names it in errors (`button 2`, `element 1 button 3`).
    pub fn parse(
        what: &str,
        args: ButtonArgs,
        cx: &BuildContext<'_>,
        problems: &mut Problems,
    ) -> Option<Self> {
        let title = |id: String, problems: &mut Problems| {
            problems.check(LocalizedText::parse(
                &format!("{what} title"),
                id,
                Default::default(),
                MAX_BUTTON_TITLE_CHARS,
                cx,
            ))
        };
        let kind = match args {
            ButtonArgs::WebUrl {
                title: id,
                url,
                webview_height_ratio,
            } => {
                let title = title(id, problems);
                let url = problems.check(Url::parse(&format!("{what} url"), url));
                Kind::WebUrl {
                    title: title?,
                    url: url?,
                    ratio: webview_height_ratio,
                }
            }
            ButtonArgs::Postback { title: id, payload } => {
                let title = title(id, problems);
                let payload = problems.check(Payload::parse(&format!("{what} payload"), payload));
                Kind::Postback {
                    title: title?,
                    payload: payload?,
                }
            }
            ButtonArgs::PhoneNumber { title: id, payload } => {
                let title = title(id, problems);
                let number =
                    problems.check(PhoneNumber::parse(&format!("{what} payload"), payload));
                Kind::PhoneNumber {
                    title: title?,
                    number: number?,
                }
            }
            ButtonArgs::AccountLink { url } => Kind::AccountLink {
                url: problems.check(Url::parse(&format!("{what} url"), url))?,
            },
            ButtonArgs::AccountUnlink {} => Kind::AccountUnlink,
        };
        Some(Self(kind))
    }

    /// Parses every button, naming each `{prefix}button N`; `None` if any is wrong.
    pub fn parse_all(
        prefix: &str,
        args: Vec<ButtonArgs>,
        cx: &BuildContext<'_>,
        problems: &mut Problems,
    ) -> Option<Vec<Self>> {
        let buttons: Vec<Option<Self>> = args
            .into_iter()
            .enumerate()
            .map(|(i, b)| Self::parse(&format!("{prefix}button {}", i + 1), b, cx, problems))
            .collect();
        buttons.into_iter().collect()
    }

    /// The button's Send API JSON, its title in the user's locale.
    pub fn render(&self, cx: &Context) -> Result<Value, SendError> {
        Ok(match &self.0 {
            Kind::WebUrl { title, url, ratio } => {
                let mut button = json!({
                    "type": "web_url",
                    "title": title.render(cx)?,
                    "url": url.as_str(),
                });
                if let Some(ratio) = ratio {
                    button["webview_height_ratio"] = json!(ratio.as_str());
                }
                button
            }
            Kind::Postback { title, payload } => json!({
                "type": "postback",
                "title": title.render(cx)?,
                "payload": payload.as_str(),
            }),
            Kind::PhoneNumber { title, number } => json!({
                "type": "phone_number",
                "title": title.render(cx)?,
                "payload": number.as_str(),
            }),
            Kind::AccountLink { url } => json!({"type": "account_link", "url": url.as_str()}),
            Kind::AccountUnlink => json!({"type": "account_unlink"}),
        })
    }

    /// Renders every button.
    pub fn render_all(buttons: &[Self], cx: &Context) -> Result<Vec<Value>, SendError> {
        buttons.iter().map(|b| b.render(cx)).collect()
    }
}
