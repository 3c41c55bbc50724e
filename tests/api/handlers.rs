//! The built-in handlers end to end: each fixture of tests/fixtures/webhooks goes through a
//! policy that uses every handler, and what each stores is read back from the database.

use std::path::Path;

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::*;
use pagebot::store::{inbox, now_ms, users};
use pagebot::testing::FakeError;

/// The user of the fixtures.
const USER: &str = "7000000000000001";

/// A policy with every built-in handler on its ReceivingType (the snippet proposed for the
/// demo bot's routing.yaml).
const POLICY: &str = r#"
default:
  - handler: user_profile
routes:
  STICKER:
    - handler: thumb_up
      senders:
        - text: { message: thanks-for-the-thumb, args: { count: "{thumbs_up.count}" } }
  LOCATION:
    - handler: location
      senders:
        - text: { message: got-your-location, args: { lat: "{location.lat}", long: "{location.long}" } }
  QUICK_REPLY:
    - handler: quick_reply
      args: { regex: "^COLOR_(?P<colour>RED|BLUE)$" }
      senders:
        - text: { message: you-picked, args: { colour: "{match.colour}" } }
  POSTBACK:
    - handler: postback
      args: { payload: MORE_INFO }
      stop: true
      senders:
        - text: { message: more-info }
    - handler: postback
      fallback: true
      senders:
        - text: { message: you-tapped, args: { payload: "{payload}" } }
  GET_STARTED_BUTTON:
    - handler: referral
    - handler: postback
      senders:
        - text: { message: welcome, args: { name: "{user.first_name}" } }
  PERSISTENT_MENU_ONE:
    - handler: postback
      senders:
        - text: { message: help-text }
  IMAGE:
    - handler: multimedia
      args: { store: true }
      senders:
        - text: { message: got-media, args: { type: "{media.type}" } }
  AUDIO:
    - handler: multimedia
      args: { store: true }
      senders:
        - text: { message: got-media, args: { type: "{media.type}" } }
  VIDEO:
    - handler: multimedia
      args: { store: true }
      senders:
        - text: { message: got-media, args: { type: "{media.type}" } }
  FILE:
    - handler: multimedia
      args: { store: true }
      senders:
        - text: { message: got-media, args: { type: "{media.type}" } }
  AUTHENTICATION:
    - handler: authentication
  ACCOUNT_LINKING:
    - handler: account_linking
      args: { status: linked }
      senders:
        - text: { message: linked }
    - handler: account_linking
      args: { status: unlinked }
      senders:
        - text: { message: unlinked }
  DELIVERED:
    - handler: delivery
  READ:
    - handler: read
  ECHO:
    - handler: echo
  REACTION:
    - handler: reaction
  REFERRAL:
    - handler: referral
      senders:
        - text: { message: welcome-from, args: { ref: "{referral.ref}" } }
  HANDOVER:
    - handler: handover
thread_settings:
  get_started: { payload: GET_STARTED }
  greeting: greeting-text
  persistent_menu:
    - { type: postback, title: menu-help, payload: HELP }
    - { type: postback, title: menu-site, payload: SITE }
"#;

const TEXTS: &str = r#"
thanks-for-the-thumb = Thanks for the thumb! That makes { $count }.
got-your-location = Got your location: { $lat }, { $long }.
you-picked = You picked { $colour }.
more-info = Here is more.
you-tapped = You tapped { $payload }.
welcome = Welcome, { $name }!
help-text = How can I help?
got-media = Got your { $type }.
linked = Your account is linked.
unlinked = Your account is unlinked.
welcome-from = Welcome from { $ref }.
greeting-text = Hi!
menu-help = Help
menu-site = Website
"#;

/// Writes `policy` and the texts into a folder that must outlive the app.
fn bot_files(policy: &str) -> (tempfile::TempDir, TestBot) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("routing.yaml"), policy).unwrap();
    let locales = dir.path().join("locales");
    std::fs::create_dir_all(locales.join("en-US")).unwrap();
    std::fs::write(locales.join("en-US/bot.ftl"), TEXTS).unwrap();
    let bot = TestBot {
        policy: dir.path().join("routing.yaml"),
        locales,
        ..TestBot::demo()
    };
    (dir, bot)
}

