//! Health scores: the history of scores, and the point-in-time inputs scoring reads besides
//! usage (activities, renewals, MRR, account profiles). Written once for both engines by
//! `health_impl!`. Every query can be limited to one account, which keeps explaining one
//! account's score fast on a large book.

use crate::Result;
use async_trait::async_trait;
use chrono::NaiveDate;
use serde::Serialize;

/// One account's score on one day, with its explanation (`detail`, JSON text: kept as text so a
/// run over a large book does not hold a JSON tree per account).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct HealthRow {
    pub account_id: String,
    pub scored_on: NaiveDate,
    pub scorecard: String,
    pub score: Option<f64>,
    pub band: Option<String>,
    pub grade: Option<String>,
    /// The score before this one (for trend arrows); kept in `health_current` only.
    #[sqlx(default)]
    pub previous_score: Option<f64>,
    pub detail: String,
}

impl HealthRow {
    /// The explanation as JSON (null if the stored text is not JSON).
    pub fn detail_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.detail).unwrap_or(serde_json::Value::Null)
    }
}

/// Activities up to a day: the last CSM touch (anything but a support ticket) and the support
/// tickets since a given day.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivitySummary {
    pub account_id: String,
    pub last_touch: Option<NaiveDate>,
    pub support_tickets: u64,
}

/// A subscription period running on a day and billed for 12 months or more.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractTerm {
    pub account_id: String,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub bill_period_months: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountProfile {
    pub account_id: String,
    pub segment: Option<String>,
    pub lifecycle_stage: Option<String>,
    pub attributes: serde_json::Value,
}

/// One account's churn probability in the latest forecast.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ChurnForecast {
    pub account_id: String,
    pub forecast_on: NaiveDate,
    pub horizon_days: i32,
    pub probability: f64,
}

/// What the home and the renewals centre show of a book of accounts on a day, read for those
/// accounts only (or for every account): MRR, the score then and a week before, and the
/// week's usage anomalies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BookGlance {
    /// MRR (cents) on the day; accounts with no MRR change up to then are absent.
    pub mrr: std::collections::HashMap<String, i64>,
    /// The latest (score, band) scored on or before the day.
    pub health_now: std::collections::HashMap<String, (Option<f64>, Option<String>)>,
    /// The latest score from a week before (scored on or before the day minus 7).
    pub health_week_ago: std::collections::HashMap<String, Option<f64>>,
    /// Usage anomalies found in the 7 days up to the day.
    pub anomalies: Vec<crate::usage::UsageAnomaly>,
}

/// What the renewals centre adds for the renewals it lists, on a day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenewalFacts {
    /// The day of the last CSM contact (any activity but a support ticket) up to the day.
    pub last_contact: std::collections::HashMap<String, NaiveDate>,
    /// The latest churn forecast's probability, when it was made on or before the day.
    pub churn: std::collections::HashMap<String, f64>,
    /// Risk CTAs not closed.
    pub open_risk_ctas: std::collections::HashMap<String, u64>,
}

