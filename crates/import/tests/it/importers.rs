//! Every importer on both engines: good files land and re-import is idempotent; each kind of bad
//! input fails with `file:line: column "value" problem` and leaves the database exactly as before.

use kizuna_import::{import_file, ImportKind, NoProgress};
use kizuna_store::testing::TestDb;
use kizuna_store::{both_engines, AccountQuery, Counts, Store};
use std::path::PathBuf;

struct Files(tempfile::TempDir);

impl Files {
    fn new() -> Self {
        Files(tempfile::tempdir().unwrap())
    }
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

/// Everything a failed import could have touched.
async fn snapshot(store: &dyn Store) -> (Counts, Vec<(String, String, i64)>, Vec<String>) {
    let counts = store.counts().await.unwrap();
    let changes = store
        .mrr_changes()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.account_id, c.day.to_string(), c.delta_cents))
        .collect();
    let mut q = AccountQuery::new(chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap());
    q.per_page = 1000;
    let accounts = store
        .list_accounts(&q)
        .await
        .unwrap()
        .accounts
        .into_iter()
        .map(|a| format!("{}|{}|{:?}|{:?}|{}", a.account_id, a.name, a.segment, a.touch_model, a.attributes))
        .collect();
    (counts, accounts_sorted(changes), accounts)
}

fn accounts_sorted(mut v: Vec<(String, String, i64)>) -> Vec<(String, String, i64)> {
    v.sort();
    v
}

const GOOD_ACCOUNTS: &str = "account_id,name,segment,touch_model,owner_email,partner_id,created_at,industry\n\
A1,株式会社さくら,enterprise,high,sato@kizuna.example,P1,2023-04-01,製造\n\
A2,Blue Sky Inc.,smb,tech,,,,IT\n";
const GOOD_SUBS: &str = "account_id,product,start_date,end_date,mrr,quantity,units,bill_period_months,discount,currency\n\
A1,core,2024-01-01,2024-02-01,100000,10,seats,1,,JPY\n\
A1,core,2024-02-01,,120000,12,seats,1,0.1,JPY\n\
A3,analytics,2024-03-01,,\"30,000\",,,,,\n";
const GOOD_CONTACTS: &str = "account_id,email,name,role,title,phone\n\
A1,tanaka@sakura.example,田中 太郎,decision_maker,部長,03-0000-0000\n\
A1,suzuki@sakura.example,鈴木 花子,champion,,\n";
const GOOD_ACTIVITIES: &str = "account_id,activity_id,type,occurred_at,author_email,subject,body\n\
A1,act-1,meeting,2024-04-01T10:00:00+09:00,sato@kizuna.example,キックオフ,導入計画を確認\n\
A1,,note,2024-04-02 09:00:00,,メモ,\n";
const GOOD_FUNNEL_LEADS: &str = "lead_id,account_id,segment,lead_on,meeting_on,opportunity_on,won_on,onboarded_on,renewed_on\n\
L1,A1,enterprise,2024-04-01,2024-04-11,2024-04-21,2024-05-21,,\n\
L2,,smb,2024-04-05,2024-04-25,,,,\n\
L4,,,,,2024-04-15,2024-05-15,,\n";
const GOOD_FUNNEL_COUNTS: &str = "month,stage,count,segment\n2024-04,lead,200,smb\n2024-04,meeting,50,smb\n";
const GOOD_CHURN: &str = "account_id,churned_on,reason,avoidable,mrr_lost,note\n\
A2,2024-05-01,acquired,,50000,買収\n\
A4,2024-06-01,price,true,,\n";

async fn import(db: &TestDb, kind: ImportKind, path: &PathBuf) -> Result<kizuna_import::ImportSummary, String> {
    import_file(db.store.as_ref(), kind, path, &NoProgress).await.map_err(|e| e.to_string())
}

