//! The Prometheus text format, as far as the workload writes it: samples with labels,
//! and quantiles estimated from histogram bucket increments (what `histogram_quantile`
//! over a `rate` does).

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name (with `_total`, `_bucket` … suffixes as written).
    pub name: String,
    /// Labels, sorted by key.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

/// Parses the exposition text; malformed lines are skipped (a scrape must not fail on
/// one odd line).
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let (head, value) = match line.find('{') {
        Some(open) => {
            let close = line.rfind('}')?;
            let labels = parse_labels(&line[open + 1..close])?;
            let value = line[close + 1..].split_whitespace().next()?;
            ((line[..open].to_owned(), labels), value)
        }
        None => {
            let mut parts = line.split_whitespace();
            let name = parts.next()?;
            ((name.to_owned(), Vec::new()), parts.next()?)
        }
    };
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: head.0,
        labels: head.1,
        value,
    })
}

fn parse_labels(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, e)) = chars.next() {
                        value.push(match e {
                            'n' => '\n',
                            other => other,
                        });
                    }
                }
                '"' => {
                    end = Some(i);
                    break;
                }
                c => value.push(c),
            }
        }
        out.push((key.trim().to_owned(), value));
        rest = after[end? + 1..]
            .trim_start()
            .trim_start_matches(',')
            .trim_start();
    }
    out.sort();
    Some(out)
}

/// The `q` quantile of the observations between two scrapes of one histogram, from its
/// cumulative buckets `(le, count)` before and after; linear within a bucket. `None`
/// when nothing was observed in between.
pub fn quantile(q: f64, before: &[(f64, f64)], after: &[(f64, f64)]) -> Option<f64> {
    let delta: Vec<(f64, f64)> = after
        .iter()
        .map(|&(le, n)| {
            let prev = before
                .iter()
                .find(|(b, _)| *b == le)
                .map_or(0.0, |(_, c)| *c);
            // A restart resets the counters: the new counts are the increment.
            (le, if n >= prev { n - prev } else { n })
        })
        .collect();
    let total = delta.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(le, count) in &delta {
        if count >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            let in_bucket = count - lower.1;
            let frac = if in_bucket > 0.0 {
                (rank - lower.1) / in_bucket
            } else {
                1.0
            };
            return Some(lower.0 + (le - lower.0) * frac);
        }
        lower = (le, count);
    }
    Some(lower.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_values_and_skips_comments() {
        let s = parse(
            "# HELP x y\nhttp_requests_total{code=\"200\"} 5\nup 1\nbad line here\nh_bucket{le=\"+Inf\",peer=\"a\\\"b\"} 3\n",
        );
        assert_eq!(s.len(), 2 + 1);
        assert_eq!(s[0].labels, vec![("code".to_owned(), "200".to_owned())]);
        assert_eq!(s[1].value, 1.0);
        assert_eq!(s[2].labels[0], ("le".to_owned(), "+Inf".to_owned()));
        assert_eq!(s[2].labels[1].1, "a\"b");
    }

    #[test]
    fn quantile_interpolates_within_the_bucket_of_the_increment() {
        let before = [(0.1, 10.0), (1.0, 10.0), (f64::INFINITY, 10.0)];
        let after = [(0.1, 10.0), (1.0, 20.0), (f64::INFINITY, 20.0)];
        // All 10 new observations fell in (0.1, 1]: the median is mid-bucket.
        let p50 = quantile(0.5, &before, &after).unwrap();
        assert!((p50 - 0.55).abs() < 1e-9, "{p50}");
        assert_eq!(quantile(0.5, &after, &after), None);
    }
}
