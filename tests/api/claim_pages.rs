//! The claim with several Pages (issue 21): a PSID is page-scoped, so a user is a Page and a
//! PSID; and the Pages with due events share each claim, so that one Page's burst does not
//! starve another's events. On the store's claim itself, on both databases.

use pagebot::store::inbox::PagesInFlight;
use pagebot::store::{InboxEvent, NewInboxEvent, Status, Store, inbox};

use crate::db_test;

async fn open_store(url: &str) -> Store {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || Store::connect(&url, 2))
        .await
        .unwrap()
        .unwrap()
}

/// A pending row: `psid`'s event on `page` (`None`: an entry without an id) at `event_time`,
/// due now.
fn event(key: &str, page: Option<&str>, psid: &str, event_time: i64) -> NewInboxEvent {
    NewInboxEvent {
        dedupe_key: key.into(),
        page_id: page.map(str::to_owned),
        psid: Some(psid.into()),
        event_time,
        standby: 0,
        kind: None,
        raw: "{}".into(),
        status: "pending".into(),
        attempts: 0,
        last_error: None,
        available_at: 0,
        locked_until: None,
        received_at: 0,
        finished_at: None,
        raw_bytes: None,
    }
}

async fn insert(store: &Store, rows: Vec<NewInboxEvent>) {
    store
        .run(move |c| inbox::insert_batch(c, &rows))
        .await
        .unwrap();
}

async fn claim(store: &Store, limit: i64, in_flight: &[(&str, usize)]) -> Vec<InboxEvent> {
    let in_flight: PagesInFlight = in_flight
        .iter()
        .map(|(page, n)| ((*page).to_owned(), *n))
        .collect();
    store
        .run(move |c| inbox::claim_fairly(c, 60_000, limit, &in_flight))
        .await
        .unwrap()
}

fn keys(events: &[InboxEvent]) -> Vec<&str> {
    events.iter().map(|e| e.dedupe_key.as_str()).collect()
}

/// How many of `events` are `page`'s.
fn on(events: &[InboxEvent], page: &str) -> usize {
    events.iter().filter(|e| e.page_key() == page).count()
}

async fn finish(store: &Store, event: &InboxEvent) {
    let (id, attempts) = (event.id, event.attempts);
    let finished = store
        .run(move |c| inbox::finish(c, id, attempts, Status::Done, None, None, 1))
        .await
        .unwrap();
    assert!(finished);
}

db_test!(
    the_same_psid_on_two_pages_is_two_users_for_the_order,
    |db| {
        let store = open_store(db.url()).await;
        insert(
            &store,
            vec![
                event("a1", Some("A"), "x", 100),
                event("a2", Some("A"), "x", 300),
                // The same PSID on Page B, between A's two: another person, not held back.
                event("b1", Some("B"), "x", 200),
                // A missing Page id is '' for the order, as an empty one.
                event("n1", None, "z", 10),
                event("n2", Some(""), "z", 20),
            ],
        )
        .await;
        let first = claim(&store, 10, &[]).await;
        assert_eq!(keys(&first), ["n1", "a1", "b1"]);
        // a2 waits behind a1 (the same Page and PSID), n2 behind n1.
        assert!(claim(&store, 10, &[]).await.is_empty());
        finish(&store, &first[1]).await;
        assert_eq!(keys(&claim(&store, 10, &[]).await), ["a2"]);
        finish(&store, &first[0]).await;
        assert_eq!(keys(&claim(&store, 10, &[]).await), ["n2"]);
    }
);

