//! The request log: usage rows newest first, filtered and paged by id (a cursor, so rows
//! inserted meanwhile never shift a page), and one request with its request-log detail.

use entities::{request_log, usage};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// Which statuses a listing keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Exactly this status.
    Exact(i32),
    /// `lo <= status < hi`.
    Range(i32, i32),
}

impl StatusFilter {
    /// Parses `200`, `2xx`…`5xx`, `ok` (< 400) or `error` (≥ 400).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "ok" => return Some(Self::Range(0, 400)),
            "error" | "errors" => return Some(Self::Range(400, 1000)),
            _ => {}
        }
        if let Some(class) = s.strip_suffix("xx")
            && let Ok(d @ 1..=5) = class.parse::<i32>()
        {
            return Some(Self::Range(d * 100, d * 100 + 100));
        }
        match s.parse::<i32>() {
            Ok(code @ 100..=599) => Some(Self::Exact(code)),
            Ok(_) | Err(_) => None,
        }
    }
}

/// What a listing keeps, and where its page starts.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    /// Status or status class.
    pub status: Option<StatusFilter>,
    /// Provider id.
    pub provider: Option<String>,
    /// Model as recorded (`provider/model`).
    pub model: Option<String>,
    /// Gateway key name.
    pub key: Option<String>,
    /// Only requests that started at or after this (ms).
    pub since: Option<i64>,
    /// Only rows with a smaller id (the previous page's last id).
    pub cursor: Option<i64>,
}

/// One page of usage rows, newest first, and the cursor of the next page (`None`: last page).
pub async fn page(
    db: &impl ConnectionTrait,
    f: &RequestFilter,
    limit: u64,
) -> Result<(Vec<usage::Model>, Option<i64>), DbErr> {
    let mut q = usage::Entity::find();
    if let Some(c) = f.cursor {
        q = q.filter(usage::Column::Id.lt(c));
    }
    match f.status {
        Some(StatusFilter::Exact(s)) => q = q.filter(usage::Column::Status.eq(s)),
        Some(StatusFilter::Range(lo, hi)) => {
            q = q.filter(usage::Column::Status.gte(lo)).filter(usage::Column::Status.lt(hi));
        }
        None => {}
    }
    if let Some(p) = &f.provider {
        q = q.filter(usage::Column::Provider.eq(p.as_str()));
    }
    if let Some(m) = &f.model {
        q = q.filter(usage::Column::Model.eq(m.as_str()));
    }
    if let Some(k) = &f.key {
        q = q.filter(usage::Column::KeyName.eq(k.as_str()));
    }
    if let Some(s) = f.since {
        q = q.filter(usage::Column::Ts.gte(s));
    }
    // One row more than asked says whether another page exists.
    let mut rows = q.order_by_desc(usage::Column::Id).limit(limit + 1).all(db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = if more { rows.last().map(|r| r.id) } else { None };
    Ok((rows, next))
}

/// A usage row and, when one was kept (errors, fallbacks, cancellations), its request log.
pub async fn find(
    db: &impl ConnectionTrait,
    id_or_request_id: &str,
) -> Result<Option<(usage::Model, Option<request_log::Model>)>, DbErr> {
    let row = match id_or_request_id.parse::<i64>() {
        Ok(id) if id_or_request_id.bytes().all(|b| b.is_ascii_digit()) => usage::Entity::find_by_id(id).one(db).await?,
        Ok(_) | Err(_) => {
            usage::Entity::find()
                .filter(usage::Column::RequestId.eq(id_or_request_id))
                .order_by_desc(usage::Column::Id)
                .one(db)
                .await?
        }
    };
    let Some(row) = row else { return Ok(None) };
    // Request ids may come from clients (`x-request-id`) and repeat: the log written with this
    // row has the same start time and status.
    let logs = request_log::Entity::find()
        .filter(request_log::Column::RequestId.eq(row.request_id.as_str()))
        .order_by_desc(request_log::Column::Id)
        .limit(50)
        .all(db)
        .await?;
    let log = logs.iter().find(|l| l.ts == row.ts && l.status == row.status).or_else(|| logs.first()).cloned();
    Ok(Some((row, log)))
}

#[cfg(test)]
mod tests {
    use super::StatusFilter::{self, Exact, Range};

    #[test]
    fn status_filters_parse_codes_classes_and_words() {
        assert_eq!(StatusFilter::parse("200"), Some(Exact(200)));
        assert_eq!(StatusFilter::parse("4xx"), Some(Range(400, 500)));
        assert_eq!(StatusFilter::parse("5XX"), Some(Range(500, 600)));
        assert_eq!(StatusFilter::parse("ok"), Some(Range(0, 400)));
        assert_eq!(StatusFilter::parse("error"), Some(Range(400, 1000)));
        for bad in ["", "abc", "6xx", "0xx", "99", "600", "-1", "2x"] {
            assert_eq!(StatusFilter::parse(bad), None, "{bad}");
        }
    }
}
