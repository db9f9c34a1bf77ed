//! The demo company: a Japanese B2B SaaS (経費精算・請求書受領・ワークフロー) with about 2,000
//! accounts over the 3 years up to `until`. The same seed and `until` always give the same data.
//!
//! Accounts are simulated billing period by billing period: new business, expansion, contraction,
//! cross-sell of a second and third product, churn with reasons (avoidable and not) and some
//! reactivation, so every MRR movement of the revenue reports appears.

mod names;
pub mod onboarding;
pub mod usage;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use kizuna_domain::*;
use names::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const DEFAULT_SEED: u64 = 42;

#[derive(Debug, Clone, Default)]
pub struct DemoData {
    pub partners: Vec<PartnerRow>,
    pub teams: Vec<TeamRow>,
    pub staff: Vec<StaffRow>,
    pub products: Vec<ProductRow>,
    pub accounts: Vec<AccountRow>,
    pub subscriptions: Vec<SubscriptionRow>,
    pub contacts: Vec<ContactRow>,
    pub activities: Vec<ActivityRow>,
    pub churn: Vec<ChurnRow>,
    pub funnel: Vec<kizuna_domain::planning::funnel::FunnelLead>,
    /// Product usage of the last [`usage::DAYS`] days (groups first, then events by account).
    pub usage: Vec<kizuna_domain::usage::UsageMessage>,
    /// Accounts that are poor fits (they churn at three times their segment's rate).
    pub poor_fit: std::collections::HashSet<String>,
    /// Onboarding templates and plans (see [`onboarding`]).
    pub onboarding_templates: kizuna_domain::onboarding::Templates,
    pub plans: Vec<kizuna_domain::onboarding::Plan>,
}

pub struct Options {
    pub seed: u64,
    pub accounts: usize,
    pub until: NaiveDate,
    pub months: u32,
}

impl Options {
    pub fn new(seed: u64, until: NaiveDate) -> Self {
        Options { seed, accounts: 2000, until, months: 36 }
    }
}

/// Staff e-mail domain of the demo company.
pub const STAFF_DOMAIN: &str = "kizuna-demo.example";

/// The whole demo company, its usage in memory.
pub fn generate(opts: &Options) -> DemoData {
    let mut data = generate_company(opts);
    data.usage = usage::generate(&data, opts.seed, opts.until);
    data
}

/// The demo company without its usage, which [`write_usage`] generates as it writes.
pub fn generate_company(opts: &Options) -> DemoData {
    let mut g = Gen { rng: ChaCha8Rng::seed_from_u64(opts.seed), data: DemoData::default(), opts, paid: vec![] };
    g.staff_and_catalogue();
    g.accounts();
    let mut data = g.data;
    data.onboarding_templates = onboarding::templates(&data, opts.until);
    data.plans = onboarding::plans(&data, &data.onboarding_templates, opts.seed, opts.until);
    data
}

/// Generates the company's usage account by account and ingests it in slices of about 50,000
/// messages (each one transaction): the same messages as [`generate`] holds, in flat memory.
/// Returns how many were written.
pub async fn write_usage(store: &dyn kizuna_store::Store, data: &DemoData, opts: &Options) -> kizuna_store::Result<u64> {
    let (mut slice, mut written) = (Vec::with_capacity(USAGE_SLICE), 0u64);
    for messages in usage::Generator::new(data, opts.seed, opts.until) {
        slice.extend(messages);
        if slice.len() >= USAGE_SLICE {
            store.ingest(&slice).await?;
            written += slice.len() as u64;
            slice.clear();
        }
    }
    if !slice.is_empty() {
        store.ingest(&slice).await?;
        written += slice.len() as u64;
    }
    Ok(written)
}

/// Usage messages per transaction when the demo writes them.
const USAGE_SLICE: usize = 50_000;

