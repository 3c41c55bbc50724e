//! The two backends' schemas after every migration, compared: tables, columns (a normalized
//! type, nullability, default), primary keys, unique constraints, foreign keys and named
//! indexes (columns, uniqueness, partial-index predicate). Where they differ on purpose,
//! [`KNOWN_DIFFERENCES`] says so and why; any other difference fails, and so does a known one
//! that went away (take it off the list). See migrations/README.md.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Nullable, Text};
use pagebot::store::{DbConn, Store};

use crate::helpers::TestDatabase;

/// What one backend has and the other has not, by design: the line of the description (see
/// [`describe`]), which backend has it, and why.
const KNOWN_DIFFERENCES: &[(Backend, &str, &str)] = &[
    (
        Backend::Postgres,
        "index inbox_events_due on inbox_events (event_time, id) where status = 'pending'",
        "Postgres indexes pending events alone (2026-12-01-000002): a finished event leaves \
         the index. SQLite's queries bind the status, and SQLite cannot use a partial index for \
         a bound value it has not seen when it plans: its index leads with the status.",
    ),
    (
        Backend::Sqlite,
        "index inbox_events_due on inbox_events (status, event_time, id)",
        "the same index on SQLite (see Postgres's inbox_events_due)",
    ),
    (
        Backend::Postgres,
        "index inbox_events_psid on inbox_events (psid, event_time, id) where status = 'pending'",
        "pending events alone on Postgres, as for inbox_events_due",
    ),
    (
        Backend::Sqlite,
        "index inbox_events_psid on inbox_events (psid, status, event_time, id)",
        "the same index on SQLite (see Postgres's inbox_events_psid)",
    ),
    (
        Backend::Sqlite,
        "index inbox_events_claim on inbox_events (status, available_at)",
        "Postgres dropped it (2026-12-01-000002): its partial inbox_events_due holds every \
         pending event. On SQLite it serves next_due (the earliest available_at of the pending \
         events) without reading them all.",
    ),
    (
        Backend::Postgres,
        "index inbox_events_dead_letters on inbox_events (id) where status in ('failed', 'dead')",
        "for /metrics and `pagebot inbox dead` on a large shared inbox (2026-12-01-000003); \
         SQLite reaches failed and dead events through the status that leads its inbox \
         indexes.",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Postgres,
    Sqlite,
}

/// The tables of src/store/schema.rs, each with its columns as diesel selects them.
fn schema_rs() -> Vec<(String, Vec<String>)> {
    use pagebot::store::schema::*;
    macro_rules! columns_of {
        ($($table:ident),* $(,)?) => {
            vec![$((
                stringify!($table).to_owned(),
                select_list(&diesel::debug_query::<diesel::pg::Pg, _>(
                    &$table::table.select($table::all_columns),
                ).to_string(), stringify!($table)),
            )),*]
        };
    }
    columns_of![
        users,
        inbox_events,
        deliveries,
        thumbs_up,
        locations,
        media,
        optins,
        account_links,
        watermarks,
        echoes,
        reactions,
        referrals,
        handovers,
        conversations,
        outbox_messages,
        broadcasts,
        broadcast_recipients,
    ]
}

/// The column names of a `SELECT "t"."a", "t"."b" FROM ...` diesel printed.
fn select_list(sql: &str, table: &str) -> Vec<String> {
    let prefix = format!("\"{table}\".\"");
    let (select, _) = sql.split_once(" FROM ").expect("a SELECT");
    select
        .split(", ")
        .map(|column| {
            let at = column.find(&prefix).expect("a qualified column") + prefix.len();
            column[at..].trim_end_matches('"').to_owned()
        })
        .collect()
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Bool)]
    not_null: bool,
    #[diesel(sql_type = Nullable<Text>)]
    default_value: Option<String>,
    /// The column's place in the primary key (from 1), or 0.
    #[diesel(sql_type = Integer)]
    pk: i32,
    /// Whether the primary key is this column alone.
    #[diesel(sql_type = Bool)]
    sole_pk: bool,
}

