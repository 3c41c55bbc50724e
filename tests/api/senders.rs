//! Every built-in sender, end to end: a signed webhook through a test policy gives exactly the
//! documented Send API request at the fake Graph API (which checks it as Graph would), and a
//! policy that breaks a Send API limit is refused at load with its file and line.

use std::path::Path;

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::*;

const POLICY: &str = r#"default:
  - handler: user_profile
    args: { extra_fields: [locale] }
routes:
  SIMPLE_TEXT:
    - handler: simple_text
      args: { regex: "^text$" }
      stop: true
      senders:
        - sender_action: { action: mark_seen }
        - sender_action: { action: typing_on }
        - text: { message: hello, args: { name: "{user.first_name}" } }
        - sender_action: { action: typing_off }
        - text: { message: agent, tag: HUMAN_AGENT }
    - handler: simple_text
      args: { regex: "^colour$" }
      stop: true
      senders:
        - quick_replies:
            message: pick-a-colour
            replies:
              - { title: color-red, payload: COLOR_RED }
              - { title: color-blue, payload: COLOR_BLUE, image_url: "https://example.com/blue.png" }
              - { content_type: user_phone_number }
              - { content_type: user_email }
    - handler: simple_text
      args: { regex: "^media$" }
      stop: true
      senders:
        - image: { url: "https://example.com/thumb.png", is_reusable: true }
        - audio: { url: "https://example.com/hello.mp3" }
        - video: { attachment_id: "1857777774821032" }
        - file: { url: "https://example.com/menu.pdf", messaging_type: UPDATE }
    - handler: simple_text
      args: { regex: "^menu$" }
      stop: true
      senders:
        - buttons:
            message: welcome
            args: { name: "{user.first_name}" }
            buttons:
              - { type: postback, title: menu-help, payload: HELP }
              - { type: web_url, title: menu-site, url: "https://example.com", webview_height_ratio: tall }
              - { type: phone_number, title: menu-call, payload: "+15550100" }
        - buttons:
            message: account
            buttons:
              - { type: account_link, url: "https://example.com/login" }
              - { type: account_unlink }
    - handler: simple_text
      args: { regex: "^shop$" }
      stop: true
      senders:
        - generic:
            elements:
              - title: card-shoes
                subtitle: card-shoes-sub
                image_url: "https://example.com/shoes.png"
                default_action: { url: "https://example.com/shoes" }
                buttons:
                  - { type: postback, title: buy, payload: BUY_SHOES }
              - { title: card-hat }
    - handler: simple_text
      args: { regex: "^order (?P<number>\\d+) (?P<total>\\d+\\.\\d\\d)$" }
      stop: true
      senders:
        - receipt:
            recipient_name: "{user.first_name} {user.last_name}"
            order_number: "{match.number}"
            currency: USD
            payment_method: Visa 2345
            summary: { subtotal: 50, total_cost: "{match.total}" }
            elements:
              - { title: Classic white T-shirt, quantity: 2, price: 25 }
"#;

const EN_US: &str = r#"hello = Hello { $name }!
agent = An agent will answer you here.
pick-a-colour = Pick a colour
color-red = Red
color-blue = Blue
welcome = Welcome, { $name }! What next?
menu-help = Help
menu-site = Website
menu-call = Call us
account = Your account
card-shoes = Running shoes
card-shoes-sub = Light and fast
card-hat = Sun hat
buy = Buy
"#;

const ZH_TW: &str = r#"hello = 你好 { $name }！
pick-a-colour = 選一個顏色
color-red = 紅色
welcome = 歡迎，{ $name }！接下來呢？
menu-help = 說明
card-shoes = 跑鞋
buy = 購買
"#;

/// Writes `policy` and the locales into `dir`; returns the policy's path.
fn write_bot(dir: &Path, policy: &str, en_us: &str, zh_tw: &str) -> TestBot {
    for (tag, text) in [("en-US", en_us), ("zh-TW", zh_tw)] {
        let folder = dir.join("locales").join(tag);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("bot.ftl"), text).unwrap();
    }
    let policy_path = dir.join("routing.yaml");
    std::fs::write(&policy_path, policy).unwrap();
    TestBot {
        policy: policy_path,
        locales: dir.join("locales"),
        ..TestBot::demo()
    }
}

/// Spawns the test bot and sends `text` from `psid` (whose profile says `locale`); returns
/// the `n` requests the fake Graph API accepted.
async fn exchange(db: TestDatabase, psid: &str, locale: &str, text: &str, n: usize) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_bot(db, write_bot(dir.path(), POLICY, EN_US, ZH_TW))
        .await
        .expect("the test policy loads");
    app.graph.set_profile(
        psid,
        json!({"first_name": "Ann", "last_name": "Lee", "locale": locale}),
    );
    let response = app
        .post_webhook(&text_message(psid, "m_1", text, 1_700_000_000_000))
        .await;
    assert_eq!(response.status(), 200);
    let sent = app.graph.wait_for_sent(n, PATIENCE).await;
    app.wait_until_processed(PATIENCE).await;
    assert_eq!(app.inbox().await[0].status, "done");
    assert!(
        app.graph.rejected().is_empty(),
        "{:?}",
        app.graph.rejected()
    );
    sent
}

