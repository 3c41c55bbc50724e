//! The conversation runner (`pagebot::testing::Conversation`) on the demo bot: named users,
//! replies collected per user, readable mismatches, locales, Graph failures.

use pagebot::testing::{Conversation, ConversationError, FakeError, TestDatabase};

use crate::db_test;

db_test!(users_are_answered_each_with_their_own_replies, |db| {
    let bot = Conversation::start(db).await;
    let ann = bot.user("Ann");
    let outcome = ann
        .says("hi")
        .expect_text("Hello Ann! Nice to meet you.")
        .await;
    // The typing indicator is collected but is not a message.
    assert_eq!(outcome.messages.len(), 2);
    assert!(outcome.messages[0].is_action());
    ann.says("what is this?")
        .expect_text_containing("Say \"hi\" to start")
        .await;
    bot.user("Bob Lee")
        .postback("GET_STARTED")
        .expect_text("Welcome, Bob! Say \"hi\" whenever you like.")
        .await;
    ann.sends_like()
        .expect_text("Thanks for the thumbs-up! That is your first one.")
        .await;
    ann.shares_location(25.03, 121.56)
        .expect_text("Got your location: 25.03, 121.56.")
        .await;
    // A sticker other than the thumbs-up: no link of the demo handles it.
    ann.sends_sticker(144_884_852_352_448)
        .expect_nothing()
        .await;
    assert_eq!(bot.graph().texts_to("psid_ann").len(), 4);
    assert_eq!(bot.graph().texts_to("psid_bob_lee").len(), 1);
});

db_test!(a_wrong_expectation_shows_what_the_bot_sent, |db| {
    let bot = Conversation::start(db).await;
    let err = bot
        .user("Ann")
        .says("hello")
        .expect_text("Hello Ann")
        .expect_quick_replies(["Red", "Blue"])
        .run()
        .await
        .expect_err("the reply is not the expected one");
    let ConversationError::Mismatch(mismatch) = &err else {
        panic!("not a mismatch: {err}");
    };
    assert_eq!(mismatch.first, 1);
    let shown = err.to_string();
    assert!(
        shown.contains(r#"- 1. text "Hello Ann", quick replies ["Red", "Blue"]"#),
        "{shown}"
    );
    assert!(
        shown.contains(r#"+ 1. text "Hello Ann! Nice to meet you.""#),
        "{shown}"
    );
    assert!(
        shown.contains(r#"quick replies are [], expected ["Red", "Blue"]"#),
        "{shown}"
    );

    // An unexpected extra reply is a mismatch too.
    let err = bot
        .user("Ann")
        .says("hi")
        .expect_nothing()
        .run()
        .await
        .expect_err("the bot answered");
    assert!(err.to_string().contains("sent, but not expected"), "{err}");
});

db_test!(a_chosen_locale_is_spoken_from_the_next_turn, |db| {
    let bot = Conversation::start(db).await;
    let ann = bot.user("Ann");
    ann.says("hi")
        .expect_text("Hello Ann! Nice to meet you.")
        .await;
    ann.set_locale("zh-TW").await;
    ann.says("hi")
        .expect_text("Ann，你好！很高興認識你。")
        .await;
});

db_test!(graph_failures_fail_the_turn_unless_allowed, |db| {
    let bot = Conversation::start(db).await;
    // 551: the person is unavailable, a permanent error: the event fails, nothing is sent.
    bot.graph().fail_next_sends([FakeError::graph(551, None)]);
    let err = bot
        .user("Ann")
        .says("what?")
        .expect_nothing()
        .run()
        .await
        .expect_err("the event failed");
    assert!(matches!(err, ConversationError::Failed(_)), "{err}");
    assert!(err.to_string().contains("SIMPLE_TEXT"), "{err}");

    bot.graph().fail_next_sends([FakeError::graph(551, None)]);
    let outcome = bot
        .user("Bob")
        .says("what?")
        .allow_failures()
        .expect_nothing()
        .await;
    assert_eq!(outcome.failures.len(), 1, "{:?}", outcome.failures);
    // The next turn is fine again, and the failure is not reported twice.
    bot.user("Bob")
        .says("hi")
        .expect_text("Hello Bob! Nice to meet you.")
        .await;
});

db_test!(a_tap_with_nothing_offered_is_refused_before_sending, |db| {
    let bot = Conversation::start(db).await;
    let ann = bot.user("Ann");
    ann.says("hi").await;
    let err = ann.taps("Red").run().await.expect_err("nothing to tap");
    assert!(matches!(err, ConversationError::Tap(_)), "{err}");
    assert!(err.to_string().starts_with("nothing to tap"), "{err}");
    assert_eq!(app_inbox_len(&bot).await, 1);
});

async fn app_inbox_len(bot: &Conversation) -> usize {
    bot.app().inbox().await.len()
}

/// Awaiting a turn panics with who did what, and the diff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(
    expected = "conversation: Ann says \"hi\":\nmessage 1: text is \"Hello Ann! Nice to meet you.\", expected \"Bonjour\""
)]
async fn an_awaited_turn_that_does_not_match_panics_readably() {
    let bot = Conversation::start(TestDatabase::sqlite()).await;
    bot.user("Ann").says("hi").expect_text("Bonjour").await;
}