struct Gen<'a> {
    rng: ChaCha8Rng,
    data: DemoData,
    opts: &'a Options,
    /// The current account's paying spells, `[start, end)`: nothing happens to an account
    /// (meetings, QBRs, renewals) while it is not a customer.
    paid: Vec<(NaiveDate, NaiveDate)>,
}

/// Team id, team name, lead, CSMs: enterprise (high touch), mid-market (hybrid), scale (tech/hybrid).
const TEAMS: &[(&str, &str, usize)] = &[("enterprise", "エンタープライズCS", 5), ("mid", "ミッドマーケットCS", 6), ("scale", "スケールCS", 3)];

fn staff_email(local: &str) -> String {
    format!("{local}@{STAFF_DOMAIN}")
}

impl Gen<'_> {
    fn person(&mut self) -> ((&'static str, &'static str), (&'static str, &'static str)) {
        (*SURNAMES.choose(&mut self.rng).unwrap(), *GIVEN_NAMES.choose(&mut self.rng).unwrap())
    }

    fn staff_and_catalogue(&mut self) {
        let d = &mut self.data;
        d.partners = PARTNERS.iter().map(|(id, name)| PartnerRow { partner_id: id.to_string(), name: name.to_string() }).collect();
        d.products = PRODUCTS.iter().map(|(id, name)| ProductRow { product_id: id.to_string(), name: name.to_string() }).collect();
        let fixed = [
            ("admin", "管理者 アドミン", Role::Admin),
            ("ops", "運用 花子", Role::CsOps),
            ("cs-head", "本部 誠", Role::Manager),
            ("viewer", "経営 企画", Role::Viewer),
        ];
        for (local, name, role) in fixed {
            self.data.staff.push(StaffRow { email: staff_email(local), name: name.into(), role, team_id: None, partner_id: None });
        }
        let mut used = std::collections::HashSet::new();
        for (team_id, team_name, csms) in TEAMS {
            let lead = staff_email(&format!("lead-{team_id}"));
            let (s, g) = self.person();
            self.data.staff.push(StaffRow {
                email: lead.clone(),
                name: format!("{} {}", s.0, g.0),
                role: Role::Manager,
                team_id: Some(team_id.to_string()),
                partner_id: None,
            });
            self.data.teams.push(TeamRow { team_id: team_id.to_string(), name: team_name.to_string(), lead_email: Some(lead) });
            for _ in 0..*csms {
                let (s, g) = loop {
                    let p = self.person();
                    if used.insert((p.0 .1, p.1 .1)) {
                        break p;
                    }
                };
                self.data.staff.push(StaffRow {
                    email: staff_email(&format!("{}.{}", g.1, s.1)),
                    name: format!("{} {}", s.0, g.0),
                    role: Role::Csm,
                    team_id: Some(team_id.to_string()),
                    partner_id: None,
                });
            }
        }
        for (id, name) in PARTNERS {
            self.data.staff.push(StaffRow {
                email: format!("{}@partner.{STAFF_DOMAIN}", id.to_lowercase()),
                name: format!("{name} 担当"),
                role: Role::Partner,
                team_id: None,
                partner_id: Some(id.to_string()),
            });
        }
    }

    fn csms_of(&self, team: &str) -> Vec<String> {
        self.data
            .staff
            .iter()
            .filter(|s| s.role == Role::Csm && s.team_id.as_deref() == Some(team))
            .map(|s| s.email.clone())
            .collect()
    }

    fn company_names(&mut self) -> Vec<String> {
        let mut names = Vec::new();
        for p in COMPANY_PREFIX {
            for c in COMPANY_CORE {
                let form = COMPANY_FORM.choose(&mut self.rng).unwrap();
                names.push(form.replace("{}", &format!("{p}{c}")));
            }
        }
        names.shuffle(&mut self.rng);
        let base = names.len();
        for i in 0..self.opts.accounts.saturating_sub(base) {
            names.push(format!("{}第{}", names[i % base], i / base + 2));
        }
        names
    }

    fn accounts(&mut self) {
        let names = self.company_names();
        let until = self.opts.until;
        let first_month = first_of_month(until) - Months::new(self.opts.months);
        let csms = [self.csms_of("enterprise"), self.csms_of("mid"), self.csms_of("scale")];
        // New business grows over time: month m gets a weight rising from 1 to 2.5. The current
        // month, up to `until`, gets its share of days: it is an ordinary month so far.
        let so_far = until.day() as f64 / 28.0;
        let weights: Vec<f64> = (0..=self.opts.months)
            .map(|m| (1.0 + 1.5 * m as f64 / self.opts.months as f64) * if m == self.opts.months { so_far.min(1.0) } else { 1.0 })
            .collect();
        let total: f64 = weights.iter().sum();
        let mut n = 0usize;
        for (m, w) in weights.iter().enumerate() {
            let target = (w / total * self.opts.accounts as f64).round() as usize;
            let count = if m + 1 == weights.len() { self.opts.accounts - n } else { target.min(self.opts.accounts - n) };
            let month = first_month + Months::new(m as u32);
            let days = if month == first_of_month(until) { (until - month).num_days() + 1 } else { 28 };
            for _ in 0..count {
                let day = self.rng.gen_range(0..days.clamp(1, 28));
                let start = month + Duration::days(day);
                self.account(n, &names[n], start, &csms);
                n += 1;
            }
        }
    }

    fn account(&mut self, i: usize, name: &str, start: NaiveDate, csms: &[Vec<String>; 3]) {
        let id = format!("C{:05}", i + 1);
        let seg_roll: f64 = self.rng.gen();
        let (segment, team) = if seg_roll < 0.15 { ("enterprise", 0) } else if seg_roll < 0.50 { ("mid", 1) } else { ("smb", 2) };
        let t: f64 = self.rng.gen();
        let touch = match segment {
            "enterprise" if t < 0.9 => TouchModel::High,
            "enterprise" => TouchModel::Hybrid,
            "mid" if t < 0.15 => TouchModel::High,
            "mid" => TouchModel::Hybrid,
            _ if t < 0.6 => TouchModel::Hybrid,
            _ => TouchModel::Tech,
        };
        let owner_team = match touch {
            TouchModel::High => 0,
            TouchModel::Hybrid if team == 0 => 0,
            TouchModel::Hybrid => 1,
            TouchModel::Tech => 2,
        };
        let owner = csms[owner_team].choose(&mut self.rng).cloned();
        let partner = (segment != "enterprise" && self.rng.gen_bool(0.2))
            .then(|| PARTNERS.choose(&mut self.rng).unwrap().0.to_string());
        let employees = match segment {
            "enterprise" => self.rng.gen_range(1000..20000),
            "mid" => self.rng.gen_range(100..1000),
            _ => self.rng.gen_range(5..100),
        };
        let mut attributes = serde_json::Map::new();
        attributes.insert("industry".into(), INDUSTRIES.choose(&mut self.rng).unwrap().to_string().into());
        attributes.insert("prefecture".into(), PREFECTURES.choose(&mut self.rng).unwrap().to_string().into());
        attributes.insert("employees".into(), employees.into());

        let stage = self.subscriptions(&id, segment, start);
        self.funnel(&id, segment, start, stage);
        self.contacts(&id);
        self.activities(&id, touch, owner.as_deref(), start);
        self.data.accounts.push(AccountRow {
            account_id: id,
            name: Some(name.to_string()),
            segment: Some(segment.into()),
            touch_model: Some(touch),
            owner_email: owner,
            partner_id: partner,
            lifecycle_stage: Some(stage.into()),
            created_at: Some(midnight(start)),
            attributes,
        });
    }

    /// Simulate billing periods; returns the lifecycle stage at `until`.
    fn subscriptions(&mut self, id: &str, segment: &str, start: NaiveDate) -> &'static str {
        let until = self.opts.until;
        let annual = match segment {
            "enterprise" => true,
            "mid" => self.rng.gen_bool(0.7),
            _ => false,
        };
        let period = if annual { 12 } else { 1 };
        // Monthly churn hazard and seat price by segment.
        let (mean_hazard, seats, price) = match segment {
            "enterprise" => (0.006_f64, self.rng.gen_range(200..1500), 800),
            "mid" => (0.012, self.rng.gen_range(40..200), 900),
            _ => (0.025, self.rng.gen_range(5..40), 1000),
        };
        // Customers differ: a quarter are poor fits that churn at 3× the segment's mean hazard,
        // the rest at a third of it. The risky ones leave early, so survivors' retention rises
        // with tenure, as in real cohorts (and as the sBG model assumes).
        let poor_fit = self.rng.gen_bool(0.25);
        if poor_fit {
            self.data.poor_fit.insert(id.to_string());
        }
        let hazard = mean_hazard * if poor_fit { 3.0 } else { 1.0 / 3.0 };
        let first = if self.rng.gen_bool(0.7) { 0 } else { 1 };
        let mut lines: Vec<(usize, i64)> = vec![(first, seats)];
        let mut at = start;
        let mut expanded = false;
        let mut reactivated = false;
        self.paid = vec![(start, until + Duration::days(1))];
        loop {
            let end = at + Months::new(period);
            let last = end > until;
            for (p, qty) in &lines {
                let unit_price = price + 200 * *p as i64;
                self.data.subscriptions.push(SubscriptionRow {
                    account_id: id.to_string(),
                    product: PRODUCTS[*p].0.to_string(),
                    start_date: at,
                    end_date: if last && !annual { None } else { Some(end) },
                    mrr_cents: qty * unit_price * 100,
                    quantity: Some(*qty as f64),
                    units: Some("ユーザー".into()),
                    bill_period_months: Some(period as i32),
                    discount: None,
                    currency: "JPY".into(),
                });
            }
            if last {
                let months = (until.year() - start.year()) * 12 + until.month() as i32 - start.month() as i32;
                return if months < 3 { "onboarding" } else if expanded { "expansion" } else if annual && end - until < Duration::days(90) { "renewal" } else { "adoption" };
            }
            at = end;
            let p_churn = 1.0 - (1.0 - hazard).powi(period as i32);
            if self.rng.gen_bool(p_churn) {
                let mrr: i64 = lines.iter().map(|(p, q)| q * (price + 200 * *p as i64) * 100).sum();
                self.churn(id, at, mrr);
                self.paid.last_mut().expect("a spell").1 = at;
                let gap = self.rng.gen_range(2..9);
                if reactivated || !self.rng.gen_bool(0.08) || at + Months::new(gap) >= until {
                    return "churned";
                }
                reactivated = true;
                at = at + Months::new(gap);
                self.paid.push((at, until + Duration::days(1)));
                continue;
            }
            let roll: f64 = self.rng.gen();
            let scale = period as f64;
            if roll < 0.03 * scale.min(6.0) {
                for line in lines.iter_mut() {
                    line.1 += (line.1 as f64 * self.rng.gen_range(0.1..0.4)).ceil() as i64;
                }
                expanded = true;
            } else if roll < 0.04 * scale.min(6.0) {
                for line in lines.iter_mut() {
                    line.1 = (line.1 as f64 * self.rng.gen_range(0.6..0.9)).ceil() as i64;
                }
            }
            let tenure = (at - start).num_days();
            if lines.len() < 3 && tenure > 90 && self.rng.gen_bool((0.02 * scale).min(0.3)) {
                let next = (0..3).find(|p| !lines.iter().any(|(q, _)| q == p)).unwrap();
                lines.push((next, (lines[0].1 / 2).max(3)));
                expanded = true;
            } else if lines.len() > 1 && self.rng.gen_bool((0.005 * scale).min(0.1)) {
                lines.pop();
            }
        }
    }

    /// The won lead behind this account (lead → meeting → opportunity → won at its first
    /// subscription → onboarded → renewed after a year if still a customer), and about two lost
    /// leads for every won one, dropping out at each stage.
    fn funnel(&mut self, id: &str, segment: &str, won: NaiveDate, stage: &str) {
        use kizuna_domain::planning::funnel::FunnelLead;
        let until = self.opts.until;
        let opportunity = won - Duration::days(self.rng.gen_range(14..75));
        let meeting = opportunity - Duration::days(self.rng.gen_range(5..30));
        let lead = meeting - Duration::days(self.rng.gen_range(2..21));
        let onboarded = won + Duration::days(self.rng.gen_range(20..75));
        let renewal = won + Months::new(12);
        let renewed = stage != "churned" && renewal <= until && self.paying_on(renewal);
        self.data.funnel.push(FunnelLead {
            lead_id: format!("LD-{id}"),
            account_id: Some(id.to_string()),
            segment: Some(segment.to_string()),
            dates: [
                Some(lead),
                Some(meeting),
                Some(opportunity),
                Some(won),
                (onboarded <= until).then_some(onboarded),
                renewed.then_some(renewal),
            ],
        });
        for k in 0..self.rng.gen_range(1..=3) {
            let lost_lead = lead + Duration::days(self.rng.gen_range(-20..20));
            let reached = *[1, 1, 1, 2, 2, 3].choose(&mut self.rng).unwrap();
            let mut dates = [None; 6];
            dates[0] = Some(lost_lead);
            if reached >= 2 {
                dates[1] = Some(lost_lead + Duration::days(self.rng.gen_range(3..20)));
            }
            if reached >= 3 {
                dates[2] = Some(lost_lead + Duration::days(self.rng.gen_range(25..60)));
            }
            if dates.iter().flatten().all(|d| *d <= until) {
                self.data.funnel.push(FunnelLead { lead_id: format!("LD-{id}-{k}"), account_id: None, segment: Some(segment.to_string()), dates });
            }
        }
    }

    fn churn(&mut self, id: &str, on: NaiveDate, mrr_cents: i64) {
        let reasons = [
            (ChurnReason::Acquired, 6),
            (ChurnReason::Bankrupt, 5),
            (ChurnReason::ChampionLeft, 8),
            (ChurnReason::DecisionMakerLeft, 6),
            (ChurnReason::Budget, 14),
            (ChurnReason::Price, 12),
            (ChurnReason::ProductFit, 10),
            (ChurnReason::Competitor, 12),
            (ChurnReason::PoorOnboarding, 10),
            (ChurnReason::LowUsage, 12),
            (ChurnReason::SupportIssues, 3),
            (ChurnReason::MissingFeature, 2),
        ];
        let reason = reasons.choose_weighted(&mut self.rng, |r| r.1).unwrap().0;
        self.data.churn.push(ChurnRow {
            account_id: id.to_string(),
            churned_on: on,
            reason,
            avoidable: reason.avoidable_by_default(),
            mrr_lost_cents: Some(mrr_cents),
            note: None,
        });
    }

    fn contacts(&mut self, id: &str) {
        let n = self.rng.gen_range(2..=5);
        let mut seen = std::collections::HashSet::new();
        for k in 0..n {
            let (s, g) = self.person();
            let email = format!("{}.{}@{}.example.jp", g.1, s.1, id.to_lowercase());
            if !seen.insert(email.clone()) {
                continue;
            }
            let role = match k {
                0 => ContactRole::DecisionMaker,
                1 => ContactRole::Champion,
                2 => ContactRole::Admin,
                _ => ContactRole::User,
            };
            self.data.contacts.push(ContactRow {
                account_id: id.to_string(),
                email,
                name: Some(format!("{} {}", s.0, g.0)),
                role: Some(role),
                title: Some(TITLES.choose(&mut self.rng).unwrap().to_string()),
                phone: None,
            });
        }
    }

    fn activities(&mut self, id: &str, touch: TouchModel, owner: Option<&str>, start: NaiveDate) {
        let until = self.opts.until;
        let every_days = match touch {
            TouchModel::High => 30,
            TouchModel::Hybrid => 75,
            TouchModel::Tech => 180,
        };
        let mut day = start + Duration::days(3);
        let mut k = 0;
        while day < until {
            if !self.paying_on(day) {
                day += Duration::days(every_days);
                continue;
            }
            let (kind, subject) = if k == 0 {
                (ActivityKind::Meeting, "キックオフミーティング")
            } else if touch == TouchModel::High && k % 3 == 0 {
                (ActivityKind::Qbr, "四半期ビジネスレビュー (QBR)")
            } else {
                *[
                    (ActivityKind::Meeting, "定例ミーティング"),
                    (ActivityKind::Call, "利用状況の確認"),
                    (ActivityKind::Email, "新機能のご案内"),
                    (ActivityKind::SupportTicket, "設定に関する問い合わせ"),
                    (ActivityKind::Note, "担当者との会話メモ"),
                ]
                .choose(&mut self.rng)
                .unwrap()
            };
            let hour = self.rng.gen_range(0..9); // 09:00–17:00 JST
            // What a team writes down, chosen without the generator so the rest stays as it was.
            let met = matches!(kind, ActivityKind::Meeting | ActivityKind::Qbr | ActivityKind::Call);
            let (attendees, next_steps, body) = match kind {
                ActivityKind::Qbr => (Some("先方: 事業部長、推進担当 / 当社: 担当CSM、営業"), Some("次四半期の目標設定を先方と合意する\n利用状況レポートを送付する"), Some("利用は堅調。\n次四半期は全社展開を検討中。")),
                ActivityKind::Meeting if k == 0 => (Some("先方: 推進担当、情報システム担当 / 当社: 担当CSM"), Some("初期設定の完了日を決める"), None),
                _ if met => (Some("先方: 推進担当 / 当社: 担当CSM"), Some("次回の定例で進捗を確認する"), None),
                ActivityKind::Note => (None, None, Some("推進担当は前向き。\n決裁者とはまだ話せていない。")),
                _ => (None, None, None),
            };
            self.data.activities.push(ActivityRow {
                account_id: id.to_string(),
                activity_id: format!("demo-{id}-{k}"),
                kind,
                occurred_at: midnight(day) + Duration::hours(hour),
                author_email: owner.map(str::to_string),
                subject: Some(subject.to_string()),
                body: body.map(str::to_string),
                attendees: attendees.map(str::to_string),
                next_steps: next_steps.map(str::to_string),
                // A CSM's own notes stay internal; meetings, calls and e-mails are shared with the partner.
                internal: kind == ActivityKind::Note,
            });
            k += 1;
            day += Duration::days(every_days + self.rng.gen_range(-7..=7));
        }
    }
}

