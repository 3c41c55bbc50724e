//! The shipped demo bot (routing.yaml, locales/) end to end: every webhook fixture, one per
//! ReceivingType and form, goes in signed; the exact Send API requests that come out at the
//! fake Graph API, and the rows the handlers wrote, are checked. The text flows (menu,
//! quick replies, carousel, receipt, media, languages) are checked the same way, and the demo
//! transcript is replayed through the real binary.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::*;
use pagebot::store::users;
use pagebot::testing::{FAKE_PAGE_TOKEN, FakeGraph, Webhook};

/// The user of the fixtures.
const USER: &str = "7000000000000001";
/// The fixtures' user of batched.json who sends texts.
const BATCH_USER: &str = "7000000000000002";

/// A reply to `psid` (messaging_type RESPONSE).
fn reply(psid: &str, message: Value) -> Value {
    json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": message})
}

fn text(psid: &str, text: &str) -> Value {
    reply(psid, json!({"text": text}))
}

fn typing(psid: &str) -> Value {
    json!({"recipient": {"id": psid}, "sender_action": "typing_on"})
}

fn template(psid: &str, payload: Value) -> Value {
    reply(
        psid,
        json!({"attachment": {"type": "template", "payload": payload}}),
    )
}

fn attachment(psid: &str, kind: &str, payload: Value) -> Value {
    reply(
        psid,
        json!({"attachment": {"type": kind, "payload": payload}}),
    )
}

const HELP: &str = "Try: hi, menu, colours, language, shop, order, order 1001 25.00, picture, media, \
                    account. Or send a thumbs-up, a location or a photo.";

/// What the demo sends for each fixture, per recipient, in order; fixtures in the order they
/// are delivered (the stickers count up).
fn expected_per_fixture() -> Vec<(&'static str, Vec<Value>)> {
    let u = USER;
    vec![
        (
            "text",
            vec![typing(u), text(u, "Hello Ann! Nice to meet you.")],
        ),
        (
            "text_unicode",
            vec![text(u, "Sorry, I did not get that. Say \"hi\" to start.")],
        ),
        (
            "chat_plugin_guest",
            // A website guest has no profile: no first name, the message's [unknown] variant.
            vec![
                typing("guest_ref_42"),
                text("guest_ref_42", "Hello! Nice to meet you."),
            ],
        ),
        (
            "batched",
            // "one", "two", "three" are not understood; the read receipt gets no answer.
            vec![
                text(
                    BATCH_USER,
                    "Sorry, I did not get that. Say \"hi\" to start."
                );
                3
            ],
        ),
        ("quick_reply", vec![text(u, "Red it is, a bold choice!")]),
        ("postback", vec![text(u, "You tapped \"Tell me more\".")]),
        (
            "postback_get_started",
            vec![text(u, "Welcome, Ann! Say \"hi\" whenever you like.")],
        ),
        (
            "postback_referral",
            vec![text(u, "Welcome, Ann! Say \"hi\" whenever you like.")],
        ),
        ("postback_menu_1", vec![text(u, HELP)]),
        (
            "sticker_current",
            vec![text(u, "Thanks for the thumbs-up! That is your first one.")],
        ),
        (
            "sticker_legacy",
            vec![text(u, "Thanks for the thumbs-up! That makes 2.")],
        ),
        (
            "sticker_transition",
            vec![text(u, "Thanks for the thumbs-up! That makes 3.")],
        ),
        (
            "location",
            vec![text(u, "Got your location: 25.033964, 121.564468.")],
        ),
        ("image", vec![text(u, "Thanks for the picture!")]),
        ("audio", vec![text(u, "Thanks for the recording!")]),
        ("video", vec![text(u, "Thanks for the video!")]),
        ("file", vec![text(u, "Thanks for the file!")]),
        ("optin", vec![]),
        ("optin_checkbox", vec![]),
        ("optin_notification_messages", vec![]),
        ("account_linked", vec![text(u, "Your account is linked.")]),
        (
            "account_unlinked",
            vec![text(u, "Your account is unlinked.")],
        ),
        ("delivery", vec![]),
        ("read", vec![]),
        ("echo_text", vec![]),
        ("echo_image", vec![]),
        ("reaction", vec![text(u, "Glad you like it!")]),
        ("unreaction", vec![]),
        (
            "referral",
            vec![text(u, "Welcome! You came from \"summer\".")],
        ),
        (
            "referral_ads",
            vec![text(u, "Welcome! You came from \"ad-ref\".")],
        ),
        ("pass_thread_control", vec![]),
        ("take_thread_control", vec![]),
        (
            "message_edit",
            vec![text(u, "I saw that edit, but I answer only new messages.")],
        ),
        // Another app owns the thread: stored, not answered.
        ("standby", vec![]),
        // No route in the demo.
        ("policy_enforcement", vec![]),
        ("fallback_link", vec![]),
        ("unknown_attachment", vec![]),
        ("unknown_kind", vec![]),
    ]
}

