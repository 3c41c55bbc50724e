//! Many Pages on one deployment, over HTTP on both databases: each Page answers with its own
//! policy, texts and token; the same PSID on two Pages is two people; an event of a Page not
//! served is a dead letter until the Page is added; one Page's rate limit or rejected token
//! pauses only that Page; a reload refused for one Page leaves the others reloaded.

use std::path::{Path, PathBuf};

use pagebot::config::{PageSettings, Settings};
use pagebot::testing::{FakeError, Webhook};
use secrecy::SecretString;

use crate::db_test;
use crate::helpers::*;

const SHOP: &str = "111";
const NEWS: &str = "222";
const SHOP_TOKEN: &str = "token-of-the-shop";
const NEWS_TOKEN: &str = "token-of-the-news";

/// A Page's files: a policy answering every text with `{prefix}: <text>` in its own locales.
fn page_files(dir: &Path, name: &str, greeting: &str) -> (PathBuf, PathBuf) {
    let policy = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &policy,
        "routes:\n  SIMPLE_TEXT:\n    - handler: simple_text\n      args: { regex: \"^.*$\" }\n      \
         senders:\n        - text: { message: answer, args: { text: \"{match.0}\" } }\n",
    )
    .unwrap();
    let locales = dir.join(format!("{name}-locales"));
    std::fs::create_dir_all(locales.join("en-US")).unwrap();
    std::fs::write(
        locales.join("en-US/bot.ftl"),
        format!("answer = {greeting}: {{ $text }}\n"),
    )
    .unwrap();
    (policy, locales)
}

fn page(id: &str, name: &str, token: &str, files: (PathBuf, PathBuf)) -> PageSettings {
    PageSettings {
        id: Some(id.to_owned()),
        name: name.to_owned(),
        token: Some(SecretString::from(token)),
        policy: files.0,
        locales: files.1,
        default_locale: "en-US".to_owned(),
        thread_settings: None,
    }
}

/// The two Pages' settings, their files in `dir`.
fn two_pages(dir: &Path) -> Vec<PageSettings> {
    vec![
        page(SHOP, "Shop", SHOP_TOKEN, page_files(dir, "shop", "shop")),
        page(NEWS, "News", NEWS_TOKEN, page_files(dir, "news", "news")),
    ]
}

/// The Shop Page (its files in `dir`), then `news`.
fn shop_and(dir: &Path, news: PageSettings) -> Vec<PageSettings> {
    let shop = page(SHOP, "Shop", SHOP_TOKEN, page_files(dir, "shop", "shop"));
    vec![shop, news]
}

/// Serves `pages` on `db`, the fake Graph accepting both Pages' tokens (and no other: the
/// test kit's own token is not any Page's).
async fn spawn(db: TestDatabase, pages: Vec<PageSettings>) -> TestApp {
    let configure = |settings: &mut Settings| settings.pages = pages;
    let app = TestApp::spawn_with(db, TestBot::demo(), configure)
        .await
        .unwrap_or_else(|e| panic!("two Pages must start: {e}"));
    app.graph.add_page_token(SHOP_TOKEN);
    app.graph.add_page_token(NEWS_TOKEN);
    app
}