async fn spawn(db: TestDatabase, policy: &str) -> (tempfile::TempDir, TestApp) {
    let (dir, bot) = bot_files(policy);
    let app = TestApp::spawn_bot(db, bot)
        .await
        .unwrap_or_else(|e| panic!("the test bot must start: {e}"));
    app.graph.set_profile(USER, json!({"first_name": "Ann"}));
    (dir, app)
}

/// Posts a fixture (or a body) and waits until the pipeline is done with it.
async fn deliver(app: &TestApp, body: &[u8]) {
    assert_eq!(app.post_webhook(body).await.status(), 200);
    app.wait_until_processed(PATIENCE).await;
}

async fn deliver_fixture(app: &TestApp, name: &str) {
    deliver(app, &fixture(&format!("webhooks/{name}.json"))).await;
}

/// One messaging item from the fixtures' user, at `timestamp`.
fn item(timestamp: i64, event: Value) -> Vec<u8> {
    let mut item =
        json!({"sender": {"id": USER}, "recipient": {"id": PAGE_ID}, "timestamp": timestamp});
    if let (Some(item), Value::Object(event)) = (item.as_object_mut(), event) {
        item.extend(event);
    }
    envelope(vec![item])
}

db_test!(every_fixture_is_handled_and_done, |db| {
    let (_dir, app) = spawn(db, POLICY).await;
    let index: Value = serde_json::from_slice(&fixture("webhooks/index.json")).expect("index.json");
    let expected = index["expected"].as_object().expect("expected");
    let mut kinds_seen = std::collections::BTreeSet::new();
    for (name, kinds) in expected {
        deliver_fixture(&app, name).await;
        for kind in kinds.as_array().unwrap() {
            kinds_seen.insert(kind.as_str().unwrap().to_owned());
        }
    }
    let inbox = app.inbox().await;
    let not_done: Vec<_> = inbox
        .iter()
        .filter(|e| e.status != "done")
        .map(|e| (e.kind.clone(), e.status.clone(), e.last_error.clone()))
        .collect();
    assert!(not_done.is_empty(), "{not_done:#?}");
    let stored: std::collections::BTreeSet<String> =
        inbox.iter().filter_map(|e| e.kind.clone()).collect();
    assert_eq!(stored, kinds_seen);
    // Every kind with a handler stored something.
    assert_eq!(app.store.thumbs_up_count(PAGE_ID, USER).await.unwrap(), 3);
    assert_eq!(app.store.locations(PAGE_ID, USER).await.unwrap().len(), 1);
    assert_eq!(app.store.media(PAGE_ID, USER).await.unwrap().len(), 4);
    assert_eq!(app.store.optins(PAGE_ID, USER).await.unwrap().len(), 2);
    assert_eq!(
        app.store
            .optins(PAGE_ID, "UNIQUE_REF_123")
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        app.store
            .account_link(PAGE_ID, USER)
            .await
            .unwrap()
            .is_some()
    );
    let marks = app.store.watermarks(PAGE_ID, USER).await.unwrap();
    assert!(marks.delivered.is_some() && marks.read.is_some());
    assert_eq!(app.store.echoes(PAGE_ID, USER).await.unwrap().len(), 2);
    assert_eq!(app.store.reactions(PAGE_ID, USER).await.unwrap().len(), 2);
    // Two referral events and the Get Started postback that carried one.
    assert_eq!(app.store.referrals(PAGE_ID, USER).await.unwrap().len(), 3);
    assert_eq!(app.store.handovers(PAGE_ID, USER).await.unwrap().len(), 2);
});

