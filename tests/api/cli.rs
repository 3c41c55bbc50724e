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
    assert_eq!(output.status.code(), Some(1));
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
    assert_eq!(output.status.code(), Some(1));
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
    assert_eq!(output.status.code(), Some(1));
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
    let err = stderr(&broken);
    // Three problems, each on its own line with the file, then the summary.
    assert_eq!(err.lines().count(), 4, "{err}");
    assert!(err.ends_with("3 errors, 0 warnings, 0 notes\n"), "{err}");
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

/// A bot folder for `check`: routing.yaml and `locales/<tag>/bot.ftl` per locale.
fn bot_folder(policy: &str, locales: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("routing.yaml"), policy).unwrap();
    for (tag, ftl) in locales {
        let folder = dir.path().join("locales").join(tag);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("bot.ftl"), ftl).unwrap();
    }
    dir
}

fn check_in(dir: &Path, extra: &[&str]) -> Output {
    let policy = dir.join("routing.yaml").display().to_string();
    let locales = dir.join("locales").display().to_string();
    let mut args = vec!["check", "--policy", &policy, "--locales", &locales];
    args.extend(extra);
    pagebot(&args, &[])
}

const TWO_TEXTS: &str = "\
routes:
  SIMPLE_TEXT:
    - handler: simple_text
      args: { regex: hi }
      senders:
        - text: { message: hello }
    - handler: simple_text
      fallback: true
      senders:
        - text: { message: bye }
";

