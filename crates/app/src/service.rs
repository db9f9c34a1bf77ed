//! Every use case as one actor calls it. This is where permissions are checked, once: each
//! method names what it needs, then runs the use case (which writes its own audit entry). The
//! CLI (as [`Actor::operator`]), the API and the pages all go through [`App`].
//!
//! | use cases                                              | permission                     |
//! |--------------------------------------------------------|--------------------------------|
//! | reports, dashboard, plans, backtest, forecast, alerts  | `ReadPortfolio`                |
//! | accounts, one account, its score and usage             | `ReadAccounts` (partner: own)  |
//! | logging an activity; opening and working CTAs          | `WriteActivities`              |
//! | CTAs (a partner: its accounts')                        | `ReadAccounts`                 |
//! | CTA types, reasons, playbooks, signal thresholds       | `EditPlaybooks` (CS Ops)       |
//! | running the daily signals now                          | `EditPlaybooks`                |
//! | onboarding plans (a partner: its accounts')            | `ReadAccounts`                 |
//! | starting plans, ticking tasks, sharing a plan          | `WriteActivities`              |
//! | onboarding templates; running the onboarding day       | `EditPlaybooks` (CS Ops)       |
//! | onboarding report and impact                           | `ReadPortfolio`                |
//! | saving scenarios, scorecards, definitions; scoring now | `EditPlans`                    |
//! | the audit log, the jobs                                | `ReadAudit`                    |
//! | users and API keys                                     | `Admin`                        |

use crate::access::Actor;
use crate::accounts::{self, AccountDetail, NewActivity};
use crate::ctas::{self, CtaChange, CtaDetail, NewCta};
use crate::dashboard::Dashboard;
use crate::signals::{self, SignalsSummary};
use crate::health::{self, Backtest, CalibrationReport, Explanation, Forecast, RunSummary};
use crate::planning::{self, PlanError, PlanKind, PlanOutput};
use crate::usage::{self, UsageAlert, UsageRow};
use crate::users::{self, NewUser, UserChange};
use crate::{AppError, Lookup, Params, Report, ReportOutput};
use chrono::NaiveDate;
use kizuna_domain::access::{KeyKind, Permission};
use kizuna_domain::health::Scorecards;
use kizuna_domain::planning::Scenario;
use kizuna_domain::usage::metrics::Definitions;
use kizuna_domain::{Account, ActivityRow, StaffRow};
use kizuna_store::access::AuditRecord;
use kizuna_store::usage::DailyUsage;
use kizuna_store::{ApiKey, Cta, CtaComment, CtaPage, CtaQuery, JobRecord, StaffUser, Store};
use serde::Serialize;
use serde_json::json;

/// The use cases, for one actor.
#[derive(Clone, Copy)]
pub struct App<'a> {
    store: &'a dyn Store,
    actor: &'a Actor,
}

/// One page of the audit log, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub entries: Vec<AuditRecord>,
}

/// A saved scenario's name and when it was last saved.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScenarioEntry {
    pub name: String,
    pub updated_at: String,
}

impl<'a> App<'a> {
    pub fn new(store: &'a dyn Store, actor: &'a Actor) -> Self {
        App { store, actor }
    }

    pub fn actor(&self) -> &Actor {
        self.actor
    }

    fn need(&self, p: Permission) -> Result<(), AppError> {
        Ok(self.actor.require(p)?)
    }

    // Portfolio figures.

    /// A revenue report (`kizuna metrics NAME`, `/api/v1/metrics/NAME`, the report pages).
    pub async fn report(&self, report: Report, q: &dyn Lookup) -> Result<ReportOutput, AppError> {
        self.need(Permission::ReadPortfolio)?;
        report.run(self.store, &Params(q)).await
    }

    pub async fn dashboard(&self, q: &dyn Lookup, today: NaiveDate) -> Result<Dashboard, AppError> {
        self.need(Permission::ReadPortfolio)?;
        crate::dashboard::dashboard(self.store, &Params(q), today).await
    }

    /// The saved scenario `name`, or the default one.
    pub async fn scenario(&self, name: Option<&str>) -> Result<Scenario, AppError> {
        self.need(Permission::ReadPortfolio)?;
        Ok(planning::saved_or_default(self.store, name).await?)
    }

