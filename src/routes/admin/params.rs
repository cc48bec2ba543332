//! Query parameters of the admin read routes: declared once (`Param`, also rendered into the
//! OpenAPI document), parsed strictly (an unknown, repeated or malformed parameter is a 400 that
//! names it).

use actix_web::HttpRequest;

use crate::error::GatewayError;
use crate::routes::common::echo;

/// The type of a query parameter, as the spec shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A free string.
    Str,
    /// An integer.
    Int,
    /// One of these spellings.
    OneOf(&'static [&'static str]),
}

/// One declared query parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Its name.
    pub name: &'static str,
    /// What it does.
    pub doc: &'static str,
    /// Its type.
    pub kind: Kind,
}

impl Param {
    /// A string parameter.
    pub const fn str(name: &'static str, doc: &'static str) -> Self {
        Self { name, doc, kind: Kind::Str }
    }

    /// An integer parameter.
    pub const fn int(name: &'static str, doc: &'static str) -> Self {
        Self { name, doc, kind: Kind::Int }
    }

    /// A parameter with a fixed set of values.
    pub const fn one_of(name: &'static str, doc: &'static str, values: &'static [&'static str]) -> Self {
        Self { name, doc, kind: Kind::OneOf(values) }
    }
}

/// A request's query, checked against its declared parameters.
#[derive(Debug, Default)]
pub struct Query(Vec<(&'static str, String)>);

/// A 400 naming the parameter.
pub fn bad(name: &str, why: impl std::fmt::Display) -> GatewayError {
    GatewayError::BadRequest(format!("bad query parameter `{name}`: {why}"))
}

impl Query {
    /// Parses the query of `req`: every parameter must be declared in `params` and given once;
    /// empty values count as absent; `OneOf` values are checked here.
    pub fn parse(req: &HttpRequest, params: &[Param]) -> Result<Self, GatewayError> {
        let pairs = actix_web::web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map_err(|_| GatewayError::BadRequest("the query string is not valid URL encoding".into()))?
            .into_inner();
        let mut out: Vec<(&'static str, String)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let Some(p) = params.iter().find(|p| p.name == k) else {
                let known: Vec<&str> = params.iter().map(|p| p.name).collect();
                return Err(GatewayError::BadRequest(format!(
                    "unknown query parameter `{}` (known: {})",
                    echo(&k, 40),
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                )));
            };
            if out.iter().any(|(n, _)| *n == p.name) {
                return Err(bad(p.name, "given more than once"));
            }
            let v = v.trim().to_string();
            if v.is_empty() {
                continue;
            }
            if let Kind::OneOf(values) = p.kind
                && !values.contains(&v.as_str())
            {
                return Err(bad(p.name, format!("`{}` is not one of {}", echo(&v, 40), values.join(", "))));
            }
            out.push((p.name, v));
        }
        Ok(Self(out))
    }

    /// A parameter's value, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// A string parameter, at most 256 bytes.
    pub fn text(&self, name: &str) -> Result<Option<String>, GatewayError> {
        match self.get(name) {
            Some(v) if v.len() > 256 => Err(bad(name, "longer than 256 bytes")),
            Some(v) => Ok(Some(v.to_string())),
            None => Ok(None),
        }
    }

    /// An integer parameter within `lo..=hi`.
    pub fn int(&self, name: &str, lo: i64, hi: i64) -> Result<Option<i64>, GatewayError> {
        let Some(v) = self.get(name) else { return Ok(None) };
        match v.parse::<i64>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
            Ok(_) | Err(_) => Err(bad(name, format!("expected an integer {lo}..={hi}, got `{}`", echo(v, 40)))),
        }
    }
}

/// A point in time: ms since the epoch, or a duration back from `now` (`30s`, `15m`, `1h`, `7d`).
pub fn parse_since(v: &str, now: i64) -> Option<i64> {
    if let Ok(ms) = v.parse::<i64>() {
        return (ms >= 0).then_some(ms);
    }
    let unit = match v.chars().last()? {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return None,
    };
    let n: i64 = v.get(..v.len() - 1)?.parse().ok().filter(|n| *n >= 0)?;
    Some(now.saturating_sub(n.checked_mul(unit)?))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    const P: &[Param] = &[Param::int("limit", "rows"), Param::one_of("by", "dim", &["a", "b"]), Param::str("k", "")];

    fn q(qs: &str) -> Result<Query, GatewayError> {
        Query::parse(&TestRequest::with_uri(&format!("/x?{qs}")).to_http_request(), P)
    }

    #[test]
    fn strict_parsing_names_the_parameter() {
        let ok = q("limit=5&by=a&k=&k2").err();
        assert!(ok.is_some_and(|e| e.to_string().contains("`k2`")));
        let e = q("limit=abc").and_then(|q| q.int("limit", 1, 10)).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("`limit`"), "{e}");
        let e = q("by=c").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("`by`"), "{e}");
        let e = q("by=a&by=b").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("more than once"), "{e}");
        let v = q("limit=5&by=b&k=").ok();
        assert_eq!(v.as_ref().and_then(|v| v.int("limit", 1, 10).ok().flatten()), Some(5));
        assert_eq!(v.as_ref().and_then(|v| v.get("by")), Some("b"));
        assert_eq!(v.as_ref().and_then(|v| v.get("k")), None);
    }

    #[test]
    fn since_takes_ms_or_a_duration() {
        assert_eq!(parse_since("1700000000000", 0), Some(1_700_000_000_000));
        assert_eq!(parse_since("15m", 1_000_000), Some(100_000));
        assert_eq!(parse_since("1h", 7_200_000), Some(3_600_000));
        for bad in ["", "h", "-5", "5x", "1.5h", "-1h"] {
            assert_eq!(parse_since(bad, 10), None, "{bad}");
        }
    }
}
