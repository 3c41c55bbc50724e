//! The README's examples, run as written: the curl session with `serve --dev`, the terminal
//! chat, the transcript (which must also be the file it names), and the routing.yaml excerpt.
//! An edit of the README or of the demo bot that makes one of them untrue fails here.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use crate::helpers::PATIENCE;

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

fn readme() -> String {
    std::fs::read_to_string(repo("README.md")).expect("README.md")
}

/// The body of the README's fenced code block whose text contains `marker`.
fn block_containing(readme: &str, marker: &str) -> String {
    let at = readme
        .find(marker)
        .unwrap_or_else(|| panic!("the README has no {marker:?}"));
    let start = readme[..at].rfind("```").expect("an opening fence") + 3;
    let start = start + readme[start..].find('\n').expect("the fence's line ends") + 1;
    let end = at + readme[at..].find("```").expect("a closing fence");
    readme[start..end].to_owned()
}

/// A `pagebot serve --dev` child on a free loopback port, with what it logged.
struct DevServer {
    child: Child,
    port: u16,
    logs: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl DevServer {
    fn start(dir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pagebot"))
            .args(["serve", "--dev", "--bind", "127.0.0.1:0"])
            .args([
                "--policy",
                &repo("routing.yaml"),
                "--locales",
                &repo("locales"),
            ])
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .env_remove("DATABASE_URL")
            .env_remove("PAGEBOT_PAGE_TOKEN")
            .env_remove("PAGEBOT_APP_SECRET")
            .env_remove("PAGEBOT_VERIFY_TOKEN")
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
        let line = server.wait_for_log("pagebot listening on port", 0);
        server.port = line
            .rsplit(' ')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port in the log line");
        server
    }

    /// Waits for a line containing `needle` logged after the first `after` lines; returns its
    /// index.
    fn wait_for_log_index(&mut self, needle: &str, after: usize) -> usize {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(at) = self
                .seen
                .iter()
                .skip(after)
                .position(|l| l.contains(needle))
            {
                return after + at;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.logs.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no log line with {needle:?}; got:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn wait_for_log(&mut self, needle: &str, after: usize) -> String {
        let at = self.wait_for_log_index(needle, after);
        self.seen[at].clone()
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_curl_example_logs_what_the_readme_shows() {
    let block = block_containing(&readme(), "curl -s localhost:8000/webhook");
    let body = {
        let start = block.find("-d '").expect("a -d '...' body") + 4;
        let end = start + block[start..].find('\'').expect("the body's closing quote");
        block[start..end].to_owned()
    };
    let expected: Vec<&str> = block
        .lines()
        .filter_map(|line| line.strip_prefix("# log: "))
        .collect();
    assert!(expected.len() >= 2, "the example shows what is logged");

    let dir = tempfile::tempdir().unwrap();
    let mut server = DevServer::start(dir.path());
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/webhook", server.port))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 200);
    // Every reply the bot printed, in order, is the README's (none left out).
    server.wait_for_log("SIMPLE_TEXT: done", 0);
    let printed: Vec<&str> = server
        .seen
        .iter()
        .filter_map(|line| Some(&line[line.find("dev: would send ")?..]))
        .collect();
    assert_eq!(printed, expected, "{}", server.seen.join("\n"));
}

#[test]
fn the_chat_example_answers_as_the_readme_shows() {
    let block = block_containing(&readme(), "$ pagebot simulate");
    let said: Vec<&str> = block
        .lines()
        .filter_map(|line| line.strip_prefix("Alex> "))
        .collect();
    let answers: Vec<&str> = block
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("bot: "))
        .collect();
    assert!(!said.is_empty() && !answers.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pagebot"))
        .arg("simulate")
        .args([
            "--policy",
            &repo("routing.yaml"),
            "--locales",
            &repo("locales"),
        ])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the pagebot binary runs");
    let mut input = child.stdin.take().expect("stdin");
    for line in &said {
        writeln!(input, "{line}").unwrap();
    }
    drop(input);
    let output = child.wait_with_output().expect("pagebot ends");
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8_lossy(&output.stdout);
    let bot: Vec<&str> = printed
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("bot: "))
        .collect();
    assert_eq!(bot, answers, "{printed}");
}

#[test]
fn the_transcript_example_is_the_file_it_names_and_passes() {
    let readme = readme();
    let block = block_containing(&readme, "# transcripts/greeting.yaml");
    let file = std::fs::read_to_string(repo("transcripts/greeting.yaml")).unwrap();
    assert_eq!(
        block, file,
        "the README shows transcripts/greeting.yaml as it is"
    );
    assert!(readme.contains("pagebot simulate --script transcripts/greeting.yaml"));

    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pagebot"))
        .args(["simulate", "--script", &repo("transcripts/greeting.yaml")])
        .args([
            "--policy",
            &repo("routing.yaml"),
            "--locales",
            &repo("locales"),
        ])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .output()
        .expect("the pagebot binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("ok (3 turns)"), "{stdout}");
}

#[test]
fn the_routing_excerpt_is_a_valid_policy_for_the_shipped_locales() {
    let excerpt = block_containing(&readme(), "default:                       # runs first");
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("routing.yaml");
    std::fs::write(&policy, &excerpt).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pagebot"))
        .args(["check", "--policy", &policy.display().to_string()])
        .args(["--locales", &repo("locales")])
        .env("RUST_LOG", "off")
        .output()
        .expect("the pagebot binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("ok (0 errors, 0 warnings"), "{stdout}");
    // It is an excerpt of the shipped policy: each of its routes is there too.
    let shipped = std::fs::read_to_string(repo("routing.yaml")).unwrap();
    for route in [
        "SIMPLE_TEXT:",
        "QUICK_REPLY:",
        "STICKER:",
        "READ:",
        "thread_settings:",
    ] {
        assert!(
            excerpt.contains(route) && shipped.contains(route),
            "{route}"
        );
    }
}

#[test]
fn the_conversations_example_is_a_clean_policy_for_the_shipped_locales() {
    let excerpt = block_containing(
        &readme(),
        "steps:                               # the steps",
    );
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("routing.yaml");
    std::fs::write(&policy, &excerpt).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pagebot"))
        .args(["check", "--policy", &policy.display().to_string()])
        .args(["--locales", &repo("locales")])
        .env("RUST_LOG", "off")
        .output()
        .expect("the pagebot binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("ok (0 errors, 0 warnings"),
        "{stdout}{stderr}"
    );
    // Its steps are the shipped flow's.
    let shipped = std::fs::read_to_string(repo("routing.yaml")).unwrap();
    for step in ["order_size:", "order_address:", "order_confirm:"] {
        assert!(excerpt.contains(step) && shipped.contains(step), "{step}");
    }
}

/// A generated table of the README (between `<!-- {name} table: generated from ...` and
/// `<!-- end of {name} table -->`), without the list item's indent.
fn generated_table(readme: &str, name: &str) -> String {
    let start_marker = format!("<!-- {name} table: generated from src/config/table.rs");
    let start = readme
        .find(&start_marker)
        .unwrap_or_else(|| panic!("the {name} table's start marker"));
    let start = start + readme[start..].find('\n').expect("a line end") + 1;
    let end = start
        + readme[start..]
            .find(&format!("<!-- end of {name} table -->"))
            .unwrap_or_else(|| panic!("the {name} table's end marker"));
    readme[start..end]
        .lines()
        .map(|line| format!("{}\n", line.strip_prefix("   ").unwrap_or(line)))
        .collect::<String>()
        .trim_end_matches([' ', '\n'])
        .to_owned()
        + "\n"
}

#[test]
fn the_readme_table_is_every_setting_with_its_default() {
    let want = pagebot::config::table::markdown_table();
    let got = generated_table(&readme(), "settings");
    assert_eq!(
        got, want,
        "the README's settings table differs from src/config/table.rs; paste this:\n{want}"
    );
}

#[test]
fn the_readme_table_of_pages_keys_is_every_key() {
    let want = pagebot::config::table::markdown_pages_table();
    let got = generated_table(&readme(), "pages");
    assert_eq!(
        got, want,
        "the README's [[pages]] table differs from src/config/table.rs; paste this:\n{want}"
    );
}

#[test]
fn the_example_config_sets_every_setting_to_its_default_and_serve_reads_it() {
    let text = std::fs::read_to_string(repo("pagebot.example.toml")).expect("the example");
    for setting in pagebot::config::table::SETTINGS {
        let line = text
            .lines()
            .find(|l| {
                l.trim_start_matches("# ")
                    .starts_with(&format!("{} = ", setting.key))
            })
            .unwrap_or_else(|| panic!("pagebot.example.toml does not show {}", setting.key));
        if let Some(default) = setting.default {
            assert!(
                line.ends_with(default),
                "{line} is not the default {default}"
            );
        }
        // Settings without a default (the secrets among them) are shown commented out.
        assert_eq!(line.starts_with('#'), setting.default.is_none(), "{line}");
    }
    let args = pagebot::config::ServeArgs {
        dev: true,
        ..Default::default()
    };
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("pagebot.example.toml");
    let from_file = pagebot::config::Settings::load_with_env(Some(&example), args.clone(), [])
        .expect("the example loads");
    let defaults = pagebot::config::Settings::load_with_env(None, args, []).unwrap();
    assert_eq!(format!("{from_file:?}"), format!("{defaults:?}"));
}

#[test]
fn the_example_config_shows_every_pages_key_in_an_example_that_loads() {
    let text = std::fs::read_to_string(repo("pagebot.example.toml")).expect("the example");
    let start = text
        .find("\n# [[pages]]\n")
        .expect("a commented [[pages]] example")
        + 1;
    let example: String = text[start..]
        .lines()
        .map(|line| {
            let line = line
                .strip_prefix("# ")
                .or_else(|| line.strip_prefix('#'))
                .unwrap_or_else(|| panic!("the example ends the file, commented: {line:?}"));
            format!("{line}\n")
        })
        .collect();
    for key in pagebot::config::table::PAGE_KEYS {
        assert!(
            example
                .lines()
                .any(|l| l.starts_with(&format!("{} = ", key.key))),
            "the [[pages]] example of pagebot.example.toml does not show {}",
            key.key
        );
    }
    // Uncommented, it loads: two Pages, each with its token.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pagebot.toml");
    std::fs::write(&config, &example).unwrap();
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    std::fs::write(dir.path().join("secrets/help.token"), "help-token\n").unwrap();
    let args = pagebot::config::ServeArgs {
        verify_token: Some("v".into()),
        graph: pagebot::config::GraphArgs {
            app_secret: Some("s".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let env = [("PAGEBOT_TOKEN_SHOP".into(), "shop-token".into())];
    let settings = pagebot::config::Settings::load_with_env(Some(&config), args, env)
        .expect("the [[pages]] example loads");
    let ids: Vec<Option<&str>> = settings.pages.iter().map(|p| p.id.as_deref()).collect();
    assert_eq!(ids, [Some("104857600000001"), Some("104857600000002")]);
    assert!(settings.pages.iter().all(|p| p.token.is_some()));
    assert_eq!(settings.pages[0].name, "Shop");
    assert_eq!(
        settings.pages[1].thread_settings.as_deref(),
        Some(Path::new("help/profile.yaml"))
    );
}

#[test]
fn a_pagebot_toml_in_the_folder_is_read_and_a_mistake_in_it_named_by_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pagebot.toml"),
        format!(
            "# the demo bot\npolicy = {:?}\nlocales = {:?}\n",
            repo("routing.yaml"),
            repo("locales")
        ),
    )
    .unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_pagebot"))
        .arg("check")
        .current_dir(dir.path())
        .env_remove("PAGEBOT_POLICY")
        .env_remove("PAGEBOT_LOCALES")
        .env_remove("PAGEBOT_CONFIG")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(0), "{out}");
    assert!(
        out.starts_with(&format!("{}: ok", repo("routing.yaml"))),
        "{out}"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "workers = 4\npolcy = \"routing.yaml\"\n").unwrap();
    let serve = Command::new(env!("CARGO_BIN_EXE_pagebot"))
        .args(["serve", "--dev", "--config"])
        .arg(&bad)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&serve.stderr);
    assert_eq!(serve.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "error: {}:2: unknown setting \"polcy\" (known: ",
            bad.display()
        )),
        "{err}"
    );
}
