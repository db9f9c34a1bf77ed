//! The five CSV formats. Column names here are a contract (README "Import formats").

use crate::error::ImportFailure;
use crate::reader::{run, Rec, RowSpec, WriteFuture};
use crate::{Progress, TxBox};
use kizuna_domain::fields::*;
use kizuna_domain::money::parse_amount;
use kizuna_domain::metrics::Month;
use kizuna_domain::planning::funnel::{FunnelCount, FunnelLead, Stage};
use kizuna_domain::usage::UsageMessage;
use kizuna_domain::*;
use kizuna_store::Tx;
use std::io::Read;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Accounts,
    Subscriptions,
    /// Subscriptions whose `end_date` is the last day covered, as many billing exports write
    /// it (期間 1/1〜1/31): stored as the day after (`import subscriptions --end-inclusive`).
    SubscriptionsEndInclusive,
    Contacts,
    Activities,
    ChurnReasons,
    FunnelLeads,
    FunnelCounts,
    /// Usage events: CSV, or NDJSON in the Segment message shape (`.ndjson`, `.jsonl`).
    Events,
}

impl ImportKind {
    pub fn noun(self) -> &'static str {
        match self {
            ImportKind::Accounts => "account",
            ImportKind::Subscriptions | ImportKind::SubscriptionsEndInclusive => "subscription",
            ImportKind::Contacts => "contact",
            ImportKind::Activities => "activity",
            ImportKind::ChurnReasons => "churn-reason",
            ImportKind::FunnelLeads => "funnel-lead",
            ImportKind::FunnelCounts => "funnel-count",
            ImportKind::Events => "event",
        }
    }

    /// (all columns, required columns), in header order.
    pub fn columns(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            ImportKind::Accounts => (AccountRow::KNOWN, AccountRow::REQUIRED),
            ImportKind::Subscriptions | ImportKind::SubscriptionsEndInclusive => (SubscriptionRow::KNOWN, SubscriptionRow::REQUIRED),
            ImportKind::Contacts => (ContactRow::KNOWN, ContactRow::REQUIRED),
            ImportKind::Activities => (ActivityRow::KNOWN, ActivityRow::REQUIRED),
            ImportKind::ChurnReasons => (ChurnRow::KNOWN, ChurnRow::REQUIRED),
            ImportKind::FunnelLeads => (FunnelLead::KNOWN, FunnelLead::REQUIRED),
            ImportKind::FunnelCounts => (FunnelCount::KNOWN, FunnelCount::REQUIRED),
            ImportKind::Events => (UsageMessage::KNOWN, UsageMessage::REQUIRED),
        }
    }

    pub(crate) async fn run(
        self,
        tx: TxBox,
        file: &str,
        input: impl Read + Send + 'static,
        total: u64,
        progress: &dyn Progress,
    ) -> Result<(u64, u64, TxBox), ImportFailure> {
        match self {
            ImportKind::Accounts => run::<AccountRow>(tx, file, input, total, progress).await,
            ImportKind::Subscriptions => run::<SubscriptionRow>(tx, file, input, total, progress).await,
            ImportKind::SubscriptionsEndInclusive => run::<InclusiveEnd>(tx, file, input, total, progress).await,
            ImportKind::Contacts => run::<ContactRow>(tx, file, input, total, progress).await,
            ImportKind::Activities => run::<ActivityRow>(tx, file, input, total, progress).await,
            ImportKind::ChurnReasons => run::<ChurnRow>(tx, file, input, total, progress).await,
            ImportKind::FunnelLeads => run::<FunnelLead>(tx, file, input, total, progress).await,
            ImportKind::FunnelCounts => run::<FunnelCount>(tx, file, input, total, progress).await,
            ImportKind::Events if crate::events::is_ndjson(file) => crate::events::run_ndjson(tx, file, input, progress).await,
            ImportKind::Events => run::<UsageMessage>(tx, file, input, total, progress).await,
        }
    }
}

/// Run every parser on its cell and collect all field errors of the row.
macro_rules! fields {
    ($errors:ident; $($name:ident = $expr:expr;)+) => {
        $(let $name = match $expr { Ok(v) => Some(v), Err(e) => { $errors.push(e); None } };)+
    };
}

fn opt<T>(v: Option<&str>, f: impl FnOnce(&str) -> Result<T, FieldError>) -> Result<Option<T>, FieldError> {
    v.map(f).transpose()
}

