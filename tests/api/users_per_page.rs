//! Users per Page: a PSID is page-scoped, so everything stored about a user is keyed by the
//! Page and the PSID. The same PSID on two Pages is two users, end to end; and the migration
//! that introduced the key (2026-12-11-000001_users_per_page) gives existing rows their Page.

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use serde_json::json;

use crate::db_test;
use crate::helpers::*;
use pagebot::store::{DatabaseTarget, DbConn, DbManager, deliveries, users};
use pagebot::testing::Webhook;

/// The other Page (the fixtures' is [`PAGE_ID`]).
const OTHER_PAGE: &str = "104857600000002";
/// One PSID both Pages see.
const SAME: &str = "7000000000000042";

const POLICY: &str = r#"
default:
  - handler: user_profile
routes:
  STICKER:
    - handler: thumb_up
      senders:
        - text: { message: thumbs, args: { count: "{thumbs_up.count}" } }
  LOCATION:
    - handler: location
      senders:
        - text: { message: located, args: { lat: "{location.lat}" } }
  READ:
    - handler: read
  SIMPLE_TEXT:
    - handler: simple_text
      args: { regex: "^lang (\\S+)$" }
    - handler: set_locale
      args: { locale: "{match.1}" }
      senders:
        - text: { message: language-set }
    - handler: simple_text
      fallback: true
      senders:
        - text: { message: hello, args: { name: "{user.first_name}" } }
"#;

/// The bot of [`POLICY`], in a folder that must outlive the app.
fn bot() -> (tempfile::TempDir, TestBot) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("routing.yaml"), POLICY).unwrap();
    for (tag, ftl) in [
        (
            "en-US",
            "thumbs = { $count } thumbs\nlocated = At { $lat }.\nlanguage-set = Language set.\nhello = Hello { $name }!\n",
        ),
        (
            "zh-TW",
            "thumbs = { $count } 個讚\nlocated = 在 { $lat }。\nlanguage-set = 語言已設定。\nhello = { $name }，你好！\n",
        ),
    ] {
        let folder = dir.path().join("locales").join(tag);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("bot.ftl"), ftl).unwrap();
    }
    let bot = TestBot {
        policy: dir.path().join("routing.yaml"),
        locales: dir.path().join("locales"),
        ..TestBot::demo()
    };
    (dir, bot)
}

/// Posts `webhook` and waits until the pipeline is done with it (one at a time: the replies'
/// order is the posts').
async fn deliver(app: &TestApp, webhook: Webhook) {
    assert_eq!(app.post(&webhook).await.status(), 200);
    app.wait_until_processed(PATIENCE).await;
}

