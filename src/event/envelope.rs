//! Splitting one webhook body into its items, each with a deduplication key.
//!
//! A body is `{"object":"page","entry":[{"id":..,"messaging":[..],"standby":[..]},..]}`. Every
//! item of every entry becomes one [`Item`], in document order: entries in order, and within an
//! entry the `messaging` items, then the `standby` items. Only the shape of the body is checked
//! here; what an item means is [`classify`](super::classify)'s business, and an item pagebot
//! does not understand is still an item.

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::model::{Messaging, Party, value_to_string};

/// The longest deduplication key [`parse_envelope`] produces, in bytes; longer keys are hashed,
/// and so are keys that would hold U+0000 (NUL), which a Postgres text column cannot.
pub const MAX_DEDUPE_KEY_LEN: usize = 255;

/// The longest Page id or sender id (PSID or `user_ref`) the inbox stores, in bytes: far
/// longer than any Messenger id (a PSID has 16 or 17 digits), and short enough for an index
/// entry (Postgres refuses one over about 2.7 kB, which an incompressible id of a few kB is).
/// [`Item::overlong_id`] names an id over it.
pub const MAX_ID_LEN: usize = 1024;

/// One webhook body, split into items.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The `object` field: `page` for Messenger. For any other object (`instagram`, ...) the
    /// entries are not looked at and `items` is empty.
    pub object: String,
    /// Every `messaging` and `standby` item, in document order.
    pub items: Vec<Item>,
}

/// One `messaging` or `standby` item of a webhook body.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The `id` of the entry the item came in: the Page.
    pub page_id: Option<String>,
    /// `true` when the item came through `standby` (another app owns the thread).
    pub standby: bool,
    /// The item exactly as parsed (always a JSON object).
    pub raw: Value,
    /// What identifies this event across retried deliveries (at most
    /// [`MAX_DEDUPE_KEY_LEN`] bytes, never a NUL). A standby copy of a message has the same key
    /// as the message.
    pub dedupe_key: String,
    /// The sender's PSID, or its `user_ref` for chat-plugin guests; `None` when there is no
    /// sender (checkbox opt-ins, `app_roles`, `policy_enforcement`).
    pub sender: Option<String>,
    /// The item's `timestamp` (epoch ms), when it has one.
    pub timestamp: Option<i64>,
    /// The item read as a Messenger event; `None` when its fields do not have the types
    /// Messenger gives them.
    pub messaging: Option<Messaging>,
}

impl Item {
    /// The name of the first of the item's ids that holds U+0000 (NUL), if one does: the Page
    /// id, the sender and recipient, and the message, postback, reaction and edit fields its
    /// dedupe key is made of. No Messenger id holds one, and a Postgres text column cannot store
    /// it, so the inbox keeps such an item as malformed (its key is hashed already).
    pub fn id_with_nul(&self) -> Option<&'static str> {
        let m = self.messaging.as_ref();
        let message = m.and_then(|m| m.message.as_ref());
        let reaction = m.and_then(|m| m.reaction.as_ref());
        let ids: [(&'static str, Option<&str>); 9] = [
            ("the page id", self.page_id.as_deref()),
            ("sender", self.sender.as_deref()),
            (
                "recipient",
                m.and_then(|m| m.recipient.as_ref()).and_then(Party::key),
            ),
            ("message.mid", message.and_then(|x| x.mid.as_deref())),
            (
                "postback.mid",
                m.and_then(|m| m.postback.as_ref())
                    .and_then(|x| x.mid.as_deref()),
            ),
            ("reaction.mid", reaction.and_then(|r| r.mid.as_deref())),
            (
                "reaction.action",
                reaction.and_then(|r| r.action.as_deref()),
            ),
            (
                "reaction.reaction",
                reaction.and_then(|r| r.reaction.as_deref()),
            ),
            (
                "message_edit.mid",
                m.and_then(|m| m.message_edit.as_ref())
                    .and_then(|x| x.mid.as_deref()),
            ),
        ];
        ids.into_iter()
            .find(|(_, id)| id.is_some_and(|id| id.contains('\0')))
            .map(|(name, _)| name)
    }

