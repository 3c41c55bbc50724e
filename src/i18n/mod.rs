//! Fluent bundles, loaded once from `locales/<BCP 47 tag>/*.ftl` and shared by every worker.
//!
//! Texts in routing.yaml are Fluent message ids; [`Locales::format`] resolves one in the
//! user's locale and falls back to the default locale.

mod catalogue;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// What can go wrong loading or using the locales.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum I18nError {
    /// A folder or file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// What was being read.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// A folder name is not a BCP 47 language tag.
    #[error("{path}: folder name is not a language tag such as en-US")]
    BadTag {
        /// The folder.
        path: PathBuf,
    },
    /// Fluent syntax errors, each with its line.
    #[error("{}", .0.join("\n"))]
    Syntax(Vec<String>),
    /// The default locale has no folder.
    #[error("{dir}: no folder for the default locale {locale}")]
    MissingDefault {
        /// The locales folder.
        dir: PathBuf,
        /// The default locale.
        locale: String,
    },
    /// A message id exists in no loaded locale.
    #[error("unknown message id \"{0}\"")]
    UnknownMessage(String),
    /// A message could not be formatted (e.g. a missing argument).
    #[error("message \"{id}\": {problems}")]
    Format {
        /// The message id.
        id: String,
        /// What Fluent reported.
        problems: String,
    },
}

/// Every locale's bundle, and which one is the default.
pub struct Locales {
    default: LanguageIdentifier,
    bundles: Vec<(LanguageIdentifier, FluentBundle<FluentResource>)>,
    /// Message ids per locale, and the ids other messages reference: what `check` compares.
    catalogue: catalogue::Catalogue,
    fallbacks_logged: Mutex<HashSet<(String, String)>>,
}

/// Bounds the memory spent remembering logged fallbacks (locales come from users).
const MAX_LOGGED_FALLBACKS: usize = 10_000;