/// Runs the `pagebot` binary on the database at `url` (outside the repository, so that no
/// `pagebot.toml` is read); returns its standard output, or panics with its error.
fn pagebot_bin(args: &[&str], url: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pagebot"))
        .args(args)
        .env("RUST_LOG", "off")
        .env("DATABASE_URL", url)
        .current_dir(dir.path())
        .output()
        .expect("the pagebot binary runs");
    assert!(
        output.status.success(),
        "pagebot {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn texts(bodies: &[serde_json::Value], psid: &str) -> Vec<String> {
    bodies
        .iter()
        .filter(|b| b.pointer("/recipient/id").and_then(|v| v.as_str()) == Some(psid))
        .filter_map(|b| b.pointer("/message/text").and_then(|v| v.as_str()))
        .map(str::to_owned)
        .collect()
}

db_test!(each_page_answers_with_its_policy_texts_and_token, |db| {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn(db, two_pages(dir.path())).await;
    // The same PSID writes to both Pages: on each it is a different person.
    let both = Webhook::text("u1", "hello")
        .page(SHOP)
        .and(Webhook::text("u1", "bonjour").page(NEWS));
    assert_eq!(app.post(&both).await.status(), 200);
    app.wait_until_processed(PATIENCE).await;
    assert_eq!(
        texts(&app.graph.sent_with_token(SHOP_TOKEN), "u1"),
        ["shop: hello"]
    );
    assert_eq!(
        texts(&app.graph.sent_with_token(NEWS_TOKEN), "u1"),
        ["news: bonjour"]
    );
    assert!(
        app.graph.rejected().is_empty(),
        "{:?}",
        app.graph.rejected()
    );
    let inbox = app.inbox().await;
    assert!(inbox.iter().all(|e| e.status == "done"), "{inbox:#?}");
    // The metrics count each Page's events under its id.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for id in [SHOP, NEWS] {
        let line =
            format!("pagebot_events_processed_total{{page=\"{id}\",kind=\"SIMPLE_TEXT\"}} 1");
        assert!(metrics.contains(&line), "{line} not in {metrics}");
    }
});

db_test!(
    an_unconfigured_pages_event_is_a_dead_letter_until_the_page_is_added,
    |db| {
        let dir = tempfile::tempdir().unwrap();
        let app = spawn(db, two_pages(dir.path())).await;
        let stranger = Webhook::text("u9", "anyone there?").page("333");
        assert_eq!(app.post(&stranger).await.status(), 200);
        app.wait_until_processed(PATIENCE).await;
        let inbox = app.inbox().await;
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].status, "dead");
        assert_eq!(
            inbox[0].last_error.as_deref(),
            Some("page 333 is not configured")
        );
        // Dead at once: not retried, nothing sent with any token.
        assert_eq!(inbox[0].attempts, 1);
        assert_eq!(app.graph.send_attempts(), 0);
        // `pagebot inbox dead` shows it.
        let url = app.database_url().to_owned();
        let shown = tokio::task::spawn_blocking({
            let url = url.clone();
            move || pagebot_bin(&["inbox", "dead"], &url)
        })
        .await
        .unwrap();
        assert!(shown.contains("page 333 is not configured"), "{shown}");

        // The Page is added (a restart with it configured), and the dead letter replayed.
        let db = app.stop_keeping_database().await;
        let mut pages = two_pages(dir.path());
        pages.push(page(
            "333",
            "Stranger",
            SHOP_TOKEN,
            page_files(dir.path(), "stranger", "stranger"),
        ));
        let app = spawn(db, pages).await;
        let replayed =
            tokio::task::spawn_blocking(move || pagebot_bin(&["inbox", "replay", "--all"], &url))
                .await
                .unwrap();
        assert!(replayed.contains('1'), "{replayed}");
        app.wait_until_processed(PATIENCE).await;
        assert_eq!(app.graph.texts_to("u9"), ["stranger: anyone there?"]);
        assert_eq!(app.inbox().await[0].status, "done");
    }
);

db_test!(a_rate_limited_page_waits_while_the_other_answers, |db| {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn(db, two_pages(dir.path())).await;
    // Every send of the shop is refused as rate-limited (613) until the test lifts it.
    app.graph
        .fail_sends_with_token(SHOP_TOKEN, Some(FakeError::graph(613, None)));
    let first = Webhook::text("u1", "one")
        .page(SHOP)
        .and(Webhook::text("u2", "one").page(NEWS));
    assert_eq!(app.post(&first).await.status(), 200);
    // The news Page answers while the shop is paused.
    let news = app.graph.wait_for_sent(1, PATIENCE).await;
    assert_eq!(texts(&news, "u2"), ["news: one"]);
    let later = Webhook::text("u3", "two").page(NEWS);
    assert_eq!(app.post(&later).await.status(), 200);
    let sent = app.graph.wait_for_sent(2, PATIENCE).await;
    assert_eq!(texts(&sent, "u3"), ["news: two"]);
    // The shop's event is still waiting, its attempts not used up by the pauses.
    let shop_event = app
        .inbox()
        .await
        .into_iter()
        .find(|e| e.page_id.as_deref() == Some(SHOP))
        .unwrap();
    assert_eq!(shop_event.status, "pending", "{shop_event:?}");
    app.graph.fail_sends_with_token(SHOP_TOKEN, None);
    app.wait_until_processed(PATIENCE).await;
    assert_eq!(
        texts(&app.graph.sent_with_token(SHOP_TOKEN), "u1"),
        ["shop: one"]
    );
    let inbox = app.inbox().await;
    assert!(inbox.iter().all(|e| e.status == "done"), "{inbox:#?}");
});

