//! The customer book: accounts with their filters and pages, contacts, activities and
//! partners. The [`Accounts`] part of the store, written once for both engines by
//! `accounts_impl!`. Writes go through the unit of work ([`crate::Tx`]).

use crate::Result;
use async_trait::async_trait;
use chrono::NaiveDate;
use kizuna_domain::{Account, AccountDims, Activity, Contact, TouchModel};
use serde::Serialize;

/// Filters, sort and page for the account list.
#[derive(Debug, Clone)]
pub struct AccountQuery {
    pub segment: Option<String>,
    pub touch_model: Option<TouchModel>,
    pub owner_email: Option<String>,
    pub partner_id: Option<String>,
    pub lifecycle_stage: Option<String>,
    /// red, yellow or green: the latest health score's band.
    pub health_band: Option<String>,
    /// Substring of the account id or name, matched after folding both the same way
    /// (NFKC, lower case, no spaces: [`kizuna_domain::search`]).
    pub search: Option<String>,
    /// Paying or not yet paying, churned, or both (on `on`).
    pub status: AccountStatus,
    pub sort: AccountSort,
    pub descending: bool,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
    /// The day whose MRR is shown.
    pub on: NaiveDate,
}

impl AccountQuery {
    pub fn new(on: NaiveDate) -> Self {
        AccountQuery {
            segment: None,
            touch_model: None,
            owner_email: None,
            partner_id: None,
            lifecycle_stage: None,
            health_band: None,
            search: None,
            status: AccountStatus::All,
            sort: AccountSort::AccountId,
            descending: false,
            page: 1,
            per_page: 50,
            on,
        }
    }
}

/// Which accounts a list holds, on its day. An account is churned when it had MRR before and
/// has none on the day; every other account (paying, or not paying yet) is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccountStatus {
    #[default]
    All,
    Active,
    Churned,
}

impl AccountStatus {
    pub const NAMES: &'static str = "active, churned, all";

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => AccountStatus::Active,
            "churned" => AccountStatus::Churned,
            "all" => AccountStatus::All,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::All => "all",
            AccountStatus::Active => "active",
            AccountStatus::Churned => "churned",
        }
    }
}

/// What the list shows beside each account of a page, read for the page's accounts only.
#[derive(Debug, Clone, Default)]
pub struct AccountGlances {
    /// Running annual (or longer) contracts, for the next renewal.
    pub terms: Vec<crate::health::ContractTerm>,
    /// The latest logged activity other than a support ticket, up to the day.
    pub last_contact: std::collections::HashMap<String, chrono::DateTime<chrono::Utc>>,
    /// The latest day with a product event from any user.
    pub last_active: std::collections::HashMap<String, NaiveDate>,
    /// CTAs not closed.
    pub open_ctas: std::collections::HashMap<String, u64>,
}

/// A saved view of the account list: a name and the query string it stands for.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SavedView {
    pub view_id: String,
    pub user_email: String,
    pub name: String,
    /// The list's query string, without `page` and `lang` (e.g. `health=red&sort=mrr`).
    pub query: String,
    #[serde(skip)]
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountSort {
    AccountId,
    Name,
    Segment,
    TouchModel,
    Owner,
    Partner,
    Stage,
    Mrr,
    Health,
}