#[async_trait]
pub trait Health: Send + Sync {
    /// A book's figures on `at` ([`BookGlance`]): `ids` are its accounts, read a thousand at a
    /// time by their keys, or `None` for every account.
    async fn book_glance(&self, ids: Option<&[String]>, at: NaiveDate) -> Result<BookGlance>;
    /// The contract terms running on `at` of these accounts (a thousand at a time), or of every
    /// account: where renewals come from.
    async fn contract_terms_of(&self, ids: Option<&[String]>, at: NaiveDate) -> Result<Vec<ContractTerm>>;
    /// Last contact, churn forecast and open risk CTAs of these accounts on `at`.
    async fn renewal_facts(&self, ids: &[String], at: NaiveDate) -> Result<RenewalFacts>;
    /// Store a day's scores in one transaction; each account's current score moves forward
    /// only (re-scoring an older day keeps history but not the "current" row).
    async fn save_health(&self, rows: &[HealthRow]) -> Result<()>;
    /// One account's scores, newest first.
    async fn health_history(&self, account_id: &str, on_or_before: NaiveDate, limit: u32) -> Result<Vec<HealthRow>>;
    /// Whether any support ticket was ever imported: without one, "no tickets" is unknown, not 0.
    async fn any_support_ticket(&self) -> Result<bool>;
    /// Each account's (or one account's) latest score from before `on`.
    async fn health_before(&self, on: NaiveDate, account: Option<&str>) -> Result<Vec<HealthRow>>;
    /// Each account's latest score from before `on`, without its explanation (lighter than
    /// [`Health::health_before`] for a whole book): (account, day, score, band, grade).
    async fn health_scores_before(&self, on: NaiveDate) -> Result<Vec<(String, NaiveDate, Option<f64>, Option<String>, Option<String>)>>;
    /// The latest day anything was scored.
    async fn last_health_day(&self) -> Result<Option<NaiveDate>>;
    /// Drops the explanations kept with scores from before `before` (the scores, bands and
    /// grades stay): how many rows lost theirs.
    async fn clear_health_detail(&self, before: NaiveDate) -> Result<u64>;
    /// Forgets the current score of accounts last scored before `before` (after a run of that
    /// day: they were not paying then), so a churned account shows no health.
    async fn drop_stale_current(&self, before: NaiveDate) -> Result<u64>;
    /// (account_id, score, band, previous score) of every account with a current score.
    async fn health_current(&self) -> Result<Vec<(String, Option<f64>, Option<String>, Option<f64>)>>;
    async fn activity_summary(&self, at: NaiveDate, support_from: NaiveDate, account: Option<&str>) -> Result<Vec<ActivitySummary>>;
    async fn contract_terms(&self, at: NaiveDate, account: Option<&str>) -> Result<Vec<ContractTerm>>;
    /// MRR (cents) of every account on `day`, as the sum of its changes up to then.
    async fn mrr_on(&self, day: NaiveDate, account: Option<&str>) -> Result<Vec<(String, i64)>>;
    /// The latest churn forecast: every account's probability, with the forecast's day and horizon.
    async fn churn_forecasts(&self) -> Result<Vec<ChurnForecast>>;
    async fn account_profiles(&self, account: Option<&str>) -> Result<Vec<AccountProfile>>;
    /// Every stage change (or one account's), for the stage each account had on a day.
    async fn stage_changes(&self, account: Option<&str>) -> Result<Vec<kizuna_domain::journey::StageChange>>;
    /// Onboarding progress on `at` of each account with a plan started by then and not
    /// cancelled by then: `(account, required tasks, of those done by at)`, its plans summed.
    /// A plan cancelled later counts (a customer that left mid-onboarding must not lose its
    /// past progress in a backtest because it left).
    async fn plan_progress(&self, at: NaiveDate, account: Option<&str>) -> Result<Vec<(String, i64, i64)>>;
}


/// The `health.band_changed` events a chunk of scores raises: (account, payload) for each score
/// that becomes the account's current one with another band than the current one (none
/// before counts as another). Re-scoring an older day moves nothing and raises nothing.
pub(crate) fn band_changes(chunk: &[HealthRow], before: &std::collections::HashMap<String, (NaiveDate, Option<String>)>) -> Vec<(String, String)> {
    chunk
        .iter()
        .filter_map(|r| {
            let from = match before.get(&r.account_id) {
                Some((day, _)) if *day > r.scored_on => return None,
                Some((_, band)) if *band == r.band => return None,
                Some((_, band)) => band.clone(),
                None if r.band.is_none() => return None,
                None => None,
            };
            let payload = serde_json::json!({
                "from": from, "to": r.band, "score": r.score, "previous_score": r.previous_score,
                "scored_on": r.scored_on, "scorecard": r.scorecard,
            });
            Some((r.account_id.clone(), payload.to_string()))
        })
        .collect()
}

/// `WHERE`/`AND` clause for an optional account, bound as parameter `$n`.
pub(crate) fn scope(account: Option<&str>, word: &str, n: u32) -> String {
    if account.is_some() { format!(" {word} account_id = ${n}") } else { String::new() }
}

