//! `multimedia`: a message with an image, audio, video or file attachment (of the `types`
//! asked for; all four by default). Stores what arrived (type, url) when `store: true`, once
//! per event. Stickers, which arrive as images with a `sticker_id`, are not media. Leaves
//! `media.type`, `media.url` (of the first) and `media.count` for the senders.

use async_trait::async_trait;
use serde::Deserialize;

use super::{Handler, HandlerError, check_names, event_time, user_message};
use crate::context::Context;
use crate::event::{Attachment, Message};
use crate::store::{media, now_ms};

/// The attachment types `multimedia` knows.
const MEDIA_TYPES: [&str; 4] = ["image", "audio", "video", "file"];

/// Handles (and may store) media.
#[derive(Debug, Clone)]
pub struct Multimedia {
    types: Vec<String>,
    store: bool,
}

/// Arguments of `multimedia`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultimediaArgs {
    /// Which of `image`, `audio`, `video`, `file` to handle; absent: all four.
    #[serde(default)]
    pub types: Option<Vec<String>>,
    /// Store each attachment's type and URL.
    #[serde(default)]
    pub store: bool,
}

impl Multimedia {
    /// Checks the types.
    pub fn from_args(args: MultimediaArgs) -> Result<Self, String> {
        let types = match args.types {
            None => MEDIA_TYPES.map(String::from).to_vec(),
            Some(types) if types.is_empty() => {
                return Err(format!(
                    "types is empty; leave it out to handle all of {}",
                    MEDIA_TYPES.join(", ")
                ));
            }
            Some(types) => {
                check_names("types", &types, &MEDIA_TYPES)?;
                types
            }
        };
        Ok(Self {
            types,
            store: args.store,
        })
    }

    /// The message's attachments this handler wants, with their positions.
    fn wanted<'m>(&self, message: &'m Message) -> Vec<(usize, &'m Attachment)> {
        message
            .attachments
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                self.types.contains(&a.kind)
                    && a.payload.as_ref().is_none_or(|p| p.sticker_id.is_none())
            })
            .collect()
    }
}

#[async_trait]
impl Handler for Multimedia {
    fn should_handle(&self, cx: &Context) -> bool {
        cx.psid().is_some() && user_message(cx).is_some_and(|m| !self.wanted(m).is_empty())
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let (Some(psid), Some(message)) = (cx.psid(), user_message(cx)) else {
            return Ok(());
        };
        let wanted = self.wanted(message);
        let url_of = |a: &Attachment| a.payload.as_ref().and_then(|p| p.url.clone());
        let mut vars = vec![("media.count".to_owned(), wanted.len().to_string())];
        if let Some((_, first)) = wanted.first() {
            vars.push(("media.type".into(), first.kind.clone()));
            if let Some(url) = url_of(first) {
                vars.push(("media.url".into(), url));
            }
        }
        if self.store {
            let (time, created_at) = (event_time(cx), now_ms());
            let page_id = cx.event.page_id.as_deref().unwrap_or_default();
            let rows: Vec<media::Media> = wanted
                .iter()
                .filter_map(|(i, a)| {
                    Some(media::Media {
                        event_id: cx.event.inbox_id,
                        seq: i32::try_from(*i).ok()?,
                        page_id: page_id.to_owned(),
                        psid: psid.to_owned(),
                        kind: a.kind.clone(),
                        url: url_of(a),
                        mid: message.mid.clone(),
                        event_time: time,
                        created_at,
                    })
                })
                .collect();
            cx.store()
                .run(move |conn| media::record(conn, &rows))
                .await?;
        }
        cx.vars.extend(vars);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(args: serde_json::Value) -> Result<Multimedia, String> {
        Multimedia::from_args(serde_json::from_value(args).map_err(|e| e.to_string())?)
    }

    #[test]
    fn types_select_attachments_and_stickers_are_never_media() {
        let message: Message = serde_json::from_value(json!({"attachments": [
            {"type": "image", "payload": {"url": "https://s", "sticker_id": 369239263222822u64}},
            {"type": "video", "payload": {"url": "https://v"}},
            {"type": "image", "payload": {"url": "https://i"}},
            {"type": "location", "payload": {"coordinates": {"lat": 1, "long": 2}}}
        ]}))
        .unwrap();
        let all = build(json!({})).unwrap();
        let positions: Vec<usize> = all.wanted(&message).iter().map(|(i, _)| *i).collect();
        assert_eq!(positions, [1, 2]);
        let images = build(json!({"types": ["image"], "store": true})).unwrap();
        let positions: Vec<usize> = images.wanted(&message).iter().map(|(i, _)| *i).collect();
        assert_eq!(positions, [2]);
        assert!(images.store);
    }

    #[test]
    fn bad_arguments_are_refused() {
        let err = build(json!({"types": ["image", "gif"]})).unwrap_err();
        assert_eq!(
            err,
            "types: unknown value \"gif\" (known: image, audio, video, file)"
        );
        assert!(
            build(json!({"types": []}))
                .unwrap_err()
                .starts_with("types is empty")
        );
        let err = build(json!({"store": true, "save": true})).unwrap_err();
        assert!(err.contains("unknown field `save`"), "{err}");
        assert!(build(json!({"store": "yes"})).is_err());
    }
}
