//! routing.yaml parsing and checking: every mistake comes back with its file, line and sentence.
//!
//! The YAML is inline and starts right after `r#"`, so the text's first line is line 1; the
//! `# N` comments mark the lines the assertions name.

use std::path::{Path, PathBuf};

use pagebot::ReceivingType;
use pagebot::policy::*;
use serde_json::json;

fn parse(text: &str) -> Result<PolicyDocument, PolicyErrors> {
    PolicyDocument::parse(Path::new("routing.yaml"), text)
}

/// The errors of a text that must not parse, as `line: message`.
fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("expected errors, the policy parsed:\n{text}"),
        Err(errors) => errors
            .iter()
            .map(|e| {
                assert_eq!(e.file, PathBuf::from("routing.yaml"));
                assert_eq!(e.severity, Severity::Error);
                match e.line {
                    Some(line) => format!("{line}: {}", e.message),
                    None => e.message.clone(),
                }
            })
            .collect(),
    }
}

/// The one error of a text that must not parse.
fn error(text: &str) -> String {
    let mut all = errors(text);
    assert_eq!(all.len(), 1, "expected one error, got {all:#?}");
    all.remove(0)
}

const DESIGN_EXAMPLE: &str = r#"default:                     # 1: runs first for every event
  - handler: user_profile    # 2
routes:
  STICKER:
    - handler: thumb_up      # 5
      senders:
        - text: { message: thanks-for-the-thumb }          # 7
        - image: { url: "https://example.com/thumb.png" }  # 8
  SIMPLE_TEXT:
    - handler: simple_text   # 10
      args: { regex: "^(hi|hello)\\b", ignore_case: true } # 11
      stop: true
      senders:
        - sender_action: { action: typing_on }             # 14
        - text: { message: hello, args: { name: "{user.first_name}" } }
        - quick_replies:                                   # 16
            message: pick-a-colour
            replies:
              - { title: color-red, payload: COLOR_RED }
              - { title: color-blue, payload: COLOR_BLUE }
    - handler: simple_text   # 21
      fallback: true
      senders:
        - text: { message: did-not-understand }            # 24
  LOCATION:
    - handler: location      # 26
      senders:
        - text: { message: got-your-location }
  GET_STARTED_BUTTON:
    - handler: dummy         # 30
      senders:
        - buttons:                                         # 32
            message: welcome
            buttons:
              - { type: postback, title: menu-help, payload: HELP }
              - { type: web_url, title: menu-site, url: "https://example.com" }
thread_settings:
  get_started: { payload: GET_STARTED }                    # 38
  greeting: greeting-text                                  # 39
  persistent_menu:
    - { type: postback, title: menu-help, payload: HELP }  # 41
    - { type: web_url, title: menu-site, url: "https://example.com" }
  ice_breakers:
    - { question: ask-hours, payload: HOURS }              # 44
  whitelisted_domains: ["https://example.com"]             # 45
"#;

