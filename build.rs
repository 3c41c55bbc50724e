//! Compiles the Postgres variants of the database tests only when a test database is named.
//!
//! `cargo test` alone runs every database test on SQLite (zero set-up);
//! `PAGEBOT_TEST_DATABASE_URL=postgres://... cargo test` runs each on Postgres too.
//! It also rebuilds the crate whenever a migration is added or changed.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pagebot_postgres_tests)");
    println!("cargo::rustc-check-cfg=cfg(pagebot_postgres_binaries)");
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
    // The outage tests run a Postgres cluster of their own (tests/api/outage.rs): they need
    // only the binaries, and are ignored where there are none.
    println!("cargo::rerun-if-env-changed=PAGEBOT_PG_BIN");
    if let Some(bin) = postgres_bin() {
        println!("cargo::rerun-if-changed={}", bin.join("initdb").display());
        println!("cargo::rustc-cfg=pagebot_postgres_binaries");
    }
}

/// The folder of `initdb` and `postgres`: `PAGEBOT_PG_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin`, else `pg_config --bindir` (what tests/api/outage.rs looks for).
fn postgres_bin() -> Option<std::path::PathBuf> {
    use std::path::{Path, PathBuf};
    let has_initdb = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = std::env::var_os("PAGEBOT_PG_BIN") {
        return Some(PathBuf::from(dir)).filter(|d| has_initdb(d));
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|dir| has_initdb(dir))
        .max_by_key(|dir| {
            let version = dir.parent().and_then(|d| d.file_name());
            version.and_then(|v| v.to_str()?.parse::<u32>().ok())
        });
    if newest.is_some() {
        return newest;
    }
    let output = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()?;
    let dir = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    has_initdb(&dir).then_some(dir)
}
