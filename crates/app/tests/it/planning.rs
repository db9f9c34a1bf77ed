//! Planning with live data on both engines, against hand-computed figures.

use kizuna_app::planning::{self, PlanKind};
use kizuna_domain::{AccountRow, TouchModel};
use kizuna_store::both_engines;
use kizuna_store::testing::TestDb;

use kizuna_store::testing::{date as d, subscription};

/// A1 enterprise/high, 800k → 1,000k MRR on 2024-01-01; A2 mid/hybrid 200k; A3 mid/hybrid 100k
/// from 2024-02-01; A4 smb/tech 50k ended 2024-03-01; A5 smb without touch model 30k from 2024-03-01.
async fn seed(db: &TestDb) {
    let acc = |id: &str, seg: &str, touch: Option<TouchModel>, owner: Option<&str>| AccountRow {
        account_id: id.into(),
        segment: Some(seg.into()),
        touch_model: touch,
        owner_email: owner.map(str::to_string),
        ..Default::default()
    };
    let sub = |id: &str, start: &str, end: Option<&str>, mrr: i64| subscription(id, "core", start, end, mrr);
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[
        acc("A1", "enterprise", Some(TouchModel::High), Some("sato@x.jp")),
        acc("A2", "mid", Some(TouchModel::Hybrid), Some("sato@x.jp")),
        acc("A3", "mid", Some(TouchModel::Hybrid), Some("ito@x.jp")),
        acc("A4", "smb", Some(TouchModel::Tech), Some("ito@x.jp")),
        acc("A5", "smb", None, None),
    ])
    .await
    .unwrap();
    tx.upsert_subscriptions(&[
        sub("A1", "2023-01-01", Some("2024-01-01"), 800_000),
        sub("A1", "2024-01-01", None, 1_000_000),
        sub("A2", "2023-01-01", None, 200_000),
        sub("A3", "2024-02-01", None, 100_000),
        sub("A4", "2023-01-01", Some("2024-03-01"), 50_000),
        sub("A5", "2024-03-01", None, 30_000),
    ])
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn capacity_budget_and_maturity_from_live_data(db: TestDb) {
    seed(&db).await;
    let at = d("2024-06-30");
    let s = planning::default_scenario();
    let cap = serde_json::to_value(planning::run(db.store.as_ref(), PlanKind::Capacity, &s, at).await.unwrap()).unwrap();
    let r = &cap["result"];
    let book: Vec<(String, String, u64, f64)> = r["slices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["segment"].as_str().unwrap().into(), s["touch_model"].as_str().unwrap().into(), s["accounts"].as_u64().unwrap(), s["arr"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        book,
        vec![
            ("enterprise".into(), "high".into(), 1, 12_000_000.0),
            ("mid".into(), "hybrid".into(), 2, 3_600_000.0),
            ("smb".into(), "hybrid".into(), 1, 360_000.0),
        ]
    );
    // 10 + 2 × 2 + 2 = 16 h → 0.1333 FTE → 1 CSM; ARR 15.96M / 60M → 1.
    assert_eq!(r["hours_per_month"], 16.0);
    assert_eq!((r["bottom_up_csms"].as_u64(), r["top_down_csms"].as_u64(), r["gap"].as_i64()), (Some(1), Some(1), Some(0)));
    assert_eq!(r["book_source"], "live");
    assert_eq!(r["accounts_without_touch_model_counted_as_hybrid"], 1);
    assert_eq!(r["current_csms"], 2, "sato and ito own active accounts (not the example's 12)");
    // The default hiring plan starts from the live book too: the month after `at`, 4 accounts
    // (A1, A2, A3, A5), the live mix (1 high, 3 hybrid).
    let hire = serde_json::to_value(planning::run(db.store.as_ref(), PlanKind::Hiring, &s, at).await.unwrap()).unwrap();
    let resolved = &hire["result"]["resolved"];
    assert_eq!((resolved["start_month"].as_str(), resolved["starting_accounts"].as_f64()), (Some("2024-07"), Some(4.0)));
    assert_eq!((resolved["mix_path"][0]["high"].as_f64(), resolved["mix_path"][0]["hybrid"].as_f64()), (Some(0.25), Some(0.75)));

    let bud = serde_json::to_value(planning::run(db.store.as_ref(), PlanKind::Budget, &s, at).await.unwrap()).unwrap();
    let roi = &bud["result"]["roi"];
    // From 2023-07-01: A1 800k, A2 200k, A4 50k = 1,050k; on 2024-06-30: 1,000k + 200k + 0.
    let (nrr, grr) = (1_200_000.0 / 1_050_000.0, 1_000_000.0 / 1_050_000.0);
    assert!((roi["nrr"].as_f64().unwrap() - nrr).abs() < 1e-12 && (roi["grr"].as_f64().unwrap() - grr).abs() < 1e-12);
    // The base is ARR when those 12 months began (1,050k × 12), not on `at` (15.96M, which
    // counts A3 and A5, new in the year).
    let start_arr = 12_600_000.0;
    assert_eq!(roi["arr"], start_arr);
    let expected = start_arr * (grr - 0.85) + start_arr * (nrr - grr) * 0.5;
    assert!((roi["return_total"].as_f64().unwrap() - expected).abs() < 1e-6);
    let arr = 15_960_000.0;

    let mat = serde_json::to_value(planning::run(db.store.as_ref(), PlanKind::Maturity, &s, at).await.unwrap()).unwrap();
    let r = &mat["result"];
    assert_eq!(r["stage"], "proactive");
    let team = r["goals"].as_array().unwrap().iter().flat_map(|g| g["kpis"].as_array().unwrap().clone()).find(|k| k["kpi"] == "team_performance").unwrap();
    // Active A1, A2, A3, A5; owners sato and ito.
    assert_eq!(team["value"]["accounts_per_csm"], 2.0);
    assert_eq!(team["value"]["arr_per_csm"], arr / 2.0);
}