#[test]
fn the_design_example_parses_with_its_lines() {
    let doc = parse(DESIGN_EXAMPLE).unwrap();
    assert_eq!(doc.file, PathBuf::from("routing.yaml"));

    assert_eq!(doc.default.len(), 1);
    let profile = &doc.default[0];
    assert_eq!(profile.handler, "user_profile");
    assert_eq!((profile.line, profile.args_line), (2, 2));
    assert_eq!(profile.args, json!({}));
    assert!(profile.senders.is_empty());
    assert!(!profile.stop && !profile.fallback);

    let kinds: Vec<ReceivingType> = doc.routes.iter().map(|(kind, _)| *kind).collect();
    assert_eq!(
        kinds,
        [
            ReceivingType::Sticker,
            ReceivingType::SimpleText,
            ReceivingType::Location,
            ReceivingType::GetStartedButton
        ],
        "routes keep file order"
    );

    let sticker = doc.route(ReceivingType::Sticker).unwrap();
    assert_eq!(sticker[0].handler, "thumb_up");
    assert_eq!(sticker[0].line, 5);
    let senders: Vec<(&str, u32)> = sticker[0]
        .senders
        .iter()
        .map(|s| (s.kind.as_str(), s.line))
        .collect();
    assert_eq!(senders, [("text", 7), ("image", 8)]);
    assert_eq!(
        sticker[0].senders[0].args,
        json!({"message": "thanks-for-the-thumb"})
    );
    assert_eq!(
        sticker[0].senders[1].args,
        json!({"url": "https://example.com/thumb.png"})
    );

    let text = doc.route(ReceivingType::SimpleText).unwrap();
    assert_eq!(text.len(), 2);
    let hello = &text[0];
    assert_eq!((hello.line, hello.args_line), (10, 11));
    assert_eq!(
        hello.args,
        json!({"regex": "^(hi|hello)\\b", "ignore_case": true})
    );
    assert!(hello.stop && !hello.fallback);
    let senders: Vec<(&str, u32)> = hello
        .senders
        .iter()
        .map(|s| (s.kind.as_str(), s.line))
        .collect();
    assert_eq!(
        senders,
        [("sender_action", 14), ("text", 15), ("quick_replies", 16)]
    );
    assert_eq!(
        hello.senders[1].args,
        json!({"message": "hello", "args": {"name": "{user.first_name}"}})
    );
    assert_eq!(
        hello.senders[2].args["replies"][1],
        json!({"title": "color-blue", "payload": "COLOR_BLUE"})
    );
    let fallback = &text[1];
    assert_eq!((fallback.line, fallback.args_line), (21, 21));
    assert!(fallback.fallback && !fallback.stop);
    assert_eq!(fallback.senders[0].line, 24);

    assert_eq!(doc.route(ReceivingType::Location).unwrap()[0].line, 26);
    let welcome = &doc.route(ReceivingType::GetStartedButton).unwrap()[0];
    assert_eq!((welcome.handler.as_str(), welcome.line), ("dummy", 30));
    assert_eq!(welcome.senders[0].line, 32);
    assert_eq!(doc.route(ReceivingType::Echo), None);
    assert_eq!(doc.route(ReceivingType::Default).unwrap().len(), 1);
    assert_eq!(doc.links().count(), 6);

    let ts = &doc.thread_settings;
    assert_eq!(
        ts.get_started,
        Some(Located {
            value: "GET_STARTED".to_owned(),
            line: 38
        })
    );
    assert_eq!(
        ts.greeting,
        Some(Located {
            value: "greeting-text".to_owned(),
            line: 39
        })
    );
    assert_eq!(
        ts.persistent_menu,
        [
            MenuItemSpec {
                kind: MenuItemKind::Postback {
                    payload: "HELP".to_owned()
                },
                title: "menu-help".to_owned(),
                line: 41,
            },
            MenuItemSpec {
                kind: MenuItemKind::WebUrl {
                    url: "https://example.com".to_owned()
                },
                title: "menu-site".to_owned(),
                line: 42,
            },
        ]
    );
    assert_eq!(
        ts.ice_breakers,
        [IceBreakerSpec {
            question: "ask-hours".to_owned(),
            payload: "HOURS".to_owned(),
            line: 44,
        }]
    );
    assert_eq!(
        ts.whitelisted_domains,
        [Located {
            value: "https://example.com".to_owned(),
            line: 45
        }]
    );
    assert_eq!(doc.get_started_payload(), Some("GET_STARTED"));
    assert_eq!(doc.persistent_menu_payloads(), ["HELP", ""]);
}

#[test]
fn the_shipped_routing_yaml_loads() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("routing.yaml");
    let doc = PolicyDocument::load(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(doc.file, file);
    assert!(doc.route(ReceivingType::SimpleText).is_some());
    assert_eq!(doc.get_started_payload(), Some("GET_STARTED"));
}

#[test]
fn an_empty_file_is_an_empty_policy() {
    for text in ["", "\n", "# nothing yet\n", "---\n"] {
        let doc = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(doc.default.is_empty() && doc.routes.is_empty());
        assert_eq!(doc.thread_settings, ThreadSettingsSpec::default());
        assert_eq!(doc.get_started_payload(), None);
        assert!(doc.persistent_menu_payloads().is_empty());
    }
}

#[test]
fn an_unknown_route_type_names_the_known_ones() {
    let e = error(
        r#"routes:
  STICKER:
    - handler: thumb_up
  STICKERS:                  # 4
    - handler: thumb_up
"#,
    );
    assert!(
        e.starts_with(
            "4: unknown receiving type \"STICKERS\" (known: ACCOUNT_LINKING, AUDIO, AUTHENTICATION, "
        ),
        "{e}"
    );
    assert!(e.ends_with(", UNKNOWN, VIDEO)"), "{e}");
    assert!(!e.contains("DEFAULT"), "{e}");
}

