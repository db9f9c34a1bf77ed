//! What each use case is asked, as one struct per use case: the CLI builds it from its flags,
//! the API deserialises it from the query string (`ApiQuery<T>` in the server), and the API
//! document lists its fields (`utoipa::IntoParams`). Values stay text until the use case checks
//! them ([`crate::Params`]), so a wrong one is refused with the parameter, the value and what
//! was expected, in the same words on the command line and over HTTP.

use serde::Deserialize;
use utoipa::IntoParams;

/// A request whose fields [`crate::Params`] reads by their API names.
pub trait Lookup: Sync {
    fn lookup(&self, name: &str) -> Option<&str>;
}

impl Lookup for std::collections::HashMap<String, String> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

/// Each field of a request struct by its name (also for the server's own requests).
#[macro_export]
macro_rules! lookup {
    ($t:ty { $($f:ident),* $(,)? }) => {
        impl $crate::requests::Lookup for $t {
            fn lookup(&self, name: &str) -> Option<&str> {
                match name {
                    $(stringify!($f) => self.$f.as_deref(),)*
                    _ => None,
                }
            }
        }
    };
}

/// `metrics retention` and `metrics churn`: a date range.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeRequest {
    /// First day, YYYY-MM-DD.
    #[param(required = true, format = Date)]
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD (cut at the as-of date; the answer keeps `requested_to`).
    #[param(required = true, format = Date)]
    pub to: Option<String>,
    /// segment, touch_model, product, partner or owner (adds a `group`; "all" first).
    #[param(pattern = "^(segment|touch_model|product|partner|owner)$")]
    pub by: Option<String>,
    /// The as-of date, YYYY-MM-DD (default today): nothing after it is counted.
    #[param(format = Date)]
    pub at: Option<String>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}
lookup!(RangeRequest { from, to, by, at, format });

/// `metrics mrr`: a month range.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthRangeRequest {
    /// First month, YYYY-MM.
    #[param(required = true, pattern = r"^\d{4}-\d{2}$")]
    pub from: Option<String>,
    /// Last month, YYYY-MM (months after the as-of month are left out).
    #[param(required = true, pattern = r"^\d{4}-\d{2}$")]
    pub to: Option<String>,
    /// segment, touch_model, product, partner or owner.
    #[param(pattern = "^(segment|touch_model|product|partner|owner)$")]
    pub by: Option<String>,
    /// The as-of date, YYYY-MM-DD (default today).
    #[param(format = Date)]
    pub at: Option<String>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}
lookup!(MonthRangeRequest { from, to, by, at, format });

/// `metrics cohorts`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CohortRequest {
    /// month (default), quarter or year.
    #[param(pattern = "^(month|quarter|year)$")]
    pub period: Option<String>,
    /// logos (default) or mrr.
    #[param(pattern = "^(logos|mrr)$")]
    pub measure: Option<String>,
    /// The as-of date, YYYY-MM-DD (default today).
    #[param(format = Date)]
    pub at: Option<String>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}
lookup!(CohortRequest { period, measure, at, format });

/// `metrics ltv`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LtvRequest {
    /// month (default), quarter or year.
    #[param(pattern = "^(month|quarter|year)$")]
    pub period: Option<String>,
    /// Annual discount rate, 0 to 10 (default 0.1).
    #[param(value_type = Option<f64>)]
    pub discount_rate: Option<String>,
    /// Gross margin, 0 to 1 (default 1).
    #[param(value_type = Option<f64>)]
    pub margin: Option<String>,
    /// Renewals already made, for DERL (default 1; at most 1000).
    #[param(value_type = Option<u32>, maximum = 1000)]
    pub renewals: Option<String>,
    /// segment, touch_model, product, partner or owner.
    #[param(pattern = "^(segment|touch_model|product|partner|owner)$")]
    pub by: Option<String>,
    /// The as-of date, YYYY-MM-DD (default today).
    #[param(format = Date)]
    pub at: Option<String>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}
lookup!(LtvRequest { period, discount_rate, margin, renewals, by, at, format });

/// `metrics arr`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArrRequest {
    /// segment (default), touch_model, product, partner or owner.
    #[param(pattern = "^(segment|touch_model|product|partner|owner)$")]
    pub by: Option<String>,
    /// The as-of date, YYYY-MM-DD (default today).
    #[param(format = Date)]
    pub at: Option<String>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}
lookup!(ArrRequest { by, at, format });

/// The dashboard.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardRequest {
    /// First month, YYYY-MM (default: eleven months before `to`).
    #[param(pattern = r"^\d{4}-\d{2}$")]
    pub from: Option<String>,
    /// Last month, YYYY-MM (default: the month of `at`).
    #[param(pattern = r"^\d{4}-\d{2}$")]
    pub to: Option<String>,
    /// The as-of date, YYYY-MM-DD (default today).
    #[param(format = Date)]
    pub at: Option<String>,
}
lookup!(DashboardRequest { from, to, at });