async fn scenarios_are_saved_listed_and_replaced(db: TestDb) {
    let example = kizuna_domain::planning::scenario::EXAMPLE;
    let mut tx = db.store.begin().await.unwrap();
    tx.save_scenario("fy2027", example).await.unwrap();
    tx.save_scenario("lean", &example.replace("automation_factor = 0.0", "automation_factor = 0.2")).await.unwrap();
    tx.commit().await.unwrap();
    let names: Vec<String> = db.store.scenarios().await.unwrap().into_iter().map(|s| s.0).collect();
    assert_eq!(names, vec!["fy2027", "lean"]);
    let lean = planning::saved_or_default(db.store.as_ref(), Some("lean")).await.unwrap();
    let cap = serde_json::to_value(planning::run(db.store.as_ref(), PlanKind::Capacity, &lean, d("2024-06-30")).await.unwrap()).unwrap();
    // 1,950 h × 0.8 = 1,560 h → 13 CSMs.
    assert_eq!(cap["result"]["bottom_up_csms"], 13);
    let mut tx = db.store.begin().await.unwrap();
    tx.save_scenario("lean", example).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(db.store.scenario("lean").await.unwrap().as_deref(), Some(example));
    let err = planning::saved_or_default(db.store.as_ref(), Some("nope")).await.unwrap_err();
    assert_eq!(err.to_string(), r#"no saved scenario named "nope" (kizuna plan list shows them)"#);
}

/// The funnel worked example of `kizuna_domain::planning::funnel`, through the importer.
async fn funnel_from_imported_records(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leads.csv");
    std::fs::write(
        &path,
        "lead_id,lead_on,meeting_on,opportunity_on,won_on\nL1,2024-04-01,2024-04-11,2024-04-21,2024-05-21\n\
         L2,2024-04-05,2024-04-25,,\nL3,2024-04-10,,,\nL4,,,2024-04-15,2024-05-15\n",
    )
    .unwrap();
    kizuna_import::import_file(db.store.as_ref(), kizuna_import::ImportKind::FunnelLeads, &path, &kizuna_import::NoProgress).await.unwrap();
    let s = planning::default_scenario();
    let v = serde_json::to_value(planning::run(db.store.as_ref(), PlanKind::Funnel, &s, d("2024-06-30")).await.unwrap()).unwrap();
    let r = &v["result"];
    assert_eq!(r["source"], "records");
    assert_eq!(r["months"][0]["month"], "2024-04");
    assert_eq!(r["months"][0]["reached"], serde_json::json!({"lead": 4, "meeting": 3, "opportunity": 2, "won": 2, "onboarded": 0, "renewed": 0}));
    assert_eq!(r["months"][0]["conversion"]["lead_to_meeting"], 0.75);
    assert_eq!((r["lags"][0]["median_days"].as_f64(), r["lags"][2]["mean_days"].as_f64()), (Some(15.0), Some(30.0)));
    assert_eq!(r["ltv_by_touch_model"][0]["touch_model"], "all");
    // As of 4/30 both wins (in May) have not happened yet.
    let v = serde_json::to_value(planning::run(db.store.as_ref(), PlanKind::Funnel, &s, d("2024-04-30")).await.unwrap()).unwrap();
    assert_eq!(v["result"]["months"][0]["reached"], serde_json::json!({"lead": 4, "meeting": 3, "opportunity": 2, "won": 0, "onboarded": 0, "renewed": 0}));
    let v = serde_json::to_value(planning::run(db.store.as_ref(), PlanKind::Funnel, &s, d("2024-04-08")).await.unwrap()).unwrap();
    assert_eq!(v["result"]["months"][0]["reached"]["lead"], 2, "L1 and L2 only (L3 on 4/10, L4 first seen 4/15)");
}

both_engines!(capacity_budget_and_maturity_from_live_data, scenarios_are_saved_listed_and_replaced, funnel_from_imported_records);
