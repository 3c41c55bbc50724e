//! [`Webhook`]: webhook bodies as Facebook sends them, for every event kind, signed.
//!
//! Each constructor makes a body with one event (shapes: MESSENGER.md section 4); [`Webhook::and`]
//! batches several into one delivery, the way Facebook batches them (one `entry` per Page, the
//! `messaging` items first, then the `standby` ones). Every message and postback gets a fresh
//! `mid` and every event a fresh, increasing `timestamp`, so two bodies built one after the other
//! are never deduplicated and keep their order.
//!
//! ```
//! use pagebot::testing::{TEST_APP_SECRET, Webhook};
//!
//! let delivery = Webhook::text("psid_ann", "hi")
//!     .and(Webhook::quick_reply("psid_ann", "Red", "COLOR_RED"))
//!     .and(Webhook::read("psid_bob", 1_700_000_000_000));
//! let body = delivery.body();                        // the exact bytes to POST
//! let header = delivery.signature(TEST_APP_SECRET);  // X-Hub-Signature-256
//! assert!(header.starts_with("sha256="));
//! # assert!(!body.is_empty());
//! ```
//!
//! Bodies are written the way Meta writes them: non-ASCII characters escaped as `\u00e4`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use serde_json::{Map, Value, json};

use crate::webhook::signature::sign_sha256;

/// The Page id the builder uses unless told otherwise ([`Webhook::page`]).
pub const TEST_PAGE_ID: &str = "104857600000001";

/// The thumbs-up "Like" sticker (MESSENGER.md section 4).
pub const LIKE_STICKER_ID: u64 = 369_239_263_222_822;

/// One or more webhook events, ready to be serialized and signed.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    events: Vec<Event>,
}

#[derive(Debug, Clone, PartialEq)]
struct Event {
    page_id: String,
    standby: bool,
    /// The `messaging` item, without `recipient` (added from `page_id` when serialized).
    item: Map<String, Value>,
    /// An echo: the Page is the sender and the user the recipient.
    swap_parties: bool,
}

impl Webhook {
    /// An empty delivery; add events with [`Webhook::and`].
    pub fn new() -> Self {
        Self { events: Vec::new() }
    }

    /// A text message: `"message":{"mid":..,"text":TEXT}`; classified `SIMPLE_TEXT`.
    pub fn text(psid: &str, text: &str) -> Self {
        Self::message(psid, json!({ "mid": next_mid(), "text": text }))
    }

    /// A tapped quick reply: its title as the text, and its payload; classified `QUICK_REPLY`.
    pub fn quick_reply(psid: &str, title: &str, payload: &str) -> Self {
        Self::message(
            psid,
            json!({ "mid": next_mid(), "text": title, "quick_reply": { "payload": payload } }),
        )
    }

    /// A tapped button, Get Started or persistent-menu item; classified `POSTBACK`,
    /// `GET_STARTED_BUTTON` or `PERSISTENT_MENU_N` depending on the payload and the policy.
    pub fn postback(psid: &str, title: &str, payload: &str) -> Self {
        Self::with_key(
            psid,
            "postback",
            json!({ "mid": next_mid(), "title": title, "payload": payload }),
        )
    }

    /// A sticker in the current form (a `sticker` attachment); classified `STICKER`.
    pub fn sticker(psid: &str, sticker_id: u64) -> Self {
        Self::message(
            psid,
            json!({ "mid": next_mid(), "attachments": [{
                "type": "sticker",
                "payload": { "url": "https://scontent.example.com/sticker.png", "sticker_id": sticker_id }
            }]}),
        )
    }

    /// The thumbs-up "Like" sticker ([`LIKE_STICKER_ID`]); classified `STICKER`.
    pub fn sticker_like(psid: &str) -> Self {
        Self::sticker(psid, LIKE_STICKER_ID)
    }

    /// A sticker in the older form (`sticker_id` on the message, an `image` attachment).
    pub fn sticker_legacy(psid: &str, sticker_id: u64) -> Self {
        Self::message(
            psid,
            json!({ "mid": next_mid(), "sticker_id": sticker_id, "attachments": [{
                "type": "image",
                "payload": { "url": "https://scontent.example.com/sticker.png", "sticker_id": sticker_id }
            }]}),
        )
    }

    /// A shared location; classified `LOCATION`.
    pub fn location(psid: &str, lat: f64, long: f64) -> Self {
        Self::message(
            psid,
            json!({ "mid": next_mid(), "attachments": [{
                "type": "location",
                "title": "Pinned Location",
                "payload": { "coordinates": { "lat": lat, "long": long } }
            }]}),
        )
    }