impl fmt::Debug for Locales {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Locales")
            .field("default", &self.default.to_string())
            .field(
                "locales",
                &self
                    .bundles
                    .iter()
                    .map(|(l, _)| l.to_string())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Locales {
    /// Loads every `dir/<tag>/*.ftl`. Every syntax error is reported with file and line.
    pub fn load(dir: &Path, default_locale: &str) -> Result<Self, I18nError> {
        let default: LanguageIdentifier =
            default_locale.parse().map_err(|_| I18nError::BadTag {
                path: PathBuf::from(default_locale),
            })?;
        let mut sources: BTreeMap<String, Vec<(PathBuf, String)>> = BTreeMap::new();
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| I18nError::Io { path, source }
        };
        for folder in std::fs::read_dir(dir).map_err(io(dir))? {
            let folder = folder.map_err(io(dir))?.path();
            if !folder.is_dir() {
                continue;
            }
            let tag = folder
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
                .map_err(io(&folder))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "ftl"))
                .collect();
            files.sort();
            let mut texts = Vec::new();
            for file in files {
                let text = std::fs::read_to_string(&file).map_err(io(&file))?;
                texts.push((file, text));
            }
            sources.insert(tag, texts);
        }
        let mut locales = Self::from_sources(default, sources.into_iter().collect())?;
        if !locales.bundles.iter().any(|(l, _)| *l == locales.default) {
            return Err(I18nError::MissingDefault {
                dir: dir.to_owned(),
                locale: locales.default.to_string(),
            });
        }
        // The default bundle first: it is the fallback for every lookup.
        locales.bundles.sort_by_key(|(l, _)| *l != locales.default);
        Ok(locales)
    }

    /// Builds bundles from `(tag, [(file name, FTL text)])`: what `load` reads from disk.
    pub fn from_sources(
        default: LanguageIdentifier,
        sources: Vec<(String, Vec<(PathBuf, String)>)>,
    ) -> Result<Self, I18nError> {
        let mut problems = Vec::new();
        let mut bundles = Vec::new();
        let mut catalogue = catalogue::Catalogue::default();
        for (tag, files) in sources {
            let Ok(lang) = tag.parse::<LanguageIdentifier>() else {
                return Err(I18nError::BadTag {
                    path: PathBuf::from(tag),
                });
            };
            let mut bundle = FluentBundle::new_concurrent(vec![lang.clone()]);
            // No Unicode isolation marks around arguments: Messenger shows them as boxes.
            bundle.set_use_isolating(false);
            for (file, text) in files {
                let line_of = |offset: usize| text[..offset.min(text.len())].lines().count().max(1);
                let resource = match FluentResource::try_new(text.clone()) {
                    Ok(r) => r,
                    Err((r, errors)) => {
                        for e in errors {
                            problems.push(format!(
                                "{}:{}: {}",
                                file.display(),
                                line_of(e.pos.start),
                                e.kind
                            ));
                        }
                        r
                    }
                };
                catalogue.add(&lang, &file, &resource);
                if let Err(errors) = bundle.add_resource(resource) {
                    for e in errors {
                        problems.push(format!("{}: {e}", file.display()));
                    }
                }
            }
            bundles.push((lang, bundle));
        }
        if !problems.is_empty() {
            return Err(I18nError::Syntax(problems));
        }
        Ok(Self {
            default,
            bundles,
            catalogue,
            fallbacks_logged: Mutex::default(),
        })
    }

    /// Logs, once per locale and message, that a message fell back to another locale.
    fn note_fallback(&self, locale: &str, id: &str) {
        let Ok(mut logged) = self.fallbacks_logged.lock() else {
            return;
        };
        if logged.len() < MAX_LOGGED_FALLBACKS && logged.insert((locale.to_owned(), id.to_owned()))
        {
            log::warn!(
                "message \"{id}\" is missing for locale {locale}: another locale's text is used"
            );
        }
    }

    /// The default locale.
    pub fn default_locale(&self) -> &LanguageIdentifier {
        &self.default
    }

    /// Every loaded locale (after [`Locales::load`]: the default first, then by folder name).
    pub fn locales(&self) -> impl Iterator<Item = &LanguageIdentifier> {
        self.bundles.iter().map(|(l, _)| l)
    }

    /// Whether `locale` (one of [`Locales::locales`]) defines message `id` itself.
    pub fn has_message_in(&self, locale: &LanguageIdentifier, id: &str) -> bool {
        self.catalogue.has(locale, id)
    }

    /// The message ids `locale` defines, sorted, each with the file that defines it.
    pub fn message_ids(&self, locale: &LanguageIdentifier) -> Vec<(&str, &Path)> {
        self.catalogue.ids(locale)
    }

    /// Whether another message refers to `id` (`{ id }`), which makes it used.
    pub fn is_referenced(&self, id: &str) -> bool {
        self.catalogue.is_referenced(id)
    }

    /// The loaded locale a user asking for `locale` gets (`zh_TW`, `zh-Hant-TW` -> `zh-TW`),
    /// or `None` when no loaded locale matches and the default would only be a fallback.
    pub fn supported(&self, locale: &str) -> Option<LanguageIdentifier> {
        let requested: LanguageIdentifier = locale.replace('_', "-").parse().ok()?;
        let available: Vec<&LanguageIdentifier> = self.locales().collect();
        fluent_langneg::negotiate_languages(
            &[requested],
            &available,
            None,
            fluent_langneg::NegotiationStrategy::Filtering,
        )
        .first()
        .map(|l| (**l).clone())
    }

    /// Whether the default locale defines `id` (every id the policy uses must be there).
    pub fn has_message(&self, id: &str) -> bool {
        self.bundles
            .first()
            .is_some_and(|(_, bundle)| bundle.has_message(id))
    }

    /// Formats message `id` in `locale` (BCP 47 `zh-TW` or Facebook's `zh_TW`), falling back
    /// to the same language in another region, then to the default locale.
    pub fn format(
        &self,
        locale: Option<&str>,
        id: &str,
        args: &BTreeMap<String, String>,
    ) -> Result<String, I18nError> {
        let mut candidates = self.candidates(locale);
        let first = candidates.next();
        let bundle = first
            .filter(|b| b.has_message(id))
            .or_else(|| {
                let fallback = candidates.find(|b| b.has_message(id));
                if let (Some(wanted), Some(_)) = (locale, fallback) {
                    self.note_fallback(wanted, id);
                }
                fallback
            })
            .ok_or_else(|| I18nError::UnknownMessage(id.to_owned()))?;
        format_in(bundle, id, args)
    }

    /// Formats message `id` in every loaded locale that defines it, in load order (the default
    /// first when read by [`Locales::load`]).
    ///
    /// The policy loader uses it to check a text's length in each language a user may get.
    pub fn format_each(
        &self,
        id: &str,
        args: &BTreeMap<String, String>,
    ) -> Vec<(String, Result<String, I18nError>)> {
        self.bundles
            .iter()
            .filter(|(_, bundle)| bundle.has_message(id))
            .map(|(lang, bundle)| (lang.to_string(), format_in(bundle, id, args)))
            .collect()
    }

    /// Bundles to try for `locale`, best first; the default is always last.
    ///
    /// `zh-Hant-TW` finds `zh-TW`, `fr-CA` finds `fr` (or another `fr-*`); anything else
    /// gets the default locale.
    fn candidates<'a>(
        &'a self,
        locale: Option<&str>,
    ) -> impl Iterator<Item = &'a FluentBundle<FluentResource>> + 'a {
        let requested: Vec<LanguageIdentifier> = locale
            .and_then(|l| l.replace('_', "-").parse().ok())
            .into_iter()
            .collect();
        let available: Vec<&LanguageIdentifier> = self.bundles.iter().map(|(l, _)| l).collect();
        let chosen: Vec<usize> = if requested.is_empty() {
            Vec::new()
        } else {
            fluent_langneg::negotiate_languages(
                &requested,
                &available,
                Some(&&self.default),
                fluent_langneg::NegotiationStrategy::Filtering,
            )
            .into_iter()
            .filter_map(|lang| self.bundles.iter().position(|(l, _)| l == *lang))
            .collect()
        };
        chosen
            .into_iter()
            .chain(std::iter::once(0))
            .filter_map(|i| self.bundles.get(i).map(|(_, b)| b))
    }
}

