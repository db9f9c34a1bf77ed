//! Portfolio views shared by the dashboard and the account page: the touch-model mix against
//! its target (seed 003 §7) and an account's MRR month by month.

use crate::metrics::retention::RetentionSums;
use crate::metrics::Month;
use crate::model::{Subscription, TouchModel};
use serde::Serialize;

/// The target mix of seed 003 §7: 20% high touch, 60% hybrid, 20% tech touch (of accounts).
pub const TARGET_MIX: [(TouchModel, f64); 3] = [(TouchModel::High, 0.2), (TouchModel::Hybrid, 0.6), (TouchModel::Tech, 0.2)];

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MixRow {
    /// `high`, `hybrid`, `tech`, or `(none)` for accounts without a touch model.
    pub touch_model: String,
    pub accounts: u64,
    pub account_share: f64,
    pub mrr: f64,
    pub mrr_share: f64,
    /// Null for `(none)`.
    pub target_share: Option<f64>,
    /// account_share − target_share, in points of share (0.05 = five points over target).
    pub gap: Option<f64>,
}

/// The mix of active accounts per touch model, from retention sums grouped by touch model
/// (`accounts_start`, `mrr_start` at one date). Every target row is present, even when empty.
pub fn touch_mix(groups: &[RetentionSums]) -> Vec<MixRow> {
    let accounts: u64 = groups.iter().map(|g| g.accounts_start).sum();
    let mrr: i64 = groups.iter().map(|g| g.mrr_start).sum();
    let share = |part: f64, whole: f64| if whole > 0.0 { part / whole } else { 0.0 };
    let row = |name: &str, target: Option<f64>| {
        let g = groups.iter().find(|g| g.group == name);
        let (n, m) = g.map(|g| (g.accounts_start, g.mrr_start)).unwrap_or((0, 0));
        let account_share = share(n as f64, accounts as f64);
        MixRow {
            touch_model: name.to_string(),
            accounts: n,
            account_share,
            mrr: crate::money::to_units(m),
            mrr_share: share(m as f64, mrr as f64),
            target_share: target,
            gap: target.map(|t| account_share - t),
        }
    };
    let mut rows: Vec<MixRow> = TARGET_MIX.iter().map(|(t, share)| row(t.as_str(), Some(*share))).collect();
    if groups.iter().any(|g| g.group == "(none)") {
        rows.push(row("(none)", None));
    }
    rows
}

/// MRR on the first day of each month `from..=to`, summed over the account's subscription
/// periods (a period covers `start <= d < end`).
pub fn monthly_mrr(subs: &[Subscription], from: Month, to: Month) -> Vec<(Month, f64)> {
    let mut out = Vec::new();
    let mut m = from;
    while m <= to {
        let d = m.first_day();
        let mrr = subs.iter().filter(|s| s.start_date <= d && s.end_date.is_none_or(|e| d < e)).map(|s| s.mrr).sum();
        out.push((m, mrr));
        m = m.next();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn sums(group: &str, accounts: u64, mrr: i64) -> RetentionSums {
        RetentionSums { group: group.into(), accounts_start: accounts, mrr_start: mrr, ..Default::default() }
    }

    #[test]
    fn mix_against_target() {
        // 10 accounts: 3 high (60,000), 5 hybrid (30,000), 2 tech (10,000) in cents.
        let rows = touch_mix(&[sums("high", 3, 60_000), sums("hybrid", 5, 30_000), sums("tech", 2, 10_000)]);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].touch_model, "high");
        assert!((rows[0].account_share - 0.3).abs() < 1e-12);
        assert!((rows[0].gap.unwrap() - 0.1).abs() < 1e-12);
        assert!((rows[1].gap.unwrap() + 0.1).abs() < 1e-12);
        assert!((rows[0].mrr_share - 0.6).abs() < 1e-12);
        assert_eq!(rows[0].mrr, 600.0);
        assert!((rows[2].gap.unwrap() - 0.0).abs() < 1e-12);
    }

    #[test]
    fn mix_keeps_empty_targets_and_unassigned() {
        let rows = touch_mix(&[sums("tech", 1, 100), sums("(none)", 1, 100)]);
        assert_eq!(rows.iter().map(|r| r.touch_model.as_str()).collect::<Vec<_>>(), ["high", "hybrid", "tech", "(none)"]);
        assert_eq!(rows[0].accounts, 0);
        assert_eq!(rows[2].account_share, 0.5);
        assert_eq!(rows[3].target_share, None);
        assert!(touch_mix(&[]).iter().all(|r| r.account_share == 0.0));
    }

    #[test]
    fn mrr_per_month_start() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let sub = |start: &str, end: Option<&str>, mrr: f64| Subscription {
            product: "p".into(),
            start_date: d(start),
            end_date: end.map(d),
            mrr,
            quantity: None,
            units: None,
            bill_period_months: None,
            discount: None,
            currency: "JPY".into(),
        };
        // 100 from Jan 15 to Mar 1 (ends on Mar 1: not covered), 50 from Feb 1 on.
        let subs = [sub("2024-01-15", Some("2024-03-01"), 100.0), sub("2024-02-01", None, 50.0)];
        let m = |s: &str| Month::parse(s).unwrap();
        let got: Vec<f64> = monthly_mrr(&subs, m("2024-01"), m("2024-04")).into_iter().map(|x| x.1).collect();
        assert_eq!(got, [0.0, 150.0, 50.0, 50.0]);
    }
}
