//! Latency distributions without per-request work.
//!
//! A service's successful responses are modelled as log-normal. Sequential calls add up;
//! the sum of log-normals is approximated by one log-normal with the same mean and
//! variance (Fenton–Wilkinson), which is what makes "latency adds up along the path"
//! cost a few flops per edge. Failures are point masses (fast: refused / 5xx at once;
//! slow: timeouts), so a service's full latency distribution is a three-part mixture.

use std::f64::consts::SQRT_2;

/// A latency as mean and variance (ms, ms²); sums of independent parts just add.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Moments {
    pub mean: f64,
    pub var: f64,
}

impl Moments {
    /// A log-normal with this median and shape.
    #[cfg(test)]
    pub fn lognormal(median_ms: f64, sigma: f64) -> Self {
        let mu = libm::log(median_ms.max(1e-3));
        let s2 = sigma * sigma;
        let e = libm::exp(2.0 * mu + s2);
        Moments {
            mean: libm::exp(mu + s2 / 2.0),
            var: (libm::exp(s2) - 1.0) * e,
        }
    }

    /// A log-normal with this median, given the shape factors `lognormal_factors`
    /// returns for its sigma: no transcendental call on the hot path.
    pub fn lognormal_with(median_ms: f64, factors: (f64, f64)) -> Self {
        Moments {
            mean: median_ms * factors.0,
            var: median_ms * median_ms * factors.1,
        }
    }

    /// The median of the log-normal with these moments.
    pub fn median(self) -> f64 {
        let mean = self.mean.max(1e-3);
        mean / libm::sqrt(1.0 + self.var.max(0.0) / (mean * mean))
    }

    /// Mean and second moment, the form that averages over time windows.
    pub fn second_moment(self) -> f64 {
        self.var + self.mean * self.mean
    }

    /// Moments back from a mean and a second moment.
    pub fn from_second(mean: f64, second: f64) -> Self {
        Moments {
            mean,
            var: (second - mean * mean).max(0.0),
        }
    }

    /// A delay of `ms` that happens with probability `p`.
    pub fn bernoulli(p: f64, ms: f64) -> Self {
        Moments {
            mean: p * ms,
            var: p * (1.0 - p) * ms * ms,
        }
    }

    /// A delay of `ms` with standard deviation `sd`.
    pub fn normal(ms: f64, sd: f64) -> Self {
        Moments {
            mean: ms,
            var: sd * sd,
        }
    }

    /// The sum of two independent latencies.
    pub fn plus(self, o: Moments) -> Self {
        Moments {
            mean: self.mean + o.mean,
            var: self.var + o.var,
        }
    }

    /// Scales the latency by `k` (queueing slows every part of the work alike).
    pub fn scaled(self, k: f64) -> Self {
        Moments {
            mean: self.mean * k,
            var: self.var * k * k,
        }
    }

    /// The log-normal with the same moments, as `(mu, sigma)` of the underlying normal.
    pub fn to_lognormal(self) -> (f64, f64) {
        let mean = self.mean.max(1e-3);
        let s2 = libm::log1p(self.var.max(0.0) / (mean * mean));
        (libm::log(mean) - s2 / 2.0, libm::sqrt(s2).max(1e-3))
    }
}

/// `(mean / median, var / median²)` of a log-normal with shape `sigma`.
pub(crate) fn lognormal_factors(sigma: f64) -> (f64, f64) {
    let s2 = sigma * sigma;
    (libm::exp(s2 / 2.0), (libm::exp(s2) - 1.0) * libm::exp(s2))
}

/// Standard normal quantiles at the midpoints of `n` equal-probability bins: a draw
/// is a table lookup, which keeps per-span sampling free of transcendental calls.
pub(crate) fn normal_table<const N: usize>() -> [f64; N] {
    let mut t = [0.0; N];
    for (k, z) in t.iter_mut().enumerate() {
        *z = inverse_normal((k as f64 + 0.5) / N as f64);
    }
    t
}

/// P(X > t) for a log-normal `(mu, sigma)`.
pub(crate) fn tail_above(mu: f64, sigma: f64, t_ms: f64) -> f64 {
    if t_ms <= 0.0 {
        return 1.0;
    }
    let z = (libm::log(t_ms) - mu) / (sigma * SQRT_2);
    0.5 * libm::erfc(z)
}

/// The inverse of the standard normal CDF (Acklam's rational approximation, relative
/// error below 1.2e-9), for arbitrary quantiles of a mixture.
pub(crate) fn inverse_normal(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let low = 0.024_25;
    if p < low {
        let q = libm::sqrt(-2.0 * libm::log(p));
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = libm::sqrt(-2.0 * libm::log(1.0 - p));
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

/// A latency distribution: a share of fast failures at `fast_ms`, a share of slow
/// outcomes at `slow_ms`, and a log-normal body for the rest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Mix {
    pub fast: f64,
    pub fast_ms: f64,
    pub slow: f64,
    pub slow_ms: f64,
    pub mu: f64,
    pub sigma: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            fast: 0.0,
            fast_ms: 1.0,
            slow: 0.0,
            slow_ms: 0.0,
            mu: 0.0,
            sigma: 0.3,
        }
    }
}

impl Mix {
    /// The `q`-quantile in ms. Fast failures sort first, slow outcomes last.
    pub fn quantile(&self, q: f64) -> f64 {
        let body = (1.0 - self.fast - self.slow).max(0.0);
        if q < self.fast {
            return self.fast_ms;
        }
        if body <= 1e-9 || q >= self.fast + body {
            return if self.slow > 0.0 {
                self.slow_ms
            } else {
                self.fast_ms
            };
        }
        let qb = ((q - self.fast) / body).clamp(1e-9, 1.0 - 1e-9);
        libm::exp(self.mu + self.sigma * inverse_normal(qb))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_round_trip_through_lognormal() {
        let m = Moments::lognormal(20.0, 0.4);
        let (mu, sigma) = m.to_lognormal();
        assert!((libm::exp(mu) - 20.0).abs() < 1e-6);
        assert!((sigma - 0.4).abs() < 1e-9);
    }

    #[test]
    fn inverse_normal_matches_known_points() {
        assert!(inverse_normal(0.5).abs() < 1e-9);
        assert!((inverse_normal(0.99) - 2.326_347_874).abs() < 1e-6);
        assert!((inverse_normal(0.01) + 2.326_347_874).abs() < 1e-6);
    }

    #[test]
    fn mixture_quantiles_put_timeouts_in_the_tail() {
        let (mu, sigma) = Moments::lognormal(50.0, 0.3).to_lognormal();
        let mix = Mix {
            slow: 0.05,
            slow_ms: 3000.0,
            mu,
            sigma,
            ..Mix::default()
        };
        assert!((mix.quantile(0.5) - 50.0).abs() < 5.0);
        assert_eq!(mix.quantile(0.99), 3000.0);
        assert!(tail_above(mu, sigma, 1000.0) < 1e-6);
    }
}
