//! The data model of SPEC §1: what Kizuna knows about customers and the CS team.

use crate::fields::FieldError;
use crate::money::Cents;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Generates a closed enum with its wire names, parsing (with aliases) and display.
macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($variant:ident => $wire:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
            /// The accepted spellings, for error messages.
            pub fn expected() -> String {
                let names: Vec<&str> = vec![$($wire),+];
                format!("expected {} ({})", $what, names.join(", "))
            }
            pub fn parse_field(column: &str, raw: &str) -> Result<Self, FieldError> {
                raw.parse().map_err(|_| FieldError::new(column, raw, &format!("is not a known value: {}", Self::expected())))
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                let key = s.trim().to_lowercase().replace([' ', '-'], "_");
                match key.as_str() {
                    $($wire $(| $alias)* => Ok($name::$variant),)+
                    _ => Err(()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

named_enum!(
    /// How an account is served (seed 003 §7): one CSM per few accounts, pooled, or automated.
    TouchModel, "a touch model" {
        High => "high" | "high_touch" | "ハイタッチ",
        Hybrid => "hybrid" | "low" | "low_touch" | "mid_touch" | "ロータッチ" | "ハイブリッド",
        Tech => "tech" | "tech_touch" | "テックタッチ",
    }
);

named_enum!(
    /// The contact's part in the customer's buying and using of the product.
    ContactRole, "a contact role" {
        Champion => "champion",
        DecisionMaker => "decision_maker",
        Admin => "admin",
        User => "user",
    }
);

named_enum!(
    /// Timeline entry kinds (SPEC §1).
    ActivityKind, "an activity type" {
        Meeting => "meeting",
        Call => "call",
        Email => "email",
        Qbr => "qbr",
        Note => "note",
        SupportTicket => "support_ticket" | "ticket" | "support",
    }
);

named_enum!(
    /// Staff roles (SPEC §10).
    Role, "a role" {
        Admin => "admin",
        CsOps => "cs_ops",
        Manager => "manager",
        Csm => "csm",
        Viewer => "viewer",
        Partner => "partner",
    }
);

named_enum!(
    /// Why a customer left. Seed 000 ch.3 (1): acquisition, bankruptcy and the departure of the
    /// person who chose the product are the common unavoidable reasons; the rest are avoidable.
    ChurnReason, "a churn reason" {
        Acquired => "acquired",
        Bankrupt => "bankrupt",
        ChampionLeft => "champion_left",
        DecisionMakerLeft => "decision_maker_left",
        Budget => "budget",
        Price => "price",
        ProductFit => "product_fit",
        Competitor => "competitor",
        PoorOnboarding => "poor_onboarding",
        LowUsage => "low_usage",
        SupportIssues => "support_issues",
        MissingFeature => "missing_feature",
        Other => "other",
    }
);

impl ChurnReason {
    /// The default classification, used when a churn record does not say.
    pub fn avoidable_by_default(self) -> bool {
        !matches!(
            self,
            ChurnReason::Acquired | ChurnReason::Bankrupt | ChurnReason::ChampionLeft | ChurnReason::DecisionMakerLeft
        )
    }
}

/// An account (顧客企業) as written by an import. `None` means "not given": an upsert keeps
/// whatever the store already has for that field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountRow {
    pub account_id: String,
    pub name: Option<String>,
    pub segment: Option<String>,
    pub touch_model: Option<TouchModel>,
    pub owner_email: Option<String>,
    pub partner_id: Option<String>,
    pub lifecycle_stage: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// Custom attributes (any column the importer does not know).
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// One subscription period: the account pays `mrr_cents` a month for `product` on every day
/// with `start_date <= day < end_date` (`end_date = None`: still active).
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionRow {
    pub account_id: String,
    pub product: String,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub mrr_cents: Cents,
    pub quantity: Option<f64>,
    pub units: Option<String>,
    pub bill_period_months: Option<i32>,
    pub discount: Option<f64>,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContactRow {
    pub account_id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: Option<ContactRole>,
    pub title: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRow {
    pub account_id: String,
    pub activity_id: String,
    pub kind: ActivityKind,
    pub occurred_at: DateTime<Utc>,
    pub author_email: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    /// Who took part (a meeting's or call's attendees), as written.
    pub attendees: Option<String>,
    /// What was agreed to do next.
    pub next_steps: Option<String>,
    /// Seen by the vendor's team only, never by a partner.
    pub internal: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChurnRow {
    pub account_id: String,
    pub churned_on: NaiveDate,
    pub reason: ChurnReason,
    pub avoidable: bool,
    pub mrr_lost_cents: Option<Cents>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PartnerRow {
    pub partner_id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TeamRow {
    pub team_id: String,
    pub name: String,
    pub lead_email: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StaffRow {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub team_id: Option<String>,
    pub partner_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProductRow {
    pub product_id: String,
    pub name: String,
}

/// An account as read back, with its MRR today.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub account_id: String,
    pub name: String,
    pub segment: Option<String>,
    pub touch_model: Option<TouchModel>,
    pub owner_email: Option<String>,
    pub partner_id: Option<String>,
    pub lifecycle_stage: Option<String>,
    pub attributes: serde_json::Value,
    #[serde(serialize_with = "crate::time::serde_local_opt")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::time::serde_local")]
    pub updated_at: DateTime<Utc>,
    /// The latest health score (0–100), its band and the score before it, if scored.
    pub health_score: Option<f64>,
    pub health_band: Option<String>,
    pub health_previous: Option<f64>,
    /// MRR on the day asked for (today by default), in currency units.
    pub mrr: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    pub product: String,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub mrr: f64,
    pub quantity: Option<f64>,
    pub units: Option<String>,
    pub bill_period_months: Option<i32>,
    pub discount: Option<f64>,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub email: String,
    pub name: Option<String>,
    pub role: Option<ContactRole>,
    pub title: Option<String>,
    pub phone: Option<String>,
    /// The last day this contact used the product, when it is a product user (identified with
    /// its e-mail) who had events.
    pub last_active: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Activity {
    pub activity_id: String,
    pub kind: ActivityKind,
    #[serde(serialize_with = "crate::time::serde_local")]
    pub occurred_at: DateTime<Utc>,
    pub author_email: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub attendees: Option<String>,
    pub next_steps: Option<String>,
    /// Internal entries are the vendor's team's only: partners never see them.
    pub internal: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChurnRecord {
    pub churned_on: NaiveDate,
    pub reason: ChurnReason,
    pub avoidable: bool,
    pub mrr_lost: Option<f64>,
    pub note: Option<String>,
}

/// A net MRR change of one account's product on one day (the derived `mrr_changes` table:
/// +mrr on a period's start, −mrr on its end, summed per day so abutting periods cancel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MrrChange {
    pub account_id: String,
    pub product: String,
    pub day: NaiveDate,
    pub delta_cents: Cents,
}

/// The dimensions every metric can be broken down by (SPEC §2: "every figure by ...").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountDims {
    pub account_id: String,
    pub segment: Option<String>,
    pub touch_model: Option<TouchModel>,
    pub partner_id: Option<String>,
    pub owner_email: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_model_aliases() {
        assert_eq!("High-Touch".parse::<TouchModel>(), Ok(TouchModel::High));
        assert_eq!("テックタッチ".parse::<TouchModel>(), Ok(TouchModel::Tech));
        let e = TouchModel::parse_field("touch_model", "medium").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"touch_model "medium" is not a known value: expected a touch model (high, hybrid, tech)"#
        );
    }

    #[test]
    fn unavoidable_reasons_follow_seed_000() {
        assert!(!ChurnReason::Acquired.avoidable_by_default());
        assert!(!ChurnReason::ChampionLeft.avoidable_by_default());
        assert!(ChurnReason::Price.avoidable_by_default());
    }
}
