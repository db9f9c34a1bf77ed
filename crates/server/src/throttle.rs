//! Sign-in throttling, per account and per client address, in this server's memory.
//!
//! An account is locked after [`Policy::account_failures`] failed sign-ins in a row (a success
//! resets the count); the lock lasts [`Policy::lockout`], doubled for each further lock up to
//! a day. An address is locked when it failed [`Policy::address_failures`] times within
//! [`Policy::window`], whichever accounts it tried, until that window ends. While locked,
//! attempts are refused before the password is checked, also with the right password.
//!
//! A GCRA rate limiter (governor) does not express "N failures in a row, then a lock", which is
//! what OWASP's guidance asks for; this is a small map with a bounded size instead.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub account_failures: u32,
    pub address_failures: u32,
    pub lockout: Duration,
    pub window: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { account_failures: 10, address_failures: 50, lockout: Duration::from_secs(15 * 60), window: Duration::from_secs(15 * 60) }
    }
}

/// The most accounts and addresses remembered each; past it, the oldest quiet entries go.
const MAX_ENTRIES: usize = 100_000;
const MAX_LOCKOUT: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy)]
struct Strikes {
    failures: u32,
    /// When the current count started (for an address's window).
    since: Instant,
    locks: u32,
    locked_until: Option<Instant>,
}

impl Strikes {
    fn new(now: Instant) -> Self {
        Strikes { failures: 0, since: now, locks: 0, locked_until: None }
    }

    fn wait(&self, now: Instant) -> Option<Duration> {
        self.locked_until.filter(|t| *t > now).map(|t| t - now)
    }
}

/// Which limit refused an attempt, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub scope: Scope,
    pub retry_after: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Account,
    Address,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Account => "account",
            Scope::Address => "address",
        }
    }
}

/// What a failed attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// Failures in a row for the account.
    pub failures: u32,
    /// Set when this failure started a lock.
    pub locked: Option<Locked>,
}

#[derive(Debug, Default)]
pub struct SignInThrottle {
    policy: Policy,
    accounts: Mutex<HashMap<String, Strikes>>,
    addresses: Mutex<HashMap<IpAddr, Strikes>>,
}

impl SignInThrottle {
    pub fn new(policy: Policy) -> Self {
        SignInThrottle { policy, ..Default::default() }
    }

    /// Refused now? Checked before the password.
    pub fn check(&self, email: &str, addr: Option<IpAddr>) -> Result<(), Locked> {
        self.check_at(email, addr, Instant::now())
    }

    fn check_at(&self, email: &str, addr: Option<IpAddr>, now: Instant) -> Result<(), Locked> {
        let account = lock(&self.accounts).get(email).and_then(|s| s.wait(now));
        if let Some(retry_after) = account {
            return Err(Locked { scope: Scope::Account, retry_after });
        }
        let address = addr.and_then(|a| lock(&self.addresses).get(&a).and_then(|s| s.wait(now)));
        match address {
            Some(retry_after) => Err(Locked { scope: Scope::Address, retry_after }),
            None => Ok(()),
        }
    }

    pub fn failed(&self, email: &str, addr: Option<IpAddr>) -> Failure {
        self.failed_at(email, addr, Instant::now())
    }

    fn failed_at(&self, email: &str, addr: Option<IpAddr>, now: Instant) -> Failure {
        let p = self.policy;
        let mut accounts = lock(&self.accounts);
        make_room(&mut accounts, now, p.window);
        let a = accounts.entry(email.to_string()).or_insert_with(|| Strikes::new(now));
        a.failures += 1;
        let mut locked = None;
        if a.failures >= p.account_failures {
            // Each further lock of the same account lasts twice as long, up to a day.
            let lockout = p.lockout.saturating_mul(1 << a.locks.min(16)).min(MAX_LOCKOUT);
            a.locks += 1;
            a.failures = 0;
            a.locked_until = Some(now + lockout);
            locked = Some(Locked { scope: Scope::Account, retry_after: lockout });
        }
        let failures = if locked.is_some() { p.account_failures } else { a.failures };
        drop(accounts);
        if let Some(addr) = addr {
            let mut addresses = lock(&self.addresses);
            make_room(&mut addresses, now, p.window);
            let s = addresses.entry(addr).or_insert_with(|| Strikes::new(now));
            if now - s.since > p.window {
                *s = Strikes::new(now);
            }
            s.failures += 1;
            if s.failures >= p.address_failures && s.wait(now).is_none() {
                let until = s.since + p.window;
                s.locked_until = Some(until);
                locked = locked.or(Some(Locked { scope: Scope::Address, retry_after: until - now }));
            }
        }
        Failure { failures, locked }
    }

