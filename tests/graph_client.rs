//! The Graph client against the fake Graph API, over real HTTP on loopback.

use std::net::TcpListener;
use std::time::Duration;

use hmac::{Hmac, Mac};
use pagebot::graph::{GraphClient, GraphError, GraphSettings, UserProfile};
use pagebot::testing::{FAKE_PAGE_TOKEN, FakeError, FakeGraph};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::Sha256;

const PSID: &str = "1254459154682919";

fn text_to(psid: &str, text: &str) -> Value {
    json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": text}})
}

fn client(settings: GraphSettings) -> GraphClient {
    GraphClient::new(settings).expect("graph client")
}

async fn send_err(client: &GraphClient, body: &Value) -> GraphError {
    client.send(body).await.expect_err("the send must fail")
}

fn hmac_hex(key: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("hmac key");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread")]
async fn send_text_is_recorded_and_the_answer_parsed() {
    let fake = FakeGraph::start().await;
    let graph = client(fake.settings());
    assert!(!graph.is_log_mode());

    let first = graph.send(&text_to(PSID, "hello")).await.expect("send");
    assert_eq!(first.recipient_id.as_deref(), Some(PSID));
    assert_eq!(first.message_id.as_deref(), Some("m_fake_1"));
    let typing = json!({"recipient": {"id": PSID}, "sender_action": "typing_on"});
    let second = graph.send(&typing).await.expect("sender action");
    assert_eq!(second.recipient_id.as_deref(), Some(PSID));
    assert_eq!(second.message_id, None);

    assert_eq!(fake.sent(), vec![text_to(PSID, "hello"), typing]);
    assert_eq!(fake.texts_to(PSID), ["hello"]);
    assert!(fake.sent_to("someone-else").is_empty());
    fake.assert_sent_text(PSID, "hello");
    assert!(fake.rejected().is_empty());
    assert_eq!(fake.send_attempts(), 2);
}

#[actix_web::test]
async fn the_fake_runs_under_the_actix_runtime() {
    let fake = FakeGraph::start().await;
    let graph = client(fake.settings());
    graph
        .send(&text_to(PSID, "from actix"))
        .await
        .expect("send");
    assert_eq!(fake.texts_to(PSID), ["from actix"]);
}

#[tokio::test]
async fn the_fake_runs_under_a_current_thread_tokio_runtime() {
    let fake = FakeGraph::start().await;
    let graph = client(fake.settings());
    graph
        .send(&text_to(PSID, "current thread"))
        .await
        .expect("send");
    assert_eq!(fake.texts_to(PSID), ["current thread"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_graph_error_is_parsed_and_permanent() {
    let fake = FakeGraph::start().await;
    let graph = client(fake.settings());
    fake.fail_next_sends([FakeError::graph(100, Some(2018001))]);

    let err = send_err(&graph, &text_to(PSID, "hi")).await;
    assert_eq!(err.code(), Some(100));
    assert_eq!(err.subcode(), Some(2018001));
    assert_eq!(err.fbtrace_id(), Some("FAKE1"));
    assert_eq!(err.http_status(), Some(400));
    assert!(!err.is_retryable());
    assert!(!err.is_rate_limit());
    let GraphError::Api { kind, message, .. } = &err else {
        panic!("not an api error: {err:?}");
    };
    assert_eq!(kind.as_deref(), Some("OAuthException"));
    assert_eq!(message, "(#100) No matching user found");
    assert_eq!(
        err.to_string(),
        "graph error 100/2018001: (#100) No matching user found (fbtrace_id FAKE1)"
    );

    // the queue is consumed: the next send goes through
    graph.send(&text_to(PSID, "again")).await.expect("send");
    assert_eq!(fake.texts_to(PSID), ["again"]);
    assert_eq!(fake.send_attempts(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn temporary_failures_and_rate_limits_are_retryable() {
    let fake = FakeGraph::start().await;
    let graph = client(fake.settings());
    fake.fail_next_sends([
        FakeError::graph(1200, None),
        FakeError::graph(613, None),
        FakeError::graph(10, Some(2018278)),
    ]);

    let temporary = send_err(&graph, &text_to(PSID, "a")).await;
    assert_eq!(temporary.code(), Some(1200));
    assert!(temporary.is_retryable());
    assert!(!temporary.is_rate_limit());

    let limited = send_err(&graph, &text_to(PSID, "b")).await;
    assert!(limited.is_retryable() && limited.is_rate_limit());

    let outside_window = send_err(&graph, &text_to(PSID, "c")).await;
    assert_eq!(outside_window.subcode(), Some(2018278));
    assert!(!outside_window.is_retryable());
    assert!(fake.sent().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn http_500_without_json_is_a_retryable_http_error() {
    let fake = FakeGraph::start().await;
    let graph = client(fake.settings());
    fake.fail_next_sends([
        FakeError::http(500, "Internal Server Error"),
        FakeError::http(404, "<html>not found</html>"),
    ]);

    let err = send_err(&graph, &text_to(PSID, "hi")).await;
    assert_eq!(
        err,
        GraphError::Http {
            status: 500,
            retry_after: None
        }
    );
    assert!(err.is_retryable());
    assert_eq!(err.fbtrace_id(), None);

    let err = send_err(&graph, &text_to(PSID, "hi")).await;
    assert_eq!(
        err,
        GraphError::Http {
            status: 404,
            retry_after: None
        }
    );
    assert!(!err.is_retryable());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bare_429_is_a_rate_limit_with_its_retry_after_and_bare_5xx_are_retryable() {
    let fake = FakeGraph::start().await;
    let graph = client(fake.settings());
    let in_two_minutes = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(120);
    let date = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&in_two_minutes)
        .expect("an http date");
    fake.fail_next_sends([
        FakeError::http(429, "Too Many Requests"),
        FakeError::http(429, "").with_retry_after("30"),
        FakeError::http(429, "<html>slow down</html>").with_retry_after(date),
        FakeError::http(429, "").with_retry_after("in a while"),
        FakeError::http(502, "<html>502 Bad Gateway</html>"),
        FakeError::http(503, "").with_retry_after("5"),
        FakeError::http(504, "Gateway Timeout"),
        FakeError::http(400, "Bad Request").with_retry_after("30"),
    ]);

    let err = send_err(&graph, &text_to(PSID, "hi")).await;
    assert_eq!(
        err,
        GraphError::Http {
            status: 429,
            retry_after: None
        }
    );
    assert!(err.is_retryable() && err.is_rate_limit());

    let err = send_err(&graph, &text_to(PSID, "hi")).await;
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert!(err.is_rate_limit());

    // An HTTP date, counted from when the answer came (whole seconds).
    let err = send_err(&graph, &text_to(PSID, "hi")).await;
    let after = err.retry_after().expect("a retry-after date");
    assert!(
        after > Duration::from_secs(110) && after <= Duration::from_secs(120),
        "{after:?}"
    );
    assert!(err.is_rate_limit());

    // A header that cannot be read is no header: the caller's own pause applies.
    let err = send_err(&graph, &text_to(PSID, "hi")).await;
    assert_eq!(err.retry_after(), None);
    assert!(err.is_rate_limit());

    for status in [502, 503, 504] {
        let err = send_err(&graph, &text_to(PSID, "hi")).await;
        assert_eq!(err.http_status(), Some(status));
        assert!(err.is_retryable() && !err.is_rate_limit(), "{err:?}");
    }

    let err = send_err(&graph, &text_to(PSID, "hi")).await;
    assert_eq!(err.http_status(), Some(400));
    assert!(!err.is_retryable() && !err.is_rate_limit(), "{err:?}");
    assert!(fake.sent().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_refused_is_a_retryable_transport_error_without_secrets() {
    let settings = GraphSettings {
        base_url: format!("http://127.0.0.1:{}", closed_port()),
        version: "v25.0".into(),
        page_token: Some(SecretString::from(FAKE_PAGE_TOKEN)),
        app_secret: Some(SecretString::from("app-secret")),
        timeout: Duration::from_secs(5),
    };
    let graph = client(settings);

    let err = send_err(&graph, &text_to(PSID, "hi")).await;
    assert!(matches!(err, GraphError::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(FAKE_PAGE_TOKEN), "{shown}");
    assert!(!shown.contains("appsecret_proof"), "{shown}");
    assert!(
        !shown.contains(&hmac_hex("app-secret", FAKE_PAGE_TOKEN)),
        "{shown}"
    );
    assert!(!shown.contains("127.0.0.1"), "no url: {shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_is_a_retryable_transport_error() {
    // Accepts connections (the kernel backlog does) but never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let settings = GraphSettings {
        base_url: format!("http://{}", silent.local_addr().expect("addr")),
        timeout: Duration::from_millis(300),
        page_token: Some(SecretString::from(FAKE_PAGE_TOKEN)),
        ..GraphSettings::default()
    };
    let err = send_err(&client(settings), &text_to(PSID, "hi")).await;
    assert!(matches!(err, GraphError::Transport(_)), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(err.is_retryable());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_token_is_error_190() {
    let fake = FakeGraph::start().await;
    let mut settings = fake.settings();
    settings.page_token = Some(SecretString::from("wrong-token"));
    let graph = client(settings);

    let err = send_err(&graph, &text_to(PSID, "hi")).await;
    assert_eq!(err.code(), Some(190));
    assert!(!err.is_retryable());
    assert!(!err.to_string().contains("wrong-token"), "{err}");
    assert!(fake.sent().is_empty());
    assert_eq!(fake.rejected().len(), 1);
    assert_eq!(fake.rejected()[0].1, "invalid oauth access token");
}

#[tokio::test(flavor = "multi_thread")]
async fn appsecret_proof_is_sent_when_an_app_secret_is_set() {
    let fake = FakeGraph::start().await;
    fake.expect_app_secret("s3cret");

    // without an app secret: no proof, and the fake (like Graph) refuses
    let plain = client(fake.settings());
    let err = send_err(&plain, &text_to(PSID, "hi")).await;
    assert_eq!(err.code(), Some(100), "{err}");
    assert_eq!(fake.last_appsecret_proof(), None);

    let mut settings = fake.settings();
    settings.app_secret = Some(SecretString::from("s3cret"));
    let proved = client(settings);
    proved.send(&text_to(PSID, "hi")).await.expect("send");
    assert_eq!(
        fake.last_appsecret_proof(),
        Some(hmac_hex("s3cret", FAKE_PAGE_TOKEN))
    );
    proved
        .user_profile(PSID, &["first_name"])
        .await
        .expect("profile");
    proved
        .get_messenger_profile(&["greeting"])
        .await
        .expect("messenger profile");
    assert_eq!(
        fake.last_appsecret_proof(),
        Some(hmac_hex("s3cret", FAKE_PAGE_TOKEN))
    );

    let mut settings = fake.settings();
    settings.app_secret = Some(SecretString::from("another secret"));
    let err = send_err(&client(settings), &text_to(PSID, "hi")).await;
    assert_eq!(err.code(), Some(100));
    assert_eq!(fake.texts_to(PSID), ["hi"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn user_profile_honours_fields() {
    let fake = FakeGraph::start().await;
    let graph = client(fake.settings());
    fake.set_profile(
        PSID,
        json!({"first_name": "Ann", "last_name": "Lee", "profile_pic": "https://pic",
               "locale": "zh_TW", "timezone": 8, "gender": "female"}),
    );

    let profile = graph
        .user_profile(PSID, &["first_name", "locale", "timezone"])
        .await
        .expect("profile");
    assert_eq!(
        profile,
        UserProfile {
            first_name: Some("Ann".into()),
            locale: Some("zh_TW".into()),
            timezone: Some(8.0),
            ..UserProfile::default()
        }
    );

    let all = graph.user_profile(PSID, &[]).await.expect("profile");
    assert_eq!(all.last_name.as_deref(), Some("Lee"));
    assert_eq!(all.gender.as_deref(), Some("female"));

    let stranger = graph
        .user_profile("999", &["first_name", "last_name", "locale"])
        .await
        .expect("default profile");
    assert_eq!(stranger.first_name.as_deref(), Some("Test"));
    assert_eq!(stranger.last_name.as_deref(), Some("User"));
    assert_eq!(stranger.locale, None);

    fake.set_profile_error("404", FakeError::graph(100, Some(2018001)));
    let err = graph
        .user_profile("404", &["first_name"])
        .await
        .expect_err("no such user");
    assert_eq!((err.code(), err.subcode()), (Some(100), Some(2018001)));
    assert_eq!(fake.profile_calls(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn messenger_profile_round_trip() {
    let fake = FakeGraph::start().await;
    let graph = client(fake.settings());

    let empty = graph
        .get_messenger_profile(&["get_started", "greeting"])
        .await
        .expect("get");
    assert_eq!(empty, json!({}));

    let props = json!({
        "get_started": {"payload": "GET_STARTED"},
        "greeting": [{"locale": "default", "text": "Hi {{user_first_name}}!"}],
    });
    graph.set_messenger_profile(&props).await.expect("set");
    let menu = json!({"persistent_menu": [{"locale": "default", "composer_input_disabled": false,
        "call_to_actions": [{"type": "postback", "title": "Help", "payload": "HELP"}]}]});
    graph.set_messenger_profile(&menu).await.expect("set menu");

    let got = graph
        .get_messenger_profile(&["greeting", "persistent_menu", "ice_breakers"])
        .await
        .expect("get");
    assert_eq!(got["greeting"], props["greeting"]);
    assert_eq!(got["persistent_menu"], menu["persistent_menu"]);
    assert!(
        got.get("get_started").is_none(),
        "only requested fields: {got}"
    );
    assert!(got.get("ice_breakers").is_none());

    graph
        .delete_messenger_profile(&["greeting", "persistent_menu"])
        .await
        .expect("delete");
    assert_eq!(
        fake.messenger_profile(),
        json!({"get_started": {"payload": "GET_STARTED"}})
    );

    let bad = json!({"greeting": [{"locale": "en_US", "text": "no default"}]});
    let err = graph
        .set_messenger_profile(&bad)
        .await
        .expect_err("needs default");
    assert_eq!(err.code(), Some(100));

    fake.fail_next_messenger_profile_calls([FakeError::graph(613, None)]);
    let err = graph
        .get_messenger_profile(&["greeting"])
        .await
        .expect_err("rate limited");
    assert!(err.is_rate_limit());
    assert_eq!(fake.messenger_profile_calls(), 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn log_mode_answers_without_http() {
    let settings = GraphSettings {
        // nothing listens there: any HTTP call would fail
        base_url: format!("http://127.0.0.1:{}", closed_port()),
        ..GraphSettings::default()
    };
    let graph = client(settings);
    assert!(graph.is_log_mode());

    let answer = graph.send(&text_to(PSID, "hi")).await.expect("send");
    assert_eq!(answer.recipient_id.as_deref(), Some(PSID));
    assert_eq!(answer.message_id.as_deref(), Some("dev-1"));
    let answer = graph.send(&text_to(PSID, "again")).await.expect("send");
    assert_eq!(answer.message_id.as_deref(), Some("dev-2"));
    assert_eq!(
        graph.user_profile(PSID, &["first_name"]).await,
        Ok(UserProfile::default())
    );
    assert_eq!(
        graph.set_messenger_profile(&json!({})).await,
        Err(GraphError::NotConfigured)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fake_enforces_send_api_limits() {
    let fake = FakeGraph::start().await;
    let graph = client(fake.settings());

    let long_title = json!({"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
        "message": {"text": "pick", "quick_replies": [
            {"content_type": "text", "title": "a".repeat(21), "payload": "P"}]}});
    let err = send_err(&graph, &long_title).await;
    assert_eq!(err.code(), Some(100));
    assert!(!err.is_retryable());
    assert!(
        err.to_string().contains("message[quick_replies][0][title]"),
        "{err}"
    );

    let long_text = text_to(PSID, &"a".repeat(2001));
    let err = send_err(&graph, &long_text).await;
    assert!(err.to_string().contains("at most 2000 characters"), "{err}");

    // 2000 characters of 3 bytes each: the limit counts characters
    let wide = text_to(PSID, &"字".repeat(2000));
    graph.send(&wide).await.expect("2000 characters are fine");

    let rejected = fake.rejected();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0].0, long_title);
    assert!(rejected[0].1.contains("at most 20 characters (got 21)"));
    assert_eq!(rejected[1].0, long_text);
    assert_eq!(fake.sent(), vec![wide]);
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_for_sent_waits_for_concurrent_sends() {
    let fake = FakeGraph::start().await;
    let graph = client(fake.settings());
    for i in 0..3 {
        let graph = graph.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20 * i)).await;
            graph.send(&text_to(PSID, &format!("n{i}"))).await
        });
    }
    let sent = fake.wait_for_sent(3, Duration::from_secs(5)).await;
    assert_eq!(sent.len(), 3);
    fake.clear_sent();
    assert!(fake.sent().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
#[should_panic(expected = "waited")]
async fn wait_for_sent_panics_with_what_it_got() {
    let fake = FakeGraph::start().await;
    fake.wait_for_sent(1, Duration::from_millis(50)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_page_token_has_a_messenger_profile_of_its_own_and_requests_record_theirs() {
    let fake = FakeGraph::start().await;
    let other = GraphSettings {
        page_token: Some(SecretString::from("other-page-token")),
        ..fake.settings()
    };
    // Not accepted until added.
    let err = client(other.clone())
        .get_messenger_profile(&["greeting"])
        .await
        .expect_err("an unknown token is refused");
    assert!(matches!(err, GraphError::Api { code: 190, .. }), "{err:?}");
    fake.add_page_token("other-page-token");
    let first = client(fake.settings());
    let second = client(other);
    first
        .set_messenger_profile(&json!({"get_started": {"payload": "FIRST"}}))
        .await
        .expect("set the first Page's");
    second
        .set_messenger_profile(&json!({"get_started": {"payload": "SECOND"}}))
        .await
        .expect("set the second Page's");
    assert_eq!(
        fake.messenger_profile(),
        json!({"get_started": {"payload": "FIRST"}})
    );
    assert_eq!(
        fake.messenger_profile_of(FAKE_PAGE_TOKEN),
        fake.messenger_profile()
    );
    assert_eq!(
        fake.messenger_profile_of("other-page-token"),
        json!({"get_started": {"payload": "SECOND"}})
    );
    let live = second
        .get_messenger_profile(&["get_started"])
        .await
        .expect("get the second Page's");
    assert_eq!(live, json!({"get_started": {"payload": "SECOND"}}));
    second
        .delete_messenger_profile(&["get_started"])
        .await
        .expect("delete the second Page's");
    assert_eq!(fake.messenger_profile_of("other-page-token"), json!({}));
    assert_eq!(
        fake.messenger_profile(),
        json!({"get_started": {"payload": "FIRST"}})
    );
    let tokens: Vec<Option<String>> = fake
        .messenger_profile_requests()
        .into_iter()
        .map(|r| r.token)
        .collect();
    let first_token = Some(FAKE_PAGE_TOKEN.to_owned());
    let second_token = Some("other-page-token".to_owned());
    assert_eq!(
        tokens,
        [
            second_token.clone(),
            first_token,
            second_token.clone(),
            second_token.clone(),
            second_token
        ]
    );
    // appsecret_proof is checked against the token the request carried.
    fake.expect_app_secret("app-secret");
    let proved = client(GraphSettings {
        app_secret: Some(SecretString::from("app-secret")),
        page_token: Some(SecretString::from("other-page-token")),
        ..fake.settings()
    });
    proved
        .get_messenger_profile(&["get_started"])
        .await
        .expect("the proof of the second token");
    assert_eq!(
        fake.last_appsecret_proof(),
        Some(hmac_hex("app-secret", "other-page-token"))
    );
}
