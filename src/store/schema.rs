//! The one portable diesel schema, shared by Postgres and SQLite.
//!
//! Only types every backend of `DbConn` supports: BigInt, Integer, Double, Text, Binary (flags
//! are Integer 0/1, times are epoch milliseconds, JSON is Text; Binary is bytea or BLOB).

#![allow(missing_docs)] // the columns are documented by the migrations

diesel::table! {
    /// Users the bot has met, one row per Page and PSID.
    users (page_id, psid) {
        psid -> Text,
        page_id -> Text,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        profile_pic -> Nullable<Text>,
        locale -> Nullable<Text>,
        timezone -> Nullable<Double>,
        gender -> Nullable<Text>,
        profile_fetched_at -> Nullable<BigInt>,
        thumbups -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
        chosen_locale -> Nullable<Text>,
    }
}

diesel::table! {
    /// The durable inbox of webhook items.
    inbox_events (id) {
        id -> BigInt,
        dedupe_key -> Text,
        page_id -> Nullable<Text>,
        psid -> Nullable<Text>,
        event_time -> BigInt,
        standby -> Integer,
        kind -> Nullable<Text>,
        raw -> Text,
        status -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        available_at -> BigInt,
        locked_until -> Nullable<BigInt>,
        received_at -> BigInt,
        finished_at -> Nullable<BigInt>,
        raw_bytes -> Nullable<Binary>,
    }
}

diesel::table! {
    /// Every outgoing message the pipeline tried to deliver.
    deliveries (id) {
        id -> BigInt,
        event_id -> BigInt,
        seq -> Integer,
        page_id -> Text,
        psid -> Nullable<Text>,
        request -> Text,
        status -> Text,
        message_id -> Nullable<Text>,
        error_code -> Nullable<BigInt>,
        error_subcode -> Nullable<BigInt>,
        error_message -> Nullable<Text>,
        fbtrace_id -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// One row per message carrying a thumbs-up "Like" sticker.
    thumbs_up (event_id) {
        event_id -> BigInt,
        page_id -> Text,
        psid -> Text,
        mid -> Nullable<Text>,
        sticker_id -> Text,
        event_time -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Every location attachment.
    locations (event_id, seq) {
        event_id -> BigInt,
        seq -> Integer,
        page_id -> Text,
        psid -> Text,
        lat -> Double,
        long -> Double,
        title -> Nullable<Text>,
        url -> Nullable<Text>,
        mid -> Nullable<Text>,
        event_time -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Image, audio, video and file attachments the multimedia handler stored.
    media (event_id, seq) {
        event_id -> BigInt,
        seq -> Integer,
        page_id -> Text,
        psid -> Text,
        kind -> Text,
        url -> Nullable<Text>,
        mid -> Nullable<Text>,
        event_time -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Opt-ins, with notification tokens and their expiry.
    optins (event_id) {
        event_id -> BigInt,
        page_id -> Text,
        psid -> Nullable<Text>,
        user_ref -> Nullable<Text>,
        #[sql_name = "ref"]
        ref_ -> Nullable<Text>,
        kind -> Nullable<Text>,
        payload -> Nullable<Text>,
        one_time_notif_token -> Nullable<Text>,
        notification_messages_token -> Nullable<Text>,
        notification_messages_status -> Nullable<Text>,
        token_expiry_timestamp -> Nullable<BigInt>,
        user_token_status -> Nullable<Text>,
        event_time -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Account linking and unlinking.
    account_links (event_id) {
        event_id -> BigInt,
        page_id -> Text,
        psid -> Text,
        status -> Text,
        authorization_code -> Nullable<Text>,
        event_time -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// The highest delivery and read watermark per user.
    watermarks (page_id, psid, kind) {
        page_id -> Text,
        psid -> Text,
        kind -> Text,
        watermark -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    /// The Page's own messages echoed back.
    echoes (event_id) {
        event_id -> BigInt,
        page_id -> Text,
        psid -> Nullable<Text>,
        mid -> Nullable<Text>,
        app_id -> Nullable<Text>,
        metadata -> Nullable<Text>,
        event_time -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Reactions to messages and their removal.
    reactions (event_id) {
        event_id -> BigInt,
        page_id -> Text,
        psid -> Text,
        mid -> Nullable<Text>,
        reaction -> Nullable<Text>,
        emoji -> Nullable<Text>,
        action -> Nullable<Text>,
        event_time -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Referrals: m.me links, ads, chat plugin.
    referrals (event_id) {
        event_id -> BigInt,
        page_id -> Text,
        psid -> Text,
        #[sql_name = "ref"]
        ref_ -> Nullable<Text>,
        source -> Nullable<Text>,
        kind -> Nullable<Text>,
        ad_id -> Nullable<Text>,
        referer_uri -> Nullable<Text>,
        ads_context_data -> Nullable<Text>,
        event_time -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Handover protocol events.
    handovers (event_id) {
        event_id -> BigInt,
        page_id -> Text,
        psid -> Nullable<Text>,
        action -> Text,
        previous_owner_app_id -> Nullable<Text>,
        new_owner_app_id -> Nullable<Text>,
        requested_owner_app_id -> Nullable<Text>,
        metadata -> Nullable<Text>,
        raw -> Text,
        event_time -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Each user's conversation: their step and remembered values, per Page.
    conversations (page_id, psid) {
        page_id -> Text,
        psid -> Text,
        step -> Nullable<Text>,
        step_set_at -> Nullable<BigInt>,
        memory -> Text,
        active_at -> BigInt,
        event_id -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    /// Messages the bot starts, queued until the outbox loop delivers or refuses them.
    outbox_messages (id) {
        id -> BigInt,
        page_id -> Text,
        psid -> Text,
        intent -> Text,
        tag -> Nullable<Text>,
        topic -> Nullable<Text>,
        message -> Text,
        state -> Text,
        message_id -> Nullable<Text>,
        error -> Nullable<Text>,
        error_code -> Nullable<BigInt>,
        idempotency_key -> Nullable<Text>,
        one_time_token_event -> Nullable<BigInt>,
        attempts -> Integer,
        due_at -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Broadcasts: one message to many users, expanded into the outbox in batches.
    broadcasts (id) {
        id -> BigInt,
        page_id -> Text,
        intent -> Text,
        tag -> Nullable<Text>,
        topic -> Nullable<Text>,
        message -> Text,
        recipients -> Nullable<Text>,
        filter -> Nullable<Text>,
        state -> Text,
        rate_per_sec -> Integer,
        expand_cursor -> Text,
        expanded -> Integer,
        total -> BigInt,
        released_at -> BigInt,
        created_at -> BigInt,
        released_through -> BigInt,
    }
}

diesel::table! {
    /// Each recipient of a broadcast and its outbox row.
    broadcast_recipients (broadcast_id, page_id, psid) {
        broadcast_id -> BigInt,
        page_id -> Text,
        psid -> Text,
        outbox_id -> BigInt,
    }
}

diesel::joinable!(deliveries -> inbox_events (event_id));
diesel::joinable!(broadcast_recipients -> outbox_messages (outbox_id));
diesel::allow_tables_to_appear_in_same_query!(users, inbox_events, deliveries);
diesel::allow_tables_to_appear_in_same_query!(broadcast_recipients, outbox_messages, broadcasts);
