//! How well a risk ranks churn: AUC, top-decile lift and churn rate per group (band or grade).

use serde::Serialize;
use std::collections::BTreeMap;

/// Area under the ROC curve of `risk` (higher = more likely to churn) against `churned`: the
/// chance that a random churner ranks above a random stayer, ties counting half
/// (Mann–Whitney U with average ranks). None without both churners and stayers.
pub fn auc(risk: &[f64], churned: &[bool]) -> Option<f64> {
    let n = risk.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| risk[*a].total_cmp(&risk[*b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && risk[order[j + 1]] == risk[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += rank * order[i..=j].iter().filter(|k| churned[**k]).count() as f64;
        i = j + 1;
    }
    let pos = churned.iter().filter(|c| **c).count() as f64;
    let neg = n as f64 - pos;
    (pos > 0.0 && neg > 0.0).then(|| (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

/// Churn rate among the riskiest tenth ÷ the overall churn rate. Observations tied with the
/// tenth's boundary count in proportion, so the order of ties cannot change the answer.
pub fn top_decile_lift(risk: &[f64], churned: &[bool]) -> Option<f64> {
    let n = risk.len();
    let total = churned.iter().filter(|c| **c).count() as f64;
    if n == 0 || total == 0.0 {
        return None;
    }
    let k = (n as f64 / 10.0).ceil();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| risk[*b].total_cmp(&risk[*a]));
    let boundary = risk[order[k as usize - 1]];
    let above: Vec<usize> = order.iter().copied().filter(|i| risk[*i] > boundary).collect();
    let tied: Vec<usize> = order.iter().copied().filter(|i| risk[*i] == boundary).collect();
    let churn_above = above.iter().filter(|i| churned[**i]).count() as f64;
    let churn_tied = tied.iter().filter(|i| churned[**i]).count() as f64;
    let take = k - above.len() as f64;
    let in_top = churn_above + take * churn_tied / tied.len() as f64;
    Some((in_top / k) / (total / n as f64))
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GroupRate {
    pub group: String,
    pub observations: u64,
    pub churned: u64,
    /// None for a group without observations (no data is not "nobody churned").
    pub churn_rate: Option<f64>,
}

/// Observations, churners and churn rate per group, in the order of `groups` (groups without
/// observations are listed with zero counts and no rate).
pub fn rates(groups: &[&str], labels: &[(String, bool)]) -> Vec<GroupRate> {
    let mut by: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (g, c) in labels {
        let e = by.entry(g.as_str()).or_default();
        e.0 += 1;
        e.1 += *c as u64;
    }
    groups
        .iter()
        .map(|g| {
            let (n, c) = by.get(g).copied().unwrap_or_default();
            GroupRate { group: g.to_string(), observations: n, churned: c, churn_rate: (n > 0).then(|| c as f64 / n as f64) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_hand() {
        // churners at risks 0.9 and 0.4; stayers at 0.8, 0.4, 0.1: pairs won 1 + 1 + 1 + 0 + 0.5 + 1
        // = 4.5 of 6
        let risk = [0.9, 0.8, 0.4, 0.4, 0.1];
        let churned = [true, false, true, false, false];
        assert_eq!(auc(&risk, &churned), Some(0.75));
        assert_eq!(auc(&[1.0, 2.0], &[true, true]), None);
        assert_eq!(auc(&[3.0, 1.0], &[true, false]), Some(1.0));
    }

    #[test]
    fn lift_by_hand_with_ties() {
        // 20 observations, 4 churners (rate 0.2). Top tenth = 2 places: risk 10 (churner) and one
        // of the three tied at 9, of which one churned: 1 + 1 × 1/3 churners in 2 places
        // → 0.6667 / 0.2 = 3.333
        let mut risk = vec![10.0, 9.0, 9.0, 9.0];
        risk.extend((0..16).map(|i| i as f64 / 10.0));
        let mut churned = vec![true, true, false, false];
        churned.extend((0..16).map(|i| i < 2));
        let lift = top_decile_lift(&risk, &churned).unwrap();
        assert!((lift - 10.0 / 3.0).abs() < 1e-12, "{lift}");
        assert_eq!(top_decile_lift(&risk, &[false; 20]), None);
    }

    #[test]
    fn rates_per_group() {
        let labels = vec![("red".to_string(), true), ("red".into(), false), ("green".into(), false)];
        let r = rates(&["red", "yellow", "green"], &labels);
        assert_eq!((r[0].observations, r[0].churned, r[0].churn_rate), (2, 1, Some(0.5)));
        assert_eq!((r[1].observations, r[1].churn_rate), (0, None));
        assert_eq!((r[2].observations, r[2].churned), (1, 0));
    }
}
