//! Handlers and senders by name: what routing.yaml's `handler:` and sender keys refer to.
//!
//! Each name maps to a constructor that reads typed `Args` (unknown keys are errors) from the
//! link's `args`. The built-ins register exactly like a bot's own. A bot with tables of its own
//! registers their migrations here too ([`Registry::migrations`]).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::handlers::{self, Handler};
use crate::i18n::Locales;
use crate::senders::{self, Sender};
use crate::store::AppMigrations;

/// What a constructor may look at while the policy loads.
#[derive(Debug, Clone, Copy)]
pub struct BuildContext<'a> {
    /// The loaded locales, to check message ids.
    pub locales: &'a Locales,
    /// Where the message ids the policy uses are recorded, for `pagebot check`.
    used_messages: Option<&'a RefCell<Vec<String>>>,
}

impl<'a> BuildContext<'a> {
    /// A context over `locales` that records nothing (enough to build one handler or sender).
    pub fn new(locales: &'a Locales) -> Self {
        Self {
            locales,
            used_messages: None,
        }
    }

    /// A context that records every message id required through it into `used`.
    pub fn recording(locales: &'a Locales, used: &'a RefCell<Vec<String>>) -> Self {
        Self {
            locales,
            used_messages: Some(used),
        }
    }

    /// An error unless the default locale defines message `id`; records `id` as used.
    pub fn require_message(&self, id: &str) -> Result<(), String> {
        if let Some(used) = self.used_messages {
            used.borrow_mut().push(id.to_owned());
        }
        if self.locales.has_message(id) {
            Ok(())
        } else {
            Err(format!(
                "message id \"{id}\" is not defined in the default locale {}",
                self.locales.default_locale()
            ))
        }
    }
}

type HandlerFactory = Arc<
    dyn Fn(serde_json::Value, &BuildContext<'_>) -> Result<Arc<dyn Handler>, String> + Send + Sync,
>;
type SenderFactory = Arc<
    dyn Fn(serde_json::Value, &BuildContext<'_>) -> Result<Arc<dyn Sender>, String> + Send + Sync,
>;

/// The named handlers and senders a policy can use, and the app's own migrations.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: BTreeMap<String, HandlerFactory>,
    senders: BTreeMap<String, SenderFactory>,
    migrations: Option<AppMigrations>,
    duplicates: Vec<String>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("handlers", &self.handler_names())
            .field("senders", &self.sender_names())
            .field("migrations", &self.migrations)
            .finish()
    }
}

/// A name registered twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("registered more than once: {}", .0.join(", "))]
pub struct DuplicateNames(pub Vec<String>);

impl Registry {
    /// A registry with nothing in it.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The built-in handlers and senders.
    pub fn builtin() -> Self {
        Self::empty()
            .handler("dummy", handlers::Dummy::from_args)
            .handler_with("set_locale", handlers::SetLocale::from_args)
            .handler("simple_text", handlers::SimpleText::from_args)
            .handler("user_profile", handlers::UserProfile::from_args)
            .handler("thumb_up", handlers::ThumbUp::from_args)
            .handler("location", handlers::Location::from_args)
            .handler("quick_reply", handlers::QuickReply::from_args)
            .handler("postback", handlers::Postback::from_args)
            .handler("multimedia", handlers::Multimedia::from_args)
            .handler("authentication", handlers::Authentication::from_args)
            .handler("account_linking", handlers::AccountLinking::from_args)
            .handler("delivery", handlers::Watermark::delivery)
            .handler("read", handlers::Watermark::read)
            .handler("echo", handlers::Echo::from_args)
            .handler("reaction", handlers::Reaction::from_args)
            .handler("referral", handlers::Referral::from_args)
            .handler("handover", handlers::Handover::from_args)
            .sender_with("text", senders::Text::from_args)
            .sender("sender_action", senders::SenderAction::from_args)
            .sender("image", senders::Media::image)
            .sender("audio", senders::Media::audio)
            .sender("video", senders::Media::video)
            .sender("file", senders::Media::file)
            .sender_with("quick_replies", senders::QuickReplies::from_args)
            .sender_with("buttons", senders::Buttons::from_args)
            .sender_with("generic", senders::Generic::from_args)
            .sender("receipt", senders::Receipt::from_args)
    }

