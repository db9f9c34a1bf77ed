//! The demo company's onboarding: a template per product (and one for enterprise expense
//! customers), and a plan for every first subscription to a product in the last two years.
//! Plans that started before the usage window have a history drawn like a real team's: poor-fit
//! customers (the ones that churn at three times their segment's rate) finish late or never far
//! more often, so onboarding predicts churn here as LayerX says it does. Plans inside the
//! window leave their data-driven tasks open: the daily run completes them from the usage the
//! demo sends (`setup_step`, `login`, `report_created`), and stalled accounts fall behind.

use crate::{usage, DemoData};
use chrono::{Duration, NaiveDate};
use kizuna_domain::onboarding::{self as rules, Criterion, DoneBy, DueFrom, PhaseDef, Plan, PlanStatus, Side, TaskDef, Template, Templates};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

fn task(id: &str, ja: &str, en: &str, side: Side, due_days: u32, criterion: Criterion) -> TaskDef {
    TaskDef {
        task_id: id.into(),
        title: ja.into(),
        title_en: Some(en.into()),
        description: None,
        side,
        required: true,
        setup: false,
        due_days,
        due_from: DueFrom::Plan,
        depends_on: vec![],
        criterion,
    }
}

fn event(name: &str, min_count: u32, min_users: u32, within_days: u32) -> Criterion {
    Criterion::Event { event: name.into(), min_count, min_users, within_days }
}

/// The template for a product (`enterprise`: the longer one with a security review).
fn template(product: &str, name: &str, enterprise: bool, start_from: NaiveDate) -> Template {
    let mut kickoff = vec![task("kickoff", "キックオフ会議", "Kick-off meeting", Side::Vendor, 3, Criterion::Manual)];
    if enterprise {
        kickoff.push(task("security_review", "セキュリティ審査の完了", "Security review passed", Side::Customer, 10, Criterion::Manual));
    }
    let mut setup = task("initial_setup", "初期設定（2ステップ）", "Initial setup (2 steps)", Side::Customer, if enterprise { 12 } else { 8 }, event("setup_step", 2, 1, 30));
    setup.setup = true;
    let mut complete = task("setup_complete", "初期設定の完了（5ステップ）", "Setup complete (5 steps)", Side::Customer, if enterprise { 20 } else { 15 }, event("setup_step", 5, 1, 45));
    complete.depends_on = vec!["initial_setup".into()];
    let team = task("team_active", "2人以上がログイン", "Two or more people signed in", Side::Customer, if enterprise { 20 } else { 15 }, event("login", 2, 2, 45));
    let mut first = task("first_report", "最初のレポート作成", "First report created", Side::Customer, 10, event("report_created", 1, 1, 60));
    first.due_from = DueFrom::Phase;
    let mut training = task("admin_training", "管理者トレーニング", "Admin training", Side::Vendor, 10, Criterion::Manual);
    (training.required, training.due_from) = (false, DueFrom::Phase);
    Template {
        template_id: if enterprise { format!("{product}-enterprise") } else { format!("{product}-standard") },
        name: if enterprise { format!("{name} 導入（エンタープライズ）") } else { format!("{name} 導入") },
        product: product.into(),
        segment: enterprise.then(|| "enterprise".into()),
        touch_model: None,
        phases: vec![
            PhaseDef { phase_id: "kickoff".into(), name: "キックオフ".into(), name_en: Some("Kick-off".into()), tasks: kickoff },
            PhaseDef { phase_id: "setup".into(), name: "初期設定".into(), name_en: Some("Setup".into()), tasks: vec![setup, complete, team] },
            PhaseDef { phase_id: "value".into(), name: "活用開始".into(), name_en: Some("First value".into()), tasks: vec![first, training] },
        ],
        value_milestone: Some("first_report".into()),
        behind_after_days: 0,
        stuck_after_days: 14,
        completes_to_stage: Some("adoption".into()),
        auto_start_from: Some(start_from),
        version: 1,
    }
}

/// The templates: one per product, and the enterprise one for expense.
pub fn templates(data: &DemoData, until: NaiveDate) -> Templates {
    let window = until - Duration::days(usage::DAYS);
    let mut out: Vec<Template> = data.products.iter().map(|p| template(&p.product_id, &p.name, false, window)).collect();
    if let Some(p) = data.products.first() {
        out.push(template(&p.product_id, &p.name, true, window));
    }
    Templates { templates: out }
}