#[test]
fn default_is_not_a_route() {
    let e = error(
        r#"routes:
  DEFAULT:                   # 2
    - handler: user_profile
"#,
    );
    assert!(e.starts_with("2: DEFAULT is not a route"), "{e}");
    assert!(e.contains("top-level \"default:\""), "{e}");
}

#[test]
fn an_unknown_key_in_a_link_points_at_that_key() {
    let e = error(
        r#"routes:
  STICKER:
    - handler: thumb_up
      stop: true
      sender:                # 5: a typo
        - text: { message: thanks-for-the-thumb }
"#,
    );
    assert_eq!(
        e,
        "5: unknown field `sender`, expected one of handler, args, senders, stop, fallback, when, \
         global, remember, forget, then"
    );
}

#[test]
fn unknown_keys_elsewhere_are_errors_too() {
    assert_eq!(
        error("default:\n  - handler: a\nroute:\n  STICKER: []\n"),
        "3: unknown field `route`, expected one of default, routes, thread_settings, steps"
    );
    let e = error("thread_settings:\n  greeting: hi\n  menu: []\n");
    assert!(
        e.starts_with("3: unknown field `menu`, expected one of "),
        "{e}"
    );
    let e = error(
        "thread_settings:\n  get_started: { payload: GO }\n  persistent_menu:\n    - { type: web_url, title: t, url: \"https://x.com\", webview_height_ratio: tall }\n",
    );
    assert!(
        e.starts_with("4: unknown field `webview_height_ratio`"),
        "{e}"
    );
    let e = error("thread_settings:\n  get_started: { payload: GO, text: hi }\n");
    assert!(e.starts_with("2: unknown field `text`"), "{e}");
}

#[test]
fn duplicate_keys_are_refused() {
    assert_eq!(
        error(
            r#"routes:
  STICKER:
    - handler: thumb_up
  STICKER:                   # 4
    - handler: dummy
"#
        ),
        "4: duplicate mapping key `STICKER` is not allowed here"
    );
    assert_eq!(
        error("default:\n  - handler: a\n    stop: true\n    handler: b\n"),
        "4: duplicate mapping key `handler` is not allowed here"
    );
}

#[test]
fn bad_sender_entries_are_all_reported_with_their_lines() {
    let all = errors(
        r#"routes:
  SIMPLE_TEXT:
    - handler: simple_text
      senders:
        - typing_on                                     # 5: a bare string
        - text: { message: hello }
          image: { url: "https://example.com/a.png" }   # 6-7: two keys
        - {}                                            # 8: no key
        - text: hello                                   # 9: args not a mapping
        - [text]                                        # 10
"#,
    );
    assert_eq!(all.len(), 5, "{all:#?}");
    assert!(
        all[0].starts_with("5: sender \"typing_on\" has no arguments mapping: "),
        "{}",
        all[0]
    );
    assert!(all[0].ends_with("e.g. `- text: { message: hello }`"));
    assert!(
        all[1].starts_with("6: a sender entry has 2 keys (image, text): "),
        "{}",
        all[1]
    );
    assert!(
        all[2].starts_with("8: a sender entry has no key: "),
        "{}",
        all[2]
    );
    assert_eq!(
        all[3],
        "9: args of sender \"text\" must be a mapping, not a string"
    );
    assert!(
        all[4].starts_with("10: a sender cannot be a list: "),
        "{}",
        all[4]
    );
}

#[test]
fn senders_must_be_a_list() {
    assert_eq!(
        error("default:\n  - handler: a\n    senders: { text: { message: hi } }\n"),
        "3: invalid type: map, expected a list of senders, each like `- text: { message: hello }`"
    );
    assert_eq!(
        error("default:\n  - handler: a\n    senders:\n"),
        "3: invalid type: null, expected a list of senders, each like `- text: { message: hello }`"
    );
}

#[test]
fn args_must_be_a_mapping() {
    let all = errors(
        r#"default:
  - handler: simple_text
    args: ["^hi"]            # 3
  - handler: dummy
    args: hello              # 5
  - handler: dummy
    args:                    # 7: null
"#,
    );
    assert_eq!(
        all,
        [
            "3: args of handler \"simple_text\" must be a mapping, not a list",
            "5: args of handler \"dummy\" must be a mapping, not a string",
            "7: args of handler \"dummy\" must be a mapping, not null (write `{}` for none)",
        ]
    );
}

