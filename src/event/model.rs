//! The serde model of one `messaging`/`standby` item of a webhook body.
//!
//! The model is lenient on purpose: every field is optional, unknown keys are ignored, IDs are
//! accepted as strings or numbers and always held as `String`, integers may arrive as floats or
//! numeric strings, and a nested object of the wrong shape becomes `None` instead of failing the
//! whole item. Deserializing a [`Messaging`] from a JSON object never fails (except on both
//! `policy_enforcement` and `policy-enforcement` at once); strings and numbers are refused, and
//! [`classify_value`](super::classify_value) refuses arrays too. The raw JSON is kept elsewhere
//! (the inbox), so nothing unknown is kept here.

use serde::Deserialize;
use serde_json::Value;

/// One item of an entry's `messaging` (or `standby`) array.
///
/// Exactly one of the event fields (`message`, `postback`, `delivery`, ...) is normally present;
/// [`Messaging::event_key`] names it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Messaging {
    /// Who sent the event: the user, or the Page for echoes; absent for checkbox opt-ins,
    /// `app_roles` and `policy_enforcement`.
    #[serde(deserialize_with = "de::nested")]
    pub sender: Option<Party>,
    /// Who received the event: usually the Page.
    #[serde(deserialize_with = "de::nested")]
    pub recipient: Option<Party>,
    /// When the event happened, epoch milliseconds; absent on deliveries.
    #[serde(deserialize_with = "de::int")]
    pub timestamp: Option<i64>,
    /// A message: text, quick reply, attachments, sticker or echo.
    #[serde(deserialize_with = "de::nested")]
    pub message: Option<Message>,
    /// A postback from a button, Get Started or a persistent menu item.
    #[serde(deserialize_with = "de::nested")]
    pub postback: Option<Postback>,
    /// A delivery receipt.
    #[serde(deserialize_with = "de::nested")]
    pub delivery: Option<Delivery>,
    /// A read receipt.
    #[serde(deserialize_with = "de::nested")]
    pub read: Option<Read>,
    /// An opt-in (send-to-Messenger, checkbox, one-time or recurring notifications).
    #[serde(deserialize_with = "de::nested")]
    pub optin: Option<Optin>,
    /// Account linking or unlinking.
    #[serde(deserialize_with = "de::nested")]
    pub account_linking: Option<AccountLinking>,
    /// A reaction to a message, or its removal.
    #[serde(deserialize_with = "de::nested")]
    pub reaction: Option<Reaction>,
    /// A referral into an existing thread (m.me link, ad, chat plugin).
    #[serde(deserialize_with = "de::nested")]
    pub referral: Option<Referral>,
    /// A message the user edited.
    #[serde(deserialize_with = "de::nested")]
    pub message_edit: Option<MessageEdit>,
    /// Handover protocol: thread control passed to this app (kept as raw JSON).
    pub pass_thread_control: Option<Value>,
    /// Handover protocol: thread control taken from this app (kept as raw JSON).
    pub take_thread_control: Option<Value>,
    /// Handover protocol: another app asks for thread control (kept as raw JSON).
    pub request_thread_control: Option<Value>,
    /// Handover protocol: the app roles changed (kept as raw JSON).
    pub app_roles: Option<Value>,
    /// The Page was warned, blocked or unblocked; also read from the old key
    /// `policy-enforcement`.
    #[serde(alias = "policy-enforcement", deserialize_with = "de::nested")]
    pub policy_enforcement: Option<PolicyEnforcement>,
}

impl Messaging {
    /// The key of the event this item carries (`"message"`, `"postback"`, `"delivery"`, ...), in
    /// the order classification looks at them, or `None` when it carries no event pagebot knows.
    ///
    /// The old `policy-enforcement` key is reported as `"policy_enforcement"`.
    pub fn event_key(&self) -> Option<&'static str> {
        let key = if self.message.is_some() {
            "message"
        } else if self.postback.is_some() {
            "postback"
        } else if self.optin.is_some() {
            "optin"
        } else if self.account_linking.is_some() {
            "account_linking"
        } else if self.delivery.is_some() {
            "delivery"
        } else if self.read.is_some() {
            "read"
        } else if self.reaction.is_some() {
            "reaction"
        } else if self.referral.is_some() {
            "referral"
        } else if self.message_edit.is_some() {
            "message_edit"
        } else if self.pass_thread_control.is_some() {
            "pass_thread_control"
        } else if self.take_thread_control.is_some() {
            "take_thread_control"
        } else if self.request_thread_control.is_some() {
            "request_thread_control"
        } else if self.app_roles.is_some() {
            "app_roles"
        } else if self.policy_enforcement.is_some() {
            "policy_enforcement"
        } else {
            return None;
        };
        Some(key)
    }
}

