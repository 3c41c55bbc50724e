//! `thumb_up`: counts the thumbs-up "Like" stickers a user sends.
//!
//! The sticker comes in three sizes and, until Facebook finishes its migration, in two forms
//! that may arrive together in one message: the legacy `message.sticker_id` (with an `image`
//! attachment) and the current `sticker` attachment. A message counts once whatever it
//! carries, and a retried event is not counted again: one row per event, and the count is the
//! number of rows (also kept in `users.thumbups`). Leaves `thumbs_up.count` for the senders.

use async_trait::async_trait;
use serde::Deserialize;

use super::{Handler, HandlerError, event_time, user_message};
use crate::context::Context;
use crate::event::Message;
use crate::store::{now_ms, thumbs_up};

/// The thumbs-up "Like" sticker, in its three sizes.
pub const THUMBS_UP_STICKER_IDS: [&str; 3] =
    ["369239263222822", "369239343222814", "369239383222810"];

/// Counts thumbs-up stickers.
#[derive(Debug, Clone, Default)]
pub struct ThumbUp;

/// `thumb_up` takes no arguments.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThumbUpArgs {}

impl ThumbUp {
    /// Builds it from its (empty) arguments.
    pub fn from_args(_args: ThumbUpArgs) -> Result<Self, String> {
        Ok(Self)
    }
}

/// The thumbs-up sticker id a message carries, in any form: the legacy `sticker_id`, or a
/// `sticker` (current) or `image` (legacy) attachment with a `sticker_id`.
pub(crate) fn thumbs_up_sticker(message: &Message) -> Option<&str> {
    let attached = message.attachments.iter().filter_map(|a| {
        matches!(a.kind.as_str(), "sticker" | "image")
            .then(|| a.payload.as_ref()?.sticker_id.as_deref())
            .flatten()
    });
    message
        .sticker_id
        .as_deref()
        .into_iter()
        .chain(attached)
        .find(|id| THUMBS_UP_STICKER_IDS.contains(id))
}

#[async_trait]
impl Handler for ThumbUp {
    fn should_handle(&self, cx: &Context) -> bool {
        cx.psid().is_some() && user_message(cx).and_then(thumbs_up_sticker).is_some()
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let (Some(psid), Some(message)) = (cx.psid(), user_message(cx)) else {
            return Ok(());
        };
        let Some(sticker_id) = thumbs_up_sticker(message) else {
            return Ok(());
        };
        let row = thumbs_up::ThumbUp {
            event_id: cx.event.inbox_id,
            page_id: cx.event.page_id.clone().unwrap_or_default(),
            psid: psid.to_owned(),
            mid: message.mid.clone(),
            sticker_id: sticker_id.to_owned(),
            event_time: event_time(cx),
            created_at: now_ms(),
        };
        let count = cx
            .store()
            .run(move |conn| thumbs_up::record(conn, &row))
            .await?;
        if let Some(user) = cx.user.as_mut() {
            user.thumbups = count;
        }
        cx.vars.insert("thumbs_up.count".into(), count.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(v: serde_json::Value) -> Message {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn every_form_and_size_of_the_like_sticker_is_found() {
        let legacy = message(json!({"sticker_id": 369239263222822u64, "attachments": [
            {"type": "image", "payload": {"url": "https://s", "sticker_id": 369239263222822u64}}]}));
        let current = message(json!({"attachments": [
            {"type": "sticker", "payload": {"sticker_id": 369239343222814u64}}]}));
        let both = message(json!({"sticker_id": 369239383222810u64, "attachments": [
            {"type": "sticker", "payload": {"sticker_id": 369239383222810u64}}]}));
        let legacy_only_field = message(json!({"sticker_id": "369239263222822"}));
        assert_eq!(thumbs_up_sticker(&legacy), Some("369239263222822"));
        assert_eq!(thumbs_up_sticker(&current), Some("369239343222814"));
        assert_eq!(thumbs_up_sticker(&both), Some("369239383222810"));
        assert_eq!(
            thumbs_up_sticker(&legacy_only_field),
            Some("369239263222822")
        );
    }

    #[test]
    fn other_stickers_and_media_are_not_thumbs_up() {
        let other = message(json!({"sticker_id": 1234, "attachments": [
            {"type": "sticker", "payload": {"sticker_id": 1234}}]}));
        let video_with_id = message(json!({"attachments": [
            {"type": "video", "payload": {"sticker_id": 369239263222822u64}}]}));
        let text = message(json!({"text": "369239263222822"}));
        assert_eq!(thumbs_up_sticker(&other), None);
        assert_eq!(thumbs_up_sticker(&video_with_id), None);
        assert_eq!(thumbs_up_sticker(&text), None);
    }
}
