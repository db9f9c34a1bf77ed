//! Revenue and retention reports (issue: revenue analytics). Each report takes parameters
//! (validated here, so CLI and HTTP give the same errors), loads what it needs from the store and
//! computes with `kizuna_domain::metrics`. The JSON shape is the contract for CLI and API alike.

pub mod access;
pub mod accounts;
pub mod ctas;
pub mod dashboard;
mod error;
pub mod health;
pub mod home;
mod format;
pub mod jobs;
pub mod journey;
mod params;
pub mod onboarding;
pub mod planning;
pub mod requests;
pub mod renewals;
mod service;
pub mod signals;
pub mod timeline;
pub mod usage;
pub mod users;

pub use access::{Actor, Denied};
pub use error::AppError;
pub use service::{App, AuditPage, ScenarioEntry};

pub use format::{render, render_rows, safe_text, Format, MONEY, REPORT_CURRENCY};
pub use params::{check_as_of, check_run_day, ParamError, Params, MAX_YEARS_AHEAD};
pub use requests::Lookup;

use chrono::NaiveDate;
use kizuna_domain::metrics::retention::RetentionSums;
use kizuna_domain::metrics::{arr, cohorts, ltv, movements, retention, GroupBy, Units};
use kizuna_store::{Accounts, Revenue, StoreError};
use kizuna_domain::metrics::arr::{ArrRow, ChurnSplit};
use kizuna_domain::metrics::cohorts::CohortTable;
use kizuna_domain::metrics::ltv::LtvReport;
use kizuna_domain::metrics::movements::MonthMovements;
use kizuna_domain::metrics::retention::Retention;
use serde::Serialize;
use std::collections::HashMap;

/// Every account's MRR timeline as of `at`: changes after it (a period's scheduled end, a
/// subscription not started yet) have not happened and are left out.
async fn load(store: &(impl Accounts + Revenue + ?Sized), by: Option<GroupBy>, at: NaiveDate) -> Result<Units, StoreError> {
    let mut changes = store.mrr_changes().await?;
    changes.retain(|c| c.day <= at);
    // Dimensions are only needed for a breakdown other than product (a third of the load time).
    let dims = match by {
        Some(GroupBy::Product) | None => vec![],
        Some(_) => store.account_dims().await?,
    };
    Ok(Units::build(&changes, &dims, by))
}

/// `metrics retention`: the whole company, or with `by` one row per group, "all" first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum RetentionReport {
    One(Retention),
    Groups(Vec<Retention>),
}

/// One row of `metrics churn`: the split, and the `to` that was asked for (`to` is cut at the
/// as-of date).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChurnRow {
    #[serde(flatten)]
    pub split: ChurnSplit,
    pub requested_to: NaiveDate,
}

/// Any report's answer, as `kizuna metrics NAME` prints it and `/api/v1/metrics/NAME` returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ReportOutput {
    Retention(RetentionReport),
    Mrr(Vec<MonthMovements>),
    Cohorts(CohortTable),
    Ltv(Vec<LtvReport>),
    Arr(Vec<ArrRow>),
    Churn(Vec<ChurnRow>),
}

/// `metrics retention`: one object, or with `by` an array with `group: "all"` first.
/// Sums come from the database (one row per group), so this stays fast on millions of rows.
/// A `to` after the as-of date is cut there; the answer keeps the one asked for as `requested_to`.
pub async fn retention_report(store: &(impl Revenue + ?Sized), p: &Params<'_>) -> Result<RetentionReport, AppError> {
    let at = p.as_of()?;
    let (from, to, requested_to) = p.date_range_as_of("from", "to", at)?;
    let by = p.group_by()?;
    let all = store.retention_sums(from, to, None).await?.into_iter().next().unwrap_or_default();
    let mut sums = vec![RetentionSums { group: "all".into(), ..all }];
    if let Some(by) = by {
        sums.extend(store.retention_sums(from, to, Some(by)).await?);
    }
    let mut rows: Vec<Retention> = sums
        .iter()
        .map(|s| {
            let mut r = retention::from_sums(s, from, to);
            r.group = by.map(|_| s.group.clone());
            r.requested_to = requested_to;
            r
        })
        .collect();
    Ok(if by.is_some() { RetentionReport::Groups(rows) } else { RetentionReport::One(rows.remove(0)) })
}

/// `metrics mrr`: one row per month (with `by`: per group and month, "all" first), as of `at`:
/// months after the as-of month are left out and the as-of month is month to date (`partial`).
pub async fn mrr_report(store: &(impl Revenue + ?Sized), p: &Params<'_>) -> Result<Vec<MonthMovements>, AppError> {
    let at = p.as_of()?;
    let (from, to, _) = p.month_range_as_of("from", "to", at)?;
    let by = p.group_by()?;
    let mut groups = store.movement_sums(from, to, None, at).await?;
    groups.truncate(1);
    if groups.is_empty() {
        groups.push(("all".into(), Default::default()));
    }
    if let Some(by) = by {
        groups.extend(store.movement_sums(from, to, Some(by), at).await?);
    }
    Ok(groups
        .into_iter()
        .flat_map(|(group, sums)| {
            movements::build(&sums, from, to, at).into_iter().map(move |mut m| {
                m.group = by.map(|_| group.clone());
                m
            })
        })
        .collect())
}

/// `metrics cohorts`: the retention triangle.
pub async fn cohort_report(store: &(impl Accounts + Revenue + ?Sized), p: &Params<'_>) -> Result<CohortTable, AppError> {
    let period = p.period("period", cohorts::PeriodKind::Month)?;
    let measure = p.measure()?;
    let as_of = p.as_of()?;
    let units = load(store, None, as_of).await?;
    Ok(cohorts::cohorts(&units.accounts, period, measure, as_of))
}