#[derive(QueryableByName)]
struct Index {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    index_name: String,
    /// Its columns, comma-separated, in order (an expression as its text, on Postgres; see
    /// `expressions` for SQLite).
    #[diesel(sql_type = Nullable<Text>)]
    columns: Option<String>,
    /// SQLite: how many of its columns are expressions, which `columns` leaves out (their
    /// text is read from the CREATE INDEX statement instead).
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    expressions: i64,
    #[diesel(sql_type = Bool)]
    is_unique: bool,
    /// "pk" for the primary key, "u" for a UNIQUE constraint, "c" for CREATE INDEX.
    #[diesel(sql_type = Text)]
    origin: String,
    /// Postgres: the predicate; SQLite: the CREATE INDEX statement.
    #[diesel(sql_type = Nullable<Text>)]
    predicate: Option<String>,
}

#[derive(QueryableByName)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    columns: String,
    #[diesel(sql_type = Text)]
    referenced: String,
    #[diesel(sql_type = Text)]
    referenced_columns: String,
    #[diesel(sql_type = Text)]
    on_delete: String,
}

/// `table` is one of our tables: not diesel's migration bookkeeping, nor SQLite's own.
fn own(table: &str) -> String {
    format!(
        "{table} NOT LIKE '\\_\\_diesel%' ESCAPE '\\' AND {table} NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    )
}

fn postgres_schema(pg: &mut PgConnection) -> (Vec<Column>, Vec<Index>, Vec<ForeignKey>) {
    let own = own("c.relname");
    let columns = diesel::sql_query(format!(
        "SELECT c.relname::text AS table_name, a.attname::text AS column_name, \
         format_type(a.atttypid, a.atttypmod) AS data_type, a.attnotnull AS not_null, \
         pg_get_expr(d.adbin, d.adrelid) AS default_value, \
         COALESCE(array_position(pk.conkey, a.attnum), 0) AS pk, \
         COALESCE(cardinality(pk.conkey) = 1, false) AS sole_pk \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum \
         LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p' \
         WHERE n.nspname = current_schema() AND c.relkind = 'r' AND {own}"
    ))
    .load(pg)
    .unwrap();
    let indexes = diesel::sql_query(format!(
        "SELECT c.relname::text AS table_name, i.relname::text AS index_name, \
         (SELECT string_agg(pg_get_indexdef(x.indexrelid, k.n, true), ', ' ORDER BY k.n) \
            FROM generate_series(1, x.indnatts::int) AS k(n)) AS columns, \
         x.indisunique AS is_unique, \
         COALESCE((SELECT CASE con.contype WHEN 'p' THEN 'pk' ELSE 'u' END \
            FROM pg_constraint con \
            WHERE con.conindid = x.indexrelid AND con.conrelid = c.oid \
              AND con.contype IN ('p', 'u')), 'c') AS origin, \
         0::bigint AS expressions, pg_get_expr(x.indpred, x.indrelid) AS predicate \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND {own}"
    ))
    .load(pg)
    .unwrap();
    let foreign_keys = diesel::sql_query(format!(
        "SELECT c.relname::text AS table_name, \
         (SELECT string_agg(a.attname::text, ', ' ORDER BY k.n) \
            FROM unnest(f.conkey) WITH ORDINALITY AS k(attnum, n) \
            JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.attnum) AS columns, \
         r.relname::text AS referenced, \
         (SELECT string_agg(a.attname::text, ', ' ORDER BY k.n) \
            FROM unnest(f.confkey) WITH ORDINALITY AS k(attnum, n) \
            JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.attnum) \
           AS referenced_columns, \
         CASE f.confdeltype WHEN 'c' THEN 'cascade' WHEN 'n' THEN 'set null' \
           WHEN 'd' THEN 'set default' WHEN 'r' THEN 'restrict' ELSE 'no action' END \
           AS on_delete \
         FROM pg_constraint f JOIN pg_class c ON c.oid = f.conrelid \
         JOIN pg_class r ON r.oid = f.confrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE f.contype = 'f' AND n.nspname = current_schema() AND {own}"
    ))
    .load(pg)
    .unwrap();
    (columns, indexes, foreign_keys)
}

fn sqlite_schema(sqlite: &mut SqliteConnection) -> (Vec<Column>, Vec<Index>, Vec<ForeignKey>) {
    let own = own("m.name");
    let columns = diesel::sql_query(format!(
        "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
         p.\"notnull\" != 0 AS not_null, p.dflt_value AS default_value, p.pk AS pk, \
         (SELECT count(*) FROM pragma_table_info(m.name) WHERE pk > 0) = 1 AS sole_pk \
         FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p \
         WHERE m.type = 'table' AND {own}"
    ))
    .load(sqlite)
    .unwrap();
    let indexes = diesel::sql_query(format!(
        "SELECT m.name AS table_name, l.name AS index_name, \
         (SELECT group_concat(name, ', ') FROM \
            (SELECT name FROM pragma_index_info(l.name) ORDER BY seqno)) AS columns, \
         (SELECT count(*) FROM pragma_index_xinfo(l.name) WHERE key = 1 AND cid = -2) \
           AS expressions, \
         l.\"unique\" != 0 AS is_unique, l.origin AS origin, \
         (SELECT sql FROM sqlite_master WHERE type = 'index' AND name = l.name) AS predicate \
         FROM sqlite_master AS m JOIN pragma_index_list(m.name) AS l \
         WHERE m.type = 'table' AND {own}"
    ))
    .load(sqlite)
    .unwrap();
    let foreign_keys = diesel::sql_query(format!(
        "SELECT m.name AS table_name, group_concat(f.\"from\", ', ') AS columns, \
         f.\"table\" AS referenced, group_concat(f.\"to\", ', ') AS referenced_columns, \
         lower(f.on_delete) AS on_delete \
         FROM sqlite_master AS m JOIN pragma_foreign_key_list(m.name) AS f \
         WHERE m.type = 'table' AND {own} GROUP BY m.name, f.id"
    ))
    .load(sqlite)
    .unwrap();
    (columns, indexes, foreign_keys)
}

/// One type name for both backends. SQLite keeps the declared name (its storage is the same
/// 64-bit integer for INTEGER and BIGINT, but diesel's schema says which is which, and
/// Postgres stores them differently); an `INTEGER PRIMARY KEY` alone is SQLite's 64-bit rowid,
/// what a BIGSERIAL is on Postgres.
fn normalized_type(backend: Backend, column: &Column) -> String {
    if is_rowid(backend, column) {
        return "bigint".to_owned();
    }
    let declared = column.data_type.to_lowercase();
    let name = declared.split('(').next().unwrap_or_default().trim();
    let normal = match name {
        "bigint" | "int8" => "bigint",
        "integer" | "int" | "int4" => "integer",
        "text" | "varchar" | "character varying" => "text",
        "double" | "double precision" | "real" | "float8" => "double",
        "boolean" | "bool" => "bool",
        "bytea" | "blob" => "bytes",
        other => other,
    };
    normal.to_owned()
}

/// Whether `column` is an SQLite table's `INTEGER PRIMARY KEY`: its rowid, 64 bits and never
/// null.
fn is_rowid(backend: Backend, column: &Column) -> bool {
    backend == Backend::Sqlite
        && column.sole_pk
        && column.pk == 1
        && column.data_type.eq_ignore_ascii_case("integer")
}

/// A default or a predicate without Postgres's casts and extra parentheses, `= ANY (ARRAY[..])`
/// as `IN (..)`, in lower case.
fn normalized_sql(sql: &str) -> String {
    let casts = regex::Regex::new(r"::[a-z ]+").unwrap();
    let any = regex::Regex::new(r"= any \(array\[([^\]]*)\]\)").unwrap();
    let sql = casts.replace_all(&sql.to_lowercase(), "").into_owned();
    let mut sql = any.replace_all(&sql, "in ($1)").into_owned();
    while sql.starts_with('(') && sql.ends_with(')') && wrapped_whole(&sql) {
        sql = sql[1..sql.len() - 1].trim().to_owned();
    }
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether the parenthesis that opens `sql` closes at its end.
fn wrapped_whole(sql: &str) -> bool {
    let mut depth = 0;
    for (at, c) in sql.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            return at == sql.len() - 1;
        }
    }
    false
}

