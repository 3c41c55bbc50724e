//! Integration tests: the real server on a free port, a real database (SQLite, and Postgres
//! when `PAGEBOT_TEST_DATABASE_URL` was set at build time), and the fake Graph API.
//! One binary for all, so they share one build.

mod helpers;
mod i18n;

mod admin;
mod app_migrations;
mod binary;
mod broadcasts;
mod chains;
mod chat;
mod claim_pages;
mod cli;
mod conversation;
mod demo;
mod durability;
mod faults;
mod flows;
mod handlers;
mod ingress;
mod outage;
mod outbox;
mod pages;
mod panics;
mod pipeline;
mod readme;
mod schema;
mod senders;
mod simulate;
mod thread_settings;
mod users_per_page;
mod webhook;
mod webhook_properties;
