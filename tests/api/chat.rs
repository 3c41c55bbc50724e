//! The chat page (`/dev/chat`) over HTTP: served in dev mode only; what the fake user does
//! goes through the webhook, the inbox and the pipeline, and the thread read back holds the
//! demo bot's answers as the page draws them.

use std::time::Duration;

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::*;

const USER: &str = "5550000000000042";

/// Polls the thread's JSON (`query` names the user, and the Page) until `done` holds for it,
/// as the page polls.
async fn thread_until(app: &TestApp, query: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let response = app.get(&format!("/dev/chat/thread.json?{query}")).await;
        assert_eq!(response.status(), 200);
        let thread: Value = response.json().await.unwrap();
        if done(&thread) {
            return thread;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the thread never got there: {thread:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The texts of the bot's bubbles.
fn bot_texts(thread: &Value) -> Vec<String> {
    thread["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["from"] == "bot")
        .filter_map(|b| b["text"].as_str().map(str::to_owned))
        .collect()
}

db_test!(the_page_is_served_in_dev_mode_with_its_assets, |db| {
    let app = TestApp::spawn_dev(db).await;
    let response = app.get("/dev/chat").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    // The demo's thread settings: the Get Started button of an empty thread, and its menu.
    assert!(page.contains("data-payload=\"GET_STARTED\""), "{page}");
    assert!(page.contains("data-payload=\"HELP\""), "{page}");
    let css = page
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert!(css.starts_with("/static/pagebot.css?v="), "{css}");
    let asset = app.get(&css).await;
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(app.get("/static/nothing.css").await.status(), 404);
    // A user the page cannot name is refused with a reason.
    let refused = app.get("/dev/chat?psid=a%20b").await;
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("psid"));
});

db_test!(the_page_does_not_exist_in_production, |db| {
    let app = TestApp::spawn(db).await;
    for path in ["/dev/chat", "/dev/chat/thread.json?psid=1"] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    let sent = app
        .post_json(
            "/dev/chat/send",
            &json!({"psid": "1", "kind": "text", "text": "hi"}),
        )
        .await;
    assert_eq!(sent.status(), 404);
    assert!(app.inbox().await.is_empty());
});

db_test!(
    a_typed_text_goes_through_the_webhook_and_the_reply_comes_back,
    |db| {
        let app = TestApp::spawn_dev(db).await;
        let sent = app
            .post_json(
                "/dev/chat/send",
                &json!({"psid": USER, "kind": "text", "text": "colours"}),
            )
            .await;
        assert_eq!(sent.status(), 202);
        let thread =
            thread_until(&app, &format!("psid={USER}"), |t| !bot_texts(t).is_empty()).await;
        assert_eq!(bot_texts(&thread), ["Pick a colour"]);
        let items = thread["items"].as_array().unwrap();
        assert_eq!(items[0]["from"], "user");
        assert_eq!(items[0]["text"], "colours");
        let chips: Vec<(&str, &str)> = items[1]["quick_replies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["title"].as_str().unwrap(), c["payload"].as_str().unwrap()))
            .collect();
        assert_eq!(
            chips,
            [
                ("Red", "COLOR_RED"),
                ("Green", "COLOR_GREEN"),
                ("Blue", "COLOR_BLUE")
            ]
        );
        // Through the inbox, like Facebook's events: one event of the Page, classified.
        let inbox = app.inbox().await;
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].psid.as_deref(), Some(USER));
        assert_eq!(inbox[0].kind.as_deref(), Some("SIMPLE_TEXT"));
        assert_eq!(
            app.graph.sent_to(USER).last().unwrap()["message"]["text"],
            "Pick a colour"
        );
        // The thread's HTML draws the chips, and answers 304 while it has not changed.
        let html = app.get(&format!("/dev/chat/thread?psid={USER}")).await;
        let etag = html.headers()["etag"].to_str().unwrap().to_owned();
        let html = html.text().await.unwrap();
        assert!(
            html.contains(r#"data-send="quick_reply" data-title="Red" data-payload="COLOR_RED""#),
            "{html}"
        );
        let again = reqwest::Client::new()
            .get(format!("{}/dev/chat/thread?psid={USER}", app.address))
            .header("If-None-Match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304);
    }
);

db_test!(
    a_tapped_chip_sends_its_quick_reply_and_a_button_its_postback,
    |db| {
        let app = TestApp::spawn_dev(db).await;
        let tap =
            json!({"psid": USER, "kind": "quick_reply", "title": "Red", "payload": "COLOR_RED"});
        assert_eq!(app.post_json("/dev/chat/send", &tap).await.status(), 202);
        let thread =
            thread_until(&app, &format!("psid={USER}"), |t| !bot_texts(t).is_empty()).await;
        assert_eq!(bot_texts(&thread), ["Red it is, a bold choice!"]);
        assert_eq!(thread["items"][0]["note"], "quick reply · COLOR_RED");
        let raw: Value = serde_json::from_str(&app.inbox().await[0].raw).unwrap();
        assert_eq!(raw["message"]["quick_reply"]["payload"], "COLOR_RED");
        assert_eq!(app.inbox().await[0].kind.as_deref(), Some("QUICK_REPLY"));

        let shop = json!({"psid": USER, "kind": "postback", "title": "Shop", "payload": "SHOP"});
        assert_eq!(app.post_json("/dev/chat/send", &shop).await.status(), 202);
        let thread = thread_until(&app, &format!("psid={USER}"), |t| {
            t["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b["kind"] == "generic")
        })
        .await;
        let carousel = thread["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["kind"] == "generic")
            .unwrap();
        let titles: Vec<&str> = carousel["cards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles, ["pagebot T-shirt", "pagebot mug"]);
        assert_eq!(app.inbox().await[1].kind.as_deref(), Some("POSTBACK"));
    }
);

db_test!(a_location_and_a_thumbs_up_reach_their_handlers, |db| {
    let app = TestApp::spawn_dev(db).await;
    let at = json!({"psid": USER, "kind": "location", "lat": 25.033, "long": 121.5654});
    assert_eq!(app.post_json("/dev/chat/send", &at).await.status(), 202);
    thread_until(&app, &format!("psid={USER}"), |t| bot_texts(t).len() == 1).await;
    let like = json!({"psid": USER, "kind": "sticker"});
    assert_eq!(app.post_json("/dev/chat/send", &like).await.status(), 202);
    let thread = thread_until(&app, &format!("psid={USER}"), |t| bot_texts(t).len() == 2).await;
    let kinds: Vec<&str> = thread["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["from"] == "user")
        .map(|b| b["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["location", "like"]);
    let kinds: Vec<Option<String>> = app.inbox().await.into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [Some("LOCATION".to_owned()), Some("STICKER".to_owned())]
    );
    assert_eq!(
        bot_texts(&thread),
        [
            "Got your location: 25.033, 121.5654.",
            "Thanks for the thumbs-up! That is your first one."
        ]
    );
});

db_test!(bad_actions_are_refused_with_a_reason, |db| {
    let app = TestApp::spawn_dev(db).await;
    for (body, expected) in [
        (json!({"psid": USER, "kind": "text", "text": "  "}), "empty"),
        (
            json!({"psid": USER, "kind": "location", "lat": 91, "long": 0}),
            "latitude",
        ),
        (
            json!({"psid": "no spaces", "kind": "text", "text": "hi"}),
            "psid",
        ),
        (json!({"psid": USER, "kind": "teleport"}), "not an action"),
        (
            json!({"psid": USER, "kind": "image", "url": "javascript:alert(1)"}),
            "https://",
        ),
        (
            json!({"page": "999", "psid": USER, "kind": "text", "text": "hi"}),
            "no such Page",
        ),
    ] {
        let response = app.post_json("/dev/chat/send", &body).await;
        assert!(
            response.status() == 400 || response.status() == 404,
            "{body}: {}",
            response.status()
        );
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"].as_str().unwrap().contains(expected),
            "{body}: {error}"
        );
    }
    let post = |content_type: &'static str, body: &'static str| {
        reqwest::Client::new()
            .post(format!("{}/dev/chat/send", app.address))
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    assert_eq!(
        post("application/json", "{not json")
            .await
            .unwrap()
            .status(),
        400
    );
    // What another site's page could send to a loopback address without asking: refused.
    let form = post(
        "text/plain",
        r#"{"psid": "1", "kind": "text", "text": "hi"}"#,
    );
    assert_eq!(form.await.unwrap().status(), 415);
    assert!(app.inbox().await.is_empty());
});

db_test!(the_language_picked_is_the_one_the_bot_speaks, |db| {
    let app = TestApp::spawn_dev(db).await;
    let picked = app
        .post_json(
            "/dev/chat/locale",
            &json!({"psid": USER, "locale": "zh-TW"}),
        )
        .await;
    assert_eq!(picked.status(), 200);
    let refused = app
        .post_json(
            "/dev/chat/locale",
            &json!({"psid": USER, "locale": "xx-YY"}),
        )
        .await;
    assert_eq!(refused.status(), 400);
    let sent = json!({"psid": USER, "kind": "text", "text": "colours"});
    assert_eq!(app.post_json("/dev/chat/send", &sent).await.status(), 202);
    let thread = thread_until(&app, &format!("psid={USER}"), |t| !bot_texts(t).is_empty()).await;
    assert_ne!(bot_texts(&thread), ["Pick a colour"], "{thread:#}");
    let page = app
        .get(&format!("/dev/chat?psid={USER}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"<option value="zh-TW" selected>"#),
        "{page}"
    );
});

db_test!(with_many_pages_the_user_talks_to_the_page_picked, |db| {
    let dir = tempfile::tempdir().unwrap();
    let mut pages = Vec::new();
    for (id, name) in [("111", "Shop"), ("222", "News")] {
        let policy = dir.path().join(format!("{id}.yaml"));
        std::fs::write(
            &policy,
            "routes:\n  SIMPLE_TEXT:\n    - handler: simple_text\n      args: { regex: \"^.*$\" }\n      \
             senders:\n        - text: { message: answer, args: { text: \"{match.0}\" } }\n",
        )
        .unwrap();
        let locales = dir.path().join(format!("{id}-locales"));
        std::fs::create_dir_all(locales.join("en-US")).unwrap();
        std::fs::write(
            locales.join("en-US/bot.ftl"),
            format!("answer = {name}: {{ $text }}\n"),
        )
        .unwrap();
        pages.push(pagebot::config::PageSettings {
            id: Some(id.to_owned()),
            name: name.to_owned(),
            token: Some(secrecy::SecretString::from(format!("token-{id}"))),
            policy,
            locales,
            default_locale: "en-US".to_owned(),
            thread_settings: None,
        });
    }
    let app = TestApp::spawn_with(db, TestBot::demo(), |s| {
        s.dev = true;
        s.pages = pages;
    })
    .await
    .unwrap();
    app.graph.add_page_token("token-111");
    app.graph.add_page_token("token-222");
    let page = app.get("/dev/chat?page=222").await.text().await.unwrap();
    assert!(
        page.contains(r#"<option value="222" selected>News</option>"#),
        "{page}"
    );
    let sent = json!({"page": "222", "psid": USER, "kind": "text", "text": "hello"});
    assert_eq!(app.post_json("/dev/chat/send", &sent).await.status(), 202);
    let thread = thread_until(&app, &format!("page=222&psid={USER}"), |t| {
        !bot_texts(t).is_empty()
    })
    .await;
    assert_eq!(bot_texts(&thread), ["News: hello"]);
    assert_eq!(app.inbox().await[0].page_id.as_deref(), Some("222"));
    // The other Page's thread with the same PSID is another person's: empty.
    let shop: Value = app
        .get(&format!("/dev/chat/thread.json?page=111&psid={USER}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shop["items"], json!([]));
});