impl AccountSort {
    pub const NAMES: &'static str = "account_id, name, segment, touch_model, owner, partner, stage, mrr, health";

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "account_id" => AccountSort::AccountId,
            "name" => AccountSort::Name,
            "segment" => AccountSort::Segment,
            "touch_model" => AccountSort::TouchModel,
            "owner" | "owner_email" => AccountSort::Owner,
            "partner" | "partner_id" => AccountSort::Partner,
            "stage" | "lifecycle_stage" => AccountSort::Stage,
            "mrr" => AccountSort::Mrr,
            "health" | "health_score" => AccountSort::Health,
            _ => return None,
        })
    }

    pub(crate) fn column(self) -> &'static str {
        match self {
            AccountSort::AccountId => "a.account_id",
            AccountSort::Name => "COALESCE(a.name, a.account_id)",
            AccountSort::Segment => "a.segment",
            AccountSort::TouchModel => "a.touch_model",
            AccountSort::Owner => "a.owner_email",
            AccountSort::Partner => "a.partner_id",
            AccountSort::Stage => "a.lifecycle_stage",
            AccountSort::Mrr => "mrr_cents",
            AccountSort::Health => "(SELECT h.score FROM health_current h WHERE h.account_id = a.account_id)",
        }
    }

    /// The ORDER BY clause; unscored accounts come last whichever way health is sorted.
    pub(crate) fn order_by(self, descending: bool) -> String {
        let dir = if descending { "DESC" } else { "ASC" };
        let column = self.column();
        match self {
            AccountSort::Health => format!(" ORDER BY CASE WHEN {column} IS NULL THEN 1 ELSE 0 END, {column} {dir}, a.account_id {dir}"),
            _ => format!(" ORDER BY {column} {dir}, a.account_id {dir}"),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountPage {
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub accounts: Vec<Account>,
}

/// Row counts per table: what an import changed, and proof that a failed one changed nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub accounts: u64,
    pub subscriptions: u64,
    pub contacts: u64,
    pub activities: u64,
    pub churn_records: u64,
    pub partners: u64,
    pub staff_users: u64,
    pub teams: u64,
    pub products: u64,
    pub funnel_leads: u64,
    pub funnel_counts: u64,
}

#[async_trait]
pub trait Accounts: Send + Sync {
    async fn list_accounts(&self, q: &AccountQuery) -> Result<AccountPage>;
    /// The account with its MRR on `on` and its current health.
    async fn get_account(&self, account_id: &str, on: NaiveDate) -> Result<Option<Account>>;
    async fn contacts(&self, account_id: &str) -> Result<Vec<Contact>>;
    /// Newest first; internal entries only when `internal` (never for a partner).
    async fn activities(&self, account_id: &str, limit: u32, internal: bool) -> Result<Vec<Activity>>;
    /// Row counts of the imported tables.
    async fn counts(&self) -> Result<Counts>;
    /// (partner_id, name), by id.
    async fn partners(&self) -> Result<Vec<(String, String)>>;
    /// The names of these accounts (the id for one without a name), in one read per thousand.
    async fn account_names(&self, ids: &[String]) -> Result<std::collections::HashMap<String, String>>;
    /// Segment, touch model, partner and owner of every account, for breakdowns.
    async fn account_dims(&self) -> Result<Vec<AccountDims>>;
    /// A book: (account_id, owner) of the accounts an owner holds, within a partner's when
    /// given (both none: every account), by id. Served by the owner and partner indexes.
    async fn book(&self, owner: Option<&str>, partner: Option<&str>) -> Result<Vec<(String, Option<String>)>>;
    /// Renewal terms, last contact, last active day and open CTAs of these accounts on `on`.
    async fn account_glances(&self, ids: &[String], on: NaiveDate) -> Result<AccountGlances>;
    /// The account's stage changes, newest first.
    async fn stage_history(&self, account_id: &str) -> Result<Vec<kizuna_domain::journey::StageChange>>;
    /// The user's saved views, by name.
    async fn saved_views(&self, user_email: &str) -> Result<Vec<SavedView>>;
}

/// A row of `stage_history`.
#[derive(sqlx::FromRow)]
pub(crate) struct StageRecord {
    account_id: String,
    change_id: i64,
    changed_on: NaiveDate,
    stage: Option<String>,
    source: String,
    changed_by: Option<String>,
    note: Option<String>,
}

impl StageRecord {
    pub(crate) fn into_change(self) -> Result<kizuna_domain::journey::StageChange> {
        let source = kizuna_domain::journey::StageSource::parse(&self.source).ok_or_else(|| crate::StoreError::BadStoredValue {
            column: "stage_history.source",
            value: self.source.clone(),
            expected: "manual, import, rule or plan".into(),
        })?;
        Ok(kizuna_domain::journey::StageChange {
            account_id: self.account_id,
            change_id: self.change_id,
            changed_on: self.changed_on,
            stage: self.stage,
            source,
            changed_by: self.changed_by,
            note: self.note,
        })
    }
}

macro_rules! accounts_impl {
    ($Store:ident, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use chrono::NaiveDate;
            use kizuna_domain::*;
            use sqlx::QueryBuilder;
            use $crate::engine::Engine;
            use $crate::sql::*;
            use $crate::accounts::{AccountPage, AccountQuery, Counts};
            use $crate::Result;

            #[async_trait]
            impl $crate::accounts::Accounts for $Store {
                async fn list_accounts(&self, q: &AccountQuery) -> Result<AccountPage> {
                    let mut count = QueryBuilder::<$Db>::new("SELECT COUNT(*) FROM accounts a WHERE 1 = 1");
                    push_filters(&mut count, q);
                    let total: i64 = count.build_query_scalar().fetch_one(self.pool()).await?;

                    let order = q.sort.order_by(q.descending);
                    let per_page = q.per_page.clamp(1, 1000);
                    let offset = (q.page.max(1) as i64 - 1) * per_page as i64;
                    let mut qb = QueryBuilder::<$Db>::new(format!("SELECT {ACCOUNT_COLUMNS}"));
                    qb.push_bind(q.on).push(") AS mrr_cents FROM accounts a");
                    if q.sort == $crate::AccountSort::Mrr {
                        // Sorting by MRR needs every filtered account's MRR.
                        qb.push(" WHERE 1 = 1");
                        push_filters(&mut qb, q);
                        qb.push(&order);
                    } else {
                        // Pick the page's ids first, so MRR is computed for those rows only.
                        qb.push(" JOIN (SELECT a.account_id FROM accounts a WHERE 1 = 1");
                        push_filters(&mut qb, q);
                        qb.push(&order).push(" LIMIT ").push_bind(per_page as i64).push(" OFFSET ").push_bind(offset);
                        qb.push(") page ON page.account_id = a.account_id");
                        qb.push(&order);
                    }
                    qb.push(" LIMIT ").push_bind(per_page as i64).push(" OFFSET ");
                    qb.push_bind(if q.sort == $crate::AccountSort::Mrr { offset } else { 0 });
                    let rows: Vec<AccountRecord> = qb.build_query_as().fetch_all(self.pool()).await?;
                    let accounts = rows.into_iter().map(account_from).collect::<Result<_>>()?;
                    Ok(AccountPage { total: total as u64, page: q.page.max(1), per_page, accounts })
                }

                async fn get_account(&self, account_id: &str, on: NaiveDate) -> Result<Option<Account>> {
                    let sql = format!("SELECT {ACCOUNT_COLUMNS} $1) AS mrr_cents FROM accounts a WHERE a.account_id = $2");
                    let row: Option<AccountRecord> =
                        sqlx::query_as(&sql).bind(on).bind(account_id).fetch_optional(self.pool()).await?;
                    row.map(account_from).transpose()
                }

                async fn contacts(&self, account_id: &str) -> Result<Vec<Contact>> {
                    // A contact who uses the product (an identify with its e-mail) has a last active
                    // day: its user's latest in the rollup, read for the whole account at once.
                    let rows: Vec<ContactRecord> = sqlx::query_as(
                        "SELECT c.email, c.name, c.role, c.title, c.phone, l.last_day FROM contacts c LEFT JOIN \
                         (SELECT user_id, MAX(day) AS last_day FROM usage_daily_users WHERE account_id = $1 GROUP BY user_id) l \
                         ON l.user_id = c.user_id WHERE c.account_id = $1 ORDER BY c.email",
                    )
                    .bind(account_id)
                    .fetch_all(self.pool())
                    .await?;
                    rows.into_iter().map(ContactRecord::into_contact).collect()
                }

                async fn activities(&self, account_id: &str, limit: u32, internal: bool) -> Result<Vec<Activity>> {
                    let rows: Vec<ActivityRecord> =
                        sqlx::query_as(
                            "SELECT activity_id, kind, occurred_at, author_email, subject, body, attendees, next_steps, internal FROM activities \
                             WHERE account_id = $1 AND (internal = FALSE OR $3) ORDER BY occurred_at DESC, activity_id LIMIT $2",
                        )
                        .bind(account_id)
                        .bind(limit as i64)
                        .bind(internal)
                        .fetch_all(self.pool())
                        .await?;
                    rows.into_iter().map(ActivityRecord::into_activity).collect()
                }

                async fn counts(&self) -> Result<Counts> {
                    let mut n = [0u64; 11];
                    let tables = [
                        "accounts", "subscriptions", "contacts", "activities", "churn_records", "partners", "staff_users",
                        "teams", "products", "funnel_leads", "funnel_counts",
                    ];
                    for (slot, table) in n.iter_mut().zip(tables) {
                        let c: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(self.pool()).await?;
                        *slot = c as u64;
                    }
                    Ok(Counts {
                        accounts: n[0],
                        subscriptions: n[1],
                        contacts: n[2],
                        activities: n[3],
                        churn_records: n[4],
                        partners: n[5],
                        staff_users: n[6],
                        teams: n[7],
                        products: n[8],
                        funnel_leads: n[9],
                        funnel_counts: n[10],
                    })
                }

                async fn account_names(&self, ids: &[String]) -> Result<std::collections::HashMap<String, String>> {
                    let mut names = std::collections::HashMap::with_capacity(ids.len());
                    for chunk in ids.chunks(BATCH) {
                        let mut q = QueryBuilder::<$Db>::new("SELECT account_id, COALESCE(name, account_id) FROM accounts WHERE account_id IN (");
                        let mut list = q.separated(", ");
                        for id in chunk {
                            list.push_bind(id.clone());
                        }
                        q.push(")");
                        let rows: Vec<(String, String)> = q.build_query_as().fetch_all(self.pool()).await?;
                        names.extend(rows);
                    }
                    Ok(names)
                }

                async fn partners(&self) -> Result<Vec<(String, String)>> {
                    Ok(sqlx::query_as("SELECT partner_id, name FROM partners ORDER BY partner_id").fetch_all(self.pool()).await?)
                }

                async fn account_glances(&self, ids: &[String], on: NaiveDate) -> Result<$crate::accounts::AccountGlances> {
                    let mut g = $crate::accounts::AccountGlances::default();
                    let end_of_day = kizuna_domain::time::start_of_day(on + chrono::Duration::days(1));
                    for chunk in ids.chunks(BATCH) {
                        let in_list = |qb: &mut QueryBuilder<'_, $Db>| {
                            let mut list = qb.separated(", ");
                            for id in chunk {
                                list.push_bind(id.clone());
                            }
                            qb.push(")");
                        };
                        let mut qb = QueryBuilder::<$Db>::new(
                            "SELECT account_id, start_date, end_date, bill_period_months FROM subscriptions WHERE start_date <= ",
                        );
                        qb.push_bind(on).push(" AND (end_date IS NULL OR end_date > ").push_bind(on);
                        qb.push(") AND bill_period_months >= 12 AND mrr_cents > 0 AND account_id IN (");
                        in_list(&mut qb);
                        let rows: Vec<(String, NaiveDate, Option<NaiveDate>, i32)> = qb.build_query_as().fetch_all(self.pool()).await?;
                        g.terms.extend(rows.into_iter().map(|(account_id, start_date, end_date, bill_period_months)| {
                            $crate::health::ContractTerm { account_id, start_date, end_date, bill_period_months }
                        }));

                        let mut qb = QueryBuilder::<$Db>::new(format!("SELECT account_id, MAX(occurred_at) FROM activities WHERE {} AND occurred_at < ", $crate::CONTACT));
                        qb.push_bind(end_of_day).push(" AND account_id IN (");
                        in_list(&mut qb);
                        qb.push(" GROUP BY account_id");
                        let rows: Vec<(String, Option<chrono::DateTime<chrono::Utc>>)> = qb.build_query_as().fetch_all(self.pool()).await?;
                        g.last_contact.extend(rows.into_iter().filter_map(|(a, t)| Some((a, t?))));

                        // A day some user was active (the rollup of users by day): an
                        // integration's events without a user (a nightly sync) are not a login.
                        let mut qb = QueryBuilder::<$Db>::new("SELECT account_id, MAX(day) FROM usage_daily_users WHERE day <= ");
                        qb.push_bind(<$Store as Engine>::day_value(on)).push(" AND account_id IN (");
                        in_list(&mut qb);
                        qb.push(" GROUP BY account_id");
                        let rows: Vec<(String, Option<NaiveDate>)> = qb.build_query_as().fetch_all(self.pool()).await?;
                        g.last_active.extend(rows.into_iter().filter_map(|(a, d)| Some((a, d?))));

                        let mut qb = QueryBuilder::<$Db>::new("SELECT account_id, COUNT(*) FROM ctas WHERE status <> 'closed' AND account_id IN (");
                        in_list(&mut qb);
                        qb.push(" GROUP BY account_id");
                        let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(self.pool()).await?;
                        g.open_ctas.extend(rows.into_iter().map(|(a, n)| (a, n as u64)));
                    }
                    Ok(g)
                }

                async fn saved_views(&self, user_email: &str) -> Result<Vec<$crate::accounts::SavedView>> {
                    Ok(sqlx::query_as(
                        "SELECT view_id, user_email, name, query, created_at FROM saved_views WHERE user_email = $1 ORDER BY name, view_id",
                    )
                    .bind(user_email)
                    .fetch_all(self.pool())
                    .await?)
                }

                async fn stage_history(&self, account_id: &str) -> Result<Vec<kizuna_domain::journey::StageChange>> {
                    let rows: Vec<$crate::accounts::StageRecord> = sqlx::query_as(
                        "SELECT account_id, change_id, changed_on, stage, source, changed_by, note FROM stage_history \
                         WHERE account_id = $1 ORDER BY changed_on DESC, change_id DESC",
                    )
                    .bind(account_id)
                    .fetch_all(self.pool())
                    .await?;
                    rows.into_iter().map($crate::accounts::StageRecord::into_change).collect()
                }

                async fn book(&self, owner: Option<&str>, partner: Option<&str>) -> Result<Vec<(String, Option<String>)>> {
                    let mut qb = QueryBuilder::<$Db>::new("SELECT account_id, owner_email FROM accounts WHERE 1 = 1");
                    if let Some(o) = owner {
                        qb.push(" AND owner_email = ").push_bind(o.to_string());
                    }
                    if let Some(p) = partner {
                        qb.push(" AND partner_id = ").push_bind(p.to_string());
                    }
                    qb.push(" ORDER BY account_id");
                    Ok(qb.build_query_as().fetch_all(self.pool()).await?)
                }

                async fn account_dims(&self) -> Result<Vec<AccountDims>> {
                    let rows: Vec<DimsRecord> = sqlx::query_as(
                        "SELECT account_id, segment, touch_model, partner_id, owner_email FROM accounts ORDER BY account_id",
                    )
                    .fetch_all(self.pool())
                    .await?;
                    rows.into_iter().map(DimsRecord::into_dims).collect()
                }
            }

            impl $Store {
                /// Writes the search key of accounts that have none (rows from before the key
                /// existed), a thousand at a time.
                pub(crate) async fn fill_search_keys(&self) -> Result<u64> {
                    let mut filled = 0;
                    loop {
                        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
                            "SELECT account_id, name FROM accounts WHERE search_key IS NULL ORDER BY account_id LIMIT 1000",
                        )
                        .fetch_all(self.pool())
                        .await?;
                        if rows.is_empty() {
                            return Ok(filled);
                        }
                        let mut tx = self.pool().begin().await?;
                        for (id, name) in &rows {
                            sqlx::query("UPDATE accounts SET search_key = $1 WHERE account_id = $2")
                                .bind(kizuna_domain::search::account_key(id, name.as_deref()))
                                .bind(id)
                                .execute(&mut *tx)
                                .await?;
                        }
                        tx.commit().await?;
                        filled += rows.len() as u64;
                    }
                }
            }

            fn push_filters<'a>(qb: &mut QueryBuilder<'a, $Db>, q: &'a AccountQuery) {
                if let Some(s) = &q.segment {
                    qb.push(" AND a.segment = ").push_bind(s);
                }
                if let Some(t) = q.touch_model {
                    qb.push(" AND a.touch_model = ").push_bind(t.as_str());
                }
                if let Some(o) = &q.owner_email {
                    qb.push(" AND a.owner_email = ").push_bind(o);
                }
                if let Some(p) = &q.partner_id {
                    qb.push(" AND a.partner_id = ").push_bind(p);
                }
                if let Some(s) = &q.lifecycle_stage {
                    qb.push(" AND a.lifecycle_stage = ").push_bind(s);
                }
                if let Some(b) = &q.health_band {
                    qb.push(" AND a.account_id IN (SELECT account_id FROM health_current WHERE band = ").push_bind(b).push(")");
                }
                match q.status {
                    $crate::AccountStatus::All => {}
                    status => {
                        // Churned: had MRR up to the day and has none on it. Only accounts
                        // whose MRR ever stopped can be; one that stopped once, for good, is
                        // told by its stop day, one that came back sums its changes to the day.
                        qb.push(if status == $crate::AccountStatus::Churned { " AND a.account_id IN" } else { " AND a.account_id NOT IN" });
                        qb.push(" (SELECT s.account_id FROM mrr_stops s WHERE CASE WHEN s.stops = 1 AND s.churned_on IS NOT NULL THEN \
                                 (CASE WHEN s.churned_on <= ").push_bind(q.on);
                        qb.push(" THEN 1 ELSE 0 END) ELSE (SELECT CASE WHEN SUM(m.delta_cents) = 0 THEN 1 ELSE 0 END FROM mrr_changes m \
                                 WHERE m.account_id = s.account_id AND m.day <= ").push_bind(q.on);
                        qb.push(") END = 1)");
                    }
                }
                if let Some(folded) = q.search.as_deref().and_then(kizuna_domain::search::query) {
                    let plain = !folded.contains(['%', '_', '"']);
                    if <$Store as Engine>::NAME == "sqlite" && plain && kizuna_domain::search::uses_index(&folded) {
                        // FTS5's trigram index answers a LIKE of three characters or more.
                        qb.push(" AND a.account_id IN (SELECT i.account_id FROM account_search s \
                                 JOIN account_search_ids i ON i.search_id = s.rowid WHERE s.search_key LIKE ")
                            .push_bind(format!("%{folded}%"))
                            .push(")");
                    } else {
                        // PostgreSQL's pg_trgm index serves this LIKE; on SQLite a short search reads the keys.
                        let pattern = format!("%{}%", folded.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
                        qb.push(" AND a.search_key LIKE ").push_bind(pattern).push(" ESCAPE '\\'");
                    }
                }
            }
        };
    };
}
pub(crate) use accounts_impl;
