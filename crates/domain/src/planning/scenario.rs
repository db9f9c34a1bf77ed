//! A planning scenario: one TOML document with `[capacity]`, `[budget]` and `[maturity]` tables.
//! Unknown or missing keys are errors that name the key and the line.

use super::budget::BudgetInputs;
use super::capacity::CapacityInputs;
use super::hiring::HiringInputs;
use super::maturity::{MaturityInputs, QUESTIONS};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: Option<String>,
    pub capacity: Option<CapacityInputs>,
    pub hiring: Option<HiringInputs>,
    pub budget: Option<BudgetInputs>,
    pub maturity: Option<MaturityInputs>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    /// Not TOML, or a key that is unknown, missing or of the wrong type (the TOML reader's
    /// words, with the line).
    #[error("{0}")]
    Toml(String),
    /// A value the plans cannot use, at `key` (e.g. `capacity.automation_factor`).
    #[error("{key}: {problem}")]
    Invalid { key: String, problem: Problem },
}

/// Why a value cannot be used: typed, so the editor page says it in the reader's language.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("{0} must be > 0")]
    NotPositive(f64),
    /// A share: from 0 up to, but not including, 1.
    #[error("{0} must be from 0 to below 1")]
    NotShare(f64),
    /// A fraction from 0 to 1, both included.
    #[error("{0} must be from 0 to 1")]
    NotFraction(f64),
    #[error("{0} must be from 1 to 120")]
    Months(u32),
    #[error("{0:?} is not a month (YYYY-MM)")]
    NotMonth(String),
    #[error("new accounts must be >= 0 and the monthly growth rate a fraction above -1 and at most 1 (0.02 for 2%)")]
    NewAccounts,
    /// A retention ratio (NRR): above 0 and at most 3, as a ratio (1.08 for 108%).
    #[error("{0} must be a ratio above 0 and at most 3 (1.08 for 108%)")]
    NotRatio(f64),
    #[error("high + hybrid + tech = {0:.3}; the shares must add up to 1")]
    MixShares(f64),
    #[error("the shares add up to {0:.3}; they must add up to 1")]
    TimeShares(f64),
    /// An answer to no question; the known questions follow.
    #[error("is not a question; expected one of: {0}")]
    NotQuestion(String),
    /// A money amount or a headcount: from 0 to [`MAX_AMOUNT`] (so every sum is exact).
    #[error("{0} must be from 0 to 10,000,000,000,000")]
    NotAmount(f64),
}

/// The largest amount (and headcount) a budget takes: ten trillion, far above any CS budget,
/// and small enough that every sum of them in hundredths is exact.
pub const MAX_AMOUNT: f64 = 1e13;

impl Problem {
    /// The i18n key of the problem's text (`scn.*`); [`Problem::args`] fill it.
    pub fn key(&self) -> &'static str {
        match self {
            Problem::NotPositive(_) => "scn.not_positive",
            Problem::NotShare(_) => "scn.not_share",
            Problem::NotFraction(_) => "scn.not_fraction",
            Problem::Months(_) => "scn.months",
            Problem::NotMonth(_) => "scn.not_month",
            Problem::NewAccounts => "scn.new_accounts",
            Problem::MixShares(_) => "scn.mix_shares",
            Problem::TimeShares(_) => "scn.time_shares",
            Problem::NotQuestion(_) => "scn.not_question",
            Problem::NotRatio(_) => "scn.not_ratio",
            Problem::NotAmount(_) => "scn.not_amount",
        }
    }

    /// The values the text shows (`%{value}`, `%{total}`, `%{known}`), written as in English.
    pub fn args(&self) -> Vec<(&'static str, String)> {
        match self {
            Problem::NotPositive(v) | Problem::NotShare(v) | Problem::NotFraction(v) | Problem::NotRatio(v) | Problem::NotAmount(v) => {
                vec![("value", v.to_string())]
            }
            Problem::Months(m) => vec![("value", m.to_string())],
            Problem::NotMonth(m) => vec![("value", format!("{m:?}"))],
            Problem::NewAccounts => vec![],
            Problem::MixShares(t) | Problem::TimeShares(t) => vec![("total", format!("{t:.3}"))],
            Problem::NotQuestion(known) => vec![("known", known.clone())],
        }
    }
}

