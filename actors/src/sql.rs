//! The one place raw SQL text is fitted to an engine: placeholders (`?` written, `$n` on
//! PostgreSQL), identifiers quoted ANSI-style (`"usage"`, `"key"`: reserved words on MySQL, quoted
//! with backticks there), `VALUES` tuples and the upsert tail (`ON CONFLICT ... DO UPDATE` /
//! `ON DUPLICATE KEY UPDATE`). It never runs a statement and never sees client text (every client
//! value is a bound value).

use std::fmt::Write as _;

use sea_orm::{DbBackend, Statement, Value};

/// The SQL engines Omnigate speaks; matched exhaustively wherever the SQL differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (the embedded single-instance default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL protocol: MariaDB (10.5 or newer).
    MySql,
}

impl Dialect {
    /// The dialect of a SeaORM connection's backend.
    pub fn of(backend: DbBackend) -> Self {
        match backend {
            DbBackend::Sqlite => Self::Sqlite,
            DbBackend::Postgres => Self::Postgres,
            DbBackend::MySql => Self::MySql,
            // SeaORM's enum is non-exhaustive, but a connection only exists for the three
            // engines the workspace enables (sqlx-sqlite, sqlx-postgres, sqlx-mysql).
            other => unreachable!("no connection of backend {other:?} can exist in this build"),
        }
    }
}

/// `sql` (with `?` placeholders and ANSI-quoted identifiers) rewritten for `backend`: `$1`, `$2`,
/// … on PostgreSQL, backticks for double quotes on MySQL. Only our own SQL text goes through
/// here: it holds no `?` or `"` inside a string literal.
pub fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(backend, text(backend, sql), values)
}

/// The text of `statement`.
pub fn text(backend: DbBackend, sql: &str) -> String {
    match Dialect::of(backend) {
        Dialect::Postgres => {
            let mut out = String::with_capacity(sql.len() + 8);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    let _ = write!(out, "${n}");
                } else {
                    out.push(c);
                }
            }
            out
        }
        Dialect::MySql => sql.replace('"', "`"),
        Dialect::Sqlite => sql.to_string(),
    }
}

/// `VALUES` tuples of `cols` `?` placeholders for `rows` rows (for `statement`).
pub fn tuples(rows: usize, cols: usize) -> String {
    let one = format!("({})", vec!["?"; cols].join(", "));
    vec![one; rows].join(", ")
}

/// What a conflicting row does to one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Takes the new value.
    Replace,
    /// Adds the new value to the stored one.
    Add,
}

/// The tail of an upsert into `table` whose unique key is `key`: each `set` column replaced by or
/// added to the new row's value; with no `set` a conflicting row is left as it is (`DO NOTHING`).
/// MySQL evaluates its assignments left to right, so no `set` column may be read by a later one.
pub fn on_conflict(backend: DbBackend, table: &str, key: &[&str], set: &[(&str, Merge)]) -> String {
    match Dialect::of(backend) {
        Dialect::Sqlite | Dialect::Postgres => {
            if set.is_empty() {
                return format!(" ON CONFLICT ({}) DO NOTHING", key.join(", "));
            }
            let set: Vec<String> = set
                .iter()
                .map(|(c, m)| match m {
                    Merge::Replace => format!("{c} = excluded.{c}"),
                    Merge::Add => format!("{c} = {table}.{c} + excluded.{c}"),
                })
                .collect();
            format!(" ON CONFLICT ({}) DO UPDATE SET {}", key.join(", "), set.join(", "))
        }
        Dialect::MySql => {
            if set.is_empty() {
                // A no-op assignment: unlike INSERT IGNORE, every other error still fails.
                return format!(" ON DUPLICATE KEY UPDATE {k} = {k}", k = key[0]);
            }
            let set: Vec<String> = set
                .iter()
                .map(|(c, m)| match m {
                    Merge::Replace => format!("{c} = VALUES({c})"),
                    Merge::Add => format!("{c} = {table}.{c} + VALUES({c})"),
                })
                .collect();
            format!(" ON DUPLICATE KEY UPDATE {}", set.join(", "))
        }
    }
}

/// `CAST(expr AS <64-bit integer>)`: `BIGINT` has no CAST on MySQL, `SIGNED` is 64-bit there.
pub fn cast_bigint(backend: DbBackend, expr: &str) -> String {
    match Dialect::of(backend) {
        Dialect::Sqlite | Dialect::Postgres => format!("CAST({expr} AS BIGINT)"),
        Dialect::MySql => format!("CAST({expr} AS SIGNED)"),
    }
}

/// `a` divided by `b`, rounded toward zero, for non-negative integers (`/` is exact division on
/// MySQL).
pub fn int_div(backend: DbBackend, a: &str, b: &str) -> String {
    match Dialect::of(backend) {
        Dialect::Sqlite | Dialect::Postgres => format!("{a} / {b}"),
        Dialect::MySql => format!("{a} DIV {b}"),
    }
}

/// `CAST(expr AS <double>)`.
pub fn cast_double(backend: DbBackend, expr: &str) -> String {
    match Dialect::of(backend) {
        Dialect::Sqlite | Dialect::Postgres => format!("CAST({expr} AS DOUBLE PRECISION)"),
        Dialect::MySql => format!("CAST({expr} AS DOUBLE)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_and_quotes_become_backticks_on_mysql() {
        let sql = "SELECT \"key\" FROM settings WHERE a >= ? AND b <= ?";
        assert_eq!(text(DbBackend::Postgres, sql), "SELECT \"key\" FROM settings WHERE a >= $1 AND b <= $2");
        assert_eq!(text(DbBackend::Sqlite, sql), sql);
        assert_eq!(text(DbBackend::MySql, sql), "SELECT `key` FROM settings WHERE a >= ? AND b <= ?");
        assert_eq!(tuples(2, 3), "(?, ?, ?), (?, ?, ?)");
    }

    #[test]
    fn upsert_tails_add_replace_or_do_nothing_per_engine() {
        let set = [("n", Merge::Add), ("v", Merge::Replace)];
        assert_eq!(
            on_conflict(DbBackend::Postgres, "t", &["a", "b"], &set),
            " ON CONFLICT (a, b) DO UPDATE SET n = t.n + excluded.n, v = excluded.v"
        );
        assert_eq!(
            on_conflict(DbBackend::MySql, "t", &["a", "b"], &set),
            " ON DUPLICATE KEY UPDATE n = t.n + VALUES(n), v = VALUES(v)"
        );
        assert_eq!(on_conflict(DbBackend::Sqlite, "t", &["a"], &[]), " ON CONFLICT (a) DO NOTHING");
        assert_eq!(on_conflict(DbBackend::MySql, "t", &["a"], &[]), " ON DUPLICATE KEY UPDATE a = a");
    }
}