/// The demo bot with the fixtures' users' profiles.
async fn spawn(db: TestDatabase) -> TestApp {
    let app = TestApp::spawn(db).await;
    app.graph
        .set_profile(USER, json!({"first_name": "Ann", "last_name": "Lee"}));
    app
}

/// Posts `body`, waits until the pipeline is done with it and returns what was sent (and
/// accepted) meanwhile; checks that the fake Graph refused nothing.
async fn exchange(app: &TestApp, body: &[u8]) -> Vec<Value> {
    app.graph.clear_sent();
    assert_eq!(app.post_webhook(body).await.status(), 200);
    app.wait_until_processed(PATIENCE).await;
    assert!(
        app.graph.rejected().is_empty(),
        "{:#?}",
        app.graph.rejected()
    );
    app.graph.sent()
}

/// What `psid` says, at a time after the previous turn's.
async fn says(app: &TestApp, psid: &str, at: i64, words: &str) -> Vec<Value> {
    exchange(app, &Webhook::text(psid, words).at(at).body()).await
}

/// The locale the fixtures' user picked in the bot, if any.
async fn chosen(app: &TestApp) -> Option<String> {
    app.store
        .run(|c| users::find(c, PAGE_ID, USER))
        .await
        .unwrap()
        .and_then(|user| user.chosen_locale)
}

