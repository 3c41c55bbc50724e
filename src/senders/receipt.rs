//! `receipt`: a receipt template, an order confirmation.
//!
//! A receipt carries order data, not prose, so its fields are not Fluent ids: each is a
//! template whose `{variables}` are filled in at send time from what a handler left in the
//! context (`{order.number}`), or a literal. Amounts are numbers or templates that give one.
//!
//! ```yaml
//! - receipt:
//!     recipient_name: "{user.first_name} {user.last_name}"
//!     order_number: "{order.number}"
//!     currency: USD
//!     payment_method: "{order.payment}"
//!     summary: { total_cost: "{order.total}" }
//!     elements:
//!       - { title: "Classic white T-shirt", quantity: 2, price: 50 }
//! ```
//!
//! At load, a required field written without variables must not be empty, the currency must
//! be three capital letters and a literal amount a number; with variables, the same is
//! checked once they are filled in, and a receipt that breaks it is not sent.

use std::cell::Cell;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::delivery::{Delivery, MessagingType};
use super::limits::{self, LimitError, MAX_RECEIPT_ELEMENTS, Problems, Url};
use super::{Message, Outgoing, SendError, Sender};
use crate::context::{Context, expand_with};

/// Sends a receipt template.
#[derive(Debug, Clone)]
pub struct Receipt {
    fields: Vec<(&'static str, Template)>,
    order_url: Option<Url>,
    sharable: Option<bool>,
    address: Option<Vec<(&'static str, Template)>>,
    summary: Vec<(&'static str, Amount)>,
    adjustments: Vec<(Template, Amount)>,
    elements: Vec<Element>,
    delivery: Delivery,
}

/// Arguments of `receipt`; text fields are templates (`"{order.number}"`) or literals.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptArgs {
    /// Who the order is for.
    pub recipient_name: String,
    /// The order's number.
    pub order_number: String,
    /// ISO 4217 code: `USD`, `TWD`, ...
    pub currency: String,
    /// How it was paid: `Visa 2345`.
    pub payment_method: String,
    /// The seller, when not the Page.
    #[serde(default)]
    pub merchant_name: Option<String>,
    /// When the order was made, epoch seconds.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// The order's page.
    #[serde(default)]
    pub order_url: Option<String>,
    /// Whether the user may forward it.
    #[serde(default)]
    pub sharable: Option<bool>,
    /// The shipping address.
    #[serde(default)]
    pub address: Option<AddressArgs>,
    /// The totals; `total_cost` is required.
    pub summary: SummaryArgs,
    /// Discounts and the like.
    #[serde(default)]
    pub adjustments: Vec<AdjustmentArgs>,
    /// The order lines, at most 100.
    #[serde(default)]
    pub elements: Vec<ReceiptElementArgs>,
    /// `RESPONSE` (the default), `UPDATE`, `MESSAGE_TAG` or `UTILITY`.
    #[serde(default)]
    pub messaging_type: Option<MessagingType>,
    /// `HUMAN_AGENT` or `CUSTOMER_FEEDBACK`; implies `MESSAGE_TAG`.
    #[serde(default)]
    pub tag: Option<String>,
}

/// A shipping address.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressArgs {
    /// First line.
    pub street_1: String,
    /// Second line.
    #[serde(default)]
    pub street_2: Option<String>,
    /// City.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// State or region.
    pub state: String,
    /// Country.
    pub country: String,
}

/// The totals of a receipt.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryArgs {
    /// Before shipping and tax.
    #[serde(default)]
    pub subtotal: Option<AmountArg>,
    /// Shipping.
    #[serde(default)]
    pub shipping_cost: Option<AmountArg>,
    /// Tax.
    #[serde(default)]
    pub total_tax: Option<AmountArg>,
    /// What was paid (required).
    pub total_cost: AmountArg,
}

/// A discount or other adjustment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentArgs {
    /// What it is.
    pub name: String,
    /// How much.
    pub amount: AmountArg,
}

/// One order line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptElementArgs {
    /// The item.
    pub title: String,
    /// A second line.
    #[serde(default)]
    pub subtitle: Option<String>,
    /// How many.
    #[serde(default)]
    pub quantity: Option<AmountArg>,
    /// The price (may be 0).
    pub price: AmountArg,
    /// When it differs from the receipt's.
    #[serde(default)]
    pub currency: Option<String>,
    /// A picture of the item.
    #[serde(default)]
    pub image_url: Option<String>,
}