impl Scenario {
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let s: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Toml(e.to_string().trim_end().to_string()))?;
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> Result<(), ScenarioError> {
        let bad = |key: &str, problem: Problem| Err(ScenarioError::Invalid { key: key.into(), problem });
        if let Some(c) = &self.capacity {
            // Written so that `nan` is refused too.
            if !(c.productive_hours_per_csm > 0.0) {
                return bad("capacity.productive_hours_per_csm", Problem::NotPositive(c.productive_hours_per_csm));
            }
            if !(0.0..1.0).contains(&c.automation_factor) {
                return bad("capacity.automation_factor", Problem::NotShare(c.automation_factor));
            }
            for (key, v) in [("capacity.arr_per_csm", c.arr_per_csm), ("capacity.accounts_per_csm", c.accounts_per_csm)] {
                if let Some(v) = v.filter(|v| !(*v > 0.0)) {
                    return bad(key, Problem::NotPositive(v));
                }
            }
            if !(c.csms_per_ops > 0.0) {
                return bad("capacity.csms_per_ops", Problem::NotPositive(c.csms_per_ops));
            }
            // A slice's own benchmark of 0 would need infinitely many CSMs.
            for (i, b) in c.book.iter().enumerate() {
                for (name, v) in [("arr_per_csm", b.arr_per_csm), ("accounts_per_csm", b.accounts_per_csm)] {
                    if let Some(v) = v.filter(|v| !(*v > 0.0)) {
                        return bad(&format!("capacity.book[{i}].{name}"), Problem::NotPositive(v));
                    }
                }
            }
        }
        if let Some(h) = &self.hiring {
            if !(1..=120).contains(&h.months) {
                return bad("hiring.months", Problem::Months(h.months));
            }
            if let Some(m) = &h.start_month {
                if crate::metrics::Month::parse(m).is_none() {
                    return bad("hiring.start_month", Problem::NotMonth(m.clone()));
                }
            }
            if let Some(c) = h.monthly_churn_rate.filter(|c| !(0.0..1.0).contains(c)) {
                return bad("hiring.monthly_churn_rate", Problem::NotShare(c));
            }
            if !(h.new_accounts_per_month >= 0.0) || !(h.new_accounts_growth_rate > -1.0 && h.new_accounts_growth_rate <= 1.0) {
                return bad("hiring.new_accounts_per_month", Problem::NewAccounts);
            }
            for (i, step) in h.mix_path.iter().enumerate() {
                let total = step.high + step.hybrid + step.tech;
                if (total - 1.0).abs() > 0.001 || step.high < 0.0 || step.hybrid < 0.0 || step.tech < 0.0 {
                    return bad(&format!("hiring.mix_path[{i}]"), Problem::MixShares(total));
                }
            }
        }
        if let Some(b) = &self.budget {
            let amount = |v: f64| (0.0..=MAX_AMOUNT).contains(&v);
            for (i, h) in b.headcount.iter().enumerate() {
                // The line's cost too: 10,000 people at the largest cost would overflow.
                for (name, v) in [("count", h.count), ("loaded_cost_per_year", h.loaded_cost_per_year), ("cost", h.count * h.loaded_cost_per_year)] {
                    if !amount(v) {
                        return bad(&format!("budget.headcount[{i}].{name}"), Problem::NotAmount(v));
                    }
                }
            }
            let total: f64 = b.headcount.iter().map(|h| h.count * h.loaded_cost_per_year).sum::<f64>() + b.tools_per_year + b.programs_per_year;
            if !amount(total) {
                return bad("budget", Problem::NotAmount(total));
            }
            let sm = b.sales_marketing.map(|s| [s.acquisition, s.expansion, s.retention]).unwrap_or_default();
            let amounts = [
                ("budget.tools_per_year", Some(b.tools_per_year)),
                ("budget.programs_per_year", Some(b.programs_per_year)),
                ("budget.roi.arr", b.roi.and_then(|r| r.arr)),
                ("budget.sales_marketing.acquisition", b.sales_marketing.map(|_| sm[0])),
                ("budget.sales_marketing.expansion", b.sales_marketing.map(|_| sm[1])),
                ("budget.sales_marketing.retention", b.sales_marketing.map(|_| sm[2])),
            ];
            for (key, v) in amounts {
                if let Some(v) = v.filter(|v| !amount(*v)) {
                    return bad(key, Problem::NotAmount(v));
                }
            }
            let total = b.time_share.total();
            if (total - 1.0).abs() > 0.001 {
                return bad("budget.time_share", Problem::TimeShares(total));
            }
            if let Some(r) = &b.roi {
                if !(0.0..=1.0).contains(&r.expansion_attribution) {
                    return bad("budget.roi.expansion_attribution", Problem::NotFraction(r.expansion_attribution));
                }
                // Ratios, not percents: 85 for 85% would make the ROI −34,600%.
                for (key, v) in [("budget.roi.baseline_grr", Some(r.baseline_grr)), ("budget.roi.grr", r.grr)] {
                    if let Some(v) = v.filter(|v| !(0.0..=1.0).contains(v)) {
                        return bad(key, Problem::NotFraction(v));
                    }
                }
                if let Some(v) = r.nrr.filter(|v| !(*v > 0.0 && *v <= 3.0)) {
                    return bad("budget.roi.nrr", Problem::NotRatio(v));
                }
                if let Some(v) = r.arr.filter(|v| !(*v >= 0.0)) {
                    return bad("budget.roi.arr", Problem::NotPositive(v));
                }
            }
        }
        if let Some(m) = &self.maturity {
            if let Some(unknown) = m.answers.keys().find(|k| !QUESTIONS.iter().any(|q| q.0 == k.as_str())) {
                let known: Vec<&str> = QUESTIONS.iter().map(|q| q.0).collect();
                return bad(&format!("maturity.answers.{unknown}"), Problem::NotQuestion(known.join(", ")));
            }
        }
        Ok(())
    }
}