macro_rules! health_impl {
    ($Store:ident, $Db:ty) => {
        /// A set of accounts a thousand at a time (one `None`: every account).
        fn id_chunks(ids: Option<&[String]>) -> Vec<Option<&[String]>> {
            match ids {
                Some(ids) => ids.chunks($crate::sql::BATCH).map(Some).collect(),
                None => vec![None],
            }
        }

        /// " AND <column> IN (...)" for a chunk; nothing for every account.
        fn within(qb: &mut sqlx::QueryBuilder<'_, $Db>, column: &str, chunk: Option<&[String]>) {
            if let Some(chunk) = chunk {
                qb.push(format!(" AND {column} IN ("));
                let mut list = qb.separated(", ");
                for id in chunk {
                    list.push_bind(id.clone());
                }
                qb.push(")");
            }
        }

        /// The current (day, band) of the chunk's accounts, before the chunk is saved.
        async fn current_bands(
            tx: &mut sqlx::Transaction<'_, $Db>,
            chunk: &[$crate::health::HealthRow],
        ) -> $crate::Result<std::collections::HashMap<String, (chrono::NaiveDate, Option<String>)>> {
            let mut q = sqlx::QueryBuilder::<$Db>::new("SELECT account_id, scored_on, band FROM health_current WHERE account_id IN (");
            let mut ids = q.separated(", ");
            for r in chunk {
                ids.push_bind(&r.account_id);
            }
            q.push(")");
            let rows: Vec<(String, chrono::NaiveDate, Option<String>)> = q.build_query_as().fetch_all(&mut **tx).await?;
            Ok(rows.into_iter().map(|(a, d, b)| (a, (d, b))).collect())
        }

        #[async_trait::async_trait]
        impl $crate::health::Health for $Store {
            async fn book_glance(&self, ids: Option<&[String]>, at: chrono::NaiveDate) -> $crate::Result<$crate::health::BookGlance> {
                use sqlx::QueryBuilder;
                let mut g = $crate::health::BookGlance::default();
                // On or after the last day anything was scored, each account's latest score is
                // its current one: a small table instead of the history.
                let current = self.last_health_day().await?.is_none_or(|last| at >= last);
                for chunk in id_chunks(ids) {
                    let mut qb = QueryBuilder::<$Db>::new("SELECT account_id, CAST(SUM(delta_cents) AS BIGINT) FROM mrr_changes WHERE day <= ");
                    qb.push_bind(at);
                    within(&mut qb, "account_id", chunk);
                    qb.push(" GROUP BY account_id");
                    let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(self.pool()).await?;
                    g.mrr.extend(rows);

                    if current {
                        let mut qb = QueryBuilder::<$Db>::new("SELECT account_id, score, band FROM health_current WHERE 1 = 1");
                        within(&mut qb, "account_id", chunk);
                        let rows: Vec<(String, Option<f64>, Option<String>)> = qb.build_query_as().fetch_all(self.pool()).await?;
                        g.health_now.extend(rows.into_iter().map(|(a, score, band)| (a, (score, band))));
                    }
                    for (before, now) in [(at + chrono::Duration::days(1), true), (at - chrono::Duration::days(6), false)] {
                        if now && current {
                            continue;
                        }
                        let mut qb = QueryBuilder::<$Db>::new(
                            "SELECT h.account_id, h.score, h.band FROM health_scores h JOIN \
                             (SELECT account_id, MAX(scored_on) AS last FROM health_scores WHERE scored_on < ",
                        );
                        qb.push_bind(before);
                        within(&mut qb, "account_id", chunk);
                        qb.push(" GROUP BY account_id) m ON h.account_id = m.account_id AND h.scored_on = m.last");
                        let rows: Vec<(String, Option<f64>, Option<String>)> = qb.build_query_as().fetch_all(self.pool()).await?;
                        for (a, score, band) in rows {
                            if now {
                                g.health_now.insert(a, (score, band));
                            } else {
                                g.health_week_ago.insert(a, score);
                            }
                        }
                    }

                    let mut qb = QueryBuilder::<$Db>::new(
                        "SELECT account_id, event_type, day, last_week, baseline_median, drop_ratio, robust_z FROM usage_anomalies WHERE day >= ",
                    );
                    qb.push_bind(at - chrono::Duration::days(6)).push(" AND day <= ").push_bind(at);
                    within(&mut qb, "account_id", chunk);
                    let rows: Vec<$crate::usage::UsageAnomaly> = qb.build_query_as().fetch_all(self.pool()).await?;
                    g.anomalies.extend(rows);
                }
                Ok(g)
            }

            async fn renewal_facts(&self, ids: &[String], at: chrono::NaiveDate) -> $crate::Result<$crate::health::RenewalFacts> {
                use sqlx::QueryBuilder;
                let mut f = $crate::health::RenewalFacts::default();
                let end_of_day = kizuna_domain::time::start_of_day(at + chrono::Duration::days(1));
                for chunk in id_chunks(Some(ids)) {
                    let mut qb = QueryBuilder::<$Db>::new(format!("SELECT account_id, MAX(occurred_at) FROM activities WHERE {} AND occurred_at < ", $crate::CONTACT));
                    qb.push_bind(end_of_day);
                    within(&mut qb, "account_id", chunk);
                    qb.push(" GROUP BY account_id");
                    let rows: Vec<(String, Option<chrono::DateTime<chrono::Utc>>)> = qb.build_query_as().fetch_all(self.pool()).await?;
                    f.last_contact.extend(rows.into_iter().filter_map(|(a, t)| Some((a, kizuna_domain::time::local_day(t?)))));

                    let mut qb = QueryBuilder::<$Db>::new("SELECT account_id, probability FROM churn_forecasts WHERE forecast_on <= ");
                    qb.push_bind(at);
                    within(&mut qb, "account_id", chunk);
                    let rows: Vec<(String, f64)> = qb.build_query_as().fetch_all(self.pool()).await?;
                    f.churn.extend(rows);

                    let mut qb = QueryBuilder::<$Db>::new("SELECT account_id, COUNT(*) FROM ctas WHERE status <> 'closed' AND cta_type = 'risk'");
                    within(&mut qb, "account_id", chunk);
                    qb.push(" GROUP BY account_id");
                    let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(self.pool()).await?;
                    f.open_risk_ctas.extend(rows.into_iter().map(|(a, n)| (a, n as u64)));

                }
                Ok(f)
            }

            async fn contract_terms_of(&self, ids: Option<&[String]>, at: chrono::NaiveDate) -> $crate::Result<Vec<$crate::health::ContractTerm>> {
                let mut terms = Vec::new();
                for chunk in id_chunks(ids) {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new("SELECT account_id, start_date, end_date, bill_period_months FROM subscriptions WHERE start_date <= ");
                    qb.push_bind(at).push(" AND (end_date IS NULL OR end_date > ").push_bind(at).push(") AND bill_period_months >= 12 AND mrr_cents > 0");
                    within(&mut qb, "account_id", chunk);
                    let rows: Vec<(String, chrono::NaiveDate, Option<chrono::NaiveDate>, i32)> = qb.build_query_as().fetch_all(self.pool()).await?;
                    terms.extend(rows.into_iter().map(|(account_id, start_date, end_date, bill_period_months)| {
                        $crate::health::ContractTerm { account_id, start_date, end_date, bill_period_months }
                    }));
                }
                Ok(terms)
            }

            async fn save_health(&self, rows: &[$crate::health::HealthRow]) -> $crate::Result<()> {
                let mut tx = self.pool().begin().await?;
                let mut locked = false;
                // A day older than the latest scored (a backfill) is history only: an account
                // without a current score then (it stopped paying since) gets none, and no band
                // changes now.
                let latest: Option<chrono::NaiveDate> = sqlx::query_scalar("SELECT MAX(scored_on) FROM health_scores").fetch_one(&mut *tx).await?;
                let newest = |r: &$crate::health::HealthRow| latest.is_none_or(|l| r.scored_on >= l);
                for chunk in rows.chunks(2000) {
                    let kept: Vec<$crate::health::HealthRow>;
                    let current: &[$crate::health::HealthRow] = if chunk.iter().all(newest) {
                        chunk
                    } else {
                        kept = chunk.iter().filter(|r| newest(r)).cloned().collect();
                        &kept
                    };
                    let before = if current.is_empty() { Default::default() } else { current_bands(&mut tx, current).await? };
                    let mut q = sqlx::QueryBuilder::<$Db>::new("INSERT INTO health_scores (account_id, scored_on, scorecard, score, band, grade, detail) ");
                    q.push_values(chunk, |mut b, r| {
                        b.push_bind(&r.account_id).push_bind(r.scored_on).push_bind(&r.scorecard).push_bind(r.score).push_bind(&r.band).push_bind(&r.grade).push_bind(&r.detail);
                    });
                    q.push(
                        " ON CONFLICT (account_id, scored_on) DO UPDATE SET scorecard = excluded.scorecard, score = excluded.score, \
                         band = excluded.band, grade = excluded.grade, detail = excluded.detail",
                    );
                    q.build().execute(&mut *tx).await?;
                    if current.is_empty() {
                        continue;
                    }
                    let mut q = sqlx::QueryBuilder::<$Db>::new("INSERT INTO health_current (account_id, scored_on, score, band, grade, previous_score) ");
                    q.push_values(current, |mut b, r| {
                        b.push_bind(&r.account_id).push_bind(r.scored_on).push_bind(r.score).push_bind(&r.band).push_bind(&r.grade).push_bind(r.previous_score);
                    });
                    q.push(
                        " ON CONFLICT (account_id) DO UPDATE SET scored_on = excluded.scored_on, score = excluded.score, band = excluded.band, \
                         grade = excluded.grade, previous_score = excluded.previous_score WHERE excluded.scored_on >= health_current.scored_on",
                    );
                    q.build().execute(&mut *tx).await?;
                    let changed = $crate::health::band_changes(current, &before);
                    if changed.is_empty() {
                        continue;
                    }
                    if !locked {
                        if let Some(lock) = <$Store as $crate::engine::Engine>::DIALECT.outbox_lock {
                            sqlx::query(lock).execute(&mut *tx).await?;
                        }
                        locked = true;
                    }
                    let at = chrono::Utc::now().timestamp_millis();
                    let mut q = sqlx::QueryBuilder::<$Db>::new("INSERT INTO outbox (at, kind, account_id, payload) ");
                    q.push_values(changed, |mut b, (account, payload)| {
                        b.push_bind(at).push_bind("health.band_changed").push_bind(account).push_bind(payload);
                    });
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn health_history(&self, account_id: &str, on_or_before: chrono::NaiveDate, limit: u32) -> $crate::Result<Vec<$crate::health::HealthRow>> {
                let rows: Vec<$crate::health::HealthRow> = sqlx::query_as(
                    "SELECT account_id, scored_on, scorecard, score, band, grade, detail FROM health_scores \
                     WHERE account_id = $1 AND scored_on <= $2 ORDER BY scored_on DESC LIMIT $3",
                )
                .bind(account_id)
                .bind(on_or_before)
                .bind(limit as i64)
                .fetch_all(self.pool())
                .await?;
                Ok(rows)
            }

            async fn any_support_ticket(&self) -> $crate::Result<bool> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM (SELECT 1 FROM activities WHERE kind = 'support_ticket' LIMIT 1) t")
                    .fetch_one(self.pool())
                    .await?;
                Ok(n > 0)
            }

            async fn health_before(&self, on: chrono::NaiveDate, account: Option<&str>) -> $crate::Result<Vec<$crate::health::HealthRow>> {
                let sql = format!(
                    "SELECT h.account_id, h.scored_on, h.scorecard, h.score, h.band, h.grade, h.detail FROM health_scores h \
                     JOIN (SELECT account_id, MAX(scored_on) AS last FROM health_scores WHERE scored_on < $1{} GROUP BY account_id) m \
                     ON h.account_id = m.account_id AND h.scored_on = m.last",
                    $crate::health::scope(account, "AND", 2)
                );
                let q = sqlx::query_as(&sql).bind(on);
                let rows: Vec<$crate::health::HealthRow> = match account {
                    Some(a) => q.bind(a),
                    None => q,
                }
                .fetch_all(self.pool())
                .await?;
                Ok(rows)
            }

            async fn health_scores_before(&self, on: chrono::NaiveDate) -> $crate::Result<Vec<(String, chrono::NaiveDate, Option<f64>, Option<String>, Option<String>)>> {
                Ok(sqlx::query_as(
                    "SELECT h.account_id, h.scored_on, h.score, h.band, h.grade FROM health_scores h \
                     JOIN (SELECT account_id, MAX(scored_on) AS last FROM health_scores WHERE scored_on < $1 GROUP BY account_id) m \
                     ON h.account_id = m.account_id AND h.scored_on = m.last",
                )
                .bind(on)
                .fetch_all(self.pool())
                .await?)
            }

            async fn clear_health_detail(&self, before: chrono::NaiveDate) -> $crate::Result<u64> {
                let done = sqlx::query("UPDATE health_scores SET detail = '{}' WHERE scored_on < $1 AND detail <> '{}'").bind(before).execute(self.pool()).await?;
                Ok(done.rows_affected())
            }

            async fn drop_stale_current(&self, before: chrono::NaiveDate) -> $crate::Result<u64> {
                let done = sqlx::query("DELETE FROM health_current WHERE scored_on < $1").bind(before).execute(self.pool()).await?;
                Ok(done.rows_affected())
            }

            async fn last_health_day(&self) -> $crate::Result<Option<chrono::NaiveDate>> {
                Ok(sqlx::query_scalar("SELECT MAX(scored_on) FROM health_scores").fetch_one(self.pool()).await?)
            }

            async fn health_current(&self) -> $crate::Result<Vec<(String, Option<f64>, Option<String>, Option<f64>)>> {
                Ok(sqlx::query_as("SELECT account_id, score, band, previous_score FROM health_current ORDER BY account_id").fetch_all(self.pool()).await?)
            }

            async fn activity_summary(&self, at: chrono::NaiveDate, support_from: chrono::NaiveDate, account: Option<&str>) -> $crate::Result<Vec<$crate::health::ActivitySummary>> {
                let midnight = kizuna_domain::time::start_of_day;
                let sql = format!(
                    "SELECT account_id, MAX(CASE WHEN {contact} THEN occurred_at END), \
                     CAST(SUM(CASE WHEN kind = 'support_ticket' AND occurred_at >= $2 THEN 1 ELSE 0 END) AS BIGINT) \
                     FROM activities WHERE occurred_at < $1{} GROUP BY account_id",
                    $crate::health::scope(account, "AND", 3),
                    contact = $crate::CONTACT
                );
                let q = sqlx::query_as(&sql).bind(midnight(at + chrono::Duration::days(1))).bind(midnight(support_from));
                let rows: Vec<(String, Option<chrono::DateTime<chrono::Utc>>, i64)> = match account {
                    Some(a) => q.bind(a),
                    None => q,
                }
                .fetch_all(self.pool())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(account_id, last, n)| $crate::health::ActivitySummary { account_id, last_touch: last.map(kizuna_domain::time::local_day), support_tickets: n as u64 })
                    .collect())
            }

            async fn contract_terms(&self, at: chrono::NaiveDate, account: Option<&str>) -> $crate::Result<Vec<$crate::health::ContractTerm>> {
                let sql = format!(
                    "SELECT account_id, start_date, end_date, bill_period_months FROM subscriptions \
                     WHERE start_date <= $1 AND (end_date IS NULL OR end_date > $1) AND bill_period_months >= 12 AND mrr_cents > 0{}",
                    $crate::health::scope(account, "AND", 2)
                );
                let q = sqlx::query_as(&sql).bind(at);
                let rows: Vec<(String, chrono::NaiveDate, Option<chrono::NaiveDate>, i32)> = match account {
                    Some(a) => q.bind(a),
                    None => q,
                }
                .fetch_all(self.pool())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(account_id, start_date, end_date, bill_period_months)| $crate::health::ContractTerm { account_id, start_date, end_date, bill_period_months })
                    .collect())
            }

            async fn churn_forecasts(&self) -> $crate::Result<Vec<$crate::health::ChurnForecast>> {
                Ok(sqlx::query_as("SELECT account_id, forecast_on, horizon_days, probability FROM churn_forecasts ORDER BY account_id")
                    .fetch_all(self.pool())
                    .await?)
            }

            async fn mrr_on(&self, day: chrono::NaiveDate, account: Option<&str>) -> $crate::Result<Vec<(String, i64)>> {
                let sql = format!(
                    "SELECT account_id, CAST(SUM(delta_cents) AS BIGINT) FROM mrr_changes WHERE day <= $1{} GROUP BY account_id",
                    $crate::health::scope(account, "AND", 2)
                );
                let q = sqlx::query_as(&sql).bind(day);
                Ok(match account {
                    Some(a) => q.bind(a),
                    None => q,
                }
                .fetch_all(self.pool())
                .await?)
            }

            async fn plan_progress(&self, at: chrono::NaiveDate, account: Option<&str>) -> $crate::Result<Vec<(String, i64, i64)>> {
                let one = if account.is_some() { "AND p.account_id = $2" } else { "AND $2 IS NULL" };
                let sql = format!(
                    "SELECT t.account_id, SUM(CASE WHEN t.required = 1 THEN 1 ELSE 0 END), \
                     SUM(CASE WHEN t.required = 1 AND t.done_on <= $1 THEN 1 ELSE 0 END) \
                     FROM onboarding_plans p JOIN onboarding_tasks t ON t.account_id = p.account_id AND t.plan_id = p.plan_id \
                     WHERE p.started_on <= $1 AND (p.status <> 'cancelled' OR p.updated_at >= $3) {one} GROUP BY t.account_id"
                );
                // A cancelled plan takes no ticks, so its last write is its cancellation: it
                // counts on the days before (a backtest), not from that day on.
                let next_day = kizuna_domain::time::start_of_day(at + chrono::Duration::days(1)).timestamp_millis();
                Ok(sqlx::query_as(&sql).bind(at).bind(account).bind(next_day).fetch_all(self.pool()).await?)
            }

            async fn stage_changes(&self, account: Option<&str>) -> $crate::Result<Vec<kizuna_domain::journey::StageChange>> {
                let sql = format!(
                    "SELECT account_id, change_id, changed_on, stage, source, changed_by, note FROM stage_history{}",
                    $crate::health::scope(account, "WHERE", 1)
                );
                let q = sqlx::query_as(&sql);
                let rows: Vec<$crate::accounts::StageRecord> = match account {
                    Some(a) => q.bind(a),
                    None => q,
                }
                .fetch_all(self.pool())
                .await?;
                rows.into_iter().map($crate::accounts::StageRecord::into_change).collect()
            }

            async fn account_profiles(&self, account: Option<&str>) -> $crate::Result<Vec<$crate::health::AccountProfile>> {
                let sql = format!("SELECT account_id, segment, lifecycle_stage, attributes FROM accounts{}", $crate::health::scope(account, "WHERE", 1));
                let q = sqlx::query_as(&sql);
                let rows: Vec<(String, Option<String>, Option<String>, sqlx::types::Json<serde_json::Value>)> = match account {
                    Some(a) => q.bind(a),
                    None => q,
                }
                .fetch_all(self.pool())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(account_id, segment, lifecycle_stage, attributes)| $crate::health::AccountProfile { account_id, segment, lifecycle_stage, attributes: attributes.0 })
                    .collect())
            }
        }
    };
}

