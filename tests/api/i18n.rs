//! Speaking the user's language: the profile's locale, a chosen locale, negotiation.

use serde_json::json;

use crate::db_test;
use crate::helpers::*;
use pagebot::store::users;

/// A bot that greets, and lets the user pick a language with "lang TAG".
struct LocaleBot {
    _dir: tempfile::TempDir,
    bot: TestBot,
}

fn locale_bot() -> LocaleBot {
    locale_bot_with(
        r#"
default:
  - handler: user_profile
    args: { extra_fields: [locale] }
routes:
  SIMPLE_TEXT:
    - handler: simple_text
      args: { regex: "^lang (\\S+)$" }
    - handler: set_locale
      args: { locale: "{match.1}" }
      senders:
        - text: { message: language-set }
    - handler: simple_text
      args: { regex: "^apples (\\d+)$" }
      senders:
        - text: { message: apples, args: { count: "{match.1}" } }
    - handler: simple_text
      fallback: true
      senders:
        - text: { message: hello, args: { name: "{user.first_name}" } }
"#,
    )
}

/// The locales of [`locale_bot`] under another policy.
fn locale_bot_with(routing: &str) -> LocaleBot {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("routing.yaml");
    std::fs::write(&policy, routing).unwrap();
    for (tag, ftl) in [
        (
            "en-US",
            "hello = Hello { $name }!\nlanguage-set = Language set.\napples = { $count ->\n    [one] One apple\n   *[other] { $count } apples\n}\n",
        ),
        (
            "zh-TW",
            "hello = { $name }，你好！\nlanguage-set = 語言已設定。\napples = { $count } 個蘋果\n",
        ),
    ] {
        let folder = dir.path().join("locales").join(tag);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("bot.ftl"), ftl).unwrap();
    }
    let bot = TestBot {
        policy,
        locales: dir.path().join("locales"),
        ..TestBot::demo()
    };
    LocaleBot { _dir: dir, bot }
}

db_test!(
    a_zh_tw_user_gets_zh_tw_and_an_unknown_locale_gets_the_default,
    |db| {
        let bot = locale_bot();
        let app = TestApp::spawn_bot(db, bot.bot.clone()).await.unwrap();
        app.graph
            .set_profile("u_mei", json!({"first_name": "Mei", "locale": "zh_TW"}));
        app.graph
            .set_profile("u_jan", json!({"first_name": "Jan", "locale": "nl_NL"}));
        app.post_webhook(&text_message("u_mei", "m_1", "hey", 1_700_000_000_000))
            .await;
        app.post_webhook(&text_message("u_jan", "m_2", "hey", 1_700_000_000_000))
            .await;
        app.graph.wait_for_sent(2, PATIENCE).await;
        assert_eq!(app.graph.texts_to("u_mei"), vec!["Mei，你好！"]);
        assert_eq!(app.graph.texts_to("u_jan"), vec!["Hello Jan!"]);
    }
);

db_test!(
    a_chosen_language_is_kept_across_messages_apart_from_the_profile_locale,
    |db| {
        let bot = locale_bot();
        let app = TestApp::spawn_bot(db, bot.bot.clone()).await.unwrap();
        app.graph
            .set_profile("u_ann", json!({"first_name": "Ann", "locale": "en_US"}));
        let mut at = 1_700_000_000_000;
        // "lang klingon" names no loaded locale: set_locale does not handle it and nothing answers.
        let turns = [
            ("hey", 1),
            ("lang zh_TW", 2),
            ("hey", 3),
            ("lang klingon", 3),
            ("hey", 4),
        ];
        for (i, (text, sent)) in turns.into_iter().enumerate() {
            at += 1000;
            app.post_webhook(&text_message("u_ann", &format!("m_{i}"), text, at))
                .await;
            app.wait_until_processed(PATIENCE).await;
            app.graph.wait_for_sent(sent, PATIENCE).await;
        }
        assert_eq!(
            app.graph.texts_to("u_ann"),
            vec![
                "Hello Ann!",
                // The senders of the event that set the language already speak it.
                "語言已設定。",
                "Ann，你好！",
                "Ann，你好！",
            ]
        );
        let user = app
            .store
            .run(|c| users::find(c, PAGE_ID, "u_ann"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.chosen_locale.as_deref(), Some("zh-TW"));
        // The profile's own locale is kept apart: a refresh cannot undo the user's choice.
        assert_eq!(user.locale.as_deref(), Some("en_US"));
    }
);

db_test!(fluent_plurals_select_on_numbers_from_captures, |db| {
    let bot = locale_bot();
    let app = TestApp::spawn_bot(db, bot.bot.clone()).await.unwrap();
    app.graph.set_profile("u_bo", json!({"first_name": "Bo"}));
    app.post_webhook(&text_message("u_bo", "m_1", "apples 1", 1_700_000_000_000))
        .await;
    app.graph.wait_for_sent(1, PATIENCE).await;
    app.post_webhook(&text_message("u_bo", "m_2", "apples 5", 1_700_000_001_000))
        .await;
    app.graph.wait_for_sent(2, PATIENCE).await;
    assert_eq!(app.graph.texts_to("u_bo"), vec!["One apple", "5 apples"]);
});

db_test!(
    a_handler_after_set_locale_in_the_same_chain_sees_the_new_language,
    |db| {
        // user_profile runs after set_locale here: the user's row it loads must be the one
        // set_locale just wrote, not the one read when the event was claimed.
        let bot = locale_bot_with(
            r#"
routes:
  SIMPLE_TEXT:
    - handler: simple_text
      args: { regex: "^lang (\\S+)$" }
    - handler: set_locale
      args: { locale: "{match.1}" }
    - handler: user_profile
      senders:
        - text: { message: language-set }
"#,
        );
        let app = TestApp::spawn_bot(db, bot.bot.clone()).await.unwrap();
        app.graph.set_profile("u_li", json!({"first_name": "Li"}));
        app.post_webhook(&text_message("u_li", "m_1", "hey", 1_700_000_000_000))
            .await;
        app.wait_until_processed(PATIENCE).await;
        app.graph.wait_for_sent(1, PATIENCE).await;
        app.post_webhook(&text_message(
            "u_li",
            "m_2",
            "lang zh_TW",
            1_700_000_001_000,
        ))
        .await;
        app.wait_until_processed(PATIENCE).await;
        app.graph.wait_for_sent(2, PATIENCE).await;
        assert_eq!(
            app.graph.texts_to("u_li"),
            vec!["Language set.", "語言已設定。"]
        );
    }
);
