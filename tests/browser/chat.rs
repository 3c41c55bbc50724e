//! The chat page in Chromium: the demo flow by typing, tapping quick replies, a button and
//! the menu, and the carousel drawn; screenshots for the README.

use std::path::PathBuf;

use pagebot::testing::browser::Browser;
use pagebot::testing::{TestApp, TestDatabase};

fn screenshot(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs/screenshots")
        .join(name)
}

/// Types `text` in the composer and sends it.
async fn say(browser: &Browser, text: &str) {
    let input = browser.wait_for("#message").await;
    input.send_keys(text).await.expect("typing");
    browser.click(".composer .send").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_flow_by_clicking() {
    let app = TestApp::spawn_dev(TestDatabase::sqlite()).await;
    let browser = Browser::start().await.expect("a headless Chromium");
    browser.open(&app, "/dev/chat?psid=5550000000000007").await;

    // An empty thread offers the greeting, the ice breakers and the Get Started button of
    // the thread settings.
    browser.wait_for(".empty .ice-breaker").await;
    browser
        .screenshot(std::env::temp_dir().join("pagebot-chat-empty.png"))
        .await;
    browser.click(".get-started").await;
    browser.wait_for_text("Welcome").await;

    say(&browser, "colours").await;
    browser.click(r#".chip[data-payload="COLOR_RED"]"#).await;
    browser.wait_for_text("Red it is, a bold choice!").await;
    // The chips are gone once answered, as in Messenger.
    let chips = browser
        .client()
        .find_all(fantoccini::Locator::Css(".chip"))
        .await
        .unwrap();
    assert!(chips.is_empty());

    // A button template's postback button.
    say(&browser, "menu").await;
    browser.click(r#".button[data-payload="COLOURS"]"#).await;
    browser
        .wait_for(r#".chip[data-payload="COLOR_BLUE"]"#)
        .await;
    browser.click(r#".chip[data-payload="COLOR_BLUE"]"#).await;
    browser.wait_for_text("Blue it is, calm and cool!").await;

    // The carousel.
    say(&browser, "shop").await;
    browser.wait_for(".carousel .card").await;
    // Read in one script: the thread may be redrawn between two WebDriver calls.
    let titles = browser
        .client()
        .execute(
            "return Array.from(document.querySelectorAll('.carousel .card-title'), e => e.textContent);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        titles,
        serde_json::json!(["pagebot T-shirt", "pagebot mug"])
    );
    browser.screenshot(screenshot("chat.png")).await;

    // Buy from a card, then the persistent menu's Help item, a thumbs-up and a location.
    browser
        .click(r#".card .button[data-payload="BUY_SHIRT"]"#)
        .await;
    browser.wait_for_text("A T-shirt is in your cart.").await;
    browser.click("#menu-toggle").await;
    browser.click(r#".menu-item[data-payload="HELP"]"#).await;
    browser.wait_for_text("Try: hi, menu").await;
    // A receipt.
    say(&browser, "order 1001 25.00").await;
    browser.wait_for(".receipt .receipt-total").await;
    browser
        .screenshot(std::env::temp_dir().join("pagebot-chat-receipt.png"))
        .await;
    browser.click("#like").await;
    browser.wait_for_text("Thanks for the thumbs-up!").await;
    browser.click("#location-toggle").await;
    browser.click("#location-form button").await;
    browser
        .wait_for_text("Got your location: 25.033, 121.5654.")
        .await;
    // The raw JSON of a message, one click away; and the menu, open.
    browser
        .click("#thread > .row.bot.kind-text:last-child details.raw summary")
        .await;
    browser.wait_for(".row.bot details[open] pre").await;
    let json = browser
        .client()
        .execute(
            "return document.querySelector('.row.bot details[open] pre').textContent;",
            vec![],
        )
        .await
        .unwrap();
    assert!(json.as_str().unwrap().contains("\"recipient\""), "{json}");
    browser
        .client()
        .execute(
            "var t = document.getElementById('thread'); t.scrollTop = t.scrollHeight;",
            vec![],
        )
        .await
        .expect("scrolling the thread");
    browser.click("#menu-toggle").await;
    browser.wait_for("#menu:not([hidden])").await;
    browser.screenshot(screenshot("chat-menu.png")).await;

    browser.close().await;
    app.stop().await;
}