/// A plan for each first subscription to a product started in the two years up to `until`.
pub fn plans(data: &DemoData, templates: &Templates, seed: u64, until: NaiveDate) -> Vec<Plan> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0b0a_7d1e);
    let window = until - Duration::days(usage::DAYS);
    let oldest = until - Duration::days(730);
    let mut first: HashMap<(&str, &str), NaiveDate> = HashMap::new();
    for s in &data.subscriptions {
        let e = first.entry((s.account_id.as_str(), s.product.as_str())).or_insert(s.start_date);
        *e = (*e).min(s.start_date);
    }
    let accounts: HashMap<&str, &kizuna_domain::AccountRow> = data.accounts.iter().map(|a| (a.account_id.as_str(), a)).collect();
    let churned: HashMap<&str, NaiveDate> = data.churn.iter().map(|c| (c.account_id.as_str(), c.churned_on)).collect();
    let customers: HashMap<&str, String> = data.contacts.iter().filter_map(|c| c.name.clone().map(|n| (c.account_id.as_str(), n))).collect();
    let mut keys: Vec<(&str, &str, NaiveDate)> = first.into_iter().map(|((a, p), d)| (a, p, d)).filter(|(_, _, d)| *d >= oldest && *d <= until).collect();
    keys.sort();
    let mut out = Vec::new();
    for (account, product, start) in keys {
        let a = accounts[account];
        let Some(t) = templates.for_account(product, a.segment.as_deref(), a.touch_model.map(|m| m.as_str())) else { continue };
        let mut plan = rules::instantiate(t, format!("plan-{account}-{product}").to_lowercase(), account, start, a.owner_email.clone());
        let customer = customers.get(account).cloned().unwrap_or_else(|| "customer".into());
        if start >= window {
            recent(&mut plan, &mut rng, &customer, until);
        } else {
            history(&mut plan, &mut rng, data.poor_fit.contains(account), churned.get(account).copied(), &customer, until);
        }
        rules::refresh(&mut plan, until);
        out.push(plan);
    }
    out
}

/// Inside the usage window: people's tasks as a team does them; the data's are left to the run.
fn recent(plan: &mut Plan, rng: &mut ChaCha8Rng, customer: &str, until: NaiveDate) {
    let start = plan.started_on;
    let owner = plan.owner_email.clone();
    for t in plan.tasks.iter_mut().filter(|t| t.criterion.is_manual()) {
        let (chance, latest) = if t.side == Side::Vendor { (0.9, 6) } else { (0.6, 25) };
        let day = start + Duration::days(rng.gen_range(1..=latest));
        if rng.gen_bool(chance) && day <= until {
            tick(t, day, t.side, &owner, customer);
        }
    }
}

/// Before the window: an outcome drawn by fit, then each task's day to match it.
fn history(plan: &mut Plan, rng: &mut ChaCha8Rng, poor_fit: bool, churned: Option<NaiveDate>, customer: &str, until: NaiveDate) {
    let (on_time, late) = if poor_fit { (0.40, 0.35) } else { (0.85, 0.13) };
    let roll: f64 = rng.gen();
    let owner = plan.owner_email.clone();
    let start = plan.started_on;
    let stop = churned.unwrap_or(until).min(until);
    for t in plan.tasks.iter_mut() {
        let slack = (t.due_on - start).num_days().max(1);
        let day = if roll < on_time {
            start + Duration::days(rng.gen_range(0..=slack))
        } else if roll < on_time + late {
            t.due_on + Duration::days(rng.gen_range(3..=40))
        } else if rng.gen_bool(0.4) {
            start + Duration::days(rng.gen_range(0..=slack))
        } else {
            continue; // never done
        };
        if (!t.required && rng.gen_bool(0.4)) || day > stop {
            continue;
        }
        tick(t, day, t.side, &owner, customer);
    }
    // A customer that left with its onboarding unfinished: the plan was called off.
    if churned.is_some() && rules::completed_on(plan).is_none() {
        plan.status = PlanStatus::Cancelled;
    }
}

fn tick(t: &mut rules::PlanTask, day: NaiveDate, side: Side, owner: &Option<String>, customer: &str) {
    let (by, how) = match (&t.criterion, side) {
        (Criterion::Manual, Side::Vendor) => (owner.clone(), DoneBy::Staff),
        (Criterion::Manual, Side::Customer) => (Some(customer.to_string()), DoneBy::Customer),
        _ => (None, DoneBy::Data),
    };
    (t.done_on, t.done_by, t.done_how) = (Some(day), by, Some(how));
}
