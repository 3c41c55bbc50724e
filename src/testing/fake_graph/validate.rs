//! The checks the fake Graph API applies to request bodies: the Send API shape and limits and a
//! few Messenger Profile rules (MESSENGER.md sections 5 and 7). Pure functions; a violation is a
//! lowercase sentence naming the parameter the way Graph does (`message[quick_replies][0][title]`).

use serde_json::{Map, Value};

/// Allowed keys of `recipient`; a request names exactly one.
const RECIPIENT_KEYS: &[&str] = &[
    "id",
    "user_ref",
    "one_time_notif_token",
    "notification_messages_token",
    "comment_id",
    "post_id",
];
const MESSAGING_TYPES: &[&str] = &["RESPONSE", "UPDATE", "MESSAGE_TAG", "UTILITY"];
/// Message tags still accepted after 27 Apr 2026.
const TAGS: &[&str] = &["HUMAN_AGENT", "CUSTOMER_FEEDBACK"];
const SENDER_ACTIONS: &[&str] = &["typing_on", "typing_off", "mark_seen", "react", "unreact"];
const NOTIFICATION_TYPES: &[&str] = &["REGULAR", "SILENT_PUSH", "NO_PUSH"];
const QUICK_REPLY_TYPES: &[&str] = &["text", "user_phone_number", "user_email"];
const ATTACHMENT_TYPES: &[&str] = &["image", "audio", "video", "file", "template"];
const BUTTON_TYPES: &[&str] = &[
    "web_url",
    "postback",
    "phone_number",
    "account_link",
    "account_unlink",
];
const WEBVIEW_RATIOS: &[&str] = &["compact", "tall", "full"];
const PROFILE_PROPERTIES: &[&str] = &[
    "get_started",
    "greeting",
    "persistent_menu",
    "ice_breakers",
    "whitelisted_domains",
    "account_linking_url",
    "commands",
    "home_url",
    "title",
];

type Checked = Result<(), String>;

/// Checks one Send API request body.
pub(crate) fn check_send(body: &Value) -> Checked {
    let body = object(body, "the request body")?;
    check_recipient(body.get("recipient"))?;
    match (body.get("message"), body.get("sender_action")) {
        (Some(_), Some(_)) => {
            return Err("a request carries message or sender_action, not both".to_owned());
        }
        (None, None) => return Err("param message or sender_action is required".to_owned()),
        (None, Some(action)) => check_sender_action(action, body.get("payload"))?,
        (Some(message), None) => {
            check_messaging_type(body)?;
            check_message(message)?;
        }
    }
    if let Some(kind) = optional_str(body, "notification_type", "notification_type")? {
        one_of(kind, NOTIFICATION_TYPES, "notification_type")?;
    }
    Ok(())
}

/// Checks a Messenger Profile `POST` body against the properties already set.
pub(crate) fn check_messenger_profile(props: &Value, current: &Map<String, Value>) -> Checked {
    let props = object(props, "the request body")?;
    if props.is_empty() {
        return Err("the request sets no property".to_owned());
    }
    for (key, value) in props {
        match key.as_str() {
            "get_started" => {
                let get_started = object(value, "get_started")?;
                let payload = required_str(get_started, "payload", "get_started[payload]")?;
                text_len(payload, 1, 1000, "get_started[payload]")?;
            }
            "greeting" => check_greeting(value)?,
            "persistent_menu" => {
                if !props.contains_key("get_started") && !current.contains_key("get_started") {
                    return Err(
                        "you must set a get started button if you also wish to use persistent menu"
                            .to_owned(),
                    );
                }
                check_persistent_menu(value)?;
            }
            "ice_breakers" => check_ice_breakers(value)?,
            "whitelisted_domains" => {
                let domains = array(value, "whitelisted_domains", 0, 50)?;
                for (i, domain) in domains.iter().enumerate() {
                    let path = format!("whitelisted_domains[{i}]");
                    let domain = string(domain, &path)?;
                    if !domain.starts_with("https://") {
                        return Err(format!("param {path} must be an https url"));
                    }
                }
            }
            known if PROFILE_PROPERTIES.contains(&known) => {}
            unknown => {
                return Err(format!(
                    "param {unknown} is not a messenger profile property (known: {})",
                    PROFILE_PROPERTIES.join(", ")
                ));
            }
        }
    }
    Ok(())
}

