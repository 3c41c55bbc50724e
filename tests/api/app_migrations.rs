//! A bot's own tables: the migrations an app registers run after pagebot's, on both backends,
//! and a version that is not unique is refused before anything runs.

use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use pagebot::check::Level;
use pagebot::store::{self, AppMigrations, Store, StoreError};
use pagebot::{Registry, check};

use crate::db_test;
use crate::helpers::{TestApp, TestBot};

/// Versions 20200101000001 (before all of pagebot's, reading a column pagebot's third
/// migration adds) and 20300101000001.
fn ordered() -> AppMigrations {
    const POSTGRES: EmbeddedMigrations =
        embed_migrations!("tests/fixtures/app_migrations/ordered/postgres");
    const SQLITE: EmbeddedMigrations =
        embed_migrations!("tests/fixtures/app_migrations/ordered/sqlite");
    AppMigrations::new(POSTGRES, SQLITE)
}

/// 20261122000001, pagebot's first version, on both backends; on SQLite also two of the app's
/// migrations sharing 20300101000001.
fn clashing() -> AppMigrations {
    const POSTGRES: EmbeddedMigrations =
        embed_migrations!("tests/fixtures/app_migrations/clash/postgres");
    const SQLITE: EmbeddedMigrations =
        embed_migrations!("tests/fixtures/app_migrations/clash/sqlite");
    AppMigrations::new(POSTGRES, SQLITE)
}

/// The versions of pagebot's own migrations on `store`'s backend, as a fresh database records
/// them.
async fn pagebot_versions(backend: &str) -> Vec<String> {
    let db = match backend {
        "postgres" => crate::helpers::TestDatabase::postgres(
            &std::env::var("PAGEBOT_TEST_DATABASE_URL").expect("a Postgres test server"),
        ),
        _ => crate::helpers::TestDatabase::sqlite(),
    };
    let url = db.url().to_owned();
    tokio::task::spawn_blocking(move || {
        let store = Store::connect(&url, 1).unwrap();
        store::applied_migrations(&mut store.get().unwrap()).unwrap()
    })
    .await
    .unwrap()
}

db_test!(the_apps_migrations_run_after_pagebots, |db| {
    let url = db.url().to_owned();
    let (backend, applied) = tokio::task::spawn_blocking(move || {
        // The app's first version sorts before all of pagebot's, and its SQL reads a column
        // that pagebot's third migration adds: it could only run after pagebot's.
        let store = Store::connect_with(&url, 1, Some(&ordered())).unwrap();
        let mut conn = store.get().unwrap();
        conn.batch_execute("SELECT psid, chosen_locale FROM app_locales")
            .unwrap();
        conn.batch_execute("INSERT INTO app_notes (event_id, note, psid) VALUES (1, 'hi', 'p')")
            .unwrap();
        drop(conn);
        // Again: nothing is pending, nothing runs twice.
        let store = Store::connect_with(&url, 1, Some(&ordered())).unwrap();
        // What the inbox commands open: pagebot's migrations only, the app's applied
        // versions are no concern of theirs.
        let plain = Store::connect(&url, 1).unwrap();
        let applied = store::applied_migrations(&mut plain.get().unwrap()).unwrap();
        (store.backend(), applied)
    })
    .await
    .unwrap();
    let mut expected = pagebot_versions(backend).await;
    expected.push("20200101000001".to_owned());
    expected.push("20300101000001".to_owned());
    expected.sort();
    assert_eq!(applied, expected);
    assert_eq!(
        ordered().names(backend),
        [
            "2020-01-01-000001_app_notes",
            "2030-01-01-000001_app_notes_psid"
        ]
    );
});

db_test!(serve_runs_the_registered_migrations, |db| {
    let bot = TestBot {
        registry: Registry::builtin().migrations(ordered()),
        ..TestBot::demo()
    };
    let app = TestApp::spawn_bot(db, bot).await.expect("the bot starts");
    app.store
        .run(|conn| {
            conn.batch_execute("SELECT event_id, note, psid FROM app_notes")?;
            Ok(())
        })
        .await
        .unwrap();
    let applied = app.store.run(store::applied_migrations).await.unwrap();
    assert!(
        applied.contains(&"20261122000001".to_owned()),
        "{applied:?}"
    );
    assert!(
        applied.contains(&"20300101000001".to_owned()),
        "{applied:?}"
    );
});

db_test!(a_version_clash_is_refused_before_anything_runs, |db| {
    let url = db.url().to_owned();
    let err = tokio::task::spawn_blocking(move || {
        Store::connect_with(&url, 1, Some(&clashing())).unwrap_err()
    })
    .await
    .unwrap();
    let StoreError::MigrationClash(clash) = &err else {
        panic!("not a clash: {err}");
    };
    assert_eq!(clash.versions, ["20261122000001", "20300101000001"]);
    let message = err.to_string();
    for part in [
        "the app's postgres migration 2026-11-22-000001_app_clash has version 20261122000001, \
         which pagebot's migration 2026-11-22-000001_create_tables already uses",
        "the app's sqlite migrations 2030-01-01-000001_app_first and \
         2030-01-01-000001_app_second have the same version 20300101000001",
        "unique version prefix, later than pagebot's newest migration",
    ] {
        assert!(message.contains(part), "{message}");
    }
    // Nothing ran: on SQLite not even the file was created.
    if let Some(path) = db.url().strip_prefix("sqlite://") {
        assert!(!std::path::Path::new(path).exists());
    }
    let url = db.url().to_owned();
    let missing = tokio::task::spawn_blocking(move || {
        let store = Store::connect(&url, 1).unwrap();
        let mut conn = store.get().unwrap();
        conn.batch_execute("SELECT id FROM app_clash").is_err()
    })
    .await
    .unwrap();
    assert!(missing, "the app's clashing migration ran");

    // serve refuses to start with the same words.
    let bot = TestBot {
        registry: Registry::builtin().migrations(clashing()),
        ..TestBot::demo()
    };
    let err = TestApp::spawn_bot(db, bot).await.err().expect("refused");
    assert!(err.to_string().contains("20261122000001"), "{err}");
});

#[test]
fn check_reports_a_clash_and_a_second_set() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |registry: &Registry| {
        check::check(
            registry,
            &root.join("routing.yaml"),
            &root.join("locales"),
            "en-US",
        )
    };
    let report = run(&Registry::builtin().migrations(ordered()));
    assert_eq!(report.count(Level::Error), 0, "{:?}", report.findings);
    let report = run(&Registry::builtin().migrations(clashing()));
    assert_eq!(report.count(Level::Error), 1, "{:?}", report.findings);
    assert!(
        report.findings[0]
            .message
            .contains("version 20261122000001"),
        "{:?}",
        report.findings
    );
    let twice = Registry::builtin()
        .migrations(ordered())
        .migrations(ordered());
    assert_eq!(
        twice.check().unwrap_err().to_string(),
        "registered more than once: migrations"
    );
}
