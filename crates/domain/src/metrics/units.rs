//! What a metric counts: accounts (or account × product for the product breakdown), each in a group.

use super::Timeline;
use crate::model::{AccountDims, MrrChange};
use std::collections::HashMap;

/// The breakdowns of SPEC §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Segment,
    TouchModel,
    Product,
    Partner,
    Owner,
}

impl GroupBy {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "segment" => GroupBy::Segment,
            "touch_model" => GroupBy::TouchModel,
            "product" => GroupBy::Product,
            "partner" => GroupBy::Partner,
            "owner" => GroupBy::Owner,
            _ => return None,
        })
    }

    pub const NAMES: &'static str = "segment, touch_model, product, partner, owner";
}

/// The group name for accounts with no value for the breakdown.
pub const NO_GROUP: &str = "(none)";

#[derive(Debug, Clone)]
pub struct Unit {
    pub account_id: String,
    pub group: String,
    pub timeline: Timeline,
}

/// The units of the whole company (one per account) and, with a breakdown, the grouped units.
pub struct Units {
    pub accounts: Vec<Unit>,
    pub grouped: Option<Vec<Unit>>,
}

impl Units {
    /// `changes` must be ordered by account, product, day (as the store returns them).
    pub fn build(changes: &[MrrChange], dims: &[AccountDims], by: Option<GroupBy>) -> Units {
        let dims: HashMap<&str, &AccountDims> = dims.iter().map(|d| (d.account_id.as_str(), d)).collect();
        let mut per_product: Vec<(String, String, Timeline)> = Vec::new();
        let mut start = 0;
        while start < changes.len() {
            let (a, p) = (&changes[start].account_id, &changes[start].product);
            let end = start + changes[start..].iter().take_while(|c| &c.account_id == a && &c.product == p).count();
            let timeline = Timeline::from_deltas(changes[start..end].iter().map(|c| (c.day, c.delta_cents)));
            per_product.push((a.clone(), p.clone(), timeline));
            start = end;
        }
        let mut accounts: Vec<Unit> = Vec::new();
        for (account, _, timeline) in &per_product {
            match accounts.last_mut() {
                Some(u) if &u.account_id == account => u.timeline = u.timeline.add(timeline),
                _ => accounts.push(Unit { account_id: account.clone(), group: "all".into(), timeline: timeline.clone() }),
            }
        }
        let group_of = |account: &str, product: &str| -> String {
            let d = dims.get(account);
            let value = match by {
                Some(GroupBy::Segment) => d.and_then(|d| d.segment.clone()),
                Some(GroupBy::TouchModel) => d.and_then(|d| d.touch_model.map(|t| t.to_string())),
                Some(GroupBy::Partner) => d.and_then(|d| d.partner_id.clone()),
                Some(GroupBy::Owner) => d.and_then(|d| d.owner_email.clone()),
                Some(GroupBy::Product) => Some(product.to_string()),
                None => None,
            };
            value.unwrap_or_else(|| NO_GROUP.to_string())
        };
        let grouped = by.map(|by| match by {
            GroupBy::Product => per_product
                .into_iter()
                .map(|(a, p, timeline)| Unit { group: group_of(&a, &p), account_id: a, timeline })
                .collect(),
            _ => accounts.iter().map(|u| Unit { group: group_of(&u.account_id, ""), ..u.clone() }).collect(),
        });
        Units { accounts, grouped }
    }

    /// ("all", every account) first, then each group in name order.
    pub fn groups(&self) -> Vec<(String, Vec<&Unit>)> {
        let mut out = vec![("all".to_string(), self.accounts.iter().collect())];
        if let Some(grouped) = &self.grouped {
            let mut by: std::collections::BTreeMap<&str, Vec<&Unit>> = Default::default();
            for u in grouped {
                by.entry(u.group.as_str()).or_default().push(u);
            }
            out.extend(by.into_iter().map(|(g, v)| (g.to_string(), v)));
        }
        out
    }
}
