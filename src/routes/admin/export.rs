//! `GET /api/usage/export?since=&until=&format=csv|jsonl`: every usage row in a time range, for
//! spreadsheets and billing, streamed page by page (memory stays flat whatever the range). Columns
//! are the usage table's own, in its order; CSV quotes what needs quoting (RFC 4180).

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use entities::usage;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, Iterable, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;

use super::params::{Param, Query, bad, parse_since};
use super::{fail, guarded};
use crate::state::AppState;
use crate::store::now_ms;

/// The query parameters of `GET /api/usage/export`.
pub(super) const QUERY: &[Param] = &[
    Param::str(
        "since",
        "from (inclusive): ms since the epoch, or back from now (`15m`, `24h`, `30d`); default: the first row",
    ),
    Param::str("until", "to (exclusive): ms since the epoch, or back from now; default: now"),
    Param::one_of("format", "csv (default, with a header line) or jsonl (one JSON object per line)", &["csv", "jsonl"]),
];

/// Rows read per database round trip.
const PAGE: u64 = 1000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Jsonl,
}

/// The usage table's column names, in order.
fn columns() -> Vec<&'static str> {
    usage::Column::iter().map(|c| sea_orm::IdenStatic::as_str(&c)).collect()
}

/// One CSV field (RFC 4180: quoted when it holds a comma, a quote or a line break).
fn csv_field(v: &Value, out: &mut String) {
    let s = match v {
        Value::Null => return,
        Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
        other => std::borrow::Cow::Owned(other.to_string()),
    };
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&s);
    }
}

/// One page of rows in `format`.
fn render(rows: &[Value], cols: &[&str], format: Format) -> String {
    let mut out = String::new();
    for r in rows {
        match format {
            Format::Jsonl => {
                out.push_str(&r.to_string());
                out.push('\n');
            }
            Format::Csv => {
                for (i, c) in cols.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    csv_field(r.get(*c).unwrap_or(&Value::Null), &mut out);
                }
                out.push_str("\r\n");
            }
        }
    }
    out
}

/// Where the export has got to.
struct Cursor {
    db: DatabaseConnection,
    since: i64,
    until: i64,
    after_id: i64,
    format: Format,
    cols: Vec<&'static str>,
    done: bool,
}

async fn next_page(mut c: Cursor) -> Option<(Result<Bytes, std::io::Error>, Cursor)> {
    if c.done {
        return None;
    }
    let rows = usage::Entity::find()
        .filter(usage::Column::Id.gt(c.after_id))
        .filter(usage::Column::Ts.gte(c.since))
        .filter(usage::Column::Ts.lt(c.until))
        .order_by_asc(usage::Column::Id)
        .limit(PAGE)
        .into_json()
        .all(&c.db)
        .await;
    match rows {
        Ok(rows) => {
            c.done = (rows.len() as u64) < PAGE;
            c.after_id = rows.last().and_then(|r| r["id"].as_i64()).unwrap_or(c.after_id);
            let text = render(&rows, &c.cols, c.format);
            Some((Ok(Bytes::from(text)), c))
        }
        Err(e) => {
            // The answer has started: breaking the transfer is how a client learns it is incomplete.
            tracing::warn!(error = %e, "usage export stopped: the database failed");
            c.done = true;
            Some((Err(std::io::Error::other("the database failed during the export")), c))
        }
    }
}

/// `GET /api/usage/export`
pub(super) async fn export(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    let q = match Query::parse(&req, QUERY) {
        Ok(q) => q,
        Err(e) => return fail(e),
    };
    let now = now_ms();
    let point = |name: &str| match q.get(name) {
        None => Ok(None),
        Some(v) => {
            parse_since(v, now).map(Some).ok_or_else(|| bad(name, "expected ms since the epoch or a duration (`24h`)"))
        }
    };
    let (since, until) = match (point("since"), point("until")) {
        (Ok(s), Ok(u)) => (s.unwrap_or(0), u.unwrap_or(now + 1)),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    if until <= since {
        return fail(bad("until", "must be after `since`"));
    }
    let format = if q.get("format") == Some("jsonl") { Format::Jsonl } else { Format::Csv };
    let cols = columns();
    let head = match format {
        Format::Csv => Bytes::from(format!("{}\r\n", cols.join(","))),
        Format::Jsonl => Bytes::new(),
    };
    let cursor = Cursor { db: state.db.clone(), since, until, after_id: 0, format, cols, done: false };
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) }),
        futures_util::stream::unfold(cursor, next_page),
    );
    let (mime, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Jsonl => ("application/x-ndjson", "jsonl"),
    };
    HttpResponse::Ok()
        .content_type(mime)
        .insert_header(("content-disposition", format!("attachment; filename=\"usage-{since}-{until}.{ext}\"")))
        .streaming(body)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting_and_leaves_nulls_empty() {
        let rows = vec![json!({"a": 1, "b": "plain", "c": null}), json!({"a": 2.5, "b": "x, \"y\"\nz", "c": true})];
        let text = render(&rows, &["a", "b", "c"], Format::Csv);
        assert_eq!(text, "1,plain,\r\n2.5,\"x, \"\"y\"\"\nz\",true\r\n");
        let lines = render(&rows, &["a"], Format::Jsonl);
        assert_eq!(lines.lines().count(), 2);
        assert_eq!(serde_json::from_str::<Value>(lines.lines().next().unwrap_or_default()).ok(), Some(rows[0].clone()));
    }
}
