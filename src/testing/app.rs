//! A real pagebot server for tests: a fresh database, a fake Graph API, port 0.
//!
//! ```no_run
//! # async fn demo() {
//! use pagebot::testing::{TestApp, TestDatabase};
//! let app = TestApp::spawn(TestDatabase::sqlite()).await;
//! let response = app.post_webhook(br#"{"object":"page","entry":[]}"#).await;
//! assert_eq!(response.status(), 200);
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use rand::Rng;
use secrecy::SecretString;

use super::FakeGraph;
use crate::Registry;
use crate::config::Settings;
use crate::startup::{Application, StartError, StopHandle};
use crate::store::{InboxEvent, Store, StoreError, inbox};
use crate::webhook::signature::sign_sha256;

/// The app secret every [`TestApp`] checks signatures with.
pub const TEST_APP_SECRET: &str = "pagebot-test-secret";
/// The verify token every [`TestApp`] expects.
pub const TEST_VERIFY_TOKEN: &str = "pagebot-test-verify-token";
/// The bearer token of every [`TestApp`]'s send API.
pub const TEST_API_TOKEN: &str = "pagebot-test-api-token";
/// How long a conversation of a [`TestApp`] (and of `pagebot simulate`) stays at its step
/// without activity: the default of `PAGEBOT_CONVERSATION_IDLE_SECS`.
pub const CONVERSATION_IDLE: Duration = Duration::from_secs(3600);

/// A database that exists for one test and is removed when dropped.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    /// A database the caller owns: left as it is.
    Keep,
    Directory(PathBuf),
    PostgresDatabase {
        admin_url: String,
        name: String,
    },
}

impl TestDatabase {
    /// A new SQLite file in a new temporary folder.
    ///
    /// # Panics
    ///
    /// If the folder cannot be created; [`TestDatabase::try_sqlite`] returns the error instead.
    #[cfg(any(test, feature = "testing"))]
    pub fn sqlite() -> Self {
        Self::try_sqlite().expect("cannot create a temporary folder")
    }

    /// A new SQLite file in a new temporary folder, or why the folder cannot be created.
    pub fn try_sqlite() -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("pagebot-test-{}", random_suffix()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            url: format!("sqlite://{}", dir.join("pagebot.db").display()),
            cleanup: Cleanup::Directory(dir),
        })
    }

    /// An existing database (`sqlite://FILE` or `postgres://...`), kept when dropped: what
    /// `pagebot simulate --database-url` uses.
    pub fn existing(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            cleanup: Cleanup::Keep,
        }
    }

    /// A new database on the Postgres server of `admin_url` (which names any database the
    /// test may connect to, e.g. `postgres://postgres@127.0.0.1:5432/postgres`).
    #[cfg(any(test, feature = "testing"))]
    pub fn postgres(admin_url: &str) -> Self {
        let name = format!("pagebot_test_{}", random_suffix());
        let mut admin = diesel::PgConnection::establish(admin_url)
            .expect("cannot connect to the Postgres test server");
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("cannot create a test database");
        let (base, query) = match admin_url.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (admin_url, String::new()),
        };
        let server = base
            .rsplit_once('/')
            .map(|(server, _)| server)
            .filter(|server| !server.ends_with('/'))
            .unwrap_or(base);
        Self {
            url: format!("{server}/{name}{query}"),
            cleanup: Cleanup::PostgresDatabase {
                admin_url: admin_url.to_owned(),
                name,
            },
        }
    }

    /// Postgres when `PAGEBOT_TEST_DATABASE_URL` is set, else SQLite.
    #[cfg(any(test, feature = "testing"))]
    pub fn from_env() -> Self {
        match std::env::var("PAGEBOT_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Self::postgres(&url),
            _ => Self::sqlite(),
        }
    }

    /// The `DATABASE_URL` of this database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Keep => {}
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::PostgresDatabase { admin_url, name } => {
                if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
                }
            }
        }
    }
}

fn random_suffix() -> String {
    format!("{:016x}", rand::rng().random::<u64>())
}

/// A running server with its own database and fake Graph API.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The fake Graph API the server talks to.
    pub graph: FakeGraph,
    /// A pool on the server's database, for assertions.
    pub store: Store,
    client: reqwest::Client,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    stop: StopHandle,
    reload: crate::startup::ReloadHandle,
    outbox: crate::outbox::Outbox,
    clock: crate::clock::Clock,
    // Dropped last: the database outlives the server that uses it. `None` once
    // [`TestApp::stop_keeping_database`] handed it back.
    database: Option<TestDatabase>,
}

/// What to serve in a [`TestApp`].
#[derive(Debug, Clone)]
pub struct TestBot {
    /// The routing policy.
    pub policy: PathBuf,
    /// The locales folder.
    pub locales: PathBuf,
    /// The handlers and senders.
    pub registry: Registry,
    /// The locale used when a user's is unknown or lacks a message.
    pub default_locale: String,
}

