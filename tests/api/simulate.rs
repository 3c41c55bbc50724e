//! `pagebot simulate` as a user runs it: transcripts replayed with their exit codes and
//! diffs, and the chat driven through stdin.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

/// Runs `pagebot simulate ARGS` on the demo bot in `dir`, with `stdin` piped in.
fn simulate(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let (policy, locales) = (repo("routing.yaml"), repo("locales"));
    let demo = ["--policy", &policy, "--locales", &locales];
    simulate_in(dir, &[&demo[..], args].concat(), stdin)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_matching_transcript_exits_0_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let script = repo("tests/fixtures/transcripts/demo_ok.yaml");
    let output = simulate(dir.path(), &["--script", &script], "");
    let (out, err) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{out}\n{err}");
    assert_eq!(out, format!("{script}: ok (5 turns)\n"));
    assert!(err.is_empty(), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_differing_transcript_exits_1_with_a_diff_naming_the_turn() {
    let dir = tempfile::tempdir().unwrap();
    let script = repo("tests/fixtures/transcripts/demo_wrong.yaml");
    let output = simulate(dir.path(), &["--script", &script], "");
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "{script}:6: turn 2: Ann says \"hey\": the bot's replies differ from the transcript\n"
        )),
        "{err}"
    );
    assert!(
        err.contains(r#"- 1. text "Hello Ann", quick replies ["Red", "Blue"]"#),
        "{err}"
    );
    assert!(
        err.contains(r#"+ 1. text "Hello Ann! Nice to meet you.""#),
        "{err}"
    );
    assert!(
        !err.contains("turn 3"),
        "stops at the first mismatch: {err}"
    );
    assert!(text(&output.stdout).is_empty());
}

#[test]
fn an_unreadable_transcript_is_refused_with_exit_1_and_every_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let script = repo("tests/fixtures/transcripts/broken.yaml");
    let output = simulate(dir.path(), &["--script", &script], "");
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(
        err.contains(&format!("{script}:2: a turn needs exactly one action")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{script}:5: the turn has no `expect:`")),
        "{err}"
    );
}

#[test]
fn the_chat_reads_stdin_and_renders_the_bots_messages() {
    let dir = tempfile::tempdir().unwrap();
    let output = simulate(
        dir.path(),
        &[],
        "hi\n/quick 1\n/user Bob\n/postback GET_STARTED\n/locale zh-TW\nhello\n/sticker like\n/location 25.03 121.56\n/dance\n/help\n/quit\nnever read\n",
    );
    let out = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{out}\n{}",
        text(&output.stderr)
    );
    let expected_lines = [
        "Alex> hi",
        "  bot: Hello Alex! Nice to meet you.",
        "Alex> /quick 1",
        "  ! nothing to tap: the bot's last messages offered no quick reply or button (wanted \"1\")",
        "Alex> /user Bob",
        "Bob> /postback GET_STARTED",
        "  bot: Welcome, Bob! Say \"hi\" whenever you like.",
        "Bob> /locale zh-TW",
        "  (your language is now zh-TW)",
        "Bob> hello",
        "  bot: Bob，你好！很高興認識你。",
        "Bob> /sticker like",
        "  bot: 謝謝你的讚！這是第 1 個了。",
        "Bob> /location 25.03 121.56",
        "  bot: 收到你的位置：25.03, 121.56。",
        "Bob> /dance",
        "  ! unknown command /dance; /help lists them",
        "Bob> /help",
        "Bob> /quit",
    ];
    let mut rest = out.as_str();
    for line in expected_lines {
        let at = rest
            .find(line)
            .unwrap_or_else(|| panic!("missing, or out of order: {line:?}\n--- output:\n{out}"));
        rest = &rest[at + line.len()..];
    }
    assert!(
        out.contains("/postback PAYLOAD"),
        "help lists commands: {out}"
    );
    assert!(!out.contains("never read"), "{out}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_given_database_keeps_the_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let output = simulate(
        dir.path(),
        &["--database-url", &url, "--user", "Ann Lee"],
        "hi\n",
    );
    let out = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{out}\n{}",
        text(&output.stderr)
    );
    assert!(out.contains("  bot: Hello Ann! Nice to meet you."), "{out}");
    let store = pagebot::store::Store::connect(&url, 1).unwrap();
    let mut conn = store.get().unwrap();
    let user =
        pagebot::store::users::find(&mut conn, pagebot::testing::TEST_PAGE_ID, "psid_ann_lee")
            .unwrap()
            .expect("the user was stored");
    assert_eq!(user.last_name.as_deref(), Some("Lee"));
    assert_eq!(pagebot::store::inbox::all(&mut conn).unwrap().len(), 1);
}

