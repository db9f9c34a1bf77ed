//! Product usage (SPEC §3): events from Segment-compatible clients and bulk files, attributed to
//! accounts (B2B: a `group` call links a user to an account).

pub mod alerts;
pub mod metrics;
pub mod segment;
pub mod traits;

use chrono::{DateTime, Utc};

/// One message, validated, as the store takes it.
#[derive(Debug, Clone, PartialEq)]
pub enum UsageMessage {
    /// Traits of a user. An identify that also carries the `anonymousId` the browser used
    /// before sign-in links the two, as an alias does.
    Identify { user_id: String, anonymous_id: Option<String>, traits: serde_json::Value, at: DateTime<Utc> },
    /// `previous_id` (an anonymous id, an old user id) is the same person as `user_id`: its
    /// events go to `user_id`'s account, now or once `user_id` is grouped.
    Alias { previous_id: String, user_id: String, at: DateTime<Utc> },
    /// The user belongs to this account (the `groupId` is the account's id). The latest group wins.
    Group { user_id: String, account_id: String, traits: serde_json::Value, at: DateTime<Utc> },
    /// Something a user did: a `track` (its event name) or a `page` (`page`).
    Event(UsageEvent),
}

#[derive(Debug, Clone, PartialEq)]
pub struct UsageEvent {
    /// De-duplicates: the same id is stored once, however often it is sent.
    pub message_id: String,
    pub user_id: Option<String>,
    /// The account named by the message itself (`context.groupId`), if any; otherwise the
    /// user's latest group, or none yet (then it is attributed when the user is grouped).
    pub account_id: Option<String>,
    pub event_type: String,
    pub at: DateTime<Utc>,
    pub value: Option<f64>,
    pub properties: serde_json::Value,
}

impl UsageMessage {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            UsageMessage::Identify { at, .. } | UsageMessage::Group { at, .. } | UsageMessage::Alias { at, .. } => *at,
            UsageMessage::Event(e) => e.at,
        }
    }
}

/// What an ingestion wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct IngestSummary {
    /// Events stored now.
    pub events: u64,
    /// Events whose message id was already stored (a retry): not counted again.
    pub duplicates: u64,
    /// Events stored without an account because their user is not grouped yet.
    pub unattributed: u64,
    /// Earlier unattributed events attributed by a `group` in this request.
    pub attributed: u64,
    pub identifies: u64,
    pub groups: u64,
    /// Ids linked to a user (aliases, and identifies carrying the anonymousId used before).
    pub aliases: u64,
    /// Accounts that did not exist and were created because these messages named them.
    pub accounts_created: u64,
}