impl TestBot {
    /// The demo bot shipped in this crate (`routing.yaml`, `locales/`).
    pub fn demo() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        Self {
            policy: root.join("routing.yaml"),
            locales: root.join("locales"),
            registry: Registry::builtin(),
            default_locale: "en-US".to_owned(),
        }
    }

    /// A bot of `policy` and `locales` served with `registry`, default locale `en-US`.
    pub fn new(
        policy: impl Into<PathBuf>,
        locales: impl Into<PathBuf>,
        registry: Registry,
    ) -> Self {
        Self {
            policy: policy.into(),
            locales: locales.into(),
            registry,
            default_locale: "en-US".to_owned(),
        }
    }
}

impl TestApp {
    /// Starts the demo bot on `database`.
    #[cfg(any(test, feature = "testing"))]
    pub async fn spawn(database: TestDatabase) -> Self {
        Self::spawn_bot(database, TestBot::demo())
            .await
            .expect("the demo bot must start")
    }

    /// Starts the demo bot on `database` as `serve --dev` runs it: with the chat page
    /// (`/dev/chat`), and a webhook that checks no signature.
    #[cfg(any(test, feature = "testing"))]
    pub async fn spawn_dev(database: TestDatabase) -> Self {
        Self::spawn_with(database, TestBot::demo(), |s| s.dev = true)
            .await
            .expect("the demo bot must start in dev mode")
    }

    /// Starts `bot` on `database`; the error is what `serve` would have printed.
    pub async fn spawn_bot(database: TestDatabase, bot: TestBot) -> Result<Self, StartError> {
        Self::spawn_with(database, bot, |_| {}).await
    }

    /// Starts `bot` on `database` with the test settings as `configure` changes them, e.g.
    /// `|s| s.max_attempts = 1`. The test settings are fast: retries start at 50 ms, a
    /// rate-limited Page pauses 300 ms, the worker polls every 50 ms, 3 attempts.
    pub async fn spawn_with(
        database: TestDatabase,
        bot: TestBot,
        configure: impl FnOnce(&mut Settings),
    ) -> Result<Self, StartError> {
        let graph = FakeGraph::try_start()
            .await
            .map_err(|source| StartError::Bind {
                addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                source,
            })?;
        let mut settings = test_settings(&database, &bot, &graph);
        configure(&mut settings);
        let clock = settings.clock.clone();
        let app_migrations = bot.registry.app_migrations().cloned();
        let app = Application::build(settings, bot.registry).await?;
        let address = format!("http://127.0.0.1:{}", app.port());
        let stop = app.stop_handle();
        let reload = app.reload_handle();
        let outbox = app.outbox().clone();
        // Connected before the server runs: on SQLite, the migrations' check would otherwise
        // race the pipeline's first claims for the one write lock.
        let store = {
            let url = database.url().to_owned();
            tokio::task::spawn_blocking(move || {
                Store::connect_with(&url, 2, app_migrations.as_ref())
            })
            .await
            .map_err(|e| StoreError::Task(e.to_string()))??
        };
        let server = tokio::spawn(app.run_until_stopped());
        Ok(Self {
            address,
            graph,
            store,
            client: reqwest::Client::new(),
            server,
            stop,
            reload,
            outbox,
            clock,
            database: Some(database),
        })
    }

    /// Where a test queues messages the bot starts, as the app's own code would.
    pub fn outbox(&self) -> &crate::outbox::Outbox {
        &self.outbox
    }

    /// The clock the outbox's window rules read: pin it to put a user hours or days after
    /// their last message (`app.clock().set_ms(..)`).
    pub fn clock(&self) -> &crate::clock::Clock {
        &self.clock
    }

