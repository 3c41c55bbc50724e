//! The flow part of a compiled link: which steps it runs at, what it remembers (and how that
//! is checked), what it forgets and where it moves the conversation.

use regex::Regex;

use super::document::{RememberFrom, ValueKind};
use crate::context::Context;

/// How a link moves the conversation once it handled (after its senders).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Then {
    /// To this step (its `ask` senders follow the link's).
    Step(String),
    /// No step, nothing remembered.
    End,
}

/// What a link remembers, compiled.
#[derive(Debug, Clone)]
pub struct Remember {
    /// The value's name.
    pub name: String,
    /// Where it comes from.
    pub from: RememberFrom,
    /// A built-in check.
    pub validate: Option<ValueKind>,
    /// A regex it must match.
    pub regex: Option<Regex>,
}

impl Remember {
    /// The value to remember for the event in `cx`, checked and normalized; `None` when the
    /// event has none or it does not validate (the step asks again).
    pub fn value(&self, cx: &Context) -> Option<String> {
        let raw = source(&self.from, cx)?;
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        let value = match self.validate {
            None => raw.to_owned(),
            Some(kind) => validate(kind, raw)?,
        };
        if let Some(regex) = &self.regex
            && !regex.is_match(&value)
        {
            return None;
        }
        Some(value)
    }
}

/// What the event offers from `from`.
fn source(from: &RememberFrom, cx: &Context) -> Option<String> {
    let messaging = &cx.event.messaging;
    let message = messaging.message.as_ref().filter(|m| !m.is_echo);
    let payload = || {
        message
            .and_then(|m| m.quick_reply.as_ref())
            .map(|q| q.payload.clone())
            .filter(|p| !p.is_empty())
            .or_else(|| messaging.postback.as_ref().and_then(|p| p.payload.clone()))
    };
    let location = || {
        message?.attachments.iter().find_map(|a| {
            let c = a.payload.as_ref()?.coordinates.as_ref()?;
            (a.kind == "location").then(|| format!("{},{}", c.lat, c.long))
        })
    };
    let text = || message.and_then(|m| m.text.clone());
    match from {
        RememberFrom::Auto => payload().or_else(location).or_else(text),
        RememberFrom::Text => text(),
        RememberFrom::Payload => payload(),
        RememberFrom::Location => location(),
        RememberFrom::Template(template) => Some(cx.expand(template)),
    }
}

/// `raw` (trimmed, not empty) checked as `kind`, and normalized.
pub fn validate(kind: ValueKind, raw: &str) -> Option<String> {
    match kind {
        ValueKind::Email => {
            let (local, domain) = raw.split_once('@')?;
            let ok = !local.is_empty()
                && !raw.chars().any(|c| c.is_whitespace() || c.is_control())
                && !domain.contains('@')
                && domain.split('.').count() >= 2
                && domain.split('.').all(|part| !part.is_empty());
            ok.then(|| format!("{local}@{}", domain.to_lowercase()))
        }
        ValueKind::Phone => {
            let (plus, rest) = match raw.strip_prefix('+') {
                Some(rest) => ("+", rest),
                None => ("", raw),
            };
            if !rest
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
            {
                return None;
            }
            let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
            (7..=15)
                .contains(&digits.len())
                .then(|| format!("{plus}{digits}"))
        }
        ValueKind::Number => {
            let normalized = raw.replace(',', ".");
            let body = normalized.strip_prefix('-').unwrap_or(&normalized);
            let (whole, fraction) = body.split_once('.').unwrap_or((body, "0"));
            let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
            (digits(whole) && digits(fraction) && normalized.matches('.').count() <= 1)
                .then_some(normalized)
        }
        ValueKind::Date => {
            let parts: Vec<&str> = raw.split(['-', '/']).collect();
            let [year, month, day] = parts.as_slice() else {
                return None;
            };
            if year.len() != 4 || month.is_empty() || month.len() > 2 || day.is_empty() {
                return None;
            }
            let year: u32 = year.parse().ok()?;
            let month: u32 = month.parse().ok()?;
            let day: u32 = day.parse().ok()?;
            let leap =
                (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
            let days = match month {
                1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                4 | 6 | 9 | 11 => 30,
                2 if leap => 29,
                2 => 28,
                _ => return None,
            };
            (1..=days)
                .contains(&day)
                .then(|| format!("{year:04}-{month:02}-{day:02}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_their_domain_lowercased() {
        assert_eq!(
            validate(ValueKind::Email, "Ann@Example.COM").as_deref(),
            Some("Ann@example.com")
        );
        for bad in [
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@c.d",
            "a@b@c.d",
            "a@b..c",
        ] {
            assert_eq!(validate(ValueKind::Email, bad), None, "{bad}");
        }
    }

    #[test]
    fn phones_keep_their_digits_and_plus() {
        assert_eq!(
            validate(ValueKind::Phone, "+1 (555) 010-0199").as_deref(),
            Some("+15550100199")
        );
        assert_eq!(
            validate(ValueKind::Phone, "0912.345.678").as_deref(),
            Some("0912345678")
        );
        for bad in ["12345", "call me", "+1 555 0100 x12", "1234567890123456"] {
            assert_eq!(validate(ValueKind::Phone, bad), None, "{bad}");
        }
    }

    #[test]
    fn numbers_take_a_point_or_a_comma() {
        assert_eq!(validate(ValueKind::Number, "42").as_deref(), Some("42"));
        assert_eq!(validate(ValueKind::Number, "-3,5").as_deref(), Some("-3.5"));
        for bad in ["", "1.2.3", "one", "1e5", ".5", "5."] {
            assert_eq!(validate(ValueKind::Number, bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_are_real_calendar_days() {
        assert_eq!(
            validate(ValueKind::Date, "2028-2-29").as_deref(),
            Some("2028-02-29")
        );
        assert_eq!(
            validate(ValueKind::Date, "2027/12/31").as_deref(),
            Some("2027-12-31")
        );
        for bad in [
            "2027-02-29",
            "2027-13-01",
            "2027-04-31",
            "31/12/2027",
            "tomorrow",
        ] {
            assert_eq!(validate(ValueKind::Date, bad), None, "{bad}");
        }
    }
}
