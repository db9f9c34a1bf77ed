//! The revenue funnel across teams (seed 004): marketing lead → inside-sales meeting →
//! field-sales opportunity → won → onboarded → renewed. Where do the hand-offs lose people, and how
//! long does each take?
//!
//! - From **records** (one row per lead with the date it reached each stage): a lead counts as
//!   having reached a stage when it has that stage's date or any later one (a deal may skip the
//!   meeting). Cohort = the month the lead entered its first recorded stage. Conversion =
//!   reached(stage) / reached(previous stage); lag = days between consecutive recorded stages
//!   (median and mean over leads that have both).
//! - From **counts** (how many reached each stage per month): conversion per month only; lags
//!   need records.
//!
//! Worked example (test below): 4 leads in 2024-04: L1 lead 04-01, meeting 04-11, opportunity
//! 04-21, won 05-21; L2 lead 04-05, meeting 04-25; L3 lead 04-10; L4 opportunity 04-15, won 05-15
//! (inbound, no lead or meeting date). Reached: lead 4, meeting 3, opportunity 2, won 2 → lead→meeting
//! 0.75, meeting→opportunity 0.667, opportunity→won 1.0. Lags: lead→meeting 10 and 20 days (median
//! 15); opportunity→won 30 and 30.

use crate::fields::FieldError;
use crate::metrics::Month;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = FunnelStage)]
pub enum Stage {
    Lead,
    Meeting,
    Opportunity,
    Won,
    Onboarded,
    Renewed,
}

impl Stage {
    pub const ALL: [Stage; 6] = [Stage::Lead, Stage::Meeting, Stage::Opportunity, Stage::Won, Stage::Onboarded, Stage::Renewed];

    pub fn as_str(self) -> &'static str {
        ["lead", "meeting", "opportunity", "won", "onboarded", "renewed"][self as usize]
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s.trim().to_lowercase())
    }

    /// The CSV column holding the date a lead reached this stage.
    pub fn column(self) -> &'static str {
        ["lead_on", "meeting_on", "opportunity_on", "won_on", "onboarded_on", "renewed_on"][self as usize]
    }
}

/// One lead's way through the funnel.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FunnelLead {
    pub lead_id: String,
    pub account_id: Option<String>,
    pub segment: Option<String>,
    /// The date each stage was reached, in stage order.
    pub dates: [Option<NaiveDate>; 6],
}

impl FunnelLead {
    /// Stage dates must not go backwards.
    pub fn check_order(&self) -> Result<(), FieldError> {
        let mut last: Option<(Stage, NaiveDate)> = None;
        for (i, d) in self.dates.iter().enumerate() {
            if let Some(d) = d {
                if let Some((prev, pd)) = last {
                    if *d < pd {
                        let problem = format!("is before {} \"{pd}\" (stage dates must not go backwards)", prev.column());
                        return Err(FieldError::new(Stage::ALL[i].column(), &d.to_string(), &problem));
                    }
                }
                last = Some((Stage::ALL[i], *d));
            }
        }
        if last.is_none() {
            return Err(FieldError::new("lead_on", "", "is empty, as is every stage date (a lead needs at least one)"));
        }
        Ok(())
    }

    fn first(&self) -> Option<NaiveDate> {
        self.dates.iter().flatten().next().copied()
    }

    fn reached(&self, s: Stage) -> bool {
        self.dates[s as usize..].iter().any(Option::is_some)
    }
}

