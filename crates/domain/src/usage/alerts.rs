//! Usage anomaly alerts (seed 003 §15): an account whose use of an event drops far below its own
//! recent history.
//!
//! The statistic: the last 7 days' count against the 8 weeks before, week by week. With the
//! baseline's median m and median absolute deviation MAD, the robust z-score is
//! z = (last − m) / (1.4826 × MAD), and an account is flagged when z ≤ −3 and the drop
//! (m − last) / m is at least 50%. Why: usage is weekly-seasonal (weekends) and heavy-tailed
//! (one busy week), so whole weeks and the median/MAD, which one odd week cannot move, are
//! steadier than a mean and standard deviation; the 50% floor keeps a steady account's small dip
//! (where MAD is near 0) from alerting, and a baseline median under 5 a week is too little to judge.

use serde::Serialize;

pub const BASELINE_WEEKS: usize = 8;
pub const Z_THRESHOLD: f64 = -3.0;
pub const MIN_DROP: f64 = 0.5;
pub const MIN_BASELINE: f64 = 5.0;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Drop {
    pub baseline_median: f64,
    pub baseline_mad: f64,
    pub last_week: f64,
    /// None when the baseline does not vary at all (MAD = 0): then the drop alone decides.
    pub robust_z: Option<f64>,
    pub drop: f64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// `weeks`: weekly counts, oldest first, the last being the week that ends on the observation
/// date; the [`BASELINE_WEEKS`] before it are the baseline. Some(drop) when it is an anomaly.
pub fn weekly_drop(weeks: &[f64]) -> Option<Drop> {
    let (last, baseline) = weeks.split_last()?;
    if baseline.len() < BASELINE_WEEKS {
        return None;
    }
    let mut base: Vec<f64> = baseline[baseline.len() - BASELINE_WEEKS..].to_vec();
    let m = median(&mut base);
    if m < MIN_BASELINE {
        return None;
    }
    let mut dev: Vec<f64> = base.iter().map(|x| (x - m).abs()).collect();
    let mad = median(&mut dev);
    let z = (mad > 0.0).then(|| (last - m) / (1.4826 * mad));
    let drop = (m - last) / m;
    let flagged = drop >= MIN_DROP && z.is_none_or(|z| z <= Z_THRESHOLD);
    flagged.then_some(Drop { baseline_median: m, baseline_mad: mad, last_week: *last, robust_z: z, drop })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collapse_is_flagged_with_its_figures() {
        // Baseline 20, 22, 18, 21, 19, 20, 23, 17: median 20, deviations 0,2,2,1,1,0,3,3 → MAD 1.5.
        let weeks = [20.0, 22.0, 18.0, 21.0, 19.0, 20.0, 23.0, 17.0, 4.0];
        let d = weekly_drop(&weeks).unwrap();
        assert_eq!((d.baseline_median, d.baseline_mad, d.last_week), (20.0, 1.5, 4.0));
        assert!((d.robust_z.unwrap() - (-16.0 / 2.2239)).abs() < 1e-9);
        assert!((d.drop - 0.8).abs() < 1e-12);
    }

    #[test]
    fn ordinary_weeks_small_accounts_and_short_history_are_not() {
        assert_eq!(weekly_drop(&[20.0, 22.0, 18.0, 21.0, 19.0, 20.0, 23.0, 17.0, 15.0]), None, "a 25% dip is ordinary");
        assert_eq!(weekly_drop(&[3.0, 4.0, 3.0, 2.0, 4.0, 3.0, 3.0, 4.0, 0.0]), None, "too little use to judge");
        assert_eq!(weekly_drop(&[20.0; 5]), None, "fewer than 8 weeks of history");
        // A perfectly steady account (MAD 0) that halves is flagged on the drop alone.
        let d = weekly_drop(&[10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 5.0]).unwrap();
        assert_eq!((d.robust_z, d.drop), (None, 0.5));
        // One wild week in the baseline does not hide a collapse (the median ignores it).
        assert!(weekly_drop(&[10.0, 10.0, 11.0, 9.0, 200.0, 10.0, 10.0, 11.0, 2.0]).is_some());
    }
}