fn check_recipient(recipient: Option<&Value>) -> Checked {
    let recipient = object(recipient.ok_or("param recipient is required")?, "recipient")?;
    let keys: Vec<&str> = recipient.keys().map(String::as_str).collect();
    match keys.as_slice() {
        [key] if RECIPIENT_KEYS.contains(key) => {
            let path = format!("recipient[{key}]");
            let value = string(&recipient[*key], &path)?;
            text_len(value, 1, usize::MAX, &path)
        }
        _ => Err(format!(
            "param recipient must have exactly one of {} (got {})",
            RECIPIENT_KEYS.join(", "),
            if keys.is_empty() {
                "none".to_owned()
            } else {
                keys.join(", ")
            }
        )),
    }
}

fn check_messaging_type(body: &Map<String, Value>) -> Checked {
    let kind = optional_str(body, "messaging_type", "messaging_type")?
        .ok_or("param messaging_type is required with a message")?;
    one_of(kind, MESSAGING_TYPES, "messaging_type")?;
    if kind == "MESSAGE_TAG" {
        let tag = optional_str(body, "tag", "tag")?
            .ok_or("param tag is required with messaging_type MESSAGE_TAG")?;
        one_of(tag, TAGS, "tag")?;
    }
    Ok(())
}

fn check_sender_action(action: &Value, payload: Option<&Value>) -> Checked {
    let action = string(action, "sender_action")?;
    one_of(action, SENDER_ACTIONS, "sender_action")?;
    if matches!(action, "react" | "unreact") {
        let payload = object(
            payload
                .ok_or_else(|| format!("param payload is required with sender_action {action}"))?,
            "payload",
        )?;
        required_str(payload, "message_id", "payload[message_id]")?;
        if action == "react" {
            required_str(payload, "reaction", "payload[reaction]")?;
        }
    }
    Ok(())
}

fn check_message(message: &Value) -> Checked {
    let message = object(message, "message")?;
    match (message.get("text"), message.get("attachment")) {
        (Some(_), Some(_)) => {
            return Err("param message must have text or attachment, not both".to_owned());
        }
        (None, None) => return Err("param message must have text or attachment".to_owned()),
        (Some(text), None) => text_len(string(text, "message[text]")?, 1, 2000, "message[text]")?,
        (None, Some(attachment)) => check_attachment(attachment)?,
    }
    if let Some(replies) = message.get("quick_replies") {
        let replies = array(replies, "message[quick_replies]", 0, 13)?;
        for (i, reply) in replies.iter().enumerate() {
            check_quick_reply(reply, &format!("message[quick_replies][{i}]"))?;
        }
    }
    if let Some(metadata) = optional_str(message, "metadata", "message[metadata]")? {
        text_len(metadata, 0, 1000, "message[metadata]")?;
    }
    Ok(())
}

fn check_quick_reply(reply: &Value, path: &str) -> Checked {
    let reply = object(reply, path)?;
    let kind = required_str(reply, "content_type", &format!("{path}[content_type]"))?;
    one_of(kind, QUICK_REPLY_TYPES, &format!("{path}[content_type]"))?;
    let title_path = format!("{path}[title]");
    let payload_path = format!("{path}[payload]");
    let (title, payload) = if kind == "text" {
        (
            Some(required_str(reply, "title", &title_path)?),
            Some(required_str(reply, "payload", &payload_path)?),
        )
    } else {
        (
            optional_str(reply, "title", &title_path)?,
            optional_str(reply, "payload", &payload_path)?,
        )
    };
    if let Some(title) = title {
        text_len(title, 1, 20, &title_path)?;
    }
    if let Some(payload) = payload {
        text_len(payload, 1, 1000, &payload_path)?;
    }
    optional_str(reply, "image_url", &format!("{path}[image_url]"))?;
    Ok(())
}