    /// The name and length of the first of the Page id and the sender that is longer than
    /// [`MAX_ID_LEN`] bytes, if one is: the inbox keeps such an item as malformed. (The other
    /// ids only reach the dedupe key, which is hashed when long.)
    pub fn overlong_id(&self) -> Option<(&'static str, usize)> {
        [("the page id", &self.page_id), ("sender", &self.sender)]
            .into_iter()
            .filter_map(|(name, id)| Some((name, id.as_ref()?.len())))
            .find(|(_, len)| *len > MAX_ID_LEN)
    }
}

/// Why a webhook body could not be split into items.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedBody {
    /// The body is not JSON; carries the parser's message (never the body).
    #[error("body is not json: {0}")]
    NotJson(String),
    /// The body is JSON but not an object.
    #[error("body is not a json object")]
    NotAnObject,
    /// The body has no `object` field, or it is not a string.
    #[error("body has no string \"object\" field")]
    MissingObject,
    /// A `page` body has no `entry` field, or it is not an array.
    #[error("\"entry\" is missing or not an array")]
    EntryNotArray,
    /// An element of `entry` is not an object.
    #[error("entry[{index}] is not an object")]
    EntryNotObject {
        /// The position of the entry, from 0.
        index: usize,
    },
    /// An entry's `messaging` or `standby` is present but not an array.
    #[error("entry[{entry}].{field} is not an array")]
    ItemsNotArray {
        /// The position of the entry, from 0.
        entry: usize,
        /// `messaging` or `standby`.
        field: &'static str,
    },
    /// An element of `messaging` or `standby` is not an object.
    #[error("entry[{entry}].{field}[{index}] is not an object")]
    ItemNotObject {
        /// The position of the entry, from 0.
        entry: usize,
        /// `messaging` or `standby`.
        field: &'static str,
        /// The position of the item in that array, from 0.
        index: usize,
    },
}

/// Splits a webhook body into its items, in document order: entries in order, and within an
/// entry the `messaging` items, then the `standby` items.
///
/// Checks the shape only: a `messaging` item that pagebot does not understand is returned like
/// any other. A body whose `object` is not `page` is returned with no items.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, MalformedBody> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| MalformedBody::NotJson(e.to_string()))?;
    let Value::Object(mut root) = value else {
        return Err(MalformedBody::NotAnObject);
    };
    let Some(Value::String(object)) = root.remove("object") else {
        return Err(MalformedBody::MissingObject);
    };
    if object != "page" {
        return Ok(Envelope {
            object,
            items: Vec::new(),
        });
    }
    let Some(Value::Array(entries)) = root.remove("entry") else {
        return Err(MalformedBody::EntryNotArray);
    };

    let mut items = Vec::new();
    for (entry_index, entry) in entries.into_iter().enumerate() {
        let Value::Object(mut entry) = entry else {
            return Err(MalformedBody::EntryNotObject { index: entry_index });
        };
        let page_id = entry.get("id").and_then(value_to_string);
        for (field, standby) in [("messaging", false), ("standby", true)] {
            let list = match entry.remove(field) {
                None | Some(Value::Null) => continue,
                Some(Value::Array(list)) => list,
                Some(_) => {
                    return Err(MalformedBody::ItemsNotArray {
                        entry: entry_index,
                        field,
                    });
                }
            };
            for (index, raw) in list.into_iter().enumerate() {
                let Value::Object(object) = &raw else {
                    return Err(MalformedBody::ItemNotObject {
                        entry: entry_index,
                        field,
                        index,
                    });
                };
                let understood = Messaging::deserialize(&raw)
                    .map_err(|e| {
                        log::debug!(
                            "webhook item {entry_index}/{field}/{index} not understood: {e}"
                        );
                    })
                    .ok();
                let not_understood = Messaging::default();
                let messaging = understood.as_ref().unwrap_or(&not_understood);
                let dedupe_key = dedupe_key(messaging, object, &raw);
                items.push(Item {
                    page_id: page_id.clone(),
                    standby,
                    sender: messaging
                        .sender
                        .as_ref()
                        .and_then(Party::key)
                        .map(str::to_owned),
                    timestamp: messaging.timestamp,
                    dedupe_key,
                    raw,
                    messaging: understood,
                });
            }
        }
    }
    Ok(Envelope { object, items })
}

