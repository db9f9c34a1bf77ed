//! ARR and ARPA at a date, and churn split into avoidable / unavoidable (seed 000 ch.3 (1), (5)).
//!
//! - `arr` = 12 × MRR at the date; `arpa` = MRR / active accounts (monthly, per account).
//! - Churn split: churn records dated `from <= churned_on <= to`; MRR lost is the record's `mrr_lost`,
//!   or else the account's MRR the day before it churned.
//!
//! Worked example: accounts with MRR 100 and 300 → mrr 400, arr 4,800, arpa 200.

use super::{ratio, Unit};
use crate::model::{AccountDims, ChurnReason, ChurnRecord};
use crate::money::{to_units, Cents};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ArrRow {
    pub group: String,
    pub at: NaiveDate,
    pub accounts_active: u64,
    pub mrr: f64,
    pub arr: f64,
    pub arpa: Option<f64>,
    /// This group's share of the company's ARR.
    pub share: Option<f64>,
}

pub fn arr(groups: &[(String, Vec<&Unit>)], at: NaiveDate) -> Vec<ArrRow> {
    let sums: Vec<(u64, Cents)> = groups
        .iter()
        .map(|(_, units)| {
            units.iter().map(|u| u.timeline.mrr_at(at)).filter(|m| *m > 0).fold((0, 0), |(n, s), m| (n + 1, s + m))
        })
        .collect();
    let total = sums.first().map_or(0, |s| s.1);
    groups
        .iter()
        .zip(sums)
        .map(|((group, _), (n, mrr))| ArrRow {
            group: group.clone(),
            at,
            accounts_active: n,
            mrr: to_units(mrr),
            arr: to_units(mrr * 12),
            arpa: ratio(to_units(mrr), n as f64),
            share: ratio(mrr as f64, total as f64),
        })
        .collect()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChurnCount {
    pub accounts: u64,
    pub mrr_lost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChurnSplit {
    pub group: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub churned: ChurnCount,
    pub avoidable: ChurnCount,
    pub unavoidable: ChurnCount,
    /// Avoidable share of churned accounts.
    pub avoidable_share: Option<f64>,
    /// Churned accounts per reason code.
    pub by_reason: BTreeMap<String, u64>,
}

/// The MRR a churn record dated `day` lost, when it does not say: the MRR the day before, while
/// the account still paid then (a record dated on or before its last paid day); else, for a
/// record written after the fact (an exit survey a week later), the MRR just before the last fall
/// to zero on or before `day`.
fn mrr_lost(timeline: &super::Timeline, day: NaiveDate) -> Cents {
    match timeline.mrr_before(day) {
        0 => timeline.churn_days().into_iter().filter(|c| *c <= day).last().map_or(0, |c| timeline.mrr_before(c)),
        mrr => mrr,
    }
}

/// `group_of` maps an account to its group (e.g. its segment); "all" is always first.
pub fn churn_split(
    records: &[(String, ChurnRecord)],
    timelines: &HashMap<&str, &Unit>,
    dims: &[AccountDims],
    group_of: impl Fn(&AccountDims) -> Option<String>,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<ChurnSplit> {
    let dims: HashMap<&str, &AccountDims> = dims.iter().map(|d| (d.account_id.as_str(), d)).collect();
    let mut out: BTreeMap<String, ChurnSplit> = BTreeMap::new();
    let empty = |group: &str| ChurnSplit {
        group: group.to_string(),
        from,
        to,
        churned: ChurnCount::default(),
        avoidable: ChurnCount::default(),
        unavoidable: ChurnCount::default(),
        avoidable_share: None,
        by_reason: ChurnReason::ALL.iter().map(|r| (r.to_string(), 0)).collect(),
    };
    out.insert(String::new(), empty("all"));
    let in_range: Vec<&(String, ChurnRecord)> = records.iter().filter(|(_, r)| r.churned_on >= from && r.churned_on <= to).collect();
    // An account that churned twice in the range (and came back between) is one churned account
    // that lost MRR twice; it is avoidable or not as its latest churn in the range was, so the
    // two classes add up to the churned accounts.
    let mut latest: HashMap<&str, &ChurnRecord> = HashMap::new();
    for (account, rec) in &in_range {
        let kept = latest.entry(account.as_str()).or_insert(rec);
        if rec.churned_on >= kept.churned_on {
            *kept = rec;
        }
    }
    let mut counted: std::collections::HashSet<(String, String, &str)> = std::collections::HashSet::new();
    for (account, rec) in in_range {
        let lost = rec.mrr_lost.unwrap_or_else(|| timelines.get(account.as_str()).map_or(0.0, |u| to_units(mrr_lost(&u.timeline, rec.churned_on))));
        let group = dims.get(account.as_str()).and_then(|d| group_of(d)).unwrap_or_else(|| super::units::NO_GROUP.into());
        let class_of_account = latest[account.as_str()].avoidable;
        for key in [String::new(), format!("~{group}")] {
            let mut first = |part: &str| counted.insert((key.clone(), part.to_string(), account.as_str()));
            let whole = first("all");
            let reason = first(&format!("reason:{}", rec.reason));
            let split = out.entry(key).or_insert_with(|| empty(&group));
            split.churned.accounts += whole as u64;
            split.churned.mrr_lost += lost;
            let class = if class_of_account { &mut split.avoidable } else { &mut split.unavoidable };
            class.accounts += whole as u64;
            // MRR goes to the class of the churn that lost it.
            let class = if rec.avoidable { &mut split.avoidable } else { &mut split.unavoidable };
            class.mrr_lost += lost;
            *split.by_reason.entry(rec.reason.to_string()).or_default() += reason as u64;
        }
    }
    let mut rows: Vec<ChurnSplit> = out.into_values().collect();
    for r in &mut rows {
        r.avoidable_share = ratio(r.avoidable.accounts as f64, r.churned.accounts as f64);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Timeline;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn unit(id: &str, deltas: &[(&str, Cents)]) -> Unit {
        Unit { account_id: id.into(), group: "all".into(), timeline: Timeline::from_deltas(deltas.iter().map(|(s, c)| (d(s), *c))) }
    }

    #[test]
    fn arr_and_arpa_worked_example() {
        let (a, b) = (unit("A", &[("2024-01-01", 10000)]), unit("B", &[("2024-01-01", 30000)]));
        let rows = arr(&[("all".into(), vec![&a, &b]), ("smb".into(), vec![&a])], d("2024-06-01"));
        assert_eq!((rows[0].mrr, rows[0].arr, rows[0].arpa), (400.0, 4800.0, Some(200.0)));
        assert_eq!(rows[1].share, Some(0.25));
    }

    #[test]
    fn churn_split_by_segment() {
        let a = unit("A", &[("2024-01-01", 10000), ("2024-03-01", -10000)]);
        let timelines: HashMap<&str, &Unit> = [("A", &a)].into_iter().collect();
        let rec = |reason: ChurnReason, on: &str, lost: Option<f64>| ChurnRecord {
            churned_on: d(on),
            reason,
            avoidable: reason.avoidable_by_default(),
            mrr_lost: lost,
            note: None,
        };
        let records = vec![
            ("A".to_string(), rec(ChurnReason::Price, "2024-03-01", None)),
            ("B".to_string(), rec(ChurnReason::Acquired, "2024-04-01", Some(50.0))),
            ("C".to_string(), rec(ChurnReason::Price, "2025-01-01", Some(10.0))),
        ];
        let dims = vec![
            AccountDims { account_id: "A".into(), segment: Some("smb".into()), ..Default::default() },
            AccountDims { account_id: "B".into(), segment: Some("enterprise".into()), ..Default::default() },
        ];
        let rows = churn_split(&records, &timelines, &dims, |d| d.segment.clone(), d("2024-01-01"), d("2024-12-31"));
        assert_eq!(rows.iter().map(|r| r.group.as_str()).collect::<Vec<_>>(), vec!["all", "enterprise", "smb"]);
        assert_eq!((rows[0].churned.accounts, rows[0].avoidable.mrr_lost, rows[0].unavoidable.mrr_lost), (2, 100.0, 50.0));
        assert_eq!(rows[0].avoidable_share, Some(0.5));
        assert_eq!(rows[2].by_reason["price"], 1);
        // A churns again in December after coming back: still one churned account, MRR lost twice.
        let mut again = records.clone();
        again.push(("A".to_string(), rec(ChurnReason::Price, "2024-12-01", Some(30.0))));
        let rows = churn_split(&again, &timelines, &dims, |d| d.segment.clone(), d("2024-01-01"), d("2024-12-31"));
        assert_eq!((rows[0].churned.accounts, rows[0].avoidable.accounts, rows[0].avoidable.mrr_lost), (2, 1, 130.0));
        assert_eq!((rows[2].churned.accounts, rows[2].by_reason["price"]), (1, 1));
        // A churns first for price (avoidable), then, back again, is acquired (unavoidable): one
        // account, unavoidable as its latest churn; each churn's MRR stays with its own class.
        let mut twice = records.clone();
        twice.push(("A".to_string(), rec(ChurnReason::Acquired, "2024-12-01", Some(30.0))));
        let rows = churn_split(&twice, &timelines, &dims, |d| d.segment.clone(), d("2024-01-01"), d("2024-12-31"));
        let all = &rows[0];
        assert_eq!((all.churned.accounts, all.avoidable.accounts, all.unavoidable.accounts), (2, 0, 2));
        assert_eq!((all.churned.mrr_lost, all.avoidable.mrr_lost, all.unavoidable.mrr_lost), (180.0, 100.0, 80.0));
        assert_eq!(all.avoidable_share, Some(0.0));
        assert_eq!((rows[2].by_reason["price"], rows[2].by_reason["acquired"]), (1, 1), "one account per reason");
    }

    #[test]
    fn mrr_lost_by_a_record_dated_before_on_or_after_the_churn() {
        // 80 a month, last paid day 2024-02-29 (the period ends 2024-03-01).
        let x = Timeline::from_deltas([(d("2024-01-01"), 8000), (d("2024-03-01"), -8000)]);
        assert_eq!(mrr_lost(&x, d("2024-02-29")), 8000, "dated the last paid day");
        assert_eq!(mrr_lost(&x, d("2024-03-01")), 8000, "dated the day it churned");
        assert_eq!(mrr_lost(&x, d("2024-03-10")), 8000, "an exit survey written after");
        assert_eq!(mrr_lost(&x, d("2023-12-01")), 0, "before it ever paid");
        // Up to 150, down to 0 on 04-01, back at 30 on 06-01, lost again 08-01.
        let y = Timeline::from_deltas([(d("2024-01-01"), 10000), (d("2024-02-01"), 5000), (d("2024-04-01"), -15000), (d("2024-06-01"), 3000), (d("2024-08-01"), -3000)]);
        assert_eq!(mrr_lost(&y, d("2024-05-01")), 15000, "the last fall before the record");
        assert_eq!(mrr_lost(&y, d("2024-09-01")), 3000);
    }
}