pub(crate) use health_impl;

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, day: u32, band: Option<&str>) -> HealthRow {
        let scored_on = NaiveDate::from_ymd_opt(2026, 12, day).unwrap();
        HealthRow { account_id: id.into(), scored_on, scorecard: "default".into(), score: Some(50.0), band: band.map(Into::into), grade: None, previous_score: None, detail: String::new() }
    }

    #[test]
    fn only_a_new_current_band_is_a_change() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        let before = [("same", (day(1), Some("green"))), ("moved", (day(1), Some("green"))), ("older", (day(5), Some("green")))]
            .into_iter()
            .map(|(a, (d, b))| (a.to_string(), (d, b.map(String::from))))
            .collect();
        let chunk = [row("same", 2, Some("green")), row("moved", 2, Some("red")), row("older", 2, Some("red")), row("new", 2, Some("yellow")), row("unscored", 2, None)];
        let changed: Vec<(String, serde_json::Value)> =
            band_changes(&chunk, &before).into_iter().map(|(a, p)| (a, serde_json::from_str(&p).unwrap())).collect();
        let got: Vec<(&str, &serde_json::Value, &serde_json::Value)> = changed.iter().map(|(a, p)| (a.as_str(), &p["from"], &p["to"])).collect();
        assert_eq!(got, vec![("moved", &serde_json::json!("green"), &serde_json::json!("red")), ("new", &serde_json::Value::Null, &serde_json::json!("yellow"))]);
    }
}