/// `score backtest`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BacktestRequest {
    /// First observation date, YYYY-MM-DD.
    #[param(required = true, format = Date)]
    pub from: Option<String>,
    /// Last observation date, YYYY-MM-DD (cut to the as-of date minus the horizon).
    #[param(required = true, format = Date)]
    pub to: Option<String>,
    /// Days between observation dates, `7d`, `1w` or `7` (default 7d); at most 104 dates over HTTP.
    #[param(pattern = r"^[0-9]+[dw]?$")]
    pub every: Option<String>,
    /// Days after each observation in which churn counts, `28d` (default).
    #[param(pattern = r"^[0-9]+[dw]?$")]
    pub horizon: Option<String>,
    /// The scorecard to replay (default `default`).
    pub scorecard: Option<String>,
    /// The as-of date, YYYY-MM-DD (default today): churn after it is not known yet.
    #[param(format = Date)]
    pub at: Option<String>,
}
lookup!(BacktestRequest { from, to, every, horizon, scorecard, at });

/// `score calibrate` and `score forecast`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CalibrateRequest {
    /// First observation date, YYYY-MM-DD.
    #[param(required = true, format = Date)]
    pub from: Option<String>,
    /// Last observation date, YYYY-MM-DD (cut to the as-of date minus the horizon).
    #[param(required = true, format = Date)]
    pub to: Option<String>,
    /// Days between observation dates (default 7d); at most 104 dates over HTTP.
    #[param(pattern = r"^[0-9]+[dw]?$")]
    pub every: Option<String>,
    /// Days after each observation in which churn counts (default 28d).
    #[param(pattern = r"^[0-9]+[dw]?$")]
    pub horizon: Option<String>,
    /// Usage metrics to fit on, comma-separated (default every defined one).
    pub metrics: Option<String>,
    /// L2 penalty, 0.0001 to 10000 (default 1).
    #[param(value_type = Option<f64>)]
    pub l2: Option<String>,
    /// Name of the proposed scorecard (default `calibrated`).
    pub name: Option<String>,
    /// Save the proposed scorecard under this name (POST only).
    pub save: Option<String>,
    /// The date of the probabilities, YYYY-MM-DD (default today).
    #[param(format = Date)]
    pub at: Option<String>,
}
lookup!(CalibrateRequest { from, to, every, horizon, metrics, l2, name, save, at });

/// The account list: filters, sort and page (the API; the accounts page reads the same names).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountListRequest {
    /// Page, from 1.
    #[param(value_type = Option<u32>, minimum = 1)]
    pub page: Option<String>,
    /// Accounts per page, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub per_page: Option<String>,
    pub segment: Option<String>,
    /// high, hybrid or tech.
    #[param(pattern = "^(high|hybrid|tech)$")]
    pub touch_model: Option<String>,
    /// The owner's e-mail.
    pub owner: Option<String>,
    pub partner: Option<String>,
    /// Lifecycle stage.
    pub stage: Option<String>,
    /// red, yellow or green.
    #[param(pattern = "^(red|yellow|green)$")]
    pub health: Option<String>,
    /// Search in id and name (NFKC-normalised).
    pub q: Option<String>,
    /// active (paying or not paying yet), churned (had MRR, has none on the day) or all (the default).
    #[param(pattern = "^(active|churned|all)$")]
    pub status: Option<String>,
    /// account_id, name, segment, touch_model, owner, partner, stage, mrr or health (unscored last).
    pub sort: Option<String>,
    /// asc or desc.
    #[param(pattern = "^(asc|desc)$")]
    pub order: Option<String>,
    /// Date of the MRR shown, YYYY-MM-DD (default today).
    #[param(format = Date)]
    pub on: Option<String>,
}
lookup!(AccountListRequest { page, per_page, segment, touch_model, owner, partner, stage, health, q, status, sort, order, on });

/// One account: the day its MRR is read on.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OnRequest {
    /// Date of the MRR shown, YYYY-MM-DD (default today).
    #[param(format = Date)]
    pub on: Option<String>,
}
lookup!(OnRequest { on });

/// The audit log: a page, and optionally one actor's entries.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditRequest {
    /// Page, from 1.
    #[param(value_type = Option<u32>, minimum = 1)]
    pub page: Option<String>,
    /// Entries per page, 1 to 1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub per_page: Option<String>,
    /// Only this actor's entries.
    pub actor: Option<String>,
}
lookup!(AuditRequest { page, per_page, actor });

/// The jobs list: optionally one status, and how many.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsRequest {
    /// queued, running, done, failed or dead.
    #[param(pattern = "^(queued|running|done|failed|dead)$")]
    pub status: Option<String>,
    /// At most this many, 1 to 10000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    pub limit: Option<String>,
}
lookup!(JobsRequest { status, limit });