/// `metrics ltv`: sBG fit, projection, DEL / DERL and LTV, per group ("all" first).
pub async fn ltv_report(store: &(impl Accounts + Revenue + ?Sized), p: &Params<'_>) -> Result<Vec<LtvReport>, AppError> {
    let params = ltv::LtvParams {
        period: p.period("period", cohorts::PeriodKind::Month)?,
        as_of: p.as_of()?,
        annual_discount_rate: p.fraction("discount_rate", 0.1, 0.0, 10.0)?,
        margin: p.fraction("margin", 1.0, 0.0, 1.0)?,
        renewals: match p.whole("renewals", 1)? {
            n if n > 1000 => return Err(params::ParamError::new("renewals", &n.to_string(), "is more than 1000").into()),
            n => n,
        },
    };
    let by = p.group_by()?;
    let units = load(store, by, params.as_of).await?;
    Ok(units.groups().into_iter().map(|(group, members)| ltv::ltv(&group, &members, params)).collect())
}

/// `metrics arr`: ARR, active accounts and ARPA at a date, per group ("all" first).
pub async fn arr_report(store: &(impl Accounts + Revenue + ?Sized), p: &Params<'_>) -> Result<Vec<ArrRow>, AppError> {
    let at = p.as_of()?;
    let by = p.group_by()?.or(Some(GroupBy::Segment));
    let units = load(store, by, at).await?;
    Ok(arr::arr(&units.groups(), at))
}

/// `metrics churn`: churned accounts and MRR lost, avoidable vs unavoidable, per group.
pub async fn churn_report(store: &(impl Accounts + Revenue + ?Sized), p: &Params<'_>) -> Result<Vec<ChurnRow>, AppError> {
    let at = p.as_of()?;
    let (from, to, requested_to) = p.date_range_as_of("from", "to", at)?;
    let by = p.group_by()?.unwrap_or(GroupBy::Segment);
    if by == GroupBy::Product {
        return Err(ParamError::new("by", "product", "churn records belong to accounts: use segment, touch_model, partner or owner").into());
    }
    let units = load(store, None, at).await?;
    let timelines: HashMap<&str, &kizuna_domain::metrics::Unit> =
        units.accounts.iter().map(|u| (u.account_id.as_str(), u)).collect();
    let records = store.all_churn_records().await?;
    let dims = store.account_dims().await?;
    let group_of = move |d: &kizuna_domain::AccountDims| match by {
        GroupBy::Segment => d.segment.clone(),
        GroupBy::TouchModel => d.touch_model.map(|t| t.to_string()),
        GroupBy::Partner => d.partner_id.clone(),
        GroupBy::Owner => d.owner_email.clone(),
        GroupBy::Product => None,
    };
    let records: Vec<_> = records.into_iter().filter(|(_, c)| c.churned_on <= at).collect();
    Ok(arr::churn_split(&records, &timelines, &dims, group_of, from, to).into_iter().map(|split| ChurnRow { split, requested_to }).collect())
}

/// ARR (12 × MRR) on `at`, in currency units.
pub(crate) async fn to_units_arr(store: &(impl Accounts + Revenue + ?Sized), at: NaiveDate) -> Result<f64, StoreError> {
    let units = load(store, None, at).await?;
    Ok(kizuna_domain::money::to_units(12 * units.accounts.iter().map(|u| u.timeline.mrr_at(at)).sum::<i64>()))
}

/// Today in the business time zone (`kizuna_domain::time`): the default as-of date.
pub fn today() -> NaiveDate {
    kizuna_domain::time::today()
}

/// Accounts whose MRR fell from above 0 to 0, with the day it did, for churn on or before
/// `at`: the churn label of backtests and calibration (`docs/metrics.md`, "Churn label").
pub(crate) async fn revenue_churns(store: &(impl Accounts + Revenue + ?Sized), at: NaiveDate) -> Result<Vec<(String, NaiveDate)>, StoreError> {
    let units = load(store, None, at).await?;
    Ok(units.accounts.iter().flat_map(|u| u.timeline.churn_days().into_iter().map(|d| (u.account_id.clone(), d))).collect())
}


/// The reports by name, as in `kizuna metrics NAME` and `/api/v1/metrics/NAME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    Retention,
    Mrr,
    Cohorts,
    Ltv,
    Arr,
    Churn,
}

impl Report {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "retention" => Report::Retention,
            "mrr" => Report::Mrr,
            "cohorts" => Report::Cohorts,
            "ltv" => Report::Ltv,
            "arr" => Report::Arr,
            "churn" => Report::Churn,
            _ => return None,
        })
    }

    pub async fn run(self, store: &(impl Accounts + Revenue + ?Sized), p: &Params<'_>) -> Result<ReportOutput, AppError> {
        Ok(match self {
            Report::Retention => ReportOutput::Retention(retention_report(store, p).await?),
            Report::Mrr => ReportOutput::Mrr(mrr_report(store, p).await?),
            Report::Cohorts => ReportOutput::Cohorts(cohort_report(store, p).await?),
            Report::Ltv => ReportOutput::Ltv(ltv_report(store, p).await?),
            Report::Arr => ReportOutput::Arr(arr_report(store, p).await?),
            Report::Churn => ReportOutput::Churn(churn_report(store, p).await?),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Report::Retention => "retention",
            Report::Mrr => "mrr",
            Report::Cohorts => "cohorts",
            Report::Ltv => "ltv",
            Report::Arr => "arr",
            Report::Churn => "churn",
        }
    }

    pub const ALL: [Report; 6] = [Report::Retention, Report::Mrr, Report::Cohorts, Report::Ltv, Report::Arr, Report::Churn];
}
