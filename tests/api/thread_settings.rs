//! `pagebot thread-settings` as a user runs it: the real binary against the fake Graph API,
//! checking exit codes, what it prints and exactly which Messenger Profile requests it made.

use std::path::PathBuf;
use std::process::Output;

use serde_json::{Value, json};

use pagebot::testing::{FAKE_PAGE_TOKEN, FakeError, FakeGraph, ProfileRequest};

const POLICY: &str = "\
default:
  - handler: user_profile
thread_settings:
  get_started: { payload: GET_STARTED }
  greeting: greeting-text
  persistent_menu:
    - { type: postback, title: menu-help, payload: HELP }
    - { type: web_url, title: menu-site, url: \"https://example.com/shop\" }
  ice_breakers:
    - { question: ask-hours, payload: HOURS }
  whitelisted_domains: [\"https://example.com\"]
";

const EN: &str = "\
greeting-text = Hi {\"{{\"}user_first_name{\"}}\"}, welcome!
menu-help = Help
menu-site = Shop
ask-hours = When are you open?
";

const ZH: &str = "\
greeting-text = {\"{{\"}user_first_name{\"}}\"} 你好，歡迎！
menu-help = 說明
menu-site = 商店
ask-hours = 幾點開門？
";

const ALL_FIELDS: [&str; 5] = [
    "whitelisted_domains",
    "get_started",
    "greeting",
    "persistent_menu",
    "ice_breakers",
];

/// A bot folder: routing.yaml and locales/{en-US,zh-TW}/bot.ftl.
struct Bot {
    dir: tempfile::TempDir,
}

impl Bot {
    fn new(policy: &str, en: &str, zh: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        for (tag, text) in [("en-US", en), ("zh-TW", zh)] {
            let folder = dir.path().join("locales").join(tag);
            std::fs::create_dir_all(&folder).expect("locale folder");
            std::fs::write(folder.join("bot.ftl"), text).expect("ftl");
        }
        let bot = Self { dir };
        bot.write_policy(policy);
        bot
    }

    fn demo() -> Self {
        Self::new(POLICY, EN, ZH)
    }

    fn policy(&self) -> PathBuf {
        self.dir.path().join("routing.yaml")
    }

    fn write_policy(&self, text: &str) {
        std::fs::write(self.policy(), text).expect("policy");
    }
}

/// Runs `pagebot thread-settings ARGS` with the bot and the fake's URL and token in its
/// environment (and nothing else of the caller's), stdin not a terminal.
async fn pagebot(args: &[&str], bot: &Bot, graph: &FakeGraph) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pagebot"));
    command.arg("thread-settings").args(args);
    for name in [
        "PAGEBOT_APP_SECRET",
        "PAGEBOT_VERIFY_TOKEN",
        "PAGEBOT_PAGE_TOKEN",
        "PAGEBOT_POLICY",
        "PAGEBOT_LOCALES",
        "PAGEBOT_DEFAULT_LOCALE",
        "PAGEBOT_GRAPH_URL",
        "PAGEBOT_GRAPH_VERSION",
    ] {
        command.env_remove(name);
    }
    command
        .env("RUST_LOG", "off")
        .env("PAGEBOT_POLICY", bot.policy())
        .env("PAGEBOT_LOCALES", bot.dir.path().join("locales"))
        .env("PAGEBOT_PAGE_TOKEN", FAKE_PAGE_TOKEN)
        .env("PAGEBOT_GRAPH_URL", graph.url())
        .stdin(std::process::Stdio::null());
    command.output().await.expect("the pagebot binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fails, showing the whole standard error, unless it contains `part`.
fn assert_stderr_has(output: &Output, part: &str) {
    assert!(stderr(output).contains(part), "{}", stderr(output));
}

/// Fails, showing the whole standard error, unless it starts with `start`.
fn assert_stderr_starts(output: &Output, start: &str) {
    assert!(stderr(output).starts_with(start), "{}", stderr(output));
}

/// `"GET"`, `"POST greeting,persistent_menu"`, `"DELETE"`: one line per request.
fn summary(requests: &[ProfileRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| match r.body.as_object() {
            Some(body) if r.method == "POST" => {
                format!(
                    "POST {}",
                    body.keys().cloned().collect::<Vec<_>>().join(",")
                )
            }
            _ => r.method.clone(),
        })
        .collect()
}

fn assert_get_of_every_field(request: &ProfileRequest) {
    assert_eq!(request.method, "GET");
    assert_eq!(request.fields, ALL_FIELDS);
    assert_eq!(request.body, Value::Null);
}

/// What the demo bot asks for, written out by hand.
fn demo_profile() -> Value {
    let menu = |help: &str, shop: &str| {
        json!([
            {"type": "postback", "title": help, "payload": "HELP"},
            {"type": "web_url", "title": shop, "url": "https://example.com/shop"},
        ])
    };
    let en_greeting = "Hi {{user_first_name}}, welcome!";
    let zh_greeting = "{{user_first_name}} 你好，歡迎！";
    json!({
        "whitelisted_domains": ["https://example.com"],
        "get_started": {"payload": "GET_STARTED"},
        "greeting": [
            {"locale": "default", "text": en_greeting},
            {"locale": "en_US", "text": en_greeting},
            {"locale": "zh_TW", "text": zh_greeting},
        ],
        "persistent_menu": [
            {"locale": "default", "composer_input_disabled": false, "call_to_actions": menu("Help", "Shop")},
            {"locale": "en_US", "composer_input_disabled": false, "call_to_actions": menu("Help", "Shop")},
            {"locale": "zh_TW", "composer_input_disabled": false, "call_to_actions": menu("說明", "商店")},
        ],
        "ice_breakers": [
            {"locale": "default", "call_to_actions": [{"question": "When are you open?", "payload": "HOURS"}]},
            {"locale": "en_US", "call_to_actions": [{"question": "When are you open?", "payload": "HOURS"}]},
            {"locale": "zh_TW", "call_to_actions": [{"question": "幾點開門？", "payload": "HOURS"}]},
        ],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_on_an_empty_profile_shows_every_field_and_exits_1_for_drift() {
    let bot = Bot::demo();
    let graph = FakeGraph::start().await;
    let output = pagebot(&["plan"], &bot, &graph).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let out = stdout(&output);
    for line in [
        "+ whitelisted_domains: https://example.com\n",
        "+ get_started: payload \"GET_STARTED\"\n",
        "+ greeting:\n",
        "    + default: \"Hi {{user_first_name}}, welcome!\"\n",
        "    + zh_TW: \"{{user_first_name}} 你好，歡迎！\"\n",
        "+ persistent_menu:\n",
        "    + zh_TW: \"說明\" -> postback HELP | \"商店\" -> https://example.com/shop\n",
        "+ ice_breakers:\n",
        "    + en_US: \"When are you open?\" -> HOURS\n",
        "5 of 5 fields differ from",
        "apply makes 2 calls:\n  1. POST whitelisted_domains, get_started\n  2. POST greeting, \
         persistent_menu, ice_breakers\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    let requests = graph.messenger_profile_requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_get_of_every_field(&requests[0]);
    assert_eq!(graph.messenger_profile(), json!({}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_then_plan_shows_no_drift() {
    let bot = Bot::demo();
    let graph = FakeGraph::start().await;
    let output = pagebot(&["apply", "--yes"], &bot, &graph).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("done: POST whitelisted_domains, get_started\n")
            && out.contains("done: POST greeting, persistent_menu, ice_breakers\n")
            && out.contains("the Page's profile now matches"),
        "{out}"
    );

    let requests = graph.messenger_profile_requests();
    assert_eq!(
        summary(&requests),
        [
            "GET",
            "POST get_started,whitelisted_domains",
            "POST greeting,ice_breakers,persistent_menu",
            "GET"
        ]
    );
    assert_get_of_every_field(&requests[0]);
    assert_get_of_every_field(&requests[3]);
    let want = demo_profile();
    assert_eq!(
        requests[1].body,
        json!({"whitelisted_domains": want["whitelisted_domains"], "get_started": want["get_started"]})
    );
    assert_eq!(
        requests[2].body,
        json!({
            "greeting": want["greeting"],
            "persistent_menu": want["persistent_menu"],
            "ice_breakers": want["ice_breakers"],
        })
    );
    assert_eq!(graph.messenger_profile(), want);

    let plan = pagebot(&["plan"], &bot, &graph).await;
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    assert!(stdout(&plan).starts_with("in sync: "), "{}", stdout(&plan));
    let requests = graph.messenger_profile_requests();
    assert_eq!(
        summary(&requests).len(),
        5,
        "plan makes one call: {requests:?}"
    );
    assert_get_of_every_field(&requests[4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_greeting_in_one_locale_pushes_only_the_greeting() {
    let bot = Bot::demo();
    let graph = FakeGraph::start().await;
    let mut page = demo_profile();
    page["greeting"][2]["text"] = json!("舊的問候");
    graph.set_messenger_profile(page);

    let output = pagebot(&["apply", "--yes"], &bot, &graph).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains(
            "~ greeting:\n    ~ zh_TW: \"舊的問候\" -> \"{{user_first_name}} 你好，歡迎！\"\n"
        ),
        "{out}"
    );
    assert!(out.contains("1 of 5 fields differ"), "{out}");
    let requests = graph.messenger_profile_requests();
    assert_eq!(summary(&requests), ["GET", "POST greeting", "GET"]);
    assert_eq!(
        requests[1].body,
        json!({"greeting": demo_profile()["greeting"]})
    );
    assert_eq!(graph.messenger_profile(), demo_profile());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_removed_from_the_file_is_deleted() {
    let bot = Bot::demo();
    let graph = FakeGraph::start().await;
    graph.set_messenger_profile(demo_profile());
    bot.write_policy(&POLICY.replace(
        "  ice_breakers:\n    - { question: ask-hours, payload: HOURS }\n",
        "",
    ));

    let plan = pagebot(&["plan"], &bot, &graph).await;
    assert_eq!(plan.status.code(), Some(1), "{}", stderr(&plan));
    assert!(
        stdout(&plan).contains("- ice_breakers: not in routing.yaml, deleted by apply\n"),
        "{}",
        stdout(&plan)
    );

    let output = pagebot(&["apply", "--yes"], &bot, &graph).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let requests = graph.messenger_profile_requests();
    assert_eq!(summary(&requests), ["GET", "GET", "DELETE", "GET"]);
    assert_eq!(requests[2].body, json!({"fields": ["ice_breakers"]}));
    let mut want = demo_profile();
    want.as_object_mut().unwrap().remove("ice_breakers");
    assert_eq!(graph.messenger_profile(), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_long_title_is_refused_before_any_http_call() {
    let long = "說明".repeat(16);
    let bot = Bot::new(
        POLICY,
        EN,
        &ZH.replace("menu-help = 說明", &format!("menu-help = {long}")),
    );
    let graph = FakeGraph::start().await;
    for args in [&["plan"][..], &["apply", "--yes"][..]] {
        let output = pagebot(args, &bot, &graph).await;
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            stderr(&output)
        );
        let err = stderr(&output);
        assert!(
            err.contains(&format!(
                "{}:7: persistent_menu item 1 title \"menu-help\" has 32 characters in zh-TW \
                 (\"{long}\"); Messenger allows at most 30",
                bot.policy().display()
            )),
            "{err}"
        );
        assert!(err.contains("nothing was sent"), "{err}");
        assert!(stdout(&output).is_empty(), "{}", stdout(&output));
    }
    assert_eq!(graph.messenger_profile_calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nested_menu_is_refused_with_the_reason() {
    let nested = POLICY.replace(
        "    - { type: postback, title: menu-help, payload: HELP }\n",
        "    - { type: nested, title: menu-help, call_to_actions: [] }\n",
    );
    let bot = Bot::new(&nested, EN, ZH);
    let graph = FakeGraph::start().await;
    let output = pagebot(&["apply", "--yes"], &bot, &graph).await;
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains(
            ":7: persistent_menu item 1: nested menus were removed from the Messenger \
                      Platform in v8.0; flatten the menu"
        ),
        "{err}"
    );
    assert_eq!(graph.messenger_profile_calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_error_exits_1_with_code_subcode_message_and_trace_and_no_token() {
    let bot = Bot::demo();
    let graph = FakeGraph::start().await;
    graph.fail_next_messenger_profile_calls([FakeError::graph(100, Some(2018001))
        .with_message(format!("(#100) the token {FAKE_PAGE_TOKEN} cannot do that"))]);
    let output = pagebot(&["plan"], &bot, &graph).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert_eq!(
        err,
        "error: reading the Page's profile failed: graph error (http 400)\n  code: 100\n  \
         subcode: 2018001\n  message: (#100) the token [redacted] cannot do that\n  \
         fbtrace_id: FAKE1\n"
    );
    assert!(!stdout(&output).contains(FAKE_PAGE_TOKEN));
    assert_eq!(graph.messenger_profile_calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_during_apply_stops_exits_2_and_says_how_far_it_got() {
    let bot = Bot::demo();
    let graph = FakeGraph::start().await;
    // The read and the first POST go through; the second POST hits the rate limit.
    graph.script_messenger_profile_calls([None, None, Some(FakeError::graph(613, None))]);
    let output = pagebot(&["apply", "--yes"], &bot, &graph).await;
    // A rate limit: the command could not run now (2), unlike a refusal (1).
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    for needle in [
        "error: POST greeting, persistent_menu, ice_breakers failed: graph error (http 400)\n",
        "  code: 613\n  subcode: none\n",
        "  fbtrace_id: FAKE1\n",
        "10 calls per 10 minutes per Page",
        "1 of 2 calls were made before this one; run `pagebot thread-settings plan`",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert_eq!(
        summary(&graph.messenger_profile_requests()),
        [
            "GET",
            "POST get_started,whitelisted_domains",
            "POST greeting,ice_breakers,persistent_menu"
        ]
    );
    let want = demo_profile();
    assert_eq!(
        graph.messenger_profile(),
        json!({"whitelisted_domains": want["whitelisted_domains"], "get_started": want["get_started"]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_without_a_terminal_refuses_unless_yes() {
    let bot = Bot::demo();
    let graph = FakeGraph::start().await;
    let output = pagebot(&["apply"], &bot, &graph).await;
    assert_eq!(output.status.code(), Some(1));
    assert_stderr_has(&output, "pass --yes");
    // It read the profile to show the plan, and changed nothing.
    assert!(
        stdout(&output).contains("+ get_started:"),
        "{}",
        stdout(&output)
    );
    assert_eq!(summary(&graph.messenger_profile_requests()), ["GET"]);
    assert_eq!(graph.messenger_profile(), json!({}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_prints_the_live_profile_readably_or_as_json() {
    let bot = Bot::demo();
    let graph = FakeGraph::start().await;
    graph.set_messenger_profile(demo_profile());
    let output = pagebot(&["show"], &bot, &graph).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    for line in [
        "whitelisted_domains: https://example.com\n",
        "get_started: payload \"GET_STARTED\"\n",
        "greeting:\n  default: \"Hi {{user_first_name}}, welcome!\"\n",
        "  zh_TW: \"說明\" -> postback HELP | \"商店\" -> https://example.com/shop\n",
        "ice_breakers:\n  default: \"When are you open?\" -> HOURS\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    let json = pagebot(&["show", "--json"], &bot, &graph).await;
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let shown: Value = serde_json::from_slice(&json.stdout).expect("json output");
    assert_eq!(shown, demo_profile());
    let requests = graph.messenger_profile_requests();
    assert_eq!(summary(&requests), ["GET", "GET"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_the_named_fields_in_one_call() {
    let bot = Bot::demo();
    let graph = FakeGraph::start().await;
    graph.set_messenger_profile(demo_profile());

    let refused = pagebot(&["delete", "greeting"], &bot, &graph).await;
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(graph.messenger_profile_calls(), 0);

    let output = pagebot(
        &["delete", "ice_breakers", "greeting", "--yes"],
        &bot,
        &graph,
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("done: DELETE greeting, ice_breakers\n"),
        "{}",
        stdout(&output)
    );
    let requests = graph.messenger_profile_requests();
    assert_eq!(summary(&requests), ["DELETE"]);
    assert_eq!(
        requests[0].body,
        json!({"fields": ["greeting", "ice_breakers"]})
    );
    let left = graph.messenger_profile();
    assert!(left.get("greeting").is_none() && left.get("ice_breakers").is_none());
    assert!(left.get("persistent_menu").is_some());

    let unknown = pagebot(&["delete", "home_url", "--yes"], &bot, &graph).await;
    assert_ne!(unknown.status.code(), Some(0));
    assert_stderr_has(&unknown, "unknown thread settings field \"home_url\"");
    assert_eq!(graph.messenger_profile_calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_page_token_nothing_is_called() {
    let bot = Bot::demo();
    let graph = FakeGraph::start().await;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pagebot"));
    let output = command
        .args(["thread-settings", "plan"])
        .env_remove("PAGEBOT_PAGE_TOKEN")
        .env("RUST_LOG", "off")
        .env("PAGEBOT_POLICY", bot.policy())
        .env("PAGEBOT_LOCALES", bot.dir.path().join("locales"))
        .env("PAGEBOT_GRAPH_URL", graph.url())
        .output()
        .await
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    assert_stderr_has(&output, "PAGEBOT_PAGE_TOKEN");
    assert_eq!(graph.messenger_profile_calls(), 0);
}

// With `[[pages]]`: two Pages, each with its own token, policy or thread_settings file.

/// The second Page's token (the first's is `FAKE_PAGE_TOKEN`).
const HELP_TOKEN: &str = "help-page-token";

/// The second Page's thread_settings file, used instead of its policy's.
const HELP_PROFILE: &str = "\
thread_settings:
  get_started: { payload: HELP_START }
  greeting: help-greeting
";

/// Two Pages in one pagebot.toml: 111 "Shop" (the demo bot, its token in
/// `PAGEBOT_TOKEN_SHOP`) and 222 (a thread_settings file, its own locales, its token in a file
/// next to pagebot.toml).
struct TwoPages {
    shop: Bot,
    dir: tempfile::TempDir,
}

impl TwoPages {
    fn new() -> Self {
        let shop = Bot::demo();
        let dir = tempfile::tempdir().expect("temp dir");
        let locales = dir.path().join("help-locales/en-US");
        std::fs::create_dir_all(&locales).expect("locales");
        std::fs::write(
            locales.join("help.ftl"),
            "help-greeting = Ask us anything\n",
        )
        .expect("ftl");
        std::fs::write(dir.path().join("help-profile.yaml"), HELP_PROFILE).expect("profile");
        std::fs::write(dir.path().join("help.token"), format!("{HELP_TOKEN}\n")).expect("token");
        // Its policy is the shop's: the thread_settings file is used instead of its section.
        let config = format!(
            "[[pages]]\nid = 111\nname = \"Shop\"\ntoken_env = \"PAGEBOT_TOKEN_SHOP\"\n\
             policy = {:?}\nlocales = {:?}\n\n\
             [[pages]]\nid = \"222\"\ntoken_file = \"help.token\"\npolicy = {:?}\n\
             locales = {:?}\nthread_settings = {:?}\n",
            shop.policy(),
            shop.dir.path().join("locales"),
            shop.policy(),
            dir.path().join("help-locales"),
            dir.path().join("help-profile.yaml"),
        );
        std::fs::write(dir.path().join("pagebot.toml"), config).expect("config");
        Self { shop, dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("pagebot.toml")
    }

    /// What the second Page's file asks for.
    fn help_profile() -> Value {
        json!({
            "get_started": {"payload": "HELP_START"},
            "greeting": [
                {"locale": "default", "text": "Ask us anything"},
                {"locale": "en_US", "text": "Ask us anything"},
            ],
        })
    }
}

/// Runs `pagebot --config pagebot.toml thread-settings ARGS` with the shop's token in
/// `PAGEBOT_TOKEN_SHOP` (unless `shop_token` is `None`) and no `PAGEBOT_PAGE_TOKEN`.
async fn with_pages(
    args: &[&str],
    pages: &TwoPages,
    graph: &FakeGraph,
    shop_token: Option<&str>,
) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pagebot"));
    command
        .arg("--config")
        .arg(pages.config())
        .arg("thread-settings")
        .args(args);
    for name in [
        "PAGEBOT_CONFIG",
        "PAGEBOT_APP_SECRET",
        "PAGEBOT_PAGE_TOKEN",
        "PAGEBOT_TOKEN_SHOP",
        "PAGEBOT_POLICY",
        "PAGEBOT_LOCALES",
        "PAGEBOT_DEFAULT_LOCALE",
        "PAGEBOT_GRAPH_VERSION",
    ] {
        command.env_remove(name);
    }
    if let Some(token) = shop_token {
        command.env("PAGEBOT_TOKEN_SHOP", token);
    }
    command
        .env("RUST_LOG", "off")
        .env("PAGEBOT_GRAPH_URL", graph.url())
        .stdin(std::process::Stdio::null());
    command.output().await.expect("the pagebot binary runs")
}

/// A fake that knows both Pages' tokens.
async fn two_page_graph() -> FakeGraph {
    let graph = FakeGraph::start().await;
    graph.add_page_token(HELP_TOKEN);
    graph
}

/// Each request as [`summary`] has it, with the Page its token is for.
fn by_page(requests: &[ProfileRequest]) -> Vec<(String, &'static str)> {
    summary(requests)
        .into_iter()
        .zip(requests)
        .map(|(line, request)| {
            let page = match request.token.as_deref() {
                Some(FAKE_PAGE_TOKEN) => "shop",
                Some(HELP_TOKEN) => "help",
                other => panic!("a request with another token: {other:?}"),
            };
            (line, page)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_several_pages_a_command_must_choose_and_is_told_which_there_are() {
    let pages = TwoPages::new();
    let graph = two_page_graph().await;
    let config = pages.config().display().to_string();
    let output = with_pages(&["plan"], &pages, &graph, Some(FAKE_PAGE_TOKEN)).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "error: the settings list 2 Pages: choose one with --page ID (repeat it for \
             several), or take every one with --all-pages:\n  page 111 (Shop) (at \
             {config}:1)\n  page 222 (at {config}:8)\n"
        )
    );
    let unknown = with_pages(&["show", "--page", "333"], &pages, &graph, None).await;
    assert_eq!(unknown.status.code(), Some(1), "{}", stderr(&unknown));
    assert_stderr_starts(&unknown, "error: --page 333: no such Page in the settings");
    let both = with_pages(
        &["show", "--page", "111", "--all-pages"],
        &pages,
        &graph,
        None,
    )
    .await;
    assert_eq!(both.status.code(), Some(1), "{}", stderr(&both));
    assert_eq!(graph.messenger_profile_calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_all_pages_pushes_each_pages_settings_with_its_own_token() {
    let pages = TwoPages::new();
    let graph = two_page_graph().await;
    let output = with_pages(
        &["apply", "--all-pages", "--yes"],
        &pages,
        &graph,
        Some(FAKE_PAGE_TOKEN),
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    let shop = out.find("== page 111 (Shop) ==\n").expect(&out);
    let help = out.find("\n== page 222 ==\n").expect(&out);
    assert!(shop == 0 && shop < help, "{out}");
    let help_file = pages.dir.path().join("help-profile.yaml");
    assert!(
        out[help..].contains(&format!(
            "the Page's profile now matches {}\n",
            help_file.display()
        )),
        "{out}"
    );
    assert!(
        out[..help].contains(&format!(
            "the Page's profile now matches {}\n",
            pages.shop.policy().display()
        )),
        "{out}"
    );
    assert_eq!(graph.messenger_profile_of(FAKE_PAGE_TOKEN), demo_profile());
    assert_eq!(
        graph.messenger_profile_of(HELP_TOKEN),
        TwoPages::help_profile()
    );
    let requests = graph.messenger_profile_requests();
    let pair = |line: &str, page: &'static str| (line.to_owned(), page);
    assert_eq!(
        by_page(&requests),
        [
            pair("GET", "shop"),
            pair("POST get_started,whitelisted_domains", "shop"),
            pair("POST greeting,ice_breakers,persistent_menu", "shop"),
            pair("GET", "shop"),
            pair("GET", "help"),
            pair("POST get_started,greeting", "help"),
            pair("GET", "help"),
        ]
    );

    let plan = with_pages(
        &["plan", "--all-pages"],
        &pages,
        &graph,
        Some(FAKE_PAGE_TOKEN),
    )
    .await;
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    assert_eq!(
        stdout(&plan).matches("in sync: ").count(),
        2,
        "{}",
        stdout(&plan)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_page_is_read_with_its_token_only_and_exit_codes_take_the_worst() {
    let pages = TwoPages::new();
    let graph = two_page_graph().await;
    // 222 by id: drift, read with its own token only.
    let plan = with_pages(&["plan", "--page", "222"], &pages, &graph, None).await;
    assert_eq!(plan.status.code(), Some(1), "{}", stderr(&plan));
    assert!(stdout(&plan).starts_with("== page 222 ==\n+ get_started: payload \"HELP_START\"\n"));
    assert_eq!(
        by_page(&graph.messenger_profile_requests()),
        [("GET".to_owned(), "help")]
    );

    // The shop in sync (0), the other Page's Graph answering 500 (2): 2.
    graph.set_messenger_profile(demo_profile());
    graph.script_messenger_profile_calls([None, Some(FakeError::graph(2, None))]);
    let plan = with_pages(
        &["plan", "--all-pages"],
        &pages,
        &graph,
        Some(FAKE_PAGE_TOKEN),
    )
    .await;
    assert_eq!(plan.status.code(), Some(2), "{}", stderr(&plan));
    assert!(
        stdout(&plan).contains("== page 111 (Shop) ==\nin sync: "),
        "{}",
        stdout(&plan)
    );
    assert_stderr_starts(&plan, "page 222:\nerror: reading the Page's profile failed");
    // The shop drifting (1), the other in sync (0): 1. By name this time.
    graph.set_messenger_profile(json!({}));
    graph.set_messenger_profile_of(HELP_TOKEN, TwoPages::help_profile());
    let plan = with_pages(
        &["plan", "--page", "Shop", "--page", "222"],
        &pages,
        &graph,
        Some(FAKE_PAGE_TOKEN),
    )
    .await;
    assert_eq!(plan.status.code(), Some(1), "{}", stderr(&plan));
    let out = stdout(&plan);
    assert!(out.contains("5 of 5 fields differ from"), "{out}");
    assert!(out.contains("== page 222 ==\nin sync: "), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_token_is_missing_fails_alone_naming_its_line() {
    let pages = TwoPages::new();
    let graph = two_page_graph().await;
    graph.set_messenger_profile_of(HELP_TOKEN, TwoPages::help_profile());
    let output = with_pages(&["show", "--all-pages", "--json"], &pages, &graph, None).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "page 111 (Shop):\nerror: {}:4: page 111's token_env PAGEBOT_TOKEN_SHOP is not set\n",
            pages.config().display()
        )
    );
    let out = stdout(&output);
    let json_start = out.find("== page 222 ==\n").expect(&out) + "== page 222 ==\n".len();
    let shown: Value = serde_json::from_str(&out[json_start..]).expect(&out);
    assert_eq!(shown, TwoPages::help_profile());
    assert_eq!(
        by_page(&graph.messenger_profile_requests()),
        [("GET".to_owned(), "help")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_acts_on_the_chosen_pages_profile_only() {
    let pages = TwoPages::new();
    let graph = two_page_graph().await;
    graph.set_messenger_profile(demo_profile());
    graph.set_messenger_profile_of(HELP_TOKEN, TwoPages::help_profile());
    let output = with_pages(
        &["delete", "greeting", "--page", "111", "--yes"],
        &pages,
        &graph,
        Some(FAKE_PAGE_TOKEN),
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let mut want = demo_profile();
    want.as_object_mut().unwrap().remove("greeting");
    assert_eq!(graph.messenger_profile(), want);
    assert_eq!(
        graph.messenger_profile_of(HELP_TOKEN),
        TwoPages::help_profile()
    );
    let requests = graph.messenger_profile_requests();
    assert_eq!(by_page(&requests), [("DELETE".to_owned(), "shop")]);
    assert_eq!(requests[0].body, json!({"fields": ["greeting"]}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pages_all_pages_is_the_one_page_and_page_is_refused() {
    let bot = Bot::demo();
    let graph = FakeGraph::start().await;
    let output = pagebot(&["plan", "--all-pages"], &bot, &graph).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    // No heading: the output of a deployment without [[pages]] is as it always was.
    assert!(
        stdout(&output).starts_with("+ whitelisted_domains: "),
        "{}",
        stdout(&output)
    );
    assert_eq!(graph.messenger_profile_calls(), 1);
    let output = pagebot(&["plan", "--page", "111"], &bot, &graph).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_stderr_starts(
        &output,
        "error: --page chooses among the [[pages]] of pagebot.toml",
    );
    assert_eq!(graph.messenger_profile_calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_settings_file_with_routes_is_refused_before_any_call() {
    let pages = TwoPages::new();
    let graph = two_page_graph().await;
    let file = pages.dir.path().join("help-profile.yaml");
    std::fs::write(
        &file,
        format!("{HELP_PROFILE}routes:\n  STICKER:\n    - handler: thumbs_up\n"),
    )
    .unwrap();
    let output = with_pages(&["plan", "--page", "222"], &pages, &graph, None).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "page 222:\n{}:6: route STICKER belongs in the Page's policy: a thread_settings file \
             holds only thread_settings:\n",
            file.display()
        )
    );
    assert_eq!(graph.messenger_profile_calls(), 0);
}