fn reply(psid: &str, message: Value) -> Value {
    json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": message})
}

fn template(psid: &str, payload: Value) -> Value {
    reply(
        psid,
        json!({"attachment": {"type": "template", "payload": payload}}),
    )
}

db_test!(text_and_sender_actions_in_the_users_locale, |db| {
    let sent = exchange(db, "u_zh", "zh_TW", "text", 5).await;
    assert_eq!(
        sent,
        vec![
            json!({"recipient": {"id": "u_zh"}, "sender_action": "mark_seen"}),
            json!({"recipient": {"id": "u_zh"}, "sender_action": "typing_on"}),
            reply("u_zh", json!({"text": "你好 Ann！"})),
            json!({"recipient": {"id": "u_zh"}, "sender_action": "typing_off"}),
            // Missing in zh-TW: the default locale's text.
            json!({"recipient": {"id": "u_zh"}, "messaging_type": "MESSAGE_TAG",
                   "tag": "HUMAN_AGENT", "message": {"text": "An agent will answer you here."}}),
        ]
    );
});

db_test!(quick_replies_are_sent_with_localized_titles, |db| {
    let sent = exchange(db, "u_qr", "zh_TW", "colour", 1).await;
    assert_eq!(
        sent,
        vec![reply(
            "u_qr",
            json!({
                "text": "選一個顏色",
                "quick_replies": [
                    {"content_type": "text", "title": "紅色", "payload": "COLOR_RED"},
                    {"content_type": "text", "title": "Blue", "payload": "COLOR_BLUE",
                     "image_url": "https://example.com/blue.png"},
                    {"content_type": "user_phone_number"},
                    {"content_type": "user_email"},
                ],
            })
        )]
    );
});

db_test!(media_by_url_and_by_attachment_id, |db| {
    let sent = exchange(db, "u_media", "en_US", "media", 4).await;
    let attachment =
        |kind: &str, payload: Value| json!({"attachment": {"type": kind, "payload": payload}});
    assert_eq!(
        sent,
        vec![
            reply(
                "u_media",
                attachment(
                    "image",
                    json!({"url": "https://example.com/thumb.png", "is_reusable": true})
                )
            ),
            reply(
                "u_media",
                attachment("audio", json!({"url": "https://example.com/hello.mp3"}))
            ),
            reply(
                "u_media",
                attachment("video", json!({"attachment_id": "1857777774821032"}))
            ),
            json!({"recipient": {"id": "u_media"}, "messaging_type": "UPDATE",
                   "message": attachment("file", json!({"url": "https://example.com/menu.pdf"}))}),
        ]
    );
});

db_test!(button_templates_with_every_button_type, |db| {
    let sent = exchange(db, "u_menu", "zh_TW", "menu", 2).await;
    assert_eq!(
        sent,
        vec![
            template(
                "u_menu",
                json!({
                    "template_type": "button",
                    "text": "歡迎，Ann！接下來呢？",
                    "buttons": [
                        {"type": "postback", "title": "說明", "payload": "HELP"},
                        {"type": "web_url", "title": "Website", "url": "https://example.com",
                         "webview_height_ratio": "tall"},
                        {"type": "phone_number", "title": "Call us", "payload": "+15550100"},
                    ],
                })
            ),
            template(
                "u_menu",
                json!({
                    "template_type": "button",
                    "text": "Your account",
                    "buttons": [
                        {"type": "account_link", "url": "https://example.com/login"},
                        {"type": "account_unlink"},
                    ],
                })
            ),
        ]
    );
});

db_test!(a_generic_template_carousel, |db| {
    let sent = exchange(db, "u_shop", "zh_TW", "shop", 1).await;
    assert_eq!(
        sent,
        vec![template(
            "u_shop",
            json!({
                "template_type": "generic",
                "elements": [
                    {
                        "title": "跑鞋",
                        "subtitle": "Light and fast",
                        "image_url": "https://example.com/shoes.png",
                        "default_action": {"type": "web_url", "url": "https://example.com/shoes"},
                        "buttons": [{"type": "postback", "title": "購買", "payload": "BUY_SHOES"}],
                    },
                    {"title": "Sun hat"},
                ],
            })
        )]
    );
});

