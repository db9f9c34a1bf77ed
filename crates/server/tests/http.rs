//! The HTTP server on both engines: health, the accounts API, the metrics API (same JSON as the
//! analytics reports), errors that name the parameter, and the bilingual account list page.

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use kizuna_domain::{AccountRow, TouchModel};
use kizuna_server::{router, AppState};
use kizuna_store::both_engines;
use kizuna_store::testing::{subscription, TestDb};
use serde_json::Value;
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn get(db: &TestDb, uri: &str, lang: Option<&str>) -> Reply {
    let mut req = Request::get(uri);
    if let Some(l) = lang {
        req = req.header("accept-language", l);
    }
    let resp = router(AppState::new(db.store.clone())).oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = String::from_utf8(to_bytes(resp.into_body(), 50 << 20).await.unwrap().to_vec()).unwrap();
    Reply { status, headers, body }
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
    let r = get(&db, "/healthz", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["engine"], db.store.engine());
}

async fn accounts_api_filters_sorts_pages(db: TestDb) {
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
    seed(&db).await;
    let j = get(&db, "/api/v1/accounts/A2?on=2024-02-01", None).await.json();
    assert_eq!(j["account"]["mrr"], 12000.0);
    assert_eq!(j["subscriptions"][0]["end_date"], "2024-06-01");
    let r = get(&db, "/api/v1/accounts/NOPE", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"], r#"account "NOPE" not found"#);
}

async fn metrics_api_matches_reports(db: TestDb) {
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
        let expected = kizuna_analytics::Report::parse(name).unwrap().run(db.store.as_ref(), &kizuna_analytics::Params(&params)).await.unwrap();
        // Both through the same JSON text, as a client would see them.
        let expected: Value = serde_json::from_str(&expected.to_string()).unwrap();
        assert_eq!(r.json(), expected, "{name}");
    }
    let j = get(&db, "/api/v1/metrics/retention?from=2024-03-01&to=2024-07-01", None).await.json();
    assert_eq!((j["accounts_start"].as_u64(), j["accounts_churned"].as_u64()), (Some(3), Some(1)));

    let r = get(&db, "/api/v1/metrics/mrr?from=2024-01&to=2024-06&format=csv", None).await;
    assert!(r.body.starts_with("month,starting_mrr,new,expansion,contraction,churn,reactivation,ending_mrr,net_change,quick_ratio,customers_start,customers_end\n"), "{}", r.body);
    let r = get(&db, "/api/v1/metrics/retention?from=2024-13-01&to=2024-07-01", None).await;
    assert_eq!((r.status, r.json()["error"].as_str()), (StatusCode::BAD_REQUEST, Some(r#"from "2024-13-01" is not a date (YYYY-MM-DD)"#)));
    let r = get(&db, "/api/v1/metrics/retention?to=2024-07-01", None).await;
    assert_eq!(r.json()["error"], r#"from "" is required"#);
    assert_eq!(get(&db, "/api/v1/metrics/nps", None).await.status, StatusCode::NOT_FOUND);
}

async fn account_page_in_both_languages(db: TestDb) {
    seed(&db).await;
    let ja = get(&db, "/accounts", Some("ja,en;q=0.5")).await;
    assert_eq!(ja.status, StatusCode::OK);
    assert!(ja.body.contains("<html lang=\"ja\">") && ja.body.contains("顧客一覧") && ja.body.contains("3 社"), "{}", ja.body);
    assert!(ja.body.contains("ハイタッチ") && ja.body.contains("¥500,000") && ja.body.contains(">拡大<"));
    assert!(ja.body.contains("&lt;script&gt;") && !ja.body.contains("<script>alert"), "names are escaped");
    assert!(ja.headers["set-cookie"].to_str().unwrap().starts_with("kizuna_lang=ja"));

    let en = get(&db, "/accounts?segment=smb", Some("en-US,en;q=0.9")).await;
    assert!(en.body.contains("<html lang=\"en\">") && en.body.contains("Accounts") && en.body.contains("2 accounts"));
    assert!(en.body.contains("Tech touch") && !en.body.contains("株式会社さくら"));
    assert!(!ja.body.contains(">expansion<") && !ja.body.contains(">churned<"), "no stage codes on the Japanese page");
    let switched = get(&db, "/accounts?lang=en", Some("ja")).await;
    assert!(switched.body.contains("<html lang=\"en\">"));
    let empty = get(&db, "/accounts?q=nothing-matches", Some("en")).await;
    assert!(empty.body.contains("No accounts match"));
    let root = get(&db, "/", None).await;
    assert_eq!(root.status, StatusCode::SEE_OTHER);
}

async fn put(db: &TestDb, uri: &str, body: &str) -> Reply {
    let req = Request::put(uri).body(Body::from(body.to_string())).unwrap();
    let resp = router(AppState::new(db.store.clone())).oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = String::from_utf8(to_bytes(resp.into_body(), 50 << 20).await.unwrap().to_vec()).unwrap();
    Reply { status, headers, body }
}

async fn planning_api_and_page(db: TestDb) {
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

async fn post_form(db: &TestDb, uri: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Reply {
    let body: Vec<String> = form
        .iter()
        .map(|(k, v)| format!("{k}={}", v.bytes().map(|b| format!("%{b:02X}")).collect::<String>()))
        .collect();
    let mut req = Request::post(uri).header("content-type", "application/x-www-form-urlencoded");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = router(AppState::new(db.store.clone())).oneshot(req.body(Body::from(body.join("&"))).unwrap()).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = String::from_utf8(to_bytes(resp.into_body(), 50 << 20).await.unwrap().to_vec()).unwrap();
    Reply { status, headers, body }
}

async fn scenario_editor_checks_csrf_and_input(db: TestDb) {
    let form = get(&db, "/plan/edit", Some("ja")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("<textarea") && form.body.contains("productive_hours_per_csm = 120"));
    let cookie = form.headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let token = cookie.split_once('=').unwrap().1.to_string();
    assert!(form.body.contains(&format!("value=\"{token}\"")), "the form carries the token");
    let example = kizuna_domain::planning::scenario::EXAMPLE;

    let no_token = post_form(&db, "/plan/edit", &[("name", "x"), ("body", example)], &[]).await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let other_site = post_form(
        &db,
        "/plan/edit",
        &[("name", "x"), ("body", example), ("csrf_token", &token)],
        &[("cookie", &cookie), ("host", "127.0.0.1:8080"), ("origin", "http://evil.example")],
    )
    .await;
    assert_eq!(other_site.status, StatusCode::FORBIDDEN);
    assert!(db.store.scenarios().await.unwrap().is_empty(), "nothing saved by refused posts");

    let ok_headers = [("cookie", cookie.as_str()), ("host", "127.0.0.1:8080"), ("origin", "http://127.0.0.1:8080")];
    let bad_body = example.replace("span_new_lead = 6", "span_new_leader = 6");
    let bad = post_form(&db, "/plan/edit?lang=en", &[("name", "fy"), ("body", &bad_body), ("csrf_token", &token)], &ok_headers).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("Not saved") && bad.body.contains("span_new_leader"), "{}", bad.body);
    assert!(bad.body.contains("span_new_leader = 6"), "the text is kept for fixing");

    let good = post_form(&db, "/plan/edit?lang=en", &[("name", "fy"), ("body", example), ("csrf_token", &token)], &ok_headers).await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.body);
    assert!(good.body.contains("Saved scenario fy."));
    assert_eq!(db.store.scenario("fy").await.unwrap().as_deref(), Some(example));
    let edit = get(&db, "/plan/edit?name=fy", Some("en")).await;
    assert!(edit.body.contains("value=\"fy\""));
}

both_engines!(
    scenario_editor_checks_csrf_and_input,
    planning_api_and_page,
    health_reports_engine,
    accounts_api_filters_sorts_pages,
    account_detail_and_404,
    metrics_api_matches_reports,
    account_page_in_both_languages,
);