fn text(v: Option<&str>) -> Option<String> {
    v.map(str::to_string)
}

impl RowSpec for AccountRow {
    const KNOWN: &'static [&'static str] =
        &["account_id", "name", "segment", "touch_model", "owner_email", "partner_id", "lifecycle_stage", "created_at"];
    const REQUIRED: &'static [&'static str] = &["account_id"];
    const EXTRA_COLUMNS: bool = true;

    fn parse(r: &Rec<'_>) -> Result<Self, Vec<FieldError>> {
        let mut errors = vec![];
        fields! { errors;
            account_id = r.required("account_id").and_then(|v| parse_id("account_id", v));
            touch_model = opt(r.get("touch_model"), |v| TouchModel::parse_field("touch_model", v));
            owner_email = opt(r.get("owner_email"), |v| parse_email("owner_email", v));
            partner_id = opt(r.get("partner_id"), |v| parse_id("partner_id", v));
            created_at = opt(r.get("created_at"), |v| parse_sheet_timestamp("created_at", v));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let attributes = r
            .extras(Self::KNOWN)
            .into_iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect();
        Ok(AccountRow {
            account_id: account_id.unwrap(),
            name: text(r.get("name")),
            segment: r.get("segment").map(|s| s.to_lowercase()),
            touch_model: touch_model.unwrap(),
            owner_email: owner_email.unwrap(),
            partner_id: partner_id.unwrap(),
            lifecycle_stage: r.get("lifecycle_stage").map(|s| s.to_lowercase()),
            created_at: created_at.unwrap(),
            attributes,
        })
    }

    fn write<'a>(tx: &'a mut dyn Tx, rows: &'a [Self]) -> WriteFuture<'a> {
        tx.upsert_accounts(rows)
    }
}

impl RowSpec for SubscriptionRow {
    const KNOWN: &'static [&'static str] = &[
        "account_id", "product", "start_date", "end_date", "mrr", "quantity", "units", "bill_period_months", "discount",
        "currency",
    ];
    const REQUIRED: &'static [&'static str] = &["account_id", "product", "start_date", "mrr"];

    fn parse(r: &Rec<'_>) -> Result<Self, Vec<FieldError>> {
        subscription(r, false)
    }

    fn write<'a>(tx: &'a mut dyn Tx, rows: &'a [Self]) -> WriteFuture<'a> {
        tx.upsert_subscriptions(rows)
    }
}

/// A subscription row whose `end_date` is the last day covered.
pub(crate) struct InclusiveEnd(SubscriptionRow);

impl RowSpec for InclusiveEnd {
    const KNOWN: &'static [&'static str] = SubscriptionRow::KNOWN;
    const REQUIRED: &'static [&'static str] = SubscriptionRow::REQUIRED;

    fn parse(r: &Rec<'_>) -> Result<Self, Vec<FieldError>> {
        subscription(r, true).map(InclusiveEnd)
    }

    fn write<'a>(tx: &'a mut dyn Tx, rows: &'a [Self]) -> WriteFuture<'a> {
        Box::pin(async move {
            let rows: Vec<SubscriptionRow> = rows.iter().map(|r| r.0.clone()).collect();
            tx.upsert_subscriptions(&rows).await
        })
    }
}

