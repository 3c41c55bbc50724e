//! The `pagebot` binary as a user runs it: start-up errors and `check`.

use std::path::Path;
use std::process::{Command, Output};

use crate::helpers::*;

fn pagebot(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pagebot"));
    command.args(args).env("RUST_LOG", "off");
    for name in [
        "PAGEBOT_APP_SECRET",
        "PAGEBOT_VERIFY_TOKEN",
        "PAGEBOT_PAGE_TOKEN",
        "PAGEBOT_POLICY",
        "PAGEBOT_LOCALES",
        "DATABASE_URL",
    ] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the pagebot binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

const BROKEN_POLICY: &str = "\
default:
  - handler: user_profile
routes:
  STICKER:
    - handler: thumbs_up
  SIMPLE_TEXT:
    - handler: simple_text
      args: { regex: \"(unclosed\" }
      senders:
        - text: { message: no-such-message }
";

fn broken_policy_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routing.yaml");
    std::fs::write(&path, BROKEN_POLICY).unwrap();
    let path = path.display().to_string();
    (dir, path)
}

#[test]
fn serve_without_secrets_names_every_missing_variable() {
    let output = pagebot(&["serve"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    for name in [
        "PAGEBOT_APP_SECRET",
        "PAGEBOT_VERIFY_TOKEN",
        "PAGEBOT_PAGE_TOKEN",
    ] {
        assert!(err.contains(name), "{err}");
    }
    assert!(err.contains("--dev"), "{err}");
}

#[test]
fn serve_dev_refuses_a_public_address() {
    let output = pagebot(&["serve", "--dev", "--bind", "0.0.0.0:0"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("loopback"), "{}", stderr(&output));
}

#[test]
fn serve_with_a_broken_policy_fails_with_file_and_line() {
    let (dir, policy) = broken_policy_file();
    let db = format!("sqlite://{}", dir.path().join("pagebot.db").display());
    let output = pagebot(
        &[
            "serve",
            "--dev",
            "--bind",
            "127.0.0.1:0",
            "--policy",
            &policy,
            "--locales",
            &repo("locales"),
        ],
        &[("DATABASE_URL", &db)],
    );
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "{policy}:5: unknown handler \"thumbs_up\" (known: "
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{policy}:8: handler simple_text: bad regex")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{policy}:10: sender text: message id \"no-such-message\""
        )),
        "{err}"
    );
    // Nothing was started: not even the database was created.
    assert!(!dir.path().join("pagebot.db").exists());
}

#[test]
fn check_exits_0_on_the_shipped_bot_and_1_on_a_broken_one() {
    let ok = pagebot(
        &[
            "check",
            "--policy",
            &repo("routing.yaml"),
            "--locales",
            &repo("locales"),
        ],
        &[],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));

    let (_dir, policy) = broken_policy_file();
    let broken = pagebot(
        &["check", "--policy", &policy, "--locales", &repo("locales")],
        &[],
    );
    assert_eq!(broken.status.code(), Some(1));
    assert_eq!(stderr(&broken).lines().count(), 3, "{}", stderr(&broken));
}

#[test]
fn check_reports_a_yaml_syntax_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routing.yaml");
    std::fs::write(
        &path,
        "routes:\n  SIMPLE_TEXT:\n    - handler: dummy\n   bad: [\n",
    )
    .unwrap();
    let output = pagebot(
        &[
            "check",
            "--policy",
            &path.display().to_string(),
            "--locales",
            &repo("locales"),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.starts_with(&format!("{}:", path.display())), "{err}");
}

#[tokio::test]
async fn application_build_reports_every_policy_problem() {
    let (_dir, policy) = broken_policy_file();
    let bot = TestBot {
        policy: policy.clone().into(),
        ..TestBot::demo()
    };
    let err = TestApp::spawn_bot(TestDatabase::sqlite(), bot)
        .await
        .err()
        .expect("a broken policy must not start")
        .to_string();
    assert_eq!(err.lines().count(), 3, "{err}");
    assert!(
        err.lines().all(|l| l.starts_with(&format!("{policy}:"))),
        "{err}"
    );
}