/// The schema as sorted lines, the same for both backends where they agree.
fn describe(
    backend: Backend,
    (columns, indexes, foreign_keys): (Vec<Column>, Vec<Index>, Vec<ForeignKey>),
) -> BTreeSet<String> {
    let mut lines = BTreeSet::new();
    let mut primary_keys: std::collections::BTreeMap<&str, Vec<(i32, &str)>> = Default::default();
    for column in &columns {
        lines.insert(format!("table {}", column.table_name));
        let mut line = format!(
            "column {}.{} {}",
            column.table_name,
            column.column_name,
            normalized_type(backend, column)
        );
        // SQLite's rowid cannot be null, declared so or not.
        if column.not_null || is_rowid(backend, column) {
            line.push_str(" not null");
        }
        // A BIGSERIAL's sequence is SQLite's rowid: no default to compare.
        if let Some(default) = column
            .default_value
            .as_deref()
            .filter(|d| !d.starts_with("nextval("))
        {
            line.push_str(&format!(" default {}", normalized_sql(default)));
        }
        lines.insert(line);
        if column.pk > 0 {
            primary_keys
                .entry(&column.table_name)
                .or_default()
                .push((column.pk, &column.column_name));
        }
    }
    for (table, mut key) in primary_keys {
        key.sort();
        let key: Vec<&str> = key.into_iter().map(|(_, name)| name).collect();
        lines.insert(format!("primary key {table} ({})", key.join(", ")));
    }
    for index in &indexes {
        match index.origin.as_str() {
            // From the columns' primary key, above (SQLite has no index for a rowid).
            "pk" => {}
            // Constraints: their index names are the backend's own.
            "u" => {
                lines.insert(format!(
                    "unique {} ({})",
                    index.table_name,
                    index_columns(index)
                ));
            }
            _ => {
                let predicate = match (backend, index.predicate.as_deref()) {
                    (Backend::Postgres, Some(predicate)) => Some(normalized_sql(predicate)),
                    (Backend::Sqlite, Some(statement)) => statement
                        .to_lowercase()
                        .split_once(" where ")
                        .map(|(_, predicate)| normalized_sql(predicate)),
                    (_, None) => None,
                };
                let mut line = format!(
                    "index {} on {} ({})",
                    index.index_name,
                    index.table_name,
                    index_columns(index)
                );
                if index.is_unique {
                    line.push_str(" unique");
                }
                if let Some(predicate) = predicate {
                    line.push_str(&format!(" where {predicate}"));
                }
                lines.insert(line);
            }
        }
    }
    for key in &foreign_keys {
        lines.insert(format!(
            "foreign key {} ({}) references {} ({}) on delete {}",
            key.table_name, key.columns, key.referenced, key.referenced_columns, key.on_delete
        ));
    }
    lines
}

