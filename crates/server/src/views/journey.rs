//! The journey's stages (`/admin/journey`): each stage in order with its labels and how many
//! active accounts are in it (a link to them in the account list), and, for CS Ops and admins,
//! a form to rename, reorder, add and remove stages. A refused list is said in the reader's
//! language and keeps what was typed; stages already on accounts stay as they are.

use super::admin::check_csrf;
use super::{urlencode, Page};
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kizuna_app::journey::StageCount;
use kizuna_app::App;
use kizuna_domain::access::Permission;
use kizuna_domain::journey::{Journey, StageDef, MAX_STAGES};
use kizuna_domain::money::group_thousands;
use std::collections::HashMap;

/// Blank rows the form offers for new stages.
const NEW_ROWS: usize = 2;

/// One saved stage, ready to show.
#[derive(serde::Serialize)]
struct StageRow {
    position: usize,
    name: String,
    label: String,
    accounts: String,
    href: String,
}

/// One row of the edit form: a stage as saved or as typed.
#[derive(serde::Serialize, Clone, Default)]
struct EditRow {
    name: String,
    label_ja: String,
    label_en: String,
    order: String,
    remove: bool,
}

fn stage_rows(stages: &[StageCount], lang: &str) -> Vec<StageRow> {
    stages
        .iter()
        .enumerate()
        .map(|(i, s)| StageRow {
            position: i + 1,
            name: s.name.clone(),
            label: if lang == "ja" { s.label_ja.clone() } else { s.label_en.clone() },
            accounts: group_thousands(s.active_accounts),
            href: format!("/accounts?stage={}", urlencode(&s.name)),
        })
        .collect()
}

/// The saved stages as form rows, numbered 1, 2, ..., then blank rows to add stages.
fn edit_rows(journey: &Journey) -> Vec<EditRow> {
    let saved = journey.stages.iter().enumerate().map(|(i, s)| EditRow { name: s.name.clone(), label_ja: s.label_ja.clone(), label_en: s.label_en.clone(), order: (i + 1).to_string(), remove: false });
    saved.chain(std::iter::repeat_with(EditRow::default).take(NEW_ROWS)).collect()
}

/// The form's rows as typed (`name.N`, `label_ja.N`, `label_en.N`, `order.N`, `remove.N`), in
/// row order; a row left blank or marked for removal is dropped.
fn typed_rows(f: &HashMap<String, String>) -> Vec<(usize, EditRow)> {
    let mut rows: Vec<usize> = f.keys().filter_map(|k| k.strip_prefix("name.")?.parse().ok()).filter(|i| *i < MAX_STAGES + NEW_ROWS + 50).collect();
    rows.sort_unstable();
    rows.dedup();
    let get = |k: &str, i: usize| f.get(&format!("{k}.{i}")).map(|v| v.trim().to_string()).unwrap_or_default();
    rows.into_iter()
        .map(|i| {
            let remove = f.contains_key(&format!("remove.{i}"));
            (i, EditRow { name: get("name", i), label_ja: get("label_ja", i), label_en: get("label_en", i), order: get("order", i), remove })
        })
        .collect()
}

/// The journey the form asks for: rows kept in the order their numbers give. A row given
/// another row's number takes its place (it goes before the row that kept its own number);
/// rows without a number keep their place after the numbered ones.
fn journey_of(rows: &[(usize, EditRow)]) -> Journey {
    let mut kept: Vec<&(usize, EditRow)> =
        rows.iter().filter(|(_, r)| !r.remove && !(r.name.is_empty() && r.label_ja.is_empty() && r.label_en.is_empty())).collect();
    kept.sort_by_key(|(i, r)| {
        let order = r.order.parse::<u32>().unwrap_or(u32::MAX);
        let kept_its_place = order as usize == i + 1;
        (order, kept_its_place, *i)
    });
    Journey { stages: kept.into_iter().map(|(_, r)| StageDef { name: r.name.clone(), label_ja: r.label_ja.clone(), label_en: r.label_en.clone() }).collect() }
}

#[allow(clippy::too_many_arguments)]
fn render(state: &AppState, page: &Page, me: &Principal, saved: &[StageCount], rows: Vec<EditRow>, error: Option<String>, notice: Option<String>, status: StatusCode) -> Result<Response, ApiError> {
    page.render_status(
        state,
        "journey.html",
        minijinja::context! { stages => stage_rows(saved, page.lang), rows, error, notice, can_edit => me.can(Permission::EditPlaybooks), max => MAX_STAGES },
        status,
    )
}