fn check_attachment(attachment: &Value) -> Checked {
    let attachment = object(attachment, "message[attachment]")?;
    let kind = required_str(attachment, "type", "message[attachment][type]")?;
    one_of(kind, ATTACHMENT_TYPES, "message[attachment][type]")?;
    let payload = object(
        attachment
            .get("payload")
            .ok_or("param message[attachment][payload] is required")?,
        "message[attachment][payload]",
    )?;
    if kind != "template" {
        let url = optional_str(payload, "url", "message[attachment][payload][url]")?;
        let id = payload.get("attachment_id");
        if url.is_none_or(str::is_empty) && id.is_none() {
            return Err(
                "param message[attachment][payload] needs a url or an attachment_id".to_owned(),
            );
        }
        return Ok(());
    }
    let path = "message[attachment][payload]";
    match required_str(payload, "template_type", &format!("{path}[template_type]"))? {
        "button" => {
            let text = required_str(payload, "text", &format!("{path}[text]"))?;
            text_len(text, 1, 640, &format!("{path}[text]"))?;
            check_buttons(payload.get("buttons"), 1, 3, &format!("{path}[buttons]"))
        }
        "generic" => {
            let elements_path = format!("{path}[elements]");
            let elements = array(
                payload
                    .get("elements")
                    .ok_or_else(|| format!("param {elements_path} is required"))?,
                &elements_path,
                1,
                10,
            )?;
            for (i, element) in elements.iter().enumerate() {
                check_generic_element(element, &format!("{elements_path}[{i}]"))?;
            }
            let ratio_path = format!("{path}[image_aspect_ratio]");
            if let Some(ratio) = optional_str(payload, "image_aspect_ratio", &ratio_path)? {
                one_of(ratio, &["horizontal", "square"], &ratio_path)?;
            }
            Ok(())
        }
        "receipt" => check_receipt(payload, path),
        // media, product, ...: shape not checked.
        _ => Ok(()),
    }
}

fn check_generic_element(element: &Value, path: &str) -> Checked {
    let element = object(element, path)?;
    let title = required_str(element, "title", &format!("{path}[title]"))?;
    text_len(title, 1, 80, &format!("{path}[title]"))?;
    if let Some(subtitle) = optional_str(element, "subtitle", &format!("{path}[subtitle]"))? {
        text_len(subtitle, 0, 80, &format!("{path}[subtitle]"))?;
    }
    optional_str(element, "image_url", &format!("{path}[image_url]"))?;
    if let Some(action) = element.get("default_action") {
        let action_path = format!("{path}[default_action]");
        let action = object(action, &action_path)?;
        let kind = required_str(action, "type", &format!("{action_path}[type]"))?;
        one_of(kind, &["web_url"], &format!("{action_path}[type]"))?;
        required_str(action, "url", &format!("{action_path}[url]"))?;
        if action.contains_key("title") {
            return Err(format!("param {action_path} must not have a title"));
        }
    }
    if element.contains_key("buttons") {
        check_buttons(element.get("buttons"), 0, 3, &format!("{path}[buttons]"))?;
    }
    Ok(())
}

