//! What the senders' unit tests share: locales from strings, a build context, and an event
//! context on a throwaway SQLite database (senders never touch it, but a context needs one).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::context::{Context, Event, Services};
use crate::event::{Messaging, ReceivingType};
use crate::graph::{GraphClient, GraphSettings};
use crate::i18n::Locales;
use crate::registry::{BuildContext, Registry};
use crate::senders::Sender;
use crate::store::group_commit::GroupCommit;
use crate::store::{Store, User};

/// The PSID every test context replies to.
pub const PSID: &str = "u_test";

/// Locales en-US (the default) and zh-TW from FTL texts.
pub fn locales(en_us: &str, zh_tw: &str) -> Arc<Locales> {
    Arc::new(
        Locales::from_sources(
            "en-US".parse().expect("a valid tag"),
            vec![
                (
                    "en-US".into(),
                    vec![("en-US/bot.ftl".into(), en_us.to_owned())],
                ),
                (
                    "zh-TW".into(),
                    vec![("zh-TW/bot.ftl".into(), zh_tw.to_owned())],
                ),
            ],
        )
        .expect("valid FTL"),
    )
}

/// Builds built-in sender `name` from `args` as the policy loader would.
pub fn build(locales: &Locales, name: &str, args: Value) -> Result<Arc<dyn Sender>, String> {
    Registry::builtin()
        .build_sender(name, args, &BuildContext::new(locales))
        .unwrap_or_else(|| panic!("sender {name} is registered"))
}

/// The error of building sender `name` from `args`.
pub fn refusal(locales: &Locales, name: &str, args: Value) -> String {
    match build(locales, name, args) {
        Ok(_) => panic!("sender {name} accepted its arguments"),
        Err(e) => e,
    }
}

/// A context for an event from [`PSID`], with `vars` and the user's `locale`.
pub struct TestContext {
    /// The context.
    pub cx: Context,
    _dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl TestContext {
    /// A context whose user speaks `locale` (Facebook's form, `zh_TW`), with `vars` set.
    pub fn new(locales: Arc<Locales>, locale: Option<&str>, vars: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::connect(&url, 1).expect("a SQLite store");
        // The group commit's writer lives on a runtime of the context's own (these tests are
        // not async, and store no users).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let new_users = {
            let _entered = runtime.enter();
            GroupCommit::start(store.clone(), 1, 1)
        };
        let services = Arc::new(Services {
            outbox: crate::outbox::Outbox::new(store.clone()),
            store,
            new_users,
            graph: GraphClient::new(GraphSettings::default()).expect("a log-mode client"),
            locales,
            profile_ttl: Duration::from_secs(60),
            conversation_idle: Duration::from_secs(3600),
        });
        let event = Event {
            inbox_id: 1,
            page_id: Some("p_1".into()),
            psid: Some(PSID.into()),
            kind: ReceivingType::SimpleText,
            standby: false,
            messaging: Messaging::default(),
        };
        let mut cx = Context::new(event, services);
        cx.set_user(User {
            psid: PSID.into(),
            page_id: "p_1".into(),
            first_name: None,
            last_name: None,
            profile_pic: None,
            locale: locale.map(str::to_owned),
            timezone: None,
            gender: None,
            profile_fetched_at: None,
            thumbups: 0,
            created_at: 0,
            updated_at: 0,
            chosen_locale: None,
        });
        cx.vars.extend(
            vars.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        );
        Self {
            cx,
            _dir: dir,
            _runtime: runtime,
        }
    }

    /// The bodies `sender` builds for this context.
    pub fn bodies(&self, sender: &dyn Sender) -> Vec<Value> {
        sender
            .build(&self.cx)
            .expect("the sender builds")
            .into_iter()
            .map(|o| o.body().clone())
            .collect()
    }

    /// The one body `sender` builds, checked by the fake Graph API's validator.
    pub fn body(&self, sender: &dyn Sender) -> Value {
        let mut bodies = self.bodies(sender);
        assert_eq!(bodies.len(), 1, "{bodies:?}");
        let body = bodies.remove(0);
        if let Err(e) = crate::testing::fake_graph::validate::check_send(&body) {
            panic!("the fake Graph API would refuse {body}: {e}");
        }
        body
    }
}
