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
        if weight < 1.0 || cuts.is_empty() || (cuts.len() == 1 && raw.first() == raw.last()) {
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
}
