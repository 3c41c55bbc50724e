//! testapp's own table: its migrations run after pagebot's, and `feedback` stores one row per
//! event however often the event is delivered or processed. On a fresh database: Postgres
//! when PAGEBOT_TEST_DATABASE_URL is set, else SQLite.

use std::path::Path;
use std::time::Duration;

use pagebot::store::{self, Store, StoreError};
use pagebot::testing::{Conversation, FakeError, TestBot, TestDatabase, Webhook};
use pagebot::{AppMigrations, Registry};
use testapp::feedback::{self, Note};

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

const PATIENCE: Duration = Duration::from_secs(15);

/// testapp's one migration, as diesel records it.
const FEEDBACK_VERSION: &str = "20261210143000";

async fn notes(bot: &Conversation) -> Vec<Note> {
    bot.app().store.run(feedback::all).await.expect("notes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testapps_migrations_run_after_pagebots() {
    let bot = start().await;
    let applied = bot
        .app()
        .store
        .run(store::applied_migrations)
        .await
        .unwrap();
    // pagebot's (two that both backends have) and testapp's.
    for version in ["20261122000001", "20261123000020", FEEDBACK_VERSION] {
        assert!(applied.contains(&version.to_owned()), "{applied:?}");
    }
    assert_eq!(
        testapp::migrations().names(bot.app().store.backend()),
        [
            "2026-12-10-143000_testapp_feedback",
            "2026-12-11-120000_testapp_feedback_per_page"
        ]
    );
    // The table is there, empty.
    assert!(notes(&bot).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_is_stored_and_counted() {
    let bot = start().await;
    let ann = bot.user("Ann");
    ann.says("feedback: the converter is handy")
        .expect_text("Thanks, noted! Notes from you so far: 1.")
        .await;
    ann.says("Feedback - add Kelvin")
        .expect_text("Thanks, noted! Notes from you so far: 2.")
        .await;
    bot.user("Bob")
        .says("feedback: fine")
        .expect_text("Thanks, noted! Notes from you so far: 1.")
        .await;
    let stored: Vec<(String, String)> = notes(&bot)
        .await
        .into_iter()
        .map(|n| (n.psid, n.note))
        .collect();
    assert_eq!(
        stored,
        [
            ("psid_ann".into(), "the converter is handy".into()),
            ("psid_ann".into(), "add Kelvin".into()),
            ("psid_bob".into(), "fine".into()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_delivered_or_processed_twice_stores_one_row() {
    let bot = start().await;
    bot.user("Ann");
    let app = bot.app();
    // Facebook redelivers a webhook it saw no 200 for: the inbox keeps the event once.
    let redelivered = Webhook::text("psid_ann", "feedback: once");
    for _ in 0..2 {
        assert_eq!(app.post(&redelivered).await.status(), 200);
    }
    app.wait_until_processed(PATIENCE).await;
    // The reply fails with a passing error after the handler stored its row: the whole
    // chain runs again for the same event.
    bot.graph().fail_next_sends([FakeError::graph(2, None)]);
    assert_eq!(
        app.post(&Webhook::text("psid_ann", "feedback: retried"))
            .await
            .status(),
        200
    );
    app.wait_until_processed(PATIENCE).await;
    let inbox = app.inbox().await;
    assert_eq!(inbox.len(), 2, "{inbox:#?}");
    assert!(inbox.iter().all(|e| e.status == "done"), "{inbox:#?}");
    assert_eq!(inbox[1].attempts, 2, "{inbox:#?}");
    let stored = notes(&bot).await;
    let ids: Vec<i64> = stored.iter().map(|n| n.event_id).collect();
    assert_eq!(ids, [inbox[0].id, inbox[1].id]);
    assert_eq!(stored[1].note, "retried");
    assert_eq!(
        bot.graph().texts_to("psid_ann"),
        [
            "Thanks, noted! Notes from you so far: 1.",
            "Thanks, noted! Notes from you so far: 2."
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_reusing_a_pagebot_version_is_refused() {
    use diesel_migrations::{EmbeddedMigrations, embed_migrations};
    // testapp's own migrations for Postgres, pagebot's for SQLite: every SQLite version clashes.
    const PAGEBOTS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
    let registry: Registry =
        testapp::registry().migrations(AppMigrations::new(testapp::POSTGRES_MIGRATIONS, PAGEBOTS));
    // A second set is refused like a handler registered twice ...
    assert!(registry.check().is_err());
    // ... and the set alone names the clashing versions.
    let clashing = AppMigrations::new(testapp::POSTGRES_MIGRATIONS, PAGEBOTS);
    let err = clashing.check().unwrap_err();
    assert!(err.versions.contains(&"20261122000001".to_owned()), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(
            "the app's sqlite migration 2026-11-22-000001_create_tables has version \
             20261122000001, which pagebot's migration 2026-11-22-000001_create_tables \
             already uses"
        ),
        "{message}"
    );
    assert!(message.contains("unique version prefix"), "{message}");
    let database = TestDatabase::from_env();
    let url = database.url().to_owned();
    let refused = tokio::task::spawn_blocking(move || {
        Store::connect_with(&url, 1, Some(&clashing)).unwrap_err()
    })
    .await
    .unwrap();
    assert!(
        matches!(refused, StoreError::MigrationClash(_)),
        "{refused}"
    );
    let bot = TestBot {
        registry: Registry::builtin()
            .handler("convert", testapp::Convert::from_args)
            .handler("feedback", testapp::Feedback::from_args)
            .sender_with("suggest", testapp::Suggest::from_args)
            .migrations(AppMigrations::new(testapp::POSTGRES_MIGRATIONS, PAGEBOTS)),
        ..bot()
    };
    let err = Conversation::start_bot(database, bot)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("version 20261122000001"), "{err}");
}