    /// A successful sign-in clears the account's count and its lock history.
    pub fn succeeded(&self, email: &str) {
        lock(&self.accounts).remove(email);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keeps the map under [`MAX_ENTRIES`]: first entries neither locked nor recent go, then (under
/// a flood of fresh names) the one that started longest ago.
fn make_room<K: Clone + std::hash::Hash + Eq>(map: &mut HashMap<K, Strikes>, now: Instant, window: Duration) {
    if map.len() < MAX_ENTRIES {
        return;
    }
    map.retain(|_, s| s.wait(now).is_some() || now - s.since <= window);
    while map.len() >= MAX_ENTRIES {
        let Some(oldest) = map.iter().min_by_key(|(_, s)| s.since).map(|(k, _)| k.clone()) else { break };
        map.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy { account_failures: 10, address_failures: 25, lockout: Duration::from_secs(60), window: Duration::from_secs(600) }
    }

    #[test]
    fn ten_failures_in_a_row_lock_the_account_for_a_while() {
        let t = SignInThrottle::new(policy());
        let now = Instant::now();
        for i in 1..10 {
            assert_eq!(t.failed_at("a@x", None, now), Failure { failures: i, locked: None });
            assert!(t.check_at("a@x", None, now).is_ok());
        }
        let tenth = t.failed_at("a@x", None, now);
        assert_eq!(tenth.locked, Some(Locked { scope: Scope::Account, retry_after: Duration::from_secs(60) }));
        assert_eq!(t.check_at("a@x", None, now + Duration::from_secs(59)).unwrap_err().retry_after, Duration::from_secs(1));
        assert!(t.check_at("b@x", None, now).is_ok(), "other accounts are not locked");
        let later = now + Duration::from_secs(60);
        assert!(t.check_at("a@x", None, later).is_ok(), "the lock ends");
        for _ in 0..9 {
            t.failed_at("a@x", None, later);
        }
        assert_eq!(t.failed_at("a@x", None, later).locked.unwrap().retry_after, Duration::from_secs(120), "the second lock is longer");
        t.succeeded("a@x");
        assert!(t.check_at("a@x", None, later).is_ok(), "a success clears the account");
    }

    #[test]
    fn a_success_resets_the_run_of_failures() {
        let t = SignInThrottle::new(policy());
        let now = Instant::now();
        for _ in 0..9 {
            t.failed_at("a@x", None, now);
        }
        t.succeeded("a@x");
        assert_eq!(t.failed_at("a@x", None, now).failures, 1);
    }

    #[test]
    fn one_address_trying_many_accounts_is_locked_until_its_window_ends() {
        let t = SignInThrottle::new(policy());
        let addr: IpAddr = "203.0.113.9".parse().unwrap();
        let now = Instant::now();
        for i in 0..24 {
            assert_eq!(t.failed_at(&format!("u{i}@x"), Some(addr), now).locked, None);
        }
        let last = t.failed_at("u24@x", Some(addr), now + Duration::from_secs(100));
        assert_eq!(last.locked, Some(Locked { scope: Scope::Address, retry_after: Duration::from_secs(500) }));
        let refused = t.check_at("someone@x", Some(addr), now + Duration::from_secs(100)).unwrap_err();
        assert_eq!(refused.scope, Scope::Address);
        assert!(t.check_at("someone@x", Some("203.0.113.10".parse().unwrap()), now).is_ok());
        assert!(t.check_at("someone@x", Some(addr), now + Duration::from_secs(600)).is_ok());
    }

    #[test]
    fn memory_stays_bounded() {
        let mut map = HashMap::new();
        let now = Instant::now();
        for i in 0..MAX_ENTRIES + 10 {
            make_room(&mut map, now, Duration::from_secs(1));
            map.insert(i, Strikes::new(now));
        }
        assert!(map.len() <= MAX_ENTRIES);
    }
}