    /// The saved scenario's text as saved.
    pub async fn scenario_text(&self, name: &str) -> Result<Option<String>, AppError> {
        self.need(Permission::ReadPortfolio)?;
        Ok(self.store.scenario(name).await?)
    }

    pub async fn scenarios(&self) -> Result<Vec<ScenarioEntry>, AppError> {
        self.need(Permission::ReadPortfolio)?;
        let rows = self.store.scenarios().await?;
        Ok(rows.into_iter().map(|(name, at)| ScenarioEntry { name, updated_at: kizuna_domain::time::rfc3339(at) }).collect())
    }

    pub async fn plan(&self, kind: PlanKind, scenario: &Scenario, at: NaiveDate) -> Result<PlanOutput, AppError> {
        self.need(Permission::ReadPortfolio)?;
        Ok(planning::run(self.store, kind, scenario, at).await?)
    }

    /// Saves a scenario (TOML) under `name` (1 to 100 characters) after checking it parses.
    pub async fn save_scenario(&self, name: &str, body: &str) -> Result<(), AppError> {
        self.need(Permission::EditPlans)?;
        if name.trim().is_empty() || name.chars().count() > 100 {
            return Err(PlanError::Name(name.to_string()).into());
        }
        Scenario::parse(body).map_err(PlanError::Scenario)?;
        let mut tx = self.store.begin().await?;
        tx.save_scenario(name, body).await?;
        self.actor.audit(&mut *tx, "scenario.save", Some(name), json!({ "bytes": body.len() })).await?;
        tx.commit().await?;
        Ok(())
    }

    // Health.

    /// The account's explained score on `at` (`None`: it was not paying then).
    pub async fn explain(&self, id: &str, at: NaiveDate) -> Result<Option<Explanation>, AppError> {
        self.visible_account(id, at).await?;
        health::explain(self.store, id, at).await
    }

    /// The scorecards as saved (TOML), or the default ones.
    pub async fn scorecards_text(&self) -> Result<String, AppError> {
        self.need(Permission::ReadPortfolio)?;
        Ok(self.store.setting(health::SETTING).await?.unwrap_or_else(|| kizuna_domain::health::scorecard::DEFAULT.to_string()))
    }

    /// The scorecards in use (saved, or the default ones).
    pub async fn scorecards(&self) -> Result<Scorecards, AppError> {
        self.need(Permission::ReadPortfolio)?;
        health::scorecards(self.store).await
    }

    /// Saves scorecards (TOML) after checking them; returns their names.
    pub async fn save_scorecards(&self, body: &str) -> Result<Vec<String>, AppError> {
        self.need(Permission::EditPlans)?;
        let cards = Scorecards::parse(body).map_err(AppError::Scorecards)?;
        let names: Vec<String> = cards.scorecards.iter().map(|c| c.name.clone()).collect();
        let mut tx = self.store.begin().await?;
        tx.save_setting(health::SETTING, body).await?;
        self.actor.audit(&mut *tx, "scorecards.save", None, json!({ "scorecards": names })).await?;
        tx.commit().await?;
        Ok(names)
    }

    /// Scores every paying account as of `at` now.
    pub async fn score(&self, at: NaiveDate) -> Result<RunSummary, AppError> {
        self.need(Permission::EditPlans)?;
        let at = crate::check_run_day("at", at)?;
        let v = health::run(self.store, at).await?;
        self.actor.record(self.store, "health.run", None, json!({ "at": at, "accounts": v.accounts })).await?;
        Ok(v)
    }

    pub async fn backtest(&self, q: &dyn Lookup) -> Result<Backtest, AppError> {
        self.need(Permission::ReadPortfolio)?;
        health::backtest(self.store, &Params(q)).await
    }

    /// Calibration; with `save`, the proposal is saved, which needs the right to edit.
    pub async fn calibrate(&self, q: &dyn Lookup) -> Result<CalibrationReport, AppError> {
        let save = q.lookup("save").filter(|s| !s.trim().is_empty());
        self.need(if save.is_some() { Permission::EditPlans } else { Permission::ReadPortfolio })?;
        health::calibrate(self.store, &Params(q), self.actor).await
    }

    /// Calibration asked for in order to save (the API's POST): the right to edit is needed
    /// even when no name to save under was given.
    pub async fn calibrate_to_save(&self, q: &dyn Lookup) -> Result<CalibrationReport, AppError> {
        self.need(Permission::EditPlans)?;
        self.calibrate(q).await
    }

