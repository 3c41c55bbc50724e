//! Compiles the Postgres variants of the database tests only when a test database is named.
//!
//! `cargo test` alone runs every database test on SQLite (zero set-up);
//! `PAGEBOT_TEST_DATABASE_URL=postgres://... cargo test` runs each on Postgres too.
//! It also rebuilds the crate whenever a migration is added or changed.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pagebot_postgres_tests)");
    // A build script that names what it depends on turns off cargo's default (rerun on any
    // change in the package), and `embed_migrations!` cannot tell cargo about a migration
    // directory added later: without this line a new migration is silently left out of the
    // binary until some source file changes.
    println!("cargo::rerun-if-changed=migrations");
    // The same for the app migrations the tests embed.
    println!("cargo::rerun-if-changed=tests/fixtures/app_migrations");
    println!("cargo::rerun-if-env-changed=PAGEBOT_TEST_DATABASE_URL");
    if std::env::var_os("PAGEBOT_TEST_DATABASE_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=pagebot_postgres_tests");
    }
}