async fn load_good(db: &TestDb, files: &Files) {
    for (kind, name, body) in [
        (ImportKind::Accounts, "accounts.csv", GOOD_ACCOUNTS),
        (ImportKind::Subscriptions, "subscriptions.csv", GOOD_SUBS),
        (ImportKind::Contacts, "contacts.csv", GOOD_CONTACTS),
        (ImportKind::Activities, "activities.csv", GOOD_ACTIVITIES),
        (ImportKind::ChurnReasons, "churn.csv", GOOD_CHURN),
        (ImportKind::FunnelLeads, "funnel-leads.csv", GOOD_FUNNEL_LEADS),
        (ImportKind::FunnelCounts, "funnel-counts.csv", GOOD_FUNNEL_COUNTS),
    ] {
        let path = files.write(name, body.as_bytes());
        import(db, kind, &path).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

async fn good_files_land_and_reimport_changes_nothing(db: TestDb) {
    let files = Files::new();
    load_good(&db, &files).await;
    let first = snapshot(db.store.as_ref()).await;
    assert_eq!(
        first.0,
        Counts {
            accounts: 4,
            subscriptions: 3,
            contacts: 2,
            activities: 2,
            churn_records: 2,
            partners: 0,
            staff_users: 0,
            teams: 0,
            products: 2,
            funnel_leads: 3,
            funnel_counts: 2,
        }
    );
    let a1 = db.store.get_account("A1", chrono::NaiveDate::from_ymd_opt(2024, 2, 15).unwrap()).await.unwrap().unwrap();
    assert_eq!(a1.mrr, 120000.0);
    assert_eq!(a1.attributes, serde_json::json!({"industry": "製造"}));
    let churn = db.store.churn_records("A2").await.unwrap();
    assert!(!churn[0].avoidable, "acquired is unavoidable by default");
    assert_eq!(db.store.subscriptions("A3").await.unwrap()[0].mrr, 30000.0);

    load_good(&db, &files).await;
    assert_eq!(snapshot(db.store.as_ref()).await, first);
}

/// (file name, kind, content, expected message)
fn bad_inputs() -> Vec<(&'static str, ImportKind, Vec<u8>, &'static str)> {
    use ImportKind::*;
    let subs_head = "account_id,product,start_date,end_date,mrr\n";
    let subs = |rows: &str| format!("{subs_head}A9,core,2024-01-01,,1000\n{rows}").into_bytes();
    let mut long = String::from(subs_head);
    for i in 0..2500 {
        long.push_str(&format!("B{i},core,2024-01-01,,1000\n"));
    }
    long.push_str("B9999,core,2024-01-01,,-1\n");
    vec![
        ("subscriptions.csv", Subscriptions, subs("A9,core,2024-01-01,2020-13-01,1000\n"),
         r#"subscriptions.csv:3: end_date "2020-13-01" is not a date (YYYY-MM-DD)"#),
        ("subscriptions.csv", Subscriptions, subs("A9,core,01/02/2024,,1000\n"),
         r#"subscriptions.csv:3: start_date "01/02/2024" is not a date (YYYY-MM-DD)"#),
        ("subscriptions.csv", Subscriptions, subs("A9,core,2024-02-01,,-500\n"),
         r#"subscriptions.csv:3: mrr "-500" is negative (expected an amount >= 0)"#),
        ("subscriptions.csv", Subscriptions, subs("A9,core,2024-02-01,,abc\n"),
         r#"subscriptions.csv:3: mrr "abc" is not a number (expected an amount such as 12000 or 99.50)"#),
        ("subscriptions.csv", Subscriptions, subs("A9,core,2024-02-01,2024-01-01,1000\n"),
         r#"subscriptions.csv:3: end_date "2024-01-01" is not after start_date "2024-02-01""#),
        ("subscriptions.csv", Subscriptions, long.into_bytes(),
         r#"subscriptions.csv:2502: mrr "-1" is negative"#),
        ("subscriptions.csv", Subscriptions, b"account_id,product,start_date\nA1,core,2024-01-01\n".to_vec(),
         r#"subscriptions.csv:1: missing required column "mrr" (the header has: account_id,product,start_date)"#),
        ("subscriptions.csv", Subscriptions, b"account_id,product,start_date,mrr,mrr\n".to_vec(),
         r#"subscriptions.csv:1: column "mrr" appears twice in the header (columns 4 and 5)"#),
        ("subscriptions.csv", Subscriptions, b"account_id,product,start_date,mrr,end_dat\n".to_vec(),
         r#"subscriptions.csv:1: unknown column "end_dat""#),
        ("subscriptions.csv", Subscriptions, b"account_id,product,start_date,mrr\nA9,\x83R\x83A\xff,2024-01-01,10\n".to_vec(),
         r#"subscriptions.csv:2: product "�R�A�" is not valid UTF-8"#),
        ("subscriptions.csv", Subscriptions, vec![], "subscriptions.csv: the file is empty"),
        ("subscriptions.csv", Subscriptions, subs("A9,core,2024-02-01\n"),
         "subscriptions.csv:3: has 3 fields, expected 5 (as in the header)"),
        ("accounts.csv", Accounts, b"account_id,name,touch_model\nA9,x,high\nA10,y,medium\n".to_vec(),
         r#"accounts.csv:3: touch_model "medium" is not a known value: expected a touch model (high, hybrid, tech)"#),
        ("accounts.csv", Accounts, b"account_id,name,created_at\nA9,x,2023-02-30\n".to_vec(),
         r#"accounts.csv:2: created_at "2023-02-30" is not a timestamp"#),
        ("accounts.csv", Accounts, b"name,segment\nx,smb\n".to_vec(),
         r#"accounts.csv:1: missing required column "account_id""#),
        ("accounts.csv", Accounts, b"account_id,name,name\n".to_vec(),
         r#"accounts.csv:1: column "name" appears twice in the header (columns 2 and 3)"#),
        ("accounts.csv", Accounts, b"account_id,name\nA9,\x8a\x94\x8e\xae\x89\xef\x8e\xd0\xff\n".to_vec(),
         r#"accounts.csv:2: name "#),
        ("accounts.csv", Accounts, vec![], "accounts.csv: the file is empty"),
        ("contacts.csv", Contacts, b"account_id,email,role\nA9,x@example.com,user\nA9,not-an-email,user\n".to_vec(),
         r#"contacts.csv:3: email "not-an-email" is not an email address"#),
        ("contacts.csv", Contacts, b"account_id,email,role\nA9,x@example.com,boss\n".to_vec(),
         r#"contacts.csv:2: role "boss" is not a known value"#),
        ("contacts.csv", Contacts, b"account_id,name\nA9,x\n".to_vec(), r#"contacts.csv:1: missing required column "email""#),
        ("contacts.csv", Contacts, b"account_id,email,email\n".to_vec(), r#"contacts.csv:1: column "email" appears twice"#),
        ("contacts.csv", Contacts, b"account_id,email,name\nA9,x@example.com,\xff\n".to_vec(),
         r#"contacts.csv:2: name "�" is not valid UTF-8"#),
        ("contacts.csv", Contacts, vec![], "contacts.csv: the file is empty"),
        ("activities.csv", Activities, b"account_id,type,occurred_at\nA9,meeting,2024-13-01\n".to_vec(),
         r#"activities.csv:2: occurred_at "2024-13-01" is not a timestamp"#),
        ("activities.csv", Activities, b"account_id,type,occurred_at\nA9,lunch,2024-01-01\n".to_vec(),
         r#"activities.csv:2: type "lunch" is not a known value"#),
        ("activities.csv", Activities, b"account_id,occurred_at\nA9,2024-01-01\n".to_vec(),
         r#"activities.csv:1: missing required column "type""#),
        ("activities.csv", Activities, b"account_id,type,type,occurred_at\n".to_vec(), r#"activities.csv:1: column "type" appears twice"#),
        ("activities.csv", Activities, b"account_id,type,occurred_at,subject\nA9,note,2024-01-01,\xe3\x81\xff\n".to_vec(),
         r#"activities.csv:2: subject "#),
        ("activities.csv", Activities, vec![], "activities.csv: the file is empty"),
        ("churn.csv", ChurnReasons, b"account_id,churned_on,reason\nA9,2024-02-30,price\n".to_vec(),
         r#"churn.csv:2: churned_on "2024-02-30" is not a date (YYYY-MM-DD)"#),
        ("churn.csv", ChurnReasons, b"account_id,churned_on,reason,mrr_lost\nA9,2024-02-01,price,-3\n".to_vec(),
         r#"churn.csv:2: mrr_lost "-3" is negative"#),
        ("churn.csv", ChurnReasons, b"account_id,churned_on,reason\nA9,2024-02-01,weather\n".to_vec(),
         r#"churn.csv:2: reason "weather" is not a known value"#),
        ("churn.csv", ChurnReasons, b"account_id,churned_on\nA9,2024-02-01\n".to_vec(),
         r#"churn.csv:1: missing required column "reason""#),
        ("churn.csv", ChurnReasons, b"account_id,reason,churned_on,reason\n".to_vec(), r#"churn.csv:1: column "reason" appears twice"#),
        ("churn.csv", ChurnReasons, b"account_id,churned_on,reason,note\nA9,2024-02-01,price,\xc0\xff\n".to_vec(),
         r#"churn.csv:2: note "#),
        ("churn.csv", ChurnReasons, vec![], "churn.csv: the file is empty"),
        ("funnel-leads.csv", FunnelLeads, b"lead_id,lead_on,meeting_on\nL9,2024-04-01,2024-04-31\n".to_vec(),
         r#"funnel-leads.csv:2: meeting_on "2024-04-31" is not a date (YYYY-MM-DD)"#),
        ("funnel-leads.csv", FunnelLeads, b"lead_id,lead_on,meeting_on\nL8,2024-04-01,\nL9,2024-04-10,2024-04-01\n".to_vec(),
         r#"funnel-leads.csv:3: meeting_on "2024-04-01" is before lead_on "2024-04-10" (stage dates must not go backwards)"#),
        ("funnel-leads.csv", FunnelLeads, b"lead_id,lead_on\nL9,\n".to_vec(),
         r#"funnel-leads.csv:2: lead_on "" is empty, as is every stage date"#),
        ("funnel-leads.csv", FunnelLeads, b"lead_on,won_on\n2024-01-01,\n".to_vec(), r#"funnel-leads.csv:1: missing required column "lead_id""#),
        ("funnel-leads.csv", FunnelLeads, b"lead_id,won_on,won_on\n".to_vec(), r#"funnel-leads.csv:1: column "won_on" appears twice"#),
        ("funnel-leads.csv", FunnelLeads, b"lead_id,segment,lead_on\nL9,\x93\xfa\x96\x7b\xff,2024-01-01\n".to_vec(),
         r#"funnel-leads.csv:2: segment "#),
        ("funnel-leads.csv", FunnelLeads, vec![], "funnel-leads.csv: the file is empty"),
        ("funnel-counts.csv", FunnelCounts, b"month,stage,count\n2024-04,lead,10\n2024-04,demo,5\n".to_vec(),
         r#"funnel-counts.csv:3: stage "demo" is not a known value"#),
        ("funnel-counts.csv", FunnelCounts, b"month,stage,count\n2024-4,lead,10\n".to_vec(),
         r#"funnel-counts.csv:2: month "2024-4" is not a month (YYYY-MM)"#),
        ("funnel-counts.csv", FunnelCounts, b"month,stage,count\n2024-04,lead,-10\n".to_vec(),
         r#"funnel-counts.csv:2: count "-10" is not a whole number >= 0"#),
        ("funnel-counts.csv", FunnelCounts, b"month,stage\n2024-04,lead\n".to_vec(), r#"funnel-counts.csv:1: missing required column "count""#),
        ("funnel-counts.csv", FunnelCounts, vec![], "funnel-counts.csv: the file is empty"),
    ]
}

async fn bad_input_fails_clearly_and_changes_nothing(db: TestDb) {
    let files = Files::new();
    load_good(&db, &files).await;
    let before = snapshot(db.store.as_ref()).await;
    for (name, kind, body, expected) in bad_inputs() {
        let path = files.write(name, &body);
        let err = import(&db, kind, &path).await.expect_err(expected);
        let shown = err.replace(&format!("{}/", files.0.path().display()), "");
        assert!(shown.contains(expected), "expected {expected:?}\n      got {shown:?}");
        assert!(shown.ends_with("nothing was written"), "{shown}");
        assert_eq!(snapshot(db.store.as_ref()).await, before, "after {expected}");
    }
}

async fn every_bad_row_is_reported(db: TestDb) {
    let files = Files::new();
    let path = files.write(
        "subscriptions.csv",
        b"account_id,product,start_date,end_date,mrr\nA1,core,2024-13-01,,x\nA2,core,2024-01-01,,5\nA3,,2024-01-01,,5\n",
    );
    let err = import(&db, ImportKind::Subscriptions, &path).await.unwrap_err();
    assert!(err.contains(":2: start_date \"2024-13-01\""), "{err}");
    assert!(err.contains(":2: mrr \"x\""), "{err}");
    assert!(err.contains(":4: product \"\" is empty (a value is required)"), "{err}");
    assert!(err.ends_with("import failed with 3 error(s); nothing was written"), "{err}");
}


async fn usage_events_from_csv_and_ndjson(db: TestDb) {
    let files = Files::new();
    let csv = "account_id,user_id,event_time,event_type,value,properties\n\
C1,u1,2026-11-01T09:00:00+09:00,login,,\n\
C1,u2,2026-11-01 03:00:00,report_created,2.5,\"{\"\"format\"\": \"\"pdf\"\"}\"\n\
C2,u3,2026-11-02 10:00:00,login,,{}\n";
    let path = files.write("events.csv", csv.as_bytes());
    let summary = import(&db, ImportKind::Events, &path).await.unwrap();
    assert_eq!((summary.rows, summary.accounts_created), (3, 2), "C1 and C2 are new accounts, created and counted");
    assert_eq!(import(&db, ImportKind::Events, &path).await.unwrap().accounts_created, 0, "known accounts now");
    assert_eq!(db.store.usage_message_counts().await.unwrap().len(), 3, "re-importing the same rows adds nothing");
    let d = kizuna_store::testing::date;
    let day = db.store.usage_daily("C1", d("2026-11-01"), d("2026-11-01")).await.unwrap();
    let got: Vec<(&str, u64, f64, u64)> = day.iter().map(|r| (r.event_type.as_str(), r.events, r.value_sum, r.users)).collect();
    assert_eq!(got, vec![("login", 1, 0.0, 1), ("report_created", 1, 2.5, 1)], "09:00 JST is 00:00 UTC on Nov 1");

    let repeated = "account_id,user_id,event_time,event_type,value,properties,message_id\n\
C5,u1,2026-11-01 09:00:00,export,5,,m1\n\
C4,u1,2026-11-01 09:00:00,export,1,,m2\n\
C5,u2,2026-11-01 10:00:00,export,7,,m1\n";
    let path = files.write("repeated.csv", repeated.as_bytes());
    let summary = import(&db, ImportKind::Events, &path).await.unwrap();
    assert_eq!((summary.rows, summary.accounts_created), (3, 2), "C4 and C5");
    let c5 = db.store.usage_daily("C5", d("2026-11-01"), d("2026-11-01")).await.unwrap();
    assert_eq!((c5[0].events, c5[0].value_sum, c5[0].users), (1, 5.0, 1), "the first row of a repeated message id is the one kept");
    // A file that overlaps one imported before: written first as if every event were new, then
    // again asking which were, so only m3 adds to the day.
    let overlap = "account_id,user_id,event_time,event_type,value,properties,message_id\n\
C4,u2,2026-11-01 11:00:00,export,2,,m3\n\
C4,u1,2026-11-01 09:00:00,export,1,,m2\n";
    let path = files.write("overlap.csv", overlap.as_bytes());
    let summary = import(&db, ImportKind::Events, &path).await.unwrap();
    assert_eq!((summary.rows, summary.accounts_created), (2, 0), "the retry counts what it wrote, once");
    let c4 = db.store.usage_daily("C4", d("2026-11-01"), d("2026-11-01")).await.unwrap();
    assert_eq!((c4[0].events, c4[0].value_sum, c4[0].users), (2, 3.0, 2), "m2 was stored before, m3 is new");

    let bad = "account_id,user_id,event_time,event_type,value,properties\n\
C1,u1,2026-11-31 09:00:00,login,,\n\
C1,u1,2026-11-01 09:00:00,login,ten,[1]\n\
C1,u1,2126-11-01T09:00:00+09:00,login,,\n";
    let path = files.write("bad-events.csv", bad.as_bytes());
    let err = import(&db, ImportKind::Events, &path).await.unwrap_err();
    assert!(err.contains("bad-events.csv:2: event_time \"2026-11-31 09:00:00\" is not a timestamp"), "{err}");
    assert!(err.contains("bad-events.csv:3: value \"ten\" is not a number"), "{err}");
    assert!(err.contains("bad-events.csv:3: properties \"[1]\" is not a JSON object"), "{err}");
    assert!(err.contains("bad-events.csv:4: event_time \"2126-11-01T09:00:00+09:00\" is later than now ("), "a future event has not happened: {err}");

    let ndjson = r#"{"type": "identify", "userId": "u9", "traits": {"name": "山田"}, "timestamp": "2026-11-03T00:00:00Z"}
{"type": "track", "userId": "u9", "event": "login", "messageId": "n1", "timestamp": "2026-11-03T01:00:00Z"}

{"type": "group", "userId": "u9", "groupId": "C3", "timestamp": "2026-11-03T02:00:00Z"}
"#;
    let path = files.write("events.ndjson", ndjson.as_bytes());
    let summary = import(&db, ImportKind::Events, &path).await.unwrap();
    assert_eq!((summary.rows, summary.accounts_created), (3, 1), "C3, named by the group");
    let c3 = db.store.usage_daily("C3", d("2026-11-03"), d("2026-11-03")).await.unwrap();
    assert_eq!((c3[0].event_type.as_str(), c3[0].events), ("login", 1), "attributed by the later group line");
    let broken = "{\"type\": \"track\", \"userId\": \"u\", \"event\": \"x\", \"messageId\": \"z1\"}\n{\"type\": \"merge\"}\nnot json\n";
    let path = files.write("broken.jsonl", broken.as_bytes());
    let err = import(&db, ImportKind::Events, &path).await.unwrap_err();
    assert!(err.contains("broken.jsonl:2: message: type \"merge\" is not one of"), "{err}");
    assert!(err.contains("broken.jsonl:3: message: is not JSON"), "{err}");
    assert!(!db.store.usage_message_counts().await.unwrap().iter().any(|(m, _)| m == "z1"), "nothing of a bad file is written");
}

/// A billing export that gives each period's last day as its end: read as the first day not
/// covered, every month would leave a day without the product (a churn and a reactivation). The
/// import says so and how to read it; with --end-inclusive the periods abut. The mirror mistake,
/// --end-inclusive on a file of first days not covered, is said too.
async fn inclusive_end_dates_are_warned_and_read(db: TestDb) {
    let files = Files::new();
    let csv = "account_id,product,start_date,end_date,mrr
C1,core,2024-01-01,2024-01-31,100
C1,core,2024-02-01,2024-02-29,100
C1,core,2024-03-01,,100
C2,core,2024-01-01,2024-01-31,50
C2,core,2024-02-01,,50
";
    let path = files.write("inclusive.csv", csv.as_bytes());
    let summary = import(&db, ImportKind::Subscriptions, &path).await.unwrap();
    assert_eq!(summary.warnings.len(), 1, "{:?}", summary.warnings);
    let w = &summary.warnings[0];
    assert!(w.contains("3 period(s) start with one day uncovered") && w.contains("(first: line 3, after line 2's end_date 2024-01-31)") && w.contains("--end-inclusive"), "{w}");
    let summary = import(&db, ImportKind::SubscriptionsEndInclusive, &path).await.unwrap();
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    let ends: Vec<Option<String>> = db.store.subscriptions("C1").await.unwrap().iter().map(|s| s.end_date.map(|d| d.to_string())).collect();
    assert_eq!(ends, [Some("2024-02-01".to_string()), Some("2024-03-01".to_string()), None], "the day after the last day covered");

    let exclusive = "account_id,product,start_date,end_date,mrr\nC3,core,2024-01-01,2024-02-01,100\nC3,core,2024-02-01,,100\n";
    let path = files.write("exclusive.csv", exclusive.as_bytes());
    assert!(import(&db, ImportKind::Subscriptions, &path).await.unwrap().warnings.is_empty(), "abutting periods are fine");
    let summary = import(&db, ImportKind::SubscriptionsEndInclusive, &path).await.unwrap();
    assert!(summary.warnings[0].contains("1 period(s) start on the end_date of an earlier period") && summary.warnings[0].contains("paid twice"), "{:?}", summary.warnings);
    let bad = files.write("backwards.csv", b"account_id,product,start_date,end_date,mrr\nC4,core,2024-01-02,2024-01-01,100\n");
    let err = import(&db, ImportKind::SubscriptionsEndInclusive, &bad).await.unwrap_err();
    assert!(err.contains("end_date \"2024-01-01\" is before start_date \"2024-01-02\" (with --end-inclusive"), "{err}");
}

/// Files as spreadsheets save them: Japanese Excel's Shift_JIS "CSV (comma delimited)" with
/// CRLF, dates as `2026/1/5` and amounts as `1,200円`; Excel's "CSV UTF-8" with a byte order mark
/// before a quoted header; rows and columns of empty cells below and beside the data. They land
/// as the same file in plain UTF-8 would, and an error names the line a spreadsheet shows.
async fn files_as_spreadsheets_save_them(db: TestDb) {
    let files = Files::new();
    let text = "account_id,name,segment,,\r\nJ1,株式会社さくら①,smb,,\r\n,,,,\r\n,,,,\r\n";
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(text);
    let path = files.write("accounts-sjis.csv", &sjis);
    let summary = import(&db, ImportKind::Accounts, &path).await.unwrap();
    assert_eq!(summary.rows, 1);
    let today = kizuna_store::testing::date("2026-12-01");
    assert_eq!(db.store.get_account("J1", today).await.unwrap().unwrap().name, "株式会社さくら①");

    let subs = "\u{feff}\"account_id\",\"product\",\"start_date\",\"end_date\",\"mrr\"\r\n\"J1\",\"core\",\"2026/1/5\",\"2026/4/5 0:00\",\"1,200円\"\r\n";
    let path = files.write("subs-bom.csv", subs.as_bytes());
    import(&db, ImportKind::Subscriptions, &path).await.unwrap();
    let stored = db.store.subscriptions("J1").await.unwrap();
    let got: Vec<(String, Option<String>, f64)> = stored.iter().map(|s| (s.start_date.to_string(), s.end_date.map(|d| d.to_string()), s.mrr)).collect();
    assert_eq!(got, [("2026-01-05".to_string(), Some("2026-04-05".to_string()), 1200.0)]);

    // An error on the third line of a CRLF file says line 3, as the spreadsheet numbers it.
    let bad = files.write("subs-crlf.csv", b"account_id,product,start_date,mrr\r\nJ1,core,2026-01-05,10\r\nJ1,core,2026/13/05,10\r\n");
    let err = import(&db, ImportKind::Subscriptions, &bad).await.unwrap_err();
    assert!(err.contains("subs-crlf.csv:3: start_date \"2026/13/05\" is not a date (YYYY-MM-DD)"), "{err}");
    // A cell under a column without a name is not dropped silently.
    let stray = files.write("stray.csv", b"account_id,name,\nJ2,x,oops\n");
    let err = import(&db, ImportKind::Accounts, &stray).await.unwrap_err();
    assert!(err.contains("stray.csv:2: column 3 has no name in the header but holds \"oops\""), "{err}");
    assert!(db.store.get_account("J2", today).await.unwrap().is_none(), "nothing written");
    // The same account twice in one file reads as the two rows one after the other: an empty
    // cell of the later keeps the earlier's value, custom columns of both are kept.
    let twice = files.write("twice.csv", b"account_id,name,segment,region,plan_tier,lifecycle_stage\nJ3,Acme,smb,east,,onboarding\nJ3,,mid,,gold,adoption\n");
    import(&db, ImportKind::Accounts, &twice).await.unwrap();
    let a = db.store.get_account("J3", today).await.unwrap().unwrap();
    assert_eq!((a.name.as_str(), a.segment.as_deref(), a.lifecycle_stage.as_deref()), ("Acme", Some("mid"), Some("adoption")));
    assert_eq!((a.attributes["region"].as_str(), a.attributes["plan_tier"].as_str()), (Some("east"), Some("gold")), "{}", a.attributes);
    // Imported again, the file changes nothing: no stage history from its inner steps.
    let history = db.store.stage_history("J3").await.unwrap().len();
    import(&db, ImportKind::Accounts, &twice).await.unwrap();
    assert_eq!(db.store.stage_history("J3").await.unwrap().len(), history);
}

both_engines!(
    files_as_spreadsheets_save_them,
    usage_events_from_csv_and_ndjson,
    good_files_land_and_reimport_changes_nothing,
    bad_input_fails_clearly_and_changes_nothing,
    every_bad_row_is_reported,
    inclusive_end_dates_are_warned_and_read
);

/// The usage import again on a SQLite store opened as `kizuna import` opens it: one connection,
/// a rollback journal, and the retry after an overlapping file on that same connection.
#[tokio::test]
async fn usage_events_on_a_store_opened_alone() {
    usage_events_from_csv_and_ndjson(kizuna_store::testing::sqlite_alone().await).await;
}