fn check_receipt(payload: &Map<String, Value>, path: &str) -> Checked {
    for key in [
        "recipient_name",
        "order_number",
        "currency",
        "payment_method",
    ] {
        required_str(payload, key, &format!("{path}[{key}]"))?;
    }
    let summary_path = format!("{path}[summary]");
    let summary = object(
        payload
            .get("summary")
            .ok_or_else(|| format!("param {summary_path} is required"))?,
        &summary_path,
    )?;
    if !summary.get("total_cost").is_some_and(Value::is_number) {
        return Err(format!(
            "param {summary_path}[total_cost] is required and must be a number"
        ));
    }
    for key in ["subtotal", "shipping_cost", "total_tax"] {
        optional_number(summary, key, &format!("{summary_path}[{key}]"))?;
    }
    if let Some(address) = payload.get("address") {
        let address_path = format!("{path}[address]");
        let address = object(address, &address_path)?;
        for key in ["street_1", "city", "postal_code", "state", "country"] {
            required_str(address, key, &format!("{address_path}[{key}]"))?;
        }
        optional_str(address, "street_2", &format!("{address_path}[street_2]"))?;
    }
    if let Some(adjustments) = payload.get("adjustments") {
        let adjustments_path = format!("{path}[adjustments]");
        for (i, adjustment) in array(adjustments, &adjustments_path, 0, usize::MAX)?
            .iter()
            .enumerate()
        {
            let item_path = format!("{adjustments_path}[{i}]");
            let adjustment = object(adjustment, &item_path)?;
            required_str(adjustment, "name", &format!("{item_path}[name]"))?;
            required_number(adjustment, "amount", &format!("{item_path}[amount]"))?;
        }
    }
    if let Some(elements) = payload.get("elements") {
        let elements_path = format!("{path}[elements]");
        for (i, element) in array(elements, &elements_path, 0, 100)?.iter().enumerate() {
            let element_path = format!("{elements_path}[{i}]");
            let element = object(element, &element_path)?;
            let title = required_str(element, "title", &format!("{element_path}[title]"))?;
            text_len(title, 1, usize::MAX, &format!("{element_path}[title]"))?;
            required_number(element, "price", &format!("{element_path}[price]"))?;
            optional_number(element, "quantity", &format!("{element_path}[quantity]"))?;
            optional_str(element, "currency", &format!("{element_path}[currency]"))?;
        }
    }
    Ok(())
}

fn optional_number(map: &Map<String, Value>, key: &str, path: &str) -> Checked {
    match map.get(key) {
        Some(value) if !value.is_number() => Err(format!("param {path} must be a number")),
        _ => Ok(()),
    }
}

fn required_number(map: &Map<String, Value>, key: &str, path: &str) -> Checked {
    if map.contains_key(key) {
        optional_number(map, key, path)
    } else {
        Err(format!("param {path} is required"))
    }
}

fn check_buttons(buttons: Option<&Value>, min: usize, max: usize, path: &str) -> Checked {
    let buttons = array(
        buttons.ok_or_else(|| format!("param {path} is required"))?,
        path,
        min,
        max,
    )?;
    for (i, button) in buttons.iter().enumerate() {
        check_button(button, &format!("{path}[{i}]"))?;
    }
    Ok(())
}

fn check_button(button: &Value, path: &str) -> Checked {
    let button = object(button, path)?;
    let kind = required_str(button, "type", &format!("{path}[type]"))?;
    one_of(kind, BUTTON_TYPES, &format!("{path}[type]"))?;
    let title_path = format!("{path}[title]");
    let title = if matches!(kind, "account_link" | "account_unlink") {
        optional_str(button, "title", &title_path)?
    } else {
        Some(required_str(button, "title", &title_path)?)
    };
    if let Some(title) = title {
        text_len(title, 1, 20, &title_path)?;
    }
    match kind {
        "web_url" => {
            required_str(button, "url", &format!("{path}[url]"))?;
            let ratio_path = format!("{path}[webview_height_ratio]");
            if let Some(ratio) = optional_str(button, "webview_height_ratio", &ratio_path)? {
                one_of(ratio, WEBVIEW_RATIOS, &ratio_path)?;
            }
        }
        "postback" => {
            let payload = required_str(button, "payload", &format!("{path}[payload]"))?;
            text_len(payload, 1, 1000, &format!("{path}[payload]"))?;
        }
        "phone_number" => {
            let payload = required_str(button, "payload", &format!("{path}[payload]"))?;
            if !payload.starts_with('+') {
                return Err(format!(
                    "param {path}[payload] must be a phone number starting with +"
                ));
            }
        }
        "account_link" => {
            required_str(button, "url", &format!("{path}[url]"))?;
        }
        _ => {}
    }
    Ok(())
}