    /// A media attachment: `kind` is `image`, `audio`, `video` or `file` (classified as the
    /// matching type), or anything else (classified `FALLBACK` for `fallback`, else `UNKNOWN`).
    pub fn attachment(psid: &str, kind: &str, url: &str) -> Self {
        Self::message(
            psid,
            json!({ "mid": next_mid(), "attachments": [{ "type": kind, "payload": { "url": url } }] }),
        )
    }

    /// An image; classified `IMAGE`.
    pub fn image(psid: &str, url: &str) -> Self {
        Self::attachment(psid, "image", url)
    }

    /// The echo of a text the Page sent to `psid`; classified `ECHO`.
    pub fn echo(psid: &str, text: &str) -> Self {
        let mut webhook = Self::message(
            psid,
            json!({ "is_echo": true, "app_id": 1_517_776_481_860_111u64, "mid": next_mid(), "text": text }),
        );
        // An echo goes from the Page to the user.
        for event in &mut webhook.events {
            event.swap_parties = true;
        }
        webhook
    }

    /// Delivery receipts up to `watermark`; classified `DELIVERED`.
    pub fn delivery(psid: &str, mids: &[&str], watermark: i64) -> Self {
        let mut webhook = Self::with_key(
            psid,
            "delivery",
            json!({ "mids": mids, "watermark": watermark }),
        );
        // Deliveries carry no timestamp.
        for event in &mut webhook.events {
            event.item.remove("timestamp");
        }
        webhook
    }

    /// Everything up to `watermark` was read; classified `READ`.
    pub fn read(psid: &str, watermark: i64) -> Self {
        Self::with_key(psid, "read", json!({ "watermark": watermark }))
    }

    /// A reaction (`love`, `like`, ...) to the Page's message `mid`; classified `REACTION`.
    pub fn reaction(psid: &str, mid: &str, reaction: &str) -> Self {
        Self::with_key(
            psid,
            "reaction",
            json!({ "reaction": reaction, "action": "react", "mid": mid }),
        )
    }

    /// A reaction taken back; classified `REACTION`.
    pub fn unreaction(psid: &str, mid: &str, reaction: &str) -> Self {
        Self::with_key(
            psid,
            "reaction",
            json!({ "reaction": reaction, "action": "unreact", "mid": mid }),
        )
    }

    /// An m.me link or ad referral with `ref`; classified `REFERRAL`.
    pub fn referral(psid: &str, reference: &str) -> Self {
        Self::with_key(
            psid,
            "referral",
            json!({ "ref": reference, "source": "SHORTLINK", "type": "OPEN_THREAD" }),
        )
    }

    /// A "Send to Messenger" opt-in with `ref`; classified `AUTHENTICATION`.
    pub fn optin(psid: &str, reference: &str) -> Self {
        Self::with_key(psid, "optin", json!({ "ref": reference }))
    }

    /// An account linked with `authorization_code`; classified `ACCOUNT_LINKING`.
    pub fn account_linked(psid: &str, authorization_code: &str) -> Self {
        Self::with_key(
            psid,
            "account_linking",
            json!({ "status": "linked", "authorization_code": authorization_code }),
        )
    }

    /// An account unlinked; classified `ACCOUNT_LINKING`.
    pub fn account_unlinked(psid: &str) -> Self {
        Self::with_key(psid, "account_linking", json!({ "status": "unlinked" }))
    }

    /// The user edited their message `mid`; classified `MESSAGE_EDIT`.
    pub fn message_edit(psid: &str, mid: &str, text: &str) -> Self {
        Self::with_key(
            psid,
            "message_edit",
            json!({ "mid": mid, "text": text, "num_edit": 1 }),
        )
    }

    /// Another app passed the thread to the app `new_owner_app_id`; classified `HANDOVER`.
    pub fn pass_thread_control(psid: &str, new_owner_app_id: &str) -> Self {
        Self::with_key(
            psid,
            "pass_thread_control",
            json!({ "previous_owner_app_id": null, "new_owner_app_id": new_owner_app_id, "metadata": "" }),
        )
    }

    /// The Page was warned, blocked or unblocked (`action`); no sender, like on the platform;
    /// classified `POLICY_ENFORCEMENT`.
    pub fn policy_enforcement(action: &str, reason: &str) -> Self {
        let mut webhook = Self::with_key(
            "",
            "policy_enforcement",
            json!({ "action": action, "reason": reason }),
        );
        for event in &mut webhook.events {
            event.item.remove("sender");
        }
        webhook
    }

    /// Any other event: `"KEY": VALUE` in a messaging item from `psid` (classified `UNKNOWN`
    /// when pagebot does not know the key).
    pub fn event(psid: &str, key: &str, value: Value) -> Self {
        Self::with_key(psid, key, value)
    }

