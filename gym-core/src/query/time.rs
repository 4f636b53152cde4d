//! Times as the agent reads and writes them: RFC 3339 UTC strings, or offsets like
//! `-10m` relative to "now" (the end of the telemetry window).
//!
//! Written by hand rather than pulling a date crate: the gym only ever needs UTC, whole
//! milliseconds, and the proleptic Gregorian calendar.

use std::str::FromStr;

use otrashi_scenarios::Duration;

use super::QueryError;

/// Days since 1970-01-01 for a civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats Unix milliseconds as RFC 3339 UTC (`2026-11-22T00:07:23Z`, with `.mmm` only
/// when the milliseconds are not zero).
pub fn format_rfc3339(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let millis = unix_ms.rem_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let (h, mi, s) = (sod / 3600, (sod / 60) % 60, sod % 60);
    if millis == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{millis:03}Z")
    }
}

fn digits(s: &str, what: &str, input: &str) -> Result<i64, QueryError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_time(input, &format!("bad {what} `{s}`")));
    }
    s.parse::<i64>()
        .map_err(|_| bad_time(input, &format!("bad {what} `{s}`")))
}

fn bad_time(input: &str, why: &str) -> QueryError {
    QueryError::BadTime {
        input: input.to_owned(),
        reason: why.to_owned(),
    }
}

/// Parses an RFC 3339 timestamp (`2026-11-22T00:07:23Z`, `…23.5Z`, `…23+01:00`; a
/// space instead of `T` is accepted) into Unix milliseconds.
pub fn parse_rfc3339(input: &str) -> Result<i64, QueryError> {
    let s = input.trim();
    if !s.is_ascii() {
        return Err(bad_time(input, "unexpected non-ASCII characters"));
    }
    if s.len() < 19 {
        return Err(bad_time(input, "too short for YYYY-MM-DDTHH:MM:SSZ"));
    }
    let (date, rest) = s.split_at(10);
    let mut parts = date.split('-');
    let (Some(y), Some(mo), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_time(input, "the date must be YYYY-MM-DD"));
    };
    let (year, month, day) = (
        digits(y, "year", input)?,
        digits(mo, "month", input)?,
        digits(d, "day", input)?,
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(bad_time(input, "month or day out of range"));
    }
    let rest = rest
        .strip_prefix(['T', 't', ' '])
        .ok_or_else(|| bad_time(input, "expected `T` between date and time"))?;
    let (clock, zone) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => return Err(bad_time(input, "missing time zone (`Z` or `+HH:MM`)")),
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut hms = hms.split(':');
    let (Some(h), Some(mi), Some(sec), None) = (hms.next(), hms.next(), hms.next(), hms.next())
    else {
        return Err(bad_time(input, "the time must be HH:MM:SS"));
    };
    let (h, mi, sec) = (
        digits(h, "hour", input)?,
        digits(mi, "minute", input)?,
        digits(sec, "second", input)?,
    );
    if h > 23 || mi > 59 || sec > 60 {
        return Err(bad_time(input, "hour, minute or second out of range"));
    }
    let millis = if frac.is_empty() {
        0
    } else {
        let f = digits(frac, "fraction", input)?;
        let len = frac.len().min(18) as u32;
        // Scale the fraction to milliseconds whatever its precision.
        if len >= 3 {
            f / 10_i64.pow(len - 3)
        } else {
            f * 10_i64.pow(3 - len)
        }
    };
    let offset_min = match zone {
        "Z" | "z" => 0,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let (oh, om) = z[1..]
                .split_once(':')
                .ok_or_else(|| bad_time(input, "the offset must be +HH:MM"))?;
            sign * (digits(oh, "offset hour", input)? * 60 + digits(om, "offset minute", input)?)
        }
    };
    let days = days_from_civil(year, month as u32, day as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Ok(secs * 1000 + millis)
}

/// Resolves a time the agent wrote into milliseconds from the start of the telemetry
/// window, clamped into it. Accepts RFC 3339, `now`, `-<duration>` (`-10m`, `-1h30m`)
/// counted back from now (the end of the window), and Unix seconds or milliseconds.
pub fn resolve_time(input: &str, start_unix_ms: i64, end_ms: u64) -> Result<u64, QueryError> {
    let s = input.trim();
    if s.eq_ignore_ascii_case("now") {
        return Ok(end_ms);
    }
    if let Some(back) = s.strip_prefix('-') {
        let d = Duration::from_str(back.trim()).map_err(|e| QueryError::BadTime {
            input: input.to_owned(),
            reason: e.to_string(),
        })?;
        return Ok(end_ms.saturating_sub(d.as_millis()));
    }
    // Bare digits are Unix time: seconds, or milliseconds when that large.
    let unix = match s.parse::<i64>() {
        Ok(n) if n >= 100_000_000_000 => n,
        Ok(n) => n.saturating_mul(1000),
        Err(_) => parse_rfc3339(s)?,
    };
    let rel = unix - start_unix_ms;
    Ok(rel.clamp(0, i64::try_from(end_ms).unwrap_or(i64::MAX)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let t = 1_795_306_043_000; // 2026-11-22T00:07:23Z
        assert_eq!(format_rfc3339(t), "2026-11-22T00:07:23Z");
        assert_eq!(parse_rfc3339("2026-11-22T00:07:23Z").unwrap(), t);
        assert_eq!(format_rfc3339(t + 250), "2026-11-22T00:07:23.250Z");
        assert_eq!(parse_rfc3339("2026-11-22T00:07:23.25Z").unwrap(), t + 250);
        assert_eq!(parse_rfc3339("2026-11-22T01:07:23+01:00").unwrap(), t);
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        for bad in [
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-22T00:07:23",
            "2026-11-2éT00:07:23Z",
        ] {
            let err = parse_rfc3339(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn relative_times_count_back_from_the_end() {
        let start = 1_795_306_043_000;
        assert_eq!(resolve_time("-10m", start, 900_000).unwrap(), 300_000);
        assert_eq!(resolve_time("-1h", start, 900_000).unwrap(), 0);
        assert_eq!(resolve_time("now", start, 900_000).unwrap(), 900_000);
        assert_eq!(
            resolve_time("2026-11-22T00:08:23Z", start, 900_000).unwrap(),
            60_000
        );
        assert!(resolve_time("-10 parsecs", start, 900_000).is_err());
        assert_eq!(resolve_time("1795306103", start, 900_000).unwrap(), 60_000);
        assert_eq!(
            resolve_time("1795306103000", start, 900_000).unwrap(),
            60_000
        );
    }
}