#[test]
fn args_keep_yaml_strings_as_written() {
    let doc = parse(
        r#"default:
  - handler: quick_reply
    args: { answer: no, code: 007, big: 1_000, on: off, yes: true }
"#,
    )
    .unwrap();
    assert_eq!(
        doc.default[0].args,
        json!({"answer": "no", "code": "007", "big": "1_000", "on": "off", "yes": true})
    );
}

#[test]
fn flags_take_only_true_or_false() {
    assert_eq!(
        error("default:\n  - handler: a\n    stop: yes\n"),
        "3: invalid type: string \"yes\", expected true or false"
    );
    assert_eq!(
        error("default:\n  - handler: a\n    fallback: \"true\"\n"),
        "3: invalid type: string \"true\", expected true or false"
    );
}

#[test]
fn links_need_a_non_empty_handler_name() {
    let all = errors(
        r#"default:
  - stop: true               # 2
    senders: []
  - handler: ""              # 4
  - handler: " "             # 5
"#,
    );
    assert_eq!(
        all,
        [
            "2: link has no handler (write `- handler: name`)",
            "4: handler name is empty",
            "5: handler name is empty",
        ]
    );
}

#[test]
fn empty_chains_are_errors() {
    let all = errors(
        r#"default: []                  # 1
routes:
  STICKER: []                # 3
  IMAGE:                     # 4
  LOCATION:
    - handler: location
"#,
    );
    assert_eq!(
        all,
        [
            "1: the default chain has no handlers",
            "3: route STICKER has no handlers",
            "4: route IMAGE has no handlers",
        ]
    );
}

#[test]
fn a_chain_must_be_a_list() {
    assert_eq!(
        error("routes:\n  STICKER:\n    handler: thumb_up\n"),
        "3: invalid type: map, expected a list of links, each starting with `- handler:`"
    );
}

#[test]
fn the_wrong_shape_says_what_was_expected() {
    assert_eq!(
        error("default:\n  - user_profile\n"),
        "2: invalid type: string \"user_profile\", expected a link, a mapping like `- handler: name`"
    );
    assert_eq!(
        error("thread_settings:\n  get_started: GO\n"),
        "2: invalid type: string \"GO\", expected a mapping like `get_started: { payload: GET_STARTED }`"
    );
    assert_eq!(
        error("thread_settings:\n  get_started: { payload: GO }\n  persistent_menu: [help]\n"),
        "3: invalid type: string \"help\", expected a menu item like \
         `{ type: postback, title: id, payload: P }`"
    );
    let e = parse("- a list\n").unwrap_err();
    assert_eq!(
        e.0[0].message,
        "invalid type: sequence, expected a mapping with the keys default, routes, steps and \
         thread_settings"
    );
}

#[test]
fn stop_and_fallback_may_be_combined_anywhere() {
    let doc = parse(
        r#"routes:
  SIMPLE_TEXT:
    - handler: simple_text
      fallback: true
      stop: true
    - handler: dummy
"#,
    )
    .unwrap();
    let chain = doc.route(ReceivingType::SimpleText).unwrap();
    assert!(chain[0].fallback && chain[0].stop);
}

#[test]
fn a_menu_over_twenty_items_is_refused_at_the_first_extra_item() {
    let mut text =
        String::from("thread_settings:\n  get_started: { payload: GO }\n  persistent_menu:\n");
    for i in 1..=22 {
        text.push_str(&format!(
            "    - {{ type: postback, title: item-{i}, payload: P{i} }}\n"
        ));
    }
    // Item 1 is on line 4, so item 21 is on line 24.
    assert_eq!(
        error(&text),
        "24: persistent_menu has 22 items; Messenger allows at most 20"
    );
}

#[test]
fn nested_menus_are_refused() {
    let all = errors(
        r#"thread_settings:
  get_started: { payload: GO }
  persistent_menu:
    - type: nested                                     # 4
      title: more
      call_to_actions:
        - { type: postback, title: menu-help, payload: HELP }
    - title: more                                      # 8: no type, but children
      call_to_actions: []
    - { type: postback, title: menu-help, payload: HELP }
"#,
    );
    let nested = "nested menus were removed from the Messenger Platform in v8.0; flatten the menu";
    assert_eq!(
        all,
        [
            format!("4: persistent_menu item 1: {nested}"),
            format!("8: persistent_menu item 2: {nested}"),
        ]
    );
}