db_test!(thumbs_up_counts_each_message_once_whatever_its_form, |db| {
    let (_dir, app) = spawn(db, POLICY).await;
    for name in ["sticker_legacy", "sticker_current", "sticker_transition"] {
        deliver_fixture(&app, name).await;
    }
    // The legacy field and the current attachment together, in the largest size.
    deliver(
        &app,
        &item(
            1_700_000_000_200,
            json!({"message": {"mid": "m_stk_both", "sticker_id": 369239383222810u64, "attachments": [
                {"type": "sticker", "payload": {"url": "https://s", "sticker_id": 369239383222810u64}}]}}),
        ),
    )
    .await;
    // Another sticker is a sticker, but not a thumbs-up.
    deliver(
        &app,
        &item(
            1_700_000_000_300,
            json!({"message": {"mid": "m_stk_cat", "attachments": [
                {"type": "sticker", "payload": {"url": "https://s", "sticker_id": 144884852352448u64}}]}}),
        ),
    )
    .await;
    assert_eq!(app.store.thumbs_up_count(PAGE_ID, USER).await.unwrap(), 4);
    let user = app
        .store
        .run(|c| users::find(c, PAGE_ID, USER))
        .await
        .unwrap()
        .expect("user stored");
    assert_eq!(user.thumbups, 4);
    assert_eq!(
        app.graph.texts_to(USER),
        (1..=4)
            .map(|n| format!("Thanks for the thumb! That makes {n}."))
            .collect::<Vec<_>>()
    );
    let kinds: Vec<_> = app
        .inbox()
        .await
        .into_iter()
        .map(|e| e.kind.unwrap())
        .collect();
    assert_eq!(kinds, ["STICKER"; 5]);
});

db_test!(a_retried_event_stores_nothing_twice, |db| {
    let (_dir, app) = spawn(db, POLICY).await;
    // Each handler runs, then the reply fails with a passing error: the event is run again.
    for name in ["sticker_transition", "location", "image"] {
        app.graph.fail_next_sends([FakeError::graph(2, None)]);
        deliver_fixture(&app, name).await;
    }
    let inbox = app.inbox().await;
    assert!(
        inbox.iter().all(|e| e.status == "done" && e.attempts == 2),
        "{inbox:#?}"
    );
    assert_eq!(app.store.thumbs_up_count(PAGE_ID, USER).await.unwrap(), 1);
    let user = app
        .store
        .run(|c| users::find(c, PAGE_ID, USER))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.thumbups, 1);
    assert_eq!(app.store.locations(PAGE_ID, USER).await.unwrap().len(), 1);
    assert_eq!(app.store.media(PAGE_ID, USER).await.unwrap().len(), 1);
    assert_eq!(
        app.graph.texts_to(USER),
        [
            "Thanks for the thumb! That makes 1.",
            "Got your location: 25.033964, 121.564468.",
            "Got your image."
        ]
    );
    // Replaying a finished event by hand runs its handlers once more: still nothing twice.
    let ids: Vec<i64> = inbox.iter().map(|e| e.id).collect();
    app.store
        .run(move |c| {
            use diesel::prelude::*;
            use pagebot::store::schema::inbox_events::dsl as e;
            diesel::update(e::inbox_events.filter(e::id.eq_any(ids)))
                .set((e::status.eq("dead"), e::attempts.eq(3)))
                .execute(c)?;
            inbox::replay(c, None, now_ms())
        })
        .await
        .unwrap();
    app.wait_until_processed(PATIENCE).await;
    assert_eq!(app.store.thumbs_up_count(PAGE_ID, USER).await.unwrap(), 1);
    assert_eq!(app.store.locations(PAGE_ID, USER).await.unwrap().len(), 1);
    assert_eq!(app.store.media(PAGE_ID, USER).await.unwrap().len(), 1);
});

