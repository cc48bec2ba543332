//! Read-only queries behind the admin API's observability routes: the request log, the usage
//! summary and the recent latencies. Every statement is portable (SQLite and PostgreSQL); nothing
//! here writes.

pub mod latency;
pub mod requests;
pub mod summary;

use sea_orm::{DbBackend, Statement, Value};

/// A statement with `?` placeholders rewritten for `backend` (`$1`, `$2`, … on PostgreSQL).
/// Only our own SQL text goes through here; every client value is a bound value.
pub(crate) fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let text = match backend {
        DbBackend::Postgres => {
            let mut out = String::with_capacity(sql.len() + 8);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    out.push_str(&format!("${n}"));
                } else {
                    out.push(c);
                }
            }
            out
        }
        // SQLite (and MySQL) take `?` as written; the enum is non-exhaustive.
        _ => sql.to_string(),
    };
    Statement::from_sql_and_values(backend, text, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_only() {
        let pg = statement(DbBackend::Postgres, "a >= ? AND b <= ?", vec![1i64.into(), 2i64.into()]);
        assert_eq!(pg.sql, "a >= $1 AND b <= $2");
        let lite = statement(DbBackend::Sqlite, "a >= ? AND b <= ?", vec![1i64.into(), 2i64.into()]);
        assert_eq!(lite.sql, "a >= ? AND b <= ?");
    }
}