/// Groups requests by recipient, each recipient's in order.
fn by_recipient(sent: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut grouped: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for body in sent {
        let to = body["recipient"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        grouped.entry(to).or_default().push(body.clone());
    }
    grouped
}

db_test!(every_fixture_gets_exactly_the_demo_answer, |db| {
    let app = spawn(db).await;
    let index: Value = serde_json::from_slice(&fixture("webhooks/index.json")).expect("index.json");
    let listed: BTreeSet<&str> = index["expected"]
        .as_object()
        .expect("expected")
        .keys()
        .map(String::as_str)
        .collect();
    let cases = expected_per_fixture();
    let covered: BTreeSet<&str> = cases.iter().map(|(name, _)| *name).collect();
    assert_eq!(covered, listed, "every fixture of index.json, once");
    for (name, expected) in &cases {
        let sent = exchange(&app, &fixture(&format!("webhooks/{name}.json"))).await;
        assert_eq!(
            by_recipient(&sent),
            by_recipient(expected),
            "{name}: what the demo sent"
        );
    }
    let inbox = app.inbox().await;
    let not_done: Vec<_> = inbox
        .iter()
        .filter(|e| e.status != "done")
        .map(|e| (e.kind.clone(), e.status.clone(), e.last_error.clone()))
        .collect();
    assert!(not_done.is_empty(), "{not_done:#?}");
    // Every ReceivingType of index.json went through.
    let kinds: BTreeSet<String> = inbox.iter().filter_map(|e| e.kind.clone()).collect();
    let listed_kinds: BTreeSet<String> = index["expected"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|v| v.as_array().unwrap().iter())
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, listed_kinds);

    // What the handlers wrote.
    let store = &app.store;
    assert_eq!(store.thumbs_up_count(PAGE_ID, USER).await.unwrap(), 3);
    let user = store
        .run(|c| users::find(c, PAGE_ID, USER))
        .await
        .unwrap()
        .expect("the user is stored");
    assert_eq!(
        (user.first_name.as_deref(), user.thumbups),
        (Some("Ann"), 3)
    );
    let locations = store.locations(PAGE_ID, USER).await.unwrap();
    assert_eq!(locations.len(), 1);
    assert_eq!(
        (
            locations[0].lat,
            locations[0].long,
            locations[0].mid.as_deref()
        ),
        (25.033964, 121.564468, Some("m_loc_1"))
    );
    let media: Vec<(String, Option<String>)> = store
        .media(PAGE_ID, USER)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.kind, m.url))
        .collect();
    assert_eq!(
        media,
        [
            ("image", "https://cdn.example.com/a.jpg"),
            ("audio", "https://cdn.example.com/a.mp4"),
            ("video", "https://cdn.example.com/v.mp4"),
            ("file", "https://cdn.example.com/f.pdf"),
        ]
        .map(|(k, u)| (k.to_owned(), Some(u.to_owned())))
    );
    let optins = store.optins(PAGE_ID, USER).await.unwrap();
    assert_eq!(optins.len(), 2);
    assert_eq!(optins[0].ref_.as_deref(), Some("PASS_THROUGH_PARAM"));
    assert_eq!(optins[1].payload.as_deref(), Some("WEEKLY_DEALS"));
    assert_eq!(
        store.optins(PAGE_ID, "UNIQUE_REF_123").await.unwrap().len(),
        1
    );
    let link = store
        .account_link(PAGE_ID, USER)
        .await
        .unwrap()
        .expect("a link");
    assert_eq!(
        (link.status.as_str(), link.authorization_code),
        ("unlinked", None)
    );
    let marks = store.watermarks(PAGE_ID, USER).await.unwrap();
    assert_eq!(
        (marks.delivered, marks.read),
        (Some(1_700_000_000_100), Some(1_700_000_000_100))
    );
    assert_eq!(
        store
            .watermarks(PAGE_ID, "7000000000000003")
            .await
            .unwrap()
            .read,
        Some(1_700_000_000_550)
    );
    let echoes: Vec<Option<String>> = store
        .echoes(PAGE_ID, USER)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.mid)
        .collect();
    assert_eq!(
        echoes,
        [Some("m_echo_1".to_owned()), Some("m_echo_2".to_owned())]
    );
    // The love is answered by the first link, its removal stored by the fallback link.
    let reactions: Vec<(Option<String>, Option<String>)> = store
        .reactions(PAGE_ID, USER)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.action, r.reaction))
        .collect();
    assert_eq!(
        reactions,
        [("react", "love"), ("unreact", "love")]
            .map(|(a, r)| (Some(a.to_owned()), Some(r.to_owned())))
    );
    // The Get Started postback's referral, then the two referral events.
    let refs: Vec<Option<String>> = store
        .referrals(PAGE_ID, USER)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.ref_)
        .collect();
    assert_eq!(
        refs,
        ["spring-campaign", "summer", "ad-ref"].map(|r| Some(r.to_owned()))
    );
    let handovers: Vec<String> = store
        .handovers(PAGE_ID, USER)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.action)
        .collect();
    assert_eq!(handovers, ["pass_thread_control", "take_thread_control"]);
});

db_test!(
    the_menu_offers_buttons_and_its_colours_quick_replies,
    |db| {
        let app = spawn(db).await;
        let u = USER;
        let colours = reply(
            u,
            json!({
                "text": "Pick a colour",
                "quick_replies": [
                    {"content_type": "text", "title": "Red", "payload": "COLOR_RED"},
                    {"content_type": "text", "title": "Green", "payload": "COLOR_GREEN"},
                    {"content_type": "text", "title": "Blue", "payload": "COLOR_BLUE"},
                ],
            }),
        );
        assert_eq!(
            says(&app, u, 1_000, "Menu").await,
            [template(
                u,
                json!({
                    "template_type": "button",
                    "text": "What would you like to do?",
                    "buttons": [
                        {"type": "postback", "title": "Colours", "payload": "COLOURS"},
                        {"type": "web_url", "title": "Website", "url": "https://example.com"},
                        {"type": "phone_number", "title": "Call us", "payload": "+15550100"},
                    ],
                })
            )]
        );
        // The Colours button and the typed word give the same quick replies.
        let tapped = exchange(
            &app,
            &Webhook::postback(u, "Colours", "COLOURS").at(2_000).body(),
        )
        .await;
        assert_eq!(tapped, std::slice::from_ref(&colours));
        assert_eq!(says(&app, u, 3_000, "colours").await, [colours]);
        assert_eq!(
            exchange(
                &app,
                &Webhook::quick_reply(u, "Green", "COLOR_GREEN")
                    .at(4_000)
                    .body()
            )
            .await,
            [text(u, "Green it is, fresh!")]
        );
        // A payload no link knows: the quick reply fallback.
        assert_eq!(
            exchange(
                &app,
                &Webhook::quick_reply(u, "Pink", "COLOR_PINK")
                    .at(5_000)
                    .body()
            )
            .await,
            [text(u, "Sorry, I did not get that. Say \"hi\" to start.")]
        );
        assert_eq!(says(&app, u, 6_000, "help").await, [text(u, HELP)]);
    }
);