fn check_greeting(value: &Value) -> Checked {
    let greetings = array(value, "greeting", 1, usize::MAX)?;
    let mut has_default = false;
    for (i, greeting) in greetings.iter().enumerate() {
        let path = format!("greeting[{i}]");
        let greeting = object(greeting, &path)?;
        has_default |= required_str(greeting, "locale", &format!("{path}[locale]"))? == "default";
        let text = required_str(greeting, "text", &format!("{path}[text]"))?;
        text_len(text, 1, 160, &format!("{path}[text]"))?;
    }
    if has_default {
        Ok(())
    } else {
        Err("param greeting must have an entry for locale default".to_owned())
    }
}

fn check_persistent_menu(value: &Value) -> Checked {
    let menus = array(value, "persistent_menu", 1, usize::MAX)?;
    let mut has_default = false;
    for (i, menu) in menus.iter().enumerate() {
        let path = format!("persistent_menu[{i}]");
        let menu = object(menu, &path)?;
        has_default |= required_str(menu, "locale", &format!("{path}[locale]"))? == "default";
        let Some(items) = menu.get("call_to_actions") else {
            // composer_input_disabled alone is allowed
            continue;
        };
        let items_path = format!("{path}[call_to_actions]");
        for (j, item) in array(items, &items_path, 0, 20)?.iter().enumerate() {
            let item_path = format!("{items_path}[{j}]");
            let item = object(item, &item_path)?;
            if item.contains_key("call_to_actions") {
                return Err(format!(
                    "param {item_path} is a nested menu: nested menus were removed in v8.0"
                ));
            }
            let kind = required_str(item, "type", &format!("{item_path}[type]"))?;
            one_of(
                kind,
                &["web_url", "postback"],
                &format!("{item_path}[type]"),
            )?;
            let title = required_str(item, "title", &format!("{item_path}[title]"))?;
            text_len(title, 1, 30, &format!("{item_path}[title]"))?;
            if kind == "web_url" {
                required_str(item, "url", &format!("{item_path}[url]"))?;
            } else {
                let payload = required_str(item, "payload", &format!("{item_path}[payload]"))?;
                text_len(payload, 1, 1000, &format!("{item_path}[payload]"))?;
            }
        }
    }
    if has_default {
        Ok(())
    } else {
        Err("param persistent_menu must have an entry for locale default".to_owned())
    }
}

/// Accepts the current form (`[{"locale","call_to_actions":[...]}]`) and the older flat list.
fn check_ice_breakers(value: &Value) -> Checked {
    let entries = array(value, "ice_breakers", 1, usize::MAX)?;
    let nested = entries.iter().any(|e| e.get("call_to_actions").is_some());
    if !nested {
        array(value, "ice_breakers", 1, 4)?;
        return Ok(());
    }
    for (i, entry) in entries.iter().enumerate() {
        let path = format!("ice_breakers[{i}]");
        let entry = object(entry, &path)?;
        let items = entry
            .get("call_to_actions")
            .ok_or_else(|| format!("param {path}[call_to_actions] is required"))?;
        let items_path = format!("{path}[call_to_actions]");
        for (j, item) in array(items, &items_path, 1, 4)?.iter().enumerate() {
            let item = object(item, &format!("{items_path}[{j}]"))?;
            required_str(item, "question", &format!("{items_path}[{j}][question]"))?;
            required_str(item, "payload", &format!("{items_path}[{j}][payload]"))?;
        }
    }
    Ok(())
}

// ---- small helpers ------------------------------------------------------------------------

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("param {path} must be an object"))
}

fn array<'a>(value: &'a Value, path: &str, min: usize, max: usize) -> Result<&'a [Value], String> {
    let items = value
        .as_array()
        .ok_or_else(|| format!("param {path} must be an array"))?;
    if items.len() < min {
        return Err(format!(
            "param {path} must have at least {min} items (got {})",
            items.len()
        ));
    }
    if items.len() > max {
        return Err(format!(
            "param {path} must have at most {max} items (got {})",
            items.len()
        ));
    }
    Ok(items)
}

fn string<'a>(value: &'a Value, path: &str) -> Result<&'a str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("param {path} must be a string"))
}

