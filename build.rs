//! Compiles the Postgres variants of the database tests only when a test database is named.
//!
//! `cargo test` alone runs every database test on SQLite (zero set-up);
//! `PAGEBOT_TEST_DATABASE_URL=postgres://... cargo test` runs each on Postgres too.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pagebot_postgres_tests)");
    println!("cargo::rerun-if-env-changed=PAGEBOT_TEST_DATABASE_URL");
    if std::env::var_os("PAGEBOT_TEST_DATABASE_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=pagebot_postgres_tests");
    }
}