    pub async fn forecast(&self, q: &dyn Lookup) -> Result<Forecast, AppError> {
        self.need(Permission::ReadPortfolio)?;
        health::forecast(self.store, &Params(q)).await
    }

    // Usage.

    /// The usage table on `at`: one account's row (which it must see) or everyone's.
    pub async fn usage_metrics(&self, at: NaiveDate, account: Option<&str>) -> Result<Vec<UsageRow>, AppError> {
        match account {
            Some(id) => drop(self.visible_account(id, at).await?),
            None => self.need(Permission::ReadPortfolio)?,
        }
        let defs = usage::definitions(self.store).await?;
        usage::usage_metrics(self.store, &defs, at, account).await
    }

    /// One account's daily event counts from `from` to `to` (for its usage chart).
    pub async fn usage_daily(&self, id: &str, from: NaiveDate, to: NaiveDate) -> Result<Vec<DailyUsage>, AppError> {
        self.visible_account(id, to).await?;
        Ok(self.store.usage_daily(id, from, to).await?)
    }

    pub async fn usage_alerts(&self, at: NaiveDate) -> Result<Vec<UsageAlert>, AppError> {
        self.need(Permission::ReadPortfolio)?;
        let defs = usage::definitions(self.store).await?;
        usage::usage_alerts(self.store, &defs, at).await
    }

    /// The usage metrics defined, to show an account's (anyone who reads accounts may).
    pub async fn usage_definitions(&self) -> Result<Definitions, AppError> {
        self.need(Permission::ReadAccounts)?;
        usage::definitions(self.store).await
    }

    /// The usage metric definitions as saved (TOML), or the default ones.
    pub async fn usage_definitions_text(&self) -> Result<String, AppError> {
        self.need(Permission::ReadPortfolio)?;
        Ok(self.store.setting(usage::SETTING).await?.unwrap_or_else(|| kizuna_domain::usage::metrics::DEFAULT.to_string()))
    }

    /// Saves usage metric definitions (TOML) after checking them; returns the metrics' names.
    pub async fn save_usage_definitions(&self, body: &str) -> Result<Vec<String>, AppError> {
        self.need(Permission::EditPlans)?;
        let defs = Definitions::parse(body).map_err(AppError::Usage)?;
        let mut tx = self.store.begin().await?;
        tx.save_setting(usage::SETTING, body).await?;
        self.actor.audit(&mut *tx, "usage_definitions.save", None, json!({ "metrics": defs.metrics.len() })).await?;
        tx.commit().await?;
        Ok(defs.metrics.iter().map(|m| m.name.clone()).collect())
    }

    // Accounts.

    /// A page of accounts, filtered and sorted; a partner's actor gets only its own.
    pub async fn accounts(&self, q: &dyn Lookup) -> Result<accounts::AccountList, AppError> {
        self.need(Permission::ReadAccounts)?;
        let query = accounts::scoped_query(q, self.actor)?;
        accounts::work_list(self.store, &query).await
    }

    /// The account page's summary strip: what the list shows beside the account, on `on`.
    pub async fn account_summary(&self, account: Account, on: NaiveDate) -> Result<accounts::AccountListItem, AppError> {
        self.need(Permission::ReadAccounts)?;
        let mut items = accounts::items(self.store, vec![account], on).await?;
        Ok(items.remove(0))
    }

    /// The actor's saved views of the account list.
    pub async fn saved_views(&self) -> Result<Vec<kizuna_store::SavedView>, AppError> {
        self.need(Permission::ReadAccounts)?;
        Ok(self.store.saved_views(&self.actor.id).await?)
    }

    /// Saves a view of the account list for the actor: anyone who reads accounts, signed in
    /// (an API key only reads).
    pub async fn save_view(&self, v: accounts::NewView) -> Result<kizuna_store::SavedView, AppError> {
        self.need_own_views()?;
        accounts::save_view(self.store, self.actor, v).await
    }

    /// Deletes one of the actor's saved views.
    pub async fn delete_view(&self, view_id: &str) -> Result<(), AppError> {
        self.need_own_views()?;
        accounts::delete_view(self.store, self.actor, view_id).await
    }

    fn need_own_views(&self) -> Result<(), AppError> {
        self.need(Permission::ReadAccounts)?;
        if self.actor.via_key {
            return Err(crate::access::Denied::KeyReadOnly.into());
        }
        Ok(())
    }