db_test!(the_same_psid_on_two_pages_is_two_users, |db| {
    let (_dir, bot) = bot();
    let app = TestApp::spawn_bot(db, bot).await.unwrap();
    app.graph
        .set_profile(SAME, json!({"first_name": "Sam", "locale": "en_US"}));
    let on = |page: &str, webhook: Webhook| webhook.page(page);

    deliver(&app, on(PAGE_ID, Webhook::sticker_like(SAME))).await;
    deliver(&app, on(PAGE_ID, Webhook::sticker_like(SAME))).await;
    // Counted apart: one Page's thumbs are not the other's.
    deliver(&app, on(OTHER_PAGE, Webhook::sticker_like(SAME))).await;
    // A language chosen on one Page is that Page's user's.
    deliver(&app, on(OTHER_PAGE, Webhook::text(SAME, "lang zh-TW"))).await;
    deliver(&app, on(PAGE_ID, Webhook::text(SAME, "hi"))).await;
    deliver(&app, on(OTHER_PAGE, Webhook::text(SAME, "hi"))).await;
    deliver(&app, on(PAGE_ID, Webhook::location(SAME, 25.0, 121.5))).await;
    deliver(&app, on(OTHER_PAGE, Webhook::location(SAME, -33.5, 151.0))).await;
    deliver(&app, on(PAGE_ID, Webhook::read(SAME, 1_700_000_000_100))).await;
    deliver(&app, on(OTHER_PAGE, Webhook::read(SAME, 1_700_000_000_200))).await;

    assert_eq!(
        app.graph.texts_to(SAME),
        [
            "1 thumbs",
            "2 thumbs",
            "1 thumbs",
            "語言已設定。",
            "Hello Sam!",
            "Sam，你好！",
            "At 25.",
            "在 -33.5。",
        ]
    );
    let store = &app.store;
    let rows: i64 = store
        .run(|c| {
            use pagebot::store::schema::users::dsl as u;
            Ok(u::users.filter(u::psid.eq(SAME)).count().get_result(c)?)
        })
        .await
        .unwrap();
    assert_eq!(rows, 2);
    let user = |page: &'static str| async move {
        store
            .run(move |c| users::find(c, page, SAME))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("a user on {page}"))
    };
    let (first, other) = (user(PAGE_ID).await, user(OTHER_PAGE).await);
    assert_eq!((first.thumbups, other.thumbups), (2, 1));
    assert_eq!(
        (
            first.chosen_locale.as_deref(),
            other.chosen_locale.as_deref()
        ),
        (None, Some("zh-TW"))
    );
    assert_eq!(
        (first.first_name.as_deref(), other.first_name.as_deref()),
        (Some("Sam"), Some("Sam"))
    );
    assert_eq!(store.thumbs_up_count(PAGE_ID, SAME).await.unwrap(), 2);
    assert_eq!(store.thumbs_up_count(OTHER_PAGE, SAME).await.unwrap(), 1);
    let places = |page: &'static str| async move {
        store
            .locations(page, SAME)
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.page_id, l.lat, l.long))
            .collect::<Vec<_>>()
    };
    assert_eq!(places(PAGE_ID).await, [(PAGE_ID.to_owned(), 25.0, 121.5)]);
    assert_eq!(
        places(OTHER_PAGE).await,
        [(OTHER_PAGE.to_owned(), -33.5, 151.0)]
    );
    assert_eq!(
        store.watermarks(PAGE_ID, SAME).await.unwrap().read,
        Some(1_700_000_000_100)
    );
    assert_eq!(
        store.watermarks(OTHER_PAGE, SAME).await.unwrap().read,
        Some(1_700_000_000_200)
    );
    // Nothing was stored under no Page.
    assert_eq!(store.run(|c| users::find(c, "", SAME)).await.unwrap(), None);
    assert_eq!(store.thumbs_up_count("", SAME).await.unwrap(), 0);

    // Each reply's record carries its event's Page.
    let inbox = app.inbox().await;
    let recorded = store.run(deliveries::all).await.unwrap();
    assert_eq!(recorded.len(), 8);
    let mut pages = std::collections::BTreeMap::new();
    for delivery in &recorded {
        let event = inbox.iter().find(|e| e.id == delivery.event_id).unwrap();
        assert_eq!(Some(&delivery.page_id), event.page_id.as_ref());
        *pages.entry(delivery.page_id.as_str()).or_insert(0) += 1;
    }
    assert_eq!(
        pages.into_iter().collect::<Vec<_>>(),
        [(PAGE_ID, 4), (OTHER_PAGE, 4)]
    );
});

// The migration.

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// The version of 2026-12-11-000001_users_per_page, as diesel records it.
const USERS_PER_PAGE: &str = "20261211000001";
/// The version of 2026-12-11-000004_recount_thumbups.
const RECOUNT_THUMBUPS: &str = "20261211000004";

