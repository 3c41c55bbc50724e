//! What an outbox message says: a Send API `message` checked against the Send API's limits
//! ([`crate::senders::limits`], the ones every sender obeys), or a Fluent message localized
//! for the user when it is queued.
//!
//! Every error names the field at fault (`message.text`, `message.quick_replies[2].title`),
//! as the API answers it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::FieldError;
use crate::senders::Message;
use crate::senders::limits::{
    self, MAX_BUTTON_TEMPLATE_TEXT_CHARS, MAX_BUTTON_TITLE_CHARS, MAX_BUTTONS,
    MAX_ELEMENT_SUBTITLE_CHARS, MAX_ELEMENT_TITLE_CHARS, MAX_GENERIC_ELEMENTS, MAX_PAYLOAD_CHARS,
    MAX_QUICK_REPLIES, MAX_QUICK_REPLY_TITLE_CHARS, MAX_RECEIPT_ELEMENTS, MAX_TEXT_CHARS,
};

/// What an outbox message says.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// A message built and checked in Rust (text, quick replies).
    Message(Message),
    /// A Fluent message id with its arguments, localized for the user on their Page when the
    /// message is queued (the Page's default locale when theirs is unknown).
    Fluent {
        /// The message id.
        id: String,
        /// Its arguments.
        args: BTreeMap<String, String>,
    },
}

impl Content {
    /// A text message (1 to 2,000 characters).
    pub fn text(text: impl Into<String>) -> Result<Self, FieldError> {
        Message::text(text)
            .map(Self::Message)
            .map_err(|e| FieldError::new("message.text", e.to_string()))
    }

    /// A Fluent message `id` with `args`.
    pub fn fluent<K: Into<String>, V: Into<String>>(
        id: impl Into<String>,
        args: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self::Fluent {
            id: id.into(),
            args: args
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Reads the API's `message`: a Send API message (`text`, `quick_replies`, `attachment`
    /// with media or a button, generic or receipt template) or `{"fluent": ID, "args": {..}}`.
    pub fn from_json(message: &Value) -> Result<Self, FieldError> {
        let fields = object(message, "message")?;
        if let Some(id) = fields.get("fluent") {
            let id = string(id, "message.fluent")?;
            let mut args = BTreeMap::new();
            if let Some(given) = fields.get("args") {
                for (name, value) in object(given, "message.args")? {
                    let value = match value {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => {
                            return Err(FieldError::new(
                                format!("message.args.{name}"),
                                "must be a string or a number",
                            ));
                        }
                    };
                    args.insert(name.clone(), value);
                }
            }
            if let Some(other) = fields
                .keys()
                .find(|k| !["fluent", "args"].contains(&k.as_str()))
            {
                return Err(FieldError::new(
                    format!("message.{other}"),
                    "not allowed with message.fluent",
                ));
            }
            return Ok(Self::fluent(id, args));
        }
        check_message(fields)?;
        Ok(Self::Message(Message::checked(message.clone())))
    }
}

fn object<'v>(value: &'v Value, field: &str) -> Result<&'v Map<String, Value>, FieldError> {
    value
        .as_object()
        .ok_or_else(|| FieldError::new(field, "must be an object"))
}

fn string<'v>(value: &'v Value, field: &str) -> Result<&'v str, FieldError> {
    value
        .as_str()
        .ok_or_else(|| FieldError::new(field, "must be a string"))
}

fn array<'v>(value: &'v Value, field: &str) -> Result<&'v Vec<Value>, FieldError> {
    value
        .as_array()
        .ok_or_else(|| FieldError::new(field, "must be an array"))
}

/// `fields[key]` as a string of 1 to `max` characters (`required`: it must be there).
fn text_of(
    fields: &Map<String, Value>,
    key: &str,
    at: &str,
    max: usize,
    required: bool,
) -> Result<(), FieldError> {
    let field = format!("{at}.{key}");
    match fields.get(key) {
        None if required => Err(FieldError::new(field, "is required")),
        None => Ok(()),
        Some(value) => {
            let text = string(value, &field)?;
            limits::length(&field, text, max).map_err(|e| FieldError::limit(&field, e))
        }
    }
}

