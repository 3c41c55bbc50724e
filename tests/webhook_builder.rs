//! `pagebot::testing::Webhook` builds every event kind the way the captured fixtures are: each
//! built body classifies as `tests/fixtures/webhooks/index.json` expects of the fixture it
//! stands for, and carries the same event keys.

use std::collections::BTreeSet;
use std::path::Path;

use pagebot::event::{ClassifyConfig, ReceivingType, classify_value, parse_envelope};
use pagebot::testing::{TEST_APP_SECRET, Webhook};
use pagebot::webhook::signature::verify;
use serde_json::{Value, json};

fn fixtures() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/webhooks"
    ))
}

fn index() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("index.json")).unwrap()).unwrap()
}

fn config(index: &Value) -> ClassifyConfig {
    ClassifyConfig {
        get_started_payload: index["get_started_payload"].as_str().map(str::to_owned),
        persistent_menu_payloads: index["persistent_menu_payloads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect(),
    }
}

fn items(body: &[u8]) -> Vec<Value> {
    parse_envelope(body)
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.raw)
        .collect()
}

/// The keys of an item and of its event object, ignoring mids and times.
fn shape(item: &Value) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for (key, value) in item.as_object().unwrap() {
        keys.insert(key.clone());
        if let Some(inner) = value.as_object() {
            for inner_key in inner.keys() {
                keys.insert(format!("{key}.{inner_key}"));
            }
        }
    }
    keys
}

/// Each builder, and the fixture it must look like.
fn pairs() -> Vec<(&'static str, Webhook)> {
    let psid = "1254459154682919";
    vec![
        ("text", Webhook::text(psid, "hello, world!")),
        ("text_unicode", Webhook::text(psid, "你好 äöå 👍")),
        (
            "quick_reply",
            Webhook::quick_reply(psid, "Red", "COLOR_RED"),
        ),
        (
            "postback",
            Webhook::postback(psid, "Tell me more", "MORE_INFO"),
        ),
        (
            "postback_get_started",
            Webhook::postback(psid, "Get Started", "GET_STARTED"),
        ),
        ("postback_menu_1", Webhook::postback(psid, "Help", "HELP")),
        ("sticker_current", Webhook::sticker_like(psid)),
        (
            "sticker_legacy",
            Webhook::sticker_legacy(psid, 369_239_263_222_822),
        ),
        ("location", Webhook::location(psid, 25.033964, 121.564468)),
        (
            "image",
            Webhook::image(psid, "https://cdn.example.com/a.jpg"),
        ),
        (
            "audio",
            Webhook::attachment(psid, "audio", "https://cdn.example.com/a.mp4"),
        ),
        (
            "video",
            Webhook::attachment(psid, "video", "https://cdn.example.com/v.mp4"),
        ),
        (
            "file",
            Webhook::attachment(psid, "file", "https://cdn.example.com/f.pdf"),
        ),
        (
            "unknown_attachment",
            Webhook::attachment(psid, "ig_reel", "https://cdn.example.com/r.mp4"),
        ),
        ("echo_text", Webhook::echo(psid, "hello")),
        (
            "delivery",
            Webhook::delivery(psid, &["m_out_1"], 1_700_000_000_100),
        ),
        ("read", Webhook::read(psid, 1_700_000_000_100)),
        ("reaction", Webhook::reaction(psid, "m_out_1", "love")),
        ("unreaction", Webhook::unreaction(psid, "m_out_1", "love")),
        ("referral", Webhook::referral(psid, "summer")),
        ("optin", Webhook::optin(psid, "PASS_THROUGH_PARAM")),
        (
            "account_linked",
            Webhook::account_linked(psid, "PASS_THROUGH_AUTHORIZATION_CODE"),
        ),
        ("account_unlinked", Webhook::account_unlinked(psid)),
        (
            "message_edit",
            Webhook::message_edit(psid, "m_text_1", "hello, world (edited)"),
        ),
        (
            "pass_thread_control",
            Webhook::pass_thread_control(psid, "123456789"),
        ),
        (
            "policy_enforcement",
            Webhook::policy_enforcement("block", "The bot violated our Platform Policies."),
        ),
        (
            "unknown_kind",
            Webhook::event(
                psid,
                "response_feedback",
                json!({"feedback": "Good response", "mid": "m_out_1"}),
            ),
        ),
    ]
}

#[test]
fn every_builder_classifies_like_its_fixture_and_has_its_shape() {
    let index = index();
    let cfg = config(&index);
    for (name, webhook) in pairs() {
        let want: Vec<ReceivingType> = index["expected"][name]
            .as_array()
            .unwrap_or_else(|| panic!("{name} is not in index.json"))
            .iter()
            .map(|t| t.as_str().unwrap().parse().unwrap())
            .collect();
        let built = items(&webhook.body());
        let got: Vec<ReceivingType> = built
            .iter()
            .map(|item| classify_value(item, &cfg).unwrap().1)
            .collect();
        assert_eq!(got, want, "{name}");

        let fixture = items(&std::fs::read(fixtures().join(format!("{name}.json"))).unwrap());
        let (mut built_shape, mut fixture_shape) = (shape(&built[0]), shape(&fixture[0]));
        // Optional details the fixtures carry that the builder leaves out (or adds).
        for optional in [
            "timestamp",
            "message.sticker_id",
            "message.app_id",
            "message.metadata",
            "reaction.emoji",
            "delivery.mids",
        ] {
            built_shape.remove(optional);
            fixture_shape.remove(optional);
        }
        if name != "sticker_legacy" && name != "echo_text" {
            assert_eq!(built_shape, fixture_shape, "{name}: {:#}", built[0]);
        }
    }
}

#[test]
fn a_batch_classifies_like_the_batched_fixture_and_standby_like_the_standby_one() {
    let index = index();
    let cfg = config(&index);
    let batch = Webhook::text("a", "one")
        .and(Webhook::text("b", "two"))
        .and(Webhook::read("a", 1))
        .and(Webhook::text("b", "three"));
    let got: Vec<String> = items(&batch.body())
        .iter()
        .map(|i| classify_value(i, &cfg).unwrap().1.to_string())
        .collect();
    assert_eq!(
        got,
        index["expected"]["batched"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    );

    let standby = Webhook::text("a", "talking to a human")
        .and(Webhook::postback("a", "Help", "MORE").standby())
        .standby();
    let envelope = parse_envelope(&standby.body()).unwrap();
    assert!(envelope.items.iter().all(|i| i.standby));
    let kinds: Vec<String> = envelope
        .items
        .iter()
        .map(|i| classify_value(&i.raw, &cfg).unwrap().1.to_string())
        .collect();
    assert_eq!(kinds, ["SIMPLE_TEXT", "POSTBACK"]);
}

#[test]
fn signed_bodies_verify_with_the_test_secret_only() {
    let signed = Webhook::sticker_like("u").signed(TEST_APP_SECRET);
    let header = signed.signature.as_bytes();
    assert!(
        verify(
            TEST_APP_SECRET.as_bytes(),
            &signed.body,
            Some(header),
            None,
            false
        )
        .is_ok()
    );
    assert!(verify(b"another secret", &signed.body, Some(header), None, false).is_err());
}