db_test!(a_language_picked_by_quick_reply_or_menu_is_kept, |db| {
    let app = spawn(db).await;
    let u = USER;
    assert_eq!(
        says(&app, u, 1_000, "language").await,
        [reply(
            u,
            json!({
                "text": "Which language do you prefer?",
                "quick_replies": [
                    {"content_type": "text", "title": "English", "payload": "LOCALE:en-US"},
                    {"content_type": "text", "title": "中文", "payload": "LOCALE:zh-TW"},
                ],
            })
        )]
    );
    // The answer to the pick already speaks the new language.
    assert_eq!(
        exchange(
            &app,
            &Webhook::quick_reply(u, "中文", "LOCALE:zh-TW")
                .at(2_000)
                .body()
        )
        .await,
        [text(u, "從現在起我說中文。")]
    );
    assert_eq!(chosen(&app).await.as_deref(), Some("zh-TW"));
    assert_eq!(
        says(&app, u, 3_000, "hi").await,
        [typing(u), text(u, "Ann，你好！很高興認識你。")]
    );
    // The persistent menu's second item asks with postback buttons, in zh-TW now.
    assert_eq!(
        exchange(
            &app,
            &Webhook::postback(u, "語言", "LANGUAGE").at(4_000).body()
        )
        .await,
        [template(
            u,
            json!({
                "template_type": "button",
                "text": "你想用哪種語言？",
                "buttons": [
                    {"type": "postback", "title": "English", "payload": "LOCALE:en-US"},
                    {"type": "postback", "title": "中文", "payload": "LOCALE:zh-TW"},
                ],
            })
        )]
    );
    assert_eq!(
        exchange(
            &app,
            &Webhook::postback(u, "English", "LOCALE:en-US")
                .at(5_000)
                .body()
        )
        .await,
        [text(u, "From now on I speak English.")]
    );
    assert_eq!(chosen(&app).await.as_deref(), Some("en-US"));
    // A locale the bot does not have: set_locale does not handle it, nothing is said.
    assert!(
        exchange(
            &app,
            &Webhook::quick_reply(u, "Klingon", "LOCALE:tlh")
                .at(6_000)
                .body()
        )
        .await
        .is_empty()
    );
    assert_eq!(chosen(&app).await.as_deref(), Some("en-US"));
    let kinds: Vec<String> = app
        .inbox()
        .await
        .into_iter()
        .filter_map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "SIMPLE_TEXT",
            "QUICK_REPLY",
            "SIMPLE_TEXT",
            "PERSISTENT_MENU_TWO",
            "POSTBACK",
            "QUICK_REPLY"
        ]
    );
});

db_test!(the_shop_carousel_the_cart_and_the_receipt, |db| {
    let app = spawn(db).await;
    let u = USER;
    let shop = template(
        u,
        json!({
            "template_type": "generic",
            "elements": [
                {
                    "title": "pagebot T-shirt",
                    "subtitle": "Soft cotton, one size fits all",
                    "image_url": "https://example.com/shirt.png",
                    "default_action": {"type": "web_url", "url": "https://example.com/shirt"},
                    "buttons": [{"type": "postback", "title": "Buy", "payload": "BUY_SHIRT"}],
                },
                {
                    "title": "pagebot mug",
                    "subtitle": "Holds 350 ml of tea",
                    "image_url": "https://example.com/mug.png",
                    "buttons": [
                        {"type": "postback", "title": "Buy", "payload": "BUY_MUG"},
                        {"type": "web_url", "title": "Details", "url": "https://example.com/mug"},
                    ],
                },
            ],
        }),
    );
    assert_eq!(
        says(&app, u, 1_000, "shop").await,
        std::slice::from_ref(&shop)
    );
    // The ice breaker "What do you sell?" is the SHOP postback.
    assert_eq!(
        exchange(
            &app,
            &Webhook::postback(u, "What do you sell?", "SHOP")
                .at(2_000)
                .body()
        )
        .await,
        [shop]
    );
    assert_eq!(
        exchange(
            &app,
            &Webhook::postback(u, "Buy", "BUY_MUG").at(3_000).body()
        )
        .await,
        [text(
            u,
            "A mug is in your cart. Say \"order 1001 25.00\" to see a receipt."
        )]
    );
    assert_eq!(
        says(&app, u, 4_000, "order 1001 25.00").await,
        [template(
            u,
            json!({
                "template_type": "receipt",
                "recipient_name": "Ann Lee",
                "order_number": "1001",
                "currency": "USD",
                "payment_method": "Visa 2345",
                "summary": {"total_cost": 25},
                "elements": [{"title": "pagebot demo order", "quantity": 1, "price": 25}],
            })
        )]
    );
});