/// An amount as written: a number, or a template that gives one (`"{order.total}"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum AmountArg {
    /// A number.
    Number(f64),
    /// A template or a number written as a string.
    Text(String),
}

/// A text field: literal text with `{variables}`.
#[derive(Debug, Clone)]
struct Template {
    what: String,
    text: String,
    currency: bool,
}

impl Template {
    /// A required (`required`) field; a currency must be three capital letters.
    fn parse(what: String, text: String, required: bool, currency: bool) -> Result<Self, String> {
        let dynamic = Cell::new(false);
        let fixed = expand_with(&text, |_| {
            dynamic.set(true);
            None
        });
        if !dynamic.get() {
            if required && fixed.trim().is_empty() {
                return Err(LimitError::Empty { what, locale: None }.to_string());
            }
            if currency {
                check_currency(&what, &fixed)?;
            }
        }
        Ok(Self {
            what,
            text,
            currency,
        })
    }

    fn render(&self, cx: &Context) -> Result<String, SendError> {
        // Trimmed: `{user.first_name} {user.last_name}` of a user without a last name.
        let text = cx.expand(&self.text).trim().to_owned();
        if text.is_empty() {
            return Err(SendError::Limit(format!(
                "{} is empty once its variables are filled in",
                self.what
            )));
        }
        if self.currency {
            check_currency(&self.what, &text).map_err(SendError::Limit)?;
        }
        Ok(text)
    }
}

fn check_currency(what: &str, code: &str) -> Result<(), String> {
    if code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(format!(
            "{what} \"{code}\" is not a currency code such as USD (three capital letters)"
        ))
    }
}

#[derive(Debug, Clone)]
enum Amount {
    Fixed(f64),
    Template { what: String, text: String },
}

impl Amount {
    fn parse(what: String, arg: AmountArg) -> Result<Self, String> {
        let not_a_number = |what: &str, text: &str| format!("{what} \"{text}\" is not a number");
        match arg {
            AmountArg::Number(n) if n.is_finite() => Ok(Self::Fixed(n)),
            AmountArg::Number(n) => Err(not_a_number(&what, &n.to_string())),
            AmountArg::Text(text) => {
                let dynamic = Cell::new(false);
                let fixed = expand_with(&text, |_| {
                    dynamic.set(true);
                    None
                });
                if dynamic.get() {
                    return Ok(Self::Template { what, text });
                }
                match fixed.trim().parse::<f64>() {
                    Ok(n) if n.is_finite() => Ok(Self::Fixed(n)),
                    _ => Err(not_a_number(&what, &text)),
                }
            }
        }
    }

    fn render(&self, cx: &Context) -> Result<Value, SendError> {
        let n = match self {
            Self::Fixed(n) => *n,
            Self::Template { what, text } => {
                let filled = cx.expand(text);
                match filled.trim().parse::<f64>() {
                    Ok(n) if n.is_finite() => n,
                    _ => {
                        return Err(SendError::Limit(format!(
                            "{what} \"{filled}\" is not a number once its variables are filled in"
                        )));
                    }
                }
            }
        };
        Ok(number(n))
    }
}

