//! The admin in Chromium: a wrong password refused, the login, a user found and their
//! history opened, a dead event replayed and seen done; screenshots of each page.

use std::path::PathBuf;

use fantoccini::Locator;
use pagebot::testing::browser::Browser;
use pagebot::testing::{FakeError, TestApp, TestBot, TestDatabase, Webhook};

const PASSWORD: &str = "a password for the browser test";

fn screenshot(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs/screenshots")
        .join(name)
}

async fn type_into(browser: &Browser, css: &str, text: &str) {
    let input = browser.wait_for(css).await;
    input.clear().await.expect("clearing");
    input.send_keys(text).await.expect("typing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_finds_a_user_and_replays_a_dead_event() {
    let app = TestApp::spawn_with(TestDatabase::sqlite(), TestBot::demo(), |s| {
        s.admin_password = Some(PASSWORD.into());
        s.max_attempts = 1;
    })
    .await
    .expect("the demo bot with an admin");
    let user = "5550000000000201";
    for text in ["hi", "shop"] {
        assert_eq!(app.post(&Webhook::text(user, text)).await.status(), 200);
        app.wait_until_processed(std::time::Duration::from_secs(15))
            .await;
    }
    assert_eq!(
        app.post(&Webhook::location(user, 25.033, 121.5654))
            .await
            .status(),
        200
    );
    app.wait_until_processed(std::time::Duration::from_secs(15))
        .await;
    // Its answer fails with the one attempt allowed: a dead event.
    app.graph.fail_next_sends([FakeError::graph(2, None)]);
    assert_eq!(
        app.post(&Webhook::text(user, "colours")).await.status(),
        200
    );
    app.wait_until_processed(std::time::Duration::from_secs(15))
        .await;
    let dead = app
        .inbox()
        .await
        .into_iter()
        .find(|e| e.status == "dead")
        .expect("a dead event");

    let browser = Browser::start().await.expect("a headless Chromium");
    browser.open(&app, "/admin").await;
    // Sent to the login form; a wrong password is refused.
    type_into(&browser, "#password", "not it").await;
    browser.click("#login button").await;
    browser.wait_for("#login-error").await;
    browser.wait_for_text("Wrong password.").await;
    type_into(&browser, "#password", PASSWORD).await;
    browser.click("#login button").await;
    browser.wait_for_text("Graph errors").await;
    browser.screenshot(screenshot("admin-overview.png")).await;

    // Find the user by a PSID prefix and open their history.
    browser.click(r#"nav a[href="/admin/users"]"#).await;
    type_into(&browser, "#q", "55500000000002").await;
    browser.click("#search button").await;
    browser.screenshot(screenshot("admin-users.png")).await;
    browser.click(".user-link").await;
    browser.wait_for("#history .row.user").await;
    browser.wait_for_text("colours").await;
    browser.wait_for("#history .carousel .card").await;
    browser
        .click("#history .row.user details.raw summary")
        .await;
    browser.wait_for("#history details[open] pre").await;
    browser.screenshot(screenshot("admin-user.png")).await;

    // Replay the dead event from the inbox, and see it done.
    browser.open(&app, "/admin/inbox?status=dead").await;
    browser.wait_for(&format!("#event-{}", dead.id)).await;
    browser
        .click(&format!("#event-{} details.raw-body summary", dead.id))
        .await;
    browser.screenshot(screenshot("admin-inbox.png")).await;
    browser
        .click(&format!("#event-{} .replay-one", dead.id))
        .await;
    browser
        .wait_for_text("1 event(s) put back in the queue.")
        .await;
    app.wait_until_processed(std::time::Duration::from_secs(15))
        .await;
    browser.open(&app, "/admin/inbox?status=done").await;
    let row = browser.wait_for(&format!("#event-{}", dead.id)).await;
    let status = row
        .find(Locator::Css(".badge"))
        .await
        .expect("a status")
        .text()
        .await
        .unwrap();
    assert_eq!(status, "done");

    browser.click(r#"nav a[href="/admin/policy"]"#).await;
    browser.wait_for_text("Last reload").await;
    browser.screenshot(screenshot("admin-policy.png")).await;
    browser.close().await;
    app.stop().await;
}
