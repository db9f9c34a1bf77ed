//! The `kizuna` binary itself: help texts, exit codes and messages, on both engines.

use kizuna_store::both_engines;
use kizuna_store::testing::TestDb;
use std::process::{Command, Output};

fn kizuna(db: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kizuna"));
    cmd.env_remove("KIZUNA_DATABASE_URL").env("RUST_LOG", "error");
    if let Some(db) = db {
        cmd.arg("--database").arg(db);
    }
    cmd.args(args).output().expect("run kizuna")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn every_command_has_help() {
    let commands: &[&[&str]] = &[
        &[],
        &["serve"],
        &["demo"],
        &["import"],
        &["import", "accounts"],
        &["import", "subscriptions"],
        &["import", "contacts"],
        &["import", "activities"],
        &["import", "churn-reasons"],
        &["import", "funnel-leads"],
        &["import", "funnel-counts"],
        &["import", "events"],
        &["users"],
        &["users", "create"],
        &["users", "deactivate"],
        &["users", "reactivate"],
        &["keys"],
        &["keys", "create"],
        &["metrics"],
        &["metrics", "retention"],
        &["metrics", "mrr"],
        &["metrics", "cohorts"],
        &["metrics", "ltv"],
        &["metrics", "arr"],
        &["metrics", "churn"],
        &["plan"],
        &["plan", "capacity"],
        &["plan", "hiring"],
        &["plan", "budget"],
        &["plan", "maturity"],
        &["plan", "funnel"],
        &["plan", "save"],
        &["plan", "list"],
        &["plan", "example"],
        &["jobs"],
        &["jobs", "list"],
        &["jobs", "run"],
    ];
    for c in commands {
        let mut args = c.to_vec();
        args.push("--help");
        let out = kizuna(None, &args);
        assert!(out.status.success(), "{c:?}");
        let help = text(&out.stdout);
        assert!(help.contains("Usage: kizuna"), "{c:?}: {help}");
        assert!(help.contains("--database"), "{c:?} lists the global --database flag");
    }
    let out = kizuna(None, &["import", "subscriptions", "--help"]);
    assert!(text(&out.stdout).contains("start_date <= day < end_date"));
}

async fn bad_import_exits_non_zero_and_writes_nothing(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("accounts.csv");
    std::fs::write(&good, "account_id,name,touch_model\nA1,株式会社さくら,high\n").unwrap();
    let out = kizuna(Some(&db.url), &["import", "accounts", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported 1 account rows (1 new accounts)"), "{}", text(&out.stdout));

    let bad = dir.path().join("subscriptions.csv");
    std::fs::write(&bad, "account_id,product,start_date,end_date,mrr\nA2,core,2024-01-01,,100\nA2,core,2024-02-01,2020-13-01,100\n").unwrap();
    let out = kizuna(Some(&db.url), &["import", "subscriptions", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("subscriptions.csv:3: end_date \"2020-13-01\" is not a date (YYYY-MM-DD)"), "{err}");
    let c = db.store.counts().await.unwrap();
    assert_eq!((c.accounts, c.subscriptions), (1, 0));

    let out = kizuna(Some(&db.url), &["import", "contacts", dir.path().join("missing.csv").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("missing.csv: cannot open"), "{}", text(&out.stderr));

    // Last days as end dates: imported, with a warning naming the flag that reads them.
    let last_days = dir.path().join("billing.csv");
    std::fs::write(&last_days, "account_id,product,start_date,end_date,mrr\nB1,core,2024-01-01,2024-01-31,100\nB1,core,2024-02-01,,100\n").unwrap();
    let out = kizuna(Some(&db.url), &["import", "subscriptions", last_days.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(text(&out.stderr).starts_with("warning: ") && text(&out.stderr).contains("--end-inclusive"), "{}", text(&out.stderr));
    let out = kizuna(Some(&db.url), &["import", "subscriptions", "--end-inclusive", last_days.to_str().unwrap()]);
    assert!(out.status.success() && text(&out.stderr).is_empty(), "{}", text(&out.stderr));
}

async fn demo_is_deterministic_and_metrics_run(db: TestDb) {
    let args = ["demo", "--seed", "5", "--until", "2026-01-31", "--accounts", "150"];
    assert!(kizuna(Some(&db.url), &args).status.success());
    let first = kizuna(Some(&db.url), &["metrics", "mrr", "--from", "2023-02", "--to", "2026-01", "--format", "csv"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    // A second demo (even for another date) is not written over the first.
    let again = kizuna(Some(&db.url), &["demo", "--seed", "5", "--until", "2026-03-31", "--accounts", "150"]);
    assert!(again.status.success());
    assert!(text(&again.stderr).contains("already holds 150 accounts") && text(&again.stderr).contains("nothing was written"));
    let second = kizuna(Some(&db.url), &["metrics", "mrr", "--from", "2023-02", "--to", "2026-01", "--format", "csv"]);
    assert_eq!(text(&first.stdout), text(&second.stdout));
    assert_eq!(db.store.counts().await.unwrap().accounts, 150);
    // The team's month includes forecast calls on the coming renewals, of more than one kind.
    let day = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    let calls = db.store.renewal_calls(day("2026-01-31"), day("2026-05-31")).await.unwrap();
    let kinds: std::collections::BTreeSet<&str> = calls.iter().map(|c| c.forecast_call.as_str()).collect();
    assert!(kinds.len() >= 2 && calls.iter().all(|c| c.note.is_some()), "{calls:?}");
    let csv = text(&first.stdout);
    assert!(csv.starts_with("month,starting_mrr,new,expansion,contraction,churn,reactivation,ending_mrr,net_change,quick_ratio,customers_start,customers_end,partial\n"));
    assert_eq!(csv.lines().count(), 37);

    let out = kizuna(Some(&db.url), &["metrics", "retention", "--from", "2025-01-01", "--to", "2025-13-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr).trim(), r#"error: --to "2025-13-01" is not a date (YYYY-MM-DD)"#);
    let out = kizuna(Some(&db.url), &["metrics", "retention", "--from", "2025-01-01", "--to", "2026-01-01", "--by", "segment", "--format", "table"]);
    assert!(text(&out.stdout).lines().next().unwrap().trim_start().starts_with("group"));
    // --at on every range report: the range is cut there and says what was asked.
    for args in [
        &["metrics", "retention", "--from", "2025-01-01", "--to", "2026-01-01", "--at", "2025-06-30"][..],
        &["metrics", "churn", "--from", "2025-01-01", "--to", "2026-01-01", "--at", "2025-06-30"][..],
    ] {
        let out = kizuna(Some(&db.url), args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
        let v = if v.is_array() { v[0].clone() } else { v };
        assert_eq!(v["to"].as_str(), Some("2025-06-30"), "{args:?}: {v}");
    }
    let out = kizuna(Some(&db.url), &["metrics", "mrr", "--from", "2025-01", "--to", "2025-12", "--at", "2025-06-15", "--format", "csv"]);
    let csv = text(&out.stdout);
    assert_eq!(csv.lines().count(), 7, "January to June, June month to date: {csv}");
    assert!(csv.lines().last().unwrap().ends_with(",true"), "{csv}");
}

#[test]
fn unsupported_database_url_is_explained() {
    let out = kizuna(Some("mysql://localhost/x"), &["metrics", "arr"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("unsupported database URL \"mysql://localhost/x\""), "{}", text(&out.stderr));
}

/// Issue 22: a database URL's password never reaches the terminal or the log.
#[test]
fn database_passwords_are_never_printed() {
    for url in ["postgres://kizuna:hunter2-secret@127.0.0.1:1/kizuna", "mysql://root:hunter2-secret@localhost/x", "postgres://u:hunter2-secret@h:99999/db"] {
        let out = kizuna(Some(url), &["users", "list"]);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(!err.contains("hunter2-secret") && !text(&out.stdout).contains("hunter2-secret"), "{url}: {err}");
        assert!(err.contains(":***@"), "{url}: the URL is still named: {err}");
    }
}

/// Issue 22: weak passwords are refused; a deactivated user is listed as such.
async fn users_password_policy_and_deactivation(db: TestDb) {
    let create = |password: &str| kizuna(Some(&db.url), &["users", "create", "--email", "sato@kizuna.example", "--role", "csm", "--password", password]);
    let out = create("          ");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("password is empty or only spaces"), "{}", text(&out.stderr));
    let out = create("password123");
    assert!(text(&out.stderr).contains("too easy to guess"), "{}", text(&out.stderr));
    let out = create("Sato@Kizuna.example");
    assert!(text(&out.stderr).contains("too easy to guess"), "the user's own e-mail: {}", text(&out.stderr));
    assert!(create("plum-lantern-gravel-42").status.success());
    let out = kizuna(Some(&db.url), &["users", "deactivate", "--email", "SATO@kizuna.example"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("deactivated sato@kizuna.example"), "{}", text(&out.stdout));
    let list = text(&kizuna(Some(&db.url), &["users", "list"]).stdout);
    assert!(list.lines().any(|l| l.starts_with("sato@kizuna.example\t") && l.contains("\tdeactivated ")), "{list}");
    let (user, _) = db.store.user_with_hash("sato@kizuna.example").await.unwrap().unwrap();
    assert!(user.deactivated_at.is_some());
    let out = kizuna(Some(&db.url), &["users", "deactivate", "--email", "nobody@kizuna.example"]);
    assert!(!out.status.success() && text(&out.stderr).contains("no user with e-mail \"nobody@kizuna.example\""));
    assert!(kizuna(Some(&db.url), &["users", "reactivate", "--email", "sato@kizuna.example"]).status.success());
    assert!(db.store.user_with_hash("sato@kizuna.example").await.unwrap().unwrap().0.deactivated_at.is_none());
}

async fn plan_from_scenario_file_and_xlsx(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/scenario.example.toml");
    let xlsx = dir.path().join("capacity.xlsx");
    let out = kizuna(Some(&db.url), &["plan", "capacity", "--scenario", example, "--xlsx", xlsx.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["result"]["bottom_up_csms"].as_u64(), v["result"]["gap"].as_i64()), (Some(17), Some(2)));
    let bytes = std::fs::read(&xlsx).unwrap();
    assert!(bytes.starts_with(b"PK\x03\x04") && bytes.len() > 3000, "an xlsx is a zip");

    // Text that a spreadsheet would run goes into the workbook as text, never as a formula.
    let scenario = std::fs::read_to_string(example).unwrap().replace("segment = \"smb\"", "segment = \"=HYPERLINK(1)\"");
    let hostile = dir.path().join("hostile.toml");
    std::fs::write(&hostile, scenario).unwrap();
    let hostile_xlsx = dir.path().join("hostile.xlsx");
    let out = kizuna(Some(&db.url), &["plan", "capacity", "--scenario", hostile.to_str().unwrap(), "--xlsx", hostile_xlsx.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let part = |name: &str| text(&Command::new("unzip").arg("-p").arg(&hostile_xlsx).arg(name).output().unwrap().stdout);
    let (sheet, strings) = (part("xl/worksheets/sheet1.xml"), part("xl/sharedStrings.xml"));
    assert!(strings.contains("=HYPERLINK(1)"), "{strings}");
    assert!(!sheet.contains("<f>") && !part("xl/worksheets/sheet2.xml").contains("<f>"), "no formula cells: {sheet}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[capacity]\nproductive_hours_per_csm = 120\nhours_per_acount = 1\n").unwrap();
    let out = kizuna(Some(&db.url), &["plan", "capacity", "--scenario", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("line 3") && err.contains("unknown field `hours_per_acount`"), "{err}");

    assert!(kizuna(Some(&db.url), &["plan", "save", "fy", "--scenario", example]).status.success());
    let list = text(&kizuna(Some(&db.url), &["plan", "list"]).stdout);
    assert!(list.starts_with("fy\t"), "{list}");
    let out = kizuna(Some(&db.url), &["plan", "budget", "--name", "fy", "--format", "csv"]);
    assert!(text(&out.stdout).starts_with("strategy,sales_marketing,cogs\n"), "{}", text(&out.stdout));
    let ex = kizuna(None, &["plan", "example"]);
    assert_eq!(text(&ex.stdout), std::fs::read_to_string(example).unwrap());
}

/// `kizuna jobs run` runs what is due once; `kizuna jobs list` shows each run with the keys the
/// issue names, as JSON, CSV and a table.
async fn jobs_run_and_list(db: TestDb) {
    let url = db.url.as_str();
    let ran = kizuna(Some(url), &["jobs", "run"]);
    assert!(ran.status.success(), "{}", text(&ran.stderr));
    assert!(text(&ran.stdout).contains("health.daily_score") && text(&ran.stdout).contains("\tdone"), "{}", text(&ran.stdout));
    assert!(text(&ran.stderr).contains("3 job(s) run"), "{}", text(&ran.stderr));
    assert!(text(&ran.stdout).contains("signals.daily"), "{}", text(&ran.stdout));
    let again = kizuna(Some(url), &["jobs", "run"]);
    assert!(text(&again.stderr).contains("0 job(s) run"), "nothing due twice: {}", text(&again.stderr));

    let out = kizuna(Some(url), &["jobs", "list", "--format", "json"]);
    let jobs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let jobs = jobs.as_array().unwrap();
    assert_eq!(jobs.len(), 3);
    for j in jobs {
        for key in ["job_id", "kind", "scheduled_for", "node", "attempts", "status", "error", "started_at", "finished_at"] {
            assert!(j.get(key).is_some(), "{key} in {j}");
        }
        assert_eq!((j["status"].as_str(), j["attempts"].as_i64()), (Some("done"), Some(1)));
        assert!(j["node"].as_str().unwrap().starts_with("cli:"));
    }
    let csv = text(&kizuna(Some(url), &["jobs", "list", "--format", "csv", "--status", "done"]).stdout);
    let header = csv.lines().next().unwrap();
    assert!(header.contains("job_id") && header.contains("scheduled_for") && header.contains("finished_at"), "{header}");
    assert_eq!(csv.lines().count(), 4);
    let none = kizuna(Some(url), &["jobs", "list", "--status", "dead"]);
    assert!(none.status.success() && text(&none.stdout).is_empty());
    let bad = kizuna(Some(url), &["jobs", "list", "--status", "paused"]);
    assert!(!bad.status.success() && text(&bad.stderr).contains("paused"));
}


/// `kizuna ctas ...` on the demo company: the signals open CTAs once, one opened by hand is
/// closed with its outcome, the lists read back as JSON and CSV, and a bad configuration file
/// is refused with its name.
async fn ctas_from_the_command_line(db: TestDb) {
    let url = db.url.as_str();
    assert!(kizuna(Some(url), &["demo", "--seed", "5", "--until", "2026-01-31", "--accounts", "150"]).status.success());
    let run = |at: &str| {
        let out = kizuna(Some(url), &["ctas", "run-signals", "--at", at, "--format", "json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = run("2026-01-30");
    let opened = first["opened"].as_u64().unwrap();
    assert!(opened > 0, "{first}");
    assert_eq!(run("2026-01-30")["opened"], 0, "twice: nothing new");
    let listed = kizuna(Some(url), &["ctas", "list", "--format", "json", "--limit", "500"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let before = listed.as_array().unwrap().len() as u64;
    assert!(before >= opened.min(500), "{before} listed, {opened} opened");

    let account = listed[0]["account_id"].as_str().unwrap().to_string();
    let created = kizuna(Some(url), &["ctas", "create", "--account", &account, "--type", "opportunity", "--reason", "advocacy", "--title", "導入事例の依頼"]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let id = text(&created.stdout).trim().to_string();
    assert!(id.starts_with("cta-"), "{id}");
    let updated = kizuna(Some(url), &["ctas", "update", &id, "--status", "in_progress", "--done", "1", "--comment", "先方の広報に確認中"]);
    assert!(updated.status.success() || text(&updated.stderr).contains("no task 1"), "{}", text(&updated.stderr));
    let closed = kizuna(Some(url), &["ctas", "close", &id, "--outcome", "success", "--note", "掲載決定", "--format", "json"]);
    assert!(closed.status.success(), "{}", text(&closed.stderr));
    let closed: serde_json::Value = serde_json::from_slice(&closed.stdout).unwrap();
    assert_eq!((closed["cta_id"].as_str(), closed["status"].as_str(), closed["outcome"].as_str()), (Some(id.as_str()), Some("closed"), Some("success")));

    let csv = text(&kizuna(Some(url), &["ctas", "list", "--status", "closed", "--format", "csv"]).stdout);
    let header = csv.trim_start_matches('\u{feff}').lines().next().unwrap().to_string();
    for key in ["cta_id", "account_id", "type", "reason", "priority", "status", "owner_email", "due_on", "outcome", "tasks"] {
        assert!(header.split(',').any(|h| h == key), "{key} in {header}");
    }
    assert!(csv.contains(&id) && csv.contains("success"), "{csv}");
    let row = kizuna(Some(url), &["ctas", "update", &id, "--status", "open", "--format", "csv"]);
    let row = text(&row.stdout);
    assert!(row.trim_start_matches('\u{feff}').lines().count() == 2 && row.contains(&id) && row.contains(",open,"), "reopened, as one CSV row: {row}");
    let bad = kizuna(Some(url), &["ctas", "create", "--account", &account, "--type", "risk", "--reason", "nope"]);
    assert!(!bad.status.success() && text(&bad.stderr).contains("has no reason \"nope\""), "{}", text(&bad.stderr));

    let config = kizuna(Some(url), &["ctas", "playbooks"]);
    assert!(text(&config.stdout).contains("[[type]]"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("playbooks.toml");
    std::fs::write(&file, text(&config.stdout).replace("renewal_days = 90", "renewal_days = 0")).unwrap();
    let saved = kizuna(Some(url), &["ctas", "playbooks", "--save", file.to_str().unwrap()]);
    assert!(!saved.status.success());
    assert!(text(&saved.stderr).contains("playbooks.toml") && text(&saved.stderr).contains("renewal_days"), "{}", text(&saved.stderr));
}

/// `kizuna journey ...`: the stages with their active accounts, an account's stage set from a
/// past day and cleared, an edited list saved from a file and a bad one refused with its name.
async fn journey_from_the_command_line(db: TestDb) {
    let url = db.url.as_str();
    let dir = tempfile::tempdir().unwrap();
    let accounts = dir.path().join("accounts.csv");
    std::fs::write(&accounts, "account_id,name,lifecycle_stage\nA1,株式会社さくら,adoption\nA2,青葉商事,adoption\nA3,旧取引先,adoption\n").unwrap();
    let subs = dir.path().join("subscriptions.csv");
    std::fs::write(&subs, "account_id,product,start_date,end_date,mrr\nA1,core,2024-01-01,,50000\nA2,core,2024-01-01,,30000\nA3,core,2024-01-01,2024-06-01,10000\n").unwrap();
    for (kind, file) in [("accounts", &accounts), ("subscriptions", &subs)] {
        let out = kizuna(Some(url), &["import", kind, file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let stages = || {
        let out = kizuna(Some(url), &["journey", "stages", "--format", "json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array().unwrap().iter().map(|s| (s["name"].as_str().unwrap().to_string(), s["active_accounts"].as_u64().unwrap())).collect::<Vec<_>>()
    };
    let count = |list: &[(String, u64)], name: &str| list.iter().find(|(n, _)| n == name).map(|(_, c)| *c);
    assert_eq!(count(&stages(), "adoption"), Some(2), "A3 ended in 2024: not active");

    let set = kizuna(Some(url), &["journey", "set-stage", "A1", "expansion", "--note", "追加購入の相談"]);
    assert!(set.status.success() && text(&set.stderr).contains("A1: stage expansion from"), "{}", text(&set.stderr));
    let now = stages();
    assert_eq!((count(&now, "adoption"), count(&now, "expansion")), (Some(1), Some(1)));
    let history = db.store.stage_history("A1").await.unwrap();
    assert!(history.iter().any(|c| c.stage.as_deref() == Some("expansion") && c.source.as_str() == "manual" && c.changed_by.as_deref() == Some("cli")), "{history:?}");
    // A change from a past day is kept in the history; today's imported stage stays current.
    let past = kizuna(Some(url), &["journey", "set-stage", "A2", "onboarding", "--on", "2026-01-15"]);
    assert!(past.status.success() && text(&past.stderr).contains("A2: stage onboarding from 2026-01-15"), "{}", text(&past.stderr));
    assert!(db.store.stage_history("A2").await.unwrap().iter().any(|c| c.stage.as_deref() == Some("onboarding") && c.changed_on.to_string() == "2026-01-15"));
    assert_eq!(count(&stages(), "adoption"), Some(1));
    let cleared = kizuna(Some(url), &["journey", "set-stage", "A2", ""]);
    assert!(cleared.status.success(), "{}", text(&cleared.stderr));
    assert_eq!(count(&stages(), "adoption"), Some(0));
    let future = kizuna(Some(url), &["journey", "set-stage", "A1", "renewal", "--on", "2999-01-01"]);
    assert!(!future.status.success() && text(&future.stderr).contains("changed_on"), "{}", text(&future.stderr));
    let unknown = kizuna(Some(url), &["journey", "set-stage", "A1", "won"]);
    assert!(!unknown.status.success() && text(&unknown.stderr).contains("onboarding, adoption, expansion, renewal"), "{}", text(&unknown.stderr));

    let file = dir.path().join("journey.json");
    std::fs::write(&file, r#"{"stages":[{"name":"onboarding","label_ja":"導入","label_en":"Onboarding"},{"name":"expansion","label_ja":"拡大","label_en":"Expansion"}]}"#).unwrap();
    let saved = kizuna(Some(url), &["journey", "save", file.to_str().unwrap()]);
    assert!(saved.status.success() && text(&saved.stderr).contains("saved 2 stage(s)"), "{}", text(&saved.stderr));
    let table = kizuna(Some(url), &["journey", "stages"]);
    assert!(text(&table.stdout).contains("導入") && !text(&table.stdout).contains("adoption"), "{}", text(&table.stdout));
    std::fs::write(&file, r#"{"stages":[{"name":"Onboarding","label_ja":"導入","label_en":"Onboarding"}]}"#).unwrap();
    let refused = kizuna(Some(url), &["journey", "save", file.to_str().unwrap()]);
    assert!(!refused.status.success(), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("journey.json: journey: stage \"Onboarding\": a name is 1 to 40 lower-case letters"), "{}", text(&refused.stderr));
    assert_eq!(stages().len(), 2, "nothing saved");
}

both_engines!(
    jobs_run_and_list,
    journey_from_the_command_line,
    ctas_from_the_command_line,
    bad_import_exits_non_zero_and_writes_nothing,
    demo_is_deterministic_and_metrics_run,
    plan_from_scenario_file_and_xlsx,
    users_password_policy_and_deactivation,
);
