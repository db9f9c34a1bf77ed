//! Planning inputs: the sales funnel (leads and monthly counts) and saved scenarios. The
//! [`Planning`] part of the store, written once for both engines by `planning_impl!`.

use crate::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kizuna_domain::planning::funnel::{FunnelCount, FunnelLead};

#[async_trait]
pub trait Planning: Send + Sync {
    async fn funnel_leads(&self) -> Result<Vec<FunnelLead>>;
    async fn funnel_counts(&self) -> Result<Vec<FunnelCount>>;
    /// A saved scenario's TOML text.
    async fn scenario(&self, name: &str) -> Result<Option<String>>;
    /// (name, last saved), by name.
    async fn scenarios(&self) -> Result<Vec<(String, DateTime<Utc>)>>;
}

macro_rules! planning_impl {
    ($Store:ident, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use chrono::{NaiveDate, Utc};
            use kizuna_domain::*;
            use $crate::engine::Engine;
            use $crate::Result;

            #[async_trait]
            impl $crate::planning::Planning for $Store {
                async fn funnel_leads(&self) -> Result<Vec<planning::funnel::FunnelLead>> {
                    #[derive(sqlx::FromRow)]
                    struct Row {
                        lead_id: String,
                        account_id: Option<String>,
                        segment: Option<String>,
                        lead_on: Option<NaiveDate>,
                        meeting_on: Option<NaiveDate>,
                        opportunity_on: Option<NaiveDate>,
                        won_on: Option<NaiveDate>,
                        onboarded_on: Option<NaiveDate>,
                        renewed_on: Option<NaiveDate>,
                    }
                    let rows: Vec<Row> = sqlx::query_as(
                        "SELECT lead_id, account_id, segment, lead_on, meeting_on, opportunity_on, won_on, onboarded_on, renewed_on \
                         FROM funnel_leads ORDER BY lead_id",
                    )
                    .fetch_all(self.pool())
                    .await?;
                    Ok(rows
                        .into_iter()
                        .map(|r| planning::funnel::FunnelLead {
                            lead_id: r.lead_id,
                            account_id: r.account_id,
                            segment: r.segment,
                            dates: [r.lead_on, r.meeting_on, r.opportunity_on, r.won_on, r.onboarded_on, r.renewed_on],
                        })
                        .collect())
                }

                async fn funnel_counts(&self) -> Result<Vec<planning::funnel::FunnelCount>> {
                    let rows: Vec<(String, String, String, i64)> =
                        sqlx::query_as("SELECT month, stage, segment, count FROM funnel_counts ORDER BY month, stage, segment")
                            .fetch_all(self.pool())
                            .await?;
                    rows.into_iter()
                        .map(|r| {
                            let bad = |column: &'static str, value: &str| $crate::StoreError::BadStoredValue {
                                column,
                                value: value.to_string(),
                                expected: "a value Kizuna wrote".into(),
                            };
                            Ok(planning::funnel::FunnelCount {
                                month: kizuna_domain::metrics::Month::parse(&r.0).ok_or_else(|| bad("funnel_counts.month", &r.0))?,
                                stage: planning::funnel::Stage::parse(&r.1).ok_or_else(|| bad("funnel_counts.stage", &r.1))?,
                                segment: r.2,
                                count: r.3 as u64,
                            })
                        })
                        .collect()
                }


                async fn scenario(&self, name: &str) -> Result<Option<String>> {
                    Ok(sqlx::query_scalar("SELECT body FROM plan_scenarios WHERE name = $1")
                        .bind(name)
                        .fetch_optional(self.pool())
                        .await?)
                }

                async fn scenarios(&self) -> Result<Vec<(String, chrono::DateTime<Utc>)>> {
                    Ok(sqlx::query_as("SELECT name, updated_at FROM plan_scenarios ORDER BY name").fetch_all(self.pool()).await?)
            }
            }
        };
    };
}
pub(crate) use planning_impl;