/// Runs the pending migrations of `conn`'s backend whose version `run` accepts, oldest first;
/// returns their versions, or the first one's error.
fn try_migrate(conn: &mut DbConn, run: impl Fn(&str) -> bool) -> Result<Vec<String>, String> {
    fn each<DB, C, S>(
        conn: &mut C,
        source: S,
        run: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, String>
    where
        DB: diesel::backend::Backend,
        C: MigrationHarness<DB>,
        S: MigrationSource<DB>,
    {
        let pending = conn.pending_migrations(source).map_err(|e| e.to_string())?;
        let mut ran = Vec::new();
        for migration in pending {
            let version = migration.name().version().to_string();
            if run(&version) {
                conn.run_migration(&*migration)
                    .map_err(|e| format!("{version}: {e}"))?;
                ran.push(version);
            }
        }
        Ok(ran)
    }
    match conn {
        DbConn::Postgres(c) => each(c, POSTGRES_MIGRATIONS, run),
        DbConn::Sqlite(c) => each(c, SQLITE_MIGRATIONS, run),
    }
}

/// [`try_migrate`], which must succeed.
fn migrate(conn: &mut DbConn, run: impl Fn(&str) -> bool) -> Vec<String> {
    try_migrate(conn, run).unwrap()
}

/// A connection to `database`, migrated up to the version before users_per_page.
fn before_users_per_page(database: &TestDatabase) -> DbConn {
    let target = DatabaseTarget::parse(database.url()).unwrap();
    let mut conn = DbManager::new(target).open().unwrap();
    let ran = migrate(&mut conn, |v| v < USERS_PER_PAGE);
    assert_eq!(ran.last().map(String::as_str), Some("20261210000001"));
    conn
}

/// Runs users_per_page alone.
fn run_users_per_page(conn: &mut DbConn) {
    assert_eq!(migrate(conn, |v| v == USERS_PER_PAGE), [USERS_PER_PAGE]);
}

/// The rows of `sql`, on whichever backend `conn` is.
fn rows<T>(conn: &mut DbConn, sql: &str) -> Vec<T>
where
    T: QueryableByName<diesel::pg::Pg> + QueryableByName<diesel::sqlite::Sqlite> + 'static,
{
    match conn {
        DbConn::Postgres(c) => diesel::sql_query(sql).load(c).unwrap(),
        DbConn::Sqlite(c) => diesel::sql_query(sql).load(c).unwrap(),
    }
}

#[derive(Debug, PartialEq, QueryableByName)]
struct Fact {
    #[diesel(sql_type = BigInt)]
    event_id: i64,
    #[diesel(sql_type = Text)]
    psid: String,
    #[diesel(sql_type = Text)]
    page_id: String,
}

#[derive(Debug, PartialEq, QueryableByName)]
struct UserRow {
    #[diesel(sql_type = Text)]
    page_id: String,
    #[diesel(sql_type = Text)]
    psid: String,
    #[diesel(sql_type = Nullable<Text>)]
    first_name: Option<String>,
    #[diesel(sql_type = BigInt)]
    thumbups: i64,
    #[diesel(sql_type = Nullable<Text>)]
    chosen_locale: Option<String>,
}

#[derive(Debug, PartialEq, QueryableByName)]
struct WatermarkRow {
    #[diesel(sql_type = Text)]
    page_id: String,
    #[diesel(sql_type = Text)]
    psid: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    watermark: i64,
}

#[derive(Debug, PartialEq, QueryableByName)]
struct DeliveryRow {
    #[diesel(sql_type = BigInt)]
    event_id: i64,
    #[diesel(sql_type = Integer)]
    seq: i32,
    #[diesel(sql_type = Nullable<Text>)]
    psid: Option<String>,
    #[diesel(sql_type = Text)]
    page_id: String,
}

/// Every handler fact table, with the values of its other required columns (in the shape
/// before users_per_page).
const FACT_TABLES: &[(&str, &str, &str)] = &[
    ("thumbs_up", "sticker_id", "'369239263222822'"),
    ("locations", "seq, lat, long", "0, 1.5, 2.5"),
    ("media", "seq, kind", "0, 'image'"),
    ("optins", "ref", "'r'"),
    ("account_links", "status", "'linked'"),
    ("echoes", "mid", "'m'"),
    ("reactions", "reaction", "'love'"),
    ("referrals", "ref", "'r'"),
    ("handovers", "action, raw", "'pass_thread_control', '{}'"),
];

/// Inbox events `(id, page_id, psid)`, users `(psid, page_id)`, a fact `(event_id, psid)` in
/// every fact table, deliveries `(event_id, seq, psid)` and watermarks `(psid, kind)`.
struct OldRows<'a> {
    events: &'a [(i64, Option<&'a str>, &'a str)],
    users: &'a [(&'a str, Option<&'a str>)],
    facts: &'a [(i64, &'a str)],
    deliveries: &'a [(i64, i32, Option<&'a str>)],
    watermarks: &'a [(&'a str, &'a str)],
}

fn text(value: Option<&str>) -> String {
    value.map_or("NULL".to_owned(), |v| format!("'{v}'"))
}