/// A subscription period; with `inclusive`, `end_date` is the last day covered and the period
/// ends the day after.
fn subscription(r: &Rec<'_>, inclusive: bool) -> Result<SubscriptionRow, Vec<FieldError>> {
    let mut errors = vec![];
    fields! { errors;
        account_id = r.required("account_id").and_then(|v| parse_id("account_id", v));
        product = r.required("product").and_then(|v| parse_id("product", v));
        start_date = r.required("start_date").and_then(|v| parse_sheet_date("start_date", v));
        end_date = opt(r.get("end_date"), |v| parse_sheet_date("end_date", v));
        mrr_cents = r.required("mrr").and_then(|v| parse_amount("mrr", v));
        quantity = opt(r.get("quantity"), |v| parse_quantity("quantity", v));
        bill_period_months = opt(r.get("bill_period_months"), |v| parse_positive_int("bill_period_months", v));
        discount = opt(r.get("discount"), |v| parse_discount("discount", v));
        currency = opt(r.get("currency"), |v| parse_currency("currency", v));
    }
    let end_date = match end_date {
        Some(Some(last)) if inclusive => match last.succ_opt() {
            Some(after) => Some(Some(after)),
            None => {
                errors.push(FieldError::new("end_date", r.get("end_date").unwrap_or_default(), "is the last day there is"));
                None
            }
        },
        other => other,
    };
    if let (Some(start), Some(Some(end))) = (start_date, end_date) {
        if end <= start {
            let problem = if inclusive {
                format!("is before start_date \"{start}\" (with --end-inclusive a period covers start_date <= day <= end_date)")
            } else {
                format!("is not after start_date \"{start}\" (a period covers start_date <= day < end_date)")
            };
            errors.push(FieldError::new("end_date", r.get("end_date").unwrap_or_default(), &problem));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(SubscriptionRow {
        account_id: account_id.unwrap(),
        product: product.unwrap(),
        start_date: start_date.unwrap(),
        end_date: end_date.unwrap(),
        mrr_cents: mrr_cents.unwrap(),
        quantity: quantity.unwrap(),
        units: text(r.get("units")),
        bill_period_months: bill_period_months.unwrap(),
        discount: discount.unwrap(),
        currency: currency.unwrap().unwrap_or_else(|| "JPY".to_string()),
    })
}

impl RowSpec for ContactRow {
    const KNOWN: &'static [&'static str] = &["account_id", "email", "name", "role", "title", "phone"];
    const REQUIRED: &'static [&'static str] = &["account_id", "email"];

    fn parse(r: &Rec<'_>) -> Result<Self, Vec<FieldError>> {
        let mut errors = vec![];
        fields! { errors;
            account_id = r.required("account_id").and_then(|v| parse_id("account_id", v));
            email = r.required("email").and_then(|v| parse_email("email", v));
            role = opt(r.get("role"), |v| ContactRole::parse_field("role", v));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ContactRow {
            account_id: account_id.unwrap(),
            email: email.unwrap(),
            name: text(r.get("name")),
            role: role.unwrap(),
            title: text(r.get("title")),
            phone: text(r.get("phone")),
        })
    }

    fn write<'a>(tx: &'a mut dyn Tx, rows: &'a [Self]) -> WriteFuture<'a> {
        tx.upsert_contacts(rows)
    }
}

impl RowSpec for ActivityRow {
    const KNOWN: &'static [&'static str] =
        &["account_id", "activity_id", "type", "occurred_at", "author_email", "subject", "body", "attendees", "next_steps", "visibility"];
    const REQUIRED: &'static [&'static str] = &["account_id", "type", "occurred_at"];

    fn parse(r: &Rec<'_>) -> Result<Self, Vec<FieldError>> {
        let mut errors = vec![];
        fields! { errors;
            account_id = r.required("account_id").and_then(|v| parse_id("account_id", v));
            kind = r.required("type").and_then(|v| ActivityKind::parse_field("type", v));
            occurred_at = r.required("occurred_at").and_then(|v| parse_sheet_timestamp("occurred_at", v));
            author_email = opt(r.get("author_email"), |v| parse_email("author_email", v));
            activity_id = opt(r.get("activity_id"), |v| parse_id("activity_id", v));
            internal = opt(r.get("visibility"), |v| parse_visibility("visibility", v));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let (account_id, kind, occurred_at) = (account_id.unwrap(), kind.unwrap(), occurred_at.unwrap());
        let subject = text(r.get("subject"));
        // Without an id, the same row must map to the same activity on re-import.
        let activity_id = activity_id.unwrap().unwrap_or_else(|| {
            let key = format!("{account_id}\u{1f}{kind}\u{1f}{}\u{1f}{}", occurred_at.to_rfc3339(), subject.as_deref().unwrap_or(""));
            format!("imp-{:016x}", fnv1a(key.as_bytes()))
        });
        Ok(ActivityRow {
            account_id,
            activity_id,
            kind,
            occurred_at,
            author_email: author_email.unwrap(),
            subject,
            body: text(r.get("body")),
            attendees: text(r.get("attendees")),
            next_steps: text(r.get("next_steps")),
            // Imported entries are shared unless the file says internal.
            internal: internal.unwrap().unwrap_or(false),
        })
    }

    fn write<'a>(tx: &'a mut dyn Tx, rows: &'a [Self]) -> WriteFuture<'a> {
        tx.upsert_activities(rows)
    }
}