#[test]
fn check_warns_of_missing_translations_and_notes_unused_messages() {
    let dir = bot_folder(
        TWO_TEXTS,
        &[
            (
                "en-US",
                "hello = Hello\nbye = Bye\nunused = Nobody says this\nshared = Hi\nuses-shared = { shared }\n",
            ),
            ("zh-TW", "hello = 你好\nbey = 再見\n"),
        ],
    );
    let output = check_in(dir.path(), &[]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    let policy = dir.path().join("routing.yaml").display().to_string();
    let zh = dir
        .path()
        .join("locales/zh-TW/bot.ftl")
        .display()
        .to_string();
    let en = dir
        .path()
        .join("locales/en-US/bot.ftl")
        .display()
        .to_string();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        vec![
            format!(
                "{policy}:10: warning: message \"bye\" is missing in locale zh-TW: its users get the en-US text"
            ),
            format!(
                "{zh}: warning: message \"bey\" of locale zh-TW is not in the default locale en-US (a typo in its id?)"
            ),
            format!("{en}: note: message \"unused\" is not used by {policy}"),
            // `shared` is used by another message; `uses-shared` itself is not.
            format!("{en}: note: message \"uses-shared\" is not used by {policy}"),
        ],
        "{err}"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok (0 errors, 2 warnings, 2 notes)"));

    // --strict: the warnings fail the check; notes never do.
    let strict = check_in(dir.path(), &["--strict"]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(stderr(&strict).ends_with("0 errors, 2 warnings, 2 notes\n"));
    let dir = bot_folder(
        TWO_TEXTS,
        &[("en-US", "hello = Hello\nbye = Bye\nunused = Nobody\n")],
    );
    assert_eq!(check_in(dir.path(), &["--strict"]).status.code(), Some(0));
}

#[test]
fn check_fails_on_a_message_missing_in_the_default_locale() {
    let dir = bot_folder(
        TWO_TEXTS,
        &[
            ("en-US", "hello = Hello\n"),
            ("zh-TW", "hello = 你好\nbye = 再見\n"),
        ],
    );
    let output = check_in(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(1));
    let policy = dir.path().join("routing.yaml").display().to_string();
    assert!(
        stderr(&output).starts_with(&format!(
            "{policy}:10: sender text: message id \"bye\" is not defined in the default locale en-US"
        )),
        "{}",
        stderr(&output)
    );
}

#[test]
fn check_reports_fluent_syntax_errors_with_file_and_line() {
    let dir = bot_folder(
        TWO_TEXTS,
        &[
            ("en-US", "hello = Hello\nbye = Bye\n"),
            ("zh-TW", "hello = 你好\n\nbye = { \n"),
        ],
    );
    let output = check_in(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(1));
    let zh = dir
        .path()
        .join("locales/zh-TW/bot.ftl")
        .display()
        .to_string();
    assert!(
        stderr(&output).starts_with(&format!("{zh}:3: ")),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_mistyped_command_line_is_a_refused_input_exit_1() {
    let output = pagebot(&["thread-settings", "plan", "--no-such-flag"], &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("--no-such-flag"));
    let help = pagebot(&["--help"], &[]);
    assert_eq!(help.status.code(), Some(0));
}

#[test]
fn check_fails_on_a_limit_broken_only_after_localization() {
    let policy = "\
routes:
  SIMPLE_TEXT:
    - handler: simple_text
      senders:
        - buttons:
            message: pick
            buttons:
              - { type: postback, title: help, payload: HELP }
";
    let long_title = "說".repeat(25);
    let dir = bot_folder(
        policy,
        &[
            ("en-US", "pick = Pick one\nhelp = Help\n"),
            ("zh-TW", &format!("pick = 選一個\nhelp = {long_title}\n")),
        ],
    );
    let output = check_in(dir.path(), &[]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    let policy = dir.path().join("routing.yaml").display().to_string();
    assert!(
        err.starts_with(&format!("{policy}:5: sender buttons: ")),
        "{err}"
    );
    assert!(err.contains("25 characters in zh-TW, at most 20"), "{err}");
}

#[test]
fn inbox_commands_refuse_a_sqlite_database_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("pagebot.db");
    let url = format!("sqlite://{}", missing.display());
    for args in [
        &["inbox", "stats"][..],
        &["inbox", "dead"],
        &["inbox", "replay", "--all"],
        &["inbox", "purge"],
    ] {
        let output = pagebot(args, &[("DATABASE_URL", &url)]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        let message = stderr(&output);
        assert!(
            message.contains(&format!("no database at {}", missing.display())),
            "{args:?}: {message}"
        );
        assert!(!missing.exists(), "{args:?} created {}", missing.display());
    }
    // A relative path is named as the absolute path it was looked for at.
    let output = Command::new(env!("CARGO_BIN_EXE_pagebot"))
        .args(["inbox", "stats"])
        .env("RUST_LOG", "off")
        .env_remove("DATABASE_URL")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    let canonical = dir.path().canonicalize().unwrap().join("pagebot.db");
    assert!(
        message.contains(&missing.display().to_string())
            || message.contains(&canonical.display().to_string()),
        "{message}"
    );
    assert!(!missing.exists());
}

#[test]
fn check_reports_the_mistakes_of_a_flow_with_their_lines() {
    let dir = bot_folder(
        "\
steps:
  ask_size:
    ask:
      - text: { message: a }
  nowhere:
routes:
  SIMPLE_TEXT:
    - handler: simple_text
      args: { regex: order }
      then: { step: ask_size }
    - handler: simple_text
      when: { step: ask_size }
      senders:
        - text: { message: q, args: { s: \"{memory.size}\" } }
",
        &[("en-US", "a = A\nq = Q { $s }\n")],
    );
    let output = check_in(dir.path(), &[]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    let policy = dir.path().join("routing.yaml").display().to_string();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        vec![
            format!(
                "{policy}:2: warning: step \"ask_size\": nothing leaves it (no link with `when: \
                 {{ step: ask_size }}` has a `then` to another step or `end`): its users stay \
                 until a global link moves them or the idle time ends it"
            ),
            format!(
                "{policy}:5: warning: step \"nowhere\": no link moves to it (`then: {{ step: \
                 nowhere }}`), so no user reaches it unless a handler sets it"
            ),
            format!(
                "{policy}:14: warning: {{memory.size}} is used here, but no link remembers \
                 \"size\": it is empty unless a handler remembers it"
            ),
        ],
        "{err}"
    );
    assert_eq!(check_in(dir.path(), &["--strict"]).status.code(), Some(1));

    // A `when` on a step that is not declared is an error, as serve would refuse it.
    std::fs::write(
        dir.path().join("routing.yaml"),
        "routes:\n  SIMPLE_TEXT:\n    - handler: simple_text\n      when: { step: ask_sise }\n",
    )
    .unwrap();
    let output = check_in(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(&format!(
            "{policy}:4: unknown step \"ask_sise\" (declared: none: declare it under `steps:`)"
        )),
        "{}",
        stderr(&output)
    );
}