/// A sender or recipient: a PSID (`id`) or, for chat-plugin guests and checkbox opt-ins, a
/// `user_ref`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Party {
    /// The page-scoped ID (PSID) of a user, or the Page ID.
    #[serde(deserialize_with = "de::string")]
    pub id: Option<String>,
    /// The reference of a chat-plugin guest or checkbox opt-in.
    #[serde(deserialize_with = "de::string")]
    pub user_ref: Option<String>,
}

impl Party {
    /// The identifier to key this party by: `id`, else `user_ref`.
    pub fn key(&self) -> Option<&str> {
        self.id.as_deref().or(self.user_ref.as_deref())
    }
}

/// A message: sent by the user, or one of the Page's own echoed back.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Message {
    /// The message ID, the deduplication key for messages and echoes.
    #[serde(deserialize_with = "de::string")]
    pub mid: Option<String>,
    /// The text, when there is any (quick replies and shared links carry text too).
    #[serde(deserialize_with = "de::string")]
    pub text: Option<String>,
    /// `true` when this is one of the Page's own messages echoed back.
    #[serde(deserialize_with = "de::flag")]
    pub is_echo: bool,
    /// On echoes: the app that sent the message.
    #[serde(deserialize_with = "de::string")]
    pub app_id: Option<String>,
    /// On echoes: the `metadata` the sender attached.
    #[serde(deserialize_with = "de::string")]
    pub metadata: Option<String>,
    /// The quick reply the user tapped.
    #[serde(deserialize_with = "de::nested")]
    pub quick_reply: Option<QuickReply>,
    /// The legacy sticker ID (numbers are kept digit for digit).
    #[serde(deserialize_with = "de::string")]
    pub sticker_id: Option<String>,
    /// The attachments, in the order sent; empty when there are none.
    #[serde(deserialize_with = "de::list")]
    pub attachments: Vec<Attachment>,
    /// The message this one replies to (`{"mid": ...}`), kept as raw JSON.
    pub reply_to: Option<Value>,
}

/// The quick reply a user tapped.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct QuickReply {
    /// The payload the bot gave the quick reply; empty when Facebook sent none.
    #[serde(deserialize_with = "de::string_or_empty")]
    pub payload: String,
}

/// One attachment of a message. Unknown types (`reel`, `ig_post`, ...) are kept as they are.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Attachment {
    /// The attachment type: `image`, `audio`, `video`, `file`, `location`, `fallback`,
    /// `sticker`, `template`, or anything newer; empty when absent.
    #[serde(rename = "type", deserialize_with = "de::string_or_empty")]
    pub kind: String,
    /// What the attachment points at.
    #[serde(deserialize_with = "de::nested")]
    pub payload: Option<AttachmentPayload>,
    /// A title (legacy location and shared links).
    #[serde(deserialize_with = "de::string")]
    pub title: Option<String>,
    /// A URL (legacy location and shared links).
    #[serde(deserialize_with = "de::string")]
    pub url: Option<String>,
}

/// The payload of an attachment.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AttachmentPayload {
    /// Where the media can be downloaded (the URL expires).
    #[serde(deserialize_with = "de::string")]
    pub url: Option<String>,
    /// The sticker ID, on stickers (numbers are kept digit for digit).
    #[serde(deserialize_with = "de::string")]
    pub sticker_id: Option<String>,
    /// A reusable attachment ID.
    #[serde(deserialize_with = "de::string")]
    pub attachment_id: Option<String>,
    /// A title (shared links).
    #[serde(deserialize_with = "de::string")]
    pub title: Option<String>,
    /// The coordinates of a (legacy) location.
    #[serde(deserialize_with = "de::nested")]
    pub coordinates: Option<Coordinates>,
}

