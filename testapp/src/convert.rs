//! `convert`: reads a temperature in the message text ("21 C", "-40°f", "70 fahrenheit") and
//! converts it. Pure logic: it stores nothing, it leaves `temp.from` and `temp.to` (e.g.
//! `21 °C` and `69.8 °F`) for the senders.
//!
//! ```yaml
//! - handler: convert
//!   args: { decimals: 1 }          # optional, 0 to 3 (default 1)
//!   senders:
//!     - text: { message: converted, args: { from: "{temp.from}", to: "{temp.to}" } }
//! ```
//!
//! Quick replies carry their title as text, so the same handler answers a tapped example.

use std::sync::LazyLock;

use async_trait::async_trait;
use pagebot::{Context, Handler, HandlerError};
use regex::Regex;
use serde::Deserialize;

/// Converts temperatures between Celsius and Fahrenheit.
#[derive(Debug, Clone)]
pub struct Convert {
    decimals: usize,
}

/// Arguments of `convert`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvertArgs {
    /// Digits after the decimal point in the result (0 to 3).
    #[serde(default = "one")]
    pub decimals: u8,
}

fn one() -> u8 {
    1
}

/// A number, an optional degree sign, then a unit: C, F, Celsius or Fahrenheit.
static TEMPERATURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?P<value>[-+−]?\d{1,6}(?:[.,]\d+)?)\s*°?\s*(?P<unit>c|f|celsius|fahrenheit)\s*[.!?]?\s*$")
        .expect("the pattern is a constant")
});

/// A temperature scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    Celsius,
    Fahrenheit,
}

impl Scale {
    fn symbol(self) -> &'static str {
        match self {
            Self::Celsius => "°C",
            Self::Fahrenheit => "°F",
        }
    }
}

impl Convert {
    /// Checks the arguments once, at policy load.
    pub fn from_args(args: ConvertArgs) -> Result<Self, String> {
        if args.decimals > 3 {
            return Err(format!("decimals is {}; use 0 to 3", args.decimals));
        }
        Ok(Self {
            decimals: usize::from(args.decimals),
        })
    }

    /// `("21 °C", "69.8 °F")` for "21 c"; `None` for text that is not a temperature.
    pub fn convert(&self, text: &str) -> Option<(String, String)> {
        let captures = TEMPERATURE.captures(text)?;
        let value: f64 = captures["value"]
            .replace(',', ".")
            .replace('−', "-")
            .parse()
            .ok()?;
        let scale = match captures["unit"].chars().next()?.to_ascii_lowercase() {
            'c' => Scale::Celsius,
            _ => Scale::Fahrenheit,
        };
        let (result, to) = match scale {
            Scale::Celsius => (value * 9.0 / 5.0 + 32.0, Scale::Fahrenheit),
            Scale::Fahrenheit => ((value - 32.0) * 5.0 / 9.0, Scale::Celsius),
        };
        Some((
            format!("{} {}", number(value, 3), scale.symbol()),
            format!("{} {}", number(result, self.decimals), to.symbol()),
        ))
    }
}

/// `value` with at most `decimals` digits after the point, without trailing zeros.
fn number(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    };
    // -0.0 rounds to "-0".
    if text == "-0" { "0".to_owned() } else { text }
}

#[async_trait]
impl Handler for Convert {
    fn should_handle(&self, cx: &Context) -> bool {
        cx.text().is_some_and(|t| TEMPERATURE.is_match(t))
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let Some((from, to)) = cx.text().and_then(|t| self.convert(t)) else {
            return Ok(());
        };
        cx.vars.insert("temp.from".into(), from);
        cx.vars.insert("temp.to".into(), to);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(text: &str) -> Option<(String, String)> {
        Convert::from_args(ConvertArgs { decimals: 1 })
            .unwrap()
            .convert(text)
    }

    fn pair(from: &str, to: &str) -> Option<(String, String)> {
        Some((from.to_owned(), to.to_owned()))
    }

    #[test]
    fn converts_both_ways_in_the_forms_people_type() {
        assert_eq!(convert("21 C"), pair("21 °C", "69.8 °F"));
        assert_eq!(convert("70°f"), pair("70 °F", "21.1 °C"));
        assert_eq!(convert(" -40 celsius "), pair("-40 °C", "-40 °F"));
        assert_eq!(convert("98,6 Fahrenheit!"), pair("98.6 °F", "37 °C"));
        assert_eq!(convert("32 F"), pair("32 °F", "0 °C"));
        assert_eq!(convert("−10 C"), pair("-10 °C", "14 °F"));
    }

    #[test]
    fn other_text_is_not_a_temperature() {
        for text in [
            "hi",
            "21",
            "C",
            "21 K",
            "call me at 21 c please",
            "1234567 C",
        ] {
            assert_eq!(convert(text), None, "{text}");
        }
    }

    #[test]
    fn decimals_are_checked_and_used() {
        assert!(Convert::from_args(ConvertArgs { decimals: 4 }).is_err());
        let exact = Convert::from_args(ConvertArgs { decimals: 3 }).unwrap();
        assert_eq!(exact.convert("70 F").unwrap().1, "21.111 °C");
        let whole = Convert::from_args(ConvertArgs { decimals: 0 }).unwrap();
        assert_eq!(whole.convert("70 F").unwrap().1, "21 °C");
    }
}
