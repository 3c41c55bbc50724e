//! Hand-written Postgres statements that stay prepared on each connection.
//!
//! Diesel keeps a statement prepared only when it can tell it is safe to: its `sql_query`,
//! every UPDATE and every upsert it builds are sent unnamed, so Postgres parses and plans them
//! anew on every call (`base_yyparse` was among the top symbols of Postgres under load). A
//! [`Prepared`] statement is text with `$1`, `$2`, ... in order and one bound value each: diesel
//! caches it by its text and bind types, like its own statements.

use std::marker::PhantomData;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;
use diesel::result::{Error, QueryResult};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};

/// A statement and its bound values, kept prepared by the connection's statement cache.
pub(crate) struct Prepared<'a> {
    sql: &'a str,
    binds: Vec<Box<dyn PgBind + 'a>>,
}

impl<'a> Prepared<'a> {
    /// `sql` with its placeholders `$1` to `$n`, each once and in that order.
    pub(crate) fn new(sql: &'a str) -> Self {
        Self {
            sql,
            binds: Vec::new(),
        }
    }

    /// Binds the next placeholder to `value` as SQL type `ST`.
    pub(crate) fn bind<ST, T>(mut self, value: T) -> Self
    where
        Pg: HasSqlType<ST>,
        T: ToSql<ST, Pg> + 'a,
        ST: 'a,
    {
        self.binds.push(Box::new(Bound {
            value,
            sql_type: PhantomData,
        }));
        self
    }
}

/// One bound value, type-erased.
trait PgBind {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

struct Bound<ST, T> {
    value: T,
    sql_type: PhantomData<ST>,
}

impl<ST, T> PgBind for Bound<ST, T>
where
    Pg: HasSqlType<ST>,
    T: ToSql<ST, Pg>,
{
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<ST, T>(&self.value)
    }
}

impl QueryFragment<Pg> for Prepared<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        // Diesel writes each placeholder itself as it binds: write the text between them.
        let mut rest = self.sql;
        for (i, bind) in self.binds.iter().enumerate() {
            let placeholder = format!("${}", i + 1);
            let at = find_placeholder(rest, &placeholder).ok_or_else(|| {
                Error::QueryBuilderError(
                    format!("{placeholder} is missing or out of order in a statement").into(),
                )
            })?;
            out.push_sql(&rest[..at]);
            bind.push(&mut out)?;
            rest = &rest[at + placeholder.len()..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

/// Where `placeholder` (`$3`) stands in `sql` as a whole (not the start of `$31`).
fn find_placeholder(sql: &str, placeholder: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = sql[from..].find(placeholder) {
        let at = from + found;
        let end = at + placeholder.len();
        if !sql[end..].starts_with(|c: char| c.is_ascii_digit()) {
            return Some(at);
        }
        from = end;
    }
    None
}

impl QueryId for Prepared<'_> {
    type QueryId = ();
    // No static id: the cache keys it by its text and bind types instead.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Prepared<'_> {
    type SqlType = Untyped;
}

impl RunQueryDsl<diesel::PgConnection> for Prepared<'_> {}

#[cfg(test)]
mod tests {
    use diesel::sql_types::{Array, BigInt, Text};
    use diesel::{QueryableByName, debug_query};

    use super::*;

    #[test]
    fn placeholders_are_found_whole_and_in_order() {
        assert_eq!(find_placeholder("a $1, $12", "$1"), Some(2));
        assert_eq!(find_placeholder("a $12, $1", "$1"), Some(7));
        assert_eq!(find_placeholder("a $12", "$1"), None);
    }

    #[test]
    fn the_text_is_sent_as_written_with_the_values_bound() {
        let sql = "SELECT $1::bigint + 1 AS n, $2::text[] AS t";
        let query = Prepared::new(sql)
            .bind::<BigInt, _>(41_i64)
            .bind::<Array<Text>, _>(vec!["a", "b"]);
        let shown = debug_query::<Pg, _>(&query).to_string();
        assert!(shown.starts_with(sql), "{shown}");
        assert!(shown.contains("binds: [41, [\"a\", \"b\"]]"), "{shown}");
    }

    #[test]
    fn a_placeholder_out_of_order_is_an_error_not_a_wrong_statement() {
        let query = Prepared::new("SELECT $2, $1")
            .bind::<BigInt, _>(1_i64)
            .bind::<BigInt, _>(2_i64);
        let mut builder = diesel::pg::PgQueryBuilder::default();
        assert!(QueryFragment::<Pg>::to_sql(&query, &mut builder, &Pg).is_err());
    }

    #[derive(QueryableByName, Debug, PartialEq)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    #[test]
    #[cfg_attr(
        not(pagebot_postgres_tests),
        ignore = "Postgres only: set PAGEBOT_TEST_DATABASE_URL"
    )]
    fn postgres_runs_it_and_keeps_it_prepared() {
        // Postgres only; the SQLite run has nothing to prepare.
        let url = std::env::var("PAGEBOT_TEST_DATABASE_URL")
            .expect("PAGEBOT_TEST_DATABASE_URL was set at build time; set it again");
        let database = crate::testing::TestDatabase::postgres(&url);
        let store = crate::store::Store::connect(database.url(), 1).unwrap();
        let mut conn = store.get().unwrap();
        let crate::store::DbConn::Postgres(pg) = &mut *conn else {
            panic!("not Postgres");
        };
        let sql = "SELECT $1::bigint + 1 AS n /* pagebot prepared test */";
        for n in [1_i64, 2, 3] {
            let rows: Vec<Row> = Prepared::new(sql).bind::<BigInt, _>(n).load(pg).unwrap();
            assert_eq!(rows, [Row { n: n + 1 }]);
        }
        // Kept prepared: one named statement on the connection for all three calls.
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            count: i64,
        }
        let prepared: Vec<Count> = diesel::sql_query(
            "SELECT count(*) AS count FROM pg_prepared_statements \
             WHERE statement LIKE '%pagebot prepared test%'",
        )
        .load(pg)
        .unwrap();
        assert_eq!(prepared[0].count, 1);
    }
}