db_test!(
    a_receipt_filled_in_from_the_users_profile_and_the_regex,
    |db| {
        let sent = exchange(db, "u_order", "en_US", "order 12345678902 56.14", 1).await;
        assert_eq!(
            sent,
            vec![template(
                "u_order",
                json!({
                    "template_type": "receipt",
                    "recipient_name": "Ann Lee",
                    "order_number": "12345678902",
                    "currency": "USD",
                    "payment_method": "Visa 2345",
                    "summary": {"subtotal": 50, "total_cost": 56.14},
                    "elements": [{"title": "Classic white T-shirt", "quantity": 2, "price": 25}],
                })
            )]
        );
    }
);

/// A policy that breaks every limit once, each on its own line, with what `serve` prints.
const BROKEN: &str = r#"routes:
  SIMPLE_TEXT:
    - handler: simple_text
      senders:
        - buttons: { message: welcome, buttons: [{ type: postback, title: ok, payload: A }, { type: postback, title: ok, payload: B }, { type: postback, title: ok, payload: C }, { type: postback, title: ok, payload: D }] }
        - quick_replies: { message: ok, replies: [QR, QR, QR, QR, QR, QR, QR, QR, QR, QR, QR, QR, QR, QR] }
        - generic: { elements: [E, E, E, E, E, E, E, E, E, E, E] }
        - buttons: { message: ok, buttons: [{ type: postback, title: menu-help, payload: HELP }] }
        - quick_replies: { message: ok, replies: [{ title: ok, payload: PAYLOAD }] }
        - text: { message: long-text }
        - receipt: { recipient_name: Ann, currency: USD, payment_method: Visa, summary: { total_cost: 1 } }
        - image: { url: "https://example.com/a.png", caption: hi }
        - generic: { elements: [{ title: long-card }] }
"#;

#[tokio::test]
async fn a_policy_breaking_each_limit_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let policy = BROKEN
        .replace("QR", "{ title: ok, payload: P }")
        .replace("E,", "{ title: ok },")
        .replace("E]", "{ title: ok }]")
        .replace("PAYLOAD", &"p".repeat(1001));
    let en = "welcome = Welcome\nok = OK\nmenu-help = Help\n".to_owned()
        + &format!("long-text = {}\n", "x".repeat(2001))
        + &format!("long-card = {}\n", "y".repeat(81));
    // Fine in English, too long in Chinese: checked after localization, in characters.
    let zh = "menu-help = 說明說明說明說明說明說明說明說明說明說明說明\n";
    let bot = write_bot(dir.path(), &policy, &en, zh);
    let file = bot.policy.display().to_string();
    let err = TestApp::spawn_bot(TestDatabase::sqlite(), bot)
        .await
        .err()
        .expect("a policy over the limits must not start")
        .to_string();
    let expected = [
        (5, "sender buttons: 4 buttons, at most 3"),
        (6, "sender quick_replies: 14 quick replies, at most 13"),
        (7, "sender generic: 11 elements, at most 10"),
        (
            8,
            "sender buttons: button 1 title \"menu-help\" is 22 characters in zh-TW, at most 20",
        ),
        (
            9,
            "sender quick_replies: quick reply 1 payload is 1001 characters, at most 1000",
        ),
        (
            10,
            "sender text: message \"long-text\" is 2001 characters in en-US, at most 2000",
        ),
        (11, "sender receipt: missing field `order_number`"),
        (12, "sender image: unknown field `caption`"),
        (
            13,
            "sender generic: element 1 title \"long-card\" is 81 characters in en-US, at most 80",
        ),
    ];
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{err}");
    for (line, (n, message)) in lines.iter().zip(expected) {
        assert!(
            line.starts_with(&format!("{file}:{n}: {message}")),
            "{line}\n  expected {file}:{n}: {message}"
        );
    }
}

db_test!(
    an_event_without_a_sender_fails_before_any_sender_runs,
    |db| {
        let dir = tempfile::tempdir().unwrap();
        let policy = "\
routes:
  AUTHENTICATION:
    - handler: authentication
      senders:
        - text: { message: hello, args: { name: x } }
";
        let bot = write_bot(dir.path(), policy, EN_US, ZH_TW);
        let app = TestApp::spawn_bot(db, bot).await.unwrap();
        // A checkbox opt-in names its user only by user_ref: there is no PSID to answer.
        let response = app
            .post_webhook(&crate::helpers::fixture("webhooks/optin_checkbox.json"))
            .await;
        assert_eq!(response.status(), 200);
        app.wait_until_processed(PATIENCE).await;
        let inbox = app.inbox().await;
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].status, "failed", "{:?}", inbox[0]);
        let error = inbox[0].last_error.as_deref().unwrap_or_default();
        assert!(
            error.contains("the senders of line 3: the event has no sender to reply to"),
            "{error}"
        );
        assert!(app.graph.sent().is_empty());
    }
);