db_test!(a_location_is_stored_with_every_field, |db| {
    let (_dir, app) = spawn(db, POLICY).await;
    deliver_fixture(&app, "location").await;
    let stored = app.store.locations(PAGE_ID, USER).await.unwrap();
    assert_eq!(stored.len(), 1);
    let l = &stored[0];
    assert_eq!((l.lat, l.long), (25.033964, 121.564468));
    assert_eq!(l.title.as_deref(), Some("Pinned Location"));
    assert_eq!(l.url.as_deref(), Some("https://l.facebook.com/x"));
    assert_eq!(l.mid.as_deref(), Some("m_loc_1"));
    assert_eq!(l.time, 1_700_000_000_123);
    // Two locations in one message are two rows; a location without coordinates is none.
    deliver(
        &app,
        &item(
            1_700_000_000_500,
            json!({"message": {"mid": "m_loc_2", "attachments": [
                {"type": "location", "payload": {"coordinates": {"lat": 1.5, "long": -2.25}}},
                {"type": "location", "payload": {"title": "nowhere"}},
                {"type": "location", "title": "Home", "payload": {"coordinates": {"lat": 3, "long": 4}}}]}}),
        ),
    )
    .await;
    let stored = app.store.locations(PAGE_ID, USER).await.unwrap();
    let got: Vec<_> = stored
        .iter()
        .map(|l| {
            (
                l.mid.as_deref().unwrap(),
                l.seq,
                l.lat,
                l.long,
                l.title.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("m_loc_1", 0, 25.033964, 121.564468, Some("Pinned Location")),
            ("m_loc_2", 0, 1.5, -2.25, None),
            ("m_loc_2", 2, 3.0, 4.0, Some("Home")),
        ]
    );
});

db_test!(quick_replies_and_postbacks_match_their_payloads, |db| {
    let (_dir, app) = spawn(db, POLICY).await;
    deliver_fixture(&app, "quick_reply").await;
    // A payload the regex does not match: no link handles it, nothing is said.
    deliver(
        &app,
        &item(
            1_700_000_000_200,
            json!({"message": {"mid": "m_qr_2", "text": "Green", "quick_reply": {"payload": "COLOR_GREEN"}}}),
        ),
    )
    .await;
    deliver_fixture(&app, "postback").await;
    deliver(
        &app,
        &item(
            1_700_000_000_300,
            json!({"postback": {"mid": "m_pb_9", "title": "Other", "payload": "SOMETHING_ELSE"}}),
        ),
    )
    .await;
    // Get Started and menu item 1 are routed by the payloads written in thread_settings only.
    deliver_fixture(&app, "postback_get_started").await;
    deliver_fixture(&app, "postback_menu_1").await;
    assert_eq!(
        app.graph.texts_to(USER),
        [
            "You picked RED.",
            "Here is more.",
            "You tapped SOMETHING_ELSE.",
            "Welcome, Ann!",
            "How can I help?"
        ]
    );
    let kinds: Vec<_> = app
        .inbox()
        .await
        .into_iter()
        .map(|e| e.kind.unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "QUICK_REPLY",
            "QUICK_REPLY",
            "POSTBACK",
            "POSTBACK",
            "GET_STARTED_BUTTON",
            "PERSISTENT_MENU_ONE"
        ]
    );
});