fn optional_str<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>, String> {
    map.get(key).map(|v| string(v, path)).transpose()
}

fn required_str<'a>(map: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a str, String> {
    optional_str(map, key, path)?.ok_or_else(|| format!("param {path} is required"))
}

/// Length in characters (Unicode scalar values), not bytes.
fn text_len(text: &str, min: usize, max: usize, path: &str) -> Checked {
    let n = text.chars().count();
    if n < min {
        return Err(if min == 1 {
            format!("param {path} must be non-empty")
        } else {
            format!("param {path} must be at least {min} characters (got {n})")
        });
    }
    if n > max {
        return Err(format!(
            "param {path} must be at most {max} characters (got {n})"
        ));
    }
    Ok(())
}

fn one_of(value: &str, allowed: &[&str], path: &str) -> Checked {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "param {path} must be one of {} (got {value:?})",
            allowed.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn text(t: &str) -> Value {
        json!({"recipient":{"id":"1"},"messaging_type":"RESPONSE","message":{"text":t}})
    }

    fn with_message(message: Value) -> Value {
        json!({"recipient":{"id":"1"},"messaging_type":"RESPONSE","message":message})
    }

    fn button_template(text: &str, buttons: Value) -> Value {
        with_message(json!({"attachment":{"type":"template","payload":{
            "template_type":"button","text":text,"buttons":buttons}}}))
    }

    fn postback(title: &str) -> Value {
        json!({"type":"postback","title":title,"payload":"P"})
    }

    fn rejects(body: Value, needle: &str) {
        match check_send(&body) {
            Ok(()) => panic!("accepted {body}"),
            Err(reason) => assert!(reason.contains(needle), "{reason:?} lacks {needle:?}"),
        }
    }

    #[test]
    fn accepts_valid_requests() {
        let bodies = [
            text("hi"),
            text(&"é".repeat(2000)),
            json!({"recipient":{"id":"1"},"sender_action":"typing_on"}),
            json!({"recipient":{"id":"1"},"sender_action":"react",
                   "payload":{"message_id":"m_1","reaction":"love"}}),
            json!({"recipient":{"user_ref":"u"},"messaging_type":"UPDATE",
                   "notification_type":"NO_PUSH","message":{"text":"x","metadata":"m"}}),
            json!({"recipient":{"id":"1"},"messaging_type":"MESSAGE_TAG","tag":"HUMAN_AGENT",
                   "message":{"text":"x"}}),
            with_message(json!({"text":"pick","quick_replies":[
                {"content_type":"text","title":"12345678901234567890","payload":"R"},
                {"content_type":"user_email"}]})),
            with_message(
                json!({"attachment":{"type":"image","payload":{"url":"https://x/y.png","is_reusable":true}}}),
            ),
            with_message(json!({"attachment":{"type":"video","payload":{"attachment_id":"123"}}})),
            button_template(
                "choose",
                json!([postback("A"),
                {"type":"web_url","title":"Site","url":"https://e.com","webview_height_ratio":"tall"},
                {"type":"phone_number","title":"Call","payload":"+1555"}]),
            ),
            with_message(
                json!({"attachment":{"type":"template","payload":{"template_type":"generic",
                "elements":[{"title":"t","subtitle":"s","image_url":"https://i",
                    "default_action":{"type":"web_url","url":"https://e.com"},
                    "buttons":[postback("B")]}]}}}),
            ),
            with_message(
                json!({"attachment":{"type":"template","payload":{"template_type":"receipt",
                "recipient_name":"A","order_number":"1","currency":"USD","payment_method":"Visa",
                "summary":{"total_cost":10.5},"elements":[]}}}),
            ),
            with_message(
                json!({"attachment":{"type":"template","payload":{"template_type":"receipt",
                "recipient_name":"A","order_number":"1","currency":"USD","payment_method":"Visa",
                "address":{"street_1":"1 Way","city":"C","postal_code":"1","state":"S","country":"US"},
                "adjustments":[{"name":"off","amount":-2}],
                "summary":{"subtotal":12,"total_cost":10.5},
                "elements":[{"title":"t","quantity":2,"price":6,"currency":"USD"}]}}}),
            ),
        ];
        for body in bodies {
            assert_eq!(check_send(&body), Ok(()), "{body}");
        }
    }

    #[test]
    fn rejects_violations() {
        rejects(json!([]), "request body must be an object");
        rejects(
            json!({"messaging_type":"RESPONSE","message":{"text":"x"}}),
            "recipient is required",
        );
        rejects(
            json!({"recipient":{"id":"1","user_ref":"u"},"messaging_type":"RESPONSE","message":{"text":"x"}}),
            "exactly one of",
        );
        rejects(
            json!({"recipient":{"psid":"1"},"messaging_type":"RESPONSE","message":{"text":"x"}}),
            "exactly one of",
        );
        rejects(
            json!({"recipient":{"id":1},"messaging_type":"RESPONSE","message":{"text":"x"}}),
            "recipient[id] must be a string",
        );
        rejects(
            json!({"recipient":{"id":"1"}}),
            "message or sender_action is required",
        );
        rejects(
            json!({"recipient":{"id":"1"},"sender_action":"typing_on","messaging_type":"RESPONSE","message":{"text":"x"}}),
            "not both",
        );
        rejects(
            json!({"recipient":{"id":"1"},"sender_action":"dance"}),
            "sender_action must be one of",
        );
        rejects(
            json!({"recipient":{"id":"1"},"sender_action":"react"}),
            "payload is required",
        );
        rejects(
            json!({"recipient":{"id":"1"},"message":{"text":"x"}}),
            "messaging_type is required",
        );
        rejects(
            json!({"recipient":{"id":"1"},"messaging_type":"NOW","message":{"text":"x"}}),
            "messaging_type must be one of",
        );
        rejects(
            json!({"recipient":{"id":"1"},"messaging_type":"MESSAGE_TAG","message":{"text":"x"}}),
            "tag is required",
        );
        rejects(
            json!({"recipient":{"id":"1"},"messaging_type":"MESSAGE_TAG","tag":"ACCOUNT_UPDATE","message":{"text":"x"}}),
            "tag must be one of",
        );
        rejects(
            text(&"a".repeat(2001)),
            "message[text] must be at most 2000 characters (got 2001)",
        );
        rejects(text(""), "message[text] must be non-empty");
        rejects(with_message(json!({})), "text or attachment");
        let reply = json!({"content_type":"text","title":"t","payload":"p"});
        rejects(
            with_message(json!({"text":"x","quick_replies":vec![reply; 14]})),
            "message[quick_replies] must have at most 13 items (got 14)",
        );
        rejects(
            with_message(
                json!({"text":"x","quick_replies":[{"content_type":"text","title":"a".repeat(21),"payload":"p"}]}),
            ),
            "message[quick_replies][0][title] must be at most 20 characters (got 21)",
        );
        rejects(
            with_message(
                json!({"text":"x","quick_replies":[{"content_type":"text","title":"t","payload":"p".repeat(1001)}]}),
            ),
            "message[quick_replies][0][payload] must be at most 1000",
        );
        rejects(
            with_message(json!({"text":"x","quick_replies":[{"content_type":"location"}]})),
            "[content_type] must be one of",
        );
        rejects(
            button_template(&"a".repeat(641), json!([postback("A")])),
            "at most 640",
        );
        rejects(button_template("t", json!([])), "at least 1 items");
        rejects(
            button_template(
                "t",
                json!([postback("A"), postback("B"), postback("C"), postback("D")]),
            ),
            "at most 3 items",
        );
        rejects(
            button_template("t", json!([postback(&"b".repeat(21))])),
            "[buttons][0][title] must be at most 20",
        );
        rejects(
            button_template(
                "t",
                json!([{"type":"phone_number","title":"Call","payload":"555"}]),
            ),
            "starting with +",
        );
        rejects(
            button_template("t", json!([{"type":"element_share","title":"x"}])),
            "[type] must be one of",
        );
        let element = json!({"title":"t"});
        rejects(
            with_message(
                json!({"attachment":{"type":"template","payload":{"template_type":"generic",
                "elements":vec![element; 11]}}}),
            ),
            "[elements] must have at most 10 items (got 11)",
        );
        rejects(
            with_message(
                json!({"attachment":{"type":"template","payload":{"template_type":"generic",
                "elements":[{"title":"t","default_action":{"type":"web_url","url":"u","title":"no"}}]}}}),
            ),
            "must not have a title",
        );
        rejects(
            with_message(json!({"attachment":{"type":"image","payload":{}}})),
            "url or an attachment_id",
        );
        rejects(
            with_message(
                json!({"attachment":{"type":"template","payload":{"template_type":"receipt",
                "recipient_name":"A","order_number":"1","currency":"USD","payment_method":"Visa"}}}),
            ),
            "[summary] is required",
        );
        let receipt = |extra: Value| {
            let mut payload = json!({"template_type":"receipt","recipient_name":"A",
                "order_number":"1","currency":"USD","payment_method":"Visa",
                "summary":{"total_cost":1}});
            for (k, v) in extra.as_object().unwrap() {
                payload[k] = v.clone();
            }
            with_message(json!({"attachment":{"type":"template","payload":payload}}))
        };
        rejects(
            receipt(json!({"elements":[{"title":"t","price":"5"}]})),
            "[elements][0][price] must be a number",
        );
        rejects(
            receipt(json!({"elements":[{"price":5}]})),
            "[elements][0][title] is required",
        );
        rejects(
            receipt(json!({"summary":{"total_cost":1,"subtotal":"1"}})),
            "[summary][subtotal] must be a number",
        );
        rejects(
            receipt(json!({"address":{"street_1":"a","city":"b","postal_code":"c","state":"d"}})),
            "[address][country] is required",
        );
        rejects(
            receipt(json!({"adjustments":[{"name":"off"}]})),
            "[adjustments][0][amount] is required",
        );
        rejects(
            with_message(
                json!({"attachment":{"type":"template","payload":{"template_type":"generic",
                "image_aspect_ratio":"round","elements":[{"title":"t"}]}}}),
            ),
            "[image_aspect_ratio] must be one of",
        );
    }

    #[test]
    fn messenger_profile_rules() {
        let empty = Map::new();
        let ok = json!({
            "get_started":{"payload":"GET_STARTED"},
            "greeting":[{"locale":"default","text":"Hi {{user_first_name}}!"}],
            "persistent_menu":[{"locale":"default","composer_input_disabled":false,
                "call_to_actions":[{"type":"postback","title":"Help","payload":"HELP"}]}],
            "ice_breakers":[{"locale":"default","call_to_actions":[{"question":"q","payload":"p"}]}],
            "whitelisted_domains":["https://example.com"],
        });
        assert_eq!(check_messenger_profile(&ok, &empty), Ok(()));
        let menu = json!({"persistent_menu":[{"locale":"default","call_to_actions":[]}]});
        let err = check_messenger_profile(&menu, &empty).expect_err("needs get_started");
        assert!(err.contains("get started"), "{err}");
        let mut current = Map::new();
        current.insert("get_started".into(), json!({"payload":"GO"}));
        assert_eq!(check_messenger_profile(&menu, &current), Ok(()));

        for (props, needle) in [
            (json!({}), "no property"),
            (json!({"greting":[]}), "not a messenger profile property"),
            (
                json!({"greeting":[{"locale":"en_US","text":"x"}]}),
                "locale default",
            ),
            (
                json!({"greeting":[{"locale":"default","text":"x".repeat(161)}]}),
                "at most 160",
            ),
            (json!({"whitelisted_domains":["http://x"]}), "https"),
            (
                json!({"get_started":{"payload":"G"},"persistent_menu":[{"locale":"default","call_to_actions":[
                    {"type":"nested","title":"More","call_to_actions":[]}]}]}),
                "nested",
            ),
        ] {
            let err = check_messenger_profile(&props, &empty).expect_err(needle);
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        }
    }
}
