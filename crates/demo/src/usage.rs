//! Product usage for the demo company over its last 120 days: users grouped with their account,
//! logins, the core action (`report_created`), exports, and setup steps for new accounts. Usage
//! declines over the 60 days before an account churns (and stalls when onboarding stalls), so
//! health scores and alerts have real signal to find.

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use kizuna_domain::usage::{UsageEvent, UsageMessage};
use kizuna_domain::AccountRow;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

pub const DAYS: i64 = 120;
/// Usage fades to 10% over this many days before a churn.
pub const DECLINE_DAYS: i64 = 60;

/// When each account paid: (first day, the day it stopped if it did) from its subscriptions.
fn paying(data: &crate::DemoData) -> HashMap<&str, (NaiveDate, Option<NaiveDate>)> {
    let mut out: HashMap<&str, (NaiveDate, Option<NaiveDate>)> = HashMap::new();
    for s in &data.subscriptions {
        let e = out.entry(s.account_id.as_str()).or_insert((s.start_date, s.end_date));
        e.0 = e.0.min(s.start_date);
        e.1 = match (e.1, s.end_date) {
            (None, _) | (_, None) => None,
            (Some(a), Some(b)) => Some(a.max(b)),
        };
    }
    out
}

/// Each account's paying spells `[start, end)` (subscriptions that abut or overlap merged; an
/// open one runs past `until`).
fn spells(data: &crate::DemoData, until: NaiveDate) -> HashMap<&str, Vec<(NaiveDate, NaiveDate)>> {
    let mut by: HashMap<&str, Vec<(NaiveDate, NaiveDate)>> = HashMap::new();
    for s in &data.subscriptions {
        by.entry(s.account_id.as_str()).or_default().push((s.start_date, s.end_date.unwrap_or(until + Duration::days(1))));
    }
    for v in by.values_mut() {
        v.sort();
        let mut merged: Vec<(NaiveDate, NaiveDate)> = Vec::with_capacity(v.len());
        for &(a, b) in v.iter() {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        *v = merged;
    }
    by
}

fn users_for(account: &AccountRow, rng: &mut ChaCha8Rng) -> usize {
    match account.segment.as_deref() {
        Some("enterprise") => rng.gen_range(6..=12),
        Some("mid") => rng.gen_range(3..=6),
        _ => rng.gen_range(1..=3),
    }
}

/// Every account's usage, in memory (tests; the CLI streams it with [`Generator`]).
pub fn generate(data: &crate::DemoData, seed: u64, until: NaiveDate) -> Vec<UsageMessage> {
    Generator::new(data, seed, until).flatten().collect()
}

/// The usage account by account, in the same order and from the same random sequence as
/// [`generate`], so a company of 100,000 accounts is written without holding its tens of
/// millions of events (`kizuna demo --accounts 100000` peaked at 17.9 GiB holding them).
pub struct Generator<'a> {
    data: &'a crate::DemoData,
    rng: ChaCha8Rng,
    paying: HashMap<&'a str, (NaiveDate, Option<NaiveDate>)>,
    spells: HashMap<&'a str, Vec<(NaiveDate, NaiveDate)>>,
    churned: HashMap<&'a str, NaiveDate>,
    until: NaiveDate,
    next: usize,
}

impl<'a> Generator<'a> {
    pub fn new(data: &'a crate::DemoData, seed: u64, until: NaiveDate) -> Self {
        Generator {
            data,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x0055_5341_4745),
            paying: paying(data),
            spells: spells(data, until),
            churned: data.churn.iter().map(|c| (c.account_id.as_str(), c.churned_on)).collect(),
            until,
            next: 0,
        }
    }
}

impl Iterator for Generator<'_> {
    /// One account's messages: its users' groups, then its events.
    type Item = Vec<UsageMessage>;

    fn next(&mut self) -> Option<Vec<UsageMessage>> {
        while let Some(account) = self.data.accounts.get(self.next) {
            self.next += 1;
            if let Some(messages) = self.account(account) {
                return Some(messages);
            }
        }
        None
    }
}

impl Generator<'_> {
    /// The account's usage; `None` when it did not pay within the window.
    fn account(&mut self, account: &AccountRow) -> Option<Vec<UsageMessage>> {
        let (until, rng, spells, churned) = (self.until, &mut self.rng, &self.spells, &self.churned);
        let first_day = until - Duration::days(DAYS);
        let mut out = Vec::new();
        let id = account.account_id.as_str();
        let &(start, end) = self.paying.get(id)?;
        let stop = end.unwrap_or(until + Duration::days(1)).min(until + Duration::days(1));
        if stop <= first_day {
            return None;
        }
        let users = users_for(account, rng);
        let base: f64 = rng.gen_range(0.35..0.75);
        // One new account in five stalls after two setup steps and uses the product half as much.
        let stalled = start > first_day && rng.gen_bool(0.2);
        let at = |d: NaiveDate, hour: u32| Utc.from_utc_datetime(&d.and_hms_opt(hour, 0, 0).expect("valid hour"));
        for u in 0..users {
            out.push(UsageMessage::Group { user_id: format!("{id}-u{u}"), account_id: id.to_string(), traits: serde_json::json!({}), at: at(start, 0) });
        }
        let event = |rng: &mut ChaCha8Rng, day: NaiveDate, user: usize, kind: &str, n: usize, properties: serde_json::Value| {
            UsageMessage::Event(UsageEvent {
                message_id: format!("demo-{id}-{day}-{user}-{kind}-{n}"),
                user_id: Some(format!("{id}-u{user}")),
                account_id: Some(id.to_string()),
                event_type: kind.to_string(),
                at: at(day, rng.gen_range(0..10)),
                value: None,
                properties,
            })
        };
        if start > first_day {
            let steps = if stalled { 2 } else { 5 };
            for step in 1..=steps {
                let day = start + Duration::days(step as i64 * 2);
                if day <= until && day < stop {
                    out.push(event(rng, day, 0, "setup_step", step, serde_json::json!({ "step": step })));
                }
            }
        }
        let mut day = first_day.max(start);
        while day < stop {
            // A returning customer used nothing while it was gone.
            if !spells.get(id).is_some_and(|sp| sp.iter().any(|(a, b)| *a <= day && day < *b)) {
                day += Duration::days(1);
                continue;
            }
            let mut p = base * if stalled { 0.5 } else { 1.0 };
            if let Some(c) = churned.get(id).filter(|c| **c >= day) {
                let left = (*c - day).num_days();
                if left < DECLINE_DAYS {
                    p *= (left as f64 / DECLINE_DAYS as f64).max(0.1);
                }
            }
            if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                p *= 0.15;
            }
            for u in 0..users {
                if !rng.gen_bool(p.clamp(0.0, 1.0)) {
                    continue;
                }
                out.push(event(rng, day, u, "login", 0, serde_json::json!({})));
                for n in 0..rng.gen_range(0..=2) {
                    out.push(event(rng, day, u, "report_created", n, serde_json::json!({})));
                }
                if rng.gen_bool(0.15) {
                    out.push(event(rng, day, u, "export", 0, serde_json::json!({ "format": "csv" })));
                }
            }
            day += Duration::days(1);
        }
        Some(out)
    }
}