/// A point on the map.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Coordinates {
    /// Latitude in degrees.
    #[serde(deserialize_with = "de::float")]
    pub lat: f64,
    /// Longitude in degrees.
    #[serde(deserialize_with = "de::float")]
    pub long: f64,
}

/// A postback: a button, Get Started or a persistent menu item was tapped.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Postback {
    /// The postback's message ID (absent on older and standby postbacks).
    #[serde(deserialize_with = "de::string")]
    pub mid: Option<String>,
    /// The title of the button tapped.
    #[serde(deserialize_with = "de::string")]
    pub title: Option<String>,
    /// The payload the bot gave the button; absent when the postback came through `standby`.
    #[serde(deserialize_with = "de::string")]
    pub payload: Option<String>,
    /// How the user got here, on Get Started from an m.me link or ad.
    #[serde(deserialize_with = "de::nested")]
    pub referral: Option<Referral>,
}

/// A delivery receipt.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Delivery {
    /// The messages delivered; often empty.
    #[serde(deserialize_with = "de::strings")]
    pub mids: Vec<String>,
    /// Every message sent before this time (epoch ms) was delivered.
    #[serde(deserialize_with = "de::int")]
    pub watermark: Option<i64>,
}

/// A read receipt.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Read {
    /// Every message sent before this time (epoch ms) was read.
    #[serde(deserialize_with = "de::int")]
    pub watermark: Option<i64>,
}

/// An opt-in: send-to-Messenger plugin, checkbox plugin, one-time or recurring notifications.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Optin {
    /// The `data-ref` pass-through parameter.
    #[serde(rename = "ref", deserialize_with = "de::string")]
    pub ref_: Option<String>,
    /// The checkbox plugin's reference, used instead of a sender.
    #[serde(deserialize_with = "de::string")]
    pub user_ref: Option<String>,
    /// `one_time_notif_req` or `notification_messages`; absent for plugin opt-ins.
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: Option<String>,
    /// The payload of a notification request.
    #[serde(deserialize_with = "de::string")]
    pub payload: Option<String>,
    /// The token for one follow-up message (one-time notification).
    #[serde(deserialize_with = "de::string")]
    pub one_time_notif_token: Option<String>,
    /// The token for recurring notification messages.
    #[serde(deserialize_with = "de::string")]
    pub notification_messages_token: Option<String>,
    /// `STOP NOTIFICATIONS` or `RESUME NOTIFICATIONS`.
    #[serde(deserialize_with = "de::string")]
    pub notification_messages_status: Option<String>,
    /// When the notification messages token expires (epoch ms).
    #[serde(deserialize_with = "de::int")]
    pub token_expiry_timestamp: Option<i64>,
    /// `REFRESHED` or `NOT_REFRESHED`.
    #[serde(deserialize_with = "de::string")]
    pub user_token_status: Option<String>,
}

/// Account linking: `status` is `linked` (with an authorization code) or `unlinked`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AccountLinking {
    /// `linked` or `unlinked`.
    #[serde(deserialize_with = "de::string")]
    pub status: Option<String>,
    /// The code the bot passed through the linking flow; only when linked.
    #[serde(deserialize_with = "de::string")]
    pub authorization_code: Option<String>,
}

/// A reaction to a message, or its removal.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Reaction {
    /// `smile`, `angry`, `sad`, `wow`, `love`, `like`, `dislike` or `other`.
    #[serde(deserialize_with = "de::string")]
    pub reaction: Option<String>,
    /// The emoji itself (absent on `unreact`).
    #[serde(deserialize_with = "de::string")]
    pub emoji: Option<String>,
    /// `react` or `unreact`.
    #[serde(deserialize_with = "de::string")]
    pub action: Option<String>,
    /// The message reacted to.
    #[serde(deserialize_with = "de::string")]
    pub mid: Option<String>,
}

/// How a user got into the thread: m.me link, ad, chat plugin.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Referral {
    /// The `ref` parameter of the link, ad or plugin.
    #[serde(rename = "ref", deserialize_with = "de::string")]
    pub ref_: Option<String>,
    /// `SHORTLINK`, `ADS`, `CUSTOMER_CHAT_PLUGIN`, ...
    #[serde(deserialize_with = "de::string")]
    pub source: Option<String>,
    /// Usually `OPEN_THREAD`.
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: Option<String>,
    /// The ad, for `ADS` referrals.
    #[serde(deserialize_with = "de::string")]
    pub ad_id: Option<String>,
    /// The page the chat plugin was on.
    #[serde(deserialize_with = "de::string")]
    pub referer_uri: Option<String>,
    /// What the ad showed (title, photo, post), kept as raw JSON.
    pub ads_context_data: Option<Value>,
}

