//! Shared by the integration tests.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

pub use pagebot::testing::{TestApp, TestBot, TestDatabase};

/// How long a test waits for the pipeline.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// Runs the test body once per database backend, each with a fresh database as `$db`.
#[macro_export]
macro_rules! db_test {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::helpers::init_logs();
                let $db = $crate::helpers::TestDatabase::sqlite();
                $body
            }

            #[cfg(pagebot_postgres_tests)]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::helpers::init_logs();
                let $db = $crate::helpers::TestDatabase::postgres(
                    &std::env::var("PAGEBOT_TEST_DATABASE_URL")
                        .expect("PAGEBOT_TEST_DATABASE_URL was set at build time; set it again"),
                );
                $body
            }
        }
    };
}

/// Logs only when `TEST_LOG` is set.
pub fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = env_logger::builder().is_test(true).try_init();
    }
}

/// The path of a file under tests/fixtures.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A fixture's exact bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// The Page id of the fixtures.
pub const PAGE_ID: &str = "104857600000001";

/// A webhook body with one text message.
pub fn text_message(psid: &str, mid: &str, text: &str, timestamp: i64) -> Vec<u8> {
    envelope(vec![json!({
        "sender": {"id": psid},
        "recipient": {"id": PAGE_ID},
        "timestamp": timestamp,
        "message": {"mid": mid, "text": text}
    })])
}

/// A webhook body with the given messaging items in one entry.
pub fn envelope(items: Vec<Value>) -> Vec<u8> {
    json!({
        "object": "page",
        "entry": [{"id": PAGE_ID, "time": 1_700_000_000_000i64, "messaging": items}]
    })
    .to_string()
    .into_bytes()
}