/// Formats message `id` of `bundle` with `args`; any Fluent error fails the whole text.
fn format_in(
    bundle: &FluentBundle<FluentResource>,
    id: &str,
    args: &BTreeMap<String, String>,
) -> Result<String, I18nError> {
    let pattern = bundle
        .get_message(id)
        .and_then(|m| m.value())
        .ok_or_else(|| I18nError::Format {
            id: id.to_owned(),
            problems: "the message has no value".into(),
        })?;
    let mut fluent_args = FluentArgs::new();
    for (name, value) in args {
        // Numbers go in as numbers so that plural selectors work.
        match value.parse::<f64>() {
            Ok(n) => fluent_args.set(name.as_str(), FluentValue::from(n)),
            Err(_) => fluent_args.set(name.as_str(), FluentValue::from(value.as_str())),
        }
    }
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
    if !errors.is_empty() {
        let problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
        return Err(I18nError::Format {
            id: id.to_owned(),
            problems: problems.join("; "),
        });
    }
    Ok(text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locales() -> Locales {
        Locales::from_sources(
            "en-US".parse().unwrap(),
            vec![
                (
                    "en-US".into(),
                    vec![(
                        "en-US/bot.ftl".into(),
                        "hello = Hello { $name }!\nonly-en = English only\n".into(),
                    )],
                ),
                (
                    "zh-TW".into(),
                    vec![("zh-TW/bot.ftl".into(), "hello = 你好 { $name }!\n".into())],
                ),
            ],
        )
        .unwrap()
    }

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn formats_in_the_default_locale_without_isolation_marks() {
        let text = locales()
            .format(None, "hello", &args(&[("name", "Ann")]))
            .unwrap();
        assert_eq!(text, "Hello Ann!");
    }

    #[test]
    fn facebook_locale_form_selects_the_bundle_and_missing_ids_fall_back() {
        let l = locales();
        assert_eq!(
            l.format(Some("zh_TW"), "hello", &args(&[("name", "Ann")]))
                .unwrap(),
            "你好 Ann!"
        );
        assert_eq!(
            l.format(Some("zh_TW"), "only-en", &args(&[])).unwrap(),
            "English only"
        );
        assert_eq!(
            l.format(Some("fr_FR"), "hello", &args(&[("name", "Ann")]))
                .unwrap(),
            "Hello Ann!"
        );
    }

    #[test]
    fn locales_are_negotiated() {
        let l = Locales::from_sources(
            "en-US".parse().unwrap(),
            vec![
                ("en-US".into(), vec![("a".into(), "m = en-US\n".into())]),
                ("zh-TW".into(), vec![("b".into(), "m = zh-TW\n".into())]),
                ("fr".into(), vec![("c".into(), "m = fr\n".into())]),
            ],
        )
        .unwrap();
        for (asked, got) in [
            (Some("zh-Hant-TW"), "zh-TW"),
            (Some("zh_TW"), "zh-TW"),
            (Some("fr-CA"), "fr"),
            (Some("fr_FR"), "fr"),
            (Some("de_DE"), "en-US"),
            (Some("not a locale!"), "en-US"),
            (None, "en-US"),
        ] {
            assert_eq!(l.format(asked, "m", &args(&[])).unwrap(), got, "{asked:?}");
        }
    }

    #[test]
    fn format_each_gives_every_locale_that_has_the_message() {
        let l = locales();
        let each = l.format_each("hello", &args(&[("name", "")]));
        let texts: Vec<(&str, &str)> = each
            .iter()
            .map(|(tag, text)| (tag.as_str(), text.as_deref().unwrap()))
            .collect();
        assert_eq!(texts, [("en-US", "Hello !"), ("zh-TW", "你好 !")]);
        let each = l.format_each("only-en", &args(&[]));
        assert_eq!(each.len(), 1);
        assert!(l.format_each("hello", &args(&[]))[1].1.is_err());
        assert!(l.format_each("nope", &args(&[])).is_empty());
    }

    #[test]
    fn unknown_ids_and_missing_arguments_are_errors() {
        let l = locales();
        assert!(matches!(
            l.format(None, "nope", &args(&[])),
            Err(I18nError::UnknownMessage(id)) if id == "nope"
        ));
        assert!(matches!(
            l.format(None, "hello", &args(&[])),
            Err(I18nError::Format { .. })
        ));
        assert!(l.has_message("hello"));
        assert!(!l.has_message("nope"));
    }

    #[test]
    fn supported_negotiates_without_falling_back_to_the_default() {
        let l = locales();
        let tag = |asked: &str| l.supported(asked).map(|t| t.to_string());
        assert_eq!(tag("zh_TW").as_deref(), Some("zh-TW"));
        assert_eq!(tag("zh-Hant-TW").as_deref(), Some("zh-TW"));
        assert_eq!(tag("en").as_deref(), Some("en-US"));
        assert_eq!(tag("fr-FR"), None);
        assert_eq!(tag("not a tag!"), None);
    }

    #[test]
    fn the_catalogue_knows_ids_per_locale_and_references() {
        let l = Locales::from_sources(
            "en-US".parse().unwrap(),
            vec![(
                "en-US".into(),
                vec![(
                    "en-US/bot.ftl".into(),
                    "-brand = Bot\nname = { -brand }\nwho = { $n ->\n   *[other] { name }\n}\n"
                        .into(),
                )],
            )],
        )
        .unwrap();
        let en = l.default_locale().clone();
        let ids: Vec<&str> = l.message_ids(&en).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, vec!["name", "who"]);
        assert!(l.has_message_in(&en, "who"));
        assert!(
            l.is_referenced("name"),
            "referenced inside a select variant"
        );
        assert!(!l.is_referenced("who"));
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let err = Locales::from_sources(
            "en-US".parse().unwrap(),
            vec![(
                "en-US".into(),
                vec![("en-US/bot.ftl".into(), "ok = fine\n\nbroken = { \n".into())],
            )],
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("en-US/bot.ftl:3:"), "{err}");
    }
}