#[test]
fn menu_payloads_must_be_distinct_and_differ_from_get_started() {
    let all = errors(
        r#"thread_settings:
  get_started: { payload: GET_STARTED }                          # 2
  persistent_menu:
    - { type: postback, title: menu-help, payload: HELP }        # 4
    - { type: web_url, title: menu-site, url: "https://example.com" }
    - { type: postback, title: menu-again, payload: HELP }       # 6
    - { type: postback, title: menu-start, payload: GET_STARTED } # 7
"#,
    );
    assert_eq!(
        all,
        [
            "6: persistent_menu item 3: payload \"HELP\" is also used by item 1 (line 4); \
             menu payloads must be distinct",
            "7: persistent_menu item 4: payload \"GET_STARTED\" is also the get_started \
             payload (line 2); they must differ so the two can be told apart",
        ]
    );
}

#[test]
fn menu_items_are_checked_one_by_one() {
    let all = errors(
        r#"thread_settings:
  get_started: { payload: GO }
  persistent_menu:
    - { type: postback, title: a }                     # 4: no payload
    - { type: web_url, title: b }                      # 5: no url
    - { type: web_url, title: c, url: "ftp://x.com" }  # 6
    - { type: postback, title: d, payload: "" }        # 7
    - { type: phone_number, title: e }                 # 8
    - { title: f, payload: F }                         # 9
    - { type: postback, payload: G }                   # 10
    - { type: postback, title: h, payload: H, url: "https://x.com" } # 11
"#,
    );
    assert_eq!(
        all,
        [
            "4: persistent_menu item 1: a postback item needs a payload",
            "5: persistent_menu item 2: a web_url item needs a url",
            "6: persistent_menu item 3: url \"ftp://x.com\" must start with https:// or http://",
            "7: persistent_menu item 4 payload is empty",
            "8: persistent_menu item 5: unknown type \"phone_number\" (known: postback, web_url)",
            "9: persistent_menu item 6 has no type (write `type: postback` or `type: web_url`)",
            "10: persistent_menu item 7 has no title",
            "11: persistent_menu item 8: a postback item takes a payload, not a url",
        ]
    );
}

#[test]
fn a_menu_needs_get_started() {
    assert_eq!(
        error(
            "thread_settings:\n  persistent_menu:\n    - { type: postback, title: menu-help, payload: HELP }\n"
        ),
        "3: a persistent_menu needs get_started too: Messenger refuses a menu on a Page without \
         a Get Started button"
    );
}

#[test]
fn thread_settings_limits_are_checked() {
    let long = "x".repeat(1001);
    let mut text = format!(
        "thread_settings:\n  get_started: {{ payload: {long} }}\n  greeting: \"\"\n  ice_breakers:\n"
    );
    for i in 1..=5 {
        // Lines 5 to 9.
        text.push_str(&format!("    - {{ question: ask-{i}, payload: Q{i} }}\n"));
    }
    text.push_str("  whitelisted_domains:\n    - http://example.com\n"); // line 11
    for i in 0..50 {
        text.push_str(&format!("    - https://d{i}.example.com\n")); // lines 12 to 61
    }
    assert_eq!(
        errors(&text),
        [
            "2: get_started payload has 1001 characters; Messenger allows at most 1000",
            "3: greeting is empty (expected a Fluent message id)",
            "9: ice_breakers has 5 items; Messenger allows at most 4",
            "11: whitelisted domain \"http://example.com\" must be an https:// URL",
            "61: whitelisted_domains has 51 entries; Messenger allows at most 50",
        ]
    );
    let at_limit = format!(
        "thread_settings:\n  get_started: {{ payload: {} }}\n",
        "é".repeat(1000)
    );
    assert!(parse(&at_limit).is_ok(), "the limit counts characters");
}

#[test]
fn ice_breakers_need_a_question_and_a_payload() {
    assert_eq!(
        error("thread_settings:\n  ice_breakers:\n    - { question: ask-hours, payload: \"\" }\n"),
        "3: ice_breakers item 1 payload is empty"
    );
    assert_eq!(
        error("thread_settings:\n  ice_breakers:\n    - { question: \" \", payload: P }\n"),
        "3: ice_breakers item 1 question is empty (expected a Fluent message id)"
    );
    assert_eq!(
        error("thread_settings:\n  ice_breakers:\n    - question: ask-hours\n"),
        "3: missing field `payload`"
    );
}