/// A whole amount as an integer (`50`, as Meta writes it), any other as a float.
fn number(n: f64) -> Value {
    // Below 2^53 every whole f64 is an exact i64.
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

#[derive(Debug, Clone)]
struct Element {
    title: Template,
    subtitle: Option<Template>,
    quantity: Option<Amount>,
    price: Amount,
    currency: Option<Template>,
    image_url: Option<Url>,
}

/// `Some(Some(v))` for a good optional value, `Some(None)` for none, `None` for a bad one.
fn optional<T>(value: Option<Option<T>>) -> Option<Option<T>> {
    match value {
        None => Some(None),
        Some(v) => v.map(Some),
    }
}

impl Receipt {
    /// Checks every field and the delivery; reports every problem.
    pub fn from_args(args: ReceiptArgs) -> Result<Self, String> {
        let mut p = Problems::default();
        let template = |p: &mut Problems, what: &str, text: String, required: bool| {
            p.check(Template::parse(
                format!("receipt {what}"),
                text,
                required,
                what.ends_with("currency"),
            ))
        };
        let mut fields = Vec::new();
        let mut bad = false;
        for (key, value, required) in [
            ("recipient_name", Some(args.recipient_name), true),
            ("order_number", Some(args.order_number), true),
            ("currency", Some(args.currency), true),
            ("payment_method", Some(args.payment_method), true),
            ("merchant_name", args.merchant_name, false),
            ("timestamp", args.timestamp, false),
        ] {
            if let Some(value) = value {
                match template(&mut p, key, value, required) {
                    Some(t) => fields.push((key, t)),
                    None => bad = true,
                }
            }
        }
        let order_url = optional(
            args.order_url
                .map(|u| p.check(Url::parse("receipt order_url", u))),
        );
        let address = args.address.map(|a| {
            let mut lines = Vec::new();
            let mut ok = true;
            for (key, value, required) in [
                ("street_1", Some(a.street_1), true),
                ("street_2", a.street_2, false),
                ("city", Some(a.city), true),
                ("postal_code", Some(a.postal_code), true),
                ("state", Some(a.state), true),
                ("country", Some(a.country), true),
            ] {
                if let Some(value) = value {
                    match template(&mut p, &format!("address {key}"), value, required) {
                        Some(t) => lines.push((key, t)),
                        None => ok = false,
                    }
                }
            }
            ok.then_some(lines)
        });
        let mut summary = Vec::new();
        let s = args.summary;
        for (key, value) in [
            ("subtotal", s.subtotal),
            ("shipping_cost", s.shipping_cost),
            ("total_tax", s.total_tax),
            ("total_cost", Some(s.total_cost)),
        ] {
            if let Some(value) = value {
                match p.check(Amount::parse(format!("receipt summary {key}"), value)) {
                    Some(a) => summary.push((key, a)),
                    None => bad = true,
                }
            }
        }
        let mut adjustments = Vec::new();
        for (i, a) in args.adjustments.into_iter().enumerate() {
            let what = format!("adjustment {} ", i + 1);
            let name = template(&mut p, &format!("{what}name"), a.name, true);
            let amount = p.check(Amount::parse(format!("receipt {what}amount"), a.amount));
            match (name, amount) {
                (Some(n), Some(a)) => adjustments.push((n, a)),
                _ => bad = true,
            }
        }
        p.check(limits::count(
            "receipt elements",
            args.elements.len(),
            0,
            MAX_RECEIPT_ELEMENTS,
        ));
        let mut elements = Vec::new();
        for (i, e) in args.elements.into_iter().enumerate() {
            let what = format!("element {} ", i + 1);
            let title = template(&mut p, &format!("{what}title"), e.title, true);
            let subtitle = optional(
                e.subtitle
                    .map(|s| template(&mut p, &format!("{what}subtitle"), s, false)),
            );
            let quantity = optional(
                e.quantity
                    .map(|q| p.check(Amount::parse(format!("receipt {what}quantity"), q))),
            );
            let price = p.check(Amount::parse(format!("receipt {what}price"), e.price));
            let currency = optional(
                e.currency
                    .map(|c| template(&mut p, &format!("{what}currency"), c, true)),
            );
            let image_url = optional(
                e.image_url
                    .map(|u| p.check(Url::parse(&format!("receipt {what}image_url"), u))),
            );
            let element = (|| {
                Some(Element {
                    title: title?,
                    subtitle: subtitle?,
                    quantity: quantity?,
                    price: price?,
                    currency: currency?,
                    image_url: image_url?,
                })
            })();
            match element {
                Some(e) => elements.push(e),
                None => bad = true,
            }
        }
        let delivery = p.check(Delivery::parse(args.messaging_type, args.tag.as_deref()));
        let built = (|| {
            if bad {
                return None;
            }
            Some(Self {
                fields,
                order_url: order_url?,
                sharable: args.sharable,
                address: optional(address)?,
                summary,
                adjustments,
                elements,
                delivery: delivery?,
            })
        })();
        p.finish(built)
    }
}

impl Sender for Receipt {
    fn build(&self, cx: &Context) -> Result<Vec<Outgoing>, SendError> {
        let mut payload = Map::new();
        payload.insert("template_type".into(), json!("receipt"));
        for (key, template) in &self.fields {
            payload.insert((*key).into(), json!(template.render(cx)?));
        }
        if let Some(url) = &self.order_url {
            payload.insert("order_url".into(), json!(url.as_str()));
        }
        if let Some(sharable) = self.sharable {
            payload.insert("sharable".into(), json!(sharable));
        }
        if let Some(address) = &self.address {
            let mut lines = Map::new();
            for (key, template) in address {
                lines.insert((*key).into(), json!(template.render(cx)?));
            }
            payload.insert("address".into(), Value::Object(lines));
        }
        let mut summary = Map::new();
        for (key, amount) in &self.summary {
            summary.insert((*key).into(), amount.render(cx)?);
        }
        payload.insert("summary".into(), Value::Object(summary));
        if !self.adjustments.is_empty() {
            let adjustments = self
                .adjustments
                .iter()
                .map(|(name, amount)| {
                    Ok(json!({"name": name.render(cx)?, "amount": amount.render(cx)?}))
                })
                .collect::<Result<Vec<_>, SendError>>()?;
            payload.insert("adjustments".into(), json!(adjustments));
        }
        let mut elements = Vec::with_capacity(self.elements.len());
        for e in &self.elements {
            let mut element = json!({"title": e.title.render(cx)?, "price": e.price.render(cx)?});
            if let Some(subtitle) = &e.subtitle {
                element["subtitle"] = json!(subtitle.render(cx)?);
            }
            if let Some(quantity) = &e.quantity {
                element["quantity"] = quantity.render(cx)?;
            }
            if let Some(currency) = &e.currency {
                element["currency"] = json!(currency.render(cx)?);
            }
            if let Some(url) = &e.image_url {
                element["image_url"] = json!(url.as_str());
            }
            elements.push(element);
        }
        payload.insert("elements".into(), json!(elements));
        let message = json!({"attachment": {"type": "template", "payload": payload}});
        Ok(vec![self.delivery.reply(cx, Message::checked(message))])
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::senders::test_support::*;

    fn minimal() -> Value {
        json!({
            "recipient_name": "{user.first_name} {user.last_name}",
            "order_number": "{order.number}",
            "currency": "USD",
            "payment_method": "Visa 2345",
            "summary": {"total_cost": "{order.total}"},
        })
    }

    fn with(key: &str, value: Value) -> Value {
        let mut args = minimal();
        args[key] = value;
        args
    }

    fn without(key: &str) -> Value {
        let mut args = minimal();
        args.as_object_mut().unwrap().remove(key);
        args
    }

    #[test]
    fn a_user_without_a_last_name_is_named_without_a_trailing_space() {
        let sender = build(&locales("", ""), "receipt", minimal()).unwrap();
        let t = TestContext::new(
            locales("", ""),
            None,
            &[
                ("user.first_name", "Ann"),
                ("order.number", "1"),
                ("order.total", "5"),
            ],
        );
        let body = t.body(sender.as_ref());
        assert_eq!(
            body["message"]["attachment"]["payload"]["recipient_name"],
            json!("Ann")
        );
    }

    #[test]
    fn sends_a_receipt_with_its_variables_filled_in() {
        let locales = locales("", "");
        let mut args = minimal();
        args["merchant_name"] = json!("Pagebot Shop");
        args["timestamp"] = json!("1428444852");
        args["order_url"] = json!("https://example.com/order/12345");
        args["sharable"] = json!(false);
        args["address"] = json!({"street_1": "1 Hacker Way", "city": "Menlo Park",
            "postal_code": "94025", "state": "CA", "country": "US"});
        args["summary"] = json!({"subtotal": 75, "shipping_cost": "4.95", "total_tax": 6.19,
            "total_cost": "{order.total}"});
        args["adjustments"] = json!([{"name": "New customer discount", "amount": 20}]);
        args["elements"] = json!([
            {"title": "Classic white T-shirt", "subtitle": "100% cotton", "quantity": 2,
             "price": 50, "currency": "USD", "image_url": "https://example.com/w.png"},
            {"title": "{order.item}", "price": "{order.item_price}"},
        ]);
        let sender = build(&locales, "receipt", args).unwrap();
        let t = TestContext::new(
            locales,
            None,
            &[
                ("user.first_name", "Ann"),
                ("user.last_name", "Lee"),
                ("order.number", "12345678902"),
                ("order.total", "56.14"),
                ("order.item", "Classic gray T-shirt"),
                ("order.item_price", "25"),
            ],
        );
        assert_eq!(
            t.body(sender.as_ref()),
            json!({
                "recipient": {"id": PSID},
                "messaging_type": "RESPONSE",
                "message": {"attachment": {"type": "template", "payload": {
                    "template_type": "receipt",
                    "recipient_name": "Ann Lee",
                    "order_number": "12345678902",
                    "currency": "USD",
                    "payment_method": "Visa 2345",
                    "merchant_name": "Pagebot Shop",
                    "timestamp": "1428444852",
                    "order_url": "https://example.com/order/12345",
                    "sharable": false,
                    "address": {"street_1": "1 Hacker Way", "city": "Menlo Park",
                                "postal_code": "94025", "state": "CA", "country": "US"},
                    "summary": {"subtotal": 75, "shipping_cost": 4.95, "total_tax": 6.19,
                                "total_cost": 56.14},
                    "adjustments": [{"name": "New customer discount", "amount": 20}],
                    "elements": [
                        {"title": "Classic white T-shirt", "subtitle": "100% cotton",
                         "quantity": 2, "price": 50, "currency": "USD",
                         "image_url": "https://example.com/w.png"},
                        {"title": "Classic gray T-shirt", "price": 25},
                    ],
                }}},
            })
        );
    }

    #[test]
    fn missing_or_broken_fields_are_refused_at_load() {
        let locales = locales("", "");
        let many = json!(vec![json!({"title": "t", "price": 1}); 101]);
        for (args, expected) in [
            (without("order_number"), "missing field `order_number`"),
            (without("recipient_name"), "missing field `recipient_name`"),
            (without("currency"), "missing field `currency`"),
            (without("payment_method"), "missing field `payment_method`"),
            (without("summary"), "missing field `summary`"),
            (
                with("summary", json!({"subtotal": 3})),
                "missing field `total_cost`",
            ),
            (
                with("order_number", json!("  ")),
                "receipt order_number is empty",
            ),
            (
                with("currency", json!("dollars")),
                "receipt currency \"dollars\" is not a currency code such as USD",
            ),
            (
                with("summary", json!({"total_cost": "ten"})),
                "receipt summary total_cost \"ten\" is not a number",
            ),
            (with("elements", many), "101 receipt elements, at most 100"),
            (
                with("elements", json!([{"title": "t"}])),
                "missing field `price`",
            ),
            (
                with(
                    "address",
                    json!({"street_1": "x", "city": "y", "postal_code": "1", "state": "CA"}),
                ),
                "missing field `country`",
            ),
            (
                with("order_url", json!("example.com")),
                "receipt order_url \"example.com\" must start",
            ),
            (with("discount", json!(1)), "unknown field `discount`"),
            (
                with("tag", json!("CONFIRMED_EVENT_UPDATE")),
                "tag CONFIRMED_EVENT_UPDATE was retired",
            ),
        ] {
            let err = refusal(&locales, "receipt", args);
            assert!(err.starts_with(expected), "{err}\n  expected: {expected}");
        }
    }

    #[test]
    fn a_receipt_its_variables_break_is_not_sent() {
        let locales = locales("", "");
        let sender = build(&locales, "receipt", minimal()).unwrap();
        let t = TestContext::new(
            locales.clone(),
            None,
            &[("user.first_name", "Ann"), ("order.total", "1")],
        );
        let err = sender.build(&t.cx).unwrap_err().to_string();
        assert_eq!(
            err,
            "receipt order_number is empty once its variables are filled in"
        );
        let t = TestContext::new(
            locales,
            None,
            &[
                ("user.first_name", "Ann"),
                ("order.number", "1"),
                ("order.total", "a lot"),
            ],
        );
        let err = sender.build(&t.cx).unwrap_err().to_string();
        assert_eq!(
            err,
            "receipt summary total_cost \"a lot\" is not a number once its variables are filled in"
        );
    }
}