impl RowSpec for ChurnRow {
    const KNOWN: &'static [&'static str] = &["account_id", "churned_on", "reason", "avoidable", "mrr_lost", "note"];
    const REQUIRED: &'static [&'static str] = &["account_id", "churned_on", "reason"];

    fn parse(r: &Rec<'_>) -> Result<Self, Vec<FieldError>> {
        let mut errors = vec![];
        fields! { errors;
            account_id = r.required("account_id").and_then(|v| parse_id("account_id", v));
            churned_on = r.required("churned_on").and_then(|v| parse_sheet_date("churned_on", v));
            reason = r.required("reason").and_then(|v| ChurnReason::parse_field("reason", v));
            avoidable = opt(r.get("avoidable"), |v| parse_bool("avoidable", v));
            mrr_lost = opt(r.get("mrr_lost"), |v| parse_amount("mrr_lost", v));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let reason = reason.unwrap();
        Ok(ChurnRow {
            account_id: account_id.unwrap(),
            churned_on: churned_on.unwrap(),
            reason,
            avoidable: avoidable.unwrap().unwrap_or_else(|| reason.avoidable_by_default()),
            mrr_lost_cents: mrr_lost.unwrap(),
            note: text(r.get("note")),
        })
    }

    fn write<'a>(tx: &'a mut dyn Tx, rows: &'a [Self]) -> WriteFuture<'a> {
        tx.upsert_churn_records(rows)
    }
}

impl RowSpec for FunnelLead {
    const KNOWN: &'static [&'static str] = &[
        "lead_id", "account_id", "segment", "lead_on", "meeting_on", "opportunity_on", "won_on", "onboarded_on", "renewed_on",
    ];
    const REQUIRED: &'static [&'static str] = &["lead_id"];

    fn parse(r: &Rec<'_>) -> Result<Self, Vec<FieldError>> {
        let mut errors = vec![];
        let lead_id = r.required("lead_id").and_then(|v| parse_id("lead_id", v)).map_err(|e| errors.push(e)).ok();
        let mut dates = [None; 6];
        for (i, stage) in Stage::ALL.iter().enumerate() {
            match opt(r.get(stage.column()), |v| parse_sheet_date(stage.column(), v)) {
                Ok(d) => dates[i] = d,
                Err(e) => errors.push(e),
            }
        }
        let lead = FunnelLead {
            lead_id: lead_id.unwrap_or_default(),
            account_id: text(r.get("account_id")),
            segment: r.get("segment").map(|s| s.to_lowercase()),
            dates,
        };
        if errors.is_empty() {
            lead.check_order().map_err(|e| errors.push(e)).ok();
        }
        if errors.is_empty() { Ok(lead) } else { Err(errors) }
    }

    fn write<'a>(tx: &'a mut dyn Tx, rows: &'a [Self]) -> WriteFuture<'a> {
        tx.upsert_funnel_leads(rows)
    }
}

impl RowSpec for FunnelCount {
    const KNOWN: &'static [&'static str] = &["month", "stage", "count", "segment"];
    const REQUIRED: &'static [&'static str] = &["month", "stage", "count"];

    fn parse(r: &Rec<'_>) -> Result<Self, Vec<FieldError>> {
        let mut errors = vec![];
        fields! { errors;
            month = r.required("month").and_then(|v| Month::parse(v).ok_or_else(|| FieldError::new("month", v, "is not a month (YYYY-MM)")));
            stage = r.required("stage").and_then(|v| Stage::parse(v).ok_or_else(|| FieldError::new("stage", v, "is not a known value: expected a stage (lead, meeting, opportunity, won, onboarded, renewed)")));
            count = r.required("count").and_then(|v| v.parse::<u64>().map_err(|_| FieldError::new("count", v, "is not a whole number >= 0")));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(FunnelCount {
            month: month.unwrap(),
            stage: stage.unwrap(),
            segment: r.get("segment").map(|s| s.to_lowercase()).unwrap_or_default(),
            count: count.unwrap(),
        })
    }

    fn write<'a>(tx: &'a mut dyn Tx, rows: &'a [Self]) -> WriteFuture<'a> {
        tx.upsert_funnel_counts(rows)
    }
}

/// FNV-1a: a stable 64-bit hash (std's hasher may change between Rust releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    #[test]
    fn fnv1a_matches_published_vectors() {
        // From the FNV reference test suite.
        assert_eq!(super::fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(super::fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }
}