    /// Every account the list's filters select, page by page, for an export; audited with
    /// `filters` (what was asked).
    pub async fn export_accounts(&self, q: &dyn Lookup, filters: serde_json::Value) -> Result<Vec<Account>, AppError> {
        self.need(Permission::ReadAccounts)?;
        let mut query = accounts::scoped_query(q, self.actor)?;
        (query.page, query.per_page) = (1, 1000);
        let mut all = Vec::new();
        loop {
            let chunk = self.store.list_accounts(&query).await?;
            all.extend(chunk.accounts);
            if (query.page as u64) * (query.per_page as u64) >= chunk.total {
                break;
            }
            query.page += 1;
        }
        self.actor.record(self.store, "accounts.export", None, json!({ "filters": filters })).await?;
        Ok(all)
    }

    /// The account if the actor may see it; "not found" otherwise.
    pub async fn visible_account(&self, id: &str, on: NaiveDate) -> Result<Account, AppError> {
        self.need(Permission::ReadAccounts)?;
        accounts::visible_account(self.store, self.actor, id, on).await
    }

    /// The account with what belongs to it, its `latest` activities among them.
    pub async fn account(&self, id: &str, on: NaiveDate, latest: u32) -> Result<AccountDetail, AppError> {
        self.need(Permission::ReadAccounts)?;
        accounts::detail(self.store, self.actor, id, on, latest).await
    }

    /// Sets the account's lifecycle stage from a day (a manual change, kept in its history).
    pub async fn set_stage(&self, id: &str, s: crate::journey::NewStage) -> Result<kizuna_domain::journey::StageChange, AppError> {
        self.need(Permission::WriteActivities)?;
        crate::journey::set_stage(self.store, self.actor, id, s).await
    }

    /// The journey's stages.
    pub async fn journey(&self) -> Result<kizuna_domain::journey::Journey, AppError> {
        self.need(Permission::ReadAccounts)?;
        crate::journey::journey(self.store).await
    }

    /// The journey's stages with their active accounts on `on` (the partner's own only).
    pub async fn journey_stages(&self, on: NaiveDate) -> Result<Vec<crate::journey::StageCount>, AppError> {
        self.need(Permission::ReadAccounts)?;
        crate::journey::stage_counts(self.store, self.actor, on).await
    }

    /// Saves the journey's stages (CS Ops).
    pub async fn save_journey(&self, j: kizuna_domain::journey::Journey) -> Result<kizuna_domain::journey::Journey, AppError> {
        self.need(Permission::EditPlaybooks)?;
        crate::journey::save(self.store, self.actor, j).await
    }

    pub async fn add_activity(&self, id: &str, a: NewActivity) -> Result<ActivityRow, AppError> {
        self.need(Permission::WriteActivities)?;
        accounts::add_activity(self.store, self.actor, id, a).await
    }

    /// What the account list can be filtered by: owners (e-mail, name) and partners (id, name).
    /// Internally, the active CSMs and managers and every partner; a partner's actor gets only
    /// its own active users and no partners, never the company's staff addresses.
    pub async fn filter_choices(&self) -> Result<(Vec<(String, String)>, Vec<(String, String)>), AppError> {
        self.need(Permission::ReadAccounts)?;
        let scope = self.actor.scope();
        let owners = self
            .store
            .staff_users()
            .await?
            .into_iter()
            .filter(|u| u.deactivated_at.is_none())
            .filter(|u| match &scope {
                Some(partner) => u.partner_id.as_deref() == Some(partner.as_str()),
                None => u.role == "csm" || u.role == "manager",
            })
            .map(|u| (u.email, u.name))
            .collect();
        let partners = if scope.is_some() { vec![] } else { self.store.partners().await? };
        Ok((owners, partners))
    }

    // Administration.

    pub async fn audit_log(&self, q: &dyn Lookup) -> Result<AuditPage, AppError> {
        self.need(Permission::ReadAudit)?;
        let p = Params(q);
        let page = p.number("page", 1, u32::MAX)?.unwrap_or(1);
        let per_page = p.number("per_page", 1, 1000)?.unwrap_or(100);
        let (total, entries) = self.store.audit_log(p.text("actor"), page, per_page).await?;
        Ok(AuditPage { total, page, per_page, entries })
    }

