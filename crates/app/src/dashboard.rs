//! The portfolio dashboard's figures for a period of months: one function, so the page and
//! `GET /api/v1/dashboard` can never disagree.

use crate::{ParamError, Params, AppError};
use chrono::NaiveDate;
use kizuna_domain::metrics::retention::{from_sums, RetentionSums};
use kizuna_domain::metrics::{movements, GroupBy, Month};
use kizuna_domain::money::to_units;
use kizuna_domain::portfolio::touch_mix;
use kizuna_store::Revenue;
use kizuna_domain::metrics::movements::MonthMovements;
use kizuna_domain::portfolio::MixRow;
use serde::Serialize;

/// One group of a dashboard breakdown: accounts and MRR on the period's last day, retention over
/// the period.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupRow {
    pub group: String,
    pub accounts: u64,
    pub mrr: f64,
    pub arr: f64,
    pub nrr: Option<f64>,
    pub grr: Option<f64>,
    pub logo_churn_rate: Option<f64>,
}

/// The dashboard's figures (`GET /api/v1/dashboard`, the dashboard page).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    pub from: Month,
    pub to: Month,
    pub requested_to: Month,
    pub at: NaiveDate,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub mrr: f64,
    pub arr: f64,
    pub active_accounts: u64,
    pub nrr: Option<f64>,
    pub grr: Option<f64>,
    pub logo_churn_rate: Option<f64>,
    pub accounts_start: u64,
    pub accounts_churned: u64,
    pub months: Vec<MonthMovements>,
    pub by_segment: Vec<GroupRow>,
    pub by_touch_model: Vec<GroupRow>,
    pub touch_mix: Vec<MixRow>,
}

/// The period: `from`..=`to` (YYYY-MM); by default the twelve months up to the current one.
/// Everything is as of `at` (default today): a `to` after the month of `at` is cut there.
/// Retention runs from the first day of `from` to the last day of `to`, or `at` if sooner, so
/// the KPI cards (MRR on that day) equal the ending MRR of the table's last row.
pub struct Period {
    pub from: Month,
    pub to: Month,
    pub requested_to: Month,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub at: NaiveDate,
}

pub fn period(p: &Params<'_>, today: NaiveDate) -> Result<Period, ParamError> {
    let month = |name: &str, default: Month| -> Result<Month, ParamError> {
        match p.raw(name) {
            None => Ok(default),
            Some(v) => Month::parse(v).ok_or_else(|| ParamError::new(name, v, "is not a month (YYYY-MM)")),
        }
    };
    let at = match p.raw("at") {
        None => today,
        Some(_) => p.as_of()?,
    };
    let requested_to = month("to", Month::of(at))?;
    // Twelve months up to the last one shown (a `to` after the as-of month shows only up to it).
    let shown_to = requested_to.min(Month::of(at));
    let from = month("from", Month::of(shown_to.first_day() - chrono::Months::new(11)))?;
    if requested_to < from {
        return Err(ParamError::new("to", &requested_to.to_string(), &format!("is before from {from}")));
    }
    if from.until(requested_to) >= 1200 {
        return Err(ParamError::new("to", &requested_to.to_string(), "is more than 100 years after from"));
    }
    if from > Month::of(at) {
        return Err(ParamError::new("from", &from.to_string(), &format!("is after the month of the as-of date {at}: nothing after it has happened yet")));
    }
    let to = requested_to.min(Month::of(at));
    let end = to.last_day().min(at);
    Ok(Period { from, to, requested_to, start: from.first_day(), end, at })
}

fn group_rows(period: &[RetentionSums], now: &[RetentionSums], start: NaiveDate, end: NaiveDate) -> Vec<GroupRow> {
    let mut names: Vec<&str> = period.iter().chain(now).map(|s| s.group.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|g| {
            let r = period.iter().find(|s| s.group == g).map(|s| from_sums(s, start, end));
            let (accounts, mrr) = now.iter().find(|s| s.group == g).map(|s| (s.accounts_start, s.mrr_start)).unwrap_or((0, 0));
            GroupRow {
                group: g.to_string(),
                accounts,
                mrr: to_units(mrr),
                arr: to_units(12 * mrr),
                nrr: r.as_ref().and_then(|r| r.nrr),
                grr: r.as_ref().and_then(|r| r.grr),
                logo_churn_rate: r.as_ref().and_then(|r| r.logo_churn_rate),
            }
        })
        .collect()
}

pub async fn dashboard(store: &(impl Revenue + ?Sized), p: &Params<'_>, today: NaiveDate) -> Result<Dashboard, AppError> {
    let Period { from, to, requested_to, start, end, at } = period(p, today)?;
    // Retention is measured from the MRR just before the period, as the movements table's
    // starting MRR: churn dated the period's first day (a period ending on the 1st, the usual
    // monthly case) is the period's churn, and an account new that day is not in the base.
    let base = start.pred_opt().unwrap_or(start);
    let all = store.retention_sums(base, end, None).await?.into_iter().next().unwrap_or_default();
    let retention = from_sums(&all, base, end);
    let now = store.retention_sums(end, end, None).await?.into_iter().next().unwrap_or_default();
    let moves = store.movement_sums(from, to, None, at).await?.into_iter().next().map(|g| g.1).unwrap_or_default();
    let months = movements::build(&moves, from, to, at);
    let mut breakdown = Vec::with_capacity(2);
    for by in [GroupBy::Segment, GroupBy::TouchModel] {
        let period = store.retention_sums(base, end, Some(by)).await?;
        let now = store.retention_sums(end, end, Some(by)).await?;
        breakdown.push(group_rows(&period, &now, base, end));
    }
    let by_touch_model = breakdown.pop().unwrap_or_default();
    let by_segment = breakdown.pop().unwrap_or_default();
    let touch_mix = touch_mix(&store.retention_sums(end, end, Some(GroupBy::TouchModel)).await?);
    Ok(Dashboard {
        from,
        to,
        requested_to,
        at,
        start,
        end,
        mrr: to_units(now.mrr_start),
        arr: to_units(12 * now.mrr_start),
        active_accounts: now.accounts_start,
        nrr: retention.nrr,
        grr: retention.grr,
        logo_churn_rate: retention.logo_churn_rate,
        accounts_start: retention.accounts_start,
        accounts_churned: retention.accounts_churned,
        months,
        by_segment,
        by_touch_model,
        touch_mix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn period_of(pairs: &[(&str, &str)], today: &str) -> Result<Period, ParamError> {
        let q: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        period(&Params(&q), today.parse().unwrap())
    }

    #[test]
    fn by_default_twelve_months_up_to_the_last_shown() {
        let p = period_of(&[], "2026-12-06").unwrap();
        assert_eq!((p.from.to_string(), p.to.to_string()), ("2026-01".into(), "2026-12".into()));
        // A `to` after the as-of month is cut to it, and the twelve months end there too.
        let p = period_of(&[("at", "2026-12-06"), ("to", "2027-03")], "2026-12-06").unwrap();
        assert_eq!((p.from.to_string(), p.to.to_string(), p.requested_to.to_string()), ("2026-01".into(), "2026-12".into(), "2027-03".into()));
        assert!(period_of(&[("at", "2026-12-06"), ("to", "2028-01")], "2026-12-06").is_ok());
    }
}
