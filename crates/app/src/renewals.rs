//! The renewals centre: each upcoming renewal with its ARR, health and trend, open risk CTAs,
//! last contact and the forecast call its CSM sets (`likely`, `at_risk`, `will_churn`,
//! `upsell`), and the totals of ARR up for renewal by month and by call.

use crate::access::Actor;
use crate::AppError;
use chrono::{NaiveDate, Utc};
use kizuna_store::{Accounts, Ctas, Health, RenewalCall, UnitOfWork, Usage};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The calls a CSM can set on a renewal.
pub const CALLS: [&str; 4] = ["likely", "at_risk", "will_churn", "upsell"];

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Renewal {
    pub account_id: String,
    pub name: String,
    pub owner_email: Option<String>,
    pub renewal_date: NaiveDate,
    pub days_left: i64,
    pub arr: f64,
    pub health_score: Option<f64>,
    pub health_band: Option<String>,
    /// Score now minus a week before (none when either is missing).
    pub health_trend: Option<f64>,
    /// The account's churn probability within the forecast's horizon (0 to 1, three decimals),
    /// from the latest forecast the daily signals refit weekly; none before the first one.
    pub churn_probability: Option<f64>,
    pub open_risk_ctas: u64,
    /// The day of the last CSM contact (any activity but a support ticket).
    pub last_contact_at: Option<NaiveDate>,
    pub forecast_call: Option<String>,
    pub forecast_note: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct MonthTotal {
    /// YYYY-MM.
    pub month: String,
    pub accounts: u64,
    pub arr: f64,
    /// ARR by forecast call (`none` when not set).
    pub by_call: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Renewals {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub renewals: Vec<Renewal>,
    pub arr: f64,
    pub by_call: BTreeMap<String, f64>,
    pub months: Vec<MonthTotal>,
}

/// A call set on a renewal.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCall {
    /// YYYY-MM-DD: the renewal it is for.
    pub renewal_date: String,
    /// likely, at_risk, will_churn or upsell.
    pub forecast_call: String,
    pub note: Option<String>,
}

/// The renewals of accounts the actor sees (a CSM's own with `owner`) dated within [from, to],
/// soonest first, as of `at`.
pub async fn list(
    store: &(impl Accounts + Health + Usage + Ctas + ?Sized),
    actor: &Actor,
    owner: Option<String>,
    from: NaiveDate,
    to: NaiveDate,
    at: NaiveDate,
) -> Result<Renewals, AppError> {
    let scope = actor.scope();
    // The book's accounts, then their figures read for those accounts only (every account's
    // when the book is the whole company).
    let accounts = store.book(owner.as_deref(), scope.as_deref()).await?;
    let whole = owner.is_none() && scope.is_none();
    let ids: Vec<String> = accounts.iter().map(|(a, _)| a.clone()).collect();
    let terms = store.contract_terms_of((!whole).then_some(ids.as_slice()), at).await?;
    let owners: HashMap<String, Option<String>> = accounts.into_iter().collect();
    let next = crate::health::next_renewals(terms, at);
    let mut due: Vec<(String, NaiveDate)> = next.into_iter().filter(|(a, d)| owners.contains_key(a) && *d >= from && *d <= to).collect();
    due.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    // The rest is read for the renewals in range only.
    let due_ids: Vec<String> = due.iter().map(|(id, _)| id.clone()).collect();
    let g = store.book_glance(Some(&due_ids), at).await?;
    let facts = store.renewal_facts(&due_ids, at).await?;
    let calls: HashMap<(String, NaiveDate), RenewalCall> = store.renewal_calls(from, to).await?.into_iter().map(|c| ((c.account_id.clone(), c.renewal_date), c)).collect();

    let names = store.account_names(&due_ids).await?;
    let mut out = Renewals { from, to, renewals: Vec::new(), arr: 0.0, by_call: BTreeMap::new(), months: Vec::new() };
    let mut months: BTreeMap<String, MonthTotal> = BTreeMap::new();
    for (id, day) in due {
        let arr = kizuna_domain::money::to_units(g.mrr.get(&id).copied().unwrap_or(0) * 12);
        let (score, band) = g.health_now.get(&id).cloned().unwrap_or((None, None));
        let trend = score.zip(g.health_week_ago.get(&id).copied().flatten()).map(|(s, b)| ((s - b) * 100.0).round() / 100.0); // hundredths, like the scores
        let call = calls.get(&(id.clone(), day));
        let call_name = call.map(|c| c.forecast_call.clone()).unwrap_or_else(|| "none".into());
        *out.by_call.entry(call_name.clone()).or_default() += arr;
        out.arr += arr;
        let month = day.format("%Y-%m").to_string();
        let m = months.entry(month.clone()).or_insert_with(|| MonthTotal { month, ..Default::default() });
        m.accounts += 1;
        m.arr += arr;
        *m.by_call.entry(call_name).or_default() += arr;
        let name = names.get(&id).cloned().unwrap_or_else(|| id.clone());
        out.renewals.push(Renewal {
            owner_email: owners.get(&id).cloned().flatten(),
            name,
            renewal_date: day,
            days_left: (day - at).num_days(),
            arr,
            health_score: score,
            health_band: band,
            health_trend: trend,
            churn_probability: facts.churn.get(&id).map(|p| (p * 1000.0).round() / 1000.0),
            open_risk_ctas: facts.open_risk_ctas.get(&id).copied().unwrap_or(0),
            last_contact_at: facts.last_contact.get(&id).copied(),
            forecast_call: call.map(|c| c.forecast_call.clone()),
            forecast_note: call.and_then(|c| c.note.clone()),
            account_id: id,
        });
    }
    out.months = months.into_values().collect();
    Ok(out)
}

/// Sets the forecast call on the account's renewal, audited.
pub async fn set_call(store: &(impl Accounts + UnitOfWork + ?Sized), actor: &Actor, account_id: &str, c: NewCall) -> Result<RenewalCall, AppError> {
    crate::accounts::visible_account(store, actor, account_id, crate::today()).await?;
    let renewal_date = c.renewal_date.trim().parse::<NaiveDate>().map_err(|_| crate::ParamError::new("renewal_date", &c.renewal_date, "is not a date (YYYY-MM-DD)"))?;
    if !CALLS.contains(&c.forecast_call.as_str()) {
        return Err(crate::ParamError::new("forecast_call", &c.forecast_call, "is not one of: likely, at_risk, will_churn, upsell").into());
    }
    let note = c.note.map(|n| n.trim().chars().take(2000).collect::<String>()).filter(|n| !n.is_empty());
    let call = RenewalCall { account_id: account_id.to_string(), renewal_date, forecast_call: c.forecast_call, note, set_by: actor.id.clone(), set_at: Some(Utc::now()) };
    let mut tx = store.begin().await?;
    tx.set_renewal_call(&call).await?;
    let detail = serde_json::json!({ "renewal_date": renewal_date, "forecast_call": call.forecast_call });
    actor.audit(&mut *tx, "renewal.call", Some(account_id), detail.clone()).await?;
    tx.emit(kizuna_store::NewEvent { kind: "renewal.call_set", account_id: Some(account_id), payload: detail }).await?;
    tx.commit().await?;
    Ok(call)
}

/// The calls a team would have set on the demo company's renewals of the next 120 days, as of
/// `until`, by a fixed rule (the same demo gives the same calls): red or likely to churn is
/// at risk (every third will churn), a green account among the larger renewals is an upsell,
/// and most others are likely; a few are left for the CSM to call. How many calls were set.
pub async fn demo_calls(store: &dyn kizuna_store::Store, until: NaiveDate) -> Result<u64, AppError> {
    let company = Actor { id: "cli".into(), name: String::new(), role: kizuna_domain::Role::Admin, partner_id: None, via_key: false };
    let upcoming = list(store, &company, None, until, until + chrono::Duration::days(120), until).await?;
    let mut arrs: Vec<f64> = upcoming.renewals.iter().map(|r| r.arr).collect();
    arrs.sort_by(|a, b| b.total_cmp(a));
    let large = arrs.get(arrs.len() / 4).copied().unwrap_or(f64::MAX);
    let mut set = 0;
    for (i, r) in upcoming.renewals.iter().enumerate() {
        let risky = r.health_band.as_deref() == Some("red") || r.churn_probability.is_some_and(|p| p >= 0.3) || r.open_risk_ctas > 0;
        let (call, note) = if risky && i % 3 == 0 {
            ("will_churn", "先方から他社比較中との連絡。条件提示で引き留めを試みる。")
        } else if risky {
            ("at_risk", "利用が落ちている。更新前にエグゼクティブ面談を設定する。")
        } else if r.health_band.as_deref() == Some("green") && r.arr >= large {
            ("upsell", "利用部門が拡大中。更新時に追加ライセンスを提案する。")
        } else if i % 5 != 4 {
            ("likely", "定例で更新意向を確認済み。")
        } else {
            continue;
        };
        let owner = Actor { id: r.owner_email.clone().unwrap_or_else(|| "cli".into()), name: String::new(), role: kizuna_domain::Role::Csm, partner_id: None, via_key: false };
        let new = NewCall { renewal_date: r.renewal_date.to_string(), forecast_call: call.into(), note: Some(note.into()) };
        set_call(store, &owner, &r.account_id, new).await?;
        set += 1;
    }
    Ok(set)
}
