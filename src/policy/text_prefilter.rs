//! A chain's text prefilter: the text regexes of all its links matched in one pass.
//!
//! Without it, a text event runs one regex per `simple_text` link of the chain; a
//! [`RegexSet`] reads the text once and says which of those links can want it, so the
//! pipeline skips the others without asking them.

use regex::{RegexSet, RegexSetBuilder, SetMatches};

use super::Link;
use crate::handlers::{REGEX_SIZE_LIMIT, TextPattern};

/// Fewest patterns worth a set. A set reads the text once however many patterns it holds, and
/// in a routing chain most patterns do not match (only the links whose pattern does read the
/// text again), so two patterns already save a read; one would only add one.
const MIN_PATTERNS: usize = 2;

/// Which links of a chain can want a text, decided by their
/// [`Handler::text_pattern`](crate::handlers::Handler::text_pattern) all at once.
///
/// The default covers no link: every link is asked, as without a prefilter.
#[derive(Default)]
pub(crate) struct TextPrefilter {
    sets: Vec<RegexSet>,
    /// For each link of the chain: the set covering it and its pattern's index there.
    slots: Vec<Option<(usize, usize)>>,
}

impl std::fmt::Debug for TextPrefilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextPrefilter")
            .field("sets", &self.sets.len())
            .field("links", &self.slots.iter().flatten().count())
            .finish()
    }
}

impl TextPrefilter {
    /// A prefilter over the links of `links` that have a text pattern.
    pub(crate) fn build(links: &[Link]) -> Self {
        let patterns: Vec<(usize, String)> = links
            .iter()
            .enumerate()
            .filter_map(|(i, link)| Some((i, set_pattern(link.handler.text_pattern()?))))
            .collect();
        let mut prefilter = Self {
            sets: Vec::new(),
            slots: vec![None; links.len()],
        };
        prefilter.cover(&patterns);
        prefilter
    }

    /// Puts `patterns` (link index, pattern) in one set, or in several when one would be over
    /// the size limit of a single regex; a pattern left alone stays uncovered (its link is
    /// asked).
    fn cover(&mut self, patterns: &[(usize, String)]) {
        if patterns.len() < MIN_PATTERNS {
            return;
        }
        // The same limit as one policy regex, so that matching stays fast: a set over it is
        // split rather than allowed to grow (one set of 1000 `^rule1 (\d+)$` needs ~10 MiB).
        let built = RegexSetBuilder::new(patterns.iter().map(|(_, p)| p))
            .size_limit(REGEX_SIZE_LIMIT)
            .build();
        match built {
            Ok(set) => {
                let index = self.sets.len();
                for (k, (link, _)) in patterns.iter().enumerate() {
                    self.slots[*link] = Some((index, k));
                }
                self.sets.push(set);
            }
            // Each pattern compiled alone at load, so only the size can fail here.
            Err(_) => {
                let (first, second) = patterns.split_at(patterns.len() / 2);
                self.cover(first);
                self.cover(second);
            }
        }
    }

    /// The answers for one event, computed when first asked.
    pub(crate) fn verdicts(&self) -> TextVerdicts<'_> {
        TextVerdicts {
            prefilter: self,
            matched: None,
        }
    }
}

/// `pattern` as one pattern of a set, where the builder's flags are shared by all patterns.
fn set_pattern(pattern: TextPattern<'_>) -> String {
    // A leading `(?i)` is what `case_insensitive(true)` means for that one pattern. Not
    // `(?i:...)`: in a `(?x)` pattern a trailing `# comment` would swallow the `)`.
    if pattern.ignore_case {
        format!("(?i){}", pattern.pattern)
    } else {
        pattern.pattern.to_owned()
    }
}

/// A prefilter's answers for the links of one chain, for one event.
pub(crate) struct TextVerdicts<'p> {
    prefilter: &'p TextPrefilter,
    /// The text last matched, and which patterns of each set matched it.
    matched: Option<(String, Vec<SetMatches>)>,
}

