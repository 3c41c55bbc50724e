//! The database goes away and comes back: a Postgres cluster of the test's own (initdb in a
//! temporary folder, on a free port), stopped and started again under a running server.
//!
//! These tests need only the Postgres binaries (`initdb`, `postgres`: found in
//! `PAGEBOT_PG_BIN`, `/usr/lib/postgresql/*/bin`, or by `pg_config --bindir`), not a server;
//! where build.rs found none they are ignored. As root, the cluster runs as the `postgres`
//! user (initdb refuses root).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::*;
use pagebot::Registry;
use pagebot::store::{Store, deliveries, inbox};

/// A Postgres cluster in a temporary folder, stopped (by its postmaster's PID) and removed
/// when dropped.
pub(crate) struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// `runuser -u postgres --` when running as root.
    as_user: Option<&'static str>,
    server: Option<Child>,
}

impl Cluster {
    /// A new cluster, started.
    pub(crate) fn start() -> Self {
        let bin = postgres_bin()
            .expect("no Postgres binaries (set PAGEBOT_PG_BIN to the folder of initdb)");
        let dir = tempfile::Builder::new()
            .prefix("pagebot-pg-")
            .tempdir()
            .unwrap();
        let as_user = is_root().then_some("postgres");
        if let Some(user) = as_user {
            let chown = Command::new("chown")
                .args([user, &dir.path().display().to_string()])
                .status()
                .unwrap();
            assert!(chown.success(), "chown {user} of the cluster's folder");
        }
        let mut cluster = Self {
            bin,
            dir,
            port: free_port(),
            as_user,
            server: None,
        };
        let data = cluster.data();
        let init = cluster
            .command("initdb")
            .args(["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"])
            .args(["-E", "UTF8", "--locale", "C"])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        cluster.start_server();
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        match self.as_user {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub(crate) fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the postmaster and waits until it accepts connections.
    pub(crate) fn start_server(&mut self) {
        assert!(self.server.is_none(), "already running");
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        let socket_dir = self.dir.path().display().to_string();
        let server = self
            .command("postgres")
            .args(["-D", &self.data(), "-p", &self.port.to_string()])
            .args(["-k", &socket_dir, "-c", "listen_addresses=127.0.0.1"])
            // A test cluster: nothing to keep across a crash of the machine.
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.server = Some(server);
        let deadline = Instant::now() + PATIENCE;
        loop {
            use diesel::Connection;
            if diesel::PgConnection::establish(&self.admin_url()).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the test cluster did not start:\n{}",
                self.server_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the postmaster the way an operator's fast shutdown does (SIGINT to its PID:
    /// sessions are ended at once) and waits until it is gone.
    pub(crate) fn stop_server(&mut self) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        let pid_file = self.dir.path().join("data/postmaster.pid");
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.lines().next().map(str::to_owned))
            .filter(|pid| !pid.is_empty())
            .expect("the postmaster's PID");
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + PATIENCE;
        while server.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
                let _ = server.wait();
                panic!("the test cluster did not stop:\n{}", self.server_log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_server();
    }
}

/// The folder of `initdb` and `postgres`.
fn postgres_bin() -> Option<PathBuf> {
    let has_initdb = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = std::env::var_os("PAGEBOT_PG_BIN") {
        return Some(PathBuf::from(dir)).filter(|d| has_initdb(d));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|dir| has_initdb(dir))
        .collect();
    versions.sort_by_key(|dir| {
        let version = dir.parent().and_then(|d| d.file_name());
        version.and_then(|v| v.to_str()?.parse::<u32>().ok())
    });
    if let Some(newest) = versions.pop() {
        return Some(newest);
    }
    let output = Command::new("pg_config").arg("--bindir").output().ok()?;
    let dir = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    has_initdb(&dir).then_some(dir)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A bot that answers each text with the same text.
pub(crate) fn echo_bot(dir: &Path) -> TestBot {
    std::fs::write(
        dir.join("routing.yaml"),
        "routes:\n  SIMPLE_TEXT:\n    - handler: simple_text\n      args: { regex: \"^.*$\" }\n      senders:\n        - text: { message: echo, args: { text: \"{match.0}\" } }\n",
    )
    .unwrap();
    let locale = dir.join("locales/en-US");
    std::fs::create_dir_all(&locale).unwrap();
    std::fs::write(locale.join("bot.ftl"), "echo = { $text }\n").unwrap();
    TestBot::new(
        dir.join("routing.yaml"),
        dir.join("locales"),
        Registry::builtin(),
    )
}

/// A private cluster, started, and the echo bot serving a fresh database on it: the cluster,
/// the app, the database's URL and the bot's folder (dropped in that order's reverse, so the
/// app stops before the cluster).
pub(crate) async fn echo_app_on_a_cluster()
-> (Arc<Mutex<Cluster>>, TestApp, String, tempfile::TempDir) {
    let cluster = Arc::new(Mutex::new(Cluster::start()));
    let admin_url = cluster.lock().unwrap().admin_url();
    let database = TestDatabase::postgres(&admin_url);
    let url = database.url().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_bot(database, echo_bot(dir.path()))
        .await
        .unwrap();
    (cluster, app, url, dir)
}

/// A store opened on `url` once the database answers again (the test app's own store kept
/// connections the restart broke).
pub(crate) async fn fresh_store(url: &str) -> Store {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || Store::connect(&url, 2))
        .await
        .unwrap()
        .unwrap()
}

/// Runs blocking `f` on the cluster (stopping or starting it takes a while).
pub(crate) async fn with_cluster<T: Send + 'static>(
    cluster: &Arc<Mutex<Cluster>>,
    f: impl FnOnce(&mut Cluster) -> T + Send + 'static,
) -> T {
    let cluster = cluster.clone();
    tokio::task::spawn_blocking(move || f(&mut cluster.lock().unwrap()))
        .await
        .unwrap()
}

/// Waits until the inbox of `url` holds `total` events, none pending.
async fn wait_until_done(store: &Store, total: usize) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let events = store.run(inbox::all).await.unwrap();
        if events.len() == total && events.iter().all(|e| e.status == "done") {
            return;
        }
        assert!(Instant::now() < deadline, "not all done: {events:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(pagebot_postgres_binaries),
    ignore = "needs the Postgres binaries (initdb): set PAGEBOT_PG_BIN"
)]
async fn while_the_database_is_down_webhooks_get_503_in_time_and_readyz_at_once() {
    init_logs();
    let (cluster, app, url, _bot) = echo_app_on_a_cluster().await;
    // The test app waits 2 s for the database (`db_timeout`).
    let db_timeout = Duration::from_secs(2);

    let first = text_message("u_before", "m_before", "before", 1_700_000_000_000);
    assert_eq!(app.post_webhook(&first).await.status(), 200);
    app.graph.wait_for_sent(1, PATIENCE).await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    with_cluster(&cluster, Cluster::stop_server).await;

    // Noticed without a webhook (the pipeline's claims, the probe), and answered at once
    // all along: never by waiting on a pool.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let asked = Instant::now();
        let status = app.get("/readyz").await.status();
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "/readyz took {:?}",
            asked.elapsed()
        );
        if status == 503 {
            break;
        }
        assert_eq!(status, 200);
        assert!(Instant::now() < deadline, "/readyz never said 503");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The webhook waits for the database at most its timeout (generously bounded: a loaded
    // machine; the pool's wait used to be 30 s), and acknowledges nothing.
    let during = text_message("u_during", "m_during", "during", 1_700_000_000_001);
    let asked = Instant::now();
    let status = app.post_webhook(&during).await.status();
    let took = asked.elapsed();
    assert_eq!(status, 503);
    assert!(took < db_timeout + Duration::from_secs(3), "took {took:?}");
    let asked = Instant::now();
    assert_eq!(app.get("/readyz").await.status(), 503);
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "/readyz took {:?}",
        asked.elapsed()
    );
    let metrics_asked = Instant::now();
    assert_eq!(app.get("/metrics").await.status(), 503);
    assert!(metrics_asked.elapsed() < db_timeout + Duration::from_secs(3));