    /// POSTs `body` as JSON to `path` with `Authorization: Bearer token` (when given) and
    /// these extra headers: the send API as a client calls it.
    #[cfg(any(test, feature = "testing"))]
    pub async fn post_api(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: &serde_json::Value,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.address))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("the test server must answer")
    }

    /// GETs `path` with `Authorization: Bearer token` (when given).
    #[cfg(any(test, feature = "testing"))]
    pub async fn get_api(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("the test server must answer")
    }

    /// The `DATABASE_URL` of the server's database.
    pub fn database_url(&self) -> &str {
        self.database
            .as_ref()
            .map(TestDatabase::url)
            .unwrap_or_default()
    }

    /// POSTs `body` to /webhook signed with [`TEST_APP_SECRET`], as Facebook would.
    #[cfg(any(test, feature = "testing"))]
    pub async fn post_webhook(&self, body: &[u8]) -> reqwest::Response {
        let signature = sign_sha256(TEST_APP_SECRET.as_bytes(), body);
        self.post_webhook_with(body, &[("X-Hub-Signature-256", signature.as_str())])
            .await
    }

    /// POSTs a built [`Webhook`](super::Webhook), signed with [`TEST_APP_SECRET`].
    #[cfg(any(test, feature = "testing"))]
    pub async fn post(&self, webhook: &super::Webhook) -> reqwest::Response {
        self.post_webhook(&webhook.body()).await
    }

    /// POSTs a built [`Webhook`](super::Webhook), signed with [`TEST_APP_SECRET`]; the
    /// error, rather than a panic, if the server does not answer.
    pub async fn try_post_webhook(
        &self,
        webhook: &super::Webhook,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let signed = webhook.signed(TEST_APP_SECRET);
        self.client
            .post(format!("{}/webhook", self.address))
            .header("Content-Type", "application/json")
            .header("X-Hub-Signature-256", signed.signature)
            .body(signed.body)
            .send()
            .await
    }

    /// POSTs `body` to /webhook with exactly these extra headers.
    #[cfg(any(test, feature = "testing"))]
    pub async fn post_webhook_with(
        &self,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/webhook", self.address))
            .header("Content-Type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("the test server must answer")
    }

    /// GETs `path_and_query` from the server.
    #[cfg(any(test, feature = "testing"))]
    pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path_and_query}", self.address))
            .send()
            .await
            .expect("the test server must answer")
    }

    /// POSTs `body` as JSON to `path` on the server.
    #[cfg(any(test, feature = "testing"))]
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .json(body)
            .send()
            .await
            .expect("the test server must answer")
    }

    /// Reloads every Page's policy and locales, as SIGHUP does; the error is what SIGHUP would
    /// log (the Pages it names keep their running version).
    pub fn reload(&self) -> Result<(), StartError> {
        self.reload.reload()
    }

    /// Stops the server and lets the pipeline finish what it holds, then returns.
    pub async fn stop(mut self) {
        self.stop.stop(false).await;
        if let Err(e) = (&mut self.server).await {
            log::warn!("test app: server task ended abnormally: {e}");
        }
    }

    #[cfg(any(test, feature = "testing"))]
    /// Stops the server like [`TestApp::stop`] and hands its database back, to start another
    /// server on it (a restart, a deployment with other settings).
    pub async fn stop_keeping_database(mut self) -> TestDatabase {
        self.stop.stop(false).await;
        if let Err(e) = (&mut self.server).await {
            log::warn!("test app: server task ended abnormally: {e}");
        }
        self.database
            .take()
            .expect("the database stays with the app until it is handed back")
    }

    /// Every inbox row.
    #[cfg(any(test, feature = "testing"))]
    pub async fn inbox(&self) -> Vec<InboxEvent> {
        self.store.run(inbox::all).await.expect("inbox query")
    }

    /// Waits until no event is pending (processed, failed or dead), or panics after `timeout`.
    #[cfg(any(test, feature = "testing"))]
    pub async fn wait_until_processed(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let stats = self.store.run(inbox::stats).await.expect("inbox stats");
            if stats.pending == 0 {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("{} events still pending after {timeout:?}", stats.pending);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let stop = self.stop.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { stop.stop(false).await });
        }
        self.server.abort();
    }
}

fn test_settings(database: &TestDatabase, bot: &TestBot, graph: &FakeGraph) -> Settings {
    let graph_settings = graph.settings();
    Settings {
        bind: "127.0.0.1:0".parse().expect("loopback address"),
        dev: false,
        policy: bot.policy.clone(),
        locales: bot.locales.clone(),
        default_locale: bot.default_locale.clone(),
        database_url: SecretString::from(database.url()),
        db_pool_size: 6,
        app_secret: Some(SecretString::from(TEST_APP_SECRET)),
        verify_token: Some(SecretString::from(TEST_VERIFY_TOKEN)),
        page_token: graph_settings.page_token,
        admin_password: None,
        accept_sha1: false,
        graph_url: graph_settings.base_url,
        graph_version: graph_settings.version,
        graph_timeout: Duration::from_secs(5),
        workers: 4,
        max_attempts: 3,
        lease: Duration::from_secs(30),
        retry_base: Duration::from_millis(50),
        rate_limit_pause: Duration::from_millis(300),
        conversation_idle: CONVERSATION_IDLE,
        max_body_bytes: 1024 * 1024,
        db_timeout: Duration::from_secs(2),
        http_workers: 1,
        profile_ttl: Duration::from_secs(3600),
        poll_interval: Duration::from_millis(50),
        inbox_retention_days: None,
        api_token: Some(SecretString::from(TEST_API_TOKEN)),
        clock: crate::clock::Clock::system(),
        pages: vec![crate::config::PageSettings {
            id: None,
            name: "the Page".to_owned(),
            token: graph.settings().page_token,
            policy: bot.policy.clone(),
            locales: bot.locales.clone(),
            default_locale: bot.default_locale.clone(),
            thread_settings: None,
        }],
    }
}
