//! Matching a payload (of a quick reply or a postback) exactly or by regex; shared by the
//! `quick_reply` and `postback` handlers.

use regex::Regex;

use super::simple_text::{capture_vars, compile_regex};
use crate::policy::MAX_PAYLOAD_CHARS;

/// What a payload must be: anything, exactly one string, or a match of a regex.
#[derive(Debug, Clone)]
pub(super) enum PayloadMatch {
    /// Any payload, and an event without one.
    Any,
    /// Exactly this payload.
    Exact(String),
    /// A payload in which this regex matches (anywhere, unless anchored).
    Regex(Regex),
}

impl PayloadMatch {
    /// Reads the `payload`, `regex` and `ignore_case` arguments.
    pub(super) fn from_args(
        payload: Option<String>,
        regex: Option<String>,
        ignore_case: bool,
    ) -> Result<Self, String> {
        match (payload, regex) {
            (Some(_), Some(_)) => Err("give either payload or regex, not both".into()),
            (Some(_), None) if ignore_case => {
                Err("ignore_case applies to regex only; a payload is matched exactly".into())
            }
            (Some(payload), None) => {
                let n = payload.chars().count();
                if n == 0 {
                    Err("payload is empty".into())
                } else if n > MAX_PAYLOAD_CHARS {
                    Err(format!(
                        "payload has {n} characters; Messenger allows at most {MAX_PAYLOAD_CHARS}"
                    ))
                } else {
                    Ok(Self::Exact(payload))
                }
            }
            (None, Some(pattern)) => Ok(Self::Regex(compile_regex(&pattern, ignore_case)?)),
            (None, None) if ignore_case => Err("ignore_case needs a regex".into()),
            (None, None) => Ok(Self::Any),
        }
    }

    /// Whether `payload` (absent on standby postbacks) is wanted.
    pub(super) fn matches(&self, payload: Option<&str>) -> bool {
        match (self, payload) {
            (Self::Any, _) => true,
            (_, None) => false,
            (Self::Exact(want), Some(got)) => want == got,
            (Self::Regex(regex), Some(got)) => regex.is_match(got),
        }
    }

    /// The variables a match leaves for the senders: `payload`, and the regex captures as
    /// `match.0`, `match.1`, `match.NAME`.
    pub(super) fn vars(&self, payload: Option<&str>) -> Vec<(String, String)> {
        let Some(payload) = payload else {
            return Vec::new();
        };
        let mut vars = vec![("payload".to_owned(), payload.to_owned())];
        if let Self::Regex(regex) = self {
            vars.extend(capture_vars(regex, payload));
        }
        vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(
        payload: Option<&str>,
        regex: Option<&str>,
        ignore_case: bool,
    ) -> Result<PayloadMatch, String> {
        PayloadMatch::from_args(payload.map(Into::into), regex.map(Into::into), ignore_case)
    }

    #[test]
    fn exact_matches_only_the_same_string() {
        let m = build(Some("COLOR_RED"), None, false).unwrap();
        assert!(m.matches(Some("COLOR_RED")));
        assert!(!m.matches(Some("COLOR_RED_DARK")));
        assert!(!m.matches(Some("color_red")));
        assert!(!m.matches(None));
        assert_eq!(
            m.vars(Some("COLOR_RED")),
            [("payload".to_owned(), "COLOR_RED".to_owned())]
        );
    }

    #[test]
    fn regex_matches_and_leaves_its_captures() {
        let m = build(None, Some("^COLOR_(?P<colour>[A-Z]+)$"), false).unwrap();
        assert!(m.matches(Some("COLOR_BLUE")));
        assert!(!m.matches(Some("SIZE_L")));
        assert!(!m.matches(None));
        let vars = m.vars(Some("COLOR_BLUE"));
        for (k, v) in [
            ("payload", "COLOR_BLUE"),
            ("match.0", "COLOR_BLUE"),
            ("match.1", "BLUE"),
            ("match.colour", "BLUE"),
        ] {
            assert!(
                vars.contains(&(k.to_owned(), v.to_owned())),
                "{k} in {vars:?}"
            );
        }
        let loose = build(None, Some("^color_"), true).unwrap();
        assert!(loose.matches(Some("COLOR_RED")));
    }

    #[test]
    fn no_filter_matches_everything_even_without_a_payload() {
        let m = build(None, None, false).unwrap();
        assert!(m.matches(Some("ANYTHING")));
        assert!(m.matches(None));
        assert!(m.vars(None).is_empty());
    }

    #[test]
    fn contradictory_or_broken_arguments_are_refused() {
        let err = |p, r, i| build(p, r, i).unwrap_err();
        assert_eq!(
            err(Some("A"), Some("B"), false),
            "give either payload or regex, not both"
        );
        assert!(err(Some("A"), None, true).contains("ignore_case applies to regex only"));
        assert_eq!(err(None, None, true), "ignore_case needs a regex");
        assert_eq!(err(Some(""), None, false), "payload is empty");
        let long = "x".repeat(MAX_PAYLOAD_CHARS + 1);
        assert!(err(Some(&long), None, false).contains("at most 1000"));
        let bad = err(None, Some("(unclosed"), false);
        assert!(bad.starts_with("bad regex \"(unclosed\": "), "{bad}");
        assert!(!bad.contains('\n'), "{bad}");
    }
}