/// A message the user edited.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct MessageEdit {
    /// The message edited.
    #[serde(deserialize_with = "de::string")]
    pub mid: Option<String>,
    /// The new text.
    #[serde(deserialize_with = "de::string")]
    pub text: Option<String>,
    /// How many times the message has been edited.
    #[serde(deserialize_with = "de::int")]
    pub num_edit: Option<i64>,
}

/// The Page was warned, blocked or unblocked for policy violations.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct PolicyEnforcement {
    /// `warning`, `block` or `unblock`.
    #[serde(deserialize_with = "de::string")]
    pub action: Option<String>,
    /// Why, in Meta's words.
    #[serde(deserialize_with = "de::string")]
    pub reason: Option<String>,
}

/// A JSON string or number as an ID: strings as they are, integers digit for digit, floats
/// without an exponent (`3.69239263222822e14` becomes `"369239263222822"`). Anything else is
/// `None`.
pub(crate) fn value_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(if let Some(u) = n.as_u64() {
            u.to_string()
        } else if let Some(i) = n.as_i64() {
            i.to_string()
        } else if let Some(f) = n.as_f64() {
            // Rust's Display for f64 never uses an exponent.
            format!("{f}")
        } else {
            n.to_string()
        }),
        _ => None,
    }
}

/// A JSON integer, integral float or numeric string as an `i64`; anything else (or out of
/// range) is `None`.
pub(crate) fn value_to_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.0e18)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The lenient `deserialize_with` helpers. Each reads whatever JSON is there and never fails on
/// its shape (only a broken deserializer can make them fail).
mod de {
    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    /// A string or number as `String`; `null` and other shapes are `None`.
    pub(super) fn string<'de, D>(d: D) -> Result<Option<String>, D::Error>
    where
        D: Deserializer<'de>,
    {
        Ok(Option::<Value>::deserialize(d)?.and_then(|v| super::value_to_string(&v)))
    }

    /// A string or number as `String`; empty when absent or of another shape.
    pub(super) fn string_or_empty<'de, D>(d: D) -> Result<String, D::Error>
    where
        D: Deserializer<'de>,
    {
        Ok(string(d)?.unwrap_or_default())
    }

    /// An integer (also as a float or numeric string); other shapes are `None`.
    pub(super) fn int<'de, D>(d: D) -> Result<Option<i64>, D::Error>
    where
        D: Deserializer<'de>,
    {
        Ok(Option::<Value>::deserialize(d)?.and_then(|v| super::value_to_i64(&v)))
    }

    /// A number (also as a numeric string); a required field, so other shapes are an error (the
    /// enclosing [`nested`] turns that into `None`).
    pub(super) fn float<'de, D>(d: D) -> Result<f64, D::Error>
    where
        D: Deserializer<'de>,
    {
        let v = Value::deserialize(d)?;
        let f = match &v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        f.filter(|f: &f64| f.is_finite())
            .ok_or_else(|| serde::de::Error::custom("expected a number"))
    }

    /// `true` only for JSON `true`.
    pub(super) fn flag<'de, D>(d: D) -> Result<bool, D::Error>
    where
        D: Deserializer<'de>,
    {
        Ok(matches!(
            Option::<Value>::deserialize(d)?,
            Some(Value::Bool(true))
        ))
    }

    /// A nested object; `None` when it is `null` or not of the expected shape.
    pub(super) fn nested<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned,
    {
        let Some(v) = Option::<Value>::deserialize(d)? else {
            return Ok(None);
        };
        match T::deserialize(v) {
            Ok(t) => Ok(Some(t)),
            Err(e) => {
                log::debug!("ignoring a malformed {}: {e}", std::any::type_name::<T>());
                Ok(None)
            }
        }
    }

    /// An array of objects; elements of another shape are skipped, anything but an array is
    /// empty.
    pub(super) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned,
    {
        let Some(Value::Array(items)) = Option::<Value>::deserialize(d)? else {
            return Ok(Vec::new());
        };
        Ok(items
            .into_iter()
            .filter_map(|v| T::deserialize(v).ok())
            .collect())
    }

