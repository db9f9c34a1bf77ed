//! The business time zone: the one zone that decides what "today" is, which day an event counts
//! in, where report days begin and end, and how times are shown (`docs/metrics.md`, "Time zone").
//!
//! It is set once per process from `--time-zone` / `KIZUNA_TIME_ZONE` (any IANA name, default
//! `Asia/Tokyo`) before anything reads it. Functions that take a zone are the pure rules; the
//! ones without use the process's zone.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use std::sync::OnceLock;

/// Where Kizuna's users mostly are.
pub const DEFAULT_ZONE: Tz = chrono_tz::Asia::Tokyo;

static ZONE: OnceLock<Tz> = OnceLock::new();

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time zone {value:?} is not an IANA time zone name (like Asia/Tokyo, UTC or America/New_York)")]
pub struct ZoneError {
    pub value: String,
}

/// Parse an IANA zone name.
pub fn parse_zone(name: &str) -> Result<Tz, ZoneError> {
    name.trim().parse::<Tz>().map_err(|_| ZoneError { value: name.to_string() })
}

/// Set the process's business zone. Only the first call counts (the zone cannot change under
/// running code); returns false when a different zone was already in use.
pub fn set_zone(tz: Tz) -> bool {
    *ZONE.get_or_init(|| tz) == tz
}

/// The process's business zone (the default until set).
pub fn zone() -> Tz {
    *ZONE.get_or_init(|| DEFAULT_ZONE)
}

