//! Read-only queries behind the admin API's observability routes: the request log, the usage
//! summary and the recent latencies. Every statement is portable (SQLite, PostgreSQL and MariaDB);
//! nothing here writes.

pub mod latency;
pub mod requests;
pub mod summary;

/// A statement with `?` placeholders (and ANSI-quoted identifiers) fitted to the engine: the
/// one builder every raw statement goes through (`actors::sql`).
pub(crate) use actors::sql::statement;
