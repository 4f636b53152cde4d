//! Durations as scenario files write them: `90s`, `5m`, `1h30m`, `250ms`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A span of time with millisecond precision. Written and read as `90s`, `5m`, `1h30m`,
/// `250ms` (units `ms`, `s`, `m`, `h`, combinable from largest to smallest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    millis: u64,
}

/// Why a duration string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The string is empty.
    #[error("empty duration; write it like `90s`, `5m` or `1h30m`")]
    Empty,
    /// A number without a unit, or an unknown unit.
    #[error(
        "`{0}` is not a duration; write a number and a unit (ms, s, m, h), like `90s` or `5m`"
    )]
    Malformed(String),
    /// The value does not fit.
    #[error("`{0}` is too long; durations are limited to 100 days")]
    TooLong(String),
}

const MAX_MILLIS: u64 = 100 * 24 * 3600 * 1000;

impl Duration {
    /// Zero.
    pub const ZERO: Duration = Duration { millis: 0 };

    /// From milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Duration { millis }
    }

    /// From whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Duration {
            millis: secs * 1000,
        }
    }

    /// From fractional seconds, rounded to the millisecond; negative values become zero.
    pub fn from_secs_f64(secs: f64) -> Self {
        let millis = (secs * 1000.0).round();
        Duration {
            millis: if millis.is_finite() && millis > 0.0 {
                (millis as u64).min(MAX_MILLIS)
            } else {
                0
            },
        }
    }

    /// Milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.millis
    }

    /// Whole seconds, rounded down.
    pub const fn as_secs(self) -> u64 {
        self.millis / 1000
    }

    /// Seconds as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.millis as f64 / 1000.0
    }

    /// The sum, saturating.
    pub fn saturating_add(self, other: Duration) -> Duration {
        Duration {
            millis: self.millis.saturating_add(other.millis),
        }
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        std::time::Duration::from_millis(d.millis)
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text.is_empty() {
            return Err(DurationError::Empty);
        }
        let malformed = || DurationError::Malformed(text.to_owned());
        let mut total: f64 = 0.0;
        let mut rest = text;
        let mut last_rank = usize::MAX;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(malformed)?;
            if num_len == 0 {
                return Err(malformed());
            }
            let value: f64 = rest[..num_len].parse().map_err(|_| malformed())?;
            rest = &rest[num_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let (factor, rank) = match &rest[..unit_len] {
                "ms" => (1.0, 0),
                "s" => (1000.0, 1),
                "m" => (60_000.0, 2),
                "h" => (3_600_000.0, 3),
                _ => return Err(malformed()),
            };
            if rank >= last_rank {
                return Err(malformed());
            }
            last_rank = rank;
            total += value * factor;
            rest = &rest[unit_len..];
        }
        if total > MAX_MILLIS as f64 {
            return Err(DurationError::TooLong(text.to_owned()));
        }
        Ok(Duration {
            millis: total.round() as u64,
        })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.millis;
        if ms == 0 {
            return f.write_str("0s");
        }
        let (h, m, s, rem) = (
            ms / 3_600_000,
            (ms / 60_000) % 60,
            (ms / 1000) % 60,
            ms % 1000,
        );
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 {
            write!(f, "{s}s")?;
        }
        if rem > 0 {
            write!(f, "{rem}ms")?;
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_forms() {
        let cases = [
            ("90s", 90_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("250ms", 250),
            ("1.5s", 1500),
            ("2m30s", 150_000),
        ];
        for (text, ms) in cases {
            assert_eq!(
                text.parse::<Duration>(),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for text in ["", "90", "s", "5 minutes", "1s1m", "1m1m", "-5s", "1e3s"] {
            assert!(text.parse::<Duration>().is_err(), "{text:?} parsed");
        }
        assert!(matches!(
            "9999999h".parse::<Duration>(),
            Err(DurationError::TooLong(_))
        ));
    }

    #[test]
    fn display_round_trips() {
        for text in ["90s", "5m", "1h30m", "250ms", "1m1s500ms", "0s"] {
            let d: Duration = text.parse().expect("parses");
            assert_eq!(d.to_string().parse::<Duration>(), Ok(d));
        }
        assert_eq!(Duration::from_secs(90).to_string(), "1m30s");
    }
}
