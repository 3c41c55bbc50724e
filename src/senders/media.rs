//! `image`, `audio`, `video` and `file`: an attachment by URL or by a saved attachment id.
//!
//! ```yaml
//! - image: { url: "https://example.com/thumb.png", is_reusable: true }
//! - video: { attachment_id: "1857777774821032" }
//! ```

use serde::Deserialize;
use serde_json::json;

use super::delivery::{Delivery, MessagingType};
use super::limits::{LimitError, Problems, Url};
use super::{Message, Outgoing, SendError, Sender};
use crate::context::Context;

/// Which attachment type a [`Media`] sender sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// `image`.
    Image,
    /// `audio`.
    Audio,
    /// `video`.
    Video,
    /// `file`.
    File,
}

impl MediaKind {
    /// The Send API's attachment type, also the sender's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::File => "file",
        }
    }
}

/// Sends one media attachment.
#[derive(Debug, Clone)]
pub struct Media {
    kind: MediaKind,
    source: Source,
    delivery: Delivery,
}

#[derive(Debug, Clone)]
enum Source {
    Url { url: Url, is_reusable: Option<bool> },
    AttachmentId(String),
}

/// Arguments of `image`, `audio`, `video` and `file`: exactly one of `url` and `attachment_id`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaArgs {
    /// Where Facebook fetches the file (http or https).
    #[serde(default)]
    pub url: Option<String>,
    /// Ask Facebook for an attachment id to reuse (only with `url`).
    #[serde(default)]
    pub is_reusable: Option<bool>,
    /// A file uploaded before (Attachment Upload API).
    #[serde(default)]
    pub attachment_id: Option<String>,
    /// `RESPONSE` (the default), `UPDATE`, `MESSAGE_TAG` or `UTILITY`.
    #[serde(default)]
    pub messaging_type: Option<MessagingType>,
    /// `HUMAN_AGENT` or `CUSTOMER_FEEDBACK`; implies `MESSAGE_TAG`.
    #[serde(default)]
    pub tag: Option<String>,
}

impl Media {
    /// Checks the arguments of a `kind` sender.
    pub fn from_args(kind: MediaKind, args: MediaArgs) -> Result<Self, String> {
        let mut problems = Problems::default();
        let source = match (args.url, args.attachment_id) {
            (Some(url), None) => problems
                .check(Url::parse("url", url))
                .map(|url| Source::Url {
                    url,
                    is_reusable: args.is_reusable,
                }),
            (None, Some(_)) if args.is_reusable.is_some() => {
                problems.push("is_reusable goes with url, not with attachment_id");
                None
            }
            (None, Some(id)) => {
                let id = id.trim().to_owned();
                if id.is_empty() {
                    problems.push(LimitError::Empty {
                        what: "attachment_id".into(),
                        locale: None,
                    });
                    None
                } else {
                    Some(Source::AttachmentId(id))
                }
            }
            (Some(_), Some(_)) => {
                problems.push("give url or attachment_id, not both");
                None
            }
            (None, None) => {
                problems.push("needs a url or an attachment_id");
                None
            }
        };
        let delivery = problems.check(Delivery::parse(args.messaging_type, args.tag.as_deref()));
        let built = (|| {
            Some(Self {
                kind,
                source: source?,
                delivery: delivery?,
            })
        })();
        problems.finish(built)
    }

    /// `image`.
    pub fn image(args: MediaArgs) -> Result<Self, String> {
        Self::from_args(MediaKind::Image, args)
    }

    /// `audio`.
    pub fn audio(args: MediaArgs) -> Result<Self, String> {
        Self::from_args(MediaKind::Audio, args)
    }

    /// `video`.
    pub fn video(args: MediaArgs) -> Result<Self, String> {
        Self::from_args(MediaKind::Video, args)
    }

    /// `file`.
    pub fn file(args: MediaArgs) -> Result<Self, String> {
        Self::from_args(MediaKind::File, args)
    }
}

impl Sender for Media {
    fn build(&self, cx: &Context) -> Result<Vec<Outgoing>, SendError> {
        let payload = match &self.source {
            Source::Url { url, is_reusable } => {
                let mut payload = json!({"url": url.as_str()});
                if let Some(reusable) = is_reusable {
                    payload["is_reusable"] = json!(reusable);
                }
                payload
            }
            Source::AttachmentId(id) => json!({"attachment_id": id}),
        };
        let message = json!({"attachment": {"type": self.kind.as_str(), "payload": payload}});
        Ok(vec![self.delivery.reply(cx, Message::checked(message))])
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::senders::test_support::*;

    #[test]
    fn sends_each_kind_by_url_or_attachment_id() {
        let locales = locales("", "");
        let t = TestContext::new(locales.clone(), None, &[]);
        for kind in ["image", "audio", "video", "file"] {
            let sender = build(
                &locales,
                kind,
                json!({"url": "https://example.com/a", "is_reusable": true}),
            )
            .unwrap();
            assert_eq!(
                t.body(sender.as_ref()),
                json!({"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
                       "message": {"attachment": {"type": kind,
                           "payload": {"url": "https://example.com/a", "is_reusable": true}}}})
            );
            let sender = build(
                &locales,
                kind,
                json!({"attachment_id": "1857777774821032", "messaging_type": "UPDATE"}),
            )
            .unwrap();
            assert_eq!(
                t.body(sender.as_ref()),
                json!({"recipient": {"id": PSID}, "messaging_type": "UPDATE",
                       "message": {"attachment": {"type": kind,
                           "payload": {"attachment_id": "1857777774821032"}}}})
            );
        }
        let sender = build(
            &locales,
            "image",
            json!({"url": "http://example.com/b.png"}),
        )
        .unwrap();
        assert_eq!(
            t.body(sender.as_ref())["message"]["attachment"]["payload"],
            json!({"url": "http://example.com/b.png"})
        );
    }

    #[test]
    fn refusals() {
        let locales = locales("", "");
        for (args, expected) in [
            (json!({}), "needs a url or an attachment_id"),
            (
                json!({"url": "https://e.com/a", "attachment_id": "1"}),
                "give url or attachment_id, not both",
            ),
            (
                json!({"attachment_id": "1", "is_reusable": true}),
                "is_reusable goes with url, not with attachment_id",
            ),
            (json!({"attachment_id": " "}), "attachment_id is empty"),
            (
                json!({"url": "file:///etc/passwd"}),
                "url \"file:///etc/passwd\" must start with https:// or http://",
            ),
            (
                json!({"url": "https://e.com/a", "caption": "x"}),
                "unknown field `caption`",
            ),
            (
                json!({"url": "https://e.com/a", "tag": "ACCOUNT_UPDATE"}),
                "tag ACCOUNT_UPDATE was retired",
            ),
        ] {
            let err = refusal(&locales, "video", args);
            assert!(err.starts_with(expected), "{err}\n  expected: {expected}");
        }
    }
}