db_test!(media_are_stored_with_their_type_and_url, |db| {
    let (_dir, app) = spawn(db, POLICY).await;
    for name in ["image", "audio", "video", "file"] {
        deliver_fixture(&app, name).await;
    }
    let stored = app.store.media(PAGE_ID, USER).await.unwrap();
    let got: Vec<_> = stored
        .iter()
        .map(|m| {
            (
                m.kind.as_str(),
                m.url.as_deref().unwrap(),
                m.mid.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("image", "https://cdn.example.com/a.jpg", "m_img_1"),
            ("audio", "https://cdn.example.com/a.mp4", "m_aud_1"),
            ("video", "https://cdn.example.com/v.mp4", "m_vid_1"),
            ("file", "https://cdn.example.com/f.pdf", "m_file_1"),
        ]
    );
    assert_eq!(
        app.graph.texts_to(USER),
        [
            "Got your image.",
            "Got your audio.",
            "Got your video.",
            "Got your file."
        ]
    );
});

db_test!(media_are_not_stored_unless_asked, |db| {
    let policy = "routes:\n  IMAGE:\n    - handler: multimedia\n      args: { types: [image] }\n      senders:\n        - text: { message: got-media, args: { type: \"{media.type}\" } }\n";
    let (_dir, app) = spawn(db, policy).await;
    deliver_fixture(&app, "image").await;
    assert_eq!(app.graph.texts_to(USER), ["Got your image."]);
    assert!(app.store.media(PAGE_ID, USER).await.unwrap().is_empty());
});

db_test!(optins_are_stored_with_their_tokens_and_expiry, |db| {
    let (_dir, app) = spawn(db, POLICY).await;
    for name in ["optin", "optin_checkbox", "optin_notification_messages"] {
        deliver_fixture(&app, name).await;
    }
    let mine = app.store.optins(PAGE_ID, USER).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0].ref_.as_deref(), Some("PASS_THROUGH_PARAM"));
    let n = &mine[1];
    assert_eq!(n.kind.as_deref(), Some("notification_messages"));
    assert_eq!(n.payload.as_deref(), Some("WEEKLY_DEALS"));
    assert_eq!(n.notification_messages_token.as_deref(), Some("TOKEN_abc"));
    assert_eq!(n.token_expiry_timestamp, Some(1_731_536_000_000));
    assert_eq!(n.user_token_status.as_deref(), Some("NOT_REFRESHED"));
    assert!(
        !format!("{n:?}").contains("TOKEN_abc"),
        "tokens stay out of Debug"
    );
    // The checkbox opt-in has no sender: it is kept under its user_ref.
    let checkbox = app.store.optins(PAGE_ID, "UNIQUE_REF_123").await.unwrap();
    assert_eq!(checkbox.len(), 1);
    assert_eq!(checkbox[0].psid, None);
    // The fixture's token expired in 2024: it may not be used.
    assert!(
        app.store
            .notification_token(PAGE_ID, USER, "WEEKLY_DEALS")
            .await
            .unwrap()
            .is_none()
    );
    let in_a_week = now_ms() + 7 * 24 * 3_600_000;
    deliver(
        &app,
        &item(
            1_700_000_001_000,
            json!({"optin": {"type": "notification_messages", "payload": "WEEKLY_DEALS",
                   "notification_messages_token": "TOKEN_new", "token_expiry_timestamp": in_a_week,
                   "notification_messages_status": "RESUME NOTIFICATIONS"}}),
        ),
    )
    .await;
    let usable = app
        .store
        .notification_token(PAGE_ID, USER, "WEEKLY_DEALS")
        .await
        .unwrap()
        .expect("a fresh token");
    assert_eq!(
        usable.notification_messages_token.as_deref(),
        Some("TOKEN_new")
    );
    assert_eq!(usable.token_expiry_timestamp, Some(in_a_week));
    assert!(
        app.store
            .notification_token(PAGE_ID, USER, "OTHER_TOPIC")
            .await
            .unwrap()
            .is_none()
    );
    // The user stops: the token may no longer be used.
    deliver(
        &app,
        &item(
            1_700_000_002_000,
            json!({"optin": {"type": "notification_messages", "payload": "WEEKLY_DEALS",
                   "notification_messages_token": "TOKEN_new", "token_expiry_timestamp": in_a_week,
                   "notification_messages_status": "STOP NOTIFICATIONS"}}),
        ),
    )
    .await;
    assert!(
        app.store
            .notification_token(PAGE_ID, USER, "WEEKLY_DEALS")
            .await
            .unwrap()
            .is_none()
    );
});

db_test!(account_linking_is_stored_and_answered_by_status, |db| {
    let (_dir, app) = spawn(db, POLICY).await;
    deliver_fixture(&app, "account_linked").await;
    let link = app
        .store
        .account_link(PAGE_ID, USER)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.status, "linked");
    assert_eq!(
        link.authorization_code.as_deref(),
        Some("PASS_THROUGH_AUTHORIZATION_CODE")
    );
    deliver(
        &app,
        &item(
            1_700_000_009_000,
            json!({"account_linking": {"status": "unlinked"}}),
        ),
    )
    .await;
    let link = app
        .store
        .account_link(PAGE_ID, USER)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (link.status.as_str(), link.authorization_code),
        ("unlinked", None)
    );
    assert_eq!(
        app.graph.texts_to(USER),
        ["Your account is linked.", "Your account is unlinked."]
    );
});