/// Stores `old` in the shape before users_per_page, with plain SQL both backends take.
fn fill(conn: &mut DbConn, old: &OldRows<'_>) {
    let mut sql = String::new();
    for (id, page, psid) in old.events {
        sql.push_str(&format!(
            "INSERT INTO inbox_events (id, dedupe_key, page_id, psid, event_time, kind, raw, \
             status, available_at, received_at) VALUES ({id}, 'k{id}', {}, '{psid}', {id}, \
             'SIMPLE_TEXT', '{{}}', 'done', 0, 0);\n",
            text(*page)
        ));
    }
    for (n, (psid, page)) in old.users.iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO users (psid, page_id, first_name, thumbups, created_at, updated_at, \
             chosen_locale) VALUES ('{psid}', {}, 'name of {psid}', {n}, 1, 2, 'fr');\n",
            text(*page)
        ));
    }
    for (table, columns, values) in FACT_TABLES {
        for (event_id, psid) in old.facts {
            sql.push_str(&format!(
                "INSERT INTO {table} (event_id, psid, event_time, created_at, {columns}) \
                 VALUES ({event_id}, '{psid}', {event_id}, 0, {values});\n"
            ));
        }
    }
    for (event_id, seq, psid) in old.deliveries {
        sql.push_str(&format!(
            "INSERT INTO deliveries (event_id, seq, psid, request, status, created_at) \
             VALUES ({event_id}, {seq}, {}, '{{}}', 'sent', 0);\n",
            text(*psid)
        ));
    }
    for (n, (psid, kind)) in old.watermarks.iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO watermarks (psid, kind, watermark, updated_at) \
             VALUES ('{psid}', '{kind}', {n}, 0);\n"
        ));
    }
    conn.batch_execute(&sql).unwrap();
}

/// Each fact table's rows, as `(event_id, psid, page_id)`, against what is `expected`.
fn assert_facts(conn: &mut DbConn, expected: &[(i64, &str, &str)]) {
    let expected: Vec<Fact> = expected
        .iter()
        .map(|(event_id, psid, page_id)| Fact {
            event_id: *event_id,
            psid: (*psid).to_owned(),
            page_id: (*page_id).to_owned(),
        })
        .collect();
    for (table, _, _) in FACT_TABLES {
        let got: Vec<Fact> = rows(
            conn,
            &format!("SELECT event_id, psid, page_id FROM {table} ORDER BY event_id"),
        );
        assert_eq!(got, expected, "{table}");
    }
}

fn user_row(page_id: &str, psid: &str, thumbups: i64) -> UserRow {
    UserRow {
        page_id: page_id.to_owned(),
        psid: psid.to_owned(),
        first_name: Some(format!("name of {psid}")),
        thumbups,
        chosen_locale: Some("fr".to_owned()),
    }
}

fn users_of(conn: &mut DbConn) -> Vec<UserRow> {
    rows(
        conn,
        "SELECT page_id, psid, first_name, thumbups, chosen_locale FROM users ORDER BY psid",
    )
}

fn watermarks_of(conn: &mut DbConn) -> Vec<WatermarkRow> {
    rows(
        conn,
        "SELECT page_id, psid, kind, watermark FROM watermarks ORDER BY psid, kind",
    )
}

fn watermark(page_id: &str, psid: &str, kind: &str, watermark: i64) -> WatermarkRow {
    WatermarkRow {
        page_id: page_id.to_owned(),
        psid: psid.to_owned(),
        kind: kind.to_owned(),
        watermark,
    }
}

fn deliveries_of(conn: &mut DbConn) -> Vec<DeliveryRow> {
    rows(
        conn,
        "SELECT event_id, seq, psid, page_id FROM deliveries ORDER BY event_id, seq",
    )
}

fn delivery(event_id: i64, seq: i32, psid: Option<&str>, page_id: &str) -> DeliveryRow {
    DeliveryRow {
        event_id,
        seq,
        psid: psid.map(str::to_owned),
        page_id: page_id.to_owned(),
    }
}