#[test]
fn simulate_refuses_a_broken_policy_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("routing.yaml");
    std::fs::write(&policy, "routes:\n  SIMPLE_TEXT:\n    - handler: nope\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pagebot"))
        .args(["simulate", "--policy"])
        .arg(&policy)
        .args(["--locales", &repo("locales")])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("unknown handler \"nope\""),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn the_chat_prompt_shows_the_step_of_a_flow_and_wait_lets_it_expire() {
    let dir = tempfile::tempdir().unwrap();
    let output = simulate(
        dir.path(),
        &[],
        "order\n/quick L\nnowhere\n/wait 2h\nhi\n/wait soon\n",
    );
    let out = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{out}");
    let expected_lines = [
        "Alex> order",
        "  bot: Which size would you like?",
        "Alex [order_size]> /quick L",
        "  bot: Size L, noted.",
        "Alex [order_address]> nowhere",
        "  bot: Please type a street address with a house number",
        "Alex [order_address]> /wait 2h",
        "  (time passes: 7200s)",
        "Alex> hi",
        "  bot: Hello Alex! Nice to meet you.",
        "Alex> /wait soon",
        "  ! duration \"soon\": write a whole number and s, m, h or d (`90s`, `2h`)",
    ];
    let mut rest = out.as_str();
    for line in expected_lines {
        let at = rest
            .find(line)
            .unwrap_or_else(|| panic!("missing, or out of order: {line:?}\n--- output:\n{out}"));
        rest = &rest[at + line.len()..];
    }
}

/// A `pagebot.toml` in `dir` with two Pages: Shop (111) answers `shop: TEXT`; News (222)
/// answers `news: TEXT` and its own thread settings file makes `NEWS_START` its Get Started.
fn two_pages(dir: &Path) {
    let write = |path: &str, text: &str| {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    for name in ["shop", "news"] {
        write(
            &format!("{name}.yaml"),
            "routes:\n  SIMPLE_TEXT:\n    - handler: simple_text\n      args: { regex: \"^.*$\" }\n      \
             senders:\n        - text: { message: answer, args: { text: \"{match.0}\" } }\n  \
             GET_STARTED_BUTTON:\n    - handler: postback\n      senders:\n        - text: { message: welcome }\n",
        );
        write(
            &format!("{name}/en-US/bot.ftl"),
            &format!("answer = {name}: {{ $text }}\nwelcome = welcome to the {name}\n"),
        );
    }
    write(
        "news-profile.yaml",
        "thread_settings:\n  get_started: { payload: NEWS_START }\n",
    );
    write(
        "pagebot.toml",
        "[[pages]]\nid = 111\nname = \"Shop\"\ntoken_env = \"SHOP_TOKEN\"\npolicy = \"shop.yaml\"\n\
         locales = \"shop\"\n\n[[pages]]\nid = 222\nname = \"News\"\ntoken_env = \"NEWS_TOKEN\"\n\
         policy = \"news.yaml\"\nlocales = \"news\"\nthread_settings = \"news-profile.yaml\"\n",
    );
}

/// Runs `pagebot simulate ARGS` in `dir` (with its pagebot.toml, if any), `stdin` piped in.
fn simulate_in(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pagebot"))
        .arg("simulate")
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .env_remove("SHOP_TOKEN")
        .env_remove("NEWS_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the pagebot binary runs");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("pagebot ends")
}

#[test]
fn simulate_page_talks_to_that_page_with_its_thread_settings() {
    let dir = tempfile::tempdir().unwrap();
    two_pages(dir.path());
    let output = simulate_in(
        dir.path(),
        &["--page", "222"],
        "hello\n/postback NEWS_START\n",
    );
    let (out, err) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("bot: news: hello"), "{out}");
    assert!(out.contains("bot: welcome to the news"), "{out}");
    assert!(
        out.contains("news.yaml"),
        "the banner names the policy: {out}"
    );
    assert!(!out.contains("shop"), "{out}");

    // Without --page: the first Page.
    let output = simulate_in(dir.path(), &[], "hello\n");
    let out = text(&output.stdout);
    assert!(out.contains("bot: shop: hello"), "{out}");

    // A Page that is not listed: the error names the ones that are.
    let output = simulate_in(dir.path(), &["--page", "333"], "hello\n");
    let err = text(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "{err}");
    assert!(
        err.contains("--page 333: no [[pages]] entry has that id (the Pages: 111 Shop, 222 News)"),
        "{err}"
    );
}