    /// Registers handler `name`, built from its typed arguments.
    pub fn handler<A, H, F>(self, name: &str, build: F) -> Self
    where
        A: DeserializeOwned,
        H: Handler,
        F: Fn(A) -> Result<H, String> + Send + Sync + 'static,
    {
        self.handler_with(name, move |args, _: &BuildContext<'_>| build(args))
    }

    /// Registers handler `name`, whose constructor also sees the [`BuildContext`].
    pub fn handler_with<A, H, F>(mut self, name: &str, build: F) -> Self
    where
        A: DeserializeOwned,
        H: Handler,
        F: Fn(A, &BuildContext<'_>) -> Result<H, String> + Send + Sync + 'static,
    {
        let factory: HandlerFactory = Arc::new(move |value, cx| {
            let args = parse_args(value)?;
            Ok(Arc::new(build(args, cx)?) as Arc<dyn Handler>)
        });
        if self.handlers.insert(name.to_owned(), factory).is_some() {
            self.duplicates.push(format!("handler {name}"));
        }
        self
    }

    /// Registers sender `name`, built from its typed arguments.
    pub fn sender<A, S, F>(self, name: &str, build: F) -> Self
    where
        A: DeserializeOwned,
        S: Sender,
        F: Fn(A) -> Result<S, String> + Send + Sync + 'static,
    {
        self.sender_with(name, move |args, _: &BuildContext<'_>| build(args))
    }

    /// Registers sender `name`, whose constructor also sees the [`BuildContext`].
    pub fn sender_with<A, S, F>(mut self, name: &str, build: F) -> Self
    where
        A: DeserializeOwned,
        S: Sender,
        F: Fn(A, &BuildContext<'_>) -> Result<S, String> + Send + Sync + 'static,
    {
        let factory: SenderFactory = Arc::new(move |value, cx| {
            let args = parse_args(value)?;
            Ok(Arc::new(build(args, cx)?) as Arc<dyn Sender>)
        });
        if self.senders.insert(name.to_owned(), factory).is_some() {
            self.duplicates.push(format!("sender {name}"));
        }
        self
    }

    /// Registers the app's own migrations, which `serve`, `simulate` and the test kit run after
    /// pagebot's (see [`AppMigrations`] for what their versions must keep to). Registering a
    /// second set is an error, like a name registered twice.
    pub fn migrations(mut self, migrations: AppMigrations) -> Self {
        if self.migrations.replace(migrations).is_some() {
            self.duplicates.push("migrations".to_owned());
        }
        self
    }

    /// The app's migrations, if it registered any.
    pub fn app_migrations(&self) -> Option<&AppMigrations> {
        self.migrations.as_ref()
    }

    /// An error naming every name registered twice.
    pub fn check(&self) -> Result<(), DuplicateNames> {
        if self.duplicates.is_empty() {
            Ok(())
        } else {
            Err(DuplicateNames(self.duplicates.clone()))
        }
    }

    /// Registered handler names, sorted.
    pub fn handler_names(&self) -> Vec<&str> {
        self.handlers.keys().map(String::as_str).collect()
    }

    /// Registered sender names, sorted.
    pub fn sender_names(&self) -> Vec<&str> {
        self.senders.keys().map(String::as_str).collect()
    }

    /// Builds handler `name` from `args`; `None` if no such handler is registered.
    pub fn build_handler(
        &self,
        name: &str,
        args: serde_json::Value,
        cx: &BuildContext<'_>,
    ) -> Option<Result<Arc<dyn Handler>, String>> {
        self.handlers.get(name).map(|f| f(args, cx))
    }

    /// Builds sender `name` from `args`; `None` if no such sender is registered.
    pub fn build_sender(
        &self,
        name: &str,
        args: serde_json::Value,
        cx: &BuildContext<'_>,
    ) -> Option<Result<Arc<dyn Sender>, String>> {
        self.senders.get(name).map(|f| f(args, cx))
    }
}

/// Reads typed arguments; a missing `args` arrives as `{}` or `null`.
fn parse_args<A: DeserializeOwned>(value: serde_json::Value) -> Result<A, String> {
    let value = if value.is_null() {
        serde_json::Value::Object(Default::default())
    } else {
        value
    };
    serde_json::from_value(value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_reported() {
        let registry = Registry::builtin().handler("dummy", handlers::Dummy::from_args);
        assert_eq!(
            registry.check(),
            Err(DuplicateNames(vec!["handler dummy".into()]))
        );
        assert!(Registry::builtin().check().is_ok());
    }

    #[test]
    fn unknown_argument_keys_are_refused() {
        let locales = Locales::from_sources(
            "en-US".parse().unwrap(),
            vec![("en-US".into(), vec![("a.ftl".into(), "hi = Hi\n".into())])],
        )
        .unwrap();
        let cx = BuildContext::new(&locales);
        let registry = Registry::builtin();
        let err = registry
            .build_handler(
                "simple_text",
                serde_json::json!({"regex": "x", "regexp": "y"}),
                &cx,
            )
            .unwrap()
            .err()
            .unwrap();
        assert!(err.contains("unknown field `regexp`"), "{err}");
        let err = registry
            .build_sender("text", serde_json::json!({"message": "nope"}), &cx)
            .unwrap()
            .err()
            .unwrap();
        assert!(err.contains("\"nope\" is not defined"), "{err}");
        assert!(
            registry
                .build_handler("nope", serde_json::json!({}), &cx)
                .is_none()
        );
    }
}