    /// A message with exactly this `message` object (add a `mid` yourself if you want one).
    pub fn message(psid: &str, message: Value) -> Self {
        Self::with_key(psid, "message", message)
    }

    fn with_key(psid: &str, key: &str, value: Value) -> Self {
        let mut item = Map::new();
        item.insert("sender".into(), json!({ "id": psid }));
        item.insert("timestamp".into(), json!(next_timestamp()));
        item.insert(key.into(), value);
        Self {
            events: vec![Event {
                page_id: TEST_PAGE_ID.to_owned(),
                standby: false,
                item,
                swap_parties: false,
            }],
        }
    }

    /// Adds the events of `other` after these: one delivery carrying all of them.
    pub fn and(mut self, other: Webhook) -> Self {
        self.events.extend(other.events);
        self
    }

    /// Sends these events to Page `page_id` instead of [`TEST_PAGE_ID`].
    pub fn page(mut self, page_id: &str) -> Self {
        for event in &mut self.events {
            event.page_id = page_id.to_owned();
        }
        self
    }

    /// Delivers these events through `standby` (another app owns the thread).
    pub fn standby(mut self) -> Self {
        for event in &mut self.events {
            event.standby = true;
        }
        self
    }

    /// Sets the `timestamp` (epoch ms) of these events.
    pub fn at(mut self, timestamp: i64) -> Self {
        for event in &mut self.events {
            event.item.insert("timestamp".into(), json!(timestamp));
        }
        self
    }

    /// Sets the `mid` of these events' message or postback (to test deduplication).
    pub fn mid(mut self, mid: &str) -> Self {
        for event in &mut self.events {
            for key in ["message", "postback"] {
                if let Some(Value::Object(inner)) = event.item.get_mut(key) {
                    inner.insert("mid".into(), json!(mid));
                }
            }
        }
        self
    }

    /// The body as a JSON value.
    pub fn to_value(&self) -> Value {
        let mut entries: Vec<(String, Vec<Value>, Vec<Value>)> = Vec::new();
        for event in &self.events {
            let index = match entries.iter().position(|(id, ..)| *id == event.page_id) {
                Some(index) => index,
                None => {
                    entries.push((event.page_id.clone(), Vec::new(), Vec::new()));
                    entries.len() - 1
                }
            };
            let item = Value::Object(event.to_item());
            let (_, messaging, standby) = &mut entries[index];
            if event.standby {
                standby.push(item);
            } else {
                messaging.push(item);
            }
        }
        let entry: Vec<Value> = entries
            .into_iter()
            .map(|(id, messaging, standby)| {
                let mut entry = Map::new();
                entry.insert("id".into(), json!(id));
                entry.insert("time".into(), json!(next_timestamp()));
                if !messaging.is_empty() {
                    entry.insert("messaging".into(), Value::Array(messaging));
                }
                if !standby.is_empty() {
                    entry.insert("standby".into(), Value::Array(standby));
                }
                Value::Object(entry)
            })
            .collect();
        json!({ "object": "page", "entry": entry })
    }

    /// The exact bytes Facebook would POST, non-ASCII escaped as `\uXXXX`.
    pub fn body(&self) -> Vec<u8> {
        ascii_json(&self.to_value()).into_bytes()
    }

    /// The `X-Hub-Signature-256` header value of [`Webhook::body`] under `app_secret`.
    ///
    /// Call [`Webhook::signed`] to get the body and its signature together: `to_value` stamps
    /// each entry with a fresh `time`, so two calls to `body` differ.
    pub fn signature(&self, app_secret: &str) -> String {
        self.signed(app_secret).signature
    }

    /// The body and its `X-Hub-Signature-256` under `app_secret`.
    pub fn signed(&self, app_secret: &str) -> SignedBody {
        let body = self.body();
        let signature = sign_sha256(app_secret.as_bytes(), &body);
        SignedBody { body, signature }
    }

    /// How many events this delivery carries.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether this delivery carries no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

impl Default for Webhook {
    fn default() -> Self {
        Self::new()
    }
}

/// A body and the signature that goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBody {
    /// The bytes to POST.
    pub body: Vec<u8>,
    /// The `X-Hub-Signature-256` header value: `sha256=<hex>`.
    pub signature: String,
}

impl Event {
    fn to_item(&self) -> Map<String, Value> {
        let mut item = self.item.clone();
        let page = json!({ "id": self.page_id });
        if self.swap_parties {
            // An echo: the Page is the sender, the user the recipient.
            let user = item.remove("sender").unwrap_or(Value::Null);
            item.insert("sender".into(), page);
            item.insert("recipient".into(), user);
        } else {
            item.insert("recipient".into(), page);
        }
        item
    }
}

