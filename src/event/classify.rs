//! Classification: which [`ReceivingType`] one webhook item is.
//!
//! Pure and total: every item gets a type, and anything pagebot does not know is
//! [`ReceivingType::Unknown`], never an error.

use serde::Deserialize;
use serde::de::Unexpected;
use serde_json::Value;

use super::model::{Message, Messaging, Postback};
use super::receiving_type::ReceivingType;

/// What classification needs to know about the bot: the payloads of its thread settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassifyConfig {
    /// The Get Started button's payload; a postback with it is
    /// [`ReceivingType::GetStartedButton`].
    pub get_started_payload: Option<String>,
    /// The payloads of the persistent menu's postback items, item 1 first; a postback with the
    /// payload of item `i` (1 to 5) is [`ReceivingType::PERSISTENT_MENU`]`[i - 1]`. Items after
    /// the fifth are plain postbacks.
    pub persistent_menu_payloads: Vec<String>,
}

/// Classifies one `messaging`/`standby` item.
///
/// A message is, in this order: an echo (whatever it carries), a quick reply, a sticker (legacy
/// `sticker_id`, a `sticker` attachment, or an `image` attachment with a `sticker_id`), the kind
/// of its first attachment (`image`, `audio`, `video`, `file`, `location`, `fallback`; any other
/// type is unknown), text, else unknown. A postback is Get Started, a persistent menu item, or a
/// plain postback. Every other event maps to its own type; an item with no event pagebot knows
/// is [`ReceivingType::Unknown`].
pub fn classify(m: &Messaging, cfg: &ClassifyConfig) -> ReceivingType {
    if let Some(message) = &m.message {
        return classify_message(message);
    }
    if let Some(postback) = &m.postback {
        return classify_postback(postback, cfg);
    }
    if m.optin.is_some() {
        ReceivingType::Authentication
    } else if m.account_linking.is_some() {
        ReceivingType::AccountLinking
    } else if m.delivery.is_some() {
        ReceivingType::Delivered
    } else if m.read.is_some() {
        ReceivingType::Read
    } else if m.reaction.is_some() {
        ReceivingType::Reaction
    } else if m.referral.is_some() {
        ReceivingType::Referral
    } else if m.message_edit.is_some() {
        ReceivingType::MessageEdit
    } else if m.pass_thread_control.is_some()
        || m.take_thread_control.is_some()
        || m.request_thread_control.is_some()
        || m.app_roles.is_some()
    {
        ReceivingType::Handover
    } else if m.policy_enforcement.is_some() {
        ReceivingType::PolicyEnforcement
    } else {
        ReceivingType::Unknown
    }
}

/// Deserializes one raw item and classifies it.
///
/// Fails only when `raw` is not a JSON object (the model is lenient about everything inside).
pub fn classify_value(
    raw: &Value,
    cfg: &ClassifyConfig,
) -> Result<(Messaging, ReceivingType), serde_json::Error> {
    if !raw.is_object() {
        // serde would read an array positionally, as a tuple of fields: refuse it instead.
        return Err(serde::de::Error::invalid_type(
            unexpected(raw),
            &"a webhook item (json object)",
        ));
    }
    let m = Messaging::deserialize(raw)?;
    let t = classify(&m, cfg);
    Ok((m, t))
}

fn unexpected(v: &Value) -> Unexpected<'_> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(_) => Unexpected::Other("number"),
        Value::String(_) => Unexpected::Other("string"),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

fn classify_message(message: &Message) -> ReceivingType {
    if message.is_echo {
        return ReceivingType::Echo;
    }
    if message.quick_reply.is_some() {
        return ReceivingType::QuickReply;
    }
    if is_sticker(message) {
        return ReceivingType::Sticker;
    }
    if let Some(first) = message.attachments.first() {
        return match first.kind.as_str() {
            "image" => ReceivingType::Image,
            "audio" => ReceivingType::Audio,
            "video" => ReceivingType::Video,
            "file" => ReceivingType::File,
            "location" => ReceivingType::Location,
            "fallback" => ReceivingType::Fallback,
            _ => ReceivingType::Unknown,
        };
    }
    if message.text.is_some() {
        return ReceivingType::SimpleText;
    }
    ReceivingType::Unknown
}