/// `GET /admin/journey`.
pub async fn page(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let page = Page::new(&headers, &q, Some(me.clone()));
    let app = App::new(state.store.as_ref(), &me);
    let (saved, journey) = (app.journey_stages(kizuna_app::today()).await?, app.journey().await?);
    render(&state, &page, &me, &saved, edit_rows(&journey), None, q.get("saved").map(|_| page.t("jr.saved")), StatusCode::OK)
}

/// `POST /admin/journey`: save the edited stages.
pub async fn save(State(state): State<AppState>, me: Principal, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Result<Response, ApiError> {
    check_csrf(&headers, &f)?;
    let page = Page::new(&headers, &HashMap::new(), Some(me.clone()));
    let app = App::new(state.store.as_ref(), &me);
    let typed = typed_rows(&f);
    match app.save_journey(journey_of(&typed)).await {
        Ok(_) => Ok(Redirect::to("/admin/journey?saved=1").into_response()),
        Err(e @ kizuna_app::AppError::Journey(_)) => {
            let error = super::refusal(e, page.lang);
            // What was typed stays to be mended (removed rows included, still marked).
            let rows = typed.into_iter().map(|(_, r)| r).collect();
            render(&state, &page, &me, &app.journey_stages(kizuna_app::today()).await?, rows, Some(error), None, StatusCode::BAD_REQUEST)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_form_gives_the_stages_in_the_order_asked() {
        let f = form(&[
            ("name.0", "onboarding"), ("label_ja.0", "導入"), ("label_en.0", "Onboarding"), ("order.0", "1"),
            ("name.1", "adoption"), ("label_ja.1", "活用"), ("label_en.1", "Adoption"), ("order.1", "3"),
            ("name.2", "renewal"), ("label_ja.2", "更新"), ("label_en.2", "Renewal"), ("order.2", "4"), ("remove.2", "on"),
            ("name.3", " activation "), ("label_ja.3", "定着"), ("label_en.3", "Activation"), ("order.3", "2"),
            ("name.4", ""), ("label_ja.4", ""), ("label_en.4", ""), ("order.4", ""),
            ("name.10", "expansion"), ("label_ja.10", "拡大"), ("label_en.10", "Expansion"), ("order.10", ""),
        ]);
        let j = journey_of(&typed_rows(&f));
        let names: Vec<&str> = j.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["onboarding", "activation", "adoption", "expansion"], "by number, removed and blank rows dropped, unnumbered last");
        assert_eq!(j.stages[1].label_ja, "定着");
        assert_eq!(j.check(), Ok(()));
    }

    #[test]
    fn a_row_given_another_rows_number_takes_its_place() {
        let row = |i: usize, name: &str, order: &str| [(format!("name.{i}"), name.to_string()), (format!("label_ja.{i}"), name.to_string()), (format!("label_en.{i}"), name.to_string()), (format!("order.{i}"), order.to_string())];
        let names = |rows: Vec<[(String, String); 4]>| {
            let f: HashMap<String, String> = rows.into_iter().flatten().collect();
            journey_of(&typed_rows(&f)).stages.into_iter().map(|s| s.name).collect::<Vec<_>>()
        };
        // A new fifth row numbered 2 goes second.
        assert_eq!(names(vec![row(0, "a", "1"), row(1, "b", "2"), row(2, "c", "3"), row(3, "d", "4"), row(4, "new", "2")]), ["a", "new", "b", "c", "d"]);
        // The last row moved to the top.
        assert_eq!(names(vec![row(0, "a", "1"), row(1, "b", "2"), row(2, "c", "1")]), ["c", "a", "b"]);
        // Two rows swapped.
        assert_eq!(names(vec![row(0, "a", "2"), row(1, "b", "1")]), ["b", "a"]);
    }

    #[test]
    fn the_form_offers_the_saved_stages_then_blank_rows() {
        let rows = edit_rows(&Journey::default());
        assert_eq!(rows.len(), 4 + NEW_ROWS);
        assert_eq!((rows[1].name.as_str(), rows[1].order.as_str()), ("adoption", "2"));
        assert!(rows[4].name.is_empty() && rows[5].order.is_empty());
    }
}