/// An index's columns, comma-separated, each normalized (an expression such as
/// `coalesce(page_id, '')` as its text, alike on both backends).
fn index_columns(index: &Index) -> String {
    let listed = match (index.expressions, &index.predicate) {
        // SQLite names no expression column: read them all from its CREATE INDEX.
        (1.., Some(statement)) => statement_columns(statement),
        _ => index
            .columns
            .as_deref()
            .unwrap_or_default()
            .split(", ")
            .map(str::to_owned)
            .collect(),
    };
    listed
        .iter()
        .map(|column| normalized_sql(column))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns of a `CREATE INDEX name ON table (a, f(b, c), d) [WHERE ...]` statement:
/// what stands between the parentheses after the table, split at its top-level commas.
fn statement_columns(statement: &str) -> Vec<String> {
    let lower = statement.to_lowercase();
    let on = lower.find(" on ").expect("CREATE INDEX ... ON");
    let open = on + lower[on..].find('(').expect("a column list");
    let (mut depth, mut start, mut columns) = (0, open + 1, Vec::new());
    for (at, c) in statement.char_indices().skip_while(|(at, _)| *at <= open) {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => {
                columns.push(statement[start..at].trim().to_owned());
                return columns;
            }
            ')' => depth -= 1,
            ',' if depth == 0 => {
                columns.push(statement[start..at].trim().to_owned());
                start = at + 1;
            }
            _ => {}
        }
    }
    panic!("unclosed column list in {statement}");
}