#[test]
fn a_syntax_error_gives_its_line() {
    let e = error(
        r#"routes:
  STICKER:
    - handler: thumb_up
      senders: [ { text: { message: hi } }     # 4: never closed
  IMAGE:
    - handler: dummy
"#,
    );
    let (line, message) = e.split_once(": ").unwrap();
    let line: u32 = line.parse().unwrap();
    assert!((4..=6).contains(&line), "{e}");
    assert!(!message.is_empty());
    assert!(
        !message.contains("at line"),
        "location text is stripped: {e}"
    );
    assert!(!message.contains('\n'));

    assert_eq!(
        error("default:\n  - handler: a\n    args: { x: 1\n"),
        "3: unclosed bracket '{'"
    );
}

#[test]
fn more_than_one_yaml_document_is_refused() {
    let e = error("default:\n  - handler: a\n---\ndefault:\n  - handler: b\n");
    assert!(e.starts_with("3: "), "{e}");
}

#[test]
fn every_problem_is_reported_at_once_in_line_order() {
    let all = errors(
        r#"default: []                                  # 1
routes:
  STICKERS:                                  # 3
    - handler: thumb_up
      senders:
        - thanks                             # 6
  SIMPLE_TEXT:
    - handler: simple_text
      args: "^hi"                            # 9
thread_settings:
  get_started: { payload: HELP }
  persistent_menu:
    - { type: postback, title: menu-help, payload: HELP }   # 13
"#,
    );
    let lines: Vec<&str> = all.iter().map(|e| e.split(':').next().unwrap()).collect();
    assert_eq!(lines, ["1", "3", "6", "9", "13"], "{all:#?}");
}

#[test]
fn check_names_reports_unknown_handlers_and_senders_with_the_known_ones() {
    let doc = parse(
        r#"default:
  - handler: user_profile
routes:
  STICKER:
    - handler: thumbs_up                     # 5
      senders:
        - text: { message: thanks-for-the-thumb }
        - imag: { url: "https://example.com/thumb.png" }   # 8
"#,
    )
    .unwrap();
    let errors = doc.check_names(&["user_profile", "thumb_up", "dummy"], &["text", "image"]);
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "routing.yaml:5: unknown handler \"thumbs_up\" (known: dummy, thumb_up, user_profile)",
            "routing.yaml:8: unknown sender \"imag\" (known: image, text)",
        ]
    );
    assert!(
        doc.check_names(&["user_profile", "thumbs_up"], &["text", "imag"])
            .is_empty()
    );
    assert_eq!(
        doc.check_names(&[], &[])[0].message,
        "unknown handler \"user_profile\" (known: none)"
    );
}

#[test]
fn an_error_displays_as_file_line_message() {
    // The unknown handler sits on line 14.
    let text = format!(
        "{}routes:\n  STICKER:\n    - handler: thumbs_up\n",
        "# padding\n".repeat(11)
    );
    let doc = PolicyDocument::parse(Path::new("routing.yaml"), &text).unwrap();
    let errors = PolicyErrors(doc.check_names(&["thumb_up", "user_profile"], &[]));
    assert_eq!(
        errors.to_string(),
        "routing.yaml:14: unknown handler \"thumbs_up\" (known: thumb_up, user_profile)"
    );
}

#[test]
fn load_reports_a_missing_file_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nowhere").join("routing.yaml");
    let errors = PolicyDocument::load(&file).unwrap_err();
    assert_eq!(errors.len(), 1);
    let e = &errors.0[0];
    assert_eq!(e.file, file);
    assert_eq!(e.line, None);
    assert!(e.message.starts_with("cannot read: "), "{}", e.message);
    assert!(
        e.to_string()
            .starts_with(&format!("{}: cannot read: ", file.display())),
        "{e}"
    );
}

#[test]
fn load_reads_and_locates_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("routing.yaml");
    std::fs::write(
        &file,
        "default:\n  - handler: user_profile\nroutes:\n  ECHO: []\n",
    )
    .unwrap();
    let errors = PolicyDocument::load(&file).unwrap_err();
    assert_eq!(
        errors.to_string(),
        format!("{}:4: route ECHO has no handlers", file.display())
    );
}

#[test]
fn an_alias_bomb_is_refused_quickly() {
    let text = r#"default:
  - handler: dummy
    args:
      a: &a [x, x, x, x, x, x, x, x, x]
      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
      f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
      g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
      h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
      i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"#;
    let started = std::time::Instant::now();
    let e = error(text);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(e.contains("too large or too complex"), "{e}");
}