/// The CTA list: by status (default `active`: open, in progress and snoozed), owner, account,
/// type and due date, a page at a time.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CtaListRequest {
    /// active (default), open, in_progress, snoozed, closed or all.
    #[param(pattern = "^(active|open|in_progress|snoozed|closed|all)$")]
    pub status: Option<String>,
    /// The owner's e-mail; `me` for the one asking.
    pub owner: Option<String>,
    pub account: Option<String>,
    /// risk, opportunity, renewal, onboarding, lifecycle or an admin-defined type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub cta_type: Option<String>,
    /// Due on or before this day, YYYY-MM-DD.
    pub due_by: Option<String>,
    /// Page, from 1.
    #[param(value_type = Option<u32>, minimum = 1)]
    pub page: Option<String>,
    /// CTAs per page, 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub per_page: Option<String>,
}

impl crate::requests::Lookup for CtaListRequest {
    fn lookup(&self, name: &str) -> Option<&str> {
        match name {
            "status" => self.status.as_deref(),
            "owner" => self.owner.as_deref(),
            "account" => self.account.as_deref(),
            "type" => self.cta_type.as_deref(),
            "due_by" => self.due_by.as_deref(),
            "page" => self.page.as_deref(),
            "per_page" => self.per_page.as_deref(),
            _ => None,
        }
    }
}

/// `ctas run-signals`: the day to run them for.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignalsRequest {
    /// YYYY-MM-DD (default today, business time zone).
    pub at: Option<String>,
}
lookup!(SignalsRequest { at });

/// The home: whose book (`me`, an owner's e-mail; default a CSM's own, everyone's for others)
/// and as of which day.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HomeRequest {
    /// `me` or an owner's e-mail.
    pub owner: Option<String>,
    /// YYYY-MM-DD (default today, business time zone).
    pub at: Option<String>,
}
lookup!(HomeRequest { owner, at });

/// The renewals centre: renewals dated within [from, to] (default today and 180 days later),
/// one owner's (`me`) or everyone's.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RenewalsRequest {
    /// First day, YYYY-MM-DD (default today).
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD (default 180 days after `from`).
    pub to: Option<String>,
    /// `me` or an owner's e-mail (default: a CSM's own, everyone's for others).
    pub owner: Option<String>,
    /// The day the figures are as of, YYYY-MM-DD (default today, business time zone).
    pub at: Option<String>,
}
lookup!(RenewalsRequest { from, to, owner, at });

/// `onboarding plans`, `GET /api/v1/onboarding/plans`: plans, newest first.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OnboardingPlansRequest {
    /// One account's plans.
    pub account: Option<String>,
    /// on_track, behind, stuck, completed, cancelled, running (the first three) or all (default).
    #[param(pattern = "^(on_track|behind|stuck|completed|cancelled|running|all)$")]
    pub status: Option<String>,
    /// `me` or an owner's e-mail.
    pub owner: Option<String>,
    /// 1-based (default 1).
    pub page: Option<String>,
    /// 1 to 500 (default 50).
    pub per_page: Option<String>,
    /// `json` (default) or `csv` (the command line also has `table`).
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}
lookup!(OnboardingPlansRequest { account, status, owner, page, per_page, format });

/// `onboarding report`, `GET /api/v1/onboarding/report`: the onboarding KPIs over a range.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OnboardingReportRequest {
    /// First day, YYYY-MM-DD (default a year before `to`).
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD (default the as-of day; cut at it).
    #[param(format = Date)]
    pub to: Option<String>,
    /// product, segment, touch_model, owner, partner or cohort (start month).
    #[param(pattern = "^(product|segment|touch_model|owner|partner|cohort)$")]
    pub by: Option<String>,
    /// The as-of date, YYYY-MM-DD (default today): nothing after it is counted.
    #[param(format = Date)]
    pub at: Option<String>,
    /// `json` (default) or `csv` (the command line also has `table`).
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}
lookup!(OnboardingReportRequest { from, to, by, at, format });

/// `onboarding impact`, `GET /api/v1/onboarding/impact`: churn after on-time and late onboarding.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OnboardingImpactRequest {
    /// Plans due from this day, YYYY-MM-DD (default two years before `at`).
    #[param(format = Date)]
    pub from: Option<String>,
    /// ...to this day (default the as-of day).
    #[param(format = Date)]
    pub to: Option<String>,
    /// Days after the due day in which churn counts: `180d` or `180` (default 180, 30 to 730).
    pub horizon: Option<String>,
    /// The as-of date, YYYY-MM-DD (default today).
    #[param(format = Date)]
    pub at: Option<String>,
    /// `json` (default) or `csv` (the command line also has `table`).
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}
lookup!(OnboardingImpactRequest { from, to, horizon, at, format });