fn existing_rows_get_the_page_of_their_event_else_their_user_on_two_pages(database: TestDatabase) {
    let mut conn = before_users_per_page(&database);
    fill(
        &mut conn,
        &OldRows {
            // Event 3 named no Page; events 4 to 6 were purged (their facts outlive them).
            events: &[
                (1, Some("P1"), "u1"),
                (2, Some("P2"), "u1"),
                (3, None, "u1"),
                (7, Some("P2"), "u2"),
            ],
            users: &[
                ("u1", Some("P1")),
                ("u2", None),
                ("u3", Some("P2")),
                ("u4", Some("")),
            ],
            facts: &[
                (1, "u1"),
                (2, "u1"),
                (3, "u1"),
                (4, "u3"),
                (5, "u2"),
                (6, "u9"),
                (7, "u2"),
            ],
            deliveries: &[
                (1, 0, Some("u1")),
                (3, 0, Some("u1")),
                (3, 1, None),
                (7, 0, Some("u2")),
            ],
            watermarks: &[
                ("u1", "read"),
                ("u2", "delivery"),
                ("u3", "read"),
                ("u9", "read"),
            ],
        },
    );
    run_users_per_page(&mut conn);

    assert_facts(
        &mut conn,
        &[
            // The event's Page, even where the user's differs.
            (1, "u1", "P1"),
            (2, "u1", "P2"),
            // An event without one, or none left: the user's Page.
            (3, "u1", "P1"),
            (4, "u3", "P2"),
            // Neither, and two Pages known: no Page.
            (5, "u2", ""),
            (6, "u9", ""),
            (7, "u2", "P2"),
        ],
    );
    assert_eq!(
        deliveries_of(&mut conn),
        [
            delivery(1, 0, Some("u1"), "P1"),
            delivery(3, 0, Some("u1"), "P1"),
            delivery(3, 1, None, ""),
            delivery(7, 0, Some("u2"), "P2"),
        ]
    );
    assert_eq!(
        watermarks_of(&mut conn),
        [
            watermark("P1", "u1", "read", 0),
            watermark("", "u2", "delivery", 1),
            watermark("P2", "u3", "read", 2),
            watermark("", "u9", "read", 3),
        ]
    );
    // Every user kept, with everything they had; their own Page, else none.
    assert_eq!(
        users_of(&mut conn),
        [
            user_row("P1", "u1", 0),
            user_row("", "u2", 1),
            user_row("P2", "u3", 2),
            user_row("", "u4", 3),
        ]
    );

    // The key is the Page and the PSID now: u1 on P2 is a user of their own.
    let added = users::ensure(&mut conn, "P2", "u1").unwrap();
    assert_eq!((added.first_name, added.thumbups), (None, 0));
    let kept = users::find(&mut conn, "P1", "u1").unwrap().unwrap();
    assert_eq!(kept.first_name.as_deref(), Some("name of u1"));

    // recount_thumbups counts each user's thumbs-up on their own Page: u1's event 2 went to
    // P2, so it is P2's u1's, not P1's.
    migrate(&mut conn, |v| v > USERS_PER_PAGE && v < RECOUNT_THUMBUPS);
    assert_eq!(
        migrate(&mut conn, |v| v == RECOUNT_THUMBUPS),
        [RECOUNT_THUMBUPS]
    );
    let mut counts: Vec<(String, String, i64)> = users_of(&mut conn)
        .into_iter()
        .map(|u| (u.page_id, u.psid, u.thumbups))
        .collect();
    counts.sort();
    let expected = [
        ("", "u2", 1),
        ("", "u4", 0),
        ("P1", "u1", 2),
        ("P2", "u1", 1),
        ("P2", "u3", 1),
    ]
    .map(|(page, psid, n)| (page.to_owned(), psid.to_owned(), n));
    assert_eq!(counts, expected);
}

fn existing_rows_without_a_page_get_the_only_page_of_the_database(database: TestDatabase) {
    let mut conn = before_users_per_page(&database);
    fill(
        &mut conn,
        &OldRows {
            events: &[(1, Some("P1"), "u1"), (3, None, "u2")],
            users: &[("u1", Some("P1")), ("u2", None), ("u4", Some(""))],
            facts: &[(1, "u1"), (3, "u2"), (5, "u2"), (6, "u9")],
            deliveries: &[(3, 0, None), (3, 1, Some("u2"))],
            watermarks: &[("u2", "read"), ("u9", "delivery")],
        },
    );
    run_users_per_page(&mut conn);

    assert_facts(
        &mut conn,
        &[
            (1, "u1", "P1"),
            (3, "u2", "P1"),
            (5, "u2", "P1"),
            (6, "u9", "P1"),
        ],
    );
    assert_eq!(
        deliveries_of(&mut conn),
        [delivery(3, 0, None, "P1"), delivery(3, 1, Some("u2"), "P1")]
    );
    assert_eq!(
        watermarks_of(&mut conn),
        [
            watermark("P1", "u2", "read", 0),
            watermark("P1", "u9", "delivery", 1)
        ]
    );
    assert_eq!(
        users_of(&mut conn),
        [
            user_row("P1", "u1", 0),
            user_row("P1", "u2", 1),
            user_row("P1", "u4", 2),
        ]
    );
}

