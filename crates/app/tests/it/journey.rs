//! Journey stages with history on both engines: imports record a change only when the stage
//! changes, manual changes may be dated in the past, the current stage is the latest change's,
//! and health scoring (and so backtests) reads the stage an account had on the day scored.

use chrono::Duration;
use kizuna_app::journey::NewStage;
use kizuna_app::{Actor, App, AppError};
use kizuna_domain::health::Scorecards;
use kizuna_domain::journey::StageSource;
use kizuna_domain::usage::metrics::Definitions;
use kizuna_domain::{AccountRow, Role};
use kizuna_store::both_engines;
use kizuna_store::testing::{subscription, TestDb};

fn account(stage: Option<&str>) -> AccountRow {
    AccountRow { account_id: "A1".into(), name: Some("さくら".into()), lifecycle_stage: stage.map(Into::into), owner_email: Some("csm@x.jp".into()), ..Default::default() }
}

async fn stage_on(db: &TestDb, day: chrono::NaiveDate) -> Option<String> {
    let states = kizuna_app::health::gather(db.store.as_ref(), &Scorecards::default_set(), &Definitions::default_set(), day, Some("A1")).await.unwrap();
    states.get("A1").expect("paying on the day").stage.clone()
}

async fn stages_have_a_history_that_scoring_reads(db: TestDb) {
    let s = db.store.as_ref();
    let today = kizuna_app::today();
    let mut tx = s.begin().await.unwrap();
    tx.upsert_accounts(&[account(None)]).await.unwrap();
    tx.upsert_subscriptions(&[subscription("A1", "core", &(today - Duration::days(500)).to_string(), None, 100_000)]).await.unwrap();
    tx.commit().await.unwrap();
    assert!(s.stage_history("A1").await.unwrap().is_empty(), "no stage imported: no history");

    let csm = Actor { id: "csm@x.jp".into(), name: "CSM".into(), role: Role::Csm, partner_id: None, via_key: false };
    let app = App::new(s, &csm);
    let set = |stage: &str, days_ago: i64| NewStage { stage: Some(stage.into()), changed_on: Some((today - Duration::days(days_ago)).to_string()), note: None };
    app.set_stage("A1", set("onboarding", 300)).await.unwrap();
    app.set_stage("A1", set("adoption", 100)).await.unwrap();
    assert_eq!(stage_on(&db, today - Duration::days(400)).await, None, "before a manual first change: none");
    assert_eq!(stage_on(&db, today - Duration::days(200)).await.as_deref(), Some("onboarding"));
    assert_eq!(stage_on(&db, today - Duration::days(100)).await.as_deref(), Some("adoption"), "from its day on");
    // A correction dated between the two does not move today's stage.
    app.set_stage("A1", set("expansion", 150)).await.unwrap();
    assert_eq!(s.get_account("A1", today).await.unwrap().unwrap().lifecycle_stage.as_deref(), Some("adoption"));
    assert_eq!(stage_on(&db, today - Duration::days(120)).await.as_deref(), Some("expansion"));

    // An import with the same stage records nothing; a new one records an import change today.
    let mut tx = s.begin().await.unwrap();
    tx.upsert_accounts(&[account(Some("adoption"))]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.stage_history("A1").await.unwrap().len(), 3);
    let mut tx = s.begin().await.unwrap();
    tx.upsert_accounts(&[account(Some("renewal"))]).await.unwrap();
    tx.commit().await.unwrap();
    let history = s.stage_history("A1").await.unwrap();
    assert_eq!((history.len(), history[0].stage.as_deref(), history[0].source, history[0].changed_on), (4, Some("renewal"), StageSource::Import, today));
    assert_eq!(stage_on(&db, today).await.as_deref(), Some("renewal"));
    assert_eq!(stage_on(&db, today - Duration::days(100)).await.as_deref(), Some("adoption"), "the past keeps its stage");

    let wrong = app.set_stage("A1", NewStage { stage: Some("won".into()), ..Default::default() }).await;
    assert!(matches!(wrong, Err(AppError::Param(_))), "{wrong:?}");
    let later = app.set_stage("A1", set("adoption", -1)).await;
    assert!(matches!(later, Err(AppError::Param(_))), "a day to come: {later:?}");
    assert_eq!(s.stage_history("A1").await.unwrap().len(), 4, "nothing written by a refused change");
}

both_engines!(stages_have_a_history_that_scoring_reads);
