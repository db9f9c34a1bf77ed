//! Journey stages: the list CS Ops edits (kept as the `journey` setting, JSON) and changes of an
//! account's stage, each kept with its day and source (`kizuna_domain::journey`).

use crate::access::Actor;
use crate::{AppError, ParamError};
use chrono::NaiveDate;
use kizuna_domain::journey::{Journey, StageChange, StageSource};
use kizuna_store::{AccountQuery, AccountStatus, Accounts, UnitOfWork, Usage};
use serde::{Deserialize, Serialize};

pub const SETTING: &str = "journey";

/// The journey's stages as saved, or the default four.
pub async fn journey(store: &(impl Usage + ?Sized)) -> Result<Journey, AppError> {
    match store.setting(SETTING).await? {
        Some(text) => serde_json::from_str(&text).map_err(|e| AppError::Config(format!("journey setting: {e}"))),
        None => Ok(Journey::default()),
    }
}

/// Saves an edited journey, checked and audited. Stages already recorded on accounts stay as
/// they are (a stage taken off the list is still shown, by its name).
pub async fn save(store: &(impl UnitOfWork + ?Sized), actor: &Actor, journey: Journey) -> Result<Journey, AppError> {
    journey.check().map_err(AppError::Journey)?;
    let text = serde_json::to_string(&journey).map_err(|e| AppError::Config(e.to_string()))?;
    let mut tx = store.begin().await?;
    tx.save_setting(SETTING, &text).await?;
    let names: Vec<&str> = journey.stages.iter().map(|s| s.name.as_str()).collect();
    actor.audit(&mut *tx, "journey.save", None, serde_json::json!({ "stages": names })).await?;
    tx.commit().await?;
    Ok(journey)
}

/// A stage of the journey with how many active accounts the actor sees in it on `on`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StageCount {
    pub name: String,
    pub label_ja: String,
    pub label_en: String,
    pub active_accounts: u64,
}

/// The journey's stages in order, each with its active accounts (a partner counts only its own).
pub async fn stage_counts(store: &(impl Accounts + Usage + ?Sized), actor: &Actor, on: NaiveDate) -> Result<Vec<StageCount>, AppError> {
    let journey = journey(store).await?;
    let mut out = Vec::with_capacity(journey.stages.len());
    for s in journey.stages {
        let mut q = AccountQuery::new(on);
        q.status = AccountStatus::Active;
        q.lifecycle_stage = Some(s.name.clone());
        q.partner_id = actor.scope();
        q.per_page = 1;
        let active_accounts = store.list_accounts(&q).await?.total;
        out.push(StageCount { name: s.name, label_ja: s.label_ja, label_en: s.label_en, active_accounts });
    }
    Ok(out)
}

/// A change of an account's stage, as a person asks it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStage {
    /// One of the journey's stages; null clears the stage.
    pub stage: Option<String>,
    /// YYYY-MM-DD, the day it took effect: today by default, never later.
    pub changed_on: Option<String>,
    pub note: Option<String>,
}

/// Records a manual change of the account's stage (audited, raises `account.stage_changed`).
pub async fn set_stage(store: &(impl Accounts + Usage + UnitOfWork + ?Sized), actor: &Actor, account_id: &str, s: NewStage) -> Result<StageChange, AppError> {
    let today = crate::today();
    let account = crate::accounts::visible_account(store, actor, account_id, today).await?;
    let journey = journey(store).await?;
    let stage = s.stage.map(|v| v.trim().to_lowercase()).filter(|v| !v.is_empty());
    if let Some(v) = stage.as_deref().filter(|v| journey.stage(v).is_none()) {
        let names: Vec<&str> = journey.stages.iter().map(|s| s.name.as_str()).collect();
        return Err(ParamError::new("stage", v, &format!("is not one of the journey's stages: {}", names.join(", "))).into());
    }
    let changed_on = match s.changed_on.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => today,
        Some(v) => v.parse::<NaiveDate>().map_err(|_| ParamError::new("changed_on", v, "is not a date (YYYY-MM-DD)"))?,
    };
    if changed_on > today {
        return Err(ParamError::new("changed_on", &changed_on.to_string(), "is after today: a stage changes on a day that has come").into());
    }
    let note = s.note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(ParamError::new("note", "…", "is longer than 2,000 characters").into());
    }
    let change = StageChange { account_id: account_id.to_string(), change_id: 0, changed_on, stage, source: StageSource::Manual, changed_by: Some(actor.id.clone()), note };
    let mut tx = store.begin().await?;
    tx.record_stage(&change).await?;
    let detail = serde_json::json!({ "from": account.lifecycle_stage, "to": change.stage, "changed_on": changed_on, "source": "manual" });
    actor.audit(&mut *tx, "account.stage", Some(account_id), detail.clone()).await?;
    tx.emit(kizuna_store::NewEvent { kind: "account.stage_changed", account_id: Some(account_id), payload: detail }).await?;
    tx.commit().await?;
    Ok(store.stage_history(account_id).await?.into_iter().max_by_key(|c| c.change_id).unwrap_or(change))
}
