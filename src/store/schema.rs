//! The one portable diesel schema, shared by Postgres and SQLite.
//!
//! Only types every backend of `DbConn` supports: BigInt, Integer, Double, Text (flags are
//! Integer 0/1, times are epoch milliseconds, JSON is Text).

#![allow(missing_docs)] // the columns are documented by the migrations

diesel::table! {
    /// Users the bot has met, one row per PSID.
    users (psid) {
        psid -> Text,
        page_id -> Nullable<Text>,
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
    }
}

diesel::table! {
    /// Every outgoing message the pipeline tried to deliver.
    deliveries (id) {
        id -> BigInt,
        event_id -> BigInt,
        seq -> Integer,
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

diesel::joinable!(deliveries -> inbox_events (event_id));
diesel::allow_tables_to_appear_in_same_query!(users, inbox_events, deliveries);