    /// An array of strings or numbers; other elements are skipped, anything but an array is
    /// empty.
    pub(super) fn strings<'de, D>(d: D) -> Result<Vec<String>, D::Error>
    where
        D: Deserializer<'de>,
    {
        let Some(Value::Array(items)) = Option::<Value>::deserialize(d)? else {
            return Ok(Vec::new());
        };
        Ok(items.iter().filter_map(super::value_to_string).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Messaging {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn ids_are_accepted_as_numbers_and_kept_as_strings() {
        let m = parse(json!({
            "sender": {"id": 7000000000000001u64},
            "recipient": {"id": "104857600000001"},
            "timestamp": 1700000000123i64,
            "message": {
                "is_echo": true, "app_id": 1517776481860111u64, "mid": "m_1",
                "attachments": [{"type": "image", "payload": {"attachment_id": 42}}]
            }
        }));
        assert_eq!(
            m.sender.as_ref().and_then(Party::key),
            Some("7000000000000001")
        );
        assert_eq!(m.recipient.unwrap().id.as_deref(), Some("104857600000001"));
        let msg = m.message.unwrap();
        assert!(msg.is_echo);
        assert_eq!(msg.app_id.as_deref(), Some("1517776481860111"));
        assert_eq!(
            msg.attachments[0]
                .payload
                .as_ref()
                .unwrap()
                .attachment_id
                .as_deref(),
            Some("42")
        );
    }

    #[test]
    fn huge_sticker_ids_keep_every_digit_even_as_floats() {
        let body = r#"{"message":{"sticker_id":369239263222822,"attachments":[
            {"type":"image","payload":{"sticker_id":3.69239343222814e14}},
            {"type":"sticker","payload":{"sticker_id":369239383222810.0}}]}}"#;
        let m: Messaging = serde_json::from_str(body).unwrap();
        let msg = m.message.unwrap();
        assert_eq!(msg.sticker_id.as_deref(), Some("369239263222822"));
        let ids: Vec<_> = msg
            .attachments
            .iter()
            .map(|a| a.payload.as_ref().unwrap().sticker_id.clone().unwrap())
            .collect();
        assert_eq!(ids, ["369239343222814", "369239383222810"]);
    }

    #[test]
    fn unknown_attachment_types_and_keys_parse() {
        let m = parse(json!({"message": {"mid": "m_r", "attachments": [
            {"type": "ig_reel", "payload": {"reel_video_id": 987654321u64, "url": "https://x"}},
            {"payload": {"url": "https://y"}},
            "not an attachment"
        ]}, "brand_new_key": {"x": 1}}));
        let msg = m.message.unwrap();
        assert_eq!(msg.attachments.len(), 2);
        assert_eq!(msg.attachments[0].kind, "ig_reel");
        assert_eq!(
            msg.attachments[0].payload.as_ref().unwrap().url.as_deref(),
            Some("https://x")
        );
        assert_eq!(msg.attachments[1].kind, "");
    }

    #[test]
    fn empty_object_is_all_default_and_non_objects_fail() {
        assert_eq!(parse(json!({})), Messaging::default());
        assert_eq!(parse(json!({})).event_key(), None);
        assert!(serde_json::from_value::<Messaging>(json!("message")).is_err());
    }

    #[test]
    fn wrong_shapes_become_none_instead_of_failing() {
        let m = parse(json!({
            "sender": "7000000000000001",
            "timestamp": "1700000000123",
            "message": "hello",
            "delivery": {"mids": ["m_1", 2, null], "watermark": 1.7e12},
            "read": {"watermark": true},
            "message_edit": {"mid": "m_1", "num_edit": 2.0},
            "optin": {"token_expiry_timestamp": 18446744073709551615u64},
            "postback": {"payload": {"nested": true}, "title": "Help"},
        }));
        assert_eq!(m.sender, None);
        assert_eq!(m.timestamp, Some(1700000000123));
        assert_eq!(m.message, None);
        let delivery = m.delivery.unwrap();
        assert_eq!(delivery.mids, ["m_1", "2"]);
        assert_eq!(delivery.watermark, Some(1_700_000_000_000));
        assert_eq!(m.read.unwrap().watermark, None);
        assert_eq!(m.message_edit.unwrap().num_edit, Some(2));
        assert_eq!(m.optin.unwrap().token_expiry_timestamp, None);
        let postback = m.postback.unwrap();
        assert_eq!(postback.payload, None);
        assert_eq!(postback.title.as_deref(), Some("Help"));
    }

