//! The daily onboarding run reads a running plan in part (its row, its open data tasks, the
//! rest's progress summed in SQL) for speed. Whatever the template, the data, the tasks ticked
//! by hand and the days it runs on, it must decide what the whole-plan rules decide
//! (`complete_from` then `refresh`): the same tasks done on the same days, the same status,
//! completion day and first value, and the same progress kept on the plan's row.

use chrono::{Duration, NaiveDate};
use kizuna_domain::onboarding::{
    advance, complete_from, instantiate, refresh, Criterion, DueFrom, Facts, PhaseDef, PlanStatus, Progress, RunPlan, Side, TaskDef, Template,
};
use proptest::prelude::*;

fn criterion() -> impl Strategy<Value = Criterion> {
    prop_oneof![
        Just(Criterion::Manual),
        (prop::sample::select(vec!["login", "invite"]), 1u32..5, 1u32..3, 0u32..25)
            .prop_map(|(e, c, u, w)| Criterion::Event { event: e.into(), min_count: c, min_users: u, within_days: w }),
        Just(Criterion::Attribute { name: "sso".into() }),
        Just(Criterion::Metric { metric: "wau".into(), min: 3.0 }),
        Just(Criterion::ContactRole { role: "admin".into() }),
    ]
}

/// A task: required, due days, counted from the plan or the phase, criterion.
type TaskSpec = (bool, u32, bool, Criterion);

fn template(tasks: &[TaskSpec], split: usize, milestone: usize, behind: u32, stuck: u32) -> Template {
    let defs: Vec<TaskDef> = tasks
        .iter()
        .enumerate()
        .map(|(i, (required, due_days, from_phase, criterion))| TaskDef {
            task_id: format!("t{i}"),
            title: format!("task {i}"),
            title_en: None,
            description: None,
            side: if i % 2 == 0 { Side::Vendor } else { Side::Customer },
            required: *required || i == 0,
            setup: false,
            due_days: *due_days,
            due_from: if *from_phase { DueFrom::Phase } else { DueFrom::Plan },
            depends_on: vec![],
            criterion: criterion.clone(),
        })
        .collect();
    let split = split.min(defs.len());
    let (a, b) = defs.split_at(split);
    let phase = |id: &str, tasks: &[TaskDef]| PhaseDef { phase_id: id.into(), name: id.into(), name_en: None, tasks: tasks.to_vec() };
    Template {
        template_id: "t".into(),
        name: "t".into(),
        product: "p".into(),
        segment: None,
        touch_model: None,
        phases: [phase("one", a), phase("two", b)].into_iter().filter(|p| !p.tasks.is_empty()).collect(),
        value_milestone: Some(format!("t{}", milestone % tasks.len())),
        behind_after_days: behind,
        stuck_after_days: stuck,
        completes_to_stage: None,
        auto_start_from: None,
        version: 1,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256), ..ProptestConfig::default() })]

    #[test]
    fn the_run_read_in_part_decides_what_the_whole_plan_decides(
        tasks in prop::collection::vec((any::<bool>(), 0u32..12, any::<bool>(), criterion()), 1..8),
        split in 0usize..8,
        milestone in 0usize..8,
        behind in 0u32..4,
        stuck in 1u32..20,
        start_offset in 0i64..400,
        events in prop::collection::vec((prop::sample::select(vec!["login", "invite"]), 0i64..60, prop::option::of(0u8..3), 1u64..3), 0..12),
        sso in any::<bool>(),
        wau in 0.0f64..6.0,
        admin in any::<bool>(),
        ticks in prop::collection::vec(prop::option::of(0i64..6), 8),
        cancelled in prop::bool::weighted(0.1),
        mut days in prop::collection::vec(6i64..70, 1..6),
    ) {
        let start = NaiveDate::from_ymd_opt(2025, 12, 1).unwrap() + Duration::days(start_offset);
        let mut facts = Facts::default();
        for (event, day, user, n) in events {
            facts.events.entry(event.to_string()).or_default().push((start + Duration::days(day), user.map(|u| format!("u{u}")), n));
        }
        if sso {
            facts.attributes.insert("sso".into());
        }
        facts.metrics.insert("wau".into(), wau);
        if admin {
            facts.contact_roles.insert("admin".into());
        }
        let mut whole = instantiate(&template(&tasks, split, milestone, behind, stuck), "plan-1".into(), "A1", start, None);
        // Manual tasks ticked by hand in the first days, before any run.
        for (t, tick) in whole.tasks.iter_mut().zip(&ticks) {
            if let (Criterion::Manual, Some(d)) = (&t.criterion, tick) {
                t.done_on = Some(start + Duration::days(*d));
            }
        }
        if cancelled {
            whole.status = PlanStatus::Cancelled;
        }
        refresh(&mut whole, start + Duration::days(5));
        days.sort_unstable();
        days.dedup();
        for at in days.into_iter().map(|d| start + Duration::days(d)) {
            let mut part = RunPlan::of(&whole, at);
            prop_assert!(part.plan.tasks.is_empty(), "the run reads no task rows beyond the open data tasks");
            prop_assert!(part.open.iter().all(|t| !t.criterion.is_manual()));
            let done = advance(&mut part, &facts, at);
            let names = complete_from(&mut whole, &facts, at);
            refresh(&mut whole, at);
            prop_assert_eq!(done.iter().map(|d| d.0.clone()).collect::<Vec<_>>(), names, "tasks done on {}", at);
            for (id, day) in &done {
                let t = whole.tasks.iter().find(|t| &t.task_id == id).unwrap();
                prop_assert_eq!(t.done_on, Some(*day), "{} done on", id);
                prop_assert!(*day >= start && *day <= at, "{} done on {}, outside {}..{}", id, day, start, at);
            }
            prop_assert_eq!((part.plan.status, part.plan.completed_on, part.plan.first_value_at), (whole.status, whole.completed_on, whole.first_value_at), "on {}", at);
            prop_assert_eq!(part.all_time(&done), Progress::all_time(&whole.tasks, whole.behind_after_days), "the plan row's progress on {}", at);
            if cancelled {
                prop_assert!(done.is_empty() && whole.status == PlanStatus::Cancelled, "a cancelled plan is not worked by the data");
            }
        }
    }
}
