//! The HTTP server on both engines: sign-in and roles, partner isolation, API keys, the accounts
//! API, the metrics API (same JSON as the analytics reports), errors that name the parameter,
//! the bilingual pages, CSRF on every form, and the audit log.

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use kizuna_domain::{AccountRow, Role, StaffRow, TouchModel};
use kizuna_server::{router, AppState};
use kizuna_store::both_engines;
use kizuna_store::testing::{subscription, TestDb};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery";

use crate::common::Reply;

/// A browser: a cookie jar over the real router, on a fresh database.
struct Client {
    db: TestDb,
    /// One server for the client's life: it remembers failed sign-ins, as a real one does.
    state: AppState,
    cookies: Mutex<BTreeMap<String, String>>,
    bearer: Option<String>,
}

impl std::ops::Deref for Client {
    type Target = TestDb;
    fn deref(&self) -> &TestDb {
        &self.db
    }
}

impl Client {
    fn anonymous(db: TestDb) -> Self {
        let state = AppState::new(db.store.clone());
        Client { db, state, cookies: Mutex::new(BTreeMap::new()), bearer: None }
    }

    fn csrf(&self) -> String {
        self.cookies.lock().unwrap().get("kizuna_csrf").cloned().expect("a page was loaded first")
    }

    async fn send(&self, mut req: axum::http::request::Builder, body: Body) -> Reply {
        let jar: Vec<String> = self.cookies.lock().unwrap().iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !jar.is_empty() {
            req = req.header("cookie", jar.join("; "));
        }
        if let Some(key) = &self.bearer {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        let reply = Reply::read(router(self.state.clone()).oneshot(req.body(body).unwrap()).await.unwrap(), 50 << 20).await;
        for c in reply.headers.get_all("set-cookie") {
            let pair = c.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.lock().unwrap().insert(k.to_string(), v.to_string());
        }
        reply
    }
}

async fn get(c: &Client, uri: &str, lang: Option<&str>) -> Reply {
    let mut req = Request::get(uri);
    if let Some(l) = lang {
        req = req.header("accept-language", l);
    }
    c.send(req, Body::empty()).await
}

async fn post_form(c: &Client, uri: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Reply {
    let body: Vec<String> = form
        .iter()
        .map(|(k, v)| format!("{k}={}", v.bytes().map(|b| format!("%{b:02X}")).collect::<String>()))
        .collect();
    let mut req = Request::post(uri).header("content-type", "application/x-www-form-urlencoded");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    c.send(req, Body::from(body.join("&"))).await
}

/// A form post from this site, with the page's CSRF token.
async fn submit(c: &Client, uri: &str, form: &[(&str, &str)]) -> Reply {
    let token = c.csrf();
    let mut form = form.to_vec();
    form.push(("csrf_token", &token));
    post_form(c, uri, &form, &[("host", HOST), ("origin", ORIGIN)]).await
}

async fn add_user(db: &TestDb, email: &str, role: Role, partner: Option<&str>) {
    let hash = kizuna_domain::access::hash_password(PASSWORD).unwrap();
    let row = StaffRow { email: email.into(), name: format!("{role} user"), role, team_id: None, partner_id: partner.map(str::to_string) };
    let mut tx = db.store.begin().await.unwrap();
    assert!(tx.create_user(&row, &hash).await.unwrap());
    tx.commit().await.unwrap();
}

/// Signs in through the login form, as a browser would.
async fn sign_in(c: &Client, email: &str) {
    get(c, "/login", None).await;
    let r = submit(c, "/login", &[("email", email), ("password", PASSWORD), ("next", "/")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(c.cookies.lock().unwrap().contains_key("kizuna_session"));
}

/// A fresh database with an admin signed in.
async fn admin(db: TestDb) -> Client {
    add_user(&db, "admin@kizuna.example", Role::Admin, None).await;
    let c = Client::anonymous(db);
    sign_in(&c, "admin@kizuna.example").await;
    c
}

async fn seed(db: &TestDb) {
    let account = |id: &str, name: &str, seg: &str, touch: TouchModel, owner: &str| AccountRow {
        account_id: id.into(),
        name: Some(name.into()),
        segment: Some(seg.into()),
        touch_model: Some(touch),
        owner_email: Some(owner.into()),
        ..Default::default()
    };
    let sub = |id: &str, start: &str, end: Option<&str>, mrr: i64| subscription(id, "core", start, end, mrr);
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[
        AccountRow { lifecycle_stage: Some("expansion".into()), ..account("A1", "株式会社さくら", "enterprise", TouchModel::High, "sato@example.jp") },
        account("A2", "<script>alert(1)</script>", "smb", TouchModel::Tech, "ito@example.jp"),
        account("A3", "青葉商事", "smb", TouchModel::Hybrid, "sato@example.jp"),
    ])
    .await
    .unwrap();
    tx.upsert_subscriptions(&[
        sub("A1", "2024-01-01", None, 500000),
        sub("A2", "2024-01-01", Some("2024-06-01"), 12000),
        sub("A3", "2024-02-01", None, 30000),
    ])
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn health_reports_engine(db: TestDb) {
    let db = admin(db).await;
    let r = get(&db, "/healthz", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["engine"], db.store.engine());
}

async fn accounts_api_filters_sorts_pages(db: TestDb) {
    let db = admin(db).await;
    seed(&db).await;
    let r = get(&db, "/api/v1/accounts?segment=smb&sort=mrr&order=desc&on=2024-03-01", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let j = r.json();
    assert_eq!(j["total"], 2);
    let ids: Vec<(&str, f64)> =
        j["accounts"].as_array().unwrap().iter().map(|a| (a["account_id"].as_str().unwrap(), a["mrr"].as_f64().unwrap())).collect();
    assert_eq!(ids, vec![("A3", 30000.0), ("A2", 12000.0)]);

    let j = get(&db, "/api/v1/accounts?owner=SATO@example.jp&per_page=1&page=2", None).await.json();
    assert_eq!((j["total"].as_u64(), j["accounts"][0]["account_id"].as_str()), (Some(2), Some("A3")));
    let j = get(&db, "/api/v1/accounts?touch_model=tech", None).await.json();
    assert_eq!(j["accounts"][0]["account_id"], "A2");
    let j = get(&db, "/api/v1/accounts?q=%E3%81%95%E3%81%8F%E3%82%89", None).await.json(); // さくら
    assert_eq!(j["accounts"][0]["account_id"], "A1");

    let r = get(&db, "/api/v1/accounts?touch_model=medium", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], r#"touch_model "medium" is not one of: high, hybrid, tech"#);
    let r = get(&db, "/api/v1/accounts?per_page=5000", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].as_str().unwrap().starts_with(r#"per_page "5000""#));
}

async fn account_detail_and_404(db: TestDb) {
    let db = admin(db).await;
    seed(&db).await;
    let j = get(&db, "/api/v1/accounts/A2?on=2024-02-01", None).await.json();
    assert_eq!(j["account"]["mrr"], 12000.0);
    assert_eq!(j["subscriptions"][0]["end_date"], "2024-06-01");
    let r = get(&db, "/api/v1/accounts/NOPE", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"], r#"account "NOPE" not found"#);
}

async fn metrics_api_matches_reports(db: TestDb) {
    let db = admin(db).await;
    seed(&db).await;
    for (name, query) in [
        ("retention", "from=2024-03-01&to=2024-07-01&by=segment"),
        ("mrr", "from=2024-01&to=2024-06"),
        ("cohorts", "period=month&measure=mrr&at=2024-06-30"),
        ("ltv", "period=month&discount_rate=0.1&margin=0.8&at=2024-06-30"),
        ("arr", "at=2024-03-01"),
        ("churn", "from=2024-01-01&to=2024-12-31"),
    ] {
        let r = get(&db, &format!("/api/v1/metrics/{name}?{query}"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
        let params: std::collections::HashMap<String, String> = query
            .split('&')
            .map(|kv| kv.split_once('=').unwrap())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let expected = kizuna_app::Report::parse(name).unwrap().run(db.store.as_ref(), &kizuna_app::Params(&params)).await.unwrap();
        // Both through the same JSON text, as a client would see them.
        let expected: Value = serde_json::from_str(&serde_json::to_string(&expected).unwrap()).unwrap();
        assert_eq!(r.json(), expected, "{name}");
    }
    let j = get(&db, "/api/v1/metrics/retention?from=2024-03-01&to=2024-07-01", None).await.json();
    assert_eq!((j["accounts_start"].as_u64(), j["accounts_churned"].as_u64()), (Some(3), Some(1)));

    let r = get(&db, "/api/v1/metrics/mrr?from=2024-01&to=2024-06&format=csv", None).await;
    assert!(r.body.starts_with("month,starting_mrr,new,expansion,contraction,churn,reactivation,ending_mrr,net_change,quick_ratio,customers_start,customers_end,partial\n"), "{}", r.body);
    let r = get(&db, "/api/v1/metrics/retention?from=2024-13-01&to=2024-07-01", None).await;
    assert_eq!((r.status, r.json()["error"].as_str()), (StatusCode::BAD_REQUEST, Some(r#"from "2024-13-01" is not a date (YYYY-MM-DD)"#)));
    let r = get(&db, "/api/v1/metrics/retention?to=2024-07-01", None).await;
    assert_eq!(r.json()["error"], r#"from "" is required"#);
    assert_eq!(get(&db, "/api/v1/metrics/nps", None).await.status, StatusCode::NOT_FOUND);
}

async fn account_page_in_both_languages(db: TestDb) {
    let db = admin(db).await;
    seed(&db).await;
    let active = get(&db, "/accounts", Some("ja,en;q=0.5")).await;
    assert!(active.body.contains("2 社") && !active.body.contains("&lt;script&gt;"), "active accounts by default: A2 churned in 2024");
    let ja = get(&db, "/accounts?status=all", Some("ja,en;q=0.5")).await;
    assert_eq!(ja.status, StatusCode::OK);
    assert!(ja.body.contains("<html lang=\"ja\">") && ja.body.contains("顧客一覧") && ja.body.contains("3 社"), "{}", ja.body);
    assert!(ja.body.contains("ハイタッチ") && ja.body.contains("¥6,000,000") && ja.body.contains(">拡大<"), "ARR, not MRR");
    assert!(ja.body.contains("&lt;script&gt;") && !ja.body.contains("<script>alert"), "names are escaped");

    let en = get(&db, "/accounts?segment=smb&status=all", Some("en-US,en;q=0.9")).await;
    assert!(en.body.contains("<html lang=\"en\">") && en.body.contains("Accounts") && en.body.contains("2 accounts"));
    assert!(en.body.contains("Tech touch") && !en.body.contains("株式会社さくら"));
    assert!(!ja.body.contains(">expansion<") && !ja.body.contains(">churned<"), "no stage codes on the Japanese page");
    let switched = get(&db, "/accounts?lang=en", Some("ja")).await;
    assert!(switched.body.contains("<html lang=\"en\">"));
    let remembered = get(&db, "/accounts", Some("ja")).await;
    assert!(remembered.body.contains("<html lang=\"en\">"), "the choice is kept in a cookie");
    let empty = get(&db, "/accounts?q=nothing-matches", Some("en")).await;
    assert!(empty.body.contains("No accounts match"));
    let root = get(&db, "/", None).await;
    assert_eq!((root.status, root.location()), (StatusCode::SEE_OTHER, "/dashboard"), "an admin lands on the dashboard");
}

const HOST: &str = "127.0.0.1:8080";
const ORIGIN: &str = "http://127.0.0.1:8080";

/// A request a page of this site sends (a browser adds `Origin` to every write).
fn here(req: axum::http::request::Builder) -> axum::http::request::Builder {
    req.header("host", HOST).header("origin", ORIGIN)
}

async fn put(c: &Client, uri: &str, body: &str) -> Reply {
    c.send(here(Request::put(uri)), Body::from(body.to_string())).await
}

async fn planning_api_and_page(db: TestDb) {
    let db = admin(db).await;
    seed(&db).await;
    let example = kizuna_domain::planning::scenario::EXAMPLE;
    let r = put(&db, "/api/v1/plan/scenarios/fy2027", example).await;
    assert_eq!((r.status, r.json()["saved"].as_str()), (StatusCode::OK, Some("fy2027")));
    let bad = put(&db, "/api/v1/plan/scenarios/bad", &example.replace("support = 0.2", "support = 0.5")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"], "scenario: budget.time_share: the shares add up to 1.300; they must add up to 1");
    let list = get(&db, "/api/v1/plan/scenarios", None).await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(get(&db, "/api/v1/plan/scenarios/fy2027", None).await.body, example);
    assert_eq!(get(&db, "/api/v1/plan/scenarios/none", None).await.status, StatusCode::NOT_FOUND);
    let missing = get(&db, "/plan?scenario=none", Some("ja")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("シナリオ &quot;none&quot; は保存されていません"), "{}", missing.body);

    let cap = get(&db, "/api/v1/plan/capacity?scenario=fy2027&at=2024-03-01", None).await.json();
    assert_eq!((cap["result"]["bottom_up_csms"].as_u64(), cap["result"]["top_down_csms"].as_u64()), (Some(17), Some(15)));
    let live = get(&db, "/api/v1/plan/capacity?at=2024-03-01", None).await.json();
    assert_eq!(live["result"]["book_source"], "live");
    assert_eq!(live["result"]["accounts"], 3);
    let csv = get(&db, "/api/v1/plan/budget?scenario=fy2027&format=csv", None).await;
    assert!(csv.body.starts_with("strategy,sales_marketing,cogs
all_sales_marketing,219000000.0,0.0
"), "{}", csv.body);
    let hiring = get(&db, "/api/v1/plan/hiring?scenario=fy2027", None).await.json();
    assert_eq!(hiring["result"]["months"].as_array().unwrap().len(), 24);
    assert_eq!(hiring["result"]["months"][0]["label"], "2027-04");
    assert_eq!(get(&db, "/api/v1/plan/funnel-x", None).await.status, StatusCode::NOT_FOUND);
    let funnel = get(&db, "/api/v1/plan/funnel", None).await.json();
    assert_eq!(funnel["result"]["source"], "counts");
    assert_eq!(get(&db, "/api/v1/plan/capacity?scenario=nope", None).await.status, StatusCode::NOT_FOUND);

    let ja = get(&db, "/plan?scenario=fy2027&compare=default&at=2024-03-01", Some("ja")).await;
    assert_eq!(ja.status, StatusCode::OK);
    assert_eq!(ja.body.matches("<section class=\"column\">").count(), 2, "side by side");
    assert_eq!(ja.body.matches("<svg").count(), 6, "capacity, hiring and budget charts per scenario");
    assert!(ja.body.contains("採用計画") && ja.body.contains("ハイタッチのみでは足りなくなる最初の月"));
    assert!(ja.body.contains("マーケティングから更新までのファネル") && ja.body.contains("kizuna import funnel-leads"), "empty funnel explains how to fill it");
    assert!(ja.body.contains("必要CSM数（ボトムアップ）</th><td class=\"num\">17</td>"), "{}", ja.body);
    assert!(ja.body.contains("戦略4：業務内容で区分") && ja.body.contains("¥219,000,000"));
    let en = get(&db, "/plan?at=2024-03-01", Some("en")).await;
    assert!(en.body.contains("CSMs needed, bottom-up") && en.body.contains("Proactive (growing)"));
    assert!(!en.body.contains("必要CSM数"), "no Japanese on the English page");
}

async fn scenario_editor_checks_csrf_and_input(db: TestDb) {
    let db = admin(db).await;
    let form = get(&db, "/plan/edit", Some("ja")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("<textarea") && form.body.contains("productive_hours_per_csm = 120"));
    let token = db.csrf();
    assert!(form.body.contains(&format!("value=\"{token}\"")), "the form carries the token");
    let example = kizuna_domain::planning::scenario::EXAMPLE;

    let no_token = post_form(&db, "/plan/edit", &[("name", "x"), ("body", example)], &[]).await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let other_site = post_form(
        &db,
        "/plan/edit",
        &[("name", "x"), ("body", example), ("csrf_token", &token)],
        &[("host", "127.0.0.1:8080"), ("origin", "http://evil.example")],
    )
    .await;
    assert_eq!(other_site.status, StatusCode::FORBIDDEN);
    assert!(db.store.scenarios().await.unwrap().is_empty(), "nothing saved by refused posts");

    let bad_body = example.replace("span_new_lead = 6", "span_new_leader = 6");
    let bad = submit(&db, "/plan/edit?lang=en", &[("name", "fy"), ("body", &bad_body)]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("Not saved") && bad.body.contains("span_new_leader"), "{}", bad.body);
    assert!(bad.body.contains("span_new_leader = 6"), "the text is kept for fixing");
    // A value the plans cannot use, and a blank name, said in Japanese; nothing saved.
    let share = example.replace("automation_factor = 0.0", "automation_factor = 1.5");
    let ja = submit(&db, "/plan/edit?lang=ja", &[("name", "fy"), ("body", &share)]).await;
    assert_eq!(ja.status, StatusCode::BAD_REQUEST);
    assert!(ja.body.contains("保存できませんでした：シナリオ: capacity.automation_factor: 1.5 は0以上1未満にしてください"), "{}", ja.body);
    assert!(ja.body.contains("automation_factor = 1.5"), "the text is kept for fixing");
    let unnamed = submit(&db, "/plan/edit?lang=ja", &[("name", " "), ("body", example)]).await;
    assert_eq!(unnamed.status, StatusCode::BAD_REQUEST);
    assert!(unnamed.body.contains("シナリオ名 &quot;&quot; は1〜100文字にしてください") || unnamed.body.contains("シナリオ名 &#34;&#34; は1〜100文字"), "{}", unnamed.body);
    assert!(db.store.scenarios().await.unwrap().is_empty(), "nothing saved by refused scenarios");

    let good = submit(&db, "/plan/edit?lang=en", &[("name", "fy"), ("body", example)]).await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.body);
    assert!(good.body.contains("Saved scenario fy."));
    assert_eq!(db.store.scenario("fy").await.unwrap().as_deref(), Some(example));
    let edit = get(&db, "/plan/edit?name=fy", Some("en")).await;
    assert!(edit.body.contains("value=\"fy\""));
    let (_, log) = db.store.audit_log(None, 1, 10).await.unwrap();
    assert_eq!((log[0].action.as_str(), log[0].target.as_deref(), log[0].actor.as_str()), ("scenario.save", Some("fy"), "admin@kizuna.example"));
}


async fn sign_in_out_and_what_anonymous_gets(db: TestDb) {
    add_user(&db, "sato@kizuna.example", Role::Csm, None).await;
    let c = Client::anonymous(db);
    let page = get(&c, "/accounts?segment=smb", None).await;
    assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/login?next=/accounts%3Fsegment%3Dsmb"));
    let api = get(&c, "/api/v1/accounts", None).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    assert!(api.json()["error"].as_str().unwrap().contains("API key"));
    assert_eq!(get(&c, "/healthz", None).await.status, StatusCode::OK, "health needs no sign-in");

    let form = get(&c, "/login?next=/accounts", Some("ja")).await;
    assert!(form.body.contains("ログイン") && form.body.contains("name=\"next\" value=\"&#x2f;accounts\""), "{}", form.body);
    let wrong = submit(&c, "/login?lang=en", &[("email", "sato@kizuna.example"), ("password", "wrong password!")]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("The e-mail address or password is not correct."));
    let no_token = post_form(&c, "/login", &[("email", "sato@kizuna.example"), ("password", PASSWORD)], &[]).await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN, "the sign-in form is CSRF-protected too");
    let away = submit(&c, "/login", &[("email", "SATO@kizuna.example"), ("password", PASSWORD), ("next", "//evil.example/")]).await;
    assert_eq!((away.status, away.location()), (StatusCode::SEE_OTHER, "/"), "never redirected off-site");
    let land = get(&c, "/?lang=en", None).await;
    assert_eq!(land.status, StatusCode::OK, "a CSM lands on their home");
    assert!(land.body.contains("Due today and overdue") && land.body.contains("sato@kizuna.example"), "{}", land.body);
    assert_eq!(get(&c, "/api/v1/me", None).await.json()["role"], "csm");

    let out = submit(&c, "/logout", &[]).await;
    assert_eq!((out.status, out.location()), (StatusCode::SEE_OTHER, "/login"));
    assert_eq!(get(&c, "/api/v1/me", None).await.status, StatusCode::UNAUTHORIZED, "signed out");
    let (_, log) = c.store.audit_log(None, 1, 10).await.unwrap();
    let actions: Vec<&str> = log.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["sign_in.failed", "sign_in", "sign_out"]);
}

async fn roles_decide_what_is_allowed(db: TestDb) {
    seed(&db).await;
    add_user(&db, "viewer@kizuna.example", Role::Viewer, None).await;
    add_user(&db, "ops@kizuna.example", Role::CsOps, None).await;
    let viewer = Client::anonymous(db);
    sign_in(&viewer, "viewer@kizuna.example").await;
    assert_eq!(get(&viewer, "/dashboard", Some("en")).await.status, StatusCode::OK);
    let page = get(&viewer, "/accounts/A1", Some("en")).await;
    assert!(!page.body.contains("id=\"add-note\""), "no note form for a viewer");
    let note = submit(&viewer, "/accounts/A1/activities", &[("kind", "note"), ("body", "x")]).await;
    assert_eq!(note.status, StatusCode::FORBIDDEN);
    assert!(note.body.contains("<html lang=\"ja\">") && note.body.contains("この操作の権限がありません"), "errors on pages are pages: {}", note.body);
    assert_eq!(get(&viewer, "/admin/users", None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&viewer, "/admin/audit", None).await.status, StatusCode::FORBIDDEN);
    let save = submit(&viewer, "/plan/edit", &[("name", "x"), ("body", kizuna_domain::planning::scenario::EXAMPLE)]).await;
    assert_eq!(save.status, StatusCode::FORBIDDEN);

    let ops = Client::anonymous(viewer.db.clone());
    sign_in(&ops, "ops@kizuna.example").await;
    assert_eq!(get(&ops, "/admin/audit", Some("en")).await.status, StatusCode::OK);
    assert_eq!(get(&ops, "/admin/users", None).await.status, StatusCode::FORBIDDEN, "only admins manage users");
}

async fn partners_see_only_their_accounts(db: TestDb) {
    seed(&db).await;
    let mut tx = db.store.begin().await.unwrap();
    let mine = AccountRow { account_id: "P1".into(), name: Some("北斗商会".into()), partner_id: Some("P-ALPHA".into()), ..Default::default() };
    let theirs = AccountRow { account_id: "P2".into(), name: Some("南風物産".into()), partner_id: Some("P-BETA".into()), ..Default::default() };
    tx.upsert_accounts(&[mine, theirs]).await.unwrap();
    tx.commit().await.unwrap();
    add_user(&db, "alpha@partner.example", Role::Partner, Some("P-ALPHA")).await;
    let c = Client::anonymous(db);
    sign_in(&c, "alpha@partner.example").await;
    assert_eq!(get(&c, "/", None).await.location(), "/accounts");

    let list = get(&c, "/api/v1/accounts", None).await.json();
    assert_eq!((list["total"].as_u64(), list["accounts"][0]["account_id"].as_str()), (Some(1), Some("P1")));
    let forced = get(&c, "/api/v1/accounts?partner=P-BETA", None).await.json();
    assert_eq!(forced["accounts"][0]["account_id"], "P1", "the partner filter cannot be widened");
    let search = get(&c, "/api/v1/accounts?q=%E5%8D%97%E9%A2%A8", None).await.json(); // 南風
    assert_eq!(search["total"], 0, "search does not find another partner's account");
    for uri in ["/api/v1/accounts/P2", "/accounts/P2", "/api/v1/accounts/A1", "/accounts/NOPE"] {
        assert_eq!(get(&c, uri, Some("en")).await.status, StatusCode::NOT_FOUND, "{uri}");
    }
    assert_eq!(get(&c, "/accounts/P1", Some("en")).await.status, StatusCode::OK);
    let page = get(&c, "/accounts?q=%E5%8D%97%E9%A2%A8", Some("ja")).await;
    assert!(!page.body.contains("南風物産"));
    let export = get(&c, "/accounts.csv", None).await;
    assert_eq!(export.body.lines().count(), 2, "header and P1 only: {}", export.body);
    assert!(export.body.contains("P1,北斗商会"));
    let note = c.send(here(Request::post("/api/v1/accounts/P2/activities")).header("content-type", "application/json"), Body::from(r#"{"kind":"note","body":"x"}"#)).await;
    assert_eq!(note.status, StatusCode::NOT_FOUND, "cannot write to another partner's account");

    // Issue 25: a note is internal (our team only) or shared; a partner never sees internal ones.
    let staff = kizuna_app::Actor::operator();
    let entry = |kind: &str, subject: &str, visibility: Option<&str>| kizuna_app::accounts::NewActivity {
        kind: kind.into(), subject: Some(subject.into()), body: Some("一行目\n二行目".into()), occurred_at: Some("2026-11-02".into()),
        attendees: Some("先方: 山田様".into()), next_steps: Some("見積を送る".into()), visibility: visibility.map(Into::into),
    };
    kizuna_app::accounts::add_activity(c.store.as_ref(), &staff, "P1", entry("note", "社内メモ：値引きの余地", None)).await.unwrap();
    kizuna_app::accounts::add_activity(c.store.as_ref(), &staff, "P1", entry("meeting", "定例", Some("shared"))).await.unwrap();
    let seen = get(&c, "/api/v1/accounts/P1", None).await.json();
    let subjects: Vec<&str> = seen["activities"].as_array().unwrap().iter().map(|a| a["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects, vec!["定例"], "the internal note is not the partner's to read");
    assert_eq!((seen["activities"][0]["attendees"].as_str(), seen["activities"][0]["next_steps"].as_str()), (Some("先方: 山田様"), Some("見積を送る")));
    let page = get(&c, "/accounts/P1", Some("ja")).await.body;
    assert!(!page.contains("値引き") && page.contains("定例") && page.contains("見積を送る") && page.contains("一行目\n二行目"), "line breaks kept for pre-wrap");
    assert!(!page.contains(r#"name="visibility""#), "a partner's entries are always shared");
    let internal = c.send(here(Request::post("/api/v1/accounts/P1/activities")).header("content-type", "application/json"), Body::from(r#"{"kind":"note","body":"x","visibility":"internal"}"#)).await;
    assert_eq!(internal.status, StatusCode::BAD_REQUEST, "{}", internal.body);
    let own = c.send(here(Request::post("/api/v1/accounts/P1/activities")).header("content-type", "application/json"), Body::from(r#"{"kind":"note","subject":"パートナーのメモ"}"#)).await;
    assert_eq!(own.status, StatusCode::CREATED);
    assert!(get(&c, "/accounts/P1", Some("ja")).await.body.contains("パートナーのメモ"), "a partner's own note is shared");
    let all = kizuna_store::Accounts::activities(c.store.as_ref(), "P1", 10, true).await.unwrap();
    assert_eq!(all.len(), 3, "staff read all three");
    for uri in ["/dashboard", "/api/v1/dashboard", "/api/v1/metrics/arr", "/reports/arr"] {
        assert_eq!(get(&c, uri, None).await.status, StatusCode::FORBIDDEN, "{uri}: portfolio figures are not for partners");
    }
}

async fn api_keys_read_scope_and_revoke(db: TestDb) {
    seed(&db).await;
    let (read, _) = kizuna_app::users::create_key(db.store.as_ref(), &kizuna_app::Actor::operator(), kizuna_domain::access::KeyKind::Read, None, None).await.unwrap();
    let (write, _) = kizuna_app::users::create_key(db.store.as_ref(), &kizuna_app::Actor::operator(), kizuna_domain::access::KeyKind::Write, None, None).await.unwrap();
    let (partner, pk) = kizuna_app::users::create_key(db.store.as_ref(), &kizuna_app::Actor::operator(), kizuna_domain::access::KeyKind::Read, Some("BI".into()), Some("P-NONE".into())).await.unwrap();
    let mut c = Client::anonymous(db);
    c.bearer = Some(read.clone());
    let j = get(&c, "/api/v1/accounts", None).await.json();
    assert_eq!(j["total"], 3);
    assert_eq!(get(&c, "/api/v1/metrics/arr?at=2024-03-01", None).await.status, StatusCode::OK);
    let view = c.send(Request::post("/api/v1/account-views").header("content-type", "application/json"), Body::from(r#"{"name": "x", "query": "segment=smb"}"#)).await;
    assert_eq!(view.status, StatusCode::FORBIDDEN, "a read key does not save views: {}", view.body);
    assert!(view.json()["error"].as_str().unwrap().contains("only read"), "{}", view.body);
    c.bearer = Some(write);
    let w = get(&c, "/api/v1/accounts", None).await;
    assert_eq!(w.status, StatusCode::FORBIDDEN);
    assert!(w.json()["error"].as_str().unwrap().contains("only send usage events"));
    c.bearer = Some(partner);
    assert_eq!(get(&c, "/api/v1/accounts", None).await.json()["total"], 0, "a partner key sees its partner's accounts only");
    assert_eq!(get(&c, "/api/v1/accounts/A1", None).await.status, StatusCode::NOT_FOUND);
    let mut tx = c.store.begin().await.unwrap();
    assert!(tx.revoke_api_key(&pk.key_id, chrono::Utc::now()).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(get(&c, "/api/v1/accounts", None).await.status, StatusCode::UNAUTHORIZED);
    c.bearer = Some(format!("{read}x"));
    assert_eq!(get(&c, "/api/v1/accounts", None).await.status, StatusCode::UNAUTHORIZED);
    let keys = c.store.api_keys().await.unwrap();
    assert!(keys.iter().any(|k| k.last_used_at.is_some()), "use is recorded");
}

async fn notes_and_meetings_from_page_and_api(db: TestDb) {
    seed(&db).await;
    let c = admin(db).await;
    let page = get(&c, "/accounts/A1", Some("ja")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("株式会社さくら") && page.body.contains("活動履歴") && page.body.contains("id=\"add-note\""));
    assert!(page.body.contains("<svg") && page.body.contains("¥500,000"), "MRR chart and figures");
    let saved = submit(&c, "/accounts/A1/activities", &[("kind", "note"), ("subject", "更新の相談"), ("body", "来期は席数を増やしたい")]).await;
    assert_eq!((saved.status, saved.location()), (StatusCode::SEE_OTHER, "/accounts/A1#timeline"));
    let meeting = submit(&c, "/accounts/A1/activities", &[("kind", "meeting"), ("occurred_on", "2024-05-10"), ("subject", "QBR準備")]).await;
    assert_eq!(meeting.status, StatusCode::SEE_OTHER);
    let empty = submit(&c, "/accounts/A1/activities?lang=en", &[("kind", "note"), ("subject", " "), ("body", "")]).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(empty.body.contains("subject and body are both empty"), "{}", empty.body);
    let empty_ja = submit(&c, "/accounts/A1/activities?lang=ja", &[("kind", "note")]).await;
    assert!(empty_ja.body.contains("件名と内容が両方とも空です"), "errors are in the page's language");
    let bad_date = submit(&c, "/accounts/A1/activities?lang=en", &[("kind", "meeting"), ("occurred_on", "2024-13-01"), ("subject", "x")]).await;
    assert!(bad_date.body.contains("occurred_at &quot;2024-13-01&quot; is not a timestamp"), "{}", bad_date.body);

    let api = c.send(here(Request::post("/api/v1/accounts/A1/activities")).header("content-type", "application/json"), Body::from(r#"{"kind":"call","subject":"電話で確認"}"#)).await;
    assert_eq!(api.status, StatusCode::CREATED, "{}", api.body);
    let detail = get(&c, "/api/v1/accounts/A1", None).await.json();
    let acts = detail["activities"].as_array().unwrap();
    assert_eq!(acts.len(), 3);
    assert!(acts.iter().any(|a| a["subject"] == "更新の相談" && a["author_email"] == "admin@kizuna.example" && a["kind"] == "note"));
    assert!(acts.iter().any(|a| a["kind"] == "meeting" && a["occurred_at"] == "2024-05-10T00:00:00+09:00"));
    assert!(!get(&c, "/accounts/A1?lang=ja", None).await.body.contains("id=\"usage\""), "no usage panel without usage");
    // A note written at 14:56 in Tokyo (05:56 UTC) is shown at 14:56, the business zone's time.
    let at = c.send(here(Request::post("/api/v1/accounts/A1/activities")).header("content-type", "application/json"), Body::from(r#"{"kind":"note","subject":"時刻","occurred_at":"2026-12-06T05:56:00Z"}"#)).await;
    assert_eq!(at.status, StatusCode::CREATED, "{}", at.body);
    let body = get(&c, "/accounts/A1?lang=ja", None).await.body;
    assert!(body.contains("2026&#x2f;12&#x2f;06 14:56"), "shown in Asia/Tokyo (slashes HTML-escaped)");
    assert!(get(&c, "/accounts/A1?lang=en", None).await.body.contains("Dec 6, 2026 14:56"));
    let today = chrono::Utc::now();
    let login = kizuna_domain::usage::UsageMessage::Event(kizuna_domain::usage::UsageEvent {
        message_id: "p1".into(),
        user_id: Some("u1".into()),
        account_id: Some("A1".into()),
        event_type: "login".into(),
        at: today,
        value: None,
        properties: serde_json::json!({}),
    });
    c.store.ingest(&[login]).await.unwrap();
    let page = get(&c, "/accounts/A1?lang=ja", None).await;
    assert!(page.body.contains("プロダクト利用状況") && page.body.contains("<td>ログイン数（28日）</td><td class=\"num\">1</td>"), "{}", page.body);
    assert!(page.body.contains("来期は席数を増やしたい") && page.body.contains("打ち合わせ"));
    let (total, log) = c.store.audit_log(None, 1, 100).await.unwrap();
    assert_eq!(log.iter().filter(|e| e.action == "activity.create" && e.target.as_deref() == Some("A1")).count(), 4, "{total}");
}

async fn dashboard_page_matches_api(db: TestDb) {
    seed(&db).await;
    let c = admin(db).await;
    // A1 and A2 start on 2024-01-01: new in January, so a period from January has no one to retain.
    let jan = get(&c, "/api/v1/dashboard?from=2024-01&to=2024-06", None).await.json();
    assert_eq!((jan["accounts_start"].as_u64(), jan["nrr"].as_f64()), (Some(0), None), "{jan}");
    let api = get(&c, "/api/v1/dashboard?from=2024-02&to=2024-06", None).await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    let j = api.json();
    // Active on 2024-01-31, before February: A1 (500,000), A2 (12,000). By 2024-06-30 A2 has
    // churned (its period ended 06-01); A3, new in February, is not in the base.
    assert_eq!((j["accounts_start"].as_u64(), j["accounts_churned"].as_u64()), (Some(2), Some(1)));
    assert_eq!(j["logo_churn_rate"], 0.5);
    assert_eq!(j["nrr"].as_f64().unwrap(), 500000.0 / 512000.0);
    assert_eq!((j["mrr"].as_f64(), j["arr"].as_f64(), j["active_accounts"].as_u64()), (Some(530000.0), Some(6360000.0), Some(2)));
    assert_eq!(j["months"].as_array().unwrap().len(), 5);
    assert_eq!(j["touch_mix"][0]["touch_model"], "high");
    assert_eq!(j["touch_mix"][0]["account_share"], 0.5);
    let page = get(&c, "/dashboard?from=2024-02&to=2024-06", Some("en")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<div class=\"value\">¥6,360,000</div>") && page.body.contains("<div class=\"value\">97.7%</div>"), "{}", page.body);
    assert!(page.body.contains("<div class=\"value\">50.0%</div>"), "logo churn");
    assert!(page.body.contains("MRR movements by month") && page.body.contains("Touch-model mix"));
    let ja = get(&c, "/dashboard?from=2024-02&to=2024-06", Some("ja")).await;
    assert!(ja.body.contains("ポートフォリオ") && ja.body.contains("2024年2月1日"));
    // As of 2024-06-15, June is month to date and says so; the KPI MRR is the last row's ending MRR.
    let mtd = get(&c, "/api/v1/dashboard?from=2024-01&to=2024-12&at=2024-06-15", None).await.json();
    let last = mtd["months"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((mtd["to"].as_str(), mtd["requested_to"].as_str(), last["partial"].as_bool()), (Some("2024-06"), Some("2024-12"), Some(true)));
    assert_eq!(mtd["mrr"], last["ending_mrr"]);
    let page = get(&c, "/dashboard?from=2024-01&to=2024-12&at=2024-06-15", Some("en")).await.body;
    assert!(page.contains("Jun 2024 (to Jun 15, 2024)") && page.contains("As of Jun 15, 2024: nothing after it is counted"), "{page}");
    let ja = get(&c, "/dashboard?from=2024-01&to=2024-12&at=2024-06-15", Some("ja")).await.body;
    assert!(ja.contains("2024年6月（2024年6月15日まで）"), "{ja}");
    // An as-of day to come: the onboarding card's 90 days end where the cards do, and the page
    // opens (it asked for a range after today of a report as of today, and answered 400).
    let ahead = kizuna_app::today() + chrono::Duration::days(200);
    assert_eq!(get(&c, &format!("/dashboard?at={ahead}"), Some("en")).await.status, StatusCode::OK);
    let bad = get(&c, "/api/v1/dashboard?from=2024-13", None).await;
    assert_eq!((bad.status, bad.json()["error"].as_str()), (StatusCode::BAD_REQUEST, Some("from \"2024-13\" is not a month (YYYY-MM)")));
}

async fn reports_and_admin_pages(db: TestDb) {
    seed(&db).await;
    let c = admin(db).await;
    for lang in ["ja", "en"] {
        for uri in ["/reports/retention?from=2024-03-01&to=2024-07-01", "/reports/mrr?from=2024-01&to=2024-06", "/reports/cohorts?at=2024-06-30", "/reports/arr?at=2024-03-01", "/admin/users", "/admin/keys", "/admin/audit"] {
            let r = get(&c, &format!("{uri}{}lang={lang}", if uri.contains('?') { "&" } else { "?" }), None).await;
            assert_eq!(r.status, StatusCode::OK, "{uri} {lang}: {}", r.body);
            assert!(r.body.contains(&format!("<html lang=\"{lang}\">")));
        }
    }
    let cohorts = get(&c, "/reports/cohorts?at=2024-06-30&lang=en", None).await;
    assert!(cohorts.body.contains("table class=\"heat\"") && cohorts.body.contains(">100%<"));
    let ret = get(&c, "/reports/retention?from=2024-03-01&to=2024-07-01&by=segment&lang=ja", None).await;
    assert!(ret.body.contains("エンタープライズ") && ret.body.contains("<svg"));
    assert!(ret.body.contains("format=csv") && !ret.body.contains("/api/v1/metrics/retention?"), "the page links its own CSV for Excel");
    // The page's CSV is for Excel: a BOM, columns and groups in the reader's language, the same
    // figures as the API's CSV.
    let excel = get(&c, "/reports/retention?from=2024-03-01&to=2024-07-01&by=segment&lang=ja&format=csv", None).await.body;
    let api = get(&c, "/api/v1/metrics/retention?from=2024-03-01&to=2024-07-01&by=segment&format=csv", None).await.body;
    assert!(excel.starts_with('\u{feff}'), "{excel}");
    let heads = excel.trim_start_matches('\u{feff}').lines().next().unwrap().to_string();
    assert!(heads.starts_with("グループ,開始日,") && heads.contains(",NRR,GRR,"), "{heads}");
    assert!(excel.contains("\nエンタープライズ,") && excel.contains("\n全体,"), "{excel}");
    let nrr = |csv: &str, heading: &str| -> Vec<String> {
        let mut lines = csv.trim_start_matches('\u{feff}').lines();
        let at = lines.next().unwrap().split(',').position(|h| h == heading).unwrap();
        lines.map(|l| l.split(',').nth(at).unwrap().to_string()).collect()
    };
    assert_eq!(nrr(&excel, "NRR"), nrr(&api, "nrr"));
    let whole = |v: &String| v.parse::<f64>().map(|f| format!("{f:.0}")).unwrap();
    assert_eq!(nrr(&excel, "期首MRR"), nrr(&api, "mrr_start").iter().map(whole).collect::<Vec<_>>(), "yen whole, as on the page");
    let cohorts = get(&c, "/reports/cohorts?at=2024-06-30&lang=en&format=csv", None).await.body;
    let heads = cohorts.trim_start_matches('\u{feff}').lines().next().unwrap().to_string();
    assert!(heads.starts_with("Cohort,Accounts,Base,Age 0,Age 1"), "{heads}");
    assert!(cohorts.lines().nth(1).unwrap().split(',').nth(3) == Some("1"), "age 0 is the whole cohort: {cohorts}");
    assert_eq!(get(&c, "/reports/nps", None).await.status, StatusCode::NOT_FOUND);
    // A mistyped parameter is said in the page's language; the API keeps its English.
    // By default the twelve months before this one, from the day before the first one's 1st.
    use chrono::Datelike;
    let first = kizuna_app::today().with_day(1).unwrap();
    let (from, to) = (first.checked_sub_months(chrono::Months::new(12)).unwrap().pred_opt().unwrap(), first.pred_opt().unwrap());
    let defaults = get(&c, "/reports/retention?lang=en", None).await.body;
    assert!(defaults.contains(&format!(r#"name="from" value="{from}""#)) && defaults.contains(&format!(r#"name="to" value="{to}""#)), "{defaults}");
    let bad = get(&c, "/reports/retention?from=2024-13-01&to=2024-07-01&lang=ja", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("from の値 &quot;2024-13-01&quot; は日付（YYYY-MM-DD）ではありません"), "{}", bad.body);
    let api = get(&c, "/api/v1/metrics/retention?from=2024-13-01&to=2024-07-01", None).await.json();
    assert_eq!(api["error"], "from \"2024-13-01\" is not a date (YYYY-MM-DD)");

    get(&c, "/admin/users", None).await;
    let made = submit(&c, "/admin/users?lang=en", &[("email", "New@Kizuna.example"), ("name", "新人"), ("role", "partner"), ("partner_id", "P-ALPHA"), ("password", PASSWORD)]).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    assert!(made.body.contains("Saved: new@kizuna.example"));
    let short = submit(&c, "/admin/users?lang=en", &[("email", "x@kizuna.example"), ("role", "csm"), ("password", "short")]).await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert!(short.body.contains("at least 10"));
    let demote = submit(&c, "/admin/users/update?lang=en", &[("email", "admin@kizuna.example"), ("role", "viewer")]).await;
    assert!(demote.body.contains("cannot take the admin role from yourself"));
    let key = submit(&c, "/admin/keys?lang=en", &[("kind", "read"), ("label", "BI tool")]).await;
    let secret = key.body.split("id=\"new-key\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    assert!(secret.starts_with("kz_read_"));
    let listed = get(&c, "/admin/keys", None).await;
    assert!(!listed.body.contains(&secret), "the secret is shown once");
    let (_, log) = c.store.audit_log(None, 1, 100).await.unwrap();
    for action in ["user.create", "key.create"] {
        assert!(log.iter().any(|e| e.action == action && e.actor == "admin@kizuna.example"), "{action}");
    }
}

async fn post_json(c: &Client, uri: &str, auth: Option<&str>, body: &str) -> Reply {
    let mut req = Request::post(uri).header("content-type", "application/json");
    if let Some(key) = auth {
        use base64::Engine;
        req = req.header("authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))));
    }
    c.send(req, Body::from(body.to_string())).await
}

/// Segment's documented batch example, as a Segment client sends it.
const SEGMENT_BATCH: &str = r#"{
  "batch": [
    { "type": "identify", "userId": "019mr8mf4r", "traits": { "email": "jake@yahoo.com", "name": "Jake Peterson", "age": 26 }, "timestamp": "2012-12-02T00:30:08.276Z" },
    { "type": "track", "userId": "019mr8mf4r", "event": "Song Played", "properties": { "name": "Fallin for You", "artist": "Dierks Bentley" }, "timestamp": "2012-12-02T00:30:12.984Z" },
    { "type": "identify", "userId": "971mj8mk7p", "traits": { "email": "cindy@example.com", "name": "Cindy Gonzalez", "age": 23 }, "timestamp": "2012-12-02T00:30:08.276Z" },
    { "type": "track", "userId": "971mj8mk7p", "event": "Song Played", "properties": { "name": "Get Right", "artist": "Jennifer Lopez" }, "timestamp": "2012-12-02T00:30:12.984Z" }
  ],
  "context": { "device": { "type": "phone", "name": "Apple iPhone 6" } }
}"#;

async fn usage_ingestion_like_segment(db: TestDb) {
    use kizuna_domain::access::KeyKind;
    let (write, _) = kizuna_app::users::create_key(db.store.as_ref(), &kizuna_app::Actor::operator(), KeyKind::Write, None, None).await.unwrap();
    let (read, _) = kizuna_app::users::create_key(db.store.as_ref(), &kizuna_app::Actor::operator(), KeyKind::Read, None, None).await.unwrap();
    let c = Client::anonymous(db);
    assert_eq!(post_json(&c, "/v1/batch", None, SEGMENT_BATCH).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(post_json(&c, "/v1/batch", Some(&read), SEGMENT_BATCH).await.status, StatusCode::FORBIDDEN);
    let ok = post_json(&c, "/v1/batch", Some(&write), SEGMENT_BATCH).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let j = ok.json();
    assert_eq!((j["success"].as_bool(), j["summary"]["events"].as_u64(), j["summary"]["unattributed"].as_u64()), (Some(true), Some(2), Some(2)));
    let retry = post_json(&c, "/v1/batch", Some(&write), SEGMENT_BATCH).await.json();
    assert_eq!((retry["summary"]["events"].as_u64(), retry["summary"]["duplicates"].as_u64()), (Some(0), Some(2)), "a retried batch never double-counts");

    let group = r#"{"userId": "019mr8mf4r", "groupId": "C-1", "traits": {"name": "Initech"}, "timestamp": "2012-12-02T00:31:00Z"}"#;
    let g = post_json(&c, "/v1/group", Some(&write), group).await.json();
    assert_eq!(g["summary"]["attributed"], 1, "the user's earlier event joins the account");
    assert_eq!(g["summary"]["accounts_created"], 1, "C-1 was not known: the group created it");
    let track = format!(r#"{{"writeKey": "{write}", "userId": "019mr8mf4r", "event": "login", "messageId": "m-9", "timestamp": "2012-12-03T08:00:00Z"}}"#);
    assert_eq!(post_json(&c, "/v1/track", None, &track).await.status, StatusCode::OK, "the key may come in the body");
    let d = kizuna_store::testing::date;
    let rows = c.store.usage_daily("C-1", d("2012-12-01"), d("2012-12-31")).await.unwrap();
    let got: Vec<(String, &str, u64)> = rows.iter().map(|r| (r.day.to_string(), r.event_type.as_str(), r.events)).collect();
    assert_eq!(got, vec![("2012-12-02".to_string(), "Song Played", 1), ("2012-12-03".to_string(), "login", 1)]);

    let bad = post_json(&c, "/v1/batch", Some(&write), r#"{"batch": [{"type": "track", "userId": "u", "event": "x"}, {"type": "alias", "userId": "u"}]}"#).await;
    assert_eq!((bad.status, bad.json()["error"].as_str()), (StatusCode::BAD_REQUEST, Some("batch[1]: alias needs a previousId")), "a bad message refuses its batch, naming it");
    let big = format!(r#"{{"userId": "u", "event": "x", "properties": {{"blob": "{}"}}}}"#, "x".repeat(40 * 1024));
    let r = post_json(&c, "/v1/track", Some(&write), &big).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].as_str().unwrap().contains("the limit is 32 KB"));
    let many = format!(r#"{{"batch": [{}]}}"#, vec![format!(r#"{{"type": "track", "userId": "u", "event": "x", "properties": {{"p": "{}"}}}}"#, "y".repeat(20 * 1024)); 30].join(","));
    let r = post_json(&c, "/v1/batch", Some(&write), &many).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].as_str().unwrap().contains("limit for a batch is 500 KB"), "{}", r.body);
    assert_eq!(c.store.usage_message_counts().await.unwrap().len(), 3, "nothing of a refused request is stored");

    // Definitions through the API: checked, saved, used.
    add_user(&c, "ops@kizuna.example", Role::CsOps, None).await;
    sign_in(&c, "ops@kizuna.example").await;
    let bad = put(&c, "/api/v1/usage/definitions", "[[metric]]\nname = \"x\"\nkind = \"count\"\nevent = \"login\"\ndays = 30\n").await;
    assert_eq!((bad.status, bad.json()["error"].as_str()), (StatusCode::BAD_REQUEST, Some("usage metric \"x\": days = 30 is not one of 7, 28, 90")));
    let ok = put(&c, "/api/v1/usage/definitions", "[[metric]]\nname = \"logins_7d\"\nkind = \"count\"\nevent = \"login\"\ndays = 7\n").await;
    assert_eq!(ok.json()["saved"][0], "logins_7d");
    assert!(get(&c, "/api/v1/usage/definitions", None).await.body.contains("logins_7d"));
    assert_eq!(get(&c, "/api/v1/usage/metrics?at=2012-12-03", None).await.json(), serde_json::json!([]), "no account pays yet");
    let csv = get(&c, "/api/v1/alerts/usage?at=2012-12-03&format=csv", None).await;
    assert_eq!(csv.status, StatusCode::OK);
}

async fn health_scores_api_pages_and_isolation(db: TestDb) {
    seed(&db).await;
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[AccountRow { account_id: "P1".into(), partner_id: Some("P-ALPHA".into()), ..Default::default() }, AccountRow { account_id: "P2".into(), partner_id: Some("P-BETA".into()), ..Default::default() }]).await.unwrap();
    tx.upsert_subscriptions(&[subscription("P1", "core", "2024-01-01", None, 1000), subscription("P2", "core", "2024-01-01", None, 1000)]).await.unwrap();
    tx.commit().await.unwrap();
    let c = admin(db).await;
    let h = get(&c, "/api/v1/accounts/A1/health?at=2026-11-24", None).await.json();
    assert_eq!((h["account_id"].as_str(), h["scorecard"].as_str(), h["trend"].as_str()), (Some("A1"), Some("default"), Some("new")), "{h}");
    assert_eq!(h["explanation"]["measures"].as_array().unwrap().len(), 10);
    assert!(h["score"].as_f64().is_some() && h["explanation"]["missing"].as_array().unwrap().iter().any(|m| m == "usage.days_since_login"), "no login ever: missing, not zero");
    let gone = get(&c, "/api/v1/accounts/A2/health?at=2026-11-24", Some("en")).await;
    assert_eq!((gone.status, gone.json()["error"].as_str()), (StatusCode::NOT_FOUND, Some("account \"A2\" was not a paying customer on 2026-11-24, so it has no health score")));

    let bad = put(&c, "/api/v1/health/scorecards", &kizuna_domain::health::scorecard::DEFAULT.replace("range = [0, 40]", "range = [40, 0]")).await;
    assert_eq!((bad.status, bad.json()["error"].as_str()), (StatusCode::BAD_REQUEST, Some("scorecard \"default\", measure \"usage.logins_28d\": range = [40.0, 0.0] must be [low, high] with low < high")));
    let ok = put(&c, "/api/v1/health/scorecards", kizuna_domain::health::scorecard::DEFAULT).await;
    assert_eq!(ok.json()["saved"], serde_json::json!(["default"]));
    assert!(get(&c, "/api/v1/health/scorecards", None).await.body.contains("[bands]"));

    let ran = c.send(here(Request::post("/api/v1/health/run?at=2026-11-24")), Body::empty()).await;
    assert_eq!((ran.status, ran.json()["accounts"].as_u64()), (StatusCode::OK, Some(4)), "A1, A3, P1, P2: {}", ran.body);
    let audit = get(&c, "/api/v1/audit", None).await.json();
    assert!(audit.to_string().contains("health.run") && audit.to_string().contains("scorecards.save"), "{audit}");
    let band = h["band"].as_str().unwrap().to_string();
    let listed = get(&c, &format!("/api/v1/accounts?health={band}&sort=health&order=desc"), None).await.json();
    assert!(listed["accounts"].as_array().unwrap().iter().all(|a| a["health_band"] == band.as_str()), "{listed}");
    assert!(listed["accounts"].as_array().unwrap().iter().any(|a| a["account_id"] == "A1"));
    assert_eq!(get(&c, "/api/v1/accounts?health=purple", None).await.status, StatusCode::BAD_REQUEST);
    let csv = get(&c, "/accounts.csv", None).await.body;
    assert!(csv.starts_with('\u{feff}') && csv.lines().next().unwrap().ends_with(",ヘルススコア,ヘルス区分"), "a BOM and Japanese headers for Excel: {csv}");
    let csv = get(&c, "/accounts.csv?lang=en", None).await.body;
    assert!(csv.lines().next().unwrap().ends_with(",Health score,Health band"), "{csv}");
    let page = get(&c, "/accounts/A1", Some("ja")).await;
    assert!(page.body.contains("ヘルススコア") && page.body.contains("最終CSM接点からの日数"), "the account page explains the score");
    let page = get(&c, "/accounts/A1", Some("en")).await;
    assert!(page.body.contains("Health score") && page.body.contains("Days to renewal"));
    let list = get(&c, &format!("/accounts?health={band}"), Some("en")).await;
    assert!(list.body.contains(&format!("band band-{band}")) && list.body.contains("A1"));
    let backtest = get(&c, "/api/v1/health/backtest?from=2026-11-24&to=2026-11-24&horizon=28d&at=2026-12-22", None).await;
    assert_eq!((backtest.status, backtest.json()["observations"].as_u64()), (StatusCode::OK, Some(4)));
    let refused = get(&c, "/api/v1/health/calibrate?from=2026-11-24&to=2026-11-24&save=x", None).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "GET never saves");

    assert_eq!(kizuna_app::health::score_if_due(c.store.as_ref(), kizuna_store::testing::date("2026-11-24")).await.unwrap(), None, "already scored today");
    assert_eq!(kizuna_app::health::score_if_due(c.store.as_ref(), kizuna_store::testing::date("2026-11-25")).await.unwrap(), Some(4));
    assert_eq!(c.store.last_health_day().await.unwrap(), Some(kizuna_store::testing::date("2026-11-25")));

    add_user(&c, "alpha@partner.example", Role::Partner, Some("P-ALPHA")).await;
    add_user(&c, "viewer@kizuna.example", Role::Viewer, None).await;
    let p = Client::anonymous(c.db.clone());
    sign_in(&p, "alpha@partner.example").await;
    assert_eq!(get(&p, "/api/v1/accounts/P1/health", None).await.status, StatusCode::OK);
    assert_eq!(get(&p, "/api/v1/accounts/P2/health", None).await.status, StatusCode::NOT_FOUND, "another partner's account");
    assert_eq!(get(&p, "/api/v1/health/backtest?from=2026-11-24&to=2026-11-24", None).await.status, StatusCode::FORBIDDEN);
    let v = Client::anonymous(c.db.clone());
    sign_in(&v, "viewer@kizuna.example").await;
    assert_eq!(v.send(here(Request::post("/api/v1/health/run")), Body::empty()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(put(&v, "/api/v1/health/scorecards", kizuna_domain::health::scorecard::DEFAULT).await.status, StatusCode::FORBIDDEN);
}

/// Issue 22: a write by session cookie from another site is refused by the one CSRF layer; the
/// same write from this site, or with the token in `X-CSRF-Token`, works; keys are not affected.
async fn api_writes_by_cookie_need_csrf(db: TestDb) {
    seed(&db).await;
    let (write, _) = kizuna_app::users::create_key(db.store.as_ref(), &kizuna_app::Actor::operator(), kizuna_domain::access::KeyKind::Write, None, None).await.unwrap();
    let c = admin(db).await;
    let before = c.store.audit_log(None, 1, 1000).await.unwrap().0;
    let evil = |uri: &str| Request::post(uri).header("host", HOST).header("origin", "http://evil.example");
    let r = c.send(evil("/api/v1/health/run?at=2024-03-01"), Body::empty()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("X-CSRF-Token") || r.json()["error"].as_str().unwrap().contains("x-csrf-token"), "{}", r.body);
    let r = c.send(evil("/api/v1/health/calibrate?save=default&from=2024-01-01&to=2024-03-01"), Body::empty()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c.send(Request::put("/api/v1/plan/scenarios/x").header("host", HOST).header("origin", "null"), Body::from(kizuna_domain::planning::scenario::EXAMPLE)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "an opaque origin is another site");
    let r = c.send(Request::post("/api/v1/health/run?at=2024-03-01"), Body::empty()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "neither Origin nor token");
    assert_eq!(c.store.audit_log(None, 1, 1000).await.unwrap().0, before, "nothing ran");
    assert_eq!(c.store.setting(kizuna_app::health::SETTING).await.unwrap(), None, "the scorecard is untouched");
    assert!(c.store.scenarios().await.unwrap().is_empty());
    let tampered = c.send(Request::post("/api/v1/health/run?at=2024-03-01").header("x-csrf-token", "0".repeat(64)), Body::empty()).await;
    assert_eq!(tampered.status, StatusCode::FORBIDDEN, "a token that is not the cookie's");
    let form_elsewhere = post_form(&c, "/accounts/A1/activities", &[("kind", "note"), ("body", "x"), ("csrf_token", &c.csrf())], &[("host", HOST), ("origin", "http://evil.example")]).await;
    assert_eq!(form_elsewhere.status, StatusCode::FORBIDDEN, "forms go through the same layer");

    let ok = c.send(here(Request::post("/api/v1/health/run?at=2024-03-01")), Body::empty()).await;
    assert_eq!(ok.status, StatusCode::OK, "same origin: {}", ok.body);
    let token = c.csrf();
    let ok = c.send(Request::post("/api/v1/health/run?at=2024-03-01").header("x-csrf-token", token), Body::empty()).await;
    assert_eq!(ok.status, StatusCode::OK, "the token instead of Origin: {}", ok.body);
    // Keys (which a browser never adds by itself) are not asked for a token, cookies or not.
    let batch = r#"{"batch": [{"type": "track", "userId": "u", "event": "login", "messageId": "csrf-1", "context": {"groupId": "A1"}}]}"#;
    let mut req = evil("/v1/batch").header("content-type", "application/json");
    use base64::Engine;
    req = req.header("authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{write}:"))));
    let r = c.send(req, Body::from(batch)).await;
    assert_eq!(r.status, StatusCode::OK, "a write key from anywhere: {}", r.body);
    let (read, _) = kizuna_app::users::create_key(c.store.as_ref(), &kizuna_app::Actor::operator(), kizuna_domain::access::KeyKind::Read, None, None).await.unwrap();
    let r = c.send(evil("/api/v1/health/run").header("authorization", format!("Bearer {read}")), Body::empty()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!r.body.contains("CSRF"), "refused for the key's role, not for CSRF: {}", r.body);
    let r = c.send(evil("/api/v1/accounts").header("authorization", format!("Bearer {read}")).method("GET"), Body::empty()).await;
    assert_eq!(r.status, StatusCode::OK, "reads by key from anywhere");
}

/// Issue 22: text that a spreadsheet would run is neutralised in every CSV; numbers stay numbers.
async fn exports_neutralise_formulas(db: TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    let row = |id: &str, name: &str, seg: &str| AccountRow { account_id: id.into(), name: Some(name.into()), segment: Some(seg.into()), ..Default::default() };
    tx.upsert_accounts(&[row("F1", "=cmd|' /C calc'!A0", "@SUM(1+1)"), row("+F2", "-2+3", "\tsmb"), row("F3", "普通の会社", "smb")]).await.unwrap();
    tx.upsert_subscriptions(&[
        subscription("F1", "core", "2024-01-01", Some("2024-03-01"), 1000),
        subscription("+F2", "core", "2024-01-01", None, 2000),
        subscription("F3", "core", "2024-01-01", None, 3000),
    ])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let c = admin(db).await;
    let csv = get(&c, "/accounts.csv?on=2024-02-01&lang=en", None).await.body;
    assert!(csv.contains("\nF1,'=cmd|' /C calc'!A0,'@SUM(1+1),"), "{csv}");
    assert!(csv.contains("\n'+F2,'-2+3,'\tsmb,"), "{csv}");
    assert!(csv.contains("F3,普通の会社,SMB,"), "segments by their label: {csv}");
    assert!(csv.contains(",1000,") && csv.contains(",2000,"), "figures stay numbers: {csv}");
    let arr = get(&c, "/api/v1/metrics/arr?at=2024-02-01&by=segment&format=csv", None).await.body;
    assert!(arr.contains("\n'@SUM(1+1),") && arr.contains("\n'\tsmb,"), "{arr}");
    assert!(!arr.lines().any(|l| l.starts_with('@') || l.starts_with('=') || l.starts_with('+')), "{arr}");
    let mrr = get(&c, "/api/v1/metrics/mrr?from=2024-01&to=2024-03&format=csv", None).await.body;
    let march = mrr.lines().find(|l| l.starts_with("2024-03")).unwrap();
    assert!(march.split(',').any(|cell| cell == "-1000" || cell == "-1000.0"), "a churn month's negative figure stays a number: {mrr}");
}

/// Issue 22: ten wrong passwords in a row lock the account (429 with Retry-After, also for the
/// right password); the audit log keeps a bounded e-mail; every sign-in gets a new session id.
async fn sign_in_throttled_bounded_and_rotated(db: TestDb) {
    add_user(&db, "sato@kizuna.example", Role::Csm, None).await;
    add_user(&db, "ito@kizuna.example", Role::Admin, None).await;
    let c = Client::anonymous(db);
    get(&c, "/login", None).await;
    for i in 1..=9 {
        let r = submit(&c, "/login?lang=en", &[("email", "sato@kizuna.example"), ("password", "wrong password!")]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "failure {i}");
    }
    let tenth = submit(&c, "/login?lang=en", &[("email", "sato@kizuna.example"), ("password", "wrong password!")]).await;
    assert_eq!(tenth.status, StatusCode::TOO_MANY_REQUESTS);
    let right = submit(&c, "/login?lang=ja", &[("email", "sato@kizuna.example"), ("password", PASSWORD)]).await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "locked: not even the right password");
    let wait: u64 = right.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((800..=900).contains(&wait), "{wait}");
    assert!(right.body.contains("ログイン失敗が多すぎます") && right.body.contains("15 分後"), "{}", right.body);
    assert!(!c.cookies.lock().unwrap().contains_key("kizuna_session"), "not signed in");
    sign_in(&c, "ito@kizuna.example").await;
    let (_, log) = c.store.audit_log(None, 1, 100).await.unwrap();
    assert_eq!(log.iter().filter(|e| e.action == "sign_in.failed").count(), 10);
    let locked = log.iter().find(|e| e.action == "sign_in.locked").expect("the lock is audited");
    assert_eq!((locked.actor.as_str(), locked.detail["scope"].as_str()), ("sato@kizuna.example", Some("account")));

    // A body over the limit is refused whole; a long typed e-mail is refused without a lookup
    // and kept short in the log.
    let r = submit(&c, "/login", &[("email", &format!("{}@example.jp", "x".repeat(500_000))), ("password", "whatever it is")]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let huge = format!("{}@example.jp", "x".repeat(60_000));
    let r = submit(&c, "/login", &[("email", &huge), ("password", "whatever it is")]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.len() < 100_000, "the page does not echo it whole");
    let (_, log) = c.store.audit_log(None, 1, 1).await.unwrap();
    assert_eq!(log[0].action, "sign_in.failed");
    assert!(log[0].actor.chars().count() <= 255, "{}", log[0].actor.len());

    // Session fixation: signing in over a session (signed in or not) gets a new id, and the
    // old id is no longer a session.
    let first = c.cookies.lock().unwrap()["kizuna_session"].clone();
    sign_in(&c, "ito@kizuna.example").await;
    let second = c.cookies.lock().unwrap()["kizuna_session"].clone();
    assert_ne!(first, second, "a new id on every sign-in");
    let planted = Client::anonymous(c.db.clone());
    planted.cookies.lock().unwrap().insert("kizuna_session".into(), first);
    assert_eq!(get(&planted, "/api/v1/me", None).await.status, StatusCode::UNAUTHORIZED, "the old id is gone");
    assert_eq!(get(&c, "/api/v1/me", None).await.json()["actor"], "ito@kizuna.example");
}

/// Issue 22: weak and blank passwords are refused, in both languages; a user can be
/// deactivated, which ends their sessions and revokes their keys, and reactivated.
async fn password_policy_and_deactivation(db: TestDb) {
    add_user(&db, "ito@kizuna.example", Role::Admin, None).await;
    let c = admin(db).await;
    get(&c, "/admin/users", None).await;
    let blank = submit(&c, "/admin/users?lang=en", &[("email", "x@kizuna.example"), ("role", "csm"), ("password", &" ".repeat(10))]).await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    assert!(blank.body.contains("the password is empty or only spaces"), "{}", blank.body);
    let weak = submit(&c, "/admin/users?lang=ja", &[("email", "x@kizuna.example"), ("role", "csm"), ("password", "password123")]).await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(weak.body.contains("パスワードが推測されやすすぎます"), "{}", weak.body);
    let own = submit(&c, "/admin/users?lang=en", &[("email", "tanaka.hiroshi@kizuna.example"), ("name", "Tanaka Hiroshi"), ("role", "csm"), ("password", "tanaka.hiroshi1")]).await;
    assert!(own.body.contains("too easy to guess"), "the user's own name: {}", own.body);
    let reset = submit(&c, "/admin/users/update?lang=en", &[("email", "ito@kizuna.example"), ("role", "admin"), ("password", "qwertyuiop123")]).await;
    assert!(reset.body.contains("too easy to guess"), "{}", reset.body);
    assert!(c.store.user_with_hash("x@kizuna.example").await.unwrap().is_none());

    let ito = Client::anonymous(c.db.clone());
    sign_in(&ito, "ito@kizuna.example").await;
    get(&ito, "/admin/keys", None).await;
    let key = submit(&ito, "/admin/keys?lang=en", &[("kind", "read"), ("label", "ito's BI")]).await;
    let secret = key.body.split("id=\"new-key\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    let mut bi = Client::anonymous(c.db.clone());
    bi.bearer = Some(secret);
    assert_eq!(get(&bi, "/api/v1/accounts", None).await.status, StatusCode::OK);

    let me = submit(&c, "/admin/users/deactivate?lang=en", &[("email", "admin@kizuna.example")]).await;
    assert!(me.body.contains("you cannot deactivate yourself"), "{}", me.body);
    let done = submit(&c, "/admin/users/deactivate?lang=en", &[("email", "ito@kizuna.example")]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("Deactivated") && done.body.contains("Reactivate"), "{}", done.body);
    assert_eq!(get(&ito, "/api/v1/me", None).await.status, StatusCode::UNAUTHORIZED, "their session ended");
    assert_eq!(get(&bi, "/api/v1/accounts", None).await.status, StatusCode::UNAUTHORIZED, "their key is revoked");
    get(&ito, "/login", None).await;
    let again = submit(&ito, "/login", &[("email", "ito@kizuna.example"), ("password", PASSWORD)]).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "cannot sign in");
    let (_, log) = c.store.audit_log(None, 1, 5).await.unwrap();
    let entry = log.iter().find(|e| e.action == "user.deactivate").unwrap();
    assert_eq!((entry.target.as_deref(), entry.detail["keys_revoked"].as_u64()), (Some("ito@kizuna.example"), Some(1)));

    submit(&c, "/admin/users/deactivate", &[("email", "ito@kizuna.example"), ("reactivate", "1")]).await;
    sign_in(&ito, "ito@kizuna.example").await;
    assert_eq!(get(&bi, "/api/v1/accounts", None).await.status, StatusCode::UNAUTHORIZED, "revoked keys stay revoked");

    // A change of role ends the user's sessions too: they sign in again, with a new id.
    submit(&c, "/admin/users/update", &[("email", "ito@kizuna.example"), ("role", "viewer")]).await;
    assert_eq!(get(&ito, "/api/v1/me", None).await.status, StatusCode::UNAUTHORIZED, "signed out by the change of role");
}

/// Issue 22: partner-bound keys only read; partners see only their own users in the owner
/// filter; the CSRF cookie is Secure behind HTTPS; `/healthz` says when writes are impossible.
async fn partner_limits_secure_cookies_and_health(db: TestDb) {
    seed(&db).await;
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[AccountRow { account_id: "P1".into(), partner_id: Some("P-ALPHA".into()), owner_email: Some("alpha@partner.example".into()), ..Default::default() }]).await.unwrap();
    tx.commit().await.unwrap();
    add_user(&db, "alpha@partner.example", Role::Partner, Some("P-ALPHA")).await;
    add_user(&db, "beta@partner.example", Role::Partner, Some("P-BETA")).await;
    add_user(&db, "sato@kizuna.example", Role::Csm, None).await;
    let (partner_key, _) = kizuna_app::users::create_key(db.store.as_ref(), &kizuna_app::Actor::operator(), kizuna_domain::access::KeyKind::Read, None, Some("P-ALPHA".into())).await.unwrap();
    let mut k = Client::anonymous(db.clone());
    k.bearer = Some(partner_key);
    assert_eq!(get(&k, "/api/v1/accounts/P1", None).await.status, StatusCode::OK);
    let note = k.send(Request::post("/api/v1/accounts/P1/activities").header("content-type", "application/json"), Body::from(r#"{"kind":"note","body":"x"}"#)).await;
    assert_eq!(note.status, StatusCode::FORBIDDEN, "a partner-bound key only reads: {}", note.body);
    assert!(k.store.activities("P1", 10, true).await.unwrap().is_empty());

    let p = Client::anonymous(db.clone());
    sign_in(&p, "alpha@partner.example").await;
    let page = get(&p, "/accounts", Some("en")).await;
    assert!(page.body.contains("alpha@partner.example"), "its own users");
    assert!(!page.body.contains("sato@kizuna.example") && !page.body.contains("beta@partner.example"), "no one else's e-mail");
    let internal = admin(db.clone()).await;
    assert!(get(&internal, "/accounts", Some("en")).await.body.contains("<option value=\"sato@kizuna.example\""));

    let mut state = AppState::new(db.store.clone());
    state.secure_cookies = true;
    let login = router(state.clone()).oneshot(Request::get("/login").body(Body::empty()).unwrap()).await.unwrap();
    let cookies: Vec<&str> = login.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    let csrf = cookies.iter().find(|c| c.starts_with("kizuna_csrf=")).expect("a CSRF cookie");
    assert!(csrf.contains("; Secure") && csrf.contains("HttpOnly") && csrf.contains("SameSite=Strict"), "{csrf}");
    // Behind HTTPS, a plain-http page of the same host is another origin: a write it sends with
    // the session cookie is refused before anything reads the session.
    let write_from = |origin: &'static str| {
        Request::post("/api/v1/ctas")
            .header("host", "kizuna.example")
            .header("origin", origin)
            .header("cookie", "kizuna_session=whatever")
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap()
    };
    let http = router(state.clone()).oneshot(write_from("http://kizuna.example")).await.unwrap();
    assert_eq!(http.status(), StatusCode::FORBIDDEN);
    let https = router(state.clone()).oneshot(write_from("https://kizuna.example")).await.unwrap();
    assert_eq!(https.status(), StatusCode::UNAUTHORIZED, "same origin passes the CSRF layer; the made-up session does not sign in");
    let plain = router(AppState::new(db.store.clone())).oneshot(Request::get("/login").body(Body::empty()).unwrap()).await.unwrap();
    assert!(!plain.headers()["set-cookie"].to_str().unwrap().contains("Secure"), "plain HTTP keeps cookies usable");

    assert_eq!(get(&p, "/healthz", None).await.json()["status"], "ok");
    let read_only = read_only_copy(&db).await;
    let h = router(AppState::new(read_only.clone())).oneshot(Request::get("/healthz").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(h.status(), StatusCode::OK);
    let j: Value = serde_json::from_slice(&to_bytes(h.into_body(), 1 << 20).await.unwrap()).unwrap();
    assert_eq!(j["status"], "degraded", "{j}");
    assert!(j["reason"].as_str().unwrap().contains("read-only"), "{j}");
}

/// Issue 22: expensive requests are bounded: windows over the API's limit are refused naming it,
/// a caller may run two at once (429 past that), and each has a time limit (503).
async fn expensive_requests_are_bounded(db: TestDb) {
    seed(&db).await;
    let (read, _) = kizuna_app::users::create_key(db.store.as_ref(), &kizuna_app::Actor::operator(), kizuna_domain::access::KeyKind::Read, None, None).await.unwrap();
    let mut c = Client::anonymous(db);
    c.bearer = Some(read.clone());
    let wide = get(&c, "/api/v1/health/forecast?from=2020-01-01&to=2026-01-01", None).await;
    assert_eq!(wide.status, StatusCode::BAD_REQUEST);
    assert!(wide.json()["error"].as_str().unwrap().contains("gives 314 observation dates; the API allows at most 104"), "{}", wide.body);
    let weekly_year = get(&c, "/api/v1/health/backtest?from=2024-01-01&to=2024-12-31", None).await;
    assert_eq!(weekly_year.status, StatusCode::OK, "{}", weekly_year.body);

    let mut headers = axum::http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {read}").parse().unwrap());
    let caller = kizuna_server::limits::caller(&headers);
    let held = [c.state.limits.enter(&caller).unwrap(), c.state.limits.enter(&caller).unwrap()];
    let busy = get(&c, "/api/v1/metrics/arr?at=2024-03-01", None).await;
    assert_eq!(busy.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(busy.headers.contains_key("retry-after") && busy.json()["error"].as_str().unwrap().contains("already have 2"), "{}", busy.body);
    assert_eq!(get(&c, "/api/v1/accounts", None).await.status, StatusCode::OK, "cheap reads are not limited");
    drop(held);
    assert_eq!(get(&c, "/api/v1/metrics/arr?at=2024-03-01", None).await.status, StatusCode::OK, "places are given back");

    c.state.limits = std::sync::Arc::new(kizuna_server::limits::Limits::new(2, 8, std::time::Duration::ZERO));
    let slow = get(&c, "/api/v1/health/backtest?from=2024-01-01&to=2024-03-01", None).await;
    assert_eq!(slow.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(slow.json()["error"].as_str().unwrap().contains("longer than the limit"), "{}", slow.body);
}

/// Issue 22: input is bounded at the edge with errors that name what and the limit.
async fn input_is_bounded_at_the_edge(db: TestDb) {
    seed(&db).await;
    let c = admin(db).await;
    let r = get(&c, "/api/v1/accounts?q=a%0Ab", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "query parameter \"q\" holds a control character (such as a line break); remove it");
    let r = get(&c, &format!("/api/v1/accounts?q={}", "x".repeat(5000)), None).await;
    assert_eq!((r.status, r.json()["error"].as_str()), (StatusCode::BAD_REQUEST, Some("the query string is 5002 bytes long; the limit is 4096")));
    assert_eq!(get(&c, "/api/v1/accounts/A1%00", None).await.status, StatusCode::BAD_REQUEST);
    let big = format!("{}\n# {}", kizuna_domain::planning::scenario::EXAMPLE, "x".repeat(300 * 1024));
    let r = put(&c, "/api/v1/plan/scenarios/big", &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert!(r.body.contains("limit of 256 KB"), "{}", r.body);
    let note = c.send(here(Request::post("/api/v1/accounts/A1/activities")).header("content-type", "application/json"), Body::from(format!(r#"{{"kind":"note","body":"{}"}}"#, "x".repeat(20_001)))).await;
    assert_eq!(note.status, StatusCode::BAD_REQUEST, "{}", note.body);
    get(&c, "/admin/users", None).await;
    let long = submit(&c, "/admin/users?lang=en", &[("email", "n@kizuna.example"), ("name", &"名".repeat(201)), ("role", "csm"), ("password", PASSWORD)]).await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST);
    assert!(long.body.contains("name is 201 characters long; at most 200 are allowed"), "{}", long.body);
    let ctl = submit(&c, "/admin/users?lang=ja", &[("email", "n@kizuna.example"), ("name", "a\u{7}b"), ("role", "csm"), ("password", PASSWORD)]).await;
    assert!(ctl.body.contains("制御文字"), "{}", ctl.body);
}

/// The same database, opened so that nothing can be written: SQLite with `mode=ro`, PostgreSQL
/// with read-only transactions by default.
async fn read_only_copy(db: &TestDb) -> std::sync::Arc<dyn kizuna_store::Store> {
    if db.store.engine() == "sqlite" {
        return kizuna_store::open(&format!("{}?mode=ro", db.url)).await.expect("open read-only");
    }
    let pg = db.store.clone();
    let name = url::Url::parse(&db.url).unwrap().path().trim_start_matches('/').to_string();
    let admin_url = kizuna_store::testing::postgres_admin_url().unwrap();
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("ALTER DATABASE {name} SET default_transaction_read_only = on")).execute(&mut conn).await.unwrap();
    let opened = kizuna_store::open(&db.url).await.expect("a read-only PostgreSQL opens");
    drop(pg);
    opened
}


/// CTAs over the API: opened as JSON, changed with PATCH, commented; errors in the caller's
/// language; a partner sees only its accounts' CTAs; the configuration as JSON or TOML, saved
/// by CS Ops only; a read key reads but does not write.
async fn ctas_over_the_api(db: TestDb) {
    seed(&db).await;
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[AccountRow { account_id: "P1".into(), name: Some("北斗商会".into()), partner_id: Some("P-ALPHA".into()), ..Default::default() }]).await.unwrap();
    tx.commit().await.unwrap();
    add_user(&db, "sato@example.jp", Role::Csm, None).await;
    let c = Client::anonymous(db.clone());
    sign_in(&c, "sato@example.jp").await;
    let json = |req: axum::http::request::Builder| here(req).header("content-type", "application/json");
    let r = c.send(json(Request::post("/api/v1/ctas")), Body::from(r#"{"account_id":"A1","type":"risk","reason":"other","title":"競合の提案"}"#)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let cta = r.json();
    let id = cta["cta_id"].as_str().unwrap().to_string();
    for key in ["cta_id", "account_id", "type", "reason", "priority", "status", "owner_email", "due_on", "snoozed_until", "source", "evidence", "created_at", "closed_at", "outcome", "tasks"] {
        assert!(cta.get(key).is_some(), "{key} in {cta}");
    }
    assert_eq!((cta["owner_email"].as_str(), cta["source"].as_str(), cta["tasks"].as_array().map(Vec::len)), (Some("sato@example.jp"), Some("manual"), Some(2)));
    let again = c.send(json(Request::post("/api/v1/ctas?lang=ja")), Body::from(r#"{"account_id":"A1","type":"risk","reason":"other"}"#)).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.json()["error"].as_str().unwrap().starts_with("Account A1 already has an open CTA of this type and reason: cta-"), "{}", again.body);

    let snooze = c.send(json(Request::patch(format!("/api/v1/ctas/{id}?lang=en"))), Body::from(r#"{"status":"snoozed"}"#)).await;
    assert_eq!((snooze.status, snooze.json()["error"].as_str()), (StatusCode::BAD_REQUEST, Some("To snooze, give a date after today and a reason")));
    let done = c.send(json(Request::patch(format!("/api/v1/ctas/{id}"))), Body::from(r#"{"status":"in_progress","tasks":[{"task_id":1,"done":true}]}"#)).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.json()["tasks"][0]["done"], true);
    let comment = c.send(json(Request::post(format!("/api/v1/ctas/{id}/comments"))), Body::from(r#"{"body":"電話済み"}"#)).await;
    assert_eq!(comment.status, StatusCode::CREATED, "{}", comment.body);
    let detail = get(&c, &format!("/api/v1/ctas/{id}"), None).await.json();
    assert_eq!((detail["status"].as_str(), detail["comments"][0]["body"].as_str()), (Some("in_progress"), Some("電話済み")));
    let mine = get(&c, "/api/v1/ctas?owner=me", None).await.json();
    assert_eq!(mine["total"], 1);
    assert_eq!(get(&c, "/api/v1/ctas?status=maybe", None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(get(&c, "/api/v1/ctas/cta-nope", None).await.status, StatusCode::NOT_FOUND);
    // A change made to the revision read before the last one is refused (409), naming it;
    // nothing is written.
    let stale = format!(r#"{{"status":"closed","outcome":"lost","revision":{}}}"#, cta["revision"]);
    let refused = c.send(json(Request::patch(format!("/api/v1/ctas/{id}?lang=ja"))), Body::from(stale)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.json()["error"].as_str().unwrap().contains(&format!("after the copy this change was made to (revision {})", cta["revision"])), "{}", refused.body);
    assert_eq!(get(&c, &format!("/api/v1/ctas/{id}"), None).await.json()["status"], "in_progress");
    let current = format!(r#"{{"status":"closed","outcome":"lost","revision":{}}}"#, detail["revision"]);
    let close = c.send(json(Request::patch(format!("/api/v1/ctas/{id}"))), Body::from(current)).await;
    assert_eq!(close.json()["outcome"], "lost", "{}", close.body);
    let no_csrf = c.send(Request::post("/api/v1/ctas").header("content-type", "application/json"), Body::from(r#"{"account_id":"A1","type":"risk","reason":"other"}"#)).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN, "a cookie write needs this site's origin");

    let config = get(&c, "/api/v1/playbooks", None).await;
    assert!(config.json()["type"].as_array().unwrap().iter().any(|t| t["name"] == "renewal"), "{}", config.body);
    let toml = c.send(Request::get("/api/v1/playbooks").header("accept", "application/toml"), Body::empty()).await;
    assert!(toml.body.contains("[[type]]"), "{}", toml.body);
    assert_eq!(put(&c, "/api/v1/playbooks", &toml.body).await.status, StatusCode::FORBIDDEN, "a CSM does not edit playbooks");
    let ops = Client::anonymous(db.clone());
    add_user(&db, "ops@kizuna.example", Role::CsOps, None).await;
    sign_in(&ops, "ops@kizuna.example").await;
    assert_eq!(put(&ops, "/api/v1/playbooks", &toml.body).await.status, StatusCode::OK);
    let bad = put(&ops, "/api/v1/playbooks", "[[type]]\nname = \"risk\"\nlabel_en = \"R\"\nlabel_ja = \"R\"\n").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["error"].as_str().unwrap().contains("built-in type \"opportunity\" is missing"), "{}", bad.body);
    let signals = ops.send(here(Request::post("/api/v1/signals/run?at=2024-03-01")), Body::empty()).await;
    assert_eq!(signals.status, StatusCode::OK, "{}", signals.body);
    let opened = signals.json()["opened"].as_u64().unwrap();
    let home = get(&ops, "/api/v1/home?at=2024-03-01", None).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    let home = home.json();
    assert_eq!(home["owner"], Value::Null, "CS ops see the team");
    assert!(home["per_owner"].as_array().unwrap().iter().any(|o| o["owner_email"] == "sato@example.jp"), "{home}");
    let mine = get(&c, "/api/v1/home?at=2024-03-01", None).await.json();
    assert_eq!(mine["owner"], "sato@example.jp", "a CSM's own book");
    let mix = &mine["health_mix"];
    let counted: u64 = ["red", "yellow", "green", "unscored"].iter().map(|b| mix[*b].as_u64().unwrap()).sum();
    assert_eq!((counted, mine["arr"].as_f64()), (2, Some(6_360_000.0)), "A1 and A3, paying on the day: ¥(500,000 + 30,000) × 12: {mine}");

    add_user(&db, "alpha@partner.example", Role::Partner, Some("P-ALPHA")).await;
    let partner = Client::anonymous(db.clone());
    sign_in(&partner, "alpha@partner.example").await;
    assert_eq!(get(&partner, "/api/v1/ctas?status=all", None).await.json()["total"], 0, "not the partner's accounts");
    assert_eq!(get(&partner, &format!("/api/v1/ctas/{id}"), None).await.status, StatusCode::NOT_FOUND);
    let on_other = partner.send(json(Request::post("/api/v1/ctas")), Body::from(r#"{"account_id":"A1","type":"risk","reason":"other"}"#)).await;
    assert_eq!(on_other.status, StatusCode::NOT_FOUND);
    let own = partner.send(json(Request::post("/api/v1/ctas")), Body::from(r#"{"account_id":"P1","type":"opportunity","reason":"upsell"}"#)).await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);

    let (read, _) = kizuna_app::users::create_key(db.store.as_ref(), &kizuna_app::Actor::operator(), kizuna_domain::access::KeyKind::Read, None, None).await.unwrap();
    let key = Client { bearer: Some(read), ..Client::anonymous(db.clone()) };
    assert_eq!(get(&key, "/api/v1/ctas?status=all", None).await.json()["total"].as_u64(), Some(2 + opened), "a read key reads them all");
    let write = key.send(Request::post("/api/v1/ctas").header("content-type", "application/json"), Body::from(r#"{"account_id":"A1","type":"risk","reason":"other"}"#)).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN, "{}", write.body);
}


/// The CTA pages in both languages: a CSM lands on their CTAs, opens one from the account page,
/// ticks a task, snoozes it (a mistake is shown in the page's language), comments with line
/// breaks, closes it with an outcome; the forms need the page's CSRF token; a partner gets 404.
async fn cta_pages_in_both_languages(db: TestDb) {
    seed(&db).await;
    add_user(&db, "sato@example.jp", Role::Csm, None).await;
    let c = Client::anonymous(db.clone());
    sign_in(&c, "sato@example.jp").await;
    let empty = get(&c, "/ctas?lang=en", None).await;
    assert!(empty.body.contains("no CTA matches"), "{}", empty.body);
    let account = get(&c, "/accounts/A1?lang=ja", None).await;
    assert!(account.body.contains("未完了の CTA") && account.body.contains("リスク — その他のリスク"), "the account page offers to open one");
    let opened = submit(&c, "/accounts/A1/ctas", &[("kind", "risk/health_drop"), ("title", "利用低下の確認")]).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    let href = opened.location().to_string();
    assert!(href.starts_with("/ctas/cta-"), "{href}");
    let page = get(&c, &format!("{href}?lang=ja"), None).await;
    assert!(page.body.contains("利用低下の確認") && page.body.contains("未着手") && page.body.contains("ヘルスが急低下"), "{}", page.body);
    let list = get(&c, "/ctas", None).await;
    assert!(list.body.contains("利用低下の確認") && list.body.contains("株式会社さくら"), "{}", list.body);

    let revision = |body: &str| body.split(r#"name="revision" value=""#).nth(1).unwrap().split('"').next().unwrap().to_string();
    let read = revision(&page.body);
    assert_eq!(submit(&c, &href, &[("do", "task"), ("task_id", "1"), ("done", "true"), ("revision", &read)]).await.status, StatusCode::SEE_OTHER);
    // A form from the page as it was before that change is refused, and the page shows the CTA
    // as it is now with why.
    let stale = submit(&c, &format!("{href}?lang=ja"), &[("do", "start"), ("revision", &read)]).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert!(stale.body.contains("最新の内容を読み込んでから") && stale.body.contains("☑"), "{}", stale.body);
    assert_ne!(revision(&stale.body), read, "the page now carries the new revision");
    let bad = submit(&c, &format!("{href}?lang=ja"), &[("do", "snooze"), ("snoozed_until", "2020-01-01"), ("snooze_reason", "x")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("スヌーズには今日より後の日付と理由が必要です"), "{}", bad.body);
    let bad_en = submit(&c, &format!("{href}?lang=en"), &[("do", "close")]).await;
    assert!(bad_en.body.contains("To close, choose an outcome"), "{}", bad_en.body);
    assert_eq!(submit(&c, &href, &[("do", "snooze"), ("snoozed_until", "2099-01-01"), ("snooze_reason", "先方の決算期")]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(submit(&c, &href, &[("do", "comment"), ("body", "一行目\n二行目")]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(submit(&c, &href, &[("do", "close"), ("outcome", "success"), ("close_note", "改善")]).await.status, StatusCode::SEE_OTHER);
    let done = get(&c, &format!("{href}?lang=en"), None).await;
    assert!(done.body.contains("Closed") && done.body.contains("Success") && done.body.contains("一行目\n二行目"), "{}", done.body);
    assert!(done.body.contains("☑"), "the task is ticked");
    // The account's timeline has the CTA's changes in the reader's language only.
    let timeline = get(&c, "/accounts/A1?lang=en", None).await.body;
    assert!(timeline.contains("CTA opened: 利用低下の確認") && timeline.contains("CTA closed (success): 利用低下の確認"), "{timeline}");
    assert!(!timeline.contains("起票"), "{timeline}");
    let timeline = get(&c, "/accounts/A1?lang=ja", None).await.body;
    assert!(timeline.contains("CTA 起票: 利用低下の確認") && timeline.contains("CTA 完了（成功）: 利用低下の確認") && !timeline.contains("CTA opened"), "{timeline}");
    let forged = post_form(&c, &href, &[("do", "reopen")], &[("host", HOST), ("origin", ORIGIN)]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "no token, no change");

    add_user(&db, "alpha@partner.example", Role::Partner, Some("P-ALPHA")).await;
    let partner = Client::anonymous(db.clone());
    sign_in(&partner, "alpha@partner.example").await;
    assert_eq!(get(&partner, &href, Some("en")).await.status, StatusCode::NOT_FOUND);
    assert!(!get(&partner, "/ctas?status=all", None).await.body.contains("利用低下の確認"));

    // The playbooks page: everyone reads the tasks in their language; CS Ops edits the
    // configuration, checked, refused in the reader's language, nothing half-saved.
    let read = get(&c, "/admin/playbooks?lang=ja", None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(read.body.contains("プレイブックとCTAの設定") && read.body.contains("ヘルスが赤") && read.body.contains("主担当者に連絡し次のアクションを合意"), "{}", read.body);
    assert!(read.body.contains(" readonly>") && !read.body.contains(r#"<button type="submit">保存</button>"#), "a CSM reads the settings, without a save button");
    let config = get(&c, "/api/v1/playbooks", None).await;
    let toml = c.send(Request::get("/api/v1/playbooks").header("accept", "application/toml"), Body::empty()).await.body;
    assert_eq!(submit(&c, "/admin/playbooks", &[("config", &toml)]).await.status, StatusCode::FORBIDDEN, "a CSM does not save");
    add_user(&db, "ops@example.jp", Role::CsOps, None).await;
    let ops = Client::anonymous(db.clone());
    sign_in(&ops, "ops@example.jp").await;
    assert!(get(&ops, "/admin/playbooks?lang=ja", None).await.body.contains(r#"<button type="submit">保存</button>"#));
    let review = "title = \"Review with your manager if not recovering / 改善しない場合はマネージャーとレビュー\"\ndue_days = ";
    assert!(toml.contains(&format!("{review}5")), "{toml}");
    let too_late = toml.replacen(&format!("{review}5"), &format!("{review}300"), 1);
    let refused = submit(&ops, "/admin/playbooks", &[("config", &too_late)]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("CTAの設定: &quot;risk&quot; のプレイブック: タスク &quot;Review with your manager if not recovering &#x2f; 改善しない場合はマネージャーとレビュー&quot; の期限が300営業日後です（250営業日まで）"), "{}", refused.body);
    assert!(refused.body.contains("due_days = 300"), "the refused text stays in the box to be mended");
    assert!(refused.body.contains("<h2>リスク / ヘルスが赤に悪化</h2>") && refused.body.contains(">5</td>"), "the tables still show what is saved");
    assert_eq!(get(&ops, "/api/v1/playbooks", None).await.body, config.body, "nothing was saved");
    let renamed = toml.replacen("Call the main contact and agree on next steps / 主担当者に連絡し次のアクションを合意", "主担当者と30分の面談を設定", 1);
    let saved = submit(&ops, "/admin/playbooks", &[("config", &renamed)]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location(), "/admin/playbooks?saved=1");
    let after = get(&ops, "/admin/playbooks?saved=1&lang=en", None).await;
    assert!(after.body.contains("Saved.") && after.body.contains("主担当者と30分の面談を設定"), "{}", after.body);
    assert!(get(&c, "/api/v1/playbooks", None).await.body.contains("主担当者と30分の面談を設定"));
}


/// The renewals centre over the API and as a page: each renewal with its ARR and the keys of the
/// contract, a forecast call set and counted in the totals, a bad call refused, a partner seeing
/// none of the company's renewals.
/// Issue 25: the account list for daily work: active by default, search as people type,
/// owners by name, the language switch keeps the filters, saved views per user.
async fn account_list_for_daily_work(db: TestDb) {
    seed(&db).await;
    add_user(&db, "sato@example.jp", Role::Csm, None).await;
    let c = admin(db.clone()).await;
    let api = get(&c, "/api/v1/accounts?status=active&sort=name", None).await.json();
    assert_eq!(api["total"], 2, "{api}");
    let a1 = &api["accounts"][0];
    assert_eq!((a1["account_id"].as_str(), a1["arr"].as_f64(), a1["owner_name"].as_str(), a1["open_ctas"].as_u64()), (Some("A1"), Some(6_000_000.0), Some("csm user"), Some(0)), "{a1}");
    assert_eq!(get(&c, "/api/v1/accounts", None).await.json()["total"], 3, "the API lists every account unless asked");
    assert_eq!(get(&c, "/api/v1/accounts?status=churned", None).await.json()["accounts"][0]["account_id"], "A2");
    assert_eq!(get(&c, "/api/v1/accounts?status=gone", None).await.status, StatusCode::BAD_REQUEST);

    let found = get(&c, "/accounts?q=%E6%A0%AA%E5%BC%8F%E4%BC%9A%E7%A4%BE%E3%80%80%E3%81%95%E3%81%8F%E3%82%89", Some("ja")).await;
    assert!(found.body.contains("1 社") && found.body.contains("株式会社さくら"), "「株式会社　さくら」 finds 株式会社さくら: {}", found.body);
    assert!(found.body.contains(">csm user<"), "the owner by name");
    let red = get(&c, "/accounts?health=red&segment=smb", Some("ja")).await;
    assert!(red.body.contains(r#"href="?health=red&amp;segment=smb&amp;lang=en""#), "the language switch keeps the filters");

    // Saved views: one user's, kept without page and language.
    let saved = submit(&c, "/accounts/views", &[("name", "赤いSMB"), ("query", "health=red&segment=smb&page=3&lang=en")]).await;
    assert_eq!((saved.status, saved.location()), (StatusCode::SEE_OTHER, "/accounts?health=red&segment=smb"));
    let views = get(&c, "/api/v1/account-views", None).await.json();
    assert_eq!((views[0]["name"].as_str(), views[0]["query"].as_str()), (Some("赤いSMB"), Some("health=red&segment=smb")), "{views}");
    let searched = submit(&c, "/accounts/views", &[("name", "商事"), ("query", "q=青葉 商事&lang=ja")]).await;
    assert_eq!(searched.status, StatusCode::SEE_OTHER);
    let listed = get(&c, &searched.location(), Some("ja")).await.body;
    assert!(listed.contains(r#"aria-current="page""#), "a view with Japanese and a space is the current one when opened");
    let views = get(&c, "/api/v1/account-views", None).await.json();
    let id = views.as_array().unwrap().iter().find(|v| v["name"] == "商事").unwrap()["view_id"].as_str().unwrap().to_string();
    c.send(here(Request::delete(format!("/api/v1/account-views/{id}"))), Body::empty()).await;
    let views = get(&c, "/api/v1/account-views", None).await.json();
    let page = get(&c, "/accounts?health=red&segment=smb", Some("ja")).await;
    assert!(page.body.contains("保存済みビュー") && page.body.contains(r#"aria-current="page" data-view"#), "{}", page.body);
    let bad = c.send(here(Request::post("/api/v1/account-views").header("content-type", "application/json")), Body::from(r#"{"name": "x", "query": "health=purple"}"#)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    let other = Client::anonymous(db.clone());
    sign_in(&other, "sato@example.jp").await;
    assert_eq!(get(&other, "/api/v1/account-views", None).await.json(), serde_json::json!([]), "views are per user");
    let id = views[0]["view_id"].as_str().unwrap().to_string();
    let uri = format!("/api/v1/account-views/{id}");
    assert_eq!(other.send(here(Request::delete(&uri)), Body::empty()).await.status, StatusCode::NOT_FOUND, "another user's view cannot be deleted");
    assert_eq!(c.send(here(Request::delete(&uri)), Body::empty()).await.status, StatusCode::NO_CONTENT);
    assert_eq!(get(&c, "/api/v1/account-views", None).await.json(), serde_json::json!([]));

    // The account page: a summary strip, and a monthly plan's periods folded under one line.
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_subscriptions(&[
        subscription("A3", "addon", "2024-03-01", Some("2024-04-01"), 5000),
        subscription("A3", "addon", "2024-04-01", Some("2024-05-01"), 5000),
        subscription("A3", "addon", "2024-05-01", None, 7000),
    ])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let page = get(&c, "/accounts/A3", Some("ja")).await.body;
    let strip = &page[page.find(r#"id="summary""#).expect("a summary strip")..];
    assert!(strip.contains("¥37,000 / ¥444,000") && strip.contains("csm user"), "MRR/ARR and the owner by name: {strip}");
    assert_eq!(page.matches(r#"<tr class="contract">"#).count(), 2, "core and addon, one line each");
    assert!(page.contains("請求期間 3 件") && page.contains("2024年3月1日"), "the addon's periods folded, its first start on its line");
}

async fn renewals_centre(db: TestDb) {
    seed(&db).await;
    let today = kizuna_app::today();
    let renewal = today + chrono::Duration::days(60);
    let mut annual = subscription("A3", "core", &(renewal - chrono::Duration::days(365)).to_string(), Some(&renewal.to_string()), 100_000);
    annual.bill_period_months = Some(12);
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_subscriptions(&[annual]).await.unwrap();
    tx.commit().await.unwrap();
    add_user(&db, "sato@example.jp", Role::Csm, None).await;
    let c = Client::anonymous(db.clone());
    sign_in(&c, "sato@example.jp").await;
    let list = get(&c, "/api/v1/renewals", None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let list = list.json();
    let item = list["renewals"].as_array().unwrap().iter().find(|r| r["account_id"] == "A3").cloned().unwrap_or_else(|| panic!("{list}"));
    for key in ["account_id", "name", "renewal_date", "arr", "health_score", "health_band", "churn_probability", "open_risk_ctas", "last_contact_at", "forecast_call"] {
        assert!(item.get(key).is_some(), "{key} in {item}");
    }
    assert_eq!((item["renewal_date"].as_str(), item["arr"].as_f64()), (Some(renewal.to_string().as_str()), Some(1_560_000.0)), "(100,000 + 30,000) × 12: {item}");
    let json = |req: axum::http::request::Builder| here(req).header("content-type", "application/json");
    let body = format!(r#"{{"renewal_date":"{renewal}","forecast_call":"at_risk","note":"決裁者が交代"}}"#);
    let set = c.send(json(Request::put("/api/v1/renewals/A3/call")), Body::from(body)).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let bad = c.send(json(Request::put("/api/v1/renewals/A3/call")), Body::from(format!(r#"{{"renewal_date":"{renewal}","forecast_call":"maybe"}}"#))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["error"].as_str().unwrap().contains("forecast_call \"maybe\""), "{}", bad.body);
    let after = get(&c, "/api/v1/renewals", None).await.json();
    assert_eq!(after["by_call"]["at_risk"].as_f64(), Some(1_560_000.0), "{after}");
    let page = get(&c, "/renewals?lang=ja", None).await;
    assert!(page.body.contains("青葉商事") && page.body.contains("リスクあり"), "{}", page.body);
    let en = get(&c, "/renewals?lang=en", None).await;
    assert!(en.body.contains("At risk") && en.body.contains("ARR up for renewal"), "{}", en.body);
    let posted = submit(&c, "/renewals/call", &[("account_id", "A3"), ("renewal_date", &renewal.to_string()), ("forecast_call", "likely")]).await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
    assert_eq!(get(&c, "/api/v1/renewals", None).await.json()["by_call"]["likely"].as_f64(), Some(1_560_000.0));

    add_user(&db, "alpha@partner.example", Role::Partner, Some("P-ALPHA")).await;
    let partner = Client::anonymous(db.clone());
    sign_in(&partner, "alpha@partner.example").await;
    assert_eq!(get(&partner, "/api/v1/renewals", None).await.json()["renewals"].as_array().map(Vec::len), Some(0));
    let theirs = partner.send(json(Request::put("/api/v1/renewals/A3/call")), Body::from(format!(r#"{{"renewal_date":"{renewal}","forecast_call":"likely"}}"#))).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
}

/// Journey stages with history: the seed's imported stage is the first change; a CSM moves the
/// account from a past day (API) and again from the page; the history lists each change with
/// its day, source and author, newest first; a wrong stage, a future day, another partner's
/// account and a viewer are refused; CS Ops edit the stages, a CSM cannot.
async fn stage_history_over_the_api_and_page(db: TestDb) {
    seed(&db).await;
    add_user(&db, "sato@example.jp", Role::Csm, None).await;
    let c = Client::anonymous(db.clone());
    sign_in(&c, "sato@example.jp").await;
    let today = kizuna_app::today();
    let json = |req: axum::http::request::Builder| here(req).header("content-type", "application/json");
    let before = get(&c, "/api/v1/accounts/A1", None).await.json();
    let history = before["stage_history"].as_array().unwrap().clone();
    assert_eq!(history.len(), 1, "{before}");
    assert_eq!((history[0]["stage"].as_str(), history[0]["source"].as_str()), (Some("expansion"), Some("import")));

    let set = c.send(json(Request::put("/api/v1/accounts/A1/stage")), Body::from(r#"{"stage":"Renewal","changed_on":"2026-01-15","note":"更新交渉を開始"}"#)).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let change = set.json();
    assert_eq!((change["stage"].as_str(), change["source"].as_str(), change["changed_by"].as_str()), (Some("renewal"), Some("manual"), Some("sato@example.jp")));
    let future = (today + chrono::Duration::days(1)).to_string();
    let bad = c.send(json(Request::put("/api/v1/accounts/A1/stage?lang=en")), Body::from(format!(r#"{{"stage":"adoption","changed_on":"{future}"}}"#))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert!(bad.json()["error"].as_str().unwrap().contains("changed_on"), "{}", bad.body);
    let unknown = c.send(json(Request::put("/api/v1/accounts/A1/stage")), Body::from(r#"{"stage":"won"}"#)).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.json()["error"].as_str().unwrap().contains("onboarding, adoption, expansion, renewal"), "{}", unknown.body);

    let posted = submit(&c, "/accounts/A1/stage", &[("stage", "adoption"), ("changed_on", &today.to_string()), ("note", "")]).await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
    let after = get(&c, "/api/v1/accounts/A1", None).await.json();
    assert_eq!(after["account"]["lifecycle_stage"], "adoption", "the latest change is the current stage");
    let stages: Vec<(&str, &str)> = after["stage_history"].as_array().unwrap().iter().map(|h| (h["stage"].as_str().unwrap(), h["source"].as_str().unwrap())).collect();
    // Newest first by the day each took effect: today's two (the page's, then the import's), then January's.
    assert_eq!(stages, [("adoption", "manual"), ("expansion", "import"), ("renewal", "manual")], "{after}");
    let page = get(&c, "/accounts/A1?lang=ja", None).await.body;
    let section = &page[page.find(r#"id="stage""#).expect("the stage section")..];
    assert!(section.contains("活用促進") && section.contains("更新交渉を開始") && section.contains("2026年1月15日") && section.contains("手動"), "{section}");
    let (_, log) = db.store.audit_log(Some("sato@example.jp"), 1, 50).await.unwrap();
    assert_eq!(log.iter().filter(|e| e.action == "account.stage").count(), 2);

    add_user(&db, "alpha@partner.example", Role::Partner, Some("P-ALPHA")).await;
    let partner = Client::anonymous(db.clone());
    sign_in(&partner, "alpha@partner.example").await;
    assert_eq!(partner.send(json(Request::put("/api/v1/accounts/A1/stage")), Body::from(r#"{"stage":"adoption"}"#)).await.status, StatusCode::NOT_FOUND);
    add_user(&db, "view@example.jp", Role::Viewer, None).await;
    let viewer = Client::anonymous(db.clone());
    sign_in(&viewer, "view@example.jp").await;
    assert_eq!(viewer.send(json(Request::put("/api/v1/accounts/A1/stage")), Body::from(r#"{"stage":"adoption"}"#)).await.status, StatusCode::FORBIDDEN);

    let journey = get(&c, "/api/v1/journey", None).await.json();
    assert_eq!(journey["stages"].as_array().map(Vec::len), Some(4), "{journey}");
    let edited = r#"{"stages":[{"name":"onboarding","label_ja":"導入","label_en":"Onboarding"},{"name":"adoption","label_ja":"定着","label_en":"Adoption"},{"name":"advocacy","label_ja":"推奨","label_en":"Advocacy"}]}"#;
    assert_eq!(c.send(json(Request::put("/api/v1/journey")), Body::from(edited)).await.status, StatusCode::FORBIDDEN, "a CSM does not edit the journey");
    add_user(&db, "ops@example.jp", Role::CsOps, None).await;
    let ops = Client::anonymous(db.clone());
    sign_in(&ops, "ops@example.jp").await;
    let twice = r#"{"stages":[{"name":"adoption","label_ja":"a","label_en":"a"},{"name":"adoption","label_ja":"b","label_en":"b"}]}"#;
    let refused = ops.send(json(Request::put("/api/v1/journey")), Body::from(twice)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.json()["error"].as_str().unwrap().contains("listed twice"), "{}", refused.body);
    assert_eq!(ops.send(json(Request::put("/api/v1/journey")), Body::from(edited)).await.status, StatusCode::OK);
    let page = get(&c, "/accounts/A1?lang=ja", None).await.body;
    assert!(page.contains("定着") && page.contains(r#"<option value="advocacy""#), "the edited labels and stages");
    let advocacy = c.send(json(Request::put("/api/v1/accounts/A1/stage")), Body::from(r#"{"stage":"advocacy"}"#)).await;
    assert_eq!(advocacy.status, StatusCode::OK, "{}", advocacy.body);
}

/// The journey's stages on their page: each with its active accounts (a partner counts its
/// own), read by everyone in both languages; CS Ops reorder, add and remove stages, a refused
/// list is said in Japanese and saves nothing; the account list filters by the new stages.
async fn journey_page_in_both_languages(db: TestDb) {
    seed(&db).await;
    add_user(&db, "sato@example.jp", Role::Csm, None).await;
    add_user(&db, "ops@example.jp", Role::CsOps, None).await;
    let csm = Client::anonymous(db.clone());
    sign_in(&csm, "sato@example.jp").await;
    let ops = Client::anonymous(db.clone());
    sign_in(&ops, "ops@example.jp").await;

    let counts = get(&csm, "/api/v1/journey/stages", None).await.json();
    let pairs: Vec<(&str, u64)> = counts.as_array().unwrap().iter().map(|s| (s["name"].as_str().unwrap(), s["active_accounts"].as_u64().unwrap())).collect();
    assert_eq!(pairs, [("onboarding", 0), ("adoption", 0), ("expansion", 1), ("renewal", 0)], "A1 is the one active account in a stage: {counts}");
    let ja = get(&csm, "/admin/journey", Some("ja")).await;
    assert_eq!(ja.status, StatusCode::OK);
    assert!(ja.body.contains("ジャーニーのステージ") && ja.body.contains("拡大") && ja.body.contains(r#"<tr data-stage="expansion"><td class="num">3</td><td>拡大</td><td><code>expansion</code></td><td class="num"><a href="&#x2f;accounts?stage=expansion">1</a>"#), "{}", ja.body);
    assert!(!ja.body.contains(r#"id="edit-journey""#), "a CSM reads, no form");
    assert_eq!(submit(&csm, "/admin/journey", &[("name.0", "x"), ("label_ja.0", "x"), ("label_en.0", "x")]).await.status, StatusCode::FORBIDDEN);
    assert!(get(&csm, "/admin/journey", Some("en")).await.body.contains("Expansion"));

    let form = get(&ops, "/admin/journey", Some("ja")).await.body;
    assert!(form.contains(r#"id="edit-journey""#) && form.contains(r#"name="name.3" value="renewal""#) && form.contains(r#"name="name.5" value="""#), "saved rows then two blank rows");
    // Two stages named alike: refused in Japanese, nothing saved, the typed rows kept.
    let twice = [("name.0", "onboarding"), ("label_ja.0", "導入"), ("label_en.0", "Onboarding"), ("order.0", "1"), ("name.1", "onboarding"), ("label_ja.1", "再導入"), ("label_en.1", "Again"), ("order.1", "2")];
    let refused = submit(&ops, "/admin/journey?lang=ja", &twice).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("ジャーニー: ステージ &quot;onboarding&quot; が2回あります"), "{}", refused.body);
    assert!(refused.body.contains(r#"value="再導入""#), "what was typed stays");
    assert_eq!(get(&ops, "/api/v1/journey", None).await.json()["stages"].as_array().map(Vec::len), Some(4), "nothing saved");
    let unlabeled = submit(&ops, "/admin/journey?lang=ja", &[("name.0", "activation"), ("label_ja.0", "定着"), ("label_en.0", "")]).await;
    assert!(unlabeled.body.contains("ステージ &quot;activation&quot;: 日本語と英語の表示名"), "{}", unlabeled.body);

    // Renewal removed, activation added second, expansion moved before adoption.
    let edit = [
        ("name.0", "onboarding"), ("label_ja.0", "オンボーディング"), ("label_en.0", "Onboarding"), ("order.0", "1"),
        ("name.1", "adoption"), ("label_ja.1", "活用促進"), ("label_en.1", "Adoption"), ("order.1", "4"),
        ("name.2", "expansion"), ("label_ja.2", "拡大"), ("label_en.2", "Expansion"), ("order.2", "3"),
        ("name.3", "renewal"), ("label_ja.3", "更新"), ("label_en.3", "Renewal"), ("order.3", "5"), ("remove.3", "on"),
        ("name.4", "activation"), ("label_ja.4", "定着化"), ("label_en.4", "Activation"), ("order.4", "2"),
        ("name.5", ""), ("label_ja.5", ""), ("label_en.5", ""), ("order.5", ""),
    ];
    let saved = submit(&ops, "/admin/journey", &edit).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let names: Vec<String> = get(&ops, "/api/v1/journey", None).await.json()["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["onboarding", "activation", "expansion", "adoption"]);
    let (_, log) = db.store.audit_log(Some("ops@example.jp"), 1, 10).await.unwrap();
    assert_eq!(log[0].action, "journey.save");
    let after = get(&ops, "/admin/journey?saved=1", Some("ja")).await.body;
    assert!(after.contains("ジャーニーのステージを保存しました") && after.contains("定着化") && !after.contains(r#"data-stage="renewal""#), "{after}");

    // The account list offers the journey's stages (and churned, which imports record) and
    // labels them from it.
    let list = get(&csm, "/accounts?stage=expansion", Some("ja")).await.body;
    assert!(list.contains(r#"<option value="activation">定着化</option>"#) && list.contains(r#"<option value="churned">"#), "{list}");
    assert!(list.contains(r#"<option value="expansion" selected>拡大</option>"#) && list.contains("株式会社さくら") && !list.contains("青葉商事"), "{list}");

    add_user(&db, "alpha@partner.example", Role::Partner, Some("P-ALPHA")).await;
    let partner = Client::anonymous(db.clone());
    sign_in(&partner, "alpha@partner.example").await;
    let theirs = get(&partner, "/api/v1/journey/stages", None).await.json();
    assert!(theirs.as_array().unwrap().iter().all(|s| s["active_accounts"] == 0), "a partner counts only its own accounts: {theirs}");
}

/// The table row of a page that starts at `start` (up to its `</tr>`).
fn table_row(body: &str, start: &str) -> String {
    let at = body.find(start).unwrap_or_else(|| panic!("{start} in {body}"));
    body[at..at + body[at..].find("</tr>").unwrap()].to_string()
}

/// How scores are computed, on a page: bands, grades and each scorecard's measures with their
/// share of the score and how a value becomes points, in both languages; a CSM reads, a
/// manager edits (a refusal said in Japanese saves nothing), a partner is kept out.
async fn scorecards_page_in_both_languages(db: TestDb) {
    seed(&db).await;
    add_user(&db, "sato@example.jp", Role::Csm, None).await;
    add_user(&db, "boss@example.jp", Role::Manager, None).await;
    add_user(&db, "alpha@partner.example", Role::Partner, Some("P-ALPHA")).await;
    let csm = Client::anonymous(db.clone());
    sign_in(&csm, "sato@example.jp").await;
    let ja = get(&csm, "/admin/scorecards", Some("ja")).await;
    assert_eq!(ja.status, StatusCode::OK);
    let body = ja.body;
    assert!(body.contains("ヘルススコアの計算方法") && body.contains("赤: 50点未満 · 黄: 50〜75点 · 緑: 75点以上"), "{body}");
    assert!(body.contains("A ≥ 80 · B ≥ 65 · C ≥ 50 · D ≥ 35 · E &lt; 35"), "{body}");
    assert!(body.contains("<dt>判定</dt>") && body.contains("<dt>グレード</dt>") && body.contains(r#"<th scope="col" class="num">スコアに占める重み</th>"#), "headings, not error texts: {body}");
    assert!(body.contains("既定: ほかのスコアカードに当てはまらないすべてのアカウント"), "{body}");
    // logins_28d: the usage group is 60 of 100, the measure 25 of the group's 100: 15% of the score.
    let row = |input: &str| table_row(&body, &format!(r#"<tr data-input="{input}">"#));
    let logins = row("usage.logins_28d");
    assert!(logins.contains(r#"<th scope="rowgroup" rowspan="5">"#) && logins.contains("60.0%"), "the usage group heads its five measures with its weight: {logins}");
    assert!(logins.contains(r#"<td class="num">15.0%</td>"#) && logins.contains("0 以下で0点、40 以上で100点、その間は比例"), "{logins}");
    assert!(row("usage.days_since_login").contains("3 未満: 100点 · 3 以上: 75点 · 7 以上: 50点 · 14 以上: 25点 · 28 以上: 0点"), "lower is better: fewer days, more points");
    // days_since_csm_touch: relationship 15 × 60/100 = 9% of the score; fewer days is better.
    let touch = row("days_since_csm_touch");
    assert!(touch.contains(r#"<td class="num">9.0%</td>"#) && touch.contains("30 以下で100点、180 以上で0点"), "{touch}");
    assert!(!body.contains(r#"<button type="submit">確認して保存"#), "a CSM reads, no save button");
    assert_eq!(submit(&csm, "/admin/scorecards", &[("scorecards", kizuna_domain::health::scorecard::DEFAULT)]).await.status, StatusCode::FORBIDDEN);
    let en = get(&csm, "/admin/scorecards", Some("en")).await.body;
    assert!(en.contains("How health scores are computed") && en.contains("0 points at 0 or less, 100 at 40 or more, in proportion between") && en.contains("below 3: 100 points"), "{en}");

    let boss = Client::anonymous(db.clone());
    sign_in(&boss, "boss@example.jp").await;
    let bad = kizuna_domain::health::scorecard::DEFAULT.replace("range = [0, 40]", "range = [40, 0]");
    let refused = submit(&boss, "/admin/scorecards?lang=ja", &[("scorecards", &bad)]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("スコアカード &quot;default&quot; の指標 &quot;usage.logins_28d&quot;: range = [40.0, 0.0] は [下限, 上限]（下限 &lt; 上限）にしてください"), "{}", refused.body);
    assert!(refused.body.contains("range = [40, 0]"), "the refused text stays to be mended");
    assert_eq!(db.store.setting("health_scorecards").await.unwrap(), None, "nothing saved");
    let enterprise = format!("{}\n[[scorecard]]\nname = \"enterprise\"\nsegments = [\"enterprise\"]\n\n[[scorecard.group]]\nname = \"relationship\"\nweight = 1\n\n[[scorecard.group.measure]]\ninput = \"attribute.nps\"\nweight = 1\ndirection = \"higher\"\nthresholds = [0, 30]\nscores = [0, 60, 100]\n", kizuna_domain::health::scorecard::DEFAULT);
    let saved = submit(&boss, "/admin/scorecards", &[("scorecards", &enterprise)]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let after = get(&boss, "/admin/scorecards?saved=1", Some("ja")).await.body;
    assert!(after.contains("保存しました") && after.contains("スコアカード enterprise") && after.contains("セグメント: エンタープライズ"), "{after}");
    assert!(after.contains("0 未満: 0点 · 0 以上: 60点 · 30 以上: 100点"), "{after}");

    let partner = Client::anonymous(db.clone());
    sign_in(&partner, "alpha@partner.example").await;
    assert_eq!(get(&partner, "/admin/scorecards", Some("ja")).await.status, StatusCode::FORBIDDEN);
}

/// The usage configuration on a page: each metric by its label with how it is computed, and
/// where group traits go, in both languages; a manager edits (a refusal said in Japanese saves
/// nothing), a CSM reads, a partner is kept out.
async fn usage_configuration_page_in_both_languages(db: TestDb) {
    seed(&db).await;
    add_user(&db, "sato@example.jp", Role::Csm, None).await;
    add_user(&db, "boss@example.jp", Role::Manager, None).await;
    add_user(&db, "alpha@partner.example", Role::Partner, Some("P-ALPHA")).await;
    let csm = Client::anonymous(db.clone());
    sign_in(&csm, "sato@example.jp").await;
    let body = get(&csm, "/admin/usage", Some("ja")).await.body;
    let row = table_row;
    assert!(body.contains("利用指標とSDKのトレイト") && body.contains("ルールはありません"), "{body}");
    assert!(row(&body, r#"data-metric="logins_28d""#).contains("ログイン数（28日）") && row(&body, r#"data-metric="logins_28d""#).contains("直近28日の login イベントの件数"), "{body}");
    assert!(row(&body, r#"data-metric="core_actions_per_user""#).contains("主要操作数（28日） ÷ アクティブユーザー数（28日）（0で割るときは空欄）"), "a ratio names its metrics by their labels");
    assert!(row(&body, r#"data-metric="days_since_login""#).contains("最後の login イベントからの日数"));
    assert!(!body.contains(r#"<button type="submit">確認して保存"#), "a CSM reads only");
    assert_eq!(submit(&csm, "/admin/usage", &[("definitions", kizuna_domain::usage::metrics::DEFAULT)]).await.status, StatusCode::FORBIDDEN);
    let en = get(&csm, "/admin/usage", Some("en")).await.body;
    assert!(row(&en, r#"data-metric="logins_28d""#).contains("login events in the last 28 days"), "{en}");

    let boss = Client::anonymous(db.clone());
    sign_in(&boss, "boss@example.jp").await;
    let bad = kizuna_domain::usage::metrics::DEFAULT.replacen("days = 28", "days = 30", 1);
    let refused = submit(&boss, "/admin/usage?lang=ja", &[("definitions", &bad)]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("利用指標 &quot;logins_28d&quot;: days = 30 は 7、28、90 のいずれかにしてください"), "{}", refused.body);
    assert!(refused.body.contains("days = 30"), "the refused text stays to be mended");
    assert_eq!(db.store.setting(kizuna_domain::usage::metrics::SETTING).await.unwrap(), None, "nothing saved");
    let bad_trait = format!("{}\n[[trait]]\ntrait = \"plan\"\nto = \"plan\"\n", kizuna_domain::usage::metrics::DEFAULT);
    let refused = submit(&boss, "/admin/usage?lang=ja", &[("definitions", &bad_trait)]).await;
    assert!(refused.body.contains("トレイト &quot;plan&quot;: to = &quot;plan&quot; は name"), "{}", refused.body);
    let with_trait = format!("{}\n[[trait]]\ntrait = \"plan\"\nto = \"segment\"\noverwrite = true\n\n[[trait]]\ntrait = \"industry\"\nto = \"attributes.業種\"\n", kizuna_domain::usage::metrics::DEFAULT);
    let saved = submit(&boss, "/admin/usage", &[("definitions", &with_trait)]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let after = get(&boss, "/admin/usage?saved=1", Some("ja")).await.body;
    assert!(after.contains("利用指標の設定を保存しました"), "{after}");
    let plan = row(&after, r#"data-trait="plan""#);
    assert!(plan.contains("<td>セグメント</td>") && plan.contains("常に（インポートや手入力の値も上書き）"), "{plan}");
    assert!(row(&after, r#"data-trait="industry""#).contains("属性: 業種") && row(&after, r#"data-trait="industry""#).contains("空欄か、以前トレイトが入れた値のときだけ"), "{after}");

    let partner = Client::anonymous(db.clone());
    sign_in(&partner, "alpha@partner.example").await;
    assert_eq!(get(&partner, "/admin/usage", Some("ja")).await.status, StatusCode::FORBIDDEN);
}

const ONBOARDING_TEMPLATES: &str = r#"{"templates":[{"template_id":"core-std","name":"Core 導入","product":"core","value_milestone":"first_report",
 "phases":[{"phase_id":"setup","name":"初期設定","name_en":"Setup","tasks":[
   {"task_id":"kickoff","title":"キックオフ会議","title_en":"Kick-off meeting","side":"vendor","due_days":2},
   {"task_id":"connect","title":"会計データ連携","title_en":"Connect accounting data","side":"customer","setup":true,"due_days":5,"depends_on":["kickoff"]},
   {"task_id":"first_report","title":"最初のレポート","title_en":"First report","side":"customer","due_days":3,"due_from":"phase",
    "criterion":{"kind":"event","event":"report_created"}}]}]}]}"#;

/// Onboarding over the API, the pages and the shared link: templates saved by CS Ops (checked,
/// versioned), a plan started and worked by the CSM (dependencies kept), the customer's link
/// (customer tasks only; tampered and expired links refused), the report and the impact, a
/// partner kept out.
async fn onboarding_over_the_api_pages_and_shared_link(db: TestDb) {
    seed(&db).await;
    add_user(&db, "ops@example.jp", Role::CsOps, None).await;
    add_user(&db, "sato@example.jp", Role::Csm, None).await;
    let ops = Client::anonymous(db.clone());
    sign_in(&ops, "ops@example.jp").await;
    let json = |req: axum::http::request::Builder| here(req).header("content-type", "application/json");
    let bad = ONBOARDING_TEMPLATES.replace(r#""depends_on":["kickoff"]"#, r#""depends_on":["first_report"]"#);
    let refused = ops.send(json(Request::put("/api/v1/onboarding/templates?lang=en")), Body::from(bad.clone())).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    let e = refused.json()["error"].as_str().unwrap().to_string();
    assert!(e.contains("core-std") && e.contains("connect") && e.contains("not a task listed before it"), "{e}");
    // The same refusal on the editor page, in the reader's language.
    assert_eq!(get(&ops, "/admin/onboarding", Some("ja")).await.status, StatusCode::OK);
    let page = submit(&ops, "/admin/onboarding?lang=ja", &[("templates", &bad)]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("テンプレート &quot;core-std&quot; のタスク &quot;connect&quot;: 依存先 &quot;first_report&quot; は、このタスクより前に書かれたタスクではありません"), "{}", page.body);
    let saved = ops.send(json(Request::put("/api/v1/onboarding/templates")), Body::from(ONBOARDING_TEMPLATES)).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(saved.json()["templates"]["templates"][0]["version"], 1);

    let c = Client::anonymous(db.clone());
    sign_in(&c, "sato@example.jp").await;
    assert_eq!(c.send(json(Request::put("/api/v1/onboarding/templates")), Body::from(ONBOARDING_TEMPLATES)).await.status, StatusCode::FORBIDDEN, "a CSM does not edit templates");
    let started = c.send(json(Request::post("/api/v1/onboarding/plans")), Body::from(r#"{"account_id":"A1","template_id":"core-std"}"#)).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    let plan = started.json();
    let id = plan["plan_id"].as_str().unwrap().to_string();
    assert_eq!(plan["tasks"].as_array().unwrap().len(), 3);
    let listed = get(&c, "/api/v1/onboarding/plans?account=A1&status=running", None).await.json();
    assert_eq!(listed["total"], 1, "{listed}");
    let blocked = c.send(json(Request::patch(format!("/api/v1/onboarding/plans/{id}/tasks/connect?lang=en"))), Body::from(r#"{"done":true}"#)).await;
    assert_eq!(blocked.status, StatusCode::BAD_REQUEST, "{}", blocked.body);
    assert!(blocked.json()["error"].as_str().unwrap().contains("kickoff"), "{}", blocked.body);
    let ticked = c.send(json(Request::patch(format!("/api/v1/onboarding/plans/{id}/tasks/kickoff"))), Body::from(r#"{"done":true}"#)).await;
    assert_eq!(ticked.status, StatusCode::OK, "{}", ticked.body);
    assert_eq!(ticked.json()["tasks"][0]["done_how"], "staff");
    let missing = c.send(json(Request::patch(format!("/api/v1/onboarding/plans/{id}/tasks/nope"))), Body::from(r#"{"done":true}"#)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let detail = get(&c, "/api/v1/accounts/A1", None).await.json();
    assert_eq!(detail["onboarding_plans"][0]["plan_id"], id.as_str(), "the account carries its plans");

    let page = get(&c, &format!("/onboarding/plans/{id}?lang=ja"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("キックオフ会議") && page.body.contains("会計データ連携") && page.body.contains("顧客"), "{}", page.body);
    let form = submit(&c, &format!("/onboarding/plans/{id}"), &[("task_id", "connect"), ("done", "1"), ("done_on", &kizuna_app::today().to_string())]).await;
    assert_eq!(form.status, StatusCode::SEE_OTHER, "{}", form.body);
    let shared = c.send(json(Request::post(format!("/api/v1/onboarding/plans/{id}/share"))), Body::from(r#"{"days":7}"#)).await;
    assert_eq!(shared.status, StatusCode::CREATED, "{}", shared.body);
    let path = shared.json()["path"].as_str().unwrap().to_string();

    let customer = Client::anonymous(db.clone());
    let open = get(&customer, &format!("{path}?lang=en"), None).await;
    assert_eq!(open.status, StatusCode::OK, "{}", open.body);
    assert!(open.body.contains("Connect accounting data") && open.body.contains("First report"), "{}", open.body);
    assert!(!open.body.contains("Kick-off meeting"), "vendor tasks never reach the customer");
    let tick = submit(&customer, &path, &[("task_id", "first_report"), ("done", "1"), ("name", "山田 花子")]).await;
    assert_eq!(tick.status, StatusCode::SEE_OTHER, "{}", tick.body);
    let after = get(&c, &format!("/api/v1/onboarding/plans/{id}"), None).await.json();
    assert_eq!((after["status"].as_str(), after["tasks"][2]["done_by"].as_str()), (Some("completed"), Some("山田 花子")), "{after}");
    let vendor = submit(&customer, &path, &[("task_id", "kickoff"), ("done", "0"), ("name", "x")]).await;
    assert_eq!(vendor.status, StatusCode::NOT_FOUND, "a vendor task cannot be reached through the link");
    let mut tampered = path.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let no = get(&customer, &format!("{tampered}?lang=ja"), None).await;
    assert_eq!(no.status, StatusCode::NOT_FOUND);
    assert!(no.body.contains("このリンクは無効です"), "{}", no.body);
    let no_post = submit(&customer, &tampered, &[("task_id", "first_report"), ("done", "0"), ("name", "x")]).await;
    assert_eq!(no_post.status, StatusCode::NOT_FOUND);

    let report = get(&c, "/api/v1/onboarding/report?by=product", None).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    let r = report.json();
    assert_eq!((r["total"]["started"].as_u64(), r["total"]["completed"].as_u64()), (Some(1), Some(1)), "{r}");
    assert_eq!(r["groups"][0]["group"], "core");
    let csv = get(&c, "/api/v1/onboarding/report?format=csv", None).await;
    assert!(csv.body.starts_with("group,started,completed"), "{}", csv.body);
    let impact = get(&c, "/api/v1/onboarding/impact?horizon=180d", None).await.json();
    assert_eq!(impact["all"]["verdict"], "too_thin", "{impact}");
    assert_eq!(get(&c, "/api/v1/onboarding/impact?horizon=5", None).await.status, StatusCode::BAD_REQUEST);
    for lang in ["ja", "en"] {
        let page = get(&c, &format!("/onboarding?lang={lang}"), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let (rate, verdict) = if lang == "ja" { ("期間内完了率", "データが少なく") } else { ("Completion rate in period", "Too little data") };
        assert!(page.body.contains(rate) && page.body.contains(verdict), "{}", page.body);
    }
    let home = get(&c, "/api/v1/home", None).await.json();
    assert!(home["onboarding"]["due"].is_u64(), "{home}");

    add_user(&db, "alpha@partner.example", Role::Partner, Some("P-ALPHA")).await;
    let partner = Client::anonymous(db.clone());
    sign_in(&partner, "alpha@partner.example").await;
    assert_eq!(get(&partner, &format!("/api/v1/onboarding/plans/{id}"), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&partner, "/api/v1/onboarding/plans", None).await.json()["total"], 0);
}

both_engines!(
    openapi_document_covers_every_route,
    onboarding_over_the_api_pages_and_shared_link,
    stage_history_over_the_api_and_page,
    journey_page_in_both_languages,
    scorecards_page_in_both_languages,
    usage_configuration_page_in_both_languages,
    renewals_centre,
    account_list_for_daily_work,
    cta_pages_in_both_languages,
    ctas_over_the_api,
    api_writes_by_cookie_need_csrf,
    exports_neutralise_formulas,
    sign_in_throttled_bounded_and_rotated,
    password_policy_and_deactivation,
    partner_limits_secure_cookies_and_health,
    expensive_requests_are_bounded,
    input_is_bounded_at_the_edge,
    health_scores_api_pages_and_isolation,
    usage_ingestion_like_segment,
    sign_in_out_and_what_anonymous_gets,
    roles_decide_what_is_allowed,
    partners_see_only_their_accounts,
    api_keys_read_scope_and_revoke,
    notes_and_meetings_from_page_and_api,
    dashboard_page_matches_api,
    reports_and_admin_pages,
    scenario_editor_checks_csrf_and_input,
    planning_api_and_page,
    health_reports_engine,
    accounts_api_filters_sorts_pages,
    account_detail_and_404,
    metrics_api_matches_reports,
    account_page_in_both_languages,
);

/// Every route of the API, by method and path, as a client reads them in the document.
const API_ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/accounts"),
    ("get", "/api/v1/account-views"),
    ("post", "/api/v1/account-views"),
    ("delete", "/api/v1/account-views/{id}"),
    ("get", "/api/v1/accounts/{id}"),
    ("post", "/api/v1/accounts/{id}/activities"),
    ("put", "/api/v1/accounts/{id}/stage"),
    ("get", "/api/v1/journey"),
    ("put", "/api/v1/journey"),
    ("get", "/api/v1/journey/stages"),
    ("get", "/api/v1/accounts/{id}/health"),
    ("get", "/api/v1/health/scorecards"),
    ("put", "/api/v1/health/scorecards"),
    ("post", "/api/v1/health/run"),
    ("get", "/api/v1/health/backtest"),
    ("get", "/api/v1/health/calibrate"),
    ("post", "/api/v1/health/calibrate"),
    ("get", "/api/v1/health/forecast"),
    ("get", "/api/v1/dashboard"),
    ("get", "/api/v1/metrics/retention"),
    ("get", "/api/v1/metrics/mrr"),
    ("get", "/api/v1/metrics/cohorts"),
    ("get", "/api/v1/metrics/ltv"),
    ("get", "/api/v1/metrics/arr"),
    ("get", "/api/v1/metrics/churn"),
    ("get", "/api/v1/plan/{kind}"),
    ("get", "/api/v1/plan/scenarios"),
    ("get", "/api/v1/plan/scenarios/{name}"),
    ("put", "/api/v1/plan/scenarios/{name}"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/jobs"),
    ("get", "/api/v1/ctas"),
    ("post", "/api/v1/ctas"),
    ("get", "/api/v1/ctas/{id}"),
    ("patch", "/api/v1/ctas/{id}"),
    ("post", "/api/v1/ctas/{id}/comments"),
    ("get", "/api/v1/playbooks"),
    ("put", "/api/v1/playbooks"),
    ("post", "/api/v1/signals/run"),
    ("get", "/api/v1/home"),
    ("get", "/api/v1/renewals"),
    ("put", "/api/v1/renewals/{account_id}/call"),
    ("get", "/api/v1/usage/metrics"),
    ("get", "/api/v1/usage/definitions"),
    ("put", "/api/v1/usage/definitions"),
    ("get", "/api/v1/alerts/usage"),
    ("get", "/api/v1/onboarding/templates"),
    ("put", "/api/v1/onboarding/templates"),
    ("get", "/api/v1/onboarding/plans"),
    ("post", "/api/v1/onboarding/plans"),
    ("get", "/api/v1/onboarding/plans/{id}"),
    ("patch", "/api/v1/onboarding/plans/{id}/tasks/{task_id}"),
    ("post", "/api/v1/onboarding/plans/{id}/share"),
    ("get", "/api/v1/onboarding/report"),
    ("get", "/api/v1/onboarding/impact"),
    ("post", "/api/v1/onboarding/run"),
    ("post", "/v1/batch"),
    ("post", "/v1/import"),
    ("post", "/v1/{kind}"),
];

/// The document is served without sign-in, is OpenAPI 3.1, and lists every route with its
/// security; each route it lists is answered by the server (not a 404 for an unknown path),
/// and the sources register API routes only through `routes!`, which documents them.
async fn openapi_document_covers_every_route(db: TestDb) {
    seed(&db).await;
    let admin = admin(db).await;
    let signed_in = std::mem::take(&mut *admin.cookies.lock().unwrap());
    let anonymous = &admin;
    let r = get(anonymous, "/api/v1/openapi.json", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let doc = r.json();
    assert_eq!(doc, serde_json::from_str::<Value>(kizuna_server::openapi_json()).unwrap(), "kizuna openapi prints what the server serves");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    for scheme in ["bearer", "write_key", "session"] {
        assert!(doc["components"]["securitySchemes"][scheme].is_object(), "security scheme {scheme}");
    }
    let paths = doc["paths"].as_object().unwrap();
    let mut listed: Vec<(String, String)> =
        paths.iter().flat_map(|(p, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), p.clone()))).collect();
    listed.sort();
    let mut expected: Vec<(String, String)> = API_ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    expected.sort();
    assert_eq!(listed, expected, "the document lists exactly the API's routes");
    for (method, path) in API_ROUTES {
        let op = &paths[*path][*method];
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} documents its answers");
        if *path != "/api/v1/openapi.json" {
            assert!(op["security"].as_array().is_some_and(|s| !s.is_empty()), "{method} {path} documents its security");
        }
        // Answered by a route: signed out, every API route says 401 (or 400 for a body it
        // cannot read), never the router's 404 or 405.
        let uri = path.replace("{id}", "A1").replace("{account_id}", "A1").replace("{kind}", "capacity").replace("{name}", "x");
        let req = Request::builder().method(method.to_uppercase().as_str()).uri(&uri).header("origin", "http://localhost");
        let r = anonymous.send(req, Body::empty()).await;
        assert!(r.status != StatusCode::NOT_FOUND && r.status != StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}: {} {}", r.status, r.body);
    }
    // Findings of the fuzzer (scripts/api-fuzz), kept: two types of the same name hid one
    // another in the document (a maturity stage validated against the funnel's stages)...
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["MaturityStage"]["enum"].as_array().unwrap().contains(&"proactive".into()));
    assert!(schemas["FunnelStage"]["enum"].as_array().unwrap().contains(&"lead".into()));
    assert!(schemas["CohortMeasure"].is_object() && schemas["ScorecardMeasure"].is_object());
    // ...every operation documents the edge layer's 400, and its bodies' 413...
    for (method, path) in API_ROUTES {
        let op = &paths[*path][*method];
        assert!(op["responses"]["400"].is_object(), "{method} {path} documents 400");
        if op["requestBody"].is_object() {
            assert!(op["responses"]["413"].is_object(), "{method} {path} documents 413");
        }
    }
    // ...a control character in a /v1 path is refused in the shape Segment's libraries read...
    let r = anonymous.send(Request::builder().method("POST").uri("/v1/tr%15ck"), Body::from("{}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!((r.json()["success"].as_bool(), r.json()["code"].as_str()), (Some(false), Some("invalid_request")), "{}", r.body);
    // ...and a body that is not JSON gets a JSON error with the request id, as the document says.
    *admin.cookies.lock().unwrap() = signed_in;
    let req = here(Request::post("/api/v1/accounts/A1/activities").header("content-type", "application/json"));
    let r = admin.send(req, Body::from("\u{0}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().starts_with("the activity is not the JSON expected"), "{}", r.body);
    assert!(r.json()["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{}", r.body);
    assert_eq!(r.headers.get("x-request-id").and_then(|v| v.to_str().ok()), r.json()["request_id"].as_str());
    // An as-of date centuries ahead made the funnel plan run for minutes: refused at once.
    for uri in ["/api/v1/plan/funnel?at=2355-03-29", "/api/v1/metrics/ltv?at=2355-03-29", "/api/v1/metrics/cohorts?at=2355-03-29"] {
        let r = get(&admin, uri, None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.body);
        assert!(r.json()["error"].as_str().is_some_and(|e| e.contains("years after today")), "{uri}: {}", r.body);
    }
    // A query the typed request cannot hold (a parameter twice) is the API's JSON 400 too.
    let r = get(&admin, "/api/v1/metrics/retention?from=2024-01-01&from=2024-02-01&to=2024-03-01", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.json()["error"].as_str().is_some_and(|e| e.contains("from")), "{}", r.body);
    // Two types with one schema name: the document keeps only one of them, silently. Every type
    // deriving ToSchema in the workspace must have its own name (or `#[schema(as = ...)]`).
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let crates = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut stack = vec![std::path::PathBuf::from(crates)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() && !path.ends_with("target") && !path.ends_with("tests") {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let mut pending: Option<Option<String>> = None;
                for line in text.lines().map(str::trim) {
                    if line.starts_with("#[derive(") && line.contains("ToSchema") {
                        pending = Some(None);
                    } else if let (Some(alias), Some(rest)) = (&mut pending, line.strip_prefix("#[schema(as = ")) {
                        *alias = Some(rest.trim_end_matches(")]").to_string());
                    } else if let Some(alias) = pending.take_if(|_| line.starts_with("pub struct ") || line.starts_with("pub enum ")) {
                        let name = alias.unwrap_or_else(|| line.split_whitespace().nth(2).unwrap().trim_end_matches(['{', '(', ';']).to_string());
                        let here = path.display().to_string();
                        if let Some(first) = names.insert(name.clone(), here.clone()) {
                            panic!("schema name {name} is used by {first} and {here}: give one #[schema(as = ...)]");
                        }
                    }
                }
            }
        }
    }
    assert!(names.len() > 50, "the scan found the types ({})", names.len());
    // Routes added with axum's own `.route` would answer but stay out of the document.
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api");
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(".route(\"/api") && !text.contains(".route(\"/v1"), "{} registers a route outside the document", path.display());
    }
}