db_test!(
    a_burst_on_one_page_does_not_starve_another_pages_event,
    |db| {
        let store = open_store(db.url()).await;
        // Page A's 3,000 events from 1,000 users, all older than Page B's one.
        let burst: Vec<NewInboxEvent> = (0..3_000)
            .map(|n| event(&format!("a{n}"), Some("A"), &format!("u{}", n % 1_000), n))
            .collect();
        insert(&store, burst).await;
        insert(&store, vec![event("b", Some("B"), "u1", 1_000_000)]).await;

        // Any claim with room for two has B's event.
        for limit in [256, 2] {
            let claimed = claim(&store, limit, &[]).await;
            assert_eq!(claimed.len(), usize::try_from(limit).unwrap());
            assert_eq!(on(&claimed, "B"), 1, "limit {limit}: {:?}", keys(&claimed));
            // A's part is its oldest due events.
            let a: Vec<String> = (0..limit - 1).map(|n| format!("a{n}")).collect();
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            assert_eq!(keys(&claimed)[..a.len()], a);
            // Put them back for the next limit.
            let ids: Vec<i64> = claimed.iter().map(|e| e.id).collect();
            store
                .run(move |c| {
                    use diesel::prelude::*;
                    use pagebot::store::schema::inbox_events::dsl as e;
                    diesel::update(e::inbox_events.filter(e::id.eq_any(ids)))
                        .set(e::locked_until.eq(None::<i64>))
                        .execute(c)
                        .map_err(pagebot::store::StoreError::from)
                })
                .await
                .unwrap();
        }
        // A claim of one takes A's oldest (the older of the two Pages' first events)...
        let one = claim(&store, 1, &[]).await;
        assert_eq!(keys(&one), ["a0"]);
        // ...and the next, with that one in flight, B's: within two claims of one.
        let next = claim(&store, 1, &[("A", 1)]).await;
        assert_eq!(keys(&next), ["b"]);
        assert_eq!(keys(&claim(&store, 1, &[("A", 1), ("B", 1)]).await), ["a1"]);
    }
);

db_test!(the_pages_with_due_events_share_each_claim_in_rounds, |db| {
    let store = open_store(db.url()).await;
    // A's, B's and C's events interleaved in time (A's first is the oldest), each from a user
    // of its own; C has three.
    let mut rows = Vec::new();
    for n in 0..100 {
        rows.push(event(&format!("a{n}"), Some("A"), &format!("ua{n}"), 3 * n));
        rows.push(event(
            &format!("b{n}"),
            Some("B"),
            &format!("ub{n}"),
            3 * n + 1,
        ));
        if n < 3 {
            rows.push(event(
                &format!("c{n}"),
                Some("C"),
                &format!("uc{n}"),
                3 * n + 2,
            ));
        }
    }
    insert(&store, rows).await;
    // 31 slots, three Pages: each its first event, then rounds of (31 - 1) / 3 = 10 each; C
    // runs out in the first round, and A, first in line, gets the next round's 6 left.
    let claimed = claim(&store, 31, &[]).await;
    let counts = [on(&claimed, "A"), on(&claimed, "B"), on(&claimed, "C")];
    assert_eq!(counts, [17, 11, 3], "{:?}", keys(&claimed));
    // Each Page's share is its oldest events.
    for (page, count) in [("a", 17), ("b", 11), ("c", 3)] {
        let wanted: Vec<String> = (0..count).map(|n| format!("{page}{n}")).collect();
        let got: Vec<&str> = keys(&claimed)
            .into_iter()
            .filter(|k| k.starts_with(page))
            .collect();
        let mut got: Vec<String> = got.into_iter().map(str::to_owned).collect();
        got.sort_by_key(|k| k[1..].parse::<u32>().unwrap());
        assert_eq!(got, wanted);
    }

    // The Page with the most in flight goes last: here A, whose turn in the last round is cut.
    let more = claim(&store, 27, &[("A", 17), ("B", 11), ("C", 3)]).await;
    // C has nothing due, so two Pages, B first (fewer in flight): their first events, then
    // (27 - 1) / 2 = 13 each, of which A gets the 12 left.
    assert_eq!(
        [on(&more, "A"), on(&more, "B")],
        [13, 14],
        "{:?}",
        keys(&more)
    );
});