/// The deduplication key of one item (MESSENGER.md section 3): the message or postback `mid`
/// when there is one, the reaction or edit itself, else (kind, sender, recipient, timestamp or
/// watermark), else a hash of the whole item.
fn dedupe_key(m: &Messaging, object: &Map<String, Value>, raw: &Value) -> String {
    let Some(kind) = m.event_key() else {
        return hashed(&unknown_kind(object), raw.to_string().as_bytes());
    };
    let sender = m.sender.as_ref().and_then(Party::key).unwrap_or("");
    let recipient = m.recipient.as_ref().and_then(Party::key).unwrap_or("");

    if let Some(mid) = m.message.as_ref().and_then(|x| x.mid.as_deref()) {
        return bounded("mid", format!("mid:{mid}"));
    }
    if let Some(mid) = m.postback.as_ref().and_then(|x| x.mid.as_deref()) {
        return bounded("postback", format!("postback:{mid}"));
    }
    if let (Some(r), Some(timestamp)) = (&m.reaction, m.timestamp) {
        let mid = r.mid.as_deref().unwrap_or("");
        let action = r.action.as_deref().unwrap_or("");
        let reaction = r.reaction.as_deref().unwrap_or("");
        return bounded(
            "reaction",
            format!("reaction:{mid}:{action}:{reaction}:{sender}:{timestamp}"),
        );
    }
    if let Some(edit) = &m.message_edit
        && let Some(mid) = &edit.mid
    {
        let num_edit = edit.num_edit.map(|n| n.to_string()).unwrap_or_default();
        return bounded("edit", format!("edit:{mid}:{num_edit}"));
    }
    let time = m
        .timestamp
        .or_else(|| m.delivery.as_ref().and_then(|d| d.watermark))
        .or_else(|| m.read.as_ref().and_then(|r| r.watermark));
    match time {
        // The content's hash tells apart two different events of one kind, user and
        // millisecond (an optin and a notification-messages optin, say); a re-delivery
        // repeats the item byte for byte and so keeps its key.
        Some(time) => {
            let content = short_hash(raw.to_string().as_bytes());
            bounded(
                kind,
                format!("{kind}:{sender}:{recipient}:{time}:{content}"),
            )
        }
        None => hashed(kind, raw.to_string().as_bytes()),
    }
}

