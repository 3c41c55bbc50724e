//! Browser tests: the pages in a real headless Chromium, driven through chromedriver
//! (`pagebot::testing::browser`). Their own target behind the `browser-tests` feature, so that
//! `cargo test` passes on a machine without Chromium:
//!
//! ```text
//! apt-get install chromium chromium-driver
//! cargo test -p pagebot --features browser-tests --test browser
//! ```
//!
//! Each test saves screenshots under docs/screenshots/ (the README shows them).

mod admin;
mod chat;
