//! How health scores are computed (`/admin/scorecards`): the bands and grades, and each
//! scorecard (which accounts it applies to) with its groups and measures in the reader's
//! language: the weight each carries in the score and how a raw value becomes points. CS Ops,
//! managers and admins edit the TOML, checked, with a refusal said in the reader's language;
//! everyone who reads the portfolio reads it.

use super::admin::check_csrf;
use super::health::{group_label, measure_label};
use super::{label, stage_label, Page};
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kizuna_app::App;
use kizuna_domain::access::Permission;
use kizuna_domain::health::{Direction, Measure, Scorecard, Scorecards};
use kizuna_domain::journey::Journey;
use std::collections::HashMap;

#[derive(serde::Serialize)]
struct MeasureRow {
    name: String,
    input: String,
    weight: String,
    rule: String,
}

#[derive(serde::Serialize)]
struct GroupRow {
    name: String,
    weight: String,
    measures: Vec<MeasureRow>,
}

#[derive(serde::Serialize)]
struct CardView {
    name: String,
    applies: String,
    groups: Vec<GroupRow>,
}

/// A number as people write it: no trailing zeros.
fn num(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn percent(part: f64, whole: f64) -> String {
    format!("{:.1}%", if whole > 0.0 { 100.0 * part / whole } else { 0.0 })
}

/// How a raw value becomes 0–100 points, in the reader's language.
fn rule(m: &Measure, page: &Page) -> String {
    let points = |s: f64| page.t("sc.points").replace("%{score}", &num(s));
    if let Some([low, high]) = m.range {
        let key = match m.direction {
            Direction::Higher => "sc.rule_higher",
            Direction::Lower => "sc.rule_lower",
        };
        return page.t(key).replace("%{low}", &num(low)).replace("%{high}", &num(high));
    }
    let cuts = m.thresholds.as_deref().unwrap_or(&[]);
    let mut parts = Vec::new();
    for (i, score) in m.band_scores().into_iter().enumerate() {
        let when = match i {
            0 => page.t("sc.below").replace("%{value}", &num(cuts[0])),
            i => page.t("sc.from").replace("%{value}", &num(cuts[i - 1])),
        };
        parts.push(format!("{when}: {}", points(score)));
    }
    parts.join(" · ")
}

/// Which accounts a scorecard is for: its segments and stages by name, or everyone else.
fn applies(card: &Scorecard, journey: &Journey, page: &Page) -> String {
    if card.segments.is_empty() && card.stages.is_empty() {
        return page.t("sc.default_card");
    }
    let mut parts = Vec::new();
    if !card.segments.is_empty() {
        let names: Vec<String> = card.segments.iter().map(|s| label("segment", s, page.lang)).collect();
        parts.push(format!("{}: {}", page.t("col.segment"), names.join(", ")));
    }
    if !card.stages.is_empty() {
        let names: Vec<String> = card.stages.iter().map(|s| stage_label(journey, s, page.lang)).collect();
        parts.push(format!("{}: {}", page.t("col.stage"), names.join(", ")));
    }
    parts.join(" / ")
}

fn cards(cards: &Scorecards, journey: &Journey, usage: &HashMap<String, String>, page: &Page) -> Vec<CardView> {
    cards
        .scorecards
        .iter()
        .map(|card| {
            let total: f64 = card.groups.iter().map(|g| g.weight).sum();
            let groups = card
                .groups
                .iter()
                .map(|g| {
                    let in_group: f64 = g.measures.iter().map(|m| m.weight).sum();
                    let measures = g
                        .measures
                        .iter()
                        .map(|m| MeasureRow {
                            name: m.label.clone().unwrap_or_else(|| measure_label(&m.input, page, usage)),
                            input: m.input.clone(),
                            // The measure's share of the whole score: its share of the group times the group's.
                            weight: percent(g.weight * m.weight / in_group, total),
                            rule: rule(m, page),
                        })
                        .collect();
                    GroupRow { name: group_label(&g.name, page), weight: percent(g.weight, total), measures }
                })
                .collect();
            CardView { name: card.name.clone(), applies: applies(card, journey, page), groups }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn render(state: &AppState, page: &Page, me: &Principal, app: &App<'_>, text: &str, error: Option<String>, notice: Option<String>, status: StatusCode) -> Result<Response, ApiError> {
    let saved = app.scorecards().await?;
    let journey = app.journey().await?;
    let usage: HashMap<String, String> = app.usage_definitions().await?.metrics.iter().map(|m| (m.name.clone(), m.label_in(page.lang).to_string())).collect();
    let (b, g, o) = (saved.bands, saved.grades, &saved.onboarding);
    page.render_status(
        state,
        "scorecards.html",
        minijinja::context! {
            text, error, notice,
            can_edit => me.can(Permission::EditPlans),
            cards => cards(&saved, &journey, &usage, page),
            red_below => num(b.red_below), green_from => num(b.green_from),
            grades => [("A", num(g.a)), ("B", num(g.b)), ("C", num(g.c)), ("D", num(g.d))],
            onboarding_event => o.event.clone(), onboarding_steps => o.steps, onboarding_days => o.within_days,
        },
        status,
    )
}

/// `GET /admin/scorecards`.
pub async fn page(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let page = Page::new(&headers, &q, Some(me.clone()));
    let app = App::new(state.store.as_ref(), &me);
    let text = app.scorecards_text().await?;
    render(&state, &page, &me, &app, &text, None, q.get("saved").map(|_| page.t("sc.saved")), StatusCode::OK).await
}

/// `POST /admin/scorecards`: save the edited scorecards.
pub async fn save(State(state): State<AppState>, me: Principal, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Result<Response, ApiError> {
    check_csrf(&headers, &f)?;
    let page = Page::new(&headers, &HashMap::new(), Some(me.clone()));
    let text = f.get("scorecards").cloned().unwrap_or_default().replace("\r\n", "\n");
    let app = App::new(state.store.as_ref(), &me);
    match app.save_scorecards(&text).await {
        Ok(_) => Ok(Redirect::to("/admin/scorecards?saved=1").into_response()),
        Err(e @ kizuna_app::AppError::Scorecards(_)) => {
            let error = super::refusal(e, page.lang);
            render(&state, &page, &me, &app, &text, Some(error), None, StatusCode::BAD_REQUEST).await
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_drop_trailing_zeros() {
        assert_eq!((num(40.0), num(-0.5), num(0.125), num(90.0)), ("40".into(), "-0.5".into(), "0.125".into(), "90".into()));
        assert_eq!((percent(60.0, 100.0), percent(25.0 * 60.0 / 100.0, 100.0), percent(1.0, 0.0)), ("60.0%".into(), "15.0%".into(), "0.0%".into()));
    }
}