fn count(field: &str, got: usize, min: usize, max: usize) -> Result<(), FieldError> {
    if got < min {
        Err(FieldError::new(
            field,
            format!("has {got} items, at least {min}"),
        ))
    } else if got > max {
        Err(FieldError::new(
            field,
            format!("has {got} items, at most {max}"),
        ))
    } else {
        Ok(())
    }
}

fn url(fields: &Map<String, Value>, key: &str, at: &str) -> Result<(), FieldError> {
    let field = format!("{at}.{key}");
    let value = fields
        .get(key)
        .ok_or_else(|| FieldError::new(&field, "is required"))?;
    let text = string(value, &field)?;
    limits::Url::parse(&field, text.to_owned())
        .map(|_| ())
        .map_err(|e| FieldError::limit(&field, e))
}

fn only(fields: &Map<String, Value>, allowed: &[&str], at: &str) -> Result<(), FieldError> {
    match fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(other) => Err(FieldError::new(
            format!("{at}.{other}"),
            format!("is not a field of {at} (known: {})", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

fn check_message(fields: &Map<String, Value>) -> Result<(), FieldError> {
    only(
        fields,
        &["text", "quick_replies", "attachment", "metadata"],
        "message",
    )?;
    match (fields.get("text"), fields.get("attachment")) {
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                "message.attachment",
                "a message has a text or an attachment, not both",
            ));
        }
        (None, None) => {
            return Err(FieldError::new(
                "message.text",
                "is required (or message.attachment, or message.fluent)",
            ));
        }
        (Some(_), None) => text_of(fields, "text", "message", MAX_TEXT_CHARS, true)?,
        (None, Some(attachment)) => check_attachment(attachment)?,
    }
    if let Some(replies) = fields.get("quick_replies") {
        let replies = array(replies, "message.quick_replies")?;
        count("message.quick_replies", replies.len(), 1, MAX_QUICK_REPLIES)?;
        for (i, reply) in replies.iter().enumerate() {
            let at = format!("message.quick_replies[{i}]");
            let reply = object(reply, &at)?;
            let kind = reply.get("content_type").and_then(Value::as_str);
            match kind {
                Some("text") => {
                    text_of(reply, "title", &at, MAX_QUICK_REPLY_TITLE_CHARS, true)?;
                    text_of(reply, "payload", &at, MAX_PAYLOAD_CHARS, true)?;
                }
                Some("user_phone_number" | "user_email") => {}
                _ => {
                    return Err(FieldError::new(
                        format!("{at}.content_type"),
                        "must be text, user_phone_number or user_email",
                    ));
                }
            }
        }
    }
    Ok(())
}

fn check_attachment(attachment: &Value) -> Result<(), FieldError> {
    let at = "message.attachment";
    let fields = object(attachment, at)?;
    let kind = fields.get("type").and_then(Value::as_str);
    let payload = fields
        .get("payload")
        .ok_or_else(|| FieldError::new(format!("{at}.payload"), "is required"))?;
    let payload = object(payload, &format!("{at}.payload"))?;
    let at = "message.attachment.payload";
    match kind {
        Some("image" | "audio" | "video" | "file") => {
            if !payload.contains_key("attachment_id") {
                url(payload, "url", at)?;
            }
            Ok(())
        }
        Some("template") => match payload.get("template_type").and_then(Value::as_str) {
            Some("button") => {
                text_of(payload, "text", at, MAX_BUTTON_TEMPLATE_TEXT_CHARS, true)?;
                check_buttons(payload, at, 1)
            }
            Some("generic") => {
                let field = format!("{at}.elements");
                let elements = array(
                    payload
                        .get("elements")
                        .ok_or_else(|| FieldError::new(&field, "is required"))?,
                    &field,
                )?;
                count(&field, elements.len(), 1, MAX_GENERIC_ELEMENTS)?;
                for (i, element) in elements.iter().enumerate() {
                    let at = format!("{field}[{i}]");
                    let element = object(element, &at)?;
                    text_of(element, "title", &at, MAX_ELEMENT_TITLE_CHARS, true)?;
                    text_of(element, "subtitle", &at, MAX_ELEMENT_SUBTITLE_CHARS, false)?;
                    if element.contains_key("image_url") {
                        url(element, "image_url", &at)?;
                    }
                    check_buttons(element, &at, 0)?;
                }
                Ok(())
            }
            Some("receipt") => {
                for key in [
                    "recipient_name",
                    "order_number",
                    "currency",
                    "payment_method",
                ] {
                    text_of(payload, key, at, MAX_PAYLOAD_CHARS, true)?;
                }
                let summary = payload
                    .get("summary")
                    .ok_or_else(|| FieldError::new(format!("{at}.summary"), "is required"))?;
                let summary = object(summary, &format!("{at}.summary"))?;
                if !summary.get("total_cost").is_some_and(Value::is_number) {
                    return Err(FieldError::new(
                        format!("{at}.summary.total_cost"),
                        "is required, a number",
                    ));
                }
                if let Some(elements) = payload.get("elements") {
                    let field = format!("{at}.elements");
                    let elements = array(elements, &field)?;
                    count(&field, elements.len(), 0, MAX_RECEIPT_ELEMENTS)?;
                }
                Ok(())
            }
            _ => Err(FieldError::new(
                format!("{at}.template_type"),
                "must be button, generic or receipt",
            )),
        },
        _ => Err(FieldError::new(
            "message.attachment.type",
            "must be image, audio, video, file or template",
        )),
    }
}

/// The `buttons` of a template part at `at`: `min` to 3, each with a title and what it does.
fn check_buttons(fields: &Map<String, Value>, at: &str, min: usize) -> Result<(), FieldError> {
    let field = format!("{at}.buttons");
    let buttons = match fields.get("buttons") {
        None if min == 0 => return Ok(()),
        None => return Err(FieldError::new(field, "is required")),
        Some(buttons) => array(buttons, &field)?,
    };
    count(&field, buttons.len(), min, MAX_BUTTONS)?;
    for (i, button) in buttons.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let button = object(button, &at)?;
        match button.get("type").and_then(Value::as_str) {
            Some("web_url") => {
                text_of(button, "title", &at, MAX_BUTTON_TITLE_CHARS, true)?;
                url(button, "url", &at)?;
            }
            Some("postback" | "phone_number") => {
                text_of(button, "title", &at, MAX_BUTTON_TITLE_CHARS, true)?;
                text_of(button, "payload", &at, MAX_PAYLOAD_CHARS, true)?;
            }
            Some("account_link") => url(button, "url", &at)?,
            Some("account_unlink") => {}
            _ => {
                return Err(FieldError::new(
                    format!("{at}.type"),
                    "must be web_url, postback, phone_number, account_link or account_unlink",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field_of(message: Value) -> String {
        Content::from_json(&message).unwrap_err().field
    }

    #[test]
    fn each_shape_is_checked_and_an_error_names_its_field() {
        assert!(Content::from_json(&json!({"text": "hi"})).is_ok());
        assert!(
            Content::from_json(&json!({"attachment": {"type": "image",
                "payload": {"url": "https://example.com/a.png"}}}))
            .is_ok()
        );
        assert_eq!(field_of(json!({"text": "x".repeat(2001)})), "message.text");
        assert_eq!(field_of(json!({"text": ""})), "message.text");
        assert_eq!(field_of(json!({"texte": "hi"})), "message.texte");
        assert_eq!(
            field_of(json!({"text": "hi", "quick_replies": [
                {"content_type": "text", "title": "ok", "payload": "P"},
                {"content_type": "text", "title": "a title longer than twenty", "payload": "P"}
            ]})),
            "message.quick_replies[1].title"
        );
        assert_eq!(
            field_of(json!({"attachment": {"type": "template", "payload": {
                "template_type": "button", "text": "pick", "buttons": [
                    {"type": "web_url", "title": "go", "url": "not a url"}]}}})),
            "message.attachment.payload.buttons[0].url"
        );
        assert_eq!(
            field_of(json!({"fluent": "greeting", "args": {"n": [1]}})),
            "message.args.n"
        );
    }
}