/// The name of an event pagebot does not know: the item's first key other than `sender`,
/// `recipient` and `timestamp` when it is a short identifier, else `unknown`.
fn unknown_kind(object: &Map<String, Value>) -> String {
    object
        .keys()
        .find(|k| !matches!(k.as_str(), "sender" | "recipient" | "timestamp"))
        .filter(|k| {
            !k.is_empty()
                && k.len() <= 64
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
        .cloned()
        .unwrap_or_else(|| "unknown".to_owned())
}

/// `key` itself when it is short enough and holds no NUL, else `{prefix}:sha256:{hash of key}`:
/// the same item still gets the same key, and any database can store it.
fn bounded(prefix: &str, key: String) -> String {
    if key.len() <= MAX_DEDUPE_KEY_LEN && !key.contains('\0') {
        key
    } else {
        hashed(prefix, key.as_bytes())
    }
}

/// `{prefix}:sha256:{lowercase hex of sha256(bytes)}`.
/// The first 16 hex digits of the SHA-256 of `bytes`.
fn short_hash(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

fn hashed(prefix: &str, bytes: &[u8]) -> String {
    format!("{prefix}:sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(items: Value) -> Vec<u8> {
        json!({"object": "page", "entry": [{"id": "P", "time": 1, "messaging": items}]})
            .to_string()
            .into_bytes()
    }

    fn keys(body: &[u8]) -> Vec<String> {
        parse_envelope(body)
            .unwrap()
            .items
            .into_iter()
            .map(|i| i.dedupe_key)
            .collect()
    }

    fn key_of(item: Value) -> String {
        let mut keys = keys(&body(json!([item])));
        assert_eq!(keys.len(), 1);
        keys.remove(0)
    }

    #[test]
    fn items_come_in_document_order_with_page_sender_and_timestamp() {
        let body = json!({"object": "page", "entry": [
            {"id": 104857600000001u64, "messaging": [
                {"sender": {"id": "U1"}, "timestamp": 1, "message": {"mid": "m_1"}}],
             "standby": [
                {"sender": {"user_ref": "G"}, "timestamp": 2, "message": {"mid": "m_2"}}]},
            {"id": "P2", "standby": [{"read": {"watermark": 5}}], "messaging": null}
        ]});
        let env = parse_envelope(body.to_string().as_bytes()).unwrap();
        assert_eq!(env.object, "page");
        let got: Vec<_> = env
            .items
            .iter()
            .map(|i| {
                (
                    i.page_id.as_deref(),
                    i.standby,
                    i.sender.as_deref(),
                    i.timestamp,
                    // Drop the content hash of keys that have one.
                    i.dedupe_key
                        .rsplit_once(':')
                        .filter(|_| i.dedupe_key.starts_with("read"))
                        .map_or(i.dedupe_key.as_str(), |(k, _)| k),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    Some("104857600000001"),
                    false,
                    Some("U1"),
                    Some(1),
                    "mid:m_1"
                ),
                (Some("104857600000001"), true, Some("G"), Some(2), "mid:m_2"),
                (Some("P2"), true, None, None, "read:::5"),
            ]
        );
        assert_eq!(env.items[2].raw, json!({"read": {"watermark": 5}}));
    }

    #[test]
    fn other_objects_are_returned_without_items() {
        let env = parse_envelope(br#"{"object":"instagram","entry":"whatever"}"#).unwrap();
        assert_eq!(env.object, "instagram");
        assert!(env.items.is_empty());
    }

    #[test]
    fn every_malformed_body_is_refused() {
        use MalformedBody::*;
        let cases: [(&[u8], MalformedBody); 9] = [
            (
                b"",
                NotJson("EOF while parsing a value at line 1 column 0".into()),
            ),
            (b"[1]", NotAnObject),
            (b"{}", MissingObject),
            (br#"{"object":1,"entry":[]}"#, MissingObject),
            (br#"{"object":"page"}"#, EntryNotArray),
            (br#"{"object":"page","entry":{}}"#, EntryNotArray),
            (
                br#"{"object":"page","entry":[{},3]}"#,
                EntryNotObject { index: 1 },
            ),
            (
                br#"{"object":"page","entry":[{"messaging":[],"standby":{}}]}"#,
                ItemsNotArray {
                    entry: 0,
                    field: "standby",
                },
            ),
            (
                br#"{"object":"page","entry":[{"messaging":[{},"x"]}]}"#,
                ItemNotObject {
                    entry: 0,
                    field: "messaging",
                    index: 1,
                },
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(parse_envelope(body), Err(expected));
        }
    }

    #[test]
    fn error_messages_are_lowercase_and_never_quote_the_body() {
        let err =
            parse_envelope(br#"{"object":"page","entry":[{"messaging":[{"secret_token_xyz"]}]}"#)
                .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("body is not json: "), "{msg}");
        assert!(!msg.contains("secret_token_xyz"), "{msg}");
        let msg = MalformedBody::ItemNotObject {
            entry: 2,
            field: "standby",
            index: 0,
        }
        .to_string();
        assert_eq!(msg, "entry[2].standby[0] is not an object");
        assert!(!msg.ends_with('.'));
    }

    #[test]
    fn empty_entries_and_missing_arrays_give_no_items() {
        let env =
            parse_envelope(br#"{"object":"page","entry":[{"id":"P"},{"messaging":[]}]}"#).unwrap();
        assert!(env.items.is_empty());
    }

    #[test]
    fn the_same_event_twice_has_the_same_key() {
        let read = json!({"sender": {"id": "U"}, "recipient": {"id": "P"},
                          "timestamp": 10, "read": {"watermark": 9}});
        let keys = keys(&body(json!([read, read])));
        assert_eq!(keys[0], keys[1]);
        assert!(keys[0].starts_with("read:U:P:10:"), "{}", keys[0]);
    }

    #[test]
    fn two_different_reads_have_different_keys() {
        let a = key_of(json!({"sender": {"id": "U"}, "recipient": {"id": "P"},
                              "timestamp": 10, "read": {"watermark": 9}}));
        let b = key_of(json!({"sender": {"id": "U"}, "recipient": {"id": "P"},
                              "timestamp": 11, "read": {"watermark": 10}}));
        assert_ne!(a, b);
    }

    #[test]
    fn a_standby_copy_of_a_message_has_the_messaging_key() {
        let msg = json!({"sender": {"id": "U"}, "recipient": {"id": "P"}, "timestamp": 3,
                         "message": {"mid": "m_sb", "text": "hi"}});
        let body = json!({"object": "page", "entry": [
            {"id": "P", "messaging": [msg.clone()]},
            {"id": "P", "standby": [msg]}]});
        let env = parse_envelope(body.to_string().as_bytes()).unwrap();
        assert_eq!(env.items.len(), 2);
        assert!(env.items[1].standby);
        assert_eq!(env.items[0].dedupe_key, "mid:m_sb");
        assert_eq!(env.items[0].dedupe_key, env.items[1].dedupe_key);
    }

    #[test]
    fn keys_per_kind() {
        let with = |event: Value| {
            let mut item = json!({"sender": {"id": "U"}, "recipient": {"id": "P"}, "timestamp": 7});
            if let (Value::Object(item), Value::Object(event)) = (&mut item, event) {
                item.extend(event);
            }
            key_of(item)
        };
        assert_eq!(
            with(json!({"message": {"mid": "m_e", "is_echo": true}})),
            "mid:m_e"
        );
        assert_eq!(
            with(json!({"postback": {"mid": "m_p", "payload": "X"}})),
            "postback:m_p"
        );
        assert!(with(json!({"postback": {"title": "Help"}})).starts_with("postback:U:P:7:"));
        assert_eq!(
            with(json!({"reaction": {"mid": "m_1", "action": "react", "reaction": "love"}})),
            "reaction:m_1:react:love:U:7"
        );
        assert_eq!(
            with(json!({"message_edit": {"mid": "m_1", "num_edit": 2}})),
            "edit:m_1:2"
        );
        assert!(with(json!({"optin": {"ref": "R"}})).starts_with("optin:U:P:7:"));
        assert_ne!(
            with(json!({"optin": {"ref": "R"}})),
            with(json!({"optin": {"ref": "S"}}))
        );
        assert!(
            with(json!({"pass_thread_control": {"new_owner_app_id": 1}}))
                .starts_with("pass_thread_control:U:P:7:")
        );
        assert!(
            with(json!({"policy-enforcement": {"action": "block"}}))
                .starts_with("policy_enforcement:U:P:7:")
        );
    }

    #[test]
    fn delivery_without_timestamp_uses_the_watermark() {
        let key = key_of(json!({"sender": {"id": "U"}, "recipient": {"id": "P"},
                                "delivery": {"mids": ["m_1"], "watermark": 99}}));
        assert!(key.starts_with("delivery:U:P:99:"), "{key}");
    }

    #[test]
    fn reactions_differ_by_action() {
        let react = key_of(json!({"sender": {"id": "U"}, "timestamp": 7,
                                  "reaction": {"mid": "m_1", "action": "react", "reaction": "love"}}));
        let unreact = key_of(json!({"sender": {"id": "U"}, "timestamp": 7,
                                    "reaction": {"mid": "m_1", "action": "unreact", "reaction": "love"}}));
        assert_ne!(react, unreact);
    }

    #[test]
    fn unknown_or_timeless_events_are_hashed() {
        let item = json!({"sender": {"id": "U"}, "timestamp": 7, "response_feedback": {"x": 1}});
        let key = key_of(item.clone());
        let expected = format!(
            "response_feedback:sha256:{}",
            hex::encode(Sha256::digest(serde_json::to_string(&item).unwrap()))
        );
        assert_eq!(key, expected);
        assert_eq!(key, key_of(item));

        let read = key_of(json!({"sender": {"id": "U"}, "read": {}}));
        assert!(read.starts_with("read:sha256:"), "{read}");
        let odd = key_of(json!({"sender": {"id": "U"}, "a key: with spaces": 1}));
        assert!(odd.starts_with("unknown:sha256:"), "{odd}");
        let empty = key_of(json!({}));
        assert!(empty.starts_with("unknown:sha256:"), "{empty}");
    }

    #[test]
    fn long_keys_are_hashed_to_at_most_255_bytes() {
        let mid = "m".repeat(300);
        let key = key_of(json!({"message": {"mid": mid}}));
        assert!(key.len() <= MAX_DEDUPE_KEY_LEN);
        assert_eq!(
            key,
            format!(
                "mid:sha256:{}",
                hex::encode(Sha256::digest(format!("mid:{mid}")))
            )
        );
        let sender = "u".repeat(300);
        let key = key_of(json!({"sender": {"id": sender}, "timestamp": 1, "read": {}}));
        assert!(key.starts_with("read:sha256:") && key.len() <= MAX_DEDUPE_KEY_LEN);
    }

    #[test]
    fn keys_that_would_hold_a_nul_are_hashed_and_the_id_is_named() {
        let mid = json!({"sender": {"id": "U"}, "timestamp": 1, "message": {"mid": "m\u{0}x"}});
        let env = parse_envelope(&body(json!([mid.clone(), mid]))).unwrap();
        let key = &env.items[0].dedupe_key;
        assert_eq!(
            *key,
            format!("mid:sha256:{}", hex::encode(Sha256::digest("mid:m\u{0}x")))
        );
        // A redelivery, or a standby copy, keeps the key.
        assert_eq!(*key, env.items[1].dedupe_key);
        assert_eq!(env.items[0].id_with_nul(), Some("message.mid"));

        let read = json!({"sender": {"id": "U\u{0}"}, "timestamp": 1, "read": {"watermark": 1}});
        let items = parse_envelope(&body(json!([read]))).unwrap().items;
        assert!(items[0].dedupe_key.starts_with("read:sha256:"));
        assert_eq!(items[0].id_with_nul(), Some("sender"));

        let page = br#"{"object":"page","entry":[{"id":"P\u0000","messaging":[{"message":{"mid":"m"}}]}]}"#;
        let items = parse_envelope(page).unwrap().items;
        assert_eq!(items[0].dedupe_key, "mid:m");
        assert_eq!(items[0].id_with_nul(), Some("the page id"));

        let reaction = json!({"sender": {"id": "U"}, "timestamp": 1,
                              "reaction": {"mid": "m", "action": "react", "reaction": "\u{0}"}});
        let items = parse_envelope(&body(json!([reaction]))).unwrap().items;
        assert!(items[0].dedupe_key.starts_with("reaction:sha256:"));
        assert_eq!(items[0].id_with_nul(), Some("reaction.reaction"));

        // An id that no index entry holds.
        let long = json!({"sender": {"id": "7".repeat(MAX_ID_LEN + 1)}, "message": {"mid": "m"}});
        let items = parse_envelope(&body(json!([long]))).unwrap().items;
        assert_eq!(items[0].id_with_nul(), None);
        assert_eq!(items[0].overlong_id(), Some(("sender", MAX_ID_LEN + 1)));
        let longest = json!({"sender": {"id": "7".repeat(MAX_ID_LEN)}, "message": {"mid": "m"}});
        let items = parse_envelope(&body(json!([longest]))).unwrap().items;
        assert_eq!(items[0].overlong_id(), None);

        // A NUL in the text is no id's business.
        let text = json!({"sender": {"id": "U"}, "message": {"mid": "m", "text": "\u{0}"}});
        let items = parse_envelope(&body(json!([text]))).unwrap().items;
        assert_eq!(items[0].id_with_nul(), None);
    }

    #[test]
    fn hostile_items_never_panic() {
        let bodies: [&[u8]; 5] = [
            br#"{"object":"page","entry":[{"messaging":[{"message":{"mid":"m","policy_enforcement":1},"policy_enforcement":{},"policy-enforcement":{}}]}]}"#,
            br#"{"object":"page","entry":[{"messaging":[{"timestamp":1e308,"sender":{"id":[1]},"read":{"watermark":-1}}]}]}"#,
            br#"{"object":"page","entry":[{"messaging":[{"message":{"attachments":{"type":"image"}}}]}]}"#,
            br#"{"object":"page","entry":[{"messaging":[{"reaction":{}}]}]}"#,
            br#"{"object":"page","entry":[{"messaging":[{"message_edit":{"num_edit":"x"}}]}]}"#,
        ];
        for body in bodies {
            let env = parse_envelope(body).unwrap();
            assert_eq!(env.items.len(), 1);
            assert!(!env.items[0].dedupe_key.is_empty());
        }
    }
}