db_test!(pictures_media_and_account_buttons, |db| {
    let app = spawn(db).await;
    let u = USER;
    assert_eq!(
        says(&app, u, 1_000, "picture").await,
        [attachment(
            u,
            "image",
            json!({"url": "https://example.com/pagebot.png", "is_reusable": true})
        )]
    );
    assert_eq!(
        says(&app, u, 2_000, "media").await,
        [
            text(u, "Here are a song, a video and a file."),
            attachment(u, "audio", json!({"url": "https://example.com/hello.mp3"})),
            attachment(u, "video", json!({"url": "https://example.com/hello.mp4"})),
            attachment(u, "file", json!({"url": "https://example.com/menu.pdf"})),
        ]
    );
    assert_eq!(
        says(&app, u, 3_000, "account").await,
        [template(
            u,
            json!({
                "template_type": "button",
                "text": "Link your example.com account?",
                "buttons": [
                    {"type": "account_link", "url": "https://example.com/login"},
                    {"type": "account_unlink"},
                ],
            })
        )]
    );
});

/// The demo transcript, replayed by `pagebot simulate --script` on the shipped bot.
#[test]
fn the_demo_transcript_passes() {
    transcript_passes("transcripts/demo.yaml");
}

/// The order flow's transcript: steps, a failed validation, cancel, Get Started, expiry.
#[test]
fn the_order_flow_transcript_passes() {
    transcript_passes("transcripts/order.yaml");
}

fn transcript_passes(file: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join(file);
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pagebot"))
        .arg("simulate")
        .arg("--policy")
        .arg(root.join("routing.yaml"))
        .arg("--locales")
        .arg(root.join("locales"))
        .arg("--script")
        .arg(&script)
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("the pagebot binary runs");
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(output.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.starts_with(&format!("{}: ok (", script.display())),
        "{out}"
    );
}

/// The demo's thread settings pass every Messenger Profile check: `apply` pushes them and
/// `plan` then finds the Page in sync.
#[tokio::test]
async fn the_demo_thread_settings_apply_and_are_then_in_sync() {
    let graph = FakeGraph::start().await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |args: &'static [&'static str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pagebot"));
        command
            .arg("thread-settings")
            .args(args)
            .env_remove("PAGEBOT_DEFAULT_LOCALE")
            .env_remove("PAGEBOT_GRAPH_VERSION")
            .env_remove("PAGEBOT_APP_SECRET")
            .env("RUST_LOG", "off")
            .env("PAGEBOT_POLICY", root.join("routing.yaml"))
            .env("PAGEBOT_LOCALES", root.join("locales"))
            .env("PAGEBOT_PAGE_TOKEN", FAKE_PAGE_TOKEN)
            .env("PAGEBOT_GRAPH_URL", graph.url())
            .stdin(Stdio::null());
        async move { command.output().await.expect("the pagebot binary runs") }
    };
    let applied = run(&["apply", "--yes"]).await;
    assert_eq!(applied.status.code(), Some(0), "{applied:?}");
    let plan = run(&["plan"]).await;
    assert_eq!(plan.status.code(), Some(0), "{plan:?}");
    let profile = graph.messenger_profile();
    assert_eq!(
        profile["get_started"],
        json!({"payload": "GET_STARTED"}),
        "{profile:#}"
    );
    let menu = &profile["persistent_menu"];
    let zh = menu
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["locale"] == "zh_TW")
        .expect("a zh_TW menu");
    assert_eq!(
        zh["call_to_actions"],
        json!([
            {"type": "postback", "title": "說明", "payload": "HELP"},
            {"type": "postback", "title": "語言", "payload": "LANGUAGE"},
            {"type": "web_url", "title": "網站", "url": "https://example.com"},
        ])
    );
    assert_eq!(
        profile["ice_breakers"][0]["call_to_actions"],
        json!([{"question": "What do you sell?", "payload": "SHOP"}])
    );
}