    #[test]
    fn location_coordinates_and_broken_coordinates() {
        let m = parse(json!({"message": {"attachments": [
            {"type": "location", "title": "Pinned", "url": "https://l",
             "payload": {"coordinates": {"lat": 25.033964, "long": "121.564468"}}},
            {"type": "location", "payload": {"coordinates": {"lat": 25.0}}}
        ]}}));
        let msg = m.message.unwrap();
        let c = msg.attachments[0]
            .payload
            .as_ref()
            .unwrap()
            .coordinates
            .clone();
        assert_eq!(
            c,
            Some(Coordinates {
                lat: 25.033964,
                long: 121.564468
            })
        );
        assert_eq!(msg.attachments[0].title.as_deref(), Some("Pinned"));
        assert_eq!(
            msg.attachments[1].payload.as_ref().unwrap().coordinates,
            None
        );
    }

    #[test]
    fn party_key_prefers_id_then_user_ref() {
        let both = Party {
            id: Some("1".into()),
            user_ref: Some("u".into()),
        };
        let guest = Party {
            id: None,
            user_ref: Some("guest_ref_42".into()),
        };
        assert_eq!(both.key(), Some("1"));
        assert_eq!(guest.key(), Some("guest_ref_42"));
        assert_eq!(Party::default().key(), None);
    }

    #[test]
    fn old_policy_enforcement_key_is_accepted() {
        let m = parse(json!({"policy-enforcement": {"action": "block", "reason": "spam"}}));
        assert_eq!(
            m.policy_enforcement.unwrap().action.as_deref(),
            Some("block")
        );
        let m = parse(json!({"policy-enforcement": {"action": "unblock"}}));
        assert_eq!(m.event_key(), Some("policy_enforcement"));
        // Both spellings at once is a duplicate field: the envelope and classify_value report
        // it rather than pick one.
        let both = json!({"policy_enforcement": {}, "policy-enforcement": {}});
        assert!(serde_json::from_value::<Messaging>(both).is_err());
    }

    #[test]
    fn optin_referral_and_quick_reply_fields() {
        let m = parse(json!({
            "optin": {"ref": "R", "type": "notification_messages", "payload": "P",
                      "notification_messages_token": "T", "token_expiry_timestamp": 1731536000000i64},
            "referral": {"ref": "ad-ref", "ad_id": 6045246247433u64, "source": "ADS",
                         "type": "OPEN_THREAD", "ads_context_data": {"ad_title": "Sale"}},
            "message": {"text": "Red", "quick_reply": {"payload": "COLOR_RED"}, "reply_to": {"mid": "m_0"}}
        }));
        let optin = m.optin.unwrap();
        assert_eq!(optin.ref_.as_deref(), Some("R"));
        assert_eq!(optin.kind.as_deref(), Some("notification_messages"));
        assert_eq!(optin.token_expiry_timestamp, Some(1731536000000));
        let referral = m.referral.unwrap();
        assert_eq!(referral.ad_id.as_deref(), Some("6045246247433"));
        assert_eq!(referral.kind.as_deref(), Some("OPEN_THREAD"));
        assert_eq!(referral.ads_context_data, Some(json!({"ad_title": "Sale"})));
        let msg = m.message.unwrap();
        assert_eq!(msg.quick_reply.unwrap().payload, "COLOR_RED");
        assert_eq!(msg.reply_to, Some(json!({"mid": "m_0"})));
        assert!(!msg.is_echo);
    }

    #[test]
    fn value_conversions() {
        assert_eq!(value_to_string(&json!(-5)), Some("-5".into()));
        assert_eq!(value_to_string(&json!(1.5)), Some("1.5".into()));
        assert_eq!(value_to_string(&json!(true)), None);
        assert_eq!(value_to_i64(&json!(" 12 ")), Some(12));
        assert_eq!(value_to_i64(&json!(1e300)), None);
        assert_eq!(value_to_i64(&json!(null)), None);
    }
}
