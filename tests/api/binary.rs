//! The real `pagebot serve` process: a signed webhook answered through the fake Graph API,
//! SIGHUP reloads (a bad one changes nothing), SIGTERM stops it cleanly.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::helpers::*;
use pagebot::testing::{FakeGraph, TEST_APP_SECRET};
use pagebot::webhook::signature::sign_sha256;

/// A `pagebot serve` child process and the lines it logs.
/// Distinctive, so that finding it anywhere in the logs is a leak.
const VERIFY_TOKEN: &str = "vt-4e1f9c2b";

struct Server {
    child: Child,
    port: u16,
    logs: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    fn start(dir: &Path, graph: &FakeGraph) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pagebot"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.join("bot.db").display()),
            )
            .env("PAGEBOT_POLICY", dir.join("routing.yaml"))
            .env("PAGEBOT_LOCALES", dir.join("locales"))
            .env("PAGEBOT_APP_SECRET", TEST_APP_SECRET)
            .env("PAGEBOT_VERIFY_TOKEN", VERIFY_TOKEN)
            .env("PAGEBOT_PAGE_TOKEN", pagebot::testing::FAKE_PAGE_TOKEN)
            .env("PAGEBOT_GRAPH_URL", graph.url())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("pagebot starts");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, logs) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Self {
            child,
            port: 0,
            logs,
            seen: Vec::new(),
        };
        let line = server.wait_for_log("pagebot listening on port");
        server.port = line
            .rsplit(' ')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port in the log line");
        server
    }

    /// Waits for a log line containing `needle`, or panics with what was logged.
    fn wait_for_log(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.logs.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no log line with {needle:?}; got:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    async fn post(&self, body: &[u8]) -> reqwest::StatusCode {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/webhook", self.port))
            .header(
                "X-Hub-Signature-256",
                sign_sha256(TEST_APP_SECRET.as_bytes(), body),
            )
            .body(body.to_vec())
            .send()
            .await
            .expect("the server answers")
            .status()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn copy_bot(to: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(root.join("routing.yaml"), to.join("routing.yaml")).unwrap();
    let locales = to.join("locales");
    for tag in ["en-US", "zh-TW"] {
        std::fs::create_dir_all(locales.join(tag)).unwrap();
        std::fs::copy(
            root.join("locales").join(tag).join("bot.ftl"),
            locales.join(tag).join("bot.ftl"),
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_reloads_on_sighup_and_stops_on_sigterm() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    copy_bot(dir.path());
    let graph = FakeGraph::start().await;
    graph.set_profile("u_bin", serde_json::json!({"first_name": "Bea"}));
    let mut server = Server::start(dir.path(), &graph);

    assert_eq!(
        server.post(&text_message("u_bin", "m_b1", "hi", 1)).await,
        200
    );
    graph.wait_for_sent(2, PATIENCE).await;
    assert_eq!(graph.texts_to("u_bin"), ["Hello Bea! Nice to meet you."]);

    // A broken policy: the reload is refused and the bot keeps answering as before.
    let policy = dir.path().join("routing.yaml");
    let good = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, good.replace("handler: dummy", "handler: dummmy")).unwrap();
    server.signal("HUP");
    let refused = server.wait_for_log("reload refused");
    assert!(refused.contains("SIGHUP"), "{refused}");
    server.wait_for_log("unknown handler \"dummmy\"");
    assert_eq!(
        server
            .post(&text_message("u_bin", "m_b2", "hello", 2))
            .await,
        200
    );
    graph.wait_for_sent(4, PATIENCE).await;
    assert_eq!(graph.texts_to("u_bin").len(), 2);

    // A good change is taken up.
    let locale = dir.path().join("locales/en-US/bot.ftl");
    let texts = std::fs::read_to_string(&locale).unwrap();
    std::fs::write(&policy, good).unwrap();
    std::fs::write(
        &locale,
        texts.replace("Hello { $name }! Nice to meet you.", "Howdy { $name }!"),
    )
    .unwrap();
    server.signal("HUP");
    server.wait_for_log("policy and locales reloaded");
    assert_eq!(
        server.post(&text_message("u_bin", "m_b3", "hi", 3)).await,
        200
    );
    graph.wait_for_sent(6, PATIENCE).await;
    assert_eq!(graph.texts_to("u_bin")[2], "Howdy Bea!");

    // SIGTERM: a clean exit, promptly.
    server.signal("TERM");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verify_token_never_reaches_the_logs() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    copy_bot(dir.path());
    let graph = FakeGraph::start().await;
    let mut server = Server::start(dir.path(), &graph);
    let url = format!(
        "http://127.0.0.1:{}/webhook?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=c42",
        server.port
    );
    let answer = reqwest::get(&url).await.expect("the server answers");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "c42");
    // The request line is logged (method and path), its query string is not.
    let line = server.wait_for_log("GET /webhook 200");
    assert!(!line.contains("hub."), "{line}");
    server.wait_for_log("webhook verified");
    assert!(
        server.seen.iter().all(|l| !l.contains(VERIFY_TOKEN)),
        "{}",
        server.seen.join("\n")
    );
}