#[test]
fn reasonable_aliases_still_work() {
    let doc = parse(
        r#"default:
  - handler: dummy
    senders: &thanks
      - text: { message: thanks }
routes:
  STICKER:
    - handler: thumb_up
      senders: *thanks
"#,
    )
    .unwrap();
    assert_eq!(
        doc.route(ReceivingType::Sticker).unwrap()[0].senders[0].args,
        json!({"message": "thanks"})
    );
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let garbage = [
        "{",
        "]",
        "\0\0\0",
        "- just\n- a list\n",
        "42",
        "\"a string\"",
        "routes: 7",
        "routes:\n  ~: []\n",
        "routes:\n  [a, b]: []\n",
        "default: !!binary aGVsbG8=",
        "default:\n  - handler: [x]\n",
        "default:\n  - *undefined\n",
        "default: &a\n  - *a\n",
        "thread_settings: []",
        "thread_settings:\n  persistent_menu: { type: postback }\n",
        "thread_settings:\n  get_started: GO\n",
        "\t\tdefault:",
        "default:\n  - handler: a\n    args: { x: .nan }\n",
        &"[".repeat(10_000),
        &"- ".repeat(10_000),
    ];
    for text in garbage {
        let result = std::panic::catch_unwind(|| parse(text));
        match result {
            Ok(Err(errors)) => {
                assert!(!errors.is_empty());
                for e in &errors {
                    assert!(!e.message.is_empty(), "{text:?}");
                    assert!(!e.message.contains('\n'), "{text:?}: {e}");
                }
            }
            Ok(Ok(_)) => panic!("garbage parsed: {text:?}"),
            Err(_) => panic!("panicked on {text:?}"),
        }
    }
}

#[test]
fn mangled_policies_never_panic() {
    // A small deterministic fuzz: delete, duplicate or replace bytes of the design example.
    let bytes = DESIGN_EXAMPLE.as_bytes();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let replacements = b" \t\n:-[]{}\"'&*!#|>%@`,?";
    for _ in 0..300 {
        let mut text = bytes.to_vec();
        for _ in 0..(next() % 4 + 1) {
            let at = (next() as usize) % text.len();
            match next() % 3 {
                0 => {
                    text.remove(at);
                }
                1 => text.insert(at, text[at]),
                _ => text[at] = replacements[(next() as usize) % replacements.len()],
            }
        }
        let text = String::from_utf8_lossy(&text).into_owned();
        let result = std::panic::catch_unwind(|| parse(&text));
        assert!(result.is_ok(), "panicked on:\n{text}");
    }
}

#[test]
fn steps_and_the_flow_keys_of_a_link_parse_with_their_lines() {
    let document = parse(
        r#"steps:
  ask_email:                       # 2
    ask:
      - text: { message: ask-email }
    reask:
      - text: { message: bad-email }
  confirm:                         # 7
routes:
  SIMPLE_TEXT:
    - handler: simple_text
      global: true
      then: end                    # 12
    - handler: simple_text
      when: { step: [ask_email, confirm] }   # 14
      remember: { name: email, from: text, validate: email, regex: "@" }
      forget: [size]
      then: { step: confirm }      # 17
    - handler: simple_text
      when: { step: confirm }
      remember: size               # 20
      forget: size
"#,
    )
    .unwrap();
    assert_eq!(document.steps.len(), 2);
    assert_eq!(document.steps[0].name, "ask_email");
    assert_eq!(document.steps[0].line, 2);
    assert_eq!(document.steps[0].reask_senders()[0].line, 6);
    assert_eq!(document.steps[1].line, 7);
    assert!(document.steps[1].ask.is_empty() && document.steps[1].reask.is_none());
    let links: Vec<&LinkSpec> = document.links().collect();
    assert!(links[0].global && links[0].when.is_none());
    assert_eq!(links[0].then, Some(ThenSpec::End(12)));
    let when = links[1].when.as_ref().unwrap();
    assert_eq!(
        (when.steps.as_slice(), when.line),
        (&["ask_email".to_owned(), "confirm".to_owned()][..], 14)
    );
    let remember = links[1].remember.as_ref().unwrap();
    assert_eq!(remember.name, "email");
    assert_eq!(remember.from, RememberFrom::Text);
    assert_eq!(remember.validate, Some(ValueKind::Email));
    assert_eq!(remember.regex.as_deref(), Some("@"));
    assert_eq!(links[1].forget[0].value, "size");
    assert_eq!(
        links[1].then,
        Some(ThenSpec::Step(Located {
            value: "confirm".into(),
            line: 17
        }))
    );
    let remember = links[2].remember.as_ref().unwrap();
    assert_eq!(
        (remember.name.as_str(), &remember.from, remember.line),
        ("size", &RememberFrom::Auto, 20)
    );
    assert_eq!(links[2].forget.len(), 1);
}