    /// The jobs the servers ran or will run, the latest scheduled first (`status`: queued,
    /// running, done, failed or dead).
    /// The home for one book: CTAs due, alerts, renewals, health drops and mix, ARR at risk;
    /// a line per CSM for a manager.
    pub async fn home(&self, q: &dyn Lookup) -> Result<crate::home::Home, AppError> {
        self.need(Permission::ReadAccounts)?;
        let p = Params(q);
        let at = p.date_or_today("at")?;
        // `owner=` (asked, empty) is everyone's book: read as given, not as a missing field.
        let owner = crate::home::book_owner(self.actor, q.lookup("owner"));
        crate::home::home(self.store, self.actor, owner, at).await
    }

    /// Upcoming renewals with their figures and forecast calls, and the totals by month.
    pub async fn renewals(&self, q: &dyn Lookup) -> Result<crate::renewals::Renewals, AppError> {
        self.need(Permission::ReadAccounts)?;
        let p = Params(q);
        let at = p.date_or_today("at")?;
        let from = p.date("from")?.unwrap_or(at);
        let to = p.date("to")?.unwrap_or(from + chrono::Duration::days(180));
        if to < from || (to - from).num_days() > 3660 {
            return Err(crate::ParamError::new("to", &to.to_string(), "must be on or after from, within 10 years").into());
        }
        // `owner=` (asked, empty) is everyone's book: read as given, not as a missing field.
        let owner = crate::home::book_owner(self.actor, q.lookup("owner"));
        crate::renewals::list(self.store, self.actor, owner, from, to, at).await
    }

    /// Sets the forecast call on an account's renewal.
    pub async fn set_renewal_call(&self, account_id: &str, c: crate::renewals::NewCall) -> Result<kizuna_store::RenewalCall, AppError> {
        self.need(Permission::WriteActivities)?;
        crate::renewals::set_call(self.store, self.actor, account_id, c).await
    }

    // Onboarding.

    pub async fn onboarding_templates(&self) -> Result<kizuna_domain::onboarding::Templates, AppError> {
        self.need(Permission::ReadAccounts)?;
        crate::onboarding::templates(self.store).await
    }

    /// Saves the templates; `reapply` moves running plans to their template's new version.
    pub async fn save_onboarding_templates(&self, t: kizuna_domain::onboarding::Templates, reapply: bool) -> Result<crate::onboarding::SavedTemplates, AppError> {
        self.need(Permission::EditPlaybooks)?;
        crate::onboarding::save_templates(self.store, self.actor, t, reapply).await
    }

    /// A page of plans (filters: account, status, owner).
    pub async fn onboarding_plans(&self, q: &dyn Lookup) -> Result<crate::onboarding::PlanList, AppError> {
        use kizuna_domain::onboarding::PlanStatus;
        self.need(Permission::ReadAccounts)?;
        let p = Params(q);
        let statuses = match p.text("status").unwrap_or("all") {
            "all" => vec![],
            "running" => vec![PlanStatus::OnTrack, PlanStatus::Behind, PlanStatus::Stuck],
            _ => vec![p.choice("status", PlanStatus::parse, "on_track, behind, stuck, completed, cancelled, running or all")?.expect("present")],
        };
        let owner_email = p.text("owner").map(|o| if o == "me" { self.actor.id.clone() } else { o.trim().to_lowercase() });
        let query = kizuna_store::PlanQuery {
            account_id: p.text("account").map(str::to_string),
            statuses,
            owner_email,
            partner_id: None,
            limit: p.number("per_page", 1, 500)?.unwrap_or(50),
            offset: 0,
            soonest_due: false,
        };
        crate::onboarding::plans(self.store, self.actor, query, p.number("page", 1, 1_000_000)?.unwrap_or(1)).await
    }

    pub async fn onboarding_plan(&self, id: &str) -> Result<kizuna_domain::onboarding::Plan, AppError> {
        self.need(Permission::ReadAccounts)?;
        crate::onboarding::plan(self.store, self.actor, id).await
    }

    pub async fn start_onboarding_plan(&self, n: crate::onboarding::NewPlan) -> Result<kizuna_domain::onboarding::Plan, AppError> {
        self.need(Permission::WriteActivities)?;
        crate::onboarding::start_plan(self.store, self.actor, n).await
    }

    pub async fn set_onboarding_task(&self, plan: &str, task: &str, c: crate::onboarding::TaskChange) -> Result<kizuna_domain::onboarding::Plan, AppError> {
        self.need(Permission::WriteActivities)?;
        crate::onboarding::set_task(self.store, self.actor, plan, task, c).await
    }