/// The day `t` falls on in `tz`.
pub fn local_day_in(tz: Tz, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// The day `t` falls on in the business zone: the day an event counts in.
pub fn local_day(t: DateTime<Utc>) -> NaiveDate {
    local_day_in(zone(), t)
}

/// The local day of many times, remembering the last 15-minute block of UTC time it saw: every
/// zone's offset today is a whole number of quarter hours, so a block never straddles a local
/// midnight, and events near each other in time cost one division and one comparison.
#[derive(Debug, Clone)]
pub struct DayCache {
    tz: Tz,
    /// The last block (UTC seconds / 900) and its local day.
    last: Option<(i64, NaiveDate)>,
}

impl DayCache {
    const BLOCK: i64 = 900;

    pub fn new(tz: Tz) -> Self {
        DayCache { tz, last: None }
    }

    pub fn day(&mut self, t: DateTime<Utc>) -> NaiveDate {
        let block = t.timestamp().div_euclid(Self::BLOCK);
        match self.last {
            Some((b, d)) if b == block => d,
            _ => {
                use chrono::Offset;
                let local = t.with_timezone(&self.tz);
                let d = local.date_naive();
                // Remember the block only when the offset is whole quarter hours (old local mean
                // times of odd minutes are looked up every time). Transitions between offsets
                // happen on quarter hours too, so the whole block has this day.
                if local.offset().fix().local_minus_utc() % Self::BLOCK as i32 == 0 {
                    self.last = Some((block, d));
                }
                d
            }
        }
    }
}

impl Default for DayCache {
    /// For the business zone.
    fn default() -> Self {
        DayCache::new(zone())
    }
}

/// Today in the business zone: the default as-of date of every figure.
pub fn today() -> NaiveDate {
    local_day(Utc::now())
}

/// The first instant of day `d` in the business zone: where a report's day begins.
pub fn start_of_day(d: NaiveDate) -> DateTime<Utc> {
    start_of_day_in(zone(), d)
}

/// The first instant of day `d` in `tz` (where summer time skips midnight, the first instant
/// that exists).
pub fn start_of_day_in(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    use chrono::TimeZone;
    let mut t = d.and_hms_opt(0, 0, 0).expect("midnight exists");
    for _ in 0..24 * 4 {
        if let Some(local) = tz.from_local_datetime(&t).earliest() {
            return local.with_timezone(&Utc);
        }
        t += chrono::Duration::minutes(15);
    }
    d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

/// A wall-clock time in the business zone as an instant. A time that summer time skips is moved
/// on in quarter hours past the gap; one it repeats is the earlier of the two.
pub fn at_local(t: chrono::NaiveDateTime) -> DateTime<Utc> {
    use chrono::TimeZone;
    let tz = zone();
    let mut probe = t;
    for _ in 0..24 * 4 {
        if let Some(local) = tz.from_local_datetime(&probe).earliest() {
            return local.with_timezone(&Utc);
        }
        probe += chrono::Duration::minutes(15);
    }
    t.and_utc()
}

/// `t` in the business zone, for showing it and for RFC 3339 text with its offset.
pub fn local(t: DateTime<Utc>) -> DateTime<Tz> {
    t.with_timezone(&zone())
}

/// `t` in the business zone as RFC 3339 with its offset (`2026-12-06T14:56:00+09:00`).
pub fn rfc3339(t: DateTime<Utc>) -> String {
    local(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// `#[serde(serialize_with = "kizuna_domain::time::serde_local")]`: a time in JSON as RFC 3339
/// in the business zone, with its offset (`2026-12-06T14:56:00+09:00`).
pub fn serde_local<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&local(*t).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
}

/// [`serde_local`] for an optional time (`null` when absent).
pub fn serde_local_opt<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serde_local(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_event_at_23_30_utc_counts_on_the_next_tokyo_day() {
        let t = Utc.with_ymd_and_hms(2026, 12, 5, 23, 30, 0).unwrap();
        assert_eq!(local_day_in(DEFAULT_ZONE, t), NaiveDate::from_ymd_opt(2026, 12, 6).unwrap());
        assert_eq!(local_day_in(chrono_tz::UTC, t), NaiveDate::from_ymd_opt(2026, 12, 5).unwrap());
        // 14:59 UTC is 23:59 in Tokyo, 15:00 UTC already the next day.
        let before = Utc.with_ymd_and_hms(2026, 12, 6, 14, 59, 59).unwrap();
        assert_eq!(local_day_in(DEFAULT_ZONE, before), NaiveDate::from_ymd_opt(2026, 12, 6).unwrap());
        assert_eq!(local_day_in(DEFAULT_ZONE, before + chrono::Duration::seconds(1)), NaiveDate::from_ymd_opt(2026, 12, 7).unwrap());
    }

    #[test]
    fn zones_with_summer_time() {
        // New York: UTC−4 in July, UTC−5 in January.
        let ny = parse_zone("America/New_York").unwrap();
        let july = Utc.with_ymd_and_hms(2026, 7, 1, 3, 30, 0).unwrap();
        assert_eq!(local_day_in(ny, july), NaiveDate::from_ymd_opt(2026, 6, 30).unwrap());
        let jan = Utc.with_ymd_and_hms(2026, 1, 1, 4, 30, 0).unwrap();
        assert_eq!(local_day_in(ny, jan), NaiveDate::from_ymd_opt(2025, 12, 31).unwrap());
    }

    #[test]
    fn a_tokyo_day_starts_at_15_00_utc_the_day_before() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        assert_eq!(start_of_day_in(DEFAULT_ZONE, d), Utc.with_ymd_and_hms(2026, 12, 5, 15, 0, 0).unwrap());
        // São Paulo skipped midnight on 2018-11-04 (clocks went from 00:00 to 01:00).
        let sp = parse_zone("America/Sao_Paulo").unwrap();
        let d = NaiveDate::from_ymd_opt(2018, 11, 4).unwrap();
        assert_eq!(start_of_day_in(sp, d), Utc.with_ymd_and_hms(2018, 11, 4, 3, 0, 0).unwrap());
    }

    #[test]
    fn json_times_carry_the_business_zone_offset() {
        #[derive(serde::Serialize)]
        struct T {
            #[serde(serialize_with = "serde_local")]
            at: DateTime<Utc>,
            #[serde(serialize_with = "serde_local_opt")]
            none: Option<DateTime<Utc>>,
        }
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 5, 56, 0).unwrap();
        // The process zone is the default here (no test sets another).
        assert_eq!(serde_json::to_string(&T { at, none: None }).unwrap(), r#"{"at":"2026-12-06T14:56:00+09:00","none":null}"#);
    }

    #[test]
    fn the_day_cache_agrees_with_the_zone_across_days_and_summer_time() {
        for tz in ["Asia/Tokyo", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu"].map(|z| parse_zone(z).unwrap()) {
            let mut cache = DayCache::new(tz);
            // Every 7 minutes over 2026-03-07..03-10 (New York's clocks change on 03-08), then back.
            let start = Utc.with_ymd_and_hms(2026, 3, 7, 0, 0, 0).unwrap();
            let times: Vec<_> = (0..900).map(|i| start + chrono::Duration::minutes(7 * i)).collect();
            for t in times.iter().chain(times.iter().rev()) {
                assert_eq!(cache.day(*t), local_day_in(tz, *t), "{tz} {t}");
            }
        }
        // Tokyo's local mean time before 1888 was 9:18:59 ahead: never cached, still right.
        let mut cache = DayCache::new(DEFAULT_ZONE);
        let old = Utc.with_ymd_and_hms(1880, 1, 1, 14, 40, 0).unwrap();
        for m in 0..30 {
            let t = old + chrono::Duration::minutes(m);
            assert_eq!(cache.day(t), local_day_in(DEFAULT_ZONE, t), "{t}");
        }
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(parse_zone(" Asia/Tokyo ").unwrap(), DEFAULT_ZONE);
        assert_eq!(parse_zone("UTC").unwrap(), chrono_tz::UTC);
        assert!(parse_zone("Mars/Olympus").is_err());
        assert!(parse_zone("+09:00").is_err());
    }

    #[test]
    fn a_note_written_at_14_56_in_tokyo_is_shown_as_14_56() {
        let t = Utc.with_ymd_and_hms(2026, 12, 6, 5, 56, 0).unwrap();
        assert_eq!(t.with_timezone(&DEFAULT_ZONE).format("%Y/%m/%d %H:%M").to_string(), "2026/12/06 14:56");
        assert_eq!(t.with_timezone(&DEFAULT_ZONE).to_rfc3339_opts(chrono::SecondsFormat::Secs, false), "2026-12-06T14:56:00+09:00");
    }
}
