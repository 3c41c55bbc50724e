//! What a pagebot run needs on disk and in the database: a fresh database (seeded with users
//! if asked), and a bench policy with `rules` `simple_text` links and its locale.

use std::path::{Path, PathBuf};

use anyhow::Context;
use diesel::Connection;
use diesel::connection::SimpleConnection;

use crate::bodies::{PAGE_ID, PSID_BASE};

/// A database that exists for one run and is removed when dropped.
pub struct BenchDatabase {
    /// The URL pagebot gets.
    pub url: String,
    admin: Option<(String, String)>,
}

impl BenchDatabase {
    /// A SQLite file in `dir`.
    pub fn sqlite(dir: &Path) -> Self {
        Self {
            url: format!("sqlite://{}", dir.join("bench.db").display()),
            admin: None,
        }
    }

    /// A new database `pagebot_bench_<pid>_<tag>` on the server of `admin_url`.
    pub fn postgres(admin_url: &str, tag: &str) -> anyhow::Result<Self> {
        let name = format!("pagebot_bench_{}_{tag}", std::process::id());
        let mut admin = diesel::PgConnection::establish(admin_url)
            .context("cannot connect to Postgres (check --postgres-url)")?;
        // Two statements: DROP and CREATE DATABASE cannot share a transaction.
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\""))?;
        admin.batch_execute(&format!("CREATE DATABASE \"{name}\""))?;
        Ok(Self {
            url: database_url(admin_url, &name),
            admin: Some((admin_url.to_owned(), name)),
        })
    }
}

/// `admin_url` with its database replaced by `name`, its options (`?sslmode=...`) kept.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, options) = admin_url
        .split_once('?')
        .map_or((admin_url, ""), |(base, options)| (base, options));
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    if options.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{options}")
    }
}

/// Adds `users` users whose profiles are fresh (so that their events need no profile fetch)
/// to the database at `url`, whose tables the server has created.
pub fn seed(url: &str, users: u64) -> anyhow::Result<()> {
    if users == 0 {
        return Ok(());
    }
    let now = pagebot::store::now_ms();
    let last = users - 1;
    let columns = "psid, page_id, first_name, last_name, profile_fetched_at, thumbups, \
                   created_at, updated_at";
    match pagebot::store::DatabaseTarget::parse(url)? {
        pagebot::store::DatabaseTarget::Postgres(url) => {
            let mut conn = diesel::PgConnection::establish(&url)?;
            conn.batch_execute(&format!(
                "INSERT INTO users ({columns}) SELECT ({PSID_BASE} + g)::text, '{PAGE_ID}', \
                 'Bench', 'User', {now}, 0, {now}, {now} FROM generate_series(0, {last}) g; \
                 ANALYZE users;"
            ))
        }
        pagebot::store::DatabaseTarget::Sqlite(path) => {
            let mut conn = diesel::SqliteConnection::establish(&path)?;
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = 10000; \
                 WITH RECURSIVE c(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM c WHERE g < {last}) \
                 INSERT INTO users ({columns}) SELECT CAST({PSID_BASE} + g AS TEXT), '{PAGE_ID}', \
                 'Bench', 'User', {now}, 0, {now}, {now} FROM c; ANALYZE;"
            ))
        }
    }
    .context("seeding users")
}

impl Drop for BenchDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.admin
            && let Ok(mut admin) = diesel::PgConnection::establish(admin_url)
        {
            let _ =
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}

/// Writes `routing.yaml` and `locales/en-US/bench.ftl` into `dir`: `rules - 1` `simple_text`
/// links that never match, then the one that answers `ok n` to `bench n`.
pub fn write_policy(dir: &Path, rules: usize) -> anyhow::Result<(PathBuf, PathBuf)> {
    let locales = dir.join("locales");
    std::fs::create_dir_all(locales.join("en-US"))?;
    std::fs::write(locales.join("en-US/bench.ftl"), "echo = ok { $n }\n")?;
    let mut yaml = String::from("default:\n  - handler: user_profile\nroutes:\n  SIMPLE_TEXT:\n");
    for i in 1..rules.max(1) {
        yaml.push_str(&format!(
            "    - handler: simple_text\n      args: {{ regex: \"^rule{i} (\\\\d+)$\" }}\n      \
             stop: true\n      senders:\n        - text: {{ message: echo, args: {{ n: \"{{match.1}}\" }} }}\n"
        ));
    }
    yaml.push_str(
        "    - handler: simple_text\n      args: { regex: \"^bench (\\\\d+)$\" }\n      stop: true\n      \
         senders:\n        - text: { message: echo, args: { n: \"{match.1}\" } }\n",
    );
    let policy = dir.join("routing.yaml");
    std::fs::write(&policy, yaml)?;
    Ok((policy, locales))
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn the_bench_database_keeps_the_server_and_its_options() {
        assert_eq!(
            database_url("postgres://pg@127.0.0.1:5432/postgres", "b"),
            "postgres://pg@127.0.0.1:5432/b"
        );
        assert_eq!(
            database_url("postgres://pg@127.0.0.1:5432/postgres?sslmode=disable", "b"),
            "postgres://pg@127.0.0.1:5432/b?sslmode=disable"
        );
    }
}
