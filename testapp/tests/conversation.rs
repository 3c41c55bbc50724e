//! testapp's conversations, written with pagebot's test kit: the real bot in-process, a
//! fresh database (Postgres when PAGEBOT_TEST_DATABASE_URL is set, else SQLite), the fake
//! Graph API.

use std::path::Path;

use pagebot::testing::{Conversation, TestBot, TestDatabase};

/// testapp as `serve` would run it: its routing.yaml, its locales, its registry.
fn bot() -> TestBot {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    TestBot::new(
        root.join("routing.yaml"),
        root.join("locales"),
        testapp::registry(),
    )
}

async fn start() -> Conversation {
    Conversation::start_bot(TestDatabase::from_env(), bot())
        .await
        .expect("testapp starts")
}

const EXAMPLES: [&str; 3] = ["21 °C", "70 °F", "-40 °C"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_offers_examples_and_a_tapped_example_is_converted() {
    let bot = start().await;
    let ann = bot.user("Ann");
    ann.says("Hello")
        .expect_text("Hello Ann! I convert temperatures between Celsius and Fahrenheit.")
        .expect_text("Send me a temperature like \"21 C\", or tap one:")
        .expect_quick_replies(EXAMPLES)
        .await;
    ann.taps("70 °F").expect_text("70 °F is 21.1 °C.").await;
    // The quick reply went back with its payload, as Messenger sends it.
    let inbox = bot.app().inbox().await;
    assert_eq!(
        inbox.last().and_then(|e| e.kind.as_deref()),
        Some("QUICK_REPLY")
    );
    assert!(
        inbox
            .last()
            .is_some_and(|e| e.raw.contains("\"payload\":\"EXAMPLE\""))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_temperatures_are_converted_and_anything_else_gets_help() {
    let bot = start().await;
    let bob = bot.user("Bob");
    bob.says("-40 celsius")
        .expect_text("-40 °C is -40 °F.")
        .await;
    bob.says("32F").expect_text("32 °F is 0 °C.").await;
    bob.says("is it warm?")
        .expect_text("Sorry, I only understand temperatures like \"21 C\" or \"70 F\".")
        // Quick replies ride on a message: these are on the second one.
        .expect_text("Send me a temperature like \"21 C\", or tap one:")
        .expect_quick_replies(EXAMPLES)
        .await;
    bob.taps("3").expect_text("-40 °C is -40 °F.").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_can_switch_to_french() {
    let bot = start().await;
    let ann = bot.user("Ann");
    ann.says("lang fr")
        .expect_text("Je parlerai français.")
        .await;
    ann.says("21 C").expect_text("21 °C font 69.8 °F.").await;
    // An unknown language is not stored: the fallback answers, still in French.
    ann.says("lang tlh")
        .expect_text_containing("Désolé")
        .expect_text_containing("touchez un exemple")
        .expect_quick_replies(EXAMPLES)
        .await;
    ann.says("lang en-US")
        .expect_text("I will speak English.")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_started_greets_with_the_examples() {
    let bot = start().await;
    bot.user("Cleo")
        .postback("GET_STARTED")
        .expect_text_containing("Hello Cleo!")
        .expect_text_containing("tap one")
        .expect_quick_replies(EXAMPLES)
        .await;
}

#[tokio::test]
async fn a_policy_breaking_the_quick_reply_limits_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("routing.yaml");
    std::fs::write(
        &policy,
        "routes:\n  SIMPLE_TEXT:\n    - handler: convert\n      senders:\n        - suggest: { message: try-one, examples: [\"a temperature far too long\"] }\n",
    )
    .unwrap();
    let bot = TestBot {
        policy: policy.clone(),
        ..bot()
    };
    let err = Conversation::start_bot(TestDatabase::sqlite(), bot)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.starts_with(&format!("{}:5:", policy.display())),
        "{err}"
    );
    assert!(
        err.contains("quick reply title is 26 characters, at most 20"),
        "{err}"
    );
}