/// A complete example scenario (the worked example), also shipped as docs/scenario.example.toml.
pub const EXAMPLE: &str = include_str!("../../../../docs/scenario.example.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses_and_gives_the_worked_example() {
        let s = Scenario::parse(EXAMPLE).unwrap();
        let p = crate::planning::capacity::plan(s.capacity.as_ref().unwrap());
        assert_eq!((p.bottom_up_csms, p.top_down_csms, p.cs_ops), (17, Some(15), 4));
    }

    #[test]
    fn errors_name_the_key() {
        let e = Scenario::parse("[capacity]\nproductive_hours = 120\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `productive_hours`"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        let e = Scenario::parse("[capacity]\nproductive_hours_per_csm = 120\n").unwrap_err().to_string();
        assert!(e.contains("missing field `hours_per_account`"), "{e}");
        let e = Scenario::parse(&EXAMPLE.replace("automation_factor = 0.0", "automation_factor = 1.5")).unwrap_err();
        assert_eq!(e.to_string(), "capacity.automation_factor: 1.5 must be from 0 to below 1");
        let e = Scenario::parse(&EXAMPLE.replace("support = 0.2", "support = 0.3")).unwrap_err();
        assert_eq!(e.to_string(), "budget.time_share: the shares add up to 1.100; they must add up to 1");
        let e = Scenario::parse(&EXAMPLE.replace("tech = 0.1\n", "tech = 0.2\n")).unwrap_err();
        assert_eq!(e.to_string(), "hiring.mix_path[1]: high + hybrid + tech = 1.100; the shares must add up to 1");
        let e = Scenario::parse(&EXAMPLE.replace("months = 24", "months = 0")).unwrap_err();
        assert_eq!(e.to_string(), "hiring.months: 0 must be from 1 to 120");
        let e = Scenario::parse(&EXAMPLE.replace("health_score = false", "health = false")).unwrap_err();
        assert!(e.to_string().starts_with("maturity.answers.health: is not a question"), "{e}");
        // Percents where ratios belong, and `nan`, are refused.
        let e = Scenario::parse(&EXAMPLE.replace("new_accounts_growth_rate = 0.02", "new_accounts_growth_rate = 2")).unwrap_err();
        assert!(e.to_string().starts_with("hiring.new_accounts_per_month: new accounts must be >= 0 and the monthly growth rate"), "{e}");
        let e = Scenario::parse(&EXAMPLE.replace("tools_per_year = ", "tools_per_year = -")).unwrap_err();
        assert!(e.to_string().starts_with("budget.tools_per_year: -") && e.to_string().ends_with("must be from 0 to 10,000,000,000,000"), "{e}");
        let e = Scenario::parse(&EXAMPLE.replace("loaded_cost_per_year = 9_000_000", "loaded_cost_per_year = 1e20")).unwrap_err();
        assert!(e.to_string().starts_with("budget.headcount[0].loaded_cost_per_year: 100000000000000000000 must be from 0"), "{e}");
        let e = Scenario::parse(&EXAMPLE.replace("loaded_cost_per_year = 9_000_000", "loaded_cost_per_year = 9_000_000_000_000")).unwrap_err();
        assert!(e.to_string().starts_with("budget.headcount[0].cost: 153000000000000 must be from 0"), "17 people × ¥9 trillion: {e}");
        let e = Scenario::parse(&EXAMPLE.replace("baseline_grr = 0.85", "baseline_grr = 85")).unwrap_err();
        assert_eq!(e.to_string(), "budget.roi.baseline_grr: 85 must be from 0 to 1");
        let e = Scenario::parse(&EXAMPLE.replace("baseline_grr = 0.85", "baseline_grr = 0.85\nnrr = 108")).unwrap_err();
        assert_eq!(e.to_string(), "budget.roi.nrr: 108 must be a ratio above 0 and at most 3 (1.08 for 108%)");
        let e = Scenario::parse(&EXAMPLE.replace("arr = 540_000_000", "arr = 540_000_000\narr_per_csm = 0")).unwrap_err();
        assert_eq!(e.to_string(), "capacity.book[0].arr_per_csm: 0 must be > 0");
        let e = Scenario::parse(&EXAMPLE.replace("csms_per_ops = 5", "csms_per_ops = nan")).unwrap_err();
        assert_eq!(e.to_string(), "capacity.csms_per_ops: NaN must be > 0");
        let e = Scenario::parse("[capacity]\nproductive_hours_per_csm = \"lots\"\n").unwrap_err().to_string();
        assert!(e.contains("productive_hours_per_csm") || e.contains("invalid type"), "{e}");
    }
}
