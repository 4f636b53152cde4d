//! Change detection on one series: a robust z-score of each point against the early,
//! presumably healthy, part of the window.

/// Which way a signal moves when something is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Bad when it rises (errors, latency, memory).
    Up,
    /// Bad when it falls (availability, cache hit ratio).
    Down,
}

/// A detected change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// Index of the first anomalous point.
    pub onset: usize,
    /// Largest robust z-score after the onset (in the bad direction).
    pub peak_z: f64,
    /// Median of the healthy part.
    pub baseline: f64,
    /// Most extreme value after the onset.
    pub extreme: f64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Finds a sustained change in `values` (nulls as NaN). The first fifth of the window
/// (at least three points) is the reference; a change needs two consecutive points
/// beyond `threshold` robust z-scores and differing from the reference by at least
/// `floor` and by `rel` times the reference, so that a flat series does not flag on
/// noise and a busy one does not flag on jitter.
pub fn detect(
    values: &[f64],
    dir: Direction,
    threshold: f64,
    floor: f64,
    rel: f64,
) -> Option<Change> {
    let n = values.len();
    if n < 6 {
        return None;
    }
    let split = (n / 5).max(3);
    let mut reference: Vec<f64> = values[..split]
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    if reference.is_empty() {
        return None;
    }
    let base = median(&mut reference);
    let mut dev: Vec<f64> = reference.iter().map(|v| (v - base).abs()).collect();
    let mad = median(&mut dev);
    let min_abs = floor.max(rel * base.abs());
    let scale = (1.4826 * mad)
        .max(0.05 * base.abs())
        .max(min_abs / threshold)
        .max(1e-12);
    let z = |v: f64| match dir {
        Direction::Up => (v - base) / scale,
        Direction::Down => (base - v) / scale,
    };
    let bad = |v: f64| v.is_finite() && z(v) >= threshold && (v - base).abs() >= min_abs;
    let onset = (split..n.saturating_sub(1))
        .find(|&i| bad(values[i]) && bad(values[i + 1]))
        .or_else(|| bad(values[n - 1]).then_some(n - 1))?;
    let after = values[onset..].iter().copied().filter(|v| v.is_finite());
    let extreme = match dir {
        Direction::Up => after.fold(f64::NEG_INFINITY, f64::max),
        Direction::Down => after.fold(f64::INFINITY, f64::min),
    };
    Some(Change {
        onset,
        peak_z: z(extreme),
        baseline: base,
        extreme,
    })
}

/// Index of the first missing point after the reference part, when at least one is
/// missing there (failed scrapes: the target was down or frozen).
pub fn first_gap(values: &[f64]) -> Option<usize> {
    let split = (values.len() / 5).max(3);
    (split..values.len()).find(|&i| !values[i].is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_step_and_ignores_noise() {
        let mut v: Vec<f64> = (0..30).map(|i| 1.0 + 0.01 * f64::from(i % 3)).collect();
        assert_eq!(detect(&v, Direction::Up, 4.0, 0.1, 0.2), None);
        for x in v.iter_mut().skip(18) {
            *x = 3.0;
        }
        let c = detect(&v, Direction::Up, 4.0, 0.1, 0.2).unwrap();
        assert_eq!(c.onset, 18);
        assert_eq!(c.extreme, 3.0);
        assert_eq!(detect(&v, Direction::Down, 4.0, 0.1, 0.2), None);
        let flat = vec![0.0; 30];
        assert_eq!(detect(&flat, Direction::Up, 4.0, 0.1, 0.2), None);
        let mut gaps = vec![1.0; 30];
        gaps[20] = f64::NAN;
        assert_eq!(first_gap(&gaps), Some(20));
    }
}
