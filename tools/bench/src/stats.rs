//! Order statistics of repeated measurements: benchmarks report medians (robust against the
//! odd slow run on a shared machine) next to the spread.

use std::time::Duration;

/// Median, minimum and maximum of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// The middle value (the mean of the two middle values for an even count).
    pub median: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
    /// How many samples there were.
    pub n: usize,
}

impl Summary {
    /// Summarises `samples`; `None` when there are none (or any is NaN, which has no order).
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() || samples.iter().any(|s| s.is_nan()) {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Summary {
            median,
            min: sorted[0],
            max: sorted[n - 1],
            n,
        })
    }

    /// Summarises durations in milliseconds.
    pub fn of_millis(samples: &[Duration]) -> Option<Summary> {
        let ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        Summary::of(&ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn median(samples: &[f64]) -> Option<f64> {
        Summary::of(samples).map(|s| s.median)
    }

    #[test]
    fn median_of_odd_count_is_the_middle_value_whatever_the_order() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[2.0]), Some(2.0));
    }

    #[test]
    fn median_of_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn empty_or_nan_has_no_median() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn summary_has_extremes_and_count() {
        let s = Summary::of(&[7.0, -1.0, 3.0, 10.0]).unwrap();
        assert_eq!(
            s,
            Summary {
                median: 5.0,
                min: -1.0,
                max: 10.0,
                n: 4
            }
        );
    }

    #[test]
    fn durations_are_summarised_in_milliseconds() {
        let s = Summary::of_millis(&[
            Duration::from_micros(1500),
            Duration::from_millis(3),
            Duration::from_millis(2),
        ])
        .unwrap();
        assert_eq!(s.median, 2.0);
        assert_eq!(s.min, 1.5);
        assert_eq!(s.max, 3.0);
    }
}
