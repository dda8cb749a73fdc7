//! Event filters applied before rules: a time window (`--since`/`--until`) and
//! host names (`--host`).
//!
//! Times are RFC 3339 (`2024-05-06T07:08:09Z`, offsets allowed), a bare date
//! (`2024-05-06`, midnight UTC), or a duration before now (`90s`, `30m`, `1h`,
//! `2d`, `1w`), which is what a cron job wants: `tripline scan --since 1h`.

use tripline_parsers::Event;

/// Which events go on to the rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Keep events at or after this time (ns since the epoch).
    pub since_ns: Option<i64>,
    /// Keep events before this time (ns since the epoch).
    pub until_ns: Option<i64>,
    /// Keep events whose `host.name` equals one of these (ASCII case-insensitive).
    /// Events without a host name are dropped when this is not empty.
    pub hosts: Vec<String>,
}

impl EventFilter {
    /// True when nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.since_ns.is_none() && self.until_ns.is_none() && self.hosts.is_empty()
    }

    /// Whether `ev` passes.
    pub fn keep(&self, ev: &Event) -> bool {
        if self.since_ns.is_some_and(|s| ev.timestamp_ns < s) {
            return false;
        }
        if self.until_ns.is_some_and(|u| ev.timestamp_ns >= u) {
            return false;
        }
        if !self.hosts.is_empty() {
            let Some(h) = ev.host.name.as_deref() else {
                return false;
            };
            return self.hosts.iter().any(|x| x.eq_ignore_ascii_case(h));
        }
        true
    }
}

/// Parses a `--since`/`--until` value relative to `now_ns`.
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_time(s: &str, now_ns: i64) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return dt
            .timestamp_nanos_opt()
            .ok_or_else(|| format!("{s}: out of range"));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let dt = d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        return dt
            .timestamp_nanos_opt()
            .ok_or_else(|| format!("{s}: out of range"));
    }
    parse_duration(s)
        .map(|d| now_ns.saturating_sub(d))
        .map_err(|_| bad(s))
}

/// Parses a duration such as `90s`, `30m`, `1h`, `2d`, `1w` into nanoseconds.
///
/// # Errors
/// Not a number followed by one of `s`, `m`, `h`, `d`, `w`, or too large.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let err = || format!("{s}: expected a duration such as 90s, 30m, 1h, 2d or 1w");
    let n: i64 = num.parse().map_err(|_| err())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(err()),
    };
    n.checked_mul(secs)
        .and_then(|x| x.checked_mul(1_000_000_000))
        .ok_or_else(err)
}

fn bad(s: &str) -> String {
    format!(
        "{s}: expected an RFC 3339 time (2024-05-06T07:08:09Z), a date (2024-05-06) or a duration before now (90s, 30m, 1h, 2d, 1w)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000_000_000;

    #[test]
    fn time_forms() {
        assert_eq!(parse_time("1h", NOW), Ok(NOW - 3_600_000_000_000));
        assert_eq!(parse_time("2d", NOW), Ok(NOW - 2 * 86_400_000_000_000));
        assert_eq!(parse_time("1970-01-01T00:00:01Z", NOW), Ok(1_000_000_000));
        assert_eq!(
            parse_time("1970-01-01T01:00:01+01:00", NOW),
            Ok(1_000_000_000)
        );
        assert_eq!(parse_time("1970-01-02", NOW), Ok(86_400_000_000_000));
        for bad in [
            "",
            "1y",
            "h",
            "yesterday",
            "99999999999999999999s",
            "2024-13-01",
        ] {
            assert!(parse_time(bad, NOW).is_err(), "{bad}");
        }
    }

    #[test]
    fn window_is_half_open_and_hosts_match_case_insensitively() {
        let f = EventFilter {
            since_ns: Some(10),
            until_ns: Some(20),
            hosts: vec!["Web1".into()],
        };
        let ev = |t: i64, h: Option<&str>| {
            let mut e = Event {
                timestamp_ns: t,
                ..Event::default()
            };
            e.host.name = h.map(str::to_string);
            e
        };
        assert!(f.keep(&ev(10, Some("web1"))));
        assert!(f.keep(&ev(19, Some("WEB1"))));
        assert!(!f.keep(&ev(20, Some("web1"))));
        assert!(!f.keep(&ev(9, Some("web1"))));
        assert!(!f.keep(&ev(15, Some("web2"))));
        assert!(!f.keep(&ev(15, None)));
        assert!(EventFilter::default().keep(&ev(0, None)));
    }
}