fn a_database_without_a_page_keeps_its_rows_under_none(database: TestDatabase) {
    let mut conn = before_users_per_page(&database);
    fill(
        &mut conn,
        &OldRows {
            events: &[(1, None, "u1")],
            users: &[("u1", None)],
            facts: &[(1, "u1"), (2, "u1")],
            deliveries: &[(1, 0, Some("u1"))],
            watermarks: &[("u1", "read")],
        },
    );
    run_users_per_page(&mut conn);

    assert_facts(&mut conn, &[(1, "u1", ""), (2, "u1", "")]);
    assert_eq!(deliveries_of(&mut conn), [delivery(1, 0, Some("u1"), "")]);
    assert_eq!(watermarks_of(&mut conn), [watermark("", "u1", "read", 0)]);
    assert_eq!(users_of(&mut conn), [user_row("", "u1", 0)]);
    // New rows default to no Page as well.
    conn.batch_execute(
        "INSERT INTO thumbs_up (event_id, psid, sticker_id, event_time, created_at) \
         VALUES (9, 'u1', 's', 0, 0)",
    )
    .unwrap();
    let defaulted: Vec<Fact> = rows(
        &mut conn,
        "SELECT event_id, psid, page_id FROM thumbs_up WHERE event_id = 9",
    );
    assert_eq!(defaulted[0].page_id, "");
}

#[derive(Debug, PartialEq, QueryableByName)]
struct Note {
    #[diesel(sql_type = Text)]
    psid: String,
    #[diesel(sql_type = Text)]
    note: String,
}

fn a_foreign_key_to_users_stops_the_migration_before_anything_changes(database: TestDatabase) {
    let mut conn = before_users_per_page(&database);
    let old = OldRows {
        events: &[(1, Some("P1"), "u1")],
        users: &[("u1", Some("P1"))],
        facts: &[(1, "u1")],
        deliveries: &[(1, 0, Some("u1"))],
        watermarks: &[("u1", "read")],
    };
    fill(&mut conn, &old);
    // A bot's table that references users by PSID: rebuilding or re-keying users would
    // delete (cascade) or orphan its rows.
    conn.batch_execute(
        "CREATE TABLE bot_notes (psid TEXT NOT NULL REFERENCES users (psid) ON DELETE CASCADE, \
         note TEXT NOT NULL); INSERT INTO bot_notes (psid, note) VALUES ('u1', 'kept');",
    )
    .unwrap();
    let refused = try_migrate(&mut conn, |v| v == USERS_PER_PAGE);
    assert!(refused.is_err(), "{refused:?}");
    let notes = |conn: &mut DbConn| -> Vec<Note> { rows(conn, "SELECT psid, note FROM bot_notes") };
    let kept = [Note {
        psid: "u1".into(),
        note: "kept".into(),
    }];
    assert_eq!(notes(&mut conn), kept);

    // Nothing of it was left half done: once the key is gone, it runs as on any database.
    conn.batch_execute(
        "CREATE TABLE bot_notes_unkeyed (psid TEXT NOT NULL, note TEXT NOT NULL); \
         INSERT INTO bot_notes_unkeyed SELECT psid, note FROM bot_notes; DROP TABLE bot_notes; \
         ALTER TABLE bot_notes_unkeyed RENAME TO bot_notes;",
    )
    .unwrap();
    run_users_per_page(&mut conn);
    assert_facts(&mut conn, &[(1, "u1", "P1")]);
    assert_eq!(users_of(&mut conn), [user_row("P1", "u1", 0)]);
    assert_eq!(notes(&mut conn), kept);
}

/// Each migration test on SQLite, and on Postgres when PAGEBOT_TEST_DATABASE_URL was set at
/// build time (reported as ignored without it).
macro_rules! migration_test {
    ($name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::TestDatabase::sqlite());
            }

            #[test]
            #[cfg_attr(
                not(pagebot_postgres_tests),
                ignore = "needs PAGEBOT_TEST_DATABASE_URL"
            )]
            fn postgres() {
                super::$name(super::TestDatabase::postgres(
                    &std::env::var("PAGEBOT_TEST_DATABASE_URL")
                        .expect("PAGEBOT_TEST_DATABASE_URL was set at build time; set it again"),
                ));
            }
        }
    };
}

migration_test!(existing_rows_get_the_page_of_their_event_else_their_user_on_two_pages);
migration_test!(existing_rows_without_a_page_get_the_only_page_of_the_database);
migration_test!(a_database_without_a_page_keeps_its_rows_under_none);
migration_test!(a_foreign_key_to_users_stops_the_migration_before_anything_changes);