fn migrated(database: &TestDatabase) -> Store {
    Store::connect(database.url(), 1).expect("migrations run")
}

fn sqlite_description() -> BTreeSet<String> {
    let database = TestDatabase::sqlite();
    let store = migrated(&database);
    let mut conn = store.get().unwrap();
    let DbConn::Sqlite(sqlite) = &mut *conn else {
        panic!("not SQLite");
    };
    describe(Backend::Sqlite, sqlite_schema(sqlite))
}

/// The lines of `lines` that `other` lacks, less the known differences of `backend`, and the
/// known differences of `backend` that are no longer there.
fn unexpected(
    backend: Backend,
    lines: &BTreeSet<String>,
    other: &BTreeSet<String>,
) -> (Vec<String>, Vec<&'static str>) {
    let known: BTreeSet<&str> = KNOWN_DIFFERENCES
        .iter()
        .filter(|(b, _, _)| *b == backend)
        .map(|(_, line, _)| *line)
        .collect();
    let only_here: BTreeSet<&str> = lines.difference(other).map(String::as_str).collect();
    let new = only_here
        .difference(&known)
        .map(|l| (*l).to_owned())
        .collect();
    let gone = known
        .iter()
        .filter(|line| !only_here.contains(**line))
        .copied()
        .collect();
    (new, gone)
}

#[test]
#[cfg_attr(
    not(pagebot_postgres_tests),
    ignore = "needs PAGEBOT_TEST_DATABASE_URL"
)]
fn postgres_and_sqlite_have_the_same_schema_but_for_the_known_differences() {
    let sqlite = sqlite_description();
    let database = TestDatabase::postgres(
        &std::env::var("PAGEBOT_TEST_DATABASE_URL")
            .expect("PAGEBOT_TEST_DATABASE_URL was set at build time; set it again"),
    );
    let store = migrated(&database);
    let mut conn = store.get().unwrap();
    let DbConn::Postgres(pg) = &mut *conn else {
        panic!("not Postgres");
    };
    let postgres = describe(Backend::Postgres, postgres_schema(pg));

    let (only_postgres, gone_postgres) = unexpected(Backend::Postgres, &postgres, &sqlite);
    let (only_sqlite, gone_sqlite) = unexpected(Backend::Sqlite, &sqlite, &postgres);
    let report = |what: &str, lines: &[String]| match lines {
        [] => String::new(),
        lines => format!("{what}:\n  {}\n", lines.join("\n  ")),
    };
    let gone: Vec<String> = gone_postgres
        .iter()
        .chain(&gone_sqlite)
        .map(|l| (*l).to_owned())
        .collect();
    let problems = [
        report("only on Postgres", &only_postgres),
        report("only on SQLite", &only_sqlite),
        report(
            "known differences no longer there (take them off KNOWN_DIFFERENCES)",
            &gone,
        ),
    ]
    .concat();
    assert!(
        problems.is_empty(),
        "the schemas differ (migrations/README.md says how to change them together):\n\
         {problems}"
    );
    // The comparison saw the schema (not two empty lists).
    assert!(postgres.contains("column inbox_events.status text not null"));
    assert!(postgres.contains(
        "foreign key deliveries (event_id) references inbox_events (id) on delete cascade"
    ));
}

#[test]
fn diesel_schema_names_the_tables_and_columns_the_migrations_make() {
    // On SQLite (the Postgres side equals it, by the test above); each backend's types are
    // checked against schema.rs whenever a query reads them.
    let described = sqlite_description();
    let mut from_migrations: Vec<(String, Vec<String>)> = Vec::new();
    for line in &described {
        if let Some(table) = line.strip_prefix("table ") {
            let prefix = format!("column {table}.");
            let mut columns: Vec<String> = described
                .iter()
                .filter_map(|l| l.strip_prefix(&prefix))
                .map(|rest| rest.split(' ').next().unwrap_or_default().to_owned())
                .collect();
            columns.sort();
            from_migrations.push((table.to_owned(), columns));
        }
    }
    let mut from_schema_rs = schema_rs();
    for (_, columns) in &mut from_schema_rs {
        columns.sort();
    }
    from_schema_rs.sort();
    assert_eq!(from_schema_rs, from_migrations);
}
