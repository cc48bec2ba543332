//! Budget periods: calendar days, weeks (from Monday) and months in the gateway's time zone
//! (`[budgets] time_zone`, an IANA name such as `Europe/Berlin`; UTC by default), so a budget
//! "per day" starts at the operator's midnight, daylight-saving changes included.

use std::str::FromStr;

use chrono::{Datelike, LocalResult, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// The time zone budgets count calendar periods in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Zone(Option<chrono_tz::Tz>);

impl Zone {
    /// UTC.
    pub const UTC: Self = Self(None);

    /// An IANA zone name (`UTC` and `Etc/UTC` are UTC).
    pub fn parse(name: &str) -> Result<Self, String> {
        match chrono_tz::Tz::from_str(name.trim()) {
            Ok(chrono_tz::Tz::UTC | chrono_tz::Tz::Etc__UTC) => Ok(Self::UTC),
            Ok(tz) => Ok(Self(Some(tz))),
            Err(_) => Err(format!("`{name}` is not an IANA time zone name (such as `Europe/Berlin` or `UTC`)")),
        }
    }

    /// The instant (ms) of `date`'s first minute here: midnight, or the first minute that exists
    /// when a daylight-saving change skips midnight.
    fn start_of(self, date: NaiveDate) -> i64 {
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        let Some(tz) = self.0 else { return midnight.and_utc().timestamp_millis() };
        for minutes in [0, 30, 60, 90, 120] {
            match tz.from_local_datetime(&(midnight + chrono::Duration::minutes(minutes))) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => return t.timestamp_millis(),
                LocalResult::None => {}
            }
        }
        midnight.and_utc().timestamp_millis()
    }

    /// The calendar date holding `ms` here.
    fn date_of(self, ms: i64) -> NaiveDate {
        let t = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
        match self.0 {
            Some(tz) => t.with_timezone(&tz).date_naive(),
            None => t.date_naive(),
        }
    }

    /// `ms` as RFC 3339 to the minute in this zone (`2026-01-01T00:00Z`, `2026-01-01T00:00+01:00`).
    pub fn rfc3339(self, ms: i64) -> String {
        let Some(t) = Utc.timestamp_millis_opt(ms).single() else { return String::new() };
        match self.0 {
            Some(tz) => t.with_timezone(&tz).format("%Y-%m-%dT%H:%M%:z").to_string(),
            None => t.format("%Y-%m-%dT%H:%MZ").to_string(),
        }
    }
}

/// A calendar period of a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Period {
    /// From midnight.
    Day,
    /// From Monday midnight.
    Week,
    /// From the 1st, midnight.
    Month,
}

impl Period {
    /// The word people read.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// The start of the period holding `now` in `zone` and the start of the next one (ms).
    pub fn bounds(self, now: i64, zone: Zone) -> (i64, i64) {
        let day = zone.date_of(now);
        let (start, next) = match self {
            Self::Day => (day, day.succ_opt().unwrap_or(day)),
            Self::Week => {
                let monday = day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()));
                (monday, monday + chrono::Days::new(7))
            }
            Self::Month => {
                let first = day.with_day(1).unwrap_or(day);
                (first, first + chrono::Months::new(1))
            }
        };
        (zone.start_of(start), zone.start_of(next))
    }
}

/// A key's or team's budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// USD per period.
    pub usd: f64,
    /// The period.
    pub period: Period,
    /// The zone its periods are counted in (the gateway's `[budgets] time_zone`, put on by the
    /// limiter; never stored with the budget).
    #[serde(skip)]
    pub zone: Zone,
}

impl Budget {
    /// A budget of `usd` per `period`, counted in UTC until the limiter says otherwise.
    pub fn new(usd: f64, period: Period) -> Self {
        Self { usd, period, zone: Zone::UTC }
    }

    /// The start of its period holding `now`, and of the next.
    pub fn bounds(&self, now: i64) -> (i64, i64) {
        self.period.bounds(now, self.zone)
    }

    /// `ms` as people read it in the budget's zone.
    pub fn when(&self, ms: i64) -> String {
        self.zone.rfc3339(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN_15: i64 = 1_768_478_400_000; // 2026-01-15T12:00Z, a Thursday

    #[test]
    fn periods_are_calendar_periods_in_utc_by_default() {
        let z = Zone::UTC;
        let at = |p: Period| {
            let (a, b) = p.bounds(JAN_15, z);
            (z.rfc3339(a), z.rfc3339(b))
        };
        assert_eq!(at(Period::Day), ("2026-01-15T00:00Z".into(), "2026-01-16T00:00Z".into()));
        assert_eq!(at(Period::Week), ("2026-01-12T00:00Z".into(), "2026-01-19T00:00Z".into()));
        assert_eq!(at(Period::Month), ("2026-01-01T00:00Z".into(), "2026-02-01T00:00Z".into()));
    }

    #[test]
    fn a_zone_moves_midnight_and_follows_daylight_saving() {
        let berlin = Zone::parse("Europe/Berlin").expect("zone");
        let (start, next) = Period::Month.bounds(JAN_15, berlin);
        assert_eq!(Zone::UTC.rfc3339(start), "2025-12-31T23:00Z");
        assert_eq!(berlin.rfc3339(start), "2026-01-01T00:00+01:00");
        assert_eq!(berlin.rfc3339(next), "2026-02-01T00:00+01:00");
        // 2026-03-29 is 23 hours long in Berlin; the day after begins at 00:00+02:00.
        let march_29 = 1_774_785_600_000; // 2026-03-29T12:00Z
        let (a, b) = Period::Day.bounds(march_29, berlin);
        assert_eq!((b - a) / 3_600_000, 23);
        assert_eq!(berlin.rfc3339(b), "2026-03-30T00:00+02:00");
        // Late on the 31st in UTC is already February in Tokyo.
        let tokyo = Zone::parse("Asia/Tokyo").expect("zone");
        let jan_31_late = 1_769_900_400_000; // 2026-01-31T23:00Z
        assert_eq!(tokyo.rfc3339(Period::Month.bounds(jan_31_late, tokyo).0), "2026-02-01T00:00+09:00");
        // A zone whose midnight is skipped by a change (Santiago, 2026-09-06) starts at 01:00.
        let santiago = Zone::parse("America/Santiago").expect("zone");
        let sept_6 = 1_788_710_400_000; // 2026-09-06T16:00Z
        assert_eq!(santiago.rfc3339(Period::Day.bounds(sept_6, santiago).0), "2026-09-06T01:00-03:00");
        assert_eq!(Zone::parse("UTC"), Ok(Zone::UTC));
        assert!(Zone::parse("Mars/Olympus").is_err());
    }
}