db_test!(watermarks_only_ever_rise, |db| {
    let (_dir, app) = spawn(db, POLICY).await;
    deliver_fixture(&app, "delivery").await;
    deliver_fixture(&app, "read").await;
    let marks = app.store.watermarks(PAGE_ID, USER).await.unwrap();
    assert_eq!(marks.delivered, Some(1_700_000_000_100));
    assert_eq!(marks.read, Some(1_700_000_000_100));
    // A late, older read receipt does not lower it; a newer one raises it.
    deliver(
        &app,
        &item(
            1_700_000_000_500,
            json!({"read": {"watermark": 1_600_000_000_000i64}}),
        ),
    )
    .await;
    assert_eq!(
        app.store.watermarks(PAGE_ID, USER).await.unwrap().read,
        Some(1_700_000_000_100)
    );
    deliver(
        &app,
        &item(
            1_700_000_000_600,
            json!({"read": {"watermark": 1_700_000_000_550i64}}),
        ),
    )
    .await;
    let marks = app.store.watermarks(PAGE_ID, USER).await.unwrap();
    assert_eq!(marks.read, Some(1_700_000_000_550));
    assert_eq!(marks.delivered, Some(1_700_000_000_100));
    assert!(app.graph.sent().is_empty());
});

db_test!(echoes_are_stored_and_never_answered_by_default, |db| {
    // A default link that answers everything: echoes must still get no answer.
    let policy = "default:\n  - handler: dummy\n    senders:\n      - text: { message: more-info }\nroutes:\n  ECHO:\n    - handler: echo\n      senders:\n        - text: { message: more-info }\n";
    let (_dir, app) = spawn(db, policy).await;
    deliver_fixture(&app, "echo_text").await;
    deliver_fixture(&app, "echo_image").await;
    assert!(app.graph.sent().is_empty(), "{:#?}", app.graph.sent());
    let echoes = app.store.echoes(PAGE_ID, USER).await.unwrap();
    let got: Vec<_> = echoes
        .iter()
        .map(|e| {
            (
                e.mid.as_deref().unwrap(),
                e.app_id.as_deref().unwrap(),
                e.metadata.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "m_echo_1",
                "1517776481860111",
                Some("DEVELOPER_DEFINED_METADATA")
            ),
            ("m_echo_2", "1517776481860111", None),
        ]
    );
    // The default chain still answers the user's own messages.
    deliver_fixture(&app, "text").await;
    assert_eq!(app.graph.texts_to(USER), ["Here is more."]);
});

db_test!(an_echo_is_answered_only_when_asked_and_to_the_user, |db| {
    let policy = "routes:\n  ECHO:\n    - handler: echo\n      args: { app_ids: [263902037430900], store: false }\n      senders:\n        - text: { message: more-info }\n    - handler: echo\n      args: { answer: true }\n      senders:\n        - text: { message: you-tapped, args: { payload: \"{echo.metadata}\" } }\n";
    let (_dir, app) = spawn(db, policy).await;
    deliver_fixture(&app, "echo_text").await;
    // The first link wants only the Page Inbox's echoes; the second answers the user.
    assert_eq!(
        app.graph.texts_to(USER),
        ["You tapped DEVELOPER_DEFINED_METADATA."]
    );
    assert!(app.graph.sent_to(PAGE_ID).is_empty());
    assert_eq!(app.store.echoes(PAGE_ID, USER).await.unwrap().len(), 1);
});

