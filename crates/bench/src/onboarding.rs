//! `kizuna-bench onboarding`: ACCOUNTS accounts, each with a running onboarding plan of 20 tasks
//! (8 completed by usage events, 12 by hand), started in the 60 days before the day measured;
//! EVENTS usage events per account on that day. Times the day's run (automatic completion from
//! the day's events, statuses, writes) and the KPI report over two years.

use chrono::{Duration, NaiveDate};
use kizuna_app::Actor;
use kizuna_domain::onboarding::{self as rules, Criterion, DueFrom, PhaseDef, Side, TaskDef, Template};
use kizuna_domain::usage::{UsageEvent, UsageMessage};
use kizuna_domain::AccountRow;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::process::ExitCode;
use std::time::Instant;

const EVENTS: [&str; 4] = ["login", "report_created", "export", "setup_step"];

fn template() -> Template {
    let mut phases = Vec::new();
    for p in 0..4 {
        let tasks = (0..5)
            .map(|i| {
                let n = p * 5 + i;
                // Tasks 0, 2, 4, ... of the first 16 are completed by events (8 in all).
                let criterion = if n % 2 == 0 && n < 16 {
                    Criterion::Event { event: EVENTS[n % 4].into(), min_count: 1 + (n as u32 % 3), min_users: 1 + (n as u32 % 2), within_days: 60 }
                } else {
                    Criterion::Manual
                };
                TaskDef {
                    task_id: format!("t{n:02}"),
                    title: format!("タスク {n}"),
                    title_en: None,
                    description: None,
                    side: if n % 3 == 0 { Side::Vendor } else { Side::Customer },
                    required: n % 5 != 4,
                    setup: n < 3,
                    due_days: 2 + 2 * i as u32,
                    due_from: DueFrom::Phase,
                    depends_on: vec![],
                    criterion,
                }
            })
            .collect();
        phases.push(PhaseDef { phase_id: format!("p{p}"), name: format!("フェーズ {p}"), name_en: None, tasks });
    }
    Template {
        template_id: "bench".into(),
        name: "Bench".into(),
        product: "core".into(),
        segment: None,
        touch_model: None,
        phases,
        value_milestone: Some("t04".into()),
        behind_after_days: 0,
        stuck_after_days: 14,
        completes_to_stage: Some("adoption".into()),
        auto_start_from: None,
        version: 1,
    }
}

async fn load(store: &dyn kizuna_store::Store, accounts: u64, per_account: u64, day: NaiveDate) -> anyhow::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(26);
    let t = template();
    let templates = rules::Templates { templates: vec![t.clone()] };
    let started = Instant::now();
    for chunk_start in (0..accounts).step_by(5000) {
        let ids: Vec<String> = (chunk_start..(chunk_start + 5000).min(accounts)).map(|i| format!("B{i:06}")).collect();
        let rows: Vec<AccountRow> = ids
            .iter()
            .map(|id| AccountRow { account_id: id.clone(), name: Some(format!("{id} 株式会社")), segment: Some(["smb", "mid", "enterprise"][rng.gen_range(0..3)].into()), owner_email: Some(format!("csm{}@bench.example", rng.gen_range(0..20))), ..Default::default() })
            .collect();
        let mut tx = store.begin().await?;
        tx.upsert_accounts(&rows).await?;
        if chunk_start == 0 {
            tx.save_setting(rules::SETTING, &serde_json::to_string(&templates)?).await?;
        }
        for id in &ids {
            let start = day - Duration::days(rng.gen_range(1..60));
            let mut plan = rules::instantiate(&t, format!("plan-{id}"), id, start, None);
            for task in plan.tasks.iter_mut().filter(|x| x.criterion.is_manual()) {
                if rng.gen_bool(0.5) {
                    task.done_on = Some(start + Duration::days(rng.gen_range(0..=(day - start).num_days())));
                }
            }
            rules::refresh(&mut plan, day - Duration::days(1));
            tx.save_plan(&plan).await?;
        }
        tx.commit().await?;
    }
    eprintln!("plans written: {} accounts × 20 tasks in {:.1} s", accounts, started.elapsed().as_secs_f64());
    let started = Instant::now();
    let at = |h: u32| chrono::TimeZone::from_utc_datetime(&chrono::Utc, &day.and_hms_opt(h, 0, 0).expect("hour"));
    let mut batch = Vec::with_capacity(50_000);
    let mut n = 0u64;
    for i in 0..accounts {
        let id = format!("B{i:06}");
        for k in 0..per_account {
            batch.push(UsageMessage::Event(UsageEvent {
                message_id: format!("{id}-{k}"),
                user_id: Some(format!("{id}-u{}", rng.gen_range(0..3))),
                account_id: Some(id.clone()),
                event_type: EVENTS[rng.gen_range(0..4)].into(),
                at: at(rng.gen_range(0..12)),
                value: None,
                properties: serde_json::json!({}),
            }));
            n += 1;
        }
        if batch.len() >= 50_000 {
            store.ingest(&batch).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store.ingest(&batch).await?;
    }
    eprintln!("events of the day written: {n} in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

pub async fn onboarding(db: &str, accounts: u64, per_account: u64, no_load: bool, load_only: bool) -> anyhow::Result<ExitCode> {
    let store = super::open(db).await?;
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    if !no_load {
        load(store.as_ref(), accounts, per_account, day).await?;
    }
    if load_only {
        return Ok(ExitCode::SUCCESS);
    }
    let started = Instant::now();
    let run = kizuna_app::onboarding::run(store.as_ref(), day).await?;
    let run_s = started.elapsed().as_secs_f64();
    println!("onboarding run for {day}: {run_s:.2} s ({} tasks completed from events, {} plans completed, {} behind, {} stuck, {} on track)", run.tasks_done, run.completed, run.behind, run.stuck, run.on_track);
    let operator = Actor::operator();
    let mut times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let r = kizuna_app::onboarding::report(store.as_ref(), &operator, day - Duration::days(729), day, None, day).await?;
        times.push(started.elapsed().as_secs_f64());
        if times.len() == 1 {
            println!("report over two years: {} started, {} due, rate {:?}", r.total.started, r.total.due_in_period, r.total.completion_rate_in_period);
        }
    }
    times.sort_by(f64::total_cmp);
    println!("report over two years: median {:.3} s of 3", times[1]);
    if let Some(mib) = super::peak_rss_mib() {
        println!("peak memory: {mib:.0} MiB");
    }
    Ok(ExitCode::SUCCESS)
}