    /// A signed link to the plan's customer side, valid for `days` days.
    pub async fn share_onboarding_plan(&self, plan: &str, days: u32) -> Result<crate::onboarding::SharedLink, AppError> {
        self.need(Permission::WriteActivities)?;
        crate::onboarding::share(self.store, self.actor, plan, days).await
    }

    /// The onboarding KPIs over [from, to] (default the year up to the as-of day).
    pub async fn onboarding_report(&self, q: &dyn Lookup) -> Result<crate::onboarding::OnboardingReport, AppError> {
        self.need(Permission::ReadPortfolio)?;
        let p = Params(q);
        let at = p.as_of()?;
        let to = p.date("to")?.unwrap_or(at);
        let from = p.date("from")?.unwrap_or_else(|| to.checked_sub_signed(chrono::Duration::days(364)).unwrap_or(NaiveDate::MIN));
        if to < from || (to - from).num_days() > 3660 {
            return Err(crate::ParamError::new("to", &to.to_string(), "must be on or after from, within 10 years").into());
        }
        if from > at {
            return Err(crate::ParamError::new("from", &from.to_string(), &format!("is after the as-of date {at}: nothing after it has happened yet")).into());
        }
        let by = p.choice("by", crate::onboarding::ReportBy::parse, "product, segment, touch_model, owner, partner or cohort")?;
        crate::onboarding::report(self.store, self.actor, from, to, by, at).await
    }

    /// Churn within the horizon after on-time and late onboarding.
    pub async fn onboarding_impact(&self, q: &dyn Lookup) -> Result<crate::onboarding::Impact, AppError> {
        self.need(Permission::ReadPortfolio)?;
        let p = Params(q);
        let at = p.as_of()?;
        let to = p.date("to")?.unwrap_or(at);
        let from = p.date("from")?.unwrap_or_else(|| to.checked_sub_signed(chrono::Duration::days(730)).unwrap_or(NaiveDate::MIN));
        if to < from || (to - from).num_days() > 3660 {
            return Err(crate::ParamError::new("to", &to.to_string(), "must be on or after from, within 10 years").into());
        }
        let horizon = match p.text("horizon") {
            None => 180,
            Some(h) => match h.trim_end_matches('d').parse::<u32>() {
                Ok(n) if (30..=730).contains(&n) => n,
                _ => return Err(crate::ParamError::new("horizon", h, "is not a number of days from 30 to 730 (180d or 180)").into()),
            },
        };
        crate::onboarding::impact(self.store, self.actor, from, to, horizon, at).await
    }

    /// Runs the onboarding day now (the daily job does it before the signals).
    pub async fn run_onboarding(&self, at: NaiveDate) -> Result<crate::onboarding::RunSummary, AppError> {
        self.need(Permission::EditPlaybooks)?;
        let at = crate::check_run_day("at", at)?;
        let v = crate::onboarding::run(self.store, at).await?;
        self.actor.record(self.store, "onboarding.run", None, json!({ "at": at, "started": v.started, "tasks_done": v.tasks_done })).await?;
        Ok(v)
    }

    // CTAs.

    /// A page of CTAs (default: not closed), soonest due first.
    pub async fn ctas(&self, q: &dyn Lookup) -> Result<CtaPage, AppError> {
        self.need(Permission::ReadAccounts)?;
        let p = Params(q);
        use kizuna_domain::ctas::CtaStatus::*;
        let statuses = match p.text("status").unwrap_or("active") {
            "active" => vec![Open, InProgress, Snoozed],
            "all" => vec![],
            s => vec![p.choice("status", kizuna_domain::ctas::CtaStatus::parse, "active, open, in_progress, snoozed, closed or all")?.ok_or_else(|| crate::ParamError::new("status", s, "is not a status"))?],
        };
        let owner_email = p.text("owner").map(|o| if o == "me" { self.actor.id.clone() } else { o.trim().to_lowercase() });
        let query = CtaQuery {
            statuses,
            owner_email,
            account_id: p.text("account").map(str::to_string),
            partner_id: None,
            cta_type: p.text("type").map(str::to_string),
            due_by: p.date("due_by")?,
            page: p.number("page", 1, u32::MAX)?.unwrap_or(1),
            per_page: p.number("per_page", 1, 500)?.unwrap_or(50),
        };
        ctas::list(self.store, self.actor, query).await
    }