impl Gen<'_> {
    fn paying_on(&self, day: NaiveDate) -> bool {
        self.paid.iter().any(|(from, to)| *from <= day && day < *to)
    }
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("day 1 exists")
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

/// The password of every demo user who can sign in. A demo is for trying Kizuna out: never put
/// real data into a demo database.
pub const DEMO_PASSWORD: &str = "kizuna-demo";

/// The demo users who can sign in: one per role (the first CSM), and every partner's user so
/// that partner isolation can be tried. (email, role), in role order.
pub fn sign_ins(data: &DemoData) -> Vec<(String, Role)> {
    let mut out: Vec<(String, Role)> = Vec::new();
    for role in Role::ALL {
        let users = data.staff.iter().filter(|s| s.role == *role);
        let users: Vec<&StaffRow> = if *role == Role::Partner { users.collect() } else { users.take(1).collect() };
        out.extend(users.into_iter().map(|u| (u.email.clone(), *role)));
    }
    out
}

/// Give the [`sign_ins`] users the [`DEMO_PASSWORD`].
pub async fn write_sign_ins(store: &dyn kizuna_store::Store, data: &DemoData) -> kizuna_store::Result<Vec<(String, Role)>> {
    let users = sign_ins(data);
    let hash = kizuna_domain::access::hash_password(DEMO_PASSWORD).expect("the demo password is long enough");
    let mut tx = store.begin().await?;
    for (email, _) in &users {
        tx.set_password(email, &hash).await?;
    }
    tx.commit().await?;
    Ok(users)
}