    with_cluster(&cluster, Cluster::start_server).await;

    // Ready again once the database answers, and the webhook Facebook delivers again is
    // taken (the probe reconnects every second or so; allow for a loaded machine).
    let deadline = Instant::now() + PATIENCE;
    while app.get("/readyz").await.status() != 200 {
        assert!(Instant::now() < deadline, "/readyz never said 200 again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = app.post_webhook(&during).await.status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(Instant::now() < deadline, "the webhook is still refused");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let store = fresh_store(&url).await;
    wait_until_done(&store, 2).await;
    // Processed exactly once.
    assert_eq!(app.graph.texts_to("u_during"), ["during"]);
    assert_eq!(app.graph.texts_to("u_before"), ["before"]);
    assert_eq!(app.graph.send_attempts(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(pagebot_postgres_binaries),
    ignore = "needs the Postgres binaries (initdb): set PAGEBOT_PG_BIN"
)]
async fn a_send_accepted_as_the_database_goes_down_is_recorded_once_it_is_back_and_not_repeated() {
    init_logs();
    let (cluster, app, url, _bot) = echo_app_on_a_cluster().await;

    // Facebook accepts the send, and Postgres goes down before the answer reaches the
    // worker: its delivery record and the event's outcome cannot be committed.
    let stopped = Arc::new(AtomicBool::new(false));
    {
        let (cluster, stopped) = (cluster.clone(), stopped.clone());
        app.graph.on_send(move |_| {
            if !stopped.swap(true, Ordering::SeqCst) {
                cluster.lock().unwrap().stop_server();
            }
        });
    }
    let body = text_message("u_one", "m_one", "just once", 1_700_000_000_000);
    assert_eq!(app.post_webhook(&body).await.status(), 200);
    let deadline = Instant::now() + PATIENCE;
    while !stopped.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "nothing was sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // An outage shorter than the lease (30 s in the test app), but longer than the
    // pipeline's pools wait for a connection (10 s): the commit fails at least once, and is
    // tried again. Had the worker dropped it, the event would be claimed again (and answered
    // twice) only once the lease ran out, after the wait below gives up.
    tokio::time::sleep(Duration::from_secs(12)).await;
    with_cluster(&cluster, Cluster::start_server).await;

    let store = fresh_store(&url).await;
    wait_until_done(&store, 1).await;
    let event = store.run(inbox::all).await.unwrap().remove(0);
    assert_eq!(event.attempts, 1, "{event:?}");
    let recorded = store.run(deliveries::all).await.unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].status, deliveries::SENT);
    assert_eq!(app.graph.texts_to("u_one"), ["just once"]);
    assert_eq!(app.graph.send_attempts(), 1);
}