/// How many reached a stage in a month (the counts import).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FunnelCount {
    pub month: Month,
    pub stage: Stage,
    pub segment: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MonthFunnel {
    pub month: String,
    /// Reached per stage, in stage order (lead … renewed).
    pub reached: BTreeMap<&'static str, u64>,
    /// "lead_to_meeting" etc.; null when the earlier stage has 0.
    pub conversion: BTreeMap<String, Option<f64>>,
    pub lead_to_won: Option<f64>,
    /// Median days per step ("lead_to_meeting" …) for this month's leads (records only).
    pub median_lag_days: BTreeMap<String, Option<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Lag {
    pub from: Stage,
    pub to: Stage,
    pub leads: u64,
    pub median_days: Option<f64>,
    pub mean_days: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FunnelReport {
    pub source: &'static str,
    pub months: Vec<MonthFunnel>,
    pub total: MonthFunnel,
    pub lags: Vec<Lag>,
}

fn month_row(label: String, reached: [u64; 6]) -> MonthFunnel {
    let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
    MonthFunnel {
        month: label,
        reached: Stage::ALL.iter().map(|s| (s.as_str(), reached[*s as usize])).collect(),
        conversion: (1..6)
            .map(|i| (format!("{}_to_{}", Stage::ALL[i - 1].as_str(), Stage::ALL[i].as_str()), ratio(reached[i], reached[i - 1])))
            .collect(),
        lead_to_won: ratio(reached[Stage::Won as usize], reached[0]),
        median_lag_days: BTreeMap::new(),
    }
}

fn step(i: usize) -> String {
    format!("{}_to_{}", Stage::ALL[i - 1].as_str(), Stage::ALL[i].as_str())
}

fn median(mut days: Vec<f64>) -> Option<f64> {
    days.sort_by(f64::total_cmp);
    let n = days.len();
    (n > 0).then(|| if n % 2 == 1 { days[n / 2] } else { (days[n / 2 - 1] + days[n / 2]) / 2.0 })
}

/// Days from stage i − 1 to stage i, for leads with both dates.
fn lag_days<'a>(leads: impl Iterator<Item = &'a FunnelLead>, i: usize) -> Vec<f64> {
    leads.filter_map(|l| Some((l.dates[i]? - l.dates[i - 1]?).num_days() as f64)).collect()
}

pub fn from_records(leads: &[FunnelLead]) -> FunnelReport {
    let mut by_month: BTreeMap<Month, [u64; 6]> = BTreeMap::new();
    let mut total = [0u64; 6];
    for l in leads {
        let Some(first) = l.first() else { continue };
        let row = by_month.entry(Month::of(first)).or_default();
        for s in Stage::ALL {
            if l.reached(s) {
                row[s as usize] += 1;
                total[s as usize] += 1;
            }
        }
    }
    let lags = (1..6)
        .map(|i| {
            let days = lag_days(leads.iter(), i);
            let n = days.len();
            Lag {
                from: Stage::ALL[i - 1],
                to: Stage::ALL[i],
                leads: n as u64,
                mean_days: (n > 0).then(|| days.iter().sum::<f64>() / n as f64),
                median_days: median(days),
            }
        })
        .collect();
    let months = by_month
        .into_iter()
        .map(|(m, r)| {
            let mut row = month_row(m.to_string(), r);
            let cohort = || leads.iter().filter(move |l| l.first().map(Month::of) == Some(m));
            row.median_lag_days = (1..6).map(|i| (step(i), median(lag_days(cohort(), i)))).collect();
            row
        })
        .collect();
    FunnelReport {
        source: "records",
        months,
        total: month_row("total".into(), total),
        lags,
    }
}

pub fn from_counts(counts: &[FunnelCount]) -> FunnelReport {
    let mut by_month: BTreeMap<Month, [u64; 6]> = BTreeMap::new();
    let mut total = [0u64; 6];
    for c in counts {
        by_month.entry(c.month).or_default()[c.stage as usize] += c.count;
        total[c.stage as usize] += c.count;
    }
    FunnelReport {
        source: "counts",
        months: by_month.into_iter().map(|(m, r)| month_row(m.to_string(), r)).collect(),
        total: month_row("total".into(), total),
        lags: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(id: &str, dates: [Option<&str>; 6]) -> FunnelLead {
        FunnelLead {
            lead_id: id.into(),
            account_id: None,
            segment: None,
            dates: dates.map(|d| d.map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap())),
        }
    }

    #[test]
    fn worked_example() {
        let leads = [
            lead("L1", [Some("2024-04-01"), Some("2024-04-11"), Some("2024-04-21"), Some("2024-05-21"), None, None]),
            lead("L2", [Some("2024-04-05"), Some("2024-04-25"), None, None, None, None]),
            lead("L3", [Some("2024-04-10"), None, None, None, None, None]),
            lead("L4", [None, None, Some("2024-04-15"), Some("2024-05-15"), None, None]),
        ];
        let r = from_records(&leads);
        assert_eq!(r.months.len(), 1);
        let m = &r.months[0];
        assert_eq!((m.reached["lead"], m.reached["meeting"], m.reached["opportunity"], m.reached["won"]), (4, 3, 2, 2));
        assert_eq!(m.conversion["lead_to_meeting"], Some(0.75));
        assert_eq!(m.conversion["opportunity_to_won"], Some(1.0));
        assert_eq!(m.conversion["won_to_onboarded"], Some(0.0));
        assert_eq!(m.conversion["onboarded_to_renewed"], None);
        assert_eq!(m.lead_to_won, Some(0.5));
        assert_eq!((r.lags[0].leads, r.lags[0].median_days, r.lags[0].mean_days), (2, Some(15.0), Some(15.0)));
        assert_eq!(r.lags[2].median_days, Some(30.0));
        assert_eq!(r.lags[4].median_days, None);
        assert_eq!(m.median_lag_days["lead_to_meeting"], Some(15.0));
        assert_eq!(m.median_lag_days["opportunity_to_won"], Some(30.0));
        assert_eq!(m.median_lag_days["won_to_onboarded"], None);
    }

    #[test]
    fn stage_dates_must_not_go_backwards() {
        let l = lead("L", [Some("2024-04-10"), Some("2024-04-01"), None, None, None, None]);
        assert_eq!(l.check_order().unwrap_err().to_string(), r#"meeting_on "2024-04-01" is before lead_on "2024-04-10" (stage dates must not go backwards)"#);
        assert!(lead("L", [None; 6]).check_order().is_err());
    }

    #[test]
    fn counts_give_conversion_by_month() {
        let m = Month::parse("2024-04").unwrap();
        let c = |stage, count| FunnelCount { month: m, stage, segment: String::new(), count };
        let r = from_counts(&[c(Stage::Lead, 200), c(Stage::Meeting, 50), c(Stage::Opportunity, 20), c(Stage::Won, 5)]);
        assert_eq!(r.months[0].conversion["lead_to_meeting"], Some(0.25));
        assert_eq!(r.months[0].lead_to_won, Some(0.025));
        assert!(r.lags.is_empty());
    }
}
