//! `location`: stores every location attachment of a message (lat, long, title, url, mid,
//! time), once per event however often it is retried. Leaves `location.lat`, `location.long`,
//! `location.title` and `location.url` (of the first) for the senders.

use async_trait::async_trait;
use serde::Deserialize;

use super::{Handler, HandlerError, event_time, user_message};
use crate::context::Context;
use crate::event::Message;
use crate::store::{locations, now_ms};

/// Stores shared locations.
#[derive(Debug, Clone, Default)]
pub struct Location;

/// `location` takes no arguments.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationArgs {}

impl Location {
    /// Builds it from its (empty) arguments.
    pub fn from_args(_args: LocationArgs) -> Result<Self, String> {
        Ok(Self)
    }
}

/// The rows to store for `message` of the user (Page id, PSID): each `location` attachment
/// with coordinates, keyed by its position in the message.
pub(crate) fn location_rows(
    message: &Message,
    event_id: i64,
    (page_id, psid): (&str, &str),
    time: i64,
) -> Vec<locations::Location> {
    let created_at = now_ms();
    message
        .attachments
        .iter()
        .enumerate()
        .filter(|(_, a)| a.kind == "location")
        .filter_map(|(i, a)| {
            let payload = a.payload.as_ref()?;
            let coordinates = payload.coordinates.as_ref()?;
            Some(locations::Location {
                event_id,
                seq: i32::try_from(i).ok()?,
                page_id: page_id.to_owned(),
                psid: psid.to_owned(),
                lat: coordinates.lat,
                long: coordinates.long,
                title: a.title.clone().or_else(|| payload.title.clone()),
                url: a.url.clone().or_else(|| payload.url.clone()),
                mid: message.mid.clone(),
                time,
                created_at,
            })
        })
        .collect()
}

#[async_trait]
impl Handler for Location {
    fn should_handle(&self, cx: &Context) -> bool {
        cx.psid().is_some()
            && user_message(cx).is_some_and(|m| !location_rows(m, 0, ("", ""), 0).is_empty())
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let (Some(psid), Some(message)) = (cx.psid(), user_message(cx)) else {
            return Ok(());
        };
        let page_id = cx.event.page_id.as_deref().unwrap_or_default();
        let rows = location_rows(message, cx.event.inbox_id, (page_id, psid), event_time(cx));
        let Some(first) = rows.first() else {
            return Ok(());
        };
        let vars = [
            ("location.lat", Some(first.lat.to_string())),
            ("location.long", Some(first.long.to_string())),
            ("location.title", first.title.clone()),
            ("location.url", first.url.clone()),
        ];
        cx.store()
            .run(move |conn| locations::record(conn, &rows))
            .await?;
        for (name, value) in vars {
            if let Some(value) = value {
                cx.vars.insert(name.to_owned(), value);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_location_attachment_becomes_a_row_keyed_by_its_position() {
        let message: Message = serde_json::from_value(json!({"mid": "m_1", "attachments": [
            {"type": "image", "payload": {"url": "https://i"}},
            {"type": "location", "title": "Pinned", "url": "https://map",
             "payload": {"coordinates": {"lat": 25.03, "long": 121.56}}},
            {"type": "location", "payload": {"coordinates": {"lat": 25.0}}},
            {"type": "location", "payload": {"title": "Home", "coordinates": {"lat": -1.5, "long": 2}}}
        ]}))
        .unwrap();
        let rows = location_rows(&message, 9, ("p", "u"), 1234);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.seq, r.lat, r.long, r.title.as_deref(), r.url.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (1, 25.03, 121.56, Some("Pinned"), Some("https://map")),
                (3, -1.5, 2.0, Some("Home"), None),
            ]
        );
        assert!(rows.iter().all(|r| r.event_id == 9
            && r.page_id == "p"
            && r.psid == "u"
            && r.mid.as_deref() == Some("m_1")
            && r.time == 1234));
    }
}