impl TextVerdicts<'_> {
    /// False only when link `link` has a text pattern that does not match `text`: then its
    /// handler would not want the event. True when it cannot tell (no text, no pattern).
    pub(crate) fn may_want(&mut self, link: usize, text: Option<&str>) -> bool {
        let (Some(&Some((set, pattern))), Some(text)) = (self.prefilter.slots.get(link), text)
        else {
            return true;
        };
        // Handlers may rewrite the event (its fields are public): match again if they did.
        if self.matched.as_ref().is_none_or(|(seen, _)| seen != text) {
            let matches = self
                .prefilter
                .sets
                .iter()
                .map(|s| s.matches(text))
                .collect();
            self.matched = Some((text.to_owned(), matches));
        }
        self.matched
            .as_ref()
            .is_some_and(|(_, matches)| matches[set].matched(pattern))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use regex::RegexBuilder;

    use super::*;
    use crate::context::Context;
    use crate::handlers::{Dummy, Handler, HandlerError, SimpleText, SimpleTextArgs};

    fn link(handler: Arc<dyn Handler>) -> Link {
        Link {
            handler_name: "test".into(),
            handler,
            senders: Vec::new(),
            stop: false,
            fallback: false,
            line: 1,
            when: None,
            global: false,
            remember: None,
            forget: Vec::new(),
            then: None,
        }
    }

    fn simple_text(regex: Option<&str>, ignore_case: bool) -> Link {
        let args = SimpleTextArgs {
            regex: regex.map(str::to_owned),
            ignore_case,
        };
        link(Arc::new(
            SimpleText::from_args(args).expect("a valid regex"),
        ))
    }

    /// `pattern` compiled the way the link's own regex is.
    fn alone(pattern: &str, ignore_case: bool) -> regex::Regex {
        RegexBuilder::new(pattern)
            .case_insensitive(ignore_case)
            .build()
            .unwrap()
    }

    /// Checks, for every link and text, that the prefilter says what the link's own regex
    /// says, and that it covers the links with a pattern.
    fn assert_same_as_alone(specs: &[(Option<&str>, bool)], texts: &[&str]) {
        let links: Vec<Link> = specs.iter().map(|(r, i)| simple_text(*r, *i)).collect();
        let prefilter = TextPrefilter::build(&links);
        for (i, (regex, _)) in specs.iter().enumerate() {
            assert_eq!(prefilter.slots[i].is_some(), regex.is_some(), "link {i}");
        }
        let regexes: Vec<Option<regex::Regex>> = specs
            .iter()
            .map(|(r, ignore_case)| r.map(|r| alone(r, *ignore_case)))
            .collect();
        for text in texts {
            let mut verdicts = prefilter.verdicts();
            for (i, regex) in regexes.iter().enumerate() {
                let expected = regex.as_ref().is_none_or(|r| r.is_match(text));
                assert_eq!(
                    verdicts.may_want(i, Some(text)),
                    expected,
                    "link {i} ({:?}) on {text:?}",
                    specs[i]
                );
            }
        }
    }

    #[test]
    fn agrees_with_each_regex_on_case_anchors_and_flags() {
        let specs = [
            (Some(r"^\s*(hi|hello|hey)\b"), true),
            (Some(r"^\s*help\s*$"), true),
            (Some("help"), false),
            (Some("^HELP$"), false),
            (Some("a|b"), true),
            (Some("(?-i)Exact"), true),
            (
                Some("(?x) men u  # a comment, no closing paren after it"),
                true,
            ),
            (None, false),
            (Some(r"\bcafé\b"), false),
            (Some("^$"), false),
            (Some("(?m)^two$"), false),
        ];
        let texts = [
            "hi",
            "  Hello there",
            "HEY!",
            "high",
            "help",
            "HELP",
            " Help ",
            "please help me",
            "B",
            "exact",
            "Exact",
            "MENU",
            "un café noir",
            "cafés",
            "",
            "one\ntwo\nthree",
        ];
        assert_same_as_alone(&specs, &texts);
    }

    #[test]
    fn a_long_chain_is_split_into_sets_under_the_size_limit() {
        // Patterns like the benchmark's: one set of 300 would be over the limit.
        let patterns: Vec<String> = (0..300).map(|i| format!(r"^rule{i} (\d+)$")).collect();
        let mut specs: Vec<(Option<&str>, bool)> = patterns
            .iter()
            .map(|p| (Some(p.as_str()), i_odd(p)))
            .collect();
        specs.push((None, false));
        let links: Vec<Link> = specs.iter().map(|(r, i)| simple_text(*r, *i)).collect();
        let prefilter = TextPrefilter::build(&links);
        assert!(prefilter.sets.len() > 1, "{prefilter:?}");
        assert_eq!(prefilter.slots.iter().flatten().count(), 300);
        assert_same_as_alone(
            &specs,
            &["rule7 42", "RULE299 1", "rule29 x", "rule150 ٣", "bench 1"],
        );
    }

    fn i_odd(pattern: &str) -> bool {
        pattern.len() % 2 == 1
    }

    #[test]
    fn a_single_pattern_or_none_gets_no_set() {
        let links = [simple_text(Some("^hi$"), false), simple_text(None, false)];
        let prefilter = TextPrefilter::build(&links);
        assert!(prefilter.sets.is_empty());
        let mut verdicts = prefilter.verdicts();
        assert!(verdicts.may_want(0, Some("bye")));
        assert!(verdicts.may_want(1, Some("bye")));
    }

    #[test]
    fn without_text_every_link_is_asked() {
        let links = [
            simple_text(Some("^hi$"), false),
            simple_text(Some("^bye$"), false),
            link(Arc::new(Dummy)),
        ];
        let prefilter = TextPrefilter::build(&links);
        assert_eq!(prefilter.sets.len(), 1);
        let mut verdicts = prefilter.verdicts();
        for i in 0..links.len() {
            assert!(verdicts.may_want(i, None));
        }
        assert!(!verdicts.may_want(0, Some("bye")));
        assert!(verdicts.may_want(1, Some("bye")));
        assert!(verdicts.may_want(2, Some("bye")));
    }

    #[test]
    fn a_rewritten_text_is_matched_again() {
        let links = [
            simple_text(Some("^hi$"), false),
            simple_text(Some("^bye$"), false),
        ];
        let prefilter = TextPrefilter::build(&links);
        let mut verdicts = prefilter.verdicts();
        assert!(verdicts.may_want(0, Some("hi")));
        assert!(!verdicts.may_want(1, Some("hi")));
        assert!(verdicts.may_want(1, Some("bye")));
        assert!(!verdicts.may_want(0, Some("bye")));
    }

    /// A handler of the bot's own that exposes a text pattern.
    struct Shouting;

    #[async_trait]
    impl Handler for Shouting {
        fn should_handle(&self, cx: &Context) -> bool {
            cx.text()
                .is_some_and(|t| alone("^[A-Z!]+$", false).is_match(t))
        }

        async fn handle(&self, _cx: &mut Context) -> Result<(), HandlerError> {
            Ok(())
        }

        fn text_pattern(&self) -> Option<TextPattern<'_>> {
            Some(TextPattern {
                pattern: "^[A-Z!]+$",
                ignore_case: false,
            })
        }
    }

    #[test]
    fn any_handler_with_a_text_pattern_is_covered() {
        let links = [
            link(Arc::new(Shouting)),
            simple_text(Some("^hi$"), true),
            link(Arc::new(Dummy)),
        ];
        let prefilter = TextPrefilter::build(&links);
        assert_eq!(prefilter.slots, [Some((0, 0)), Some((0, 1)), None]);
        let mut verdicts = prefilter.verdicts();
        assert!(verdicts.may_want(0, Some("HI!")));
        assert!(!verdicts.may_want(1, Some("HI!")));
        assert!(verdicts.may_want(2, Some("HI!")));
    }
}
