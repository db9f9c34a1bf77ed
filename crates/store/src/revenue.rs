//! Revenue: subscriptions, the MRR changes derived from them, churn records, and the sums the
//! retention and movement reports are computed from in the database. The [`Revenue`] part of
//! the store, written once for both engines by `revenue_impl!`.

use crate::Result;
use async_trait::async_trait;
use chrono::NaiveDate;
use kizuna_domain::metrics::movements::GroupMovements;
use kizuna_domain::metrics::retention::RetentionSums;
use kizuna_domain::metrics::{GroupBy, Month};
use kizuna_domain::{ChurnRecord, MrrChange, Subscription};

#[async_trait]
pub trait Revenue: Send + Sync {
    async fn subscriptions(&self, account_id: &str) -> Result<Vec<Subscription>>;
    async fn churn_records(&self, account_id: &str) -> Result<Vec<ChurnRecord>>;
    /// Every churn record with its account id, ordered by account and date.
    async fn all_churn_records(&self) -> Result<Vec<(String, ChurnRecord)>>;
    /// Every MRR change, ordered by account, product, day.
    async fn mrr_changes(&self) -> Result<Vec<MrrChange>>;
    /// Retention sums per group over [from, to], computed in the database (one row per group).
    /// Units are accounts, or account × product when `by` is product. Groups with no account
    /// active at `from` are absent.
    async fn retention_sums(&self, from: NaiveDate, to: NaiveDate, by: Option<GroupBy>) -> Result<Vec<RetentionSums>>;
    /// MRR movement sums per group and month for `from..=to`, computed in the database from the
    /// changes on or before `at` (later ones have not happened yet).
    async fn movement_sums(&self, from: Month, to: Month, by: Option<GroupBy>, at: NaiveDate) -> Result<Vec<(String, GroupMovements)>>;
}

macro_rules! revenue_impl {
    ($Store:ident, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use chrono::NaiveDate;
            use kizuna_domain::*;
            use $crate::engine::Engine;
            use $crate::sql::*;
            use $crate::Result;

            #[async_trait]
            impl $crate::revenue::Revenue for $Store {
                async fn subscriptions(&self, account_id: &str) -> Result<Vec<Subscription>> {
                    let rows: Vec<SubscriptionRecord> = sqlx::query_as(
                        "SELECT product, start_date, end_date, mrr_cents, quantity, units, bill_period_months, discount, currency \
                         FROM subscriptions WHERE account_id = $1 ORDER BY product, start_date",
                    )
                    .bind(account_id)
                    .fetch_all(self.pool())
                    .await?;
                    Ok(rows.into_iter().map(Subscription::from).collect())
                }

                async fn churn_records(&self, account_id: &str) -> Result<Vec<ChurnRecord>> {
                    let rows: Vec<ChurnRecordRow> = sqlx::query_as(&format!("{CHURN_COLUMNS} WHERE account_id = $1 ORDER BY churned_on"))
                    .bind(account_id)
                    .fetch_all(self.pool())
                    .await?;
                    rows.into_iter().map(|r| churn_from(r).map(|(_, c)| c)).collect()
                }

                async fn all_churn_records(&self) -> Result<Vec<(String, ChurnRecord)>> {
                    let rows: Vec<ChurnRecordRow> = sqlx::query_as(&format!("{CHURN_COLUMNS} ORDER BY account_id, churned_on"))
                    .fetch_all(self.pool())
                    .await?;
                    rows.into_iter().map(churn_from).collect()
                }

                async fn retention_sums(
                    &self,
                    from: NaiveDate,
                    to: NaiveDate,
                    by: Option<kizuna_domain::metrics::GroupBy>,
                ) -> Result<Vec<kizuna_domain::metrics::retention::RetentionSums>> {
                    let rows: Vec<RetentionRow> = sqlx::query_as(&retention_sql(by)).bind(from).bind(to).fetch_all(self.pool()).await?;
                    Ok(rows.into_iter().map(Into::into).collect())
                }

                async fn movement_sums(
                    &self,
                    from: kizuna_domain::metrics::Month,
                    to: kizuna_domain::metrics::Month,
                    by: Option<kizuna_domain::metrics::GroupBy>,
                    at: NaiveDate,
                ) -> Result<Vec<(String, kizuna_domain::metrics::movements::GroupMovements)>> {
                    use kizuna_domain::metrics::movements::GroupMovements;
                    let mut groups: std::collections::BTreeMap<String, GroupMovements> = Default::default();
                    let before: Vec<(String, i64, i64)> =
                        sqlx::query_as(&before_sql(by)).bind(from.first_day()).fetch_all(self.pool()).await?;
                    for (g, mrr, n) in before {
                        let e = groups.entry(g).or_default();
                        e.mrr_before = mrr;
                        e.customers_before = n as u64;
                    }
                    let rows: Vec<MovementRow> =
                        sqlx::query_as(&movements_sql(by, <$Store as Engine>::DIALECT.month_of_day))
                            .bind(to.next().first_day().min(at + chrono::Duration::days(1)))
                            .bind(from.first_day())
                            .fetch_all(self.pool())
                            .await?;
                    for r in rows {
                        let month = kizuna_domain::metrics::Month::parse(&r.month).ok_or_else(|| $crate::StoreError::BadStoredValue {
                            column: "mrr_changes.day",
                            value: r.month.clone(),
                            expected: "a date (YYYY-MM-DD)".into(),
                        })?;
                        let sums = r.sums();
                        groups.entry(r.grp).or_default().months.push((from.until(month) as usize, sums));
                    }
                    Ok(groups.into_iter().collect())
                }

                async fn mrr_changes(&self) -> Result<Vec<MrrChange>> {
                    // The day as text and a fixed-width parse: chrono's decoder dominated this query.
                    // A tuple, not a named row: this reads every change (millions), and a row read by
                    // name looks each column up by its name.
                    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
                        "SELECT account_id, product, CAST(day AS TEXT), delta_cents FROM mrr_changes \
                         ORDER BY account_id, product, day",
                    )
                    .fetch_all(self.pool())
                    .await?;
                    rows.into_iter()
                        .map(|r| {
                            let day = fields::parse_stored_date(&r.2).ok_or_else(|| $crate::StoreError::BadStoredValue {
                                column: "mrr_changes.day",
                                value: r.2.clone(),
                                expected: "a date (YYYY-MM-DD)".into(),
                            })?;
                            Ok(MrrChange { account_id: r.0, product: r.1, day, delta_cents: r.3 })
                        })
                        .collect()
                }
            }

        };
    };
}
pub(crate) use revenue_impl;