fn is_sticker(message: &Message) -> bool {
    message.sticker_id.is_some()
        || message.attachments.iter().any(|a| {
            a.kind == "sticker"
                || (a.kind == "image" && a.payload.as_ref().is_some_and(|p| p.sticker_id.is_some()))
        })
}

fn classify_postback(postback: &Postback, cfg: &ClassifyConfig) -> ReceivingType {
    let Some(payload) = postback.payload.as_deref() else {
        return ReceivingType::Postback;
    };
    if cfg.get_started_payload.as_deref() == Some(payload) {
        return ReceivingType::GetStartedButton;
    }
    cfg.persistent_menu_payloads
        .iter()
        .zip(ReceivingType::PERSISTENT_MENU)
        .find(|(p, _)| p.as_str() == payload)
        .map_or(ReceivingType::Postback, |(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> ClassifyConfig {
        ClassifyConfig {
            get_started_payload: Some("GET_STARTED".into()),
            persistent_menu_payloads: ["M1", "M2", "M3", "M4", "M5", "M6"]
                .map(String::from)
                .to_vec(),
        }
    }

    fn of(item: Value) -> ReceivingType {
        classify_value(&item, &cfg()).unwrap().1
    }

    fn message(message: Value) -> ReceivingType {
        of(json!({"sender": {"id": "U"}, "timestamp": 1, "message": message}))
    }

    #[test]
    fn an_echo_is_an_echo_whatever_it_carries() {
        let img = json!([{"type": "image", "payload": {"url": "https://x"}}]);
        assert_eq!(
            message(json!({"is_echo": true, "attachments": img})),
            ReceivingType::Echo
        );
        assert_eq!(
            message(json!({"is_echo": true, "text": "hi"})),
            ReceivingType::Echo
        );
        assert_eq!(
            message(json!({"is_echo": true, "sticker_id": 369239263222822u64})),
            ReceivingType::Echo
        );
        assert_eq!(
            message(json!({"is_echo": false, "text": "hi"})),
            ReceivingType::SimpleText
        );
    }

    #[test]
    fn a_quick_reply_with_text_is_a_quick_reply() {
        let qr = json!({"text": "Red", "quick_reply": {"payload": "COLOR_RED"}});
        assert_eq!(message(qr), ReceivingType::QuickReply);
    }

    #[test]
    fn every_sticker_form_is_a_sticker() {
        let legacy = json!({"sticker_id": 369239263222822u64, "attachments": [
            {"type": "image", "payload": {"url": "https://s", "sticker_id": 369239263222822u64}}]});
        let in_image = json!({"attachments": [
            {"type": "image", "payload": {"url": "https://s", "sticker_id": "369239263222822"}}]});
        let current =
            json!({"attachments": [{"type": "sticker", "payload": {"url": "https://s"}}]});
        let transition = json!({"attachments": [
            {"type": "image", "payload": {"url": "https://s"}},
            {"type": "sticker", "payload": {"sticker_id": 1}}]});
        for m in [legacy, in_image, current, transition] {
            assert_eq!(message(m), ReceivingType::Sticker);
        }
    }

    #[test]
    fn the_first_attachment_decides() {
        let cases = [
            ("image", ReceivingType::Image),
            ("audio", ReceivingType::Audio),
            ("video", ReceivingType::Video),
            ("file", ReceivingType::File),
            ("location", ReceivingType::Location),
            ("fallback", ReceivingType::Fallback),
            ("reel", ReceivingType::Unknown),
            ("ig_reel", ReceivingType::Unknown),
            ("template", ReceivingType::Unknown),
        ];
        for (kind, expected) in cases {
            let m = json!({"text": "t", "attachments": [
                {"type": kind, "payload": {"url": "https://x"}},
                {"type": "image", "payload": {"url": "https://y"}}]});
            assert_eq!(message(m), expected, "{kind}");
        }
    }

    #[test]
    fn text_and_empty_messages() {
        assert_eq!(
            message(json!({"mid": "m", "text": "hello"})),
            ReceivingType::SimpleText
        );
        assert_eq!(message(json!({"mid": "m"})), ReceivingType::Unknown);
        assert_eq!(
            message(json!({"mid": "m", "attachments": []})),
            ReceivingType::Unknown
        );
    }

    #[test]
    fn postbacks_get_started_and_menu_items_one_to_five() {
        let pb = |payload: &str| of(json!({"postback": {"title": "t", "payload": payload}}));
        assert_eq!(pb("GET_STARTED"), ReceivingType::GetStartedButton);
        for (i, expected) in ReceivingType::PERSISTENT_MENU.into_iter().enumerate() {
            assert_eq!(pb(&format!("M{}", i + 1)), expected);
        }
        assert_eq!(pb("M6"), ReceivingType::Postback);
        assert_eq!(pb("OTHER"), ReceivingType::Postback);
        assert_eq!(
            of(json!({"postback": {"title": "Help"}})),
            ReceivingType::Postback
        );
    }

    #[test]
    fn get_started_wins_over_a_menu_item_with_the_same_payload() {
        let cfg = ClassifyConfig {
            get_started_payload: Some("X".into()),
            persistent_menu_payloads: vec!["X".into()],
        };
        let m = Messaging {
            postback: Some(Postback {
                payload: Some("X".into()),
                ..Postback::default()
            }),
            ..Messaging::default()
        };
        assert_eq!(classify(&m, &cfg), ReceivingType::GetStartedButton);
        assert_eq!(
            classify(&m, &ClassifyConfig::default()),
            ReceivingType::Postback
        );
    }

    #[test]
    fn every_other_event_has_its_type() {
        let cases = [
            (
                json!({"optin": {"ref": "R"}}),
                ReceivingType::Authentication,
            ),
            (
                json!({"account_linking": {"status": "unlinked"}}),
                ReceivingType::AccountLinking,
            ),
            (
                json!({"delivery": {"watermark": 1}}),
                ReceivingType::Delivered,
            ),
            (json!({"read": {"watermark": 1}}), ReceivingType::Read),
            (
                json!({"reaction": {"action": "react"}}),
                ReceivingType::Reaction,
            ),
            (json!({"referral": {"ref": "r"}}), ReceivingType::Referral),
            (
                json!({"message_edit": {"mid": "m"}}),
                ReceivingType::MessageEdit,
            ),
            (json!({"pass_thread_control": {}}), ReceivingType::Handover),
            (json!({"take_thread_control": {}}), ReceivingType::Handover),
            (
                json!({"request_thread_control": {}}),
                ReceivingType::Handover,
            ),
            (
                json!({"app_roles": {"123": ["primary_receiver"]}}),
                ReceivingType::Handover,
            ),
            (
                json!({"policy_enforcement": {"action": "block"}}),
                ReceivingType::PolicyEnforcement,
            ),
            (
                json!({"policy-enforcement": {"action": "warning"}}),
                ReceivingType::PolicyEnforcement,
            ),
            (
                json!({"response_feedback": {"feedback": "Good"}}),
                ReceivingType::Unknown,
            ),
            (json!({"message": "not an object"}), ReceivingType::Unknown),
            (json!({}), ReceivingType::Unknown),
        ];
        for (item, expected) in cases {
            assert_eq!(of(item.clone()), expected, "{item}");
        }
    }

    #[test]
    fn classify_value_refuses_non_objects_only() {
        for raw in [json!(null), json!("x"), json!(1), json!([{"message": {}}])] {
            let err = classify_value(&raw, &cfg()).unwrap_err();
            assert!(err.to_string().contains("expected a webhook item"), "{err}");
        }
        let (m, t) = classify_value(&json!({"read": {"watermark": 4}}), &cfg()).unwrap();
        assert_eq!(t, ReceivingType::Read);
        assert_eq!(m.read.and_then(|r| r.watermark), Some(4));
    }

    #[test]
    fn classification_never_yields_default() {
        let items = [json!({}), json!({"message": {}}), json!({"postback": {}})];
        for item in items {
            assert_ne!(of(item), ReceivingType::Default);
        }
    }
}