#[test]
fn flow_mistakes_are_reported_at_their_lines() {
    let all = errors(
        r#"steps:
  ask email:                       # 2: a space
    ask:
      - text: { message: ask-email }
routes:
  SIMPLE_TEXT:
    - handler: simple_text
      when: { step: ask_emial }    # 8: unknown
    - handler: simple_text
      then: { step: nowhere }      # 10: unknown
    - handler: simple_text
      then: confirm                # 12: neither form
    - handler: simple_text
      global: true
      when: { step: "ask email" }  # 15: both
    - handler: simple_text
      remember: { name: email, validate: mail }   # 17
    - handler: simple_text
      remember: { from: text }     # 19: no name
    - handler: simple_text
      when: { steps: ask_email }   # 21: a typo
    - handler: simple_text
      remember: { name: zip, from: somewhere }    # 23
"#,
    );
    assert_eq!(
        all,
        [
            "2: step name \"ask email\" must be letters, digits, `_` or `-` (at most 64)",
            "8: unknown step \"ask_emial\" (declared: ask email)",
            "10: unknown step \"nowhere\" (declared: ask email)",
            "12: then cannot be \"confirm\": write `then: { step: NAME }` or `then: end`",
            "15: a link cannot be both `global` (any step) and `when` (some steps)",
            "17: remember: unknown validation \"mail\" (known: email, phone, number, date; or \
             write `regex:`)",
            "19: remember needs a name: write `remember: NAME` or `remember: { name: NAME, from: \
             text, validate: email }`",
            "21: when: unknown key `steps` (known: step): write `when: { step: NAME }` or `when: \
             { step: [NAME, NAME] }`",
            "23: remember: unknown source \"somewhere\" (known: auto, text, payload, location, or \
             a variable such as match.1 or \"{match.NAME}\")",
        ]
    );
    // A step no declaration names: the hint says where to declare it.
    assert_eq!(
        error("routes:\n  SIMPLE_TEXT:\n    - handler: simple_text\n      then: { step: x }\n"),
        "4: unknown step \"x\" (declared: none: declare it under `steps:`)"
    );
}

/// `PolicyDocument::load_thread_settings` of `text`, as `line: message` for each refusal.
fn thread_settings_file(text: &str) -> Result<PolicyDocument, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("profile.yaml");
    std::fs::write(&file, text).unwrap();
    PolicyDocument::load_thread_settings(&file).map_err(|errors| {
        errors
            .iter()
            .map(|e| {
                assert_eq!(e.file, file);
                match e.line {
                    Some(line) => format!("{line}: {}", e.message),
                    None => e.message.clone(),
                }
            })
            .collect()
    })
}

#[test]
fn a_thread_settings_file_holds_only_thread_settings() {
    let document = thread_settings_file(
        "thread_settings:\n  get_started: { payload: GO }\n  greeting: hello\n",
    )
    .expect("a thread_settings section alone is a thread_settings file");
    assert_eq!(document.get_started_payload(), Some("GO"));
    assert_eq!(
        document
            .thread_settings
            .greeting
            .as_ref()
            .map(|g| g.value.as_str()),
        Some("hello")
    );
    let refused = thread_settings_file(
        r#"default:
  - handler: user_profile          # 2
routes:
  STICKER:
    - handler: thumbs_up           # 5
steps:
  ask:                             # 7
    ask:
      - text: { message: a }
thread_settings:
  get_started: { payload: GO }
"#,
    )
    .expect_err("chains and steps are refused");
    let tail = "belongs in the Page's policy: a thread_settings file holds only thread_settings:";
    assert_eq!(
        refused,
        [
            format!("2: the default chain {tail}"),
            format!("5: route STICKER {tail}"),
            format!("7: step ask {tail}"),
        ]
    );
    assert_eq!(
        thread_settings_file("# nothing yet\n").expect_err("an empty file is refused"),
        [
            "no thread_settings: this file is a Page's thread_settings, what its Messenger Profile \
          shows"
        ]
    );
}