/// Write the demo company in one transaction. Returns rows written per kind.
pub async fn write(store: &dyn kizuna_store::Store, data: &DemoData) -> kizuna_store::Result<()> {
    let mut tx = store.begin().await?;
    tx.upsert_partners(&data.partners).await?;
    tx.upsert_teams(&data.teams).await?;
    tx.upsert_staff(&data.staff).await?;
    tx.upsert_products(&data.products).await?;
    tx.upsert_accounts(&data.accounts).await?;
    tx.upsert_subscriptions(&data.subscriptions).await?;
    tx.upsert_contacts(&data.contacts).await?;
    tx.upsert_activities(&data.activities).await?;
    tx.upsert_churn_records(&data.churn).await?;
    tx.upsert_funnel_leads(&data.funnel).await?;
    tx.save_setting(kizuna_domain::onboarding::SETTING, &serde_json::to_string(&data.onboarding_templates).expect("templates serialise")).await?;
    for p in &data.plans {
        tx.save_plan(p).await?;
    }
    tx.commit().await?;
    // Usage in slices, each one transaction, so memory stays small.
    for chunk in data.usage.chunks(USAGE_SLICE) {
        store.ingest(chunk).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo(seed: u64) -> DemoData {
        generate(&Options::new(seed, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))
    }

    #[test]
    fn plans_in_every_state_and_late_onboarding_churns_more() {
        use kizuna_domain::onboarding::PlanStatus;
        let until = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let d = generate_company(&Options::new(42, until));
        assert_eq!(d.onboarding_templates.check(), Ok(()));
        assert_eq!(d.onboarding_templates.templates.len(), 4, "one per product and one for enterprise expense");
        for s in PlanStatus::ALL {
            assert!(d.plans.iter().any(|p| p.status == *s), "no {s:?} plan");
        }
        // Churn within 180 days of the due day, plans due at least 180 days before `until`.
        let churn: std::collections::HashMap<&str, NaiveDate> = d.churn.iter().map(|c| (c.account_id.as_str(), c.churned_on)).collect();
        let (mut on, mut late) = ((0, 0), (0, 0));
        for p in d.plans.iter().filter(|p| p.due_on + Duration::days(180) <= until) {
            let churned = churn.get(p.account_id.as_str()).is_some_and(|c| *c > p.due_on && *c <= p.due_on + Duration::days(180)) as u32;
            let group = if p.completed_on.is_some_and(|c| c <= p.due_on) { &mut on } else { &mut late };
            *group = (group.0 + 1, group.1 + churned);
        }
        let rate = |g: (u32, u32)| g.1 as f64 / g.0 as f64;
        assert!(on.0 > 300 && late.0 > 100, "{on:?} {late:?}");
        assert!(rate(late) > 1.5 * rate(on), "late {late:?} vs on time {on:?}");
    }

    #[test]
    fn one_sign_in_per_role_and_every_partner() {
        let users = sign_ins(&demo(1));
        for role in Role::ALL {
            assert!(users.iter().any(|u| u.1 == *role), "{role} missing");
        }
        assert_eq!(users.iter().filter(|u| u.1 == Role::Partner).count(), crate::names::PARTNERS.len());
        assert_eq!(users[0].0, format!("admin@{STAFF_DOMAIN}"));
    }

    #[test]
    fn usage_fades_before_churn() {
        use kizuna_domain::usage::UsageMessage;
        let d = demo(42);
        let until = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let logins = |id: &str, from: i64, to: i64| {
            d.usage
                .iter()
                .filter(|m| matches!(m, UsageMessage::Event(e) if e.account_id.as_deref() == Some(id) && e.event_type == "login"
                    && e.at.date_naive() >= until - Duration::days(from) && e.at.date_naive() < until - Duration::days(to)))
                .count()
        };
        // Accounts that churned in the last 10 days, against accounts still paying: logins in the
        // last 20 days before the end, per account.
        let recent: Vec<&str> = d.churn.iter().filter(|c| c.churned_on > until - Duration::days(10)).map(|c| c.account_id.as_str()).collect();
        assert!(recent.len() >= 5, "{} recent churns", recent.len());
        let churned = recent.iter().map(|id| logins(id, 30, 10)).sum::<usize>() as f64 / recent.len() as f64;
        let paying: Vec<&str> = d.accounts.iter().map(|a| a.account_id.as_str()).filter(|id| !d.churn.iter().any(|c| c.account_id == *id)).take(300).collect();
        let steady = paying.iter().map(|id| logins(id, 30, 10)).sum::<usize>() as f64 / paying.len() as f64;
        assert!(churned < steady * 0.5, "churned {churned:.1} against paying {steady:.1} logins");
        assert!(d.usage.iter().any(|m| matches!(m, UsageMessage::Event(e) if e.event_type == "setup_step")));
        assert!(d.usage.len() > 100_000, "{} usage messages", d.usage.len());
    }

    #[test]
    fn same_seed_same_company() {
        let (a, b) = (demo(7), demo(7));
        assert_eq!(a.accounts, b.accounts);
        assert_eq!(a.subscriptions, b.subscriptions);
        assert_ne!(demo(8).accounts, a.accounts);
    }

    #[test]
    fn shape_matches_the_brief() {
        let d = demo(42);
        assert_eq!(d.accounts.len(), 2000);
        let share = |t: TouchModel| d.accounts.iter().filter(|a| a.touch_model == Some(t)).count() as f64 / 2000.0;
        assert!((share(TouchModel::High) - 0.2).abs() < 0.05, "high {}", share(TouchModel::High));
        assert!((share(TouchModel::Hybrid) - 0.6).abs() < 0.05, "hybrid {}", share(TouchModel::Hybrid));
        assert!((share(TouchModel::Tech) - 0.2).abs() < 0.05, "tech {}", share(TouchModel::Tech));
        let names: std::collections::HashSet<_> = d.accounts.iter().map(|a| a.name.clone()).collect();
        assert_eq!(names.len(), 2000, "company names are unique");
        assert!(d.churn.iter().any(|c| c.avoidable) && d.churn.iter().any(|c| !c.avoidable));
        let products: std::collections::HashSet<_> = d.subscriptions.iter().map(|s| s.product.as_str()).collect();
        assert_eq!(products.len(), 3);
        let starts = d.subscriptions.iter().map(|s| s.start_date).min().unwrap();
        assert!(starts >= NaiveDate::from_ymd_opt(2023, 11, 1).unwrap());
        assert!(d.partners.len() == 5 && d.accounts.iter().any(|a| a.partner_id.is_some()));
        assert!(!d.contacts.is_empty() && !d.activities.is_empty());
        // Some churned account comes back (reactivation).
        let mut churned: Vec<_> = d.churn.iter().map(|c| (&c.account_id, c.churned_on)).collect();
        churned.sort();
        assert!(churned.iter().any(|(id, on)| d.subscriptions.iter().any(|s| &&s.account_id == id && s.start_date > *on)));
    }
}
