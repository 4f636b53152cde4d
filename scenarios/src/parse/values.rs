//! Reading values that may be randomized (`90s` or `{uniform: [60s, 120s]}`), and memory
//! sizes (`512Mi`).

use crate::duration::Duration;
use crate::model::{Distribution, Sampled};

use super::decode::{suggest, Decoder};
use super::node::{Node, NodeKind, Pos};

/// What the numbers of a sampled value are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Durations written like `90s`, stored in seconds.
    Seconds,
    /// Plain numbers in the named unit (for messages).
    Number(&'static str),
}

/// The range a value must fall in, and how to name it in messages.
#[derive(Debug, Clone)]
pub struct Bounds {
    /// Smallest allowed value.
    pub min: f64,
    /// Largest allowed value.
    pub max: f64,
    /// Whether `max` itself is excluded.
    pub max_exclusive: bool,
    /// Whether `min` itself is excluded.
    pub min_exclusive: bool,
    /// What the range is, for messages ("the incident window 1m to 6m").
    pub context: String,
}

impl Bounds {
    fn contains(&self, v: f64) -> bool {
        let above = if self.min_exclusive {
            v > self.min
        } else {
            v >= self.min
        };
        let below = if self.max_exclusive {
            v < self.max
        } else {
            v <= self.max
        };
        above && below
    }
}

/// The distribution names, in the order the docs list them.
pub const DISTRIBUTIONS: [&str; 5] = ["uniform", "normal", "lognormal", "exponential", "choice"];

/// Formats a value in its unit for messages.
pub fn show(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Seconds => format!("`{}`", Duration::from_secs_f64(v)),
        Unit::Number("") => format!("{v}"),
        Unit::Number(u) => format!("{v} {u}"),
    }
}

fn value(d: &mut Decoder<'_>, node: &Node, what: &str, unit: Unit) -> Option<f64> {
    match unit {
        Unit::Seconds => d.duration(node, what).map(Duration::as_secs_f64),
        Unit::Number(_) => d.number(node, what),
    }
}

fn check(d: &mut Decoder<'_>, pos: Pos, v: f64, what: &str, unit: Unit, bounds: Option<&Bounds>) {
    if let Some(b) = bounds {
        if !b.contains(v) {
            d.error(
                pos,
                format!("{what} {} is outside {}", show(v, unit), b.context),
            );
        }
    }
}

/// A fixed value or a distribution. Every problem is reported; `None` when any was found.
pub fn sampled(
    d: &mut Decoder<'_>,
    node: &Node,
    what: &str,
    unit: Unit,
    bounds: Option<&Bounds>,
) -> Option<Sampled> {
    match &node.kind {
        NodeKind::Scalar { .. } => {
            let v = value(d, node, what, unit)?;
            let before = d.error_count();
            check(d, node.pos, v, what, unit, bounds);
            (d.error_count() == before).then_some(Sampled::Fixed(v))
        }
        NodeKind::Map(entries) if entries.len() == 1 => {
            let (key, body) = &entries[0];
            let name = key.as_scalar().unwrap_or("");
            let before = d.error_count();
            let dist = distribution(d, key.pos, name, body, what, unit, bounds)?;
            (d.error_count() == before).then_some(Sampled::Random(dist))
        }
        NodeKind::Map(_) => {
            d.error_hint(
                node.pos,
                format!("{what}: a distribution is a mapping with exactly one key"),
                format!("use one of: {}", DISTRIBUTIONS.join(", ")),
            );
            None
        }
        _ => {
            let example = match unit {
                Unit::Seconds => {
                    "a duration like `90s` or a distribution like `{uniform: [60s, 120s]}`"
                }
                Unit::Number(_) => "a number or a distribution like `{uniform: [1, 10]}`",
            };
            d.error(
                node.pos,
                format!("expected {what} ({example}), found {}", node.describe()),
            );
            None
        }
    }
}

