//! Scoring one account with one scorecard, and explaining it: each measure's raw value, its 0–100
//! score, its share of the overall weight and its contribution (the contributions add up to the
//! overall score). A missing input's weight goes to the measures that have data, and the score
//! lists what was missing; it is never counted as zero.

use super::scorecard::{Bands, Grades, Scorecard, Scorecards};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Red,
    Yellow,
    Green,
}

impl Band {
    pub fn of(score: f64, bands: &Bands) -> Band {
        if score < bands.red_below {
            Band::Red
        } else if score < bands.green_from {
            Band::Yellow
        } else {
            Band::Green
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Band::Red => "red",
            Band::Yellow => "yellow",
            Band::Green => "green",
        }
    }

    pub fn parse(s: &str) -> Option<Band> {
        [Band::Red, Band::Yellow, Band::Green].into_iter().find(|b| b.as_str() == s)
    }
}

pub fn grade(score: f64, g: &Grades) -> char {
    if score >= g.a {
        'A'
    } else if score >= g.b {
        'B'
    } else if score >= g.c {
        'C'
    } else if score >= g.d {
        'D'
    } else {
        'E'
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MeasureScore {
    pub input: String,
    pub group: String,
    pub raw: Option<f64>,
    /// 0–100; None when the input is missing.
    pub score: Option<f64>,
    pub weight: f64,
    /// Share of the overall score (0–1); the shares of measures with data add up to 1.
    pub effective_weight: f64,
    /// effective_weight × score: the points this measure adds to the overall score.
    pub contribution: f64,
    /// effective_weight × (100 − score): the points it costs.
    pub points_lost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupScore {
    pub name: String,
    pub weight: f64,
    pub effective_weight: f64,
    pub score: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Score {
    pub scorecard: String,
    /// None when no measure had data.
    pub score: Option<f64>,
    pub band: Option<Band>,
    pub grade: Option<char>,
    pub groups: Vec<GroupScore>,
    pub measures: Vec<MeasureScore>,
    /// Inputs without data, whose weight went to the others.
    pub missing: Vec<String>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The overall score kept: hundredths, rounded down (the tolerance absorbs binary noise such
/// as 65.1 × 100 = 6509.999…), so its band and grade are those of the score shown: a 49.996
/// is a red 49.99, never a yellow 50.00.
fn down2(x: f64) -> f64 {
    (x * 100.0 + 1e-6).floor() / 100.0
}

/// Score one account. `inputs` maps input names to raw values (absent or None = missing).
pub fn score(cards: &Scorecards, card: &Scorecard, inputs: &HashMap<String, Option<f64>>) -> Score {
    let mut groups = Vec::with_capacity(card.groups.len());
    let mut measures = Vec::new();
    let mut missing = Vec::new();
    // Within a group, weights are re-spread over measures with data; across groups likewise.
    let mut group_parts: Vec<(f64, Vec<(f64, f64)>)> = Vec::new();
    for g in &card.groups {
        let mut parts = Vec::new();
        for m in &g.measures {
            let raw = inputs.get(&m.input).copied().flatten().filter(|v| v.is_finite());
            let s = raw.map(|r| m.score(r));
            if raw.is_none() {
                missing.push(m.input.clone());
            }
            if let Some(s) = s {
                parts.push((m.weight, s));
            }
            measures.push(MeasureScore { input: m.input.clone(), group: g.name.clone(), raw, score: s, weight: m.weight, effective_weight: 0.0, contribution: 0.0, points_lost: 0.0 });
        }
        group_parts.push((g.weight, parts));
    }
    let group_total: f64 = group_parts.iter().filter(|(_, p)| !p.is_empty()).map(|(w, _)| w).sum();
    let mut k = 0;
    let mut overall = 0.0;
    for (g, (gw, parts)) in card.groups.iter().zip(&group_parts) {
        let within: f64 = parts.iter().map(|(w, _)| w).sum();
        let g_eff = if parts.is_empty() { 0.0 } else { gw / group_total };
        let g_score = (!parts.is_empty()).then(|| parts.iter().map(|(w, s)| w * s).sum::<f64>() / within);
        for _ in &g.measures {
            let m = &mut measures[k];
            if let Some(s) = m.score {
                m.effective_weight = g_eff * m.weight / within;
                m.contribution = m.effective_weight * s;
                m.points_lost = round2(m.effective_weight * (100.0 - s));
                overall += m.contribution;
                m.contribution = round2(m.contribution);
                m.effective_weight = (m.effective_weight * 10_000.0).round() / 10_000.0;
            }
            k += 1;
        }
        groups.push(GroupScore { name: g.name.clone(), weight: *gw, effective_weight: (g_eff * 10_000.0).round() / 10_000.0, score: g_score.map(round2) });
    }
    let has_data = group_total > 0.0;
    let overall = has_data.then(|| down2(overall));
    Score {
        scorecard: card.name.clone(),
        score: overall,
        band: overall.map(|s| Band::of(s, &cards.bands)),
        grade: overall.map(|s| grade(s, &cards.grades)),
        groups,
        measures,
        missing,
    }
}

impl Score {
    /// The few figures history needs, small enough to keep daily for every account:
    /// `[[input, raw, score, contribution], ...]`.
    pub fn compact(&self) -> serde_json::Value {
        let measures: Vec<serde_json::Value> = self.measures.iter().map(|m| serde_json::json!([m.input, m.raw, m.score, m.contribution])).collect();
        serde_json::json!({ "scorecard": self.scorecard, "score": self.score, "measures": measures })
    }

    /// Back from [`Score::compact`]: enough for [`changes`] (inputs, raw values, contributions).
    pub fn from_compact(v: &serde_json::Value) -> Option<Score> {
        let measures = v["measures"]
            .as_array()?
            .iter()
            .map(|m| {
                Some(MeasureScore {
                    input: m[0].as_str()?.to_string(),
                    group: String::new(),
                    raw: m[1].as_f64(),
                    score: m[2].as_f64(),
                    weight: 0.0,
                    effective_weight: 0.0,
                    contribution: m[3].as_f64().unwrap_or(0.0),
                    points_lost: 0.0,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let missing = measures.iter().filter(|m| m.raw.is_none()).map(|m| m.input.clone()).collect();
        Some(Score { scorecard: v["scorecard"].as_str()?.to_string(), score: v["score"].as_f64(), band: None, grade: None, groups: vec![], measures, missing })
    }
}

/// The measures costing the most points, worst first (at most `n`, only those costing any).
pub fn drags(s: &Score, n: usize) -> Vec<&MeasureScore> {
    let mut v: Vec<&MeasureScore> = s.measures.iter().filter(|m| m.score.is_some() && m.points_lost > 0.0).collect();
    v.sort_by(|a, b| b.points_lost.total_cmp(&a.points_lost).then_with(|| a.input.cmp(&b.input)));
    v.truncate(n);
    v
}

/// One measure's change since the previous score.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Change {
    pub input: String,
    pub raw_before: Option<f64>,
    pub raw_now: Option<f64>,
    pub contribution_before: f64,
    pub contribution_now: f64,
    /// Points this measure moved the overall score.
    pub delta: f64,
}

/// What moved between two scores, biggest movement first; measures that did not move are left
/// out. Measures are matched by input, so a changed scorecard still compares.
pub fn changes(before: &Score, now: &Score) -> Vec<Change> {
    let prior: HashMap<&str, &MeasureScore> = before.measures.iter().map(|m| (m.input.as_str(), m)).collect();
    let mut out: Vec<Change> = now
        .measures
        .iter()
        .map(|m| {
            let b = prior.get(m.input.as_str());
            let cb = b.map(|b| b.contribution).unwrap_or(0.0);
            Change { input: m.input.clone(), raw_before: b.and_then(|b| b.raw), raw_now: m.raw, contribution_before: cb, contribution_now: m.contribution, delta: round2(m.contribution - cb) }
        })
        .filter(|c| c.delta != 0.0 || c.raw_before != c.raw_now)
        .collect();
    // A measure of the earlier scorecard that the current one has not (the account moved to
    // another stage's card): its whole contribution went, so the changes add up to the move.
    let current: std::collections::HashSet<&str> = now.measures.iter().map(|m| m.input.as_str()).collect();
    out.extend(before.measures.iter().filter(|b| !current.contains(b.input.as_str()) && (b.contribution != 0.0 || b.raw.is_some())).map(|b| Change {
        input: b.input.clone(),
        raw_before: b.raw,
        raw_now: None,
        contribution_before: b.contribution,
        contribution_now: 0.0,
        delta: round2(-b.contribution),
    }));
    out.sort_by(|a, b| b.delta.abs().total_cmp(&a.delta.abs()).then_with(|| a.input.cmp(&b.input)));
    out
}

/// Trend arrow between two overall scores: a move of 3 points or more counts.
pub fn trend(before: Option<f64>, now: Option<f64>) -> &'static str {
    // In whole hundredths, as the scores are kept: 33.01 − 30.01 is 2.99999… in binary.
    let change = |b: f64, n: f64| ((n - b) * 100.0).round();
    match (before, now) {
        (Some(b), Some(n)) if change(b, n) >= 300.0 => "up",
        (Some(b), Some(n)) if change(b, n) <= -300.0 => "down",
        (Some(_), Some(_)) => "flat",
        _ => "new",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(pairs: &[(&str, Option<f64>)]) -> HashMap<String, Option<f64>> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn every_figure_by_hand() {
        let cards = super::super::Scorecards::default_set();
        let card = &cards.scorecards[0];
        let i = inputs(&[
            ("usage.logins_28d", Some(20.0)),          // 50
            ("usage.active_days_28d", Some(16.0)),     // 100
            ("usage.days_since_login", Some(5.0)),     // 75
            ("usage.core_actions_per_user", Some(2.0)), // 25
            ("usage.logins_change", Some(-0.2)),       // 50
            ("onboarding", None),                      // missing: the whole group
            ("days_since_csm_touch", Some(105.0)),     // 50
            ("support_tickets_90d", Some(1.0)),        // 75
            ("mrr_change_90d", Some(0.0)),             // 66.67
            ("days_to_renewal", None),                 // missing: contract is mrr_change alone
        ]);
        let s = score(&cards, card, &i);
        // usage = (25·50 + 20·100 + 20·75 + 15·25 + 20·50) / 100 = 61.25
        // relationship = (60·50 + 40·75) / 100 = 60; contract = 66.666…
        // groups 60, 15, 10 of 85 present: (61.25·60 + 60·15 + 66.67·10) / 85 = 61.667
        assert_eq!(s.groups.iter().map(|g| g.score).collect::<Vec<_>>(), vec![Some(61.25), None, Some(60.0), Some(66.67)]);
        assert_eq!(s.score, Some(61.66), "61.666… kept rounded down");
        assert_eq!((s.band, s.grade), (Some(Band::Yellow), Some('C')));
        assert_eq!(s.missing, vec!["onboarding", "days_to_renewal"]);
        let total: f64 = s.measures.iter().map(|m| m.contribution).sum();
        assert!((total - 61.67).abs() < 0.03, "contributions add up to the score: {total}");
        let logins = &s.measures[0];
        // 25/100 of usage's 60/85 = 0.17647; contribution 0.17647 × 50 = 8.82; lost 8.82
        assert_eq!((logins.effective_weight, logins.contribution, logins.points_lost), (0.1765, 8.82, 8.82));
        let worst: Vec<&str> = drags(&s, 3).iter().map(|m| m.input.as_str()).collect();
        // lost: core_actions 0.10588·75 = 7.94; logins 8.82; logins_change 0.14118·50 = 7.06;
        // csm touch 0.10588·50 = 5.29
        assert_eq!(worst, vec!["usage.logins_28d", "usage.core_actions_per_user", "usage.logins_change"]);
    }

    #[test]
    fn a_score_just_under_a_band_edge_stays_in_its_band() {
        assert_eq!((down2(49.996), down2(65.1), down2(61.666_666), down2(100.0)), (49.99, 65.1, 61.66, 100.0));
        let cards = super::super::Scorecards::default_set();
        let card = &cards.scorecards[0];
        // Usage alone: logins 50 (weight 25) and days since login 75 (weight 20) of 45:
        // (1250 + 1500) / 45 = 61.111… → 61.11; and a red just under the edge stays red.
        let s = score(&cards, card, &inputs(&[("usage.logins_28d", Some(20.0)), ("usage.days_since_login", Some(5.0))]));
        assert_eq!(s.score, Some(61.11));
        assert_eq!(Band::of(down2(49.996), &cards.bands), Band::Red);
    }

    #[test]
    fn nothing_known_gives_no_score_and_changes_are_by_input() {
        let cards = super::super::Scorecards::default_set();
        let card = &cards.scorecards[0];
        let none = score(&cards, card, &HashMap::new());
        assert_eq!((none.score, none.band, none.grade, none.missing.len()), (None, None, None, 10));
        let a = score(&cards, card, &inputs(&[("usage.logins_28d", Some(40.0)), ("support_tickets_90d", Some(0.0))]));
        let b = score(&cards, card, &inputs(&[("usage.logins_28d", Some(10.0)), ("support_tickets_90d", Some(0.0))]));
        // alone in their groups: usage 60/75 → 100 then 25; relationship 15/75 → 100
        assert_eq!((a.score, b.score), (Some(100.0), Some(40.0)));
        let c = changes(&Score::from_compact(&a.compact()).expect("round trip"), &b);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].input.as_str(), c[0].raw_before, c[0].raw_now, c[0].delta), ("usage.logins_28d", Some(40.0), Some(10.0), -60.0));
        // A measure the current card has not: its contribution is listed as gone.
        let mut fewer = b.clone();
        fewer.measures.retain(|m| m.input != "support_tickets_90d");
        let gone = changes(&b, &fewer);
        let tickets = gone.iter().find(|g| g.input == "support_tickets_90d").expect("listed");
        assert_eq!((tickets.raw_before, tickets.raw_now, tickets.contribution_now), (Some(0.0), None, 0.0));
        assert_eq!(tickets.delta, -b.measures.iter().find(|m| m.input == "support_tickets_90d").unwrap().contribution);
        assert_eq!((trend(a.score, b.score), trend(b.score, a.score), trend(Some(50.0), Some(52.0)), trend(None, Some(1.0))), ("down", "up", "flat", "new"));
        assert_eq!((trend(Some(30.01), Some(33.01)), trend(Some(33.01), Some(30.01)), trend(Some(30.01), Some(33.0))), ("up", "down", "flat"), "3.00 points exactly");
        assert_eq!(grade(80.0, &cards.grades), 'A');
        assert_eq!(grade(34.99, &cards.grades), 'E');
    }
}