db_test!(reactions_referrals_and_handovers_are_stored, |db| {
    let (_dir, app) = spawn(db, POLICY).await;
    for name in [
        "reaction",
        "unreaction",
        "referral",
        "referral_ads",
        "postback_referral",
        "pass_thread_control",
        "take_thread_control",
    ] {
        deliver_fixture(&app, name).await;
    }
    let reactions = app.store.reactions(PAGE_ID, USER).await.unwrap();
    let got: Vec<_> = reactions
        .iter()
        .map(|r| {
            (
                r.action.as_deref().unwrap(),
                r.reaction.as_deref().unwrap(),
                r.emoji.as_deref(),
                r.mid.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("react", "love", Some("\u{2764}\u{fe0f}"), "m_out_1"),
            ("unreact", "love", None, "m_out_1"),
        ]
    );
    let referrals = app.store.referrals(PAGE_ID, USER).await.unwrap();
    assert_eq!(referrals.len(), 3);
    assert_eq!(referrals[0].ref_.as_deref(), Some("summer"));
    assert_eq!(referrals[0].source.as_deref(), Some("SHORTLINK"));
    assert_eq!(referrals[0].kind.as_deref(), Some("OPEN_THREAD"));
    assert_eq!(referrals[1].ad_id.as_deref(), Some("6045246247433"));
    let context: Value =
        serde_json::from_str(referrals[1].ads_context_data.as_deref().unwrap()).unwrap();
    assert_eq!(context["ad_title"], "Spring sale");
    // The Get Started postback's referral is stored too.
    assert_eq!(referrals[2].ref_.as_deref(), Some("spring-campaign"));
    let handovers = app.store.handovers(PAGE_ID, USER).await.unwrap();
    let got: Vec<_> = handovers
        .iter()
        .map(|h| {
            (
                h.action.as_str(),
                h.previous_owner_app_id.as_deref(),
                h.new_owner_app_id.as_deref(),
                h.metadata.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "pass_thread_control",
                None,
                Some("123456789"),
                Some("handing over")
            ),
            (
                "take_thread_control",
                Some("123456789"),
                Some("263902037430900"),
                Some("")
            ),
        ]
    );
    assert_eq!(
        app.graph.texts_to(USER),
        [
            "Welcome from summer.",
            "Welcome from ad-ref.",
            "Welcome, Ann!"
        ]
    );
});

/// Every handler refuses what it does not understand, with the file and line of its `args`.
#[tokio::test]
async fn bad_handler_arguments_are_refused_with_file_and_line() {
    let mut policy = String::from("routes:\n  SIMPLE_TEXT:\n");
    let handlers = [
        "thumb_up",
        "location",
        "quick_reply",
        "postback",
        "multimedia",
        "authentication",
        "account_linking",
        "delivery",
        "read",
        "echo",
        "reaction",
        "referral",
        "handover",
    ];
    for handler in handlers {
        policy.push_str(&format!(
            "    - handler: {handler}\n      args: {{ colour: red }}\n"
        ));
    }
    let wrong = [
        (
            "quick_reply",
            "{ payload: A, regex: B }",
            "give either payload or regex, not both",
        ),
        ("postback", "{ regex: \"(GET\" }", "bad regex \"(GET\""),
        (
            "multimedia",
            "{ types: [gif] }",
            "types: unknown value \"gif\"",
        ),
        (
            "account_linking",
            "{ status: maybe }",
            "status: unknown value \"maybe\"",
        ),
        (
            "reaction",
            "{ reactions: [heart] }",
            "reactions: unknown value \"heart\"",
        ),
        (
            "handover",
            "{ actions: [release] }",
            "actions: unknown value \"release\"",
        ),
        (
            "echo",
            "{ app_ids: [inbox] }",
            "app_ids: \"inbox\" is not an app id",
        ),
    ];
    for (handler, args, _) in wrong {
        policy.push_str(&format!("    - handler: {handler}\n      args: {args}\n"));
    }
    let (_dir, bot) = bot_files(&policy);
    let file = bot.policy.display().to_string();
    let err = TestApp::spawn_bot(TestDatabase::sqlite(), bot)
        .await
        .err()
        .expect("a policy with bad arguments must not start")
        .to_string();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), handlers.len() + wrong.len(), "{err}");
    for (i, handler) in handlers.iter().enumerate() {
        let line = 4 + 2 * i;
        let want = format!("{file}:{line}: handler {handler}: unknown field `colour`");
        assert!(lines[i].starts_with(&want), "{} vs {want}", lines[i]);
    }
    for (j, (handler, _, message)) in wrong.iter().enumerate() {
        let line = 4 + 2 * (handlers.len() + j);
        let want = format!("{file}:{line}: handler {handler}: {message}");
        let got = lines[handlers.len() + j];
        assert!(got.starts_with(&want), "{got} vs {want}");
    }
    assert!(Path::new(&file).exists());
}
