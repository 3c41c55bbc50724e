//! `set_locale`: stores the language a user picked (e.g. behind a "Language" quick reply), so
//! that every later message to them, and the senders of this very event, speak it.
//!
//! ```yaml
//! - handler: quick_reply
//!   args: { regex: "^LOCALE:(.+)$" }
//! - handler: set_locale
//!   args: { locale: "{match.1}" }   # or a fixed tag: { locale: zh-TW }
//! ```

use async_trait::async_trait;
use serde::Deserialize;

use super::{Handler, HandlerError};
use crate::context::Context;
use crate::registry::BuildContext;
use crate::store::users;

/// Stores the user's chosen locale.
#[derive(Debug, Clone)]
pub struct SetLocale {
    locale: String,
}

/// Arguments of `set_locale`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetLocaleArgs {
    /// A BCP 47 tag (`zh-TW`) or a template filled from variables (`{match.1}`).
    pub locale: String,
}

impl SetLocale {
    /// A fixed tag must name a loaded locale; a template is checked per event.
    pub fn from_args(args: SetLocaleArgs, cx: &BuildContext<'_>) -> Result<Self, String> {
        if !args.locale.contains('{') && cx.locales.supported(&args.locale).is_none() {
            let known: Vec<String> = cx.locales.locales().map(ToString::to_string).collect();
            return Err(format!(
                "locale \"{}\" is not one of the loaded locales ({})",
                args.locale,
                known.join(", ")
            ));
        }
        Ok(Self {
            locale: args.locale,
        })
    }

    /// The loaded locale this event asks for, if any.
    fn wanted(&self, cx: &Context) -> Option<String> {
        let asked = cx.expand(&self.locale);
        cx.locales().supported(asked.trim()).map(|l| l.to_string())
    }
}

#[async_trait]
impl Handler for SetLocale {
    fn should_handle(&self, cx: &Context) -> bool {
        cx.psid().is_some() && self.wanted(cx).is_some()
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let (Some(psid), Some(locale)) = (cx.psid().map(str::to_owned), self.wanted(cx)) else {
            return Ok(());
        };
        let page_id = cx.event.page_id.clone().unwrap_or_default();
        let user = cx
            .store()
            .run(move |conn| {
                users::ensure(conn, &page_id, &psid)?;
                users::choose_locale(conn, &page_id, &psid, &locale)?;
                users::find(conn, &page_id, &psid)
            })
            .await?;
        if let Some(user) = user {
            cx.set_user(user);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Locales;

    #[test]
    fn a_fixed_locale_must_be_loaded_and_a_template_is_checked_later() {
        let locales = Locales::from_sources(
            "en-US".parse().unwrap(),
            vec![
                ("en-US".into(), vec![("a.ftl".into(), "m = en\n".into())]),
                ("zh-TW".into(), vec![("b.ftl".into(), "m = zh\n".into())]),
            ],
        )
        .unwrap();
        let cx = BuildContext::new(&locales);
        let build = |locale: &str| {
            SetLocale::from_args(
                SetLocaleArgs {
                    locale: locale.into(),
                },
                &cx,
            )
        };
        assert!(build("zh-TW").is_ok());
        assert!(build("zh_TW").is_ok());
        assert!(build("{match.1}").is_ok());
        let err = build("fr-FR").unwrap_err();
        assert_eq!(
            err,
            "locale \"fr-FR\" is not one of the loaded locales (en-US, zh-TW)"
        );
    }
}