    /// One CTA with its tasks and comments.
    pub async fn cta(&self, id: &str) -> Result<CtaDetail, AppError> {
        self.need(Permission::ReadAccounts)?;
        ctas::detail(self.store, self.actor, id).await
    }

    pub async fn create_cta(&self, n: NewCta) -> Result<Cta, AppError> {
        self.need(Permission::WriteActivities)?;
        ctas::create(self.store, self.actor, n).await
    }

    pub async fn update_cta(&self, id: &str, change: CtaChange) -> Result<Cta, AppError> {
        self.need(Permission::WriteActivities)?;
        ctas::update(self.store, self.actor, id, change).await
    }

    pub async fn comment_cta(&self, id: &str, body: &str, visibility: Option<&str>) -> Result<CtaComment, AppError> {
        self.need(Permission::WriteActivities)?;
        ctas::comment(self.store, self.actor, id, body, visibility).await
    }

    /// The CTA configuration (TOML) as saved, or the default.
    pub async fn playbooks_text(&self) -> Result<String, AppError> {
        self.need(Permission::ReadAccounts)?;
        ctas::config_text(self.store).await
    }

    /// The CTA configuration as data (types and reasons with their labels, playbooks).
    pub async fn playbooks(&self) -> Result<kizuna_domain::ctas::CtaConfig, AppError> {
        self.need(Permission::ReadAccounts)?;
        ctas::config(self.store).await
    }

    pub async fn save_playbooks(&self, body: &str) -> Result<kizuna_domain::ctas::CtaConfig, AppError> {
        self.need(Permission::EditPlaybooks)?;
        ctas::save_config(self.store, self.actor, body).await
    }

    /// Runs the daily signals as of `at` now (the job does it every day).
    pub async fn run_signals(&self, at: NaiveDate) -> Result<SignalsSummary, AppError> {
        self.need(Permission::EditPlaybooks)?;
        let at = crate::check_run_day("at", at)?;
        let v = signals::run_daily(self.store, at).await?;
        self.actor.record(self.store, "signals.run", None, json!({ "at": at, "opened": v.opened, "updated": v.updated })).await?;
        Ok(v)
    }

    pub async fn jobs(&self, status: Option<&str>, limit: u32) -> Result<Vec<JobRecord>, AppError> {
        self.need(Permission::ReadAudit)?;
        if let Some(s) = status.filter(|s| kizuna_domain::jobs::JobStatus::parse(s).is_none()) {
            return Err(crate::ParamError::new("status", s, "is not one of: queued, running, done, failed, dead").into());
        }
        Ok(self.store.jobs(status, limit.clamp(1, 10_000)).await?)
    }

    pub async fn users(&self) -> Result<Vec<StaffUser>, AppError> {
        self.need(Permission::Admin)?;
        Ok(self.store.staff_users().await?)
    }

    /// Partners known from the accounts (id, name), to bind users and keys to.
    pub async fn partners(&self) -> Result<Vec<(String, String)>, AppError> {
        self.need(Permission::Admin)?;
        Ok(self.store.partners().await?)
    }

    pub async fn create_user(&self, u: NewUser) -> Result<StaffRow, AppError> {
        self.need(Permission::Admin)?;
        users::create_user(self.store, self.actor, u).await
    }

    pub async fn change_user(&self, c: UserChange) -> Result<String, AppError> {
        self.need(Permission::Admin)?;
        users::change_user(self.store, self.actor, c).await
    }

    pub async fn set_user_active(&self, email: &str, active: bool) -> Result<Option<u64>, AppError> {
        self.need(Permission::Admin)?;
        users::set_active(self.store, self.actor, email, active).await
    }

    pub async fn keys(&self) -> Result<Vec<ApiKey>, AppError> {
        self.need(Permission::Admin)?;
        Ok(self.store.api_keys().await?)
    }

    pub async fn create_key(&self, kind: KeyKind, label: Option<String>, partner_id: Option<String>) -> Result<(String, ApiKey), AppError> {
        self.need(Permission::Admin)?;
        users::create_key(self.store, self.actor, kind, label, partner_id).await
    }

    pub async fn revoke_key(&self, key_id: &str) -> Result<(), AppError> {
        self.need(Permission::Admin)?;
        users::revoke_key(self.store, self.actor, key_id).await
    }
}