db_test!(a_rejected_token_pauses_its_page_and_readyz_names_it, |db| {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn(db, two_pages(dir.path())).await;
    app.graph
        .fail_sends_with_token(NEWS_TOKEN, Some(FakeError::graph(190, Some(463))));
    let both = Webhook::text("u1", "hi")
        .page(NEWS)
        .and(Webhook::text("u2", "hi").page(SHOP));
    assert_eq!(app.post(&both).await.status(), 200);
    let sent = app.graph.wait_for_sent(1, PATIENCE).await;
    assert_eq!(texts(&sent, "u2"), ["shop: hi"]);
    // The news Page's failure shows on /readyz, which stays 200 for the Pages served.
    let deadline = std::time::Instant::now() + PATIENCE;
    let ready = loop {
        let response = app.get("/readyz").await;
        assert_eq!(response.status(), 200);
        let body = response.text().await.unwrap();
        if body.contains("token rejected") || std::time::Instant::now() > deadline {
            break body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(ready.contains("page News (222): token rejected"), "{ready}");
    assert!(!ready.contains("Shop"), "{ready}");
    assert!(!ready.contains(NEWS_TOKEN), "{ready}");
    // Its event waits (pending, not dead) until the token works again, then it is answered
    // and /readyz forgets the problem.
    let news_event = |inbox: Vec<pagebot::store::InboxEvent>| {
        inbox
            .into_iter()
            .find(|e| e.page_id.as_deref() == Some(NEWS))
            .unwrap()
    };
    assert_eq!(news_event(app.inbox().await).status, "pending");
    app.graph.fail_sends_with_token(NEWS_TOKEN, None);
    app.wait_until_processed(PATIENCE).await;
    assert_eq!(
        texts(&app.graph.sent_with_token(NEWS_TOKEN), "u1"),
        ["news: hi"]
    );
    assert_eq!(news_event(app.inbox().await).status, "done");
    assert_eq!(app.get("/readyz").await.text().await.unwrap(), "ready");
});

db_test!(
    a_reload_refused_for_one_page_leaves_the_others_reloaded,
    |db| {
        let dir = tempfile::tempdir().unwrap();
        let pages = two_pages(dir.path());
        let (shop_locales, news_policy) = (pages[0].locales.clone(), pages[1].policy.clone());
        let configure = |settings: &mut Settings| settings.pages = pages;
        let app = TestApp::spawn_with(db, TestBot::demo(), configure)
            .await
            .unwrap();
        app.graph.add_page_token(SHOP_TOKEN);
        app.graph.add_page_token(NEWS_TOKEN);
        // The shop's texts change and the news Page's policy breaks; then SIGHUP's reload.
        std::fs::write(
            shop_locales.join("en-US/bot.ftl"),
            "answer = boutique: { $text }\n",
        )
        .unwrap();
        std::fs::write(
            &news_policy,
            "routes:\n  SIMPLE_TEXT:\n    - handler: no_such_handler\n",
        )
        .unwrap();
        let refused = app.reload().expect_err("the news Page's policy is broken");
        let message = refused.to_string();
        assert!(message.contains("page News"), "{message}");
        assert!(message.contains("no_such_handler"), "{message}");
        assert!(!message.contains("Shop"), "{message}");
        let both = Webhook::text("u1", "a")
            .page(SHOP)
            .and(Webhook::text("u1", "b").page(NEWS));
        assert_eq!(app.post(&both).await.status(), 200);
        app.wait_until_processed(PATIENCE).await;
        // The shop runs its new texts; the news Page its last good policy.
        assert_eq!(
            texts(&app.graph.sent_with_token(SHOP_TOKEN), "u1"),
            ["boutique: a"]
        );
        assert_eq!(
            texts(&app.graph.sent_with_token(NEWS_TOKEN), "u1"),
            ["news: b"]
        );
    }
);

db_test!(
    a_pages_thread_settings_file_gives_its_get_started_and_menu_payloads,
    |db| {
        let dir = tempfile::tempdir().unwrap();
        // The News Page's profile comes from a file of its own, with payloads its policy does
        // not name: the postbacks Facebook sends back carry those.
        let policy = dir.path().join("news.yaml");
        std::fs::write(
            &policy,
            "routes:\n  GET_STARTED_BUTTON:\n    - handler: postback\n      senders:\n        \
             - text: { message: welcome }\n  PERSISTENT_MENU_ONE:\n    - handler: postback\n      \
             senders:\n        - text: { message: menu-one }\n  POSTBACK:\n    - handler: postback\n      \
             senders:\n        - text: { message: plain }\n",
        )
        .unwrap();
        let locales = dir.path().join("news-locales");
        std::fs::create_dir_all(locales.join("en-US")).unwrap();
        std::fs::write(
            locales.join("en-US/bot.ftl"),
            "welcome = welcome to the news\nmenu-one = the headlines\nplain = a postback\n\
             menu-title = Headlines\n",
        )
        .unwrap();
        let profile = dir.path().join("news-profile.yaml");
        std::fs::write(
            &profile,
            "thread_settings:\n  get_started: { payload: NEWS_START }\n  persistent_menu:\n    \
             - { type: postback, title: menu-title, payload: NEWS_HEADLINES }\n",
        )
        .unwrap();
        let mut news = page(NEWS, "News", NEWS_TOKEN, (policy, locales));
        news.thread_settings = Some(profile);
        let app = spawn(db, shop_and(dir.path(), news)).await;
        let postbacks = Webhook::postback("u1", "Get Started", "NEWS_START")
            .page(NEWS)
            .and(Webhook::postback("u2", "Headlines", "NEWS_HEADLINES").page(NEWS))
            .and(Webhook::postback("u3", "Other", "SOMETHING_ELSE").page(NEWS));
        assert_eq!(app.post(&postbacks).await.status(), 200);
        app.wait_until_processed(PATIENCE).await;
        let sent = app.graph.sent_with_token(NEWS_TOKEN);
        assert_eq!(texts(&sent, "u1"), ["welcome to the news"]);
        assert_eq!(texts(&sent, "u2"), ["the headlines"]);
        assert_eq!(texts(&sent, "u3"), ["a postback"]);
    }
);

db_test!(a_token_rejected_on_a_profile_lookup_shows_on_readyz, |db| {
    let dir = tempfile::tempdir().unwrap();
    // The News Page only stores its users: the profile lookup is its only Graph call.
    let (_, locales) = page_files(dir.path(), "news", "news");
    let policy = dir.path().join("news-users.yaml");
    std::fs::write(
        &policy,
        "default:\n  - handler: user_profile\nroutes:\n  SIMPLE_TEXT:\n    - handler: simple_text\n",
    )
    .unwrap();
    let news = page(NEWS, "News", NEWS_TOKEN, (policy, locales));
    let app = spawn(db, shop_and(dir.path(), news)).await;
    app.graph
        .set_profile_error("u3", FakeError::graph(190, Some(460)));
    let hello = Webhook::text("u3", "hello").page(NEWS);
    assert_eq!(app.post(&hello).await.status(), 200);
    app.wait_until_processed(PATIENCE).await;
    assert!(app.graph.profile_calls() >= 1, "{:#?}", app.inbox().await);
    let ready = app.get("/readyz").await.text().await.unwrap();
    assert!(ready.contains("page News (222): token rejected"), "{ready}");
    assert!(!ready.contains("Shop"), "{ready}");
    // A lookup that goes through shows the token works again.
    app.graph
        .set_profile("u4", serde_json::json!({"first_name": "Ana"}));
    let again = Webhook::text("u4", "hello").page(NEWS);
    assert_eq!(app.post(&again).await.status(), 200);
    app.wait_until_processed(PATIENCE).await;
    assert_eq!(app.get("/readyz").await.text().await.unwrap(), "ready");
});