/// Serializes `value` with every non-ASCII character escaped as `\uXXXX` (surrogate pairs
/// beyond the BMP), as Meta does before signing.
fn ascii_json(value: &Value) -> String {
    let plain = value.to_string();
    let mut out = String::with_capacity(plain.len());
    let mut units = [0u16; 2];
    for c in plain.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            // Outside strings serde_json writes only ASCII, so every such char is in a string.
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

static MID_COUNTER: AtomicU64 = AtomicU64::new(0);
static LAST_TIMESTAMP: AtomicI64 = AtomicI64::new(0);

/// A `mid` unique in this process and, thanks to a random part, across processes.
fn next_mid() -> String {
    static RUN: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let run = RUN.get_or_init(rand::random::<u32>);
    let n = MID_COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    format!("m_test_{run:08x}_{n}")
}

/// The current time in epoch ms, but always later than the last one given.
pub(crate) fn next_timestamp() -> i64 {
    let now = crate::store::now_ms();
    let mut last = LAST_TIMESTAMP.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST_TIMESTAMP.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ClassifyConfig, ReceivingType, classify_value, parse_envelope};

    fn kinds(webhook: &Webhook) -> Vec<ReceivingType> {
        let cfg = ClassifyConfig {
            get_started_payload: Some("GET_STARTED".into()),
            persistent_menu_payloads: vec!["HELP".into()],
        };
        parse_envelope(&webhook.body())
            .unwrap()
            .items
            .iter()
            .map(|item| classify_value(&item.raw, &cfg).unwrap().1)
            .collect()
    }

    #[test]
    fn non_ascii_is_escaped_like_meta_does() {
        let body = String::from_utf8(Webhook::text("p", "你好 ä 👍").body()).unwrap();
        assert!(body.is_ascii(), "{body}");
        assert!(
            body.contains(r#""text":"\u4f60\u597d \u00e4 \ud83d\udc4d""#),
            "{body}"
        );
        let parsed = parse_envelope(body.as_bytes()).unwrap();
        assert_eq!(parsed.items[0].raw["message"]["text"], "你好 ä 👍");
    }

    #[test]
    fn the_signature_matches_the_body_it_came_with() {
        let signed = Webhook::text("p", "hi").signed("secret");
        assert_eq!(signed.signature, sign_sha256(b"secret", &signed.body));
        assert!(
            crate::webhook::signature::verify(
                b"secret",
                &signed.body,
                Some(signed.signature.as_bytes()),
                None,
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn mids_and_timestamps_are_fresh_and_increasing() {
        let batch = Webhook::text("p", "a").and(Webhook::text("p", "b"));
        let items = parse_envelope(&batch.body()).unwrap().items;
        assert_ne!(items[0].dedupe_key, items[1].dedupe_key);
        assert!(items[0].timestamp < items[1].timestamp);
    }

    #[test]
    fn a_batch_groups_by_page_and_puts_standby_after_messaging() {
        let batch = Webhook::text("a", "one")
            .and(Webhook::postback("a", "Help", "HELP").standby())
            .and(Webhook::read("b", 5).page("2"))
            .and(Webhook::text("c", "two"));
        let value = batch.to_value();
        let entries = value["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["id"], TEST_PAGE_ID);
        assert_eq!(entries[0]["messaging"].as_array().unwrap().len(), 2);
        assert_eq!(entries[0]["standby"].as_array().unwrap().len(), 1);
        assert_eq!(entries[1]["id"], "2");
        assert_eq!(entries[1]["messaging"][0]["recipient"]["id"], "2");
        let items = parse_envelope(&batch.body()).unwrap().items;
        let standby: Vec<bool> = items.iter().map(|i| i.standby).collect();
        assert_eq!(standby, [false, false, true, false]);
        assert_eq!(
            kinds(&batch),
            [
                ReceivingType::SimpleText,
                ReceivingType::SimpleText,
                ReceivingType::PersistentMenuOne,
                ReceivingType::Read
            ]
        );
    }

    #[test]
    fn an_echo_goes_from_the_page_to_the_user() {
        let value = Webhook::echo("u", "hello").to_value();
        let item = &value["entry"][0]["messaging"][0];
        assert_eq!(item["sender"]["id"], TEST_PAGE_ID);
        assert_eq!(item["recipient"]["id"], "u");
        assert_eq!(kinds(&Webhook::echo("u", "x")), [ReceivingType::Echo]);
    }

    #[test]
    fn at_and_mid_override_the_generated_values() {
        let value = Webhook::text("u", "x").at(42).mid("m_fixed").to_value();
        let item = &value["entry"][0]["messaging"][0];
        assert_eq!(item["timestamp"], 42);
        assert_eq!(item["message"]["mid"], "m_fixed");
    }
}
