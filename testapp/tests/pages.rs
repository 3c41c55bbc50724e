//! testapp serving two Pages (`pages.toml`): the converter and the help desk, each with its
//! own policy, texts and token, over HTTP; a feedback note is counted per Page, since the same
//! person is two users on two Pages. On a fresh database: Postgres when
//! PAGEBOT_TEST_DATABASE_URL is set, else SQLite.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use pagebot::config::layers::load_with_env;
use pagebot::config::{BotArgs, PageSettings, SecretFlags, Tokens};
use pagebot::testing::{TestApp, TestBot, TestDatabase, Webhook};
use serde_json::{Value, json};

const CONVERTER: &str = "104857600000001";
const HELPDESK: &str = "104857600000002";
const CONVERTER_TOKEN: &str = "converter-token";
const HELPDESK_TOKEN: &str = "helpdesk-token";
const PATIENCE: Duration = Duration::from_secs(15);

/// The Pages of pages.toml, their tokens from a made-up environment and their files found
/// from this folder (wherever the test runs).
fn pages() -> Vec<PageSettings> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = [
        ("TESTAPP_CONVERTER_TOKEN", CONVERTER_TOKEN),
        ("TESTAPP_HELPDESK_TOKEN", HELPDESK_TOKEN),
    ]
    .map(|(k, v)| (OsString::from(k), OsString::from(v)));
    let loaded = load_with_env(
        Some(&root.join("pages.toml")),
        &BotArgs::default(),
        SecretFlags::default(),
        env,
    )
    .expect("pages.toml loads");
    let mut pages = loaded.pages(Tokens::Required).expect("both tokens are set");
    for page in &mut pages {
        page.policy = root.join(&page.policy);
        page.locales = root.join(&page.locales);
    }
    pages
}

fn texts(sent: &[Value], psid: &str) -> Vec<String> {
    sent.iter()
        .filter(|b| b.pointer("/recipient/id").and_then(Value::as_str) == Some(psid))
        .filter_map(|b| b.pointer("/message/text").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pages_answer_with_their_own_policy_texts_and_token() {
    let pages = pages();
    assert_eq!(
        pages.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["Converter", "Help desk"]
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bot = TestBot::new(
        root.join("routing.yaml"),
        root.join("locales"),
        testapp::registry(),
    );
    let app = TestApp::spawn_with(TestDatabase::from_env(), bot, |s| s.pages = pages)
        .await
        .expect("testapp serves two Pages");
    app.graph.add_page_token(CONVERTER_TOKEN);
    app.graph.add_page_token(HELPDESK_TOKEN);
    // Sam writes to both Pages; Facebook gives them a PSID per Page, and here the same one.
    app.graph.set_profile("sam", json!({"first_name": "Sam"}));
    let turns = [
        (CONVERTER, "21 C"),
        (HELPDESK, "salut"),
        (CONVERTER, "feedback: more units"),
        (HELPDESK, "feedback: la page est claire"),
        (HELPDESK, "feedback: merci"),
    ];
    for (page, text) in turns {
        let webhook = Webhook::text("sam", text).page(page);
        assert_eq!(app.post(&webhook).await.status(), 200);
        app.wait_until_processed(PATIENCE).await;
    }
    assert_eq!(
        texts(&app.graph.sent_with_token(CONVERTER_TOKEN), "sam"),
        [
            "21 °C is 69.8 °F.",
            "Thanks, noted! Notes from you so far: 1."
        ]
    );
    assert_eq!(
        texts(&app.graph.sent_with_token(HELPDESK_TOKEN), "sam"),
        [
            "Bonjour Sam ! Écrivez « feedback : » suivi de votre remarque.",
            "Merci, c'est noté ! Vos remarques jusqu'ici : 1.",
            "Merci, c'est noté ! Vos remarques jusqu'ici : 2.",
        ]
    );
    // The notes are stored under their Page.
    let notes = app.store.run(testapp::feedback::all).await.unwrap();
    let stored: Vec<(&str, &str)> = notes
        .iter()
        .map(|n| (n.page_id.as_str(), n.note.as_str()))
        .collect();
    assert_eq!(
        stored,
        [
            (CONVERTER, "more units"),
            (HELPDESK, "la page est claire"),
            (HELPDESK, "merci")
        ]
    );
    app.stop().await;
}
