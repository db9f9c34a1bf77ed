//! Health scores (SPEC §4): scorecards as configuration, scores that explain themselves,
//! backtests against real churn and a logistic calibration that proposes weights.

pub mod backtest;
pub mod logistic;
pub mod score;
pub mod scorecard;

pub use score::{changes, drags, score, trend, Band, Score};
pub use scorecard::{Direction, Group, Measure, Scorecard, ScorecardError, Scorecards};

use logistic::{quantile, Prepared};

/// A scorecard from a calibration: one group, a measure per metric whose coefficient carries
/// weight, weighted by |coefficient| (on standardised metrics, so comparable), pointing the way
/// that lowers churn, with thresholds at the metric's quintiles. `columns` holds each metric's
/// raw values; `univariate` each metric's own correlation with churn. A metric whose coefficient
/// points against its own correlation (the sign flipped by collinearity with other metrics) is
/// left out: a measure saying "fewer core actions is healthier" would mislead.
pub fn propose(name: &str, prepared: &[Prepared], coef: &[f64], univariate: &[f64], columns: &[Vec<Option<f64>>]) -> Scorecard {
    let agrees = |c: f64, u: f64| c * u > 0.0;
    let total: f64 = coef.iter().zip(univariate).filter(|(c, u)| agrees(**c, **u)).map(|(c, _)| c.abs()).sum();
    let mut measures = Vec::new();
    for (((p, c), u), col) in prepared.iter().zip(coef).zip(univariate).zip(columns) {
        if !agrees(*c, *u) {
            continue;
        }
        let weight = if total > 0.0 { (1000.0 * c.abs() / total).round() / 10.0 } else { 0.0 };
        let mut raw: Vec<f64> = col.iter().filter_map(|v| v.filter(|x| x.is_finite())).collect();
        raw.sort_by(|a, b| a.total_cmp(b));
        let mut cuts: Vec<f64> = [0.2, 0.4, 0.6, 0.8].iter().map(|q| (quantile(&raw, *q) * 1000.0).round() / 1000.0).collect();
        cuts.dedup();
        // A cut at the lowest value (a fifth or more of accounts at 0 logins) would put nobody
        // in the lowest band: an account with no use at all would score a band up.
        cuts.retain(|c| raw.first().is_some_and(|lowest| c > lowest));
        if weight < 1.0 || cuts.is_empty() {
            continue;
        }
        // A positive coefficient raises churn: then lower values are healthier.
        let direction = if *c > 0.0 { Direction::Lower } else { Direction::Higher };
        measures.push(Measure { input: format!("usage.{}", p.metric), label: None, weight, direction, range: None, thresholds: Some(cuts), scores: None });
    }
    Scorecard { name: name.to_string(), segments: vec![], stages: vec![], groups: vec![Group { name: "calibrated".into(), weight: 100.0, measures }] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposal_weights_directions_and_quintiles() {
        let col = |v: &[f64]| v.iter().map(|x| Some(*x)).collect::<Vec<_>>();
        let columns = vec![col(&[0.0, 10.0, 20.0, 30.0, 40.0, 50.0]), col(&[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]), col(&[5.0, 4.0, 3.0, 2.0, 1.0, 0.0])];
        let prepared: Vec<Prepared> = ["logins_28d", "flat", "days_since_login"].iter().zip(&columns).map(|(n, c)| logistic::prepare(n, c)).collect();
        let card = propose("calibrated", &prepared, &[-1.5, 0.0, 0.5], &[-0.3, 0.0, 0.2], &columns);
        let m = &card.groups[0].measures;
        assert_eq!(m.len(), 2, "a zero coefficient proposes nothing");
        assert_eq!((m[0].input.as_str(), m[0].weight, m[0].direction), ("usage.logins_28d", 75.0, Direction::Higher));
        // quintiles of 0..50 step 10: positions 1, 2, 3, 4 → 10, 20, 30, 40
        assert_eq!(m[0].thresholds, Some(vec![10.0, 20.0, 30.0, 40.0]));
        assert_eq!((m[1].weight, m[1].direction), (25.0, Direction::Lower));
        let mut cards = Scorecards::default_set();
        cards.put(card);
        Scorecards::parse(&cards.to_toml()).expect("a proposal is a valid scorecard");
        let flipped = propose("calibrated", &prepared, &[-1.5, 0.0, 0.5], &[-0.3, 0.0, -0.1], &columns);
        assert_eq!(flipped.groups[0].measures.len(), 1, "a sign against its own correlation is left out");
        assert_eq!(flipped.groups[0].measures[0].weight, 100.0);
    }

    #[test]
    fn an_account_with_the_lowest_value_scores_zero() {
        // Six of ten accounts never logged in: quintiles 0, 0, 0.8, 4.8 (positions 1.8, 3.6, 5.4,
        // 7.2 of 0..9, interpolated: 2 × 0.4 and 4 × 0.8 + 8 × 0.2). Before, the cut at 0 put a
        // never-used account in the middle band (50 of 100).
        let columns = vec![[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 4.0, 8.0, 10.0].iter().map(|x| Some(*x)).collect::<Vec<_>>()];
        let prepared = vec![logistic::prepare("logins_28d", &columns[0])];
        let card = propose("calibrated", &prepared, &[-1.0], &[-0.3], &columns);
        let m = &card.groups[0].measures[0];
        assert_eq!(m.thresholds, Some(vec![0.8, 4.8]));
        assert_eq!((m.score(0.0), m.score(2.0), m.score(10.0)), (0.0, 50.0, 100.0));
        // Nine in ten at 0: every quintile is 0, nothing tells the accounts apart (before: each
        // scored 100).
        let columns = vec![[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 10.0].iter().map(|x| Some(*x)).collect::<Vec<_>>()];
        let prepared = vec![logistic::prepare("logins_28d", &columns[0])];
        assert!(propose("calibrated", &prepared, &[-1.0], &[-0.3], &columns).groups[0].measures.is_empty());
    }
}
