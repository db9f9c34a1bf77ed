//! The daily signals (`signals.daily`): what changed in the book that someone should act on,
//! found once a day after the scores are in. Today: usage anomalies, each recorded once per drop
//! and raised as a `usage.anomaly` event in the same transaction (docs/events.md).

use crate::usage::{definitions, usage_alerts};
use crate::AppError;
use chrono::NaiveDate;
use kizuna_store::{Health, UnitOfWork, Usage, UsageAnomaly};
use serde::Serialize;

/// What a run found and what was new.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SignalsSummary {
    pub at: NaiveDate,
    /// Accounts scored first (0 when the day's scores were already in).
    pub scored: u64,
    /// Usage anomalies on `at` (an event's week far below its baseline).
    pub anomalies_found: usize,
    /// Of those, the ones not recorded in the 7 days before: each raised `usage.anomaly`.
    pub anomalies_new: usize,
}

/// Runs the day's signals as of `at`: scores the day first if that was not done (the signals
/// read the day's scores), then records the usage anomalies not recorded for the same drop.
pub async fn run_daily(store: &(impl Health + Usage + UnitOfWork + ?Sized), at: NaiveDate) -> Result<SignalsSummary, AppError> {
    let scored = crate::health::score_if_due(store, at).await?.unwrap_or(0);
    let defs = definitions(store).await?;
    let alerts = usage_alerts(store, &defs, at).await?;
    let mut tx = store.begin().await?;
    let mut new = 0;
    for a in &alerts {
        let anomaly = UsageAnomaly {
            account_id: a.account_id.clone(),
            event: a.event.clone(),
            day: a.at,
            last_week: a.last_week,
            baseline_median: a.baseline_median,
            drop: a.drop,
            robust_z: a.robust_z,
        };
        new += usize::from(tx.record_usage_anomaly(&anomaly).await?);
    }
    tx.commit().await?;
    Ok(SignalsSummary { at, scored, anomalies_found: alerts.len(), anomalies_new: new })
}
