//! The admin (`/admin`) over HTTP: off without a password; the login (a wrong password
//! refused slowly), the cookie's flags, CSRF on every form, the inbox's replay, the users'
//! keyset pagination, and no secret on any page.

use std::time::{Duration, Instant};

use pagebot::store::{inbox, users};
use pagebot::testing::{
    FAKE_PAGE_TOKEN, FakeError, TEST_APP_SECRET, TEST_PAGE_ID, TEST_VERIFY_TOKEN, Webhook,
};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};

use crate::db_test;
use crate::helpers::*;

const PASSWORD: &str = "correct horse battery staple";

async fn spawn_admin(db: TestDatabase) -> TestApp {
    TestApp::spawn_with(db, TestBot::demo(), |s| {
        s.admin_password = Some(PASSWORD.into());
        s.max_attempts = 1;
    })
    .await
    .expect("the demo bot with an admin")
}

/// A form body (`application/x-www-form-urlencoded`).
fn encode(pairs: &[(&str, &str)]) -> String {
    let escape = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A client that shows redirections instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `name=value` of the `Set-Cookie` for `name`, and the whole header.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| (v.split(';').next().unwrap().to_owned(), v.to_owned()))
}

/// The value of the hidden input `name` of `html`.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// A logged-in operator: the session cookie and the CSRF token.
struct Operator {
    client: reqwest::Client,
    address: String,
    cookie: String,
    csrf: String,
}

impl Operator {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap()
    }

    async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        response.text().await.unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .header(COOKIE, &self.cookie)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(encode(form))
            .send()
            .await
            .unwrap()
    }
}

/// GETs the login form: its token cookie and token.
async fn login_form(app: &TestApp) -> (String, String) {
    let response = client()
        .get(format!("{}/admin/login", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (cookie, _) = set_cookie(&response, "pagebot_admin_login").expect("a login cookie");
    let token = hidden(&response.text().await.unwrap(), "token");
    (cookie, token)
}

async fn try_login(app: &TestApp, password: &str) -> reqwest::Response {
    let (cookie, token) = login_form(app).await;
    client()
        .post(format!("{}/admin/login", app.address))
        .header(COOKIE, cookie)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(encode(&[("token", token.as_str()), ("password", password)]))
        .send()
        .await
        .unwrap()
}

async fn log_in(app: &TestApp) -> Operator {
    let response = try_login(app, PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[LOCATION], "/admin");
    let (cookie, _) = set_cookie(&response, "pagebot_admin").expect("a session cookie");
    let operator = Operator {
        client: client(),
        address: app.address.clone(),
        cookie,
        csrf: String::new(),
    };
    let overview = operator.page("/admin").await;
    Operator {
        csrf: hidden(&overview, "csrf"),
        ..operator
    }
}

db_test!(the_admin_does_not_exist_without_a_password, |db| {
    let app = TestApp::spawn(db).await;
    for path in ["/admin", "/admin/login", "/admin/inbox", "/admin/users"] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    app.stop().await;
});

db_test!(
    a_wrong_password_is_refused_slowly_and_the_right_one_sets_a_strict_cookie,
    |db| {
        let app = spawn_admin(db).await;
        // Without a session, a page sends to the login form.
        let response = client()
            .get(format!("{}/admin/inbox", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()[LOCATION], "/admin/login");

        let started = Instant::now();
        let refused = try_login(&app, "guess").await;
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(refused.status(), 401);
        assert!(set_cookie(&refused, "pagebot_admin").is_none());
        assert!(refused.text().await.unwrap().contains("Wrong password."));
        // Other requests are answered meanwhile: a wrong password blocks no one.
        let (a, b) = tokio::join!(try_login(&app, "guess again"), async {
            let started = Instant::now();
            assert_eq!(app.get("/healthz").await.status(), 200);
            started.elapsed()
        });
        assert_eq!(a.status(), 401);
        assert!(b < Duration::from_millis(800), "{b:?}");

        // A login without the form's token is refused.
        let forged = client()
            .post(format!("{}/admin/login", app.address))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(encode(&[("password", PASSWORD)]))
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);

        let response = try_login(&app, PASSWORD).await;
        assert_eq!(response.status(), 303);
        let (_, header) = set_cookie(&response, "pagebot_admin").expect("a session cookie");
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
            assert!(header.contains(flag), "{header}");
        }
        // On loopback, without TLS: not Secure (the browser would drop it).
        assert!(!header.contains("Secure"), "{header}");
        let value = header
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("pagebot_admin=");
        assert_eq!(value.len(), 64, "{value}");
        app.stop().await;
    }
);

db_test!(
    a_post_without_its_csrf_token_is_forbidden_and_logout_ends_the_session,
    |db| {
        let app = spawn_admin(db).await;
        let operator = log_in(&app).await;
        assert_eq!(operator.csrf.len(), 64);
        for path in ["/admin/inbox/replay", "/admin/inbox/purge", "/admin/logout"] {
            let missing = operator.post(path, &[("one", "1"), ("days", "30")]).await;
            assert_eq!(missing.status(), 403, "{path}");
            let wrong = operator
                .post(
                    path,
                    &[
                        ("csrf", "0".repeat(64).as_str()),
                        ("one", "1"),
                        ("days", "30"),
                    ],
                )
                .await;
            assert_eq!(wrong.status(), 403, "{path}");
        }
        // Without a session, a POST is forbidden too.
        let anonymous = client()
            .post(format!("{}/admin/inbox/replay", app.address))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(encode(&[("csrf", operator.csrf.as_str()), ("one", "1")]))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 403);
        // A purge under the minimum is refused with a reason.
        let short = operator
            .post(
                "/admin/inbox/purge",
                &[("csrf", &operator.csrf), ("days", "0")],
            )
            .await;
        assert_eq!(short.status(), 400);
        assert!(short.text().await.unwrap().contains("at least 1"));

        let out = operator
            .post("/admin/logout", &[("csrf", &operator.csrf)])
            .await;
        assert_eq!(out.status(), 303);
        assert_eq!(operator.get("/admin").await.status(), 303);
        app.stop().await;
    }
);

