//! A real headless Chromium for browser tests (feature `browser-tests`): [`Browser::start`]
//! starts chromedriver on a free port and opens a headless session through it; its
//! [`client`](Browser::client) is a [`fantoccini::Client`]. Pair it with a [`super::TestApp`]
//! (`TestApp::spawn_dev` for the chat page):
//!
//! ```no_run
//! # async fn demo() {
//! use pagebot::testing::{TestApp, TestDatabase, browser::Browser};
//! let app = TestApp::spawn_dev(TestDatabase::sqlite()).await;
//! let browser = Browser::start().await.expect("chromium and chromedriver");
//! browser.open(&app, "/dev/chat").await;
//! browser.screenshot("docs/screenshots/chat.png").await;
//! browser.close().await;
//! # }
//! ```
//!
//! Chromium and its driver are Debian's (`apt-get install chromium chromium-driver`):
//! `/usr/bin/chromium` and `/usr/bin/chromedriver`, or where `PAGEBOT_CHROMIUM` and
//! `PAGEBOT_CHROMEDRIVER` say.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::TestApp;

/// How long a step waits for what it expects on the page.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// The window's size: the chat page's two columns side by side.
const WINDOW: (u32, u32) = (1100, 860);

/// chromedriver and a headless Chromium session through it; both end when dropped.
pub struct Browser {
    client: Client,
    driver: tokio::process::Child,
}

fn program(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless Chromium session; the
    /// error says what is missing.
    pub async fn start() -> Result<Self, String> {
        let chromium = program("PAGEBOT_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = program("PAGEBOT_CHROMEDRIVER", "/usr/bin/chromedriver");
        for (what, path) in [("chromium", &chromium), ("chromedriver", &chromedriver)] {
            if !path.exists() {
                return Err(format!(
                    "{what} is not at {}: apt-get install chromium chromium-driver (or set \
                     PAGEBOT_CHROMIUM / PAGEBOT_CHROMEDRIVER)",
                    path.display()
                ));
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .map_err(|e| format!("no free port for chromedriver: {e}"))?;
        let driver = tokio::process::Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", chromedriver.display()))?;
        let mut capabilities = Capabilities::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--hide-scrollbars",
                    "--lang=en-US",
                    format!("--window-size={},{}", WINDOW.0, WINDOW.1),
                ],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        // chromedriver takes a moment to listen.
        let client = loop {
            let builder = ClientBuilder::rustls()
                .map_err(|e| format!("cannot set up TLS for the WebDriver client: {e}"))?
                .capabilities(capabilities.clone())
                .connect(&url)
                .await;
            match builder {
                Ok(client) => break client,
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(format!("chromedriver on {url} never opened a session: {e}"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Ok(Self { client, driver })
    }

    /// The WebDriver client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `path` of `app`.
    ///
    /// # Panics
    ///
    /// If the browser cannot load it.
    pub async fn open(&self, app: &TestApp, path: &str) {
        let url = format!("{}{path}", app.address);
        if let Err(e) = self.client.goto(&url).await {
            panic!("the browser cannot open {url}: {e}");
        }
    }

    /// Waits until an element matches `css`, and returns it.
    ///
    /// # Panics
    ///
    /// If none does within [`PATIENCE`].
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!("nothing matched {css} within {PATIENCE:?}: {e}"),
        }
    }

    /// Waits until the page's text holds `text`.
    ///
    /// # Panics
    ///
    /// If it does not within [`PATIENCE`].
    pub async fn wait_for_text(&self, text: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let body = self.client.find(Locator::Css("body")).await;
            let shown = match body {
                Ok(body) => body.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if shown.contains(text) {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("the page never showed {text:?}; it shows:\n{shown}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the first element matching `css` once it is there. A page that redraws
    /// (the chat page's polling) may replace the element between finding and clicking it:
    /// then it is found again.
    ///
    /// # Panics
    ///
    /// If none is there within [`PATIENCE`], or the click keeps failing.
    pub async fn click(&self, css: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let element = self.wait_for(css).await;
            match element.click().await {
                Ok(()) => return,
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    panic!("cannot click {css}: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Saves a PNG screenshot of the window at `path` (its folder is created).
    ///
    /// # Panics
    ///
    /// If the screenshot cannot be taken or written.
    pub async fn screenshot(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let png = match self.client.screenshot().await {
            Ok(png) => png,
            Err(e) => panic!("cannot take a screenshot: {e}"),
        };
        if let Some(folder) = path.parent() {
            let _ = std::fs::create_dir_all(folder);
        }
        if let Err(e) = std::fs::write(path, png) {
            panic!("cannot write {}: {e}", path.display());
        }
    }

    /// Ends the session and chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }
}
