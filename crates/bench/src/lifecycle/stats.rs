//! Percentiles of a handful of timings (nearest rank, so every figure is one that was measured).

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    pub samples_ms: Vec<f64>,
    pub median_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Timing {
    /// The samples kept in the order measured; NaN figures when there are none.
    pub fn of(samples_ms: Vec<f64>) -> Timing {
        let mut sorted = samples_ms.clone();
        sorted.sort_by(f64::total_cmp);
        Timing {
            median_ms: percentile(&sorted, 50.0),
            p90_ms: percentile(&sorted, 90.0),
            p99_ms: percentile(&sorted, 99.0),
            max_ms: sorted.last().copied().unwrap_or(f64::NAN),
            samples_ms,
        }
    }
}

/// The nearest-rank percentile of sorted values: the smallest value with at least `p`% of the
/// values at or below it.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