db_test!(a_dead_event_replayed_from_the_inbox_page_is_done, |db| {
    let app = spawn_admin(db).await;
    let user = "5550000000000101";
    // The reply fails once, with the one attempt allowed: the event is dead.
    app.graph.fail_next_sends([FakeError::graph(2, None)]);
    assert_eq!(app.post(&Webhook::text(user, "hi")).await.status(), 200);
    app.wait_until_processed(PATIENCE).await;
    let dead = app
        .inbox()
        .await
        .into_iter()
        .find(|e| e.status == "dead")
        .expect("a dead event");

    let operator = log_in(&app).await;
    let page = operator.page("/admin/inbox?status=dead").await;
    assert!(
        page.contains(&format!("id=\"event-{}\"", dead.id)),
        "{page}"
    );
    assert!(
        page.contains("&#34;text&#34;: &#34;hi&#34;"),
        "the raw body: {page}"
    );
    let overview = operator.page("/admin").await;
    assert!(overview.contains("id=\"count-dead\">1<"), "{overview}");
    assert!(
        overview.contains("code 2"),
        "Graph errors by code: {overview}"
    );

    let id = dead.id.to_string();
    let replayed = operator
        .post(
            "/admin/inbox/replay",
            &[("csrf", &operator.csrf), ("status", "dead"), ("one", &id)],
        )
        .await;
    assert_eq!(replayed.status(), 303);
    assert_eq!(
        replayed.headers()[LOCATION],
        "/admin/inbox?status=dead&replayed=1"
    );
    app.wait_until_processed(PATIENCE).await;
    let event = app
        .store
        .run(move |c| inbox::find(c, dead.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.status, "done");
    assert!(!app.graph.texts_to(user).is_empty());
    let page = operator.page("/admin/inbox?status=dead&replayed=1").await;
    assert!(page.contains("1 event(s) put back in the queue."), "{page}");
    assert!(
        !page.contains(&format!("id=\"event-{}\"", dead.id)),
        "{page}"
    );
    app.stop().await;
});

db_test!(the_users_page_by_key_and_by_search, |db| {
    let app = spawn_admin(db).await;
    app.store
        .run(|conn| {
            for n in 0..120 {
                users::ensure(conn, TEST_PAGE_ID, &format!("7{n:03}"))?;
            }
            users::ensure(conn, TEST_PAGE_ID, "8_00%")?;
            Ok(())
        })
        .await
        .unwrap();
    let operator = log_in(&app).await;
    let first = operator.page("/admin/users").await;
    let shown = |html: &str| -> Vec<String> {
        html.split("<code>")
            .skip(1)
            .filter_map(|s| s.split("</code>").next())
            .filter(|s| s.starts_with('7') || s.starts_with('8'))
            .map(str::to_owned)
            .collect()
    };
    let want: Vec<String> = (0..50).map(|n| format!("7{n:03}")).collect();
    assert_eq!(shown(&first), want);
    let next = first
        .split("id=\"next\"")
        .next()
        .and_then(|s| s.rsplit("href=\"").next())
        .and_then(|s| s.split('"').next())
        .unwrap()
        .replace("&#38;", "&");
    assert!(next.contains("after_psid=7049"), "{next}");
    let second = operator.page(&next).await;
    let want: Vec<String> = (50..100).map(|n| format!("7{n:03}")).collect();
    assert_eq!(shown(&second), want);

    // A PSID prefix; LIKE's wildcards are plain characters in a search.
    let found = operator.page("/admin/users?q=711").await;
    let want: Vec<String> = (110..120).map(|n| format!("7{n:03}")).collect();
    assert_eq!(shown(&found), want);
    assert!(!found.contains("id=\"next\""));
    assert_eq!(shown(&operator.page("/admin/users?q=8_0").await), ["8_00%"]);
    assert!(shown(&operator.page("/admin/users?q=8%250").await).is_empty());
    app.stop().await;
});

db_test!(no_page_shows_a_secret, |db| {
    let app = spawn_admin(db).await;
    let user = "5550000000000102";
    assert_eq!(app.post(&Webhook::text(user, "hi")).await.status(), 200);
    assert_eq!(
        app.post(&Webhook::location(user, 25.033, 121.5654))
            .await
            .status(),
        200
    );
    app.wait_until_processed(PATIENCE).await;
    let operator = log_in(&app).await;
    let user_page = operator
        .page(&format!("/admin/user?page={TEST_PAGE_ID}&psid={user}"))
        .await;
    // The history as bubbles, with the raw JSON; the location with its map link.
    assert!(user_page.contains("class=\"row user"), "{user_page}");
    assert!(user_page.contains("class=\"row bot"), "{user_page}");
    assert!(user_page.contains("<details class=\"raw\""), "{user_page}");
    assert!(
        user_page.contains("https://www.openstreetmap.org/?mlat=25.033&#38;mlon=121.5654#map=16"),
        "{user_page}"
    );
    let mut pages = vec![user_page];
    for path in [
        "/admin",
        "/admin/inbox?status=all",
        "/admin/users",
        "/admin/policy",
    ] {
        pages.push(operator.page(path).await);
    }
    pages.push(
        client()
            .get(format!("{}/admin/login", app.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    for page in &pages {
        // Every POST form carries a token: the session's CSRF token, or the login form's.
        let forms = page.matches("method=\"post\"").count();
        let tokens = page.matches("name=\"csrf\"").count() + page.matches("name=\"token\"").count();
        assert_eq!(forms, tokens, "{page}");
        for secret in [
            TEST_APP_SECRET,
            TEST_VERIFY_TOKEN,
            FAKE_PAGE_TOKEN,
            PASSWORD,
        ] {
            assert!(!page.contains(secret), "a page shows {secret}");
        }
    }
    assert_eq!(
        operator
            .get("/admin/user?page=x&psid=nobody")
            .await
            .status(),
        404
    );
    // The policy as loaded: a chain per ReceivingType, its handlers with their lines, and
    // each locale's coverage.
    // The inbox's filters: by kind, by status.
    let texts = operator
        .page("/admin/inbox?status=all&kind=SIMPLE_TEXT")
        .await;
    assert!(texts.contains("<code>SIMPLE_TEXT</code>"), "{texts}");
    assert!(!texts.contains("<code>LOCATION</code>"), "{texts}");
    let none = operator
        .page("/admin/inbox?status=all&kind=NO_SUCH_KIND")
        .await;
    assert!(!none.contains("id=\"event-"), "{none}");
    let problems = operator.page("/admin/inbox").await;
    assert!(
        problems.contains("No failed, dead or malformed events."),
        "{problems}"
    );
    let policy = operator.page("/admin/policy").await;
    assert!(policy.contains(">SIMPLE_TEXT<"), "{policy}");
    assert!(policy.contains("<code>simple_text</code>"), "{policy}");
    assert!(policy.contains("routing.yaml:"), "{policy}");
    assert!(policy.contains("Locale coverage"), "{policy}");
    assert!(policy.contains(">zh-TW<"), "{policy}");
    app.stop().await;
});

/// A Page answering every text with `{name}: <text>`, its files in `dir`.
fn page(dir: &std::path::Path, id: &str, name: &str) -> pagebot::config::PageSettings {
    let policy = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &policy,
        "routes:\n  SIMPLE_TEXT:\n    - handler: simple_text\n      args: { regex: \"^.*$\" }\n      \
         senders:\n        - text: { message: answer, args: { text: \"{match.0}\" } }\n",
    )
    .unwrap();
    let locales = dir.join(format!("{name}-locales"));
    std::fs::create_dir_all(locales.join("en-US")).unwrap();
    std::fs::write(
        locales.join("en-US/bot.ftl"),
        format!("answer = {name}: {{ $text }}\n"),
    )
    .unwrap();
    pagebot::config::PageSettings {
        id: Some(id.to_owned()),
        name: name.to_owned(),
        token: Some(format!("token-of-{name}").into()),
        policy,
        locales,
        default_locale: "en-US".to_owned(),
        thread_settings: None,
    }
}

db_test!(the_overview_and_the_inbox_per_page, |db| {
    let dir = tempfile::tempdir().unwrap();
    let pages = vec![
        page(dir.path(), "111", "Shop"),
        page(dir.path(), "222", "News"),
    ];
    let app = TestApp::spawn_with(db, TestBot::demo(), |s| {
        s.admin_password = Some(PASSWORD.into());
        s.pages = pages;
    })
    .await
    .expect("two Pages with an admin");
    app.graph.add_page_token("token-of-Shop");
    app.graph.add_page_token("token-of-News");
    for (page_id, text) in [("111", "a"), ("111", "b"), ("222", "c")] {
        let webhook = Webhook::text("5550000000000301", text).page(page_id);
        assert_eq!(app.post(&webhook).await.status(), 200);
    }
    app.wait_until_processed(PATIENCE).await;
    let operator = log_in(&app).await;
    let overview = operator.page("/admin").await;
    assert!(overview.contains("<h2>Shop</h2>"), "{overview}");
    assert!(overview.contains("<h2>News</h2>"), "{overview}");
    assert!(overview.contains("done 2"), "{overview}");
    assert!(overview.contains("done 1"), "{overview}");
    let shop = operator.page("/admin/inbox?status=all&page=111").await;
    let news = operator.page("/admin/inbox?status=all&page=222").await;
    assert_eq!(shop.matches("id=\"event-").count(), 2, "{shop}");
    assert_eq!(news.matches("id=\"event-").count(), 1, "{news}");
    assert!(
        shop.contains("<option value=\"222\">News</option>"),
        "{shop}"
    );
    for page in [&overview, &shop, &news] {
        for token in ["token-of-Shop", "token-of-News"] {
            assert!(!page.contains(token));
        }
    }
    app.stop().await;
});
