//! `simple_text`: a text message, optionally matching a regex whose captures become
//! variables (`match.0`, `match.1`, `match.NAME`) for the senders.

use std::sync::OnceLock;

use async_trait::async_trait;
use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use super::{Handler, HandlerError, TextPattern};
use crate::context::Context;

/// Matches text messages.
#[derive(Debug, Clone)]
pub struct SimpleText {
    regex: Option<LazyRegex>,
}

/// A policy's regex, checked at load but compiled on first use: the chain's prefilter answers
/// for most texts, so a chain of many links holds only the regexes that ever matched.
#[derive(Debug, Clone)]
struct LazyRegex {
    pattern: String,
    ignore_case: bool,
    compiled: OnceLock<Regex>,
}

impl LazyRegex {
    fn regex(&self) -> &Regex {
        self.compiled.get_or_init(|| {
            compile_regex(&self.pattern, self.ignore_case)
                .expect("the same pattern compiled when the policy was loaded")
        })
    }
}

/// Arguments of `simple_text`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimpleTextArgs {
    /// The text must match this (anywhere, unless anchored); absent: any text matches.
    #[serde(default)]
    pub regex: Option<String>,
    /// Match without regard to case.
    #[serde(default)]
    pub ignore_case: bool,
}

/// Longest regex accepted once compiled, so that a policy cannot make matching slow.
pub(crate) const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl SimpleText {
    /// Checks the regex at policy load; it is compiled for matching when first needed.
    pub fn from_args(args: SimpleTextArgs) -> Result<Self, String> {
        let regex = match args.regex {
            None => None,
            Some(pattern) => {
                // Compiled only to refuse a bad policy at load; dropped, see `LazyRegex`.
                compile_regex(&pattern, args.ignore_case)?;
                Some(LazyRegex {
                    pattern,
                    ignore_case: args.ignore_case,
                    compiled: OnceLock::new(),
                })
            }
        };
        Ok(Self { regex })
    }
}

/// Compiles a policy's regex with a size limit; the error is one readable line.
pub(super) fn compile_regex(pattern: &str, ignore_case: bool) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(ignore_case)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("bad regex {pattern:?}: {}", first_line(&e.to_string())))
}

/// The captures of `regex` in `text` as variables: `match.0`, `match.1`, `match.NAME`; empty
/// when it does not match.
pub(super) fn capture_vars(regex: &Regex, text: &str) -> Vec<(String, String)> {
    let Some(captures) = regex.captures(text) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (i, name) in regex.capture_names().enumerate() {
        if let Some(m) = captures.get(i) {
            found.push((format!("match.{i}"), m.as_str().to_owned()));
            if let Some(name) = name {
                found.push((format!("match.{name}"), m.as_str().to_owned()));
            }
        }
    }
    found
}

fn first_line(s: &str) -> String {
    // The regex crate's messages draw a caret diagram over several lines; keep the sentence.
    s.lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| l.trim().trim_start_matches("error:").trim().to_owned())
        .unwrap_or_else(|| s.lines().next().unwrap_or_default().to_owned())
}

#[async_trait]
impl Handler for SimpleText {
    fn should_handle(&self, cx: &Context) -> bool {
        match (cx.text(), &self.regex) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(text), Some(regex)) => regex.regex().is_match(text),
        }
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let (Some(regex), Some(text)) = (&self.regex, cx.text()) else {
            return Ok(());
        };
        let found = capture_vars(regex.regex(), text);
        cx.vars.extend(found);
        Ok(())
    }

    fn text_pattern(&self) -> Option<TextPattern<'_>> {
        self.regex.as_ref().map(|r| TextPattern {
            pattern: &r.pattern,
            ignore_case: r.ignore_case,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_regex_is_refused_with_a_readable_reason() {
        let err = SimpleText::from_args(SimpleTextArgs {
            regex: Some("(hi".into()),
            ignore_case: false,
        })
        .unwrap_err();
        assert!(err.starts_with("bad regex \"(hi\": "), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn the_regex_is_checked_at_load_and_compiled_on_first_use() {
        let handler = SimpleText::from_args(SimpleTextArgs {
            regex: Some("^HI$".into()),
            ignore_case: true,
        })
        .unwrap();
        assert_eq!(
            handler.text_pattern(),
            Some(TextPattern {
                pattern: "^HI$",
                ignore_case: true
            })
        );
        let lazy = handler.regex.as_ref().unwrap();
        assert!(lazy.compiled.get().is_none());
        assert!(lazy.regex().is_match("hi"));
        assert!(lazy.compiled.get().is_some());
    }

    #[test]
    fn without_a_regex_there_is_no_text_pattern() {
        let handler = SimpleText::from_args(SimpleTextArgs::default()).unwrap();
        assert_eq!(handler.text_pattern(), None);
    }
}