fn distribution(
    d: &mut Decoder<'_>,
    key_pos: Pos,
    name: &str,
    body: &Node,
    what: &str,
    unit: Unit,
    bounds: Option<&Bounds>,
) -> Option<Distribution> {
    match name {
        "uniform" => {
            let items = d.seq(body, "`uniform` bounds `[low, high]`")?;
            if items.len() != 2 {
                d.error(
                    body.pos,
                    format!(
                        "`uniform` takes two bounds `[low, high]`, found {}",
                        items.len()
                    ),
                );
                return None;
            }
            let low = value(d, &items[0], what, unit);
            let high = value(d, &items[1], what, unit);
            let (low, high) = (low?, high?);
            if low > high {
                d.error(
                    body.pos,
                    format!(
                        "`uniform` low bound {} is above the high bound {}",
                        show(low, unit),
                        show(high, unit)
                    ),
                );
            }
            check(
                d,
                items[0].pos,
                low,
                &format!("{what} lower bound"),
                unit,
                bounds,
            );
            check(
                d,
                items[1].pos,
                high,
                &format!("{what} upper bound"),
                unit,
                bounds,
            );
            Some(Distribution::Uniform { low, high })
        }
        "normal" => {
            let mut m = d.map(body, "a `normal` distribution")?;
            let mean = m.required(d, "mean", "a `normal` distribution");
            let std_dev = m.required(d, "std_dev", "a `normal` distribution");
            m.finish(d, "a `normal` distribution", &["mean", "std_dev"]);
            let mean_v = value(d, mean?, "`mean`", unit);
            let std_v = value(d, std_dev?, "`std_dev`", unit);
            let (mean_v, std_v) = (mean_v?, std_v?);
            if std_v <= 0.0 {
                d.error(std_dev?.pos, "`std_dev` must be greater than zero");
            }
            check(d, mean?.pos, mean_v, &format!("{what} mean"), unit, bounds);
            Some(Distribution::Normal {
                mean: mean_v,
                std_dev: std_v,
            })
        }
        "lognormal" => {
            let mut m = d.map(body, "a `lognormal` distribution")?;
            let mu = m.required(d, "mu", "a `lognormal` distribution");
            let sigma = m.required(d, "sigma", "a `lognormal` distribution");
            m.finish(d, "a `lognormal` distribution", &["mu", "sigma"]);
            // mu and sigma live in log space, so they are plain numbers even for times.
            let mu_v = d.number(mu?, "`mu` (log of the median)");
            let sigma_v = d.number(sigma?, "`sigma`");
            let (mu_v, sigma_v) = (mu_v?, sigma_v?);
            if sigma_v <= 0.0 {
                d.error(sigma?.pos, "`sigma` must be greater than zero");
            }
            if let Some(b) = bounds {
                let median = libm::exp(mu_v);
                if !b.contains(median) {
                    d.error_hint(
                        mu?.pos,
                        format!(
                            "{what} median e^mu = {} is outside {}",
                            show((median * 1000.0).round() / 1000.0, unit),
                            b.context
                        ),
                        "mu is the natural log of the median (mu: 3.0 is a median of about 20)",
                    );
                }
            }
            Some(Distribution::Lognormal {
                mu: mu_v,
                sigma: sigma_v,
            })
        }
        "exponential" => {
            let mut m = d.map(body, "an `exponential` distribution")?;
            let rate = m.optional("rate");
            let mean = m.optional("mean");
            m.finish(d, "an `exponential` distribution", &["rate", "mean"]);
            let rate_v = match (rate, mean) {
                (Some(r), None) => {
                    let v = d.number(r, "`rate`")?;
                    if v <= 0.0 {
                        d.error(r.pos, "`rate` must be greater than zero");
                        return None;
                    }
                    v
                }
                (None, Some(mn)) => {
                    let v = value(d, mn, "`mean`", unit)?;
                    if v <= 0.0 {
                        d.error(mn.pos, "`mean` must be greater than zero");
                        return None;
                    }
                    check(d, mn.pos, v, &format!("{what} mean"), unit, bounds);
                    1.0 / v
                }
                _ => {
                    d.error(
                        body.pos,
                        "an `exponential` distribution takes exactly one of `rate` or `mean`",
                    );
                    return None;
                }
            };
            Some(Distribution::Exponential { rate: rate_v })
        }
        "choice" => {
            let items = d.seq(body, "`choice` values")?;
            if items.is_empty() {
                d.error(body.pos, "`choice` needs at least one value");
                return None;
            }
            let mut values = Vec::with_capacity(items.len());
            for item in items {
                if let Some(v) = value(d, item, what, unit) {
                    check(d, item.pos, v, &format!("{what} choice"), unit, bounds);
                    values.push(v);
                }
            }
            (values.len() == items.len()).then_some(Distribution::Choice { values })
        }
        other => {
            let hint = match suggest(other, DISTRIBUTIONS) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("use one of: {}", DISTRIBUTIONS.join(", ")),
            };
            d.error_hint(
                key_pos,
                format!("{what}: unknown distribution `{other}`"),
                hint,
            );
            None
        }
    }
}

/// A memory size: `512Mi`, `1Gi`, `256M`, `2G`, or a plain number of MB.
pub fn memory_mb(d: &mut Decoder<'_>, node: &Node, what: &str) -> Option<f64> {
    let text = match &node.kind {
        NodeKind::Scalar { text, .. } => text.trim(),
        _ => {
            d.error(
                node.pos,
                format!(
                    "expected {what} (a size like `512Mi` or `1Gi`), found {}",
                    node.describe()
                ),
            );
            return None;
        }
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (num, suffix) = text.split_at(split);
    let factor = match suffix {
        "" | "Mi" | "M" | "MB" => Some(1.0),
        "Gi" | "GB" => Some(1024.0),
        "G" => Some(1000.0),
        "Ki" => Some(1.0 / 1024.0),
        _ => None,
    };
    match (num.parse::<f64>(), factor) {
        (Ok(v), Some(f)) if v.is_finite() && v > 0.0 => Some(v * f),
        _ => {
            d.error_hint(
                node.pos,
                format!("`{text}` is not a memory size"),
                "write a number with `Mi` or `Gi`, like `512Mi`, or a plain number of MB",
            );
            None
        }
    }
}
