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

// `check` with `[[pages]]`.

/// A folder with the `TWO_TEXTS` bot (zh-TW lacks `bye`) and a pagebot.toml of `pages`, where
/// `{shop}` is the bot's folder and `{dir}` the config's.
fn pages_folder(pages: &str) -> (tempfile::TempDir, tempfile::TempDir, String) {
    let shop = bot_folder(
        TWO_TEXTS,
        &[
            ("en-US", "hello = Hello\nbye = Bye\n"),
            ("zh-TW", "hello = 你好\n"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pagebot.toml");
    std::fs::write(
        &config,
        pages
            .replace("{shop}", &shop.path().display().to_string())
            .replace("{dir}", &dir.path().display().to_string()),
    )
    .unwrap();
    (shop, dir, config.display().to_string())
}

fn check_with(config: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["--config", config, "check"];
    args.extend(extra);
    pagebot(&args, env)
}

const TWO_PAGES: &str = "\
[[pages]]
id = 111
name = \"Shop\"
token_env = \"PAGEBOT_TOKEN_SHOP\"
policy = \"{shop}/routing.yaml\"
locales = \"{shop}/locales\"

[[pages]]
id = 222
token_file = \"help.token\"
policy = \"{dir}/missing.yaml\"
locales = \"{shop}/locales\"
";

#[test]
fn check_checks_every_page_under_its_heading() {
    let (shop, dir, config) = pages_folder(TWO_PAGES);
    let output = check_with(&config, &[], &[]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    let policy = shop.path().join("routing.yaml").display().to_string();
    let missing = dir.path().join("missing.yaml").display().to_string();
    let token_file = dir.path().join("help.token").display().to_string();
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        [
            "page 111 (Shop):".to_owned(),
            format!(
                "{config}:4: warning: page 111's token_env PAGEBOT_TOKEN_SHOP is not set: serve \
                 refuses to start without it"
            ),
            format!(
                "{policy}:10: warning: message \"bye\" is missing in locale zh-TW: its users get \
                 the en-US text"
            ),
            "page 222:".to_owned(),
            format!(
                "{config}:11: page 222's policy {missing} cannot be read: No such file or \
                 directory (os error 2)"
            ),
            format!(
                "{config}:10: warning: page 222's token_file {token_file} cannot be read: No such \
                 file or directory (os error 2): serve refuses to start without it"
            ),
            format!("page 222: {missing}: 1 error, 1 warning, 0 notes"),
            "2 Pages: 1 error, 3 warnings, 0 notes".to_owned(),
        ],
        "{err}"
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("page 111 (Shop): {policy}: ok (0 errors, 2 warnings, 0 notes)\n")
    );

    // The tokens there and the policy found: clean but for the translation (a warning).
    std::fs::write(dir.path().join("help.token"), "t\n").unwrap();
    std::fs::write(
        &config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace(&missing, &policy),
    )
    .unwrap();
    let token = [("PAGEBOT_TOKEN_SHOP", "t")];
    let output = check_with(&config, &[], &token);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "page 111 (Shop): {policy}: ok (0 errors, 1 warning, 0 notes)\npage 222: {policy}: \
             ok (0 errors, 1 warning, 0 notes)\n2 Pages: 0 errors, 2 warnings, 0 notes\n"
        )
    );
    let strict = check_with(&config, &["--strict"], &token);
    assert_eq!(strict.status.code(), Some(1), "{}", stderr(&strict));
    assert!(
        stderr(&strict).ends_with("2 Pages: 0 errors, 2 warnings, 0 notes\n"),
        "{}",
        stderr(&strict)
    );
}

#[test]
fn check_names_the_pages_line_for_a_default_file_that_is_not_there_and_a_page_listed_twice() {
    let (_shop, dir, config) = pages_folder(
        "\
policy = \"{dir}/nowhere.yaml\"
locales = \"{shop}/locales\"

[[pages]]
id = 111
token_env = \"PAGEBOT_TOKEN_SHOP\"
",
    );
    let output = check_with(&config, &[], &[("PAGEBOT_TOKEN_SHOP", "t")]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let nowhere = dir.path().join("nowhere.yaml").display().to_string();
    assert_eq!(
        stderr(&output),
        format!(
            "page 111:\n{config}:4: page 111's policy {nowhere} (the top-level policy) cannot be \
             read: No such file or directory (os error 2)\npage 111: {nowhere}: 1 error, 0 \
             warnings, 0 notes\n1 Page: 1 error, 0 warnings, 0 notes\n"
        )
    );

    let (_shop, _dir, config) = pages_folder(
        "\
[[pages]]
id = 111
token_env = \"A\"

[[pages]]
id = \"111\"
token_env = \"B\"
",
    );
    let output = check_with(&config, &[], &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        format!("error: {config}:6: page 111 is listed twice: first at {config}:2\n")
    );
}

#[test]
fn check_checks_a_pages_thread_settings_file_in_its_locales() {
    let (shop, dir, config) = pages_folder(
        "\
[[pages]]
id = 111
token_env = \"PAGEBOT_TOKEN_SHOP\"
policy = \"{shop}/routing.yaml\"
locales = \"{shop}/locales\"
thread_settings = \"{dir}/profile.yaml\"
",
    );
    let profile = dir.path().join("profile.yaml");
    std::fs::write(
        &profile,
        "thread_settings:\n  get_started: { payload: GO }\n  greeting: no-such-text\n",
    )
    .unwrap();
    let token = [("PAGEBOT_TOKEN_SHOP", "t")];
    let output = check_with(&config, &[], &token);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    let profile = profile.display().to_string();
    assert!(
        err.starts_with(&format!(
            "page 111:\n{profile}:3: greeting \"no-such-text\" in en-US: "
        )),
        "{err}"
    );
    // Its text in the default locale only: a warning, as for the policy's texts.
    std::fs::write(
        shop.path().join("locales/en-US/bot.ftl"),
        "hello = Hello\nbye = Bye\nno-such-text = Welcome\n",
    )
    .unwrap();
    std::fs::write(
        shop.path().join("locales/zh-TW/bot.ftl"),
        "hello = 你好\nbye = 再見\n",
    )
    .unwrap();
    let output = check_with(&config, &[], &token);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "page 111:\n{profile}:3: warning: message \"no-such-text\" is missing in locale \
             zh-TW: its users get the en-US text\n"
        )
    );
    // Translated, it is clean: the file's texts are not noted as unused by the policy.
    std::fs::write(
        shop.path().join("locales/zh-TW/bot.ftl"),
        "hello = 你好\nbye = 再見\nno-such-text = 歡迎\n",
    )
    .unwrap();
    let output = check_with(&config, &["--strict"], &token);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "", "nothing found");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("ok (0 errors, 0 warnings, 0 notes)"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    // A missing thread_settings file is named by its line.
    std::fs::remove_file(&profile).unwrap();
    let output = check_with(&config, &[], &token);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!(
            "{config}:6: page 111's thread_settings {profile} cannot be read: "
        )),
        "{}",
        stderr(&output)
    );
}
