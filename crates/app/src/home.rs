//! The home: what needs attention today and why, for one CSM's book or, for a manager, the
//! team's (with a line per CSM): CTAs due today and overdue, new usage alerts, renewals in the
//! next 90 and 180 days with ARR and health, the week's biggest health drops with the measure
//! that cost most, the book's health mix and ARR at risk (ARR of red accounts).

use crate::access::Actor;
use crate::ctas::not_closed;
use crate::AppError;
use chrono::{Duration, NaiveDate};
use kizuna_domain::ctas::CtaStatus;
use kizuna_domain::Role;
use kizuna_store::{Accounts, Cta, CtaQuery, Ctas, Health, Usage};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Home {
    pub at: NaiveDate,
    /// Whose book: the CSM's e-mail, or none for the whole team (a partner: its accounts).
    pub owner: Option<String>,
    /// Open or in progress (not snoozed), due on or before `at`, soonest first (at most 50).
    pub ctas_due: Vec<Cta>,
    pub ctas_due_total: u64,
    /// Of those, due before `at`.
    pub ctas_overdue: u64,
    pub ctas_open_total: u64,
    /// Usage anomalies of the last 7 days in the book, largest drop first (at most 20).
    pub alerts: Vec<HomeAlert>,
    /// Renewals in the next 180 days, soonest first.
    pub renewals: Vec<HomeRenewal>,
    pub renewals_90: RenewalTotal,
    pub renewals_180: RenewalTotal,
    /// Health down most over 7 days (at most 10), with the measure that cost most points.
    pub health_drops: Vec<HealthDrop>,
    pub health_mix: HealthMix,
    /// Annual recurring revenue of the book on `at`, and of its red accounts.
    pub arr: f64,
    pub arr_at_risk: f64,
    /// For a manager: one line per CSM (owner), most ARR at risk first.
    pub per_owner: Vec<OwnerLine>,
    /// The book's onboarding: the completion rate in period over the 90 days up to `at`, and
    /// the plans behind or stuck.
    pub onboarding: HomeOnboarding,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HomeOnboarding {
    /// Plans due in the 90 days up to `at`.
    pub due: u64,
    /// Of those, completed on or before their due day.
    pub completed_on_time: u64,
    pub completion_rate_in_period: Option<f64>,
    /// Running plans behind or stuck, soonest due first (at most 20).
    pub behind: Vec<kizuna_domain::onboarding::Plan>,
    pub behind_total: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HomeAlert {
    pub account_id: String,
    pub name: String,
    pub event: String,
    pub day: NaiveDate,
    pub last_week: f64,
    pub baseline_median: f64,
    pub drop: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HomeRenewal {
    pub account_id: String,
    pub name: String,
    pub owner_email: Option<String>,
    pub renewal_date: NaiveDate,
    pub days_left: i64,
    pub arr: f64,
    pub health_score: Option<f64>,
    pub health_band: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RenewalTotal {
    pub accounts: u64,
    pub arr: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HealthDrop {
    pub account_id: String,
    pub name: String,
    pub score: f64,
    pub previous_score: f64,
    pub drop: f64,
    pub band: Option<String>,
    /// The measure that cost the most points in the latest score, and how many.
    pub top_drag: Option<String>,
    pub top_drag_points: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct HealthMix {
    pub red: u64,
    pub yellow: u64,
    pub green: u64,
    pub unscored: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OwnerLine {
    pub owner_email: String,
    pub accounts: u64,
    pub arr: f64,
    pub red: u64,
    pub arr_at_risk: f64,
    pub ctas_open: u64,
    pub ctas_overdue: u64,
}

/// Whose book: `me` or an owner's e-mail as asked; asked empty, everyone's; not asked, a
/// CSM's own and everyone's for the other roles.
pub fn book_owner(actor: &Actor, asked: Option<&str>) -> Option<String> {
    match asked.map(str::trim) {
        None => (actor.role == Role::Csm).then(|| actor.id.clone()),
        Some("") => None,
        Some("me") => Some(actor.id.clone()),
        Some(o) => Some(o.to_lowercase()),
    }
}

pub async fn home(store: &(impl Accounts + Health + Usage + Ctas + kizuna_store::Onboarding + ?Sized), actor: &Actor, owner: Option<String>, at: NaiveDate) -> Result<Home, AppError> {
    let scope = actor.scope();
    // The book's accounts, then its figures read for those accounts only (every account's for
    // the whole team), so a CSM's home costs what their book holds.
    let accounts = store.book(owner.as_deref(), scope.as_deref()).await?;
    let ids: Vec<String> = accounts.iter().map(|(a, _)| a.clone()).collect();
    let whole = owner.is_none() && scope.is_none();
    let scope_ids = (!whole).then_some(ids.as_slice());
    let g = store.book_glance(scope_ids, at).await?;
    let terms = store.contract_terms_of(scope_ids, at).await?;
    let owners: HashMap<String, Option<String>> = accounts.into_iter().collect();
    // Paying on the day: MRR above zero.
    let book: HashSet<String> = ids.into_iter().filter(|a| g.mrr.get(a).is_some_and(|m| *m > 0)).collect();
    let arr_of = |a: &str| kizuna_domain::money::to_units(g.mrr.get(a).copied().unwrap_or(0) * 12);
    let now = &g.health_now;
    let before = &g.health_week_ago;

    let mut mix = HealthMix::default();
    let (mut arr, mut arr_at_risk) = (0.0, 0.0);
    let mut lines: BTreeMap<String, OwnerLine> = BTreeMap::new();
    for a in &book {
        let band = now.get(a).and_then(|h| h.1.as_deref());
        match band {
            Some("red") => mix.red += 1,
            Some("yellow") => mix.yellow += 1,
            Some("green") => mix.green += 1,
            _ => mix.unscored += 1,
        }
        let account_arr = arr_of(a);
        arr += account_arr;
        let red = band == Some("red");
        if red {
            arr_at_risk += account_arr;
        }
        // The per-CSM table is the company's team: not for one book, nor for a partner.
        if whole {
            let o = owners.get(a).cloned().flatten().unwrap_or_default();
            let line = lines.entry(o.clone()).or_insert_with(|| OwnerLine { owner_email: o, accounts: 0, arr: 0.0, red: 0, arr_at_risk: 0.0, ctas_open: 0, ctas_overdue: 0 });
            line.accounts += 1;
            line.arr += account_arr;
            if red {
                line.red += 1;
                line.arr_at_risk += account_arr;
            }
        }
    }

    // CTAs: due now, and per owner for a manager.
    // Snoozed CTAs are put aside until their date: not due, but still open.
    let query = |due_by: Option<NaiveDate>, per_page: u32| CtaQuery {
        statuses: if due_by.is_some() { vec![CtaStatus::Open, CtaStatus::InProgress] } else { not_closed() },
        owner_email: owner.clone(),
        partner_id: scope.clone(),
        due_by,
        page: 1,
        per_page,
        ..Default::default()
    };
    let mut due = store.ctas(&query(Some(at), 50)).await?;
    due.ctas.iter_mut().for_each(|c| crate::ctas::read_on(c, at));
    let ctas_overdue = store.ctas(&query(Some(at - Duration::days(1)), 1)).await?.total;
    let open = store.ctas(&query(None, 1)).await?;
    if whole {
        // Counted by the database: a team has more open CTAs than a page holds. Someone with
        // CTAs and no paying account (an onboarding specialist) has a line too, so the lines
        // add up to the team's counts.
        for c in store.cta_owner_counts(&query(None, 1), at).await? {
            let o = c.owner_email.unwrap_or_default();
            let line = lines.entry(o.clone()).or_insert_with(|| OwnerLine { owner_email: o, accounts: 0, arr: 0.0, red: 0, arr_at_risk: 0.0, ctas_open: 0, ctas_overdue: 0 });
            line.ctas_open += c.ctas as u64;
            line.ctas_overdue += c.overdue as u64;
        }
    }

    // Names only for the rows shown.
    let mut names: HashMap<String, String> = HashMap::new();
    // (A name alone: `get_account` would also sum the account's MRR.)
    async fn name_of(store: &(impl Accounts + ?Sized), names: &mut HashMap<String, String>, id: &str) -> Result<String, AppError> {
        if let Some(n) = names.get(id) {
            return Ok(n.clone());
        }
        let n = store.account_names(&[id.to_string()]).await?.remove(id).unwrap_or_else(|| id.to_string());
        names.insert(id.to_string(), n.clone());
        Ok(n)
    }

    let mut anomalies: Vec<_> = g.anomalies.iter().filter(|a| book.contains(&a.account_id)).cloned().collect();
    anomalies.sort_by(|a, b| b.drop.total_cmp(&a.drop).then_with(|| b.day.cmp(&a.day)));
    let mut alerts = Vec::new();
    for a in anomalies.into_iter().take(20) {
        let name = name_of(store, &mut names, &a.account_id).await?;
        alerts.push(HomeAlert { account_id: a.account_id, name, event: a.event, day: a.day, last_week: a.last_week, baseline_median: a.baseline_median, drop: a.drop });
    }

    let next = crate::health::next_renewals(terms, at);
    let mut upcoming: Vec<(String, NaiveDate)> = next.into_iter().filter(|(a, d)| book.contains(a) && (*d - at).num_days() <= 180).collect();
    upcoming.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    let (mut renewals_90, mut renewals_180) = (RenewalTotal::default(), RenewalTotal::default());
    let mut renewals = Vec::new();
    for (id, day) in upcoming {
        let days_left = (day - at).num_days();
        let account_arr = arr_of(&id);
        for (limit, total) in [(90, &mut renewals_90), (180, &mut renewals_180)] {
            if days_left <= limit {
                total.accounts += 1;
                total.arr += account_arr;
            }
        }
        if renewals.len() < 50 {
            let name = name_of(store, &mut names, &id).await?;
            let (health_score, health_band) = now.get(&id).cloned().unwrap_or((None, None));
            renewals.push(HomeRenewal { owner_email: owners.get(&id).cloned().flatten(), account_id: id, name, renewal_date: day, days_left, arr: account_arr, health_score, health_band });
        }
    }

    let mut drops: Vec<(String, f64, f64, Option<String>)> = book
        .iter()
        .filter_map(|a| {
            let (score, band) = now.get(a)?;
            let (s, b) = ((*score)?, before.get(a).copied().flatten()?);
            (b - s > 0.0).then(|| (a.clone(), s, b, band.clone()))
        })
        .collect();
    drops.sort_by(|x, y| (y.2 - y.1).total_cmp(&(x.2 - x.1)).then_with(|| x.0.cmp(&y.0)));
    let mut health_drops = Vec::new();
    for (id, score, previous, band) in drops.into_iter().take(10) {
        let name = name_of(store, &mut names, &id).await?;
        let drag = store.health_before(at + Duration::days(1), Some(&id)).await?.into_iter().next().map(|r| r.detail_json()["drags"][0].clone());
        let top_drag = drag.as_ref().and_then(|d| d[0].as_str().map(str::to_string));
        let top_drag_points = drag.as_ref().and_then(|d| d[1].as_f64());
        health_drops.push(HealthDrop { account_id: id, name, score, previous_score: previous, drop: ((previous - score) * 100.0).round() / 100.0, band, top_drag, top_drag_points });
    }

    let mut per_owner: Vec<OwnerLine> = lines.into_values().collect();
    per_owner.sort_by(|a, b| b.arr_at_risk.total_cmp(&a.arr_at_risk).then_with(|| a.owner_email.cmp(&b.owner_email)));
    let onboarding = onboarding_glance(store, owner.as_deref(), scope.as_deref(), at).await?;
    Ok(Home {
        onboarding,
        at,
        owner,
        ctas_due_total: due.total,
        ctas_due: due.ctas,
        ctas_overdue,
        ctas_open_total: open.total,
        alerts,
        renewals,
        renewals_90,
        renewals_180,
        health_drops,
        health_mix: mix,
        arr,
        arr_at_risk,
        per_owner,
    })
}

/// The book's onboarding on the home: the KPI over the last 90 days and the late plans.
async fn onboarding_glance(store: &(impl kizuna_store::Onboarding + ?Sized), owner: Option<&str>, partner: Option<&str>, at: NaiveDate) -> Result<HomeOnboarding, AppError> {
    use kizuna_domain::onboarding::PlanStatus;
    let dues = store.plan_dues(at - chrono::Duration::days(89), at, owner, partner).await?;
    let on_time = dues.iter().filter(|(due, done)| done.is_some_and(|d| d <= *due && d <= at)).count() as u64;
    let q = kizuna_store::PlanQuery {
        statuses: vec![PlanStatus::Behind, PlanStatus::Stuck],
        owner_email: owner.map(str::to_string),
        partner_id: partner.map(str::to_string),
        limit: 20,
        soonest_due: true,
        ..Default::default()
    };
    // The 20 most overdue, not the 20 newest.
    let behind = store.plans(&q).await?;
    Ok(HomeOnboarding {
        due: dues.len() as u64,
        completed_on_time: on_time,
        completion_rate_in_period: (!dues.is_empty()).then(|| on_time as f64 / dues.len() as f64),
        behind_total: store.count_plans(&q).await?,
        behind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csm_starts_on_their_own_book_and_may_ask_for_everyones() {
        let actor = |role| Actor { id: "sato@x.jp".into(), name: String::new(), role, partner_id: None, via_key: false };
        assert_eq!(book_owner(&actor(Role::Csm), None).as_deref(), Some("sato@x.jp"));
        assert_eq!(book_owner(&actor(Role::Csm), Some("")), None, "asked for everyone");
        assert_eq!(book_owner(&actor(Role::Manager), None), None);
        assert_eq!(book_owner(&actor(Role::Manager), Some("me")).as_deref(), Some("sato@x.jp"));
        assert_eq!(book_owner(&actor(Role::Manager), Some(" Ito@X.jp ")).as_deref(), Some("ito@x.jp"));
    }
}
